"""A local OTLP/HTTP logs receiver for the OpenTelemetry Collector race, in its own process.

    python -m benchmarks.peers.otlp_receiver --spool FILE --count FILE

Listens on 127.0.0.1 (a free port), prints one JSON line `{"port": N, "pid": N}` on stdout,
then answers `POST /v1/logs` (protobuf, identity or gzip) like a collector would: 200 with an
empty `ExportLogsServiceResponse`. While the race runs it does as little as it can, so that its
own CPU (reported apart from the collector's) stays small: it decodes each request only to count
its log records, appends the request's bytes to the spool file (length-prefixed) and replaces
the count file with the new total. Flattening the records to NDJSON for the verifier happens
after the timed window (`write_ndjson`). It exits on SIGTERM or when its stdin closes, so it
never outlives the benchmark that started it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

REPO = Path(__file__).resolve().parents[2]
LENGTH = struct.Struct(">I")
"""The spool's frame header: the request's byte length."""


def decode_request(body: bytes, content_encoding: str = "") -> ExportLogsServiceRequest:
    """An OTLP/HTTP logs request body (protobuf, possibly gzip-compressed) as a message."""
    if content_encoding == "gzip":
        body = gzip.decompress(body)
    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    return request


def count_records(request: ExportLogsServiceRequest) -> int:
    """The number of log records in a request (over every resource and scope)."""
    return sum(
        len(scope.log_records)
        for resource in request.resource_logs
        for scope in resource.scope_logs
    )


def any_value(value: AnyValue) -> Any:
    """An OTLP attribute value as the JSON value it stands for."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def iso_time(unix_nano: int) -> str:
    """Nanoseconds since the epoch as ISO 8601 with milliseconds and an explicit UTC offset."""
    stamp = dt.datetime.fromtimestamp(unix_nano / 1e9, tz=dt.UTC)
    return stamp.isoformat(timespec="milliseconds")


def flatten(request: ExportLogsServiceRequest) -> Iterator[dict[str, Any]]:
    """Each log record as one flat document: its attributes as top-level keys, the body as
    `message`, its timestamp (when the collector set one) as `@timestamp`."""
    for resource in request.resource_logs:
        for scope in resource.scope_logs:
            for record in scope.log_records:
                doc = {kv.key: any_value(kv.value) for kv in record.attributes}
                doc["message"] = any_value(record.body)
                if record.time_unix_nano:
                    doc["@timestamp"] = iso_time(record.time_unix_nano)
                yield doc


def read_spool(spool: Path) -> Iterator[bytes]:
    """The request bodies in a spool file, in arrival order."""
    with spool.open("rb") as f:
        while header := f.read(LENGTH.size):
            (size,) = LENGTH.unpack(header)
            body = f.read(size)
            if len(body) != size:
                raise ValueError(f"{spool}: torn frame ({len(body)} of {size} bytes)")
            yield body


def write_ndjson(spool: Path, out: Path) -> int:
    """Flattens every spooled request into `out`, one JSON document per record; returns the
    number of records written."""
    written = 0
    with out.open("wb") as f:
        for body in read_spool(spool):
            docs = [orjson.dumps(doc) for doc in flatten(decode_request(body))]
            f.write(b"\n".join(docs) + b"\n" if docs else b"")
            written += len(docs)
    return written


class _Spool:
    """The receiver's state: the spool file and the running count (one lock: requests may
    arrive on several connections)."""

    def __init__(self, spool: Path, count_file: Path) -> None:
        self.file = spool.open("wb")
        self.count_file = count_file
        self.count = 0
        self.lock = threading.Lock()
        self._publish()

    def add(self, body: bytes, records: int) -> None:
        with self.lock:
            self.file.write(LENGTH.pack(len(body)) + body)
            self.file.flush()
            self.count += records
            self._publish()

    def _publish(self) -> None:
        # Written aside and renamed: a reader never sees a half-written number.
        tmp = self.count_file.with_suffix(".tmp")
        tmp.write_text(str(self.count))
        os.replace(tmp, self.count_file)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the exporter reuses its connections
    spool: _Spool

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/v1/logs":
            self._answer(404, b"", "text/plain")
            return
        encoding = self.headers.get("Content-Encoding", "")
        try:
            request = decode_request(body, encoding)
        except Exception as exc:  # a bad body is the sender's error, not a reason to die
            self._answer(400, str(exc).encode(), "text/plain")
            return
        plain = gzip.decompress(body) if encoding == "gzip" else body
        self.spool.add(plain, count_records(request))
        self._answer(200, ExportLogsServiceResponse().SerializeToString(), "application/x-protobuf")

    def _answer(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would cost more than the request


def serve(spool: Path, count_file: Path) -> None:
    """Runs the receiver until SIGTERM or the end of stdin (see the module docstring)."""
    _Handler.spool = _Spool(spool, count_file)
    # One thread per connection: the exporter's queue consumers send concurrently.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)

    def stop_at_end_of_stdin() -> None:
        sys.stdin.read()
        stop()

    threading.Thread(target=stop_at_end_of_stdin, daemon=True).start()
    print(json.dumps({"port": server.server_address[1], "pid": os.getpid()}), flush=True)
    server.serve_forever(poll_interval=0.5)
    _Handler.spool.file.close()


class OtlpReceiver:
    """The receiver as a child process of the benchmark (not of the collector, so that its CPU
    is never counted as the collector's).

        with OtlpReceiver(work) as receiver:   # receiver.endpoint, receiver.count()
            ...
        receiver.write_ndjson(out)
    """

    def __init__(self, work: Path, python: str = sys.executable) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.spool = work / "otlp.spool"
        self.count_file = work / "otlp.count"
        self._proc: subprocess.Popen[str] = subprocess.Popen(
            [
                python,
                "-m",
                "benchmarks.peers.otlp_receiver",
                "--spool",
                str(self.spool),
                "--count",
                str(self.count_file),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
            text=True,
        )
        assert self._proc.stdout is not None
        hello = json.loads(self._proc.stdout.readline() or "{}")
        if "port" not in hello:
            self.close()
            raise RuntimeError("the OTLP receiver did not start")
        self.port: int = hello["port"]
        self.pid: int = self._proc.pid

    @property
    def endpoint(self) -> str:
        """The base URL for the otlphttp exporter (it appends /v1/logs)."""
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        """Log records received so far."""
        try:
            return int(self.count_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def cpu_seconds(self) -> float:
        """The receiver's user + system CPU so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def write_ndjson(self, out: Path) -> int:
        """The received records as NDJSON (after `close`); returns how many."""
        return write_ndjson(self.spool, out)

    def close(self, timeout: float = 30) -> None:
        """Stops the receiver (closing its stdin) and waits for it."""
        stdin: IO[str] | None = self._proc.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--count", type=Path, required=True)
    args = parser.parse_args()
    serve(args.spool, args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
