"""A Kafka-protocol broker for tests and benchmarks: librdkafka's mock cluster in its own process.

The mock cluster ships inside librdkafka (the copy bundled with confluent-kafka) and speaks the
real Kafka protocol over TCP on 127.0.0.1. Running it in a separate process lets a test freeze it
(SIGSTOP / SIGCONT) like a hung broker, and keeps its threads out of the process under test.

    with MockKafka() as kafka:                 # starts `python -m tests.doubles.kafka_mock`
        kafka.create_topic("logs", partitions=1)
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
        kafka.freeze(); ...; kafka.thaw()      # SIGSTOP / SIGCONT the broker process
        kafka.broker_down(); kafka.broker_up() # close / reopen its listener

Run by hand or from a benchmark: `python -m tests.doubles.kafka_mock [--topic NAME[:PARTITIONS]]...`
prints one JSON line `{"bootstrap_servers": "127.0.0.1:PORT", "pid": ...}` on stdout, then
serves JSON commands, one per stdin line, answering each with one JSON line:

    {"cmd": "create_topic", "topic": "logs", "partitions": 1}
    {"cmd": "broker_down", "broker": 1}      {"cmd": "broker_up", "broker": 1}
    {"cmd": "topic_error", "topic": "logs", "error": 29}     (metadata error for a topic)
    {"cmd": "request_errors", "api_key": 0, "errors": [10, 10]}  (fail the next Produce requests)

It exits when stdin closes (so it never outlives the process that started it) or on SIGTERM.

The mock keeps only about 5 MiB or 100,000 message sets per partition: consume while producing,
with `auto.offset.reset: error`, or keep the volume per partition small.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]

# Kafka protocol ApiKeys and error codes used by the tests.
API_PRODUCE = 0
ERR_MSG_SIZE_TOO_LARGE = 10
ERR_NOT_LEADER_FOR_PARTITION = 6
ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45
ERR_TOPIC_AUTHORIZATION_FAILED = 29


# --- the broker process side ---------------------------------------------------------------


def _librdkafka_path() -> str:
    """The librdkafka that confluent-kafka loaded (bundled in the wheel, or the system one)."""
    import confluent_kafka  # noqa: F401 - loads librdkafka into this process

    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        if "librdkafka" in os.path.basename(path):
            return path
    raise RuntimeError("librdkafka is not loaded; is confluent-kafka installed?")


class _MockCluster:
    """ctypes binding of the few mock-cluster functions the tests need (see rdkafka_mock.h)."""

    def __init__(self, brokers: int) -> None:
        lib = ctypes.CDLL(_librdkafka_path())
        lib.rd_kafka_conf_new.restype = ctypes.c_void_p
        lib.rd_kafka_conf_set.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.rd_kafka_new.restype = ctypes.c_void_p
        lib.rd_kafka_new.argtypes = [
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
        lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
        lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_mock_topic_create.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.rd_kafka_mock_broker_set_down.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        lib.rd_kafka_mock_broker_set_up.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        lib.rd_kafka_mock_topic_set_error.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        lib.rd_kafka_mock_push_request_errors_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int16,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_int),
        ]
        self._lib = lib
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        # The handle only hosts the mock cluster; it never connects anywhere.
        lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, len(errstr))
        self._rk = lib.rd_kafka_new(0, conf, errstr, len(errstr))  # 0 = RD_KAFKA_PRODUCER
        if not self._rk:
            raise RuntimeError(f"rd_kafka_new failed: {errstr.value.decode()}")
        self._mcluster = lib.rd_kafka_mock_cluster_new(self._rk, brokers)
        if not self._mcluster:
            raise RuntimeError("rd_kafka_mock_cluster_new failed")
        self.bootstrap_servers: str = lib.rd_kafka_mock_cluster_bootstraps(self._mcluster).decode()

    def create_topic(self, topic: str, partitions: int) -> int:
        err: int = self._lib.rd_kafka_mock_topic_create(
            self._mcluster, topic.encode(), partitions, 1
        )
        return err

    def broker_down(self, broker: int) -> int:
        err: int = self._lib.rd_kafka_mock_broker_set_down(self._mcluster, broker)
        return err

    def broker_up(self, broker: int) -> int:
        err: int = self._lib.rd_kafka_mock_broker_set_up(self._mcluster, broker)
        return err

    def topic_error(self, topic: str, error: int) -> int:
        self._lib.rd_kafka_mock_topic_set_error(self._mcluster, topic.encode(), error)
        return 0

    def request_errors(self, api_key: int, errors: list[int]) -> int:
        array = (ctypes.c_int * len(errors))(*errors)
        self._lib.rd_kafka_mock_push_request_errors_array(
            self._mcluster, api_key, len(errors), array
        )
        return 0


def _handle(cluster: _MockCluster, command: dict[str, Any]) -> dict[str, Any]:
    cmd = command.get("cmd")
    if cmd == "create_topic":
        err = cluster.create_topic(command["topic"], int(command.get("partitions", 1)))
    elif cmd == "broker_down":
        err = cluster.broker_down(int(command.get("broker", 1)))
    elif cmd == "broker_up":
        err = cluster.broker_up(int(command.get("broker", 1)))
    elif cmd == "topic_error":
        err = cluster.topic_error(command["topic"], int(command["error"]))
    elif cmd == "request_errors":
        err = cluster.request_errors(int(command["api_key"]), [int(e) for e in command["errors"]])
    else:
        return {"ok": False, "error": f"unknown command {cmd!r}"}
    return {"ok": err == 0, "error": err}


def serve(brokers: int, topics: list[str], stdin: IO[str], stdout: IO[str]) -> None:
    """Runs the mock cluster, announces it, and answers commands until stdin closes."""
    cluster = _MockCluster(brokers)
    for spec in topics:
        name, _, partitions = spec.partition(":")
        cluster.create_topic(name, int(partitions or 1))
    stdout.write(
        json.dumps({"bootstrap_servers": cluster.bootstrap_servers, "pid": os.getpid()}) + "\n"
    )
    stdout.flush()
    for line in stdin:
        if not line.strip():
            continue
        try:
            reply = _handle(cluster, json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"ok": False, "error": f"bad command: {exc}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    # stdin closed: the owner is gone. Exit without tearing the cluster down (fast, no hangs).
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.doubles.kafka_mock`: run a mock Kafka cluster until stdin closes or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--brokers", type=int, default=1, help="number of mock brokers")
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="NAME[:PARTITIONS]",
        help="create a topic at start (default 1 partition); repeatable",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(0))
    serve(args.brokers, args.topic, sys.stdin, sys.stdout)
    return 0


# --- the test side ------------------------------------------------------------------------


class MockKafka:
    """Starts and controls a mock Kafka cluster process; a context manager that always stops it."""

    def __init__(
        self, brokers: int = 1, topics: tuple[str, ...] = (), timeout: float = 30.0
    ) -> None:
        self.brokers = brokers
        self.topics = topics
        self.timeout = timeout
        self.bootstrap_servers = ""
        self.proc: subprocess.Popen[str] | None = None
        self._frozen = False
        self._lock = threading.Lock()

    def start(self) -> MockKafka:
        """Starts the broker process and waits for its address."""
        cmd = [sys.executable, "-m", "tests.doubles.kafka_mock", "--brokers", str(self.brokers)]
        for topic in self.topics:
            cmd += ["--topic", topic]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            start_new_session=True,  # a Ctrl-C in the terminal goes to pytest, not the broker
        )
        hello = self._read_line()
        self.bootstrap_servers = hello["bootstrap_servers"]
        return self

    @property
    def pid(self) -> int:
        """Process id of the broker process."""
        assert self.proc is not None
        return self.proc.pid

    def _read_line(self) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(
                f"the mock Kafka process did not answer within {self.timeout}s "
                f"(exit code {self.proc.poll()})"
            )
        reply: dict[str, Any] = json.loads(line)
        return reply

    def command(self, **command: Any) -> dict[str, Any]:
        """Sends one command to the broker process; raises if it fails."""
        with self._lock:
            if self._frozen:
                raise RuntimeError("the broker process is frozen; thaw() it first")
            assert self.proc is not None
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
            reply = self._read_line()
        if not reply.get("ok"):
            raise RuntimeError(f"mock Kafka command {command} failed: {reply}")
        return reply

    def create_topic(self, topic: str, partitions: int = 1) -> None:
        """Creates a topic (the mock auto-creates topics with 4 partitions otherwise)."""
        self.command(cmd="create_topic", topic=topic, partitions=partitions)

    def broker_down(self, broker: int = 1) -> None:
        """Closes the broker's listener and connections: clients see it as down."""
        self.command(cmd="broker_down", broker=broker)

    def broker_up(self, broker: int = 1) -> None:
        """Reopens the broker's listener."""
        self.command(cmd="broker_up", broker=broker)

    def topic_error(self, topic: str, error: int) -> None:
        """Makes metadata requests for `topic` answer with a Kafka error code (0 clears it)."""
        self.command(cmd="topic_error", topic=topic, error=error)

    def request_errors(self, api_key: int, errors: list[int]) -> None:
        """Fails the next len(errors) requests of type `api_key`, one error code each."""
        self.command(cmd="request_errors", api_key=api_key, errors=errors)

    def freeze(self) -> None:
        """SIGSTOP: the broker hangs with its connections open, like a stalled machine."""
        with self._lock:
            os.kill(self.pid, signal.SIGSTOP)
            self._frozen = True

    def thaw(self) -> None:
        """SIGCONT: the broker resumes where it stopped."""
        with self._lock:
            os.kill(self.pid, signal.SIGCONT)
            self._frozen = False

    def stop(self) -> None:
        """Ends the broker process (thawing it first if frozen)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
        self._frozen = False
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> MockKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class TopicReader(threading.Thread):
    """Consumes every partition of a topic from the beginning, while the test produces.

    The mock broker keeps little data, so reading must keep up; an offset reset (the data was
    gone before it was read) is recorded in `error` instead of silently skipping ahead.
    """

    def __init__(self, bootstrap_servers: str, topic: str, partitions: int) -> None:
        super().__init__(name=f"topic-reader-{topic}", daemon=True)
        from confluent_kafka import Consumer

        self.topic = topic
        self.partitions = partitions
        self._servers = bootstrap_servers
        self.messages: list[tuple[int, int, bytes | None, bytes]] = []
        """(partition, offset, key, value) in arrival order (per partition: offset order)."""
        self.error: str | None = None
        self._stop_event = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": f"logship-test-{topic}",
                "enable.auto.commit": False,
                "auto.offset.reset": "error",
                "fetch.wait.max.ms": 50,
                "logger": _QUIET,
            }
        )

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        consumer = self._consumer
        consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(self.partitions)]
        )
        try:
            while not self._stop_event.is_set():
                for msg in consumer.consume(num_messages=5000, timeout=0.1):
                    err = msg.error()
                    if err is not None:
                        if err.code() in (err._AUTO_OFFSET_RESET, err.OFFSET_OUT_OF_RANGE):
                            self.error = f"the reader fell behind the broker's retention: {err}"
                            return
                        continue  # transport errors while the broker is frozen: keep going
                    self.messages.append(
                        (msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value() or b"")
                    )
        finally:
            consumer.close()

    def count(self) -> int:
        """Messages read so far; raises if reading failed."""
        if self.error:
            raise AssertionError(self.error)
        return len(self.messages)

    def values(self) -> list[dict[str, Any]]:
        """The JSON documents read so far, in arrival order."""
        return [json.loads(v) for _, _, _, v in self.messages]

    def appended(self) -> int:
        """How many messages the broker ever appended to the topic (sum of high watermarks)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(
            {"bootstrap.servers": self._servers, "group.id": "logship-test-watermarks"}
        )
        try:
            return sum(
                consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                for p in range(self.partitions)
            )
        finally:
            consumer.close()

    def stop(self) -> None:
        """Stops reading and closes the consumer."""
        self._stop_event.set()
        self.join(timeout=30)


def _quiet_logger() -> Any:
    import logging

    logger = logging.getLogger("tests.doubles.kafka_mock.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


_QUIET = _quiet_logger()


if __name__ == "__main__":
    sys.exit(main())
