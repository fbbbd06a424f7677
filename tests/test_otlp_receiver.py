"""The local OTLP/HTTP receiver the OpenTelemetry Collector sends to in the peers race.

It must count what it is sent (the race's finish line), answer like a collector, and write
records the verifier accepts; decoding is tested on small protobuf payloads built here.
"""

from __future__ import annotations

import gzip
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from benchmarks.nginx_log import NGINX_RULE, lines
from benchmarks.peers.verify import verify

RX = re.compile(str(NGINX_RULE["regex"]))


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "access.log"
    # 50 lines per second share a timestamp: these 40 all have 24/Nov/2025:16:00:00 +0000.
    path.write_text("".join(lines(40)))
    return path


def otlp_request(texts: list[str]) -> Any:
    """An ExportLogsServiceRequest like the Collector's: parsed fields as attributes (numbers
    as ints), the line as the body, the nginx time as the record's time; two resources."""
    service = pytest.importorskip("opentelemetry.proto.collector.logs.v1.logs_service_pb2")
    request = service.ExportLogsServiceRequest()
    for part in (texts[:1], texts[1:]):
        scope = request.resource_logs.add().scope_logs.add()
        for text in part:
            record = scope.log_records.add()
            record.body.string_value = text
            record.time_unix_nano = 1_764_000_000 * 10**9  # 24/Nov/2025:16:00:00 +0000
            m = RX.match(text)
            assert m is not None
            for key, value in m.groupdict().items():
                attribute = record.attributes.add()
                attribute.key = key
                if key in ("status", "bytes"):
                    attribute.value.int_value = int(value)
                else:
                    attribute.value.string_value = value
    return request


def test_the_receiver_decodes_gzip_and_plain_requests_into_flat_records() -> None:
    pytest.importorskip("opentelemetry.proto")  # a dev extra; skip rather than fail without it
    from benchmarks.peers import otlp_receiver

    texts = [line.rstrip("\n") for line in lines(3)]
    body = otlp_request(texts).SerializeToString()
    for payload, encoding in ((body, ""), (gzip.compress(body), "gzip")):
        request = otlp_receiver.decode_request(payload, encoding)
        assert otlp_receiver.count_records(request) == 3
        docs = list(otlp_receiver.flatten(request))
        assert [d["message"] for d in docs] == texts
        assert docs[0]["@timestamp"] == "2025-11-24T16:00:00.000+00:00"
        assert docs[0]["status"] == int(RX.match(texts[0])["status"])  # type: ignore[index]


def test_the_receiver_process_counts_what_it_is_sent_and_writes_records_that_verify(
    log: Path, tmp_path: Path
) -> None:
    pytest.importorskip("opentelemetry.proto")
    from benchmarks.peers.otlp_receiver import OtlpReceiver

    texts = log.read_text().splitlines()
    with OtlpReceiver(tmp_path / "receiver") as receiver:
        for part in (texts[:25], texts[25:]):
            request = urllib.request.Request(
                f"{receiver.endpoint}/v1/logs",
                data=gzip.compress(otlp_request(part).SerializeToString()),
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
                assert answer.headers["Content-Type"] == "application/x-protobuf"
        bad = urllib.request.Request(f"{receiver.endpoint}/v1/logs", data=b"\xff\xff\xff")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        refused.value.close()  # the error holds the answer's socket
        assert refused.value.code == 400
        assert receiver.count() == 40  # counted as they came, before the answer
    out = tmp_path / "out.ndjson"
    assert receiver.write_ndjson(out) == 40
    result = verify("otelcol", log, out, sample_every=1)
    assert result.ok, result.problems
