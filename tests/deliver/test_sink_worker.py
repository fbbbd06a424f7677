"""SinkWorker: acks only what was delivered or dead-lettered; retries the rest; never loses a batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from logship.core.ack import AckTracker
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import DELIVERED, Outcome, SendResult
from logship.deliver.dead_letter import DeadLetterFile
from logship.deliver.queue import SinkQueue
from logship.deliver.worker import SinkWorker
from sinks.file import FileSink, FileSinkSettings
from tests.harness import wait_until


class ScriptedSink:
    """A sink whose answers are scripted per call; records what it was sent."""

    def __init__(self, script: list[Callable[[Batch], SendResult]]) -> None:
        self.name = "scripted"
        self.script = script
        self.sent: list[list[int]] = []

    def healthcheck(self) -> None:
        pass

    def send(self, batch: Batch) -> SendResult:
        self.sent.append([e["n"] for e in batch.records()])
        answer = self.script.pop(0) if self.script else (lambda b: DELIVERED)
        return answer(batch)

    def close(self, timeout: float) -> None:
        pass


def settings() -> FileSinkSettings:
    return FileSinkSettings.model_validate(
        {
            "name": "scripted",
            "type": "file",
            "path": "/unused",
            "batch": {"max_events": 100, "linger_ms": 0},
            "retry": {"initial_backoff": 0.001, "max_backoff": 0.01},
        }
    )


def run_worker(
    tmp_path: Path, sink: ScriptedSink, n: int = 5
) -> tuple[AckTracker, SinkWorker, Metrics]:
    acks = AckTracker()
    acks.track("f", 0)
    ticket = acks.register("f", 500, sinks=1)
    queue = SinkQueue(1000, 1 << 20)
    queue.put(Batch([{"n": i} for i in range(n)], [ticket], 500))
    metrics = Metrics()
    worker = SinkWorker(
        sink, settings(), queue, acks, DeadLetterFile(tmp_path / "dlq", sink.name), metrics
    )
    worker.start()
    queue.close()
    return acks, worker, metrics


def value(metrics: Metrics, name: str, **labels: str) -> float:
    got = metrics.registry.get_sample_value(name, labels)
    return got or 0.0


def test_a_delivered_batch_is_acked(tmp_path: Path) -> None:
    sink = ScriptedSink([])
    acks, worker, metrics = run_worker(tmp_path, sink)
    worker.join(10)
    assert acks.watermark("f") == 500
    assert value(metrics, "logship_sink_records_total", sink="scripted", outcome="delivered") == 5


def test_transient_failures_are_retried_and_nothing_is_acked_until_delivery(tmp_path: Path) -> None:
    seen_watermarks: list[int | None] = []
    acks_ref: list[AckTracker] = []

    def fail(batch: Batch) -> SendResult:
        if acks_ref:
            seen_watermarks.append(acks_ref[0].watermark("f"))
        return SendResult(Outcome.RETRY, reason="broker down")

    sink = ScriptedSink([fail, fail, fail])
    acks, worker, metrics = run_worker(tmp_path, sink)
    acks_ref.append(acks)
    worker.join(10)
    assert sink.sent == [[0, 1, 2, 3, 4]] * 4
    assert all(w == 0 for w in seen_watermarks)
    assert acks.watermark("f") == 500
    assert value(metrics, "logship_sink_batches_total", sink="scripted", outcome="retry") == 3


def test_retry_only_resends_just_the_failed_entries(tmp_path: Path) -> None:
    sink = ScriptedSink([lambda b: SendResult(Outcome.RETRY, reason="429", retry_only=[1, 3])])
    acks, worker, _ = run_worker(tmp_path, sink)
    worker.join(10)
    assert sink.sent == [[0, 1, 2, 3, 4], [1, 3]]
    assert acks.watermark("f") == 500


def test_rejected_entries_are_dead_lettered_with_the_reason_then_acked(tmp_path: Path) -> None:
    sink = ScriptedSink(
        [lambda b: SendResult(Outcome.DELIVERED, rejected=[(2, "mapping error: bad field")])]
    )
    acks, worker, metrics = run_worker(tmp_path, sink)
    worker.join(10)
    lines = (tmp_path / "dlq" / "scripted.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["record"] for x in lines] == [{"n": 2}]
    assert orjson.loads(lines[0])["reason"] == "mapping error: bad field"
    assert acks.watermark("f") == 500
    assert (
        value(metrics, "logship_sink_records_total", sink="scripted", outcome="dead_lettered") == 1
    )
    assert value(metrics, "logship_sink_records_total", sink="scripted", outcome="delivered") == 4


def test_a_batch_rejected_as_a_whole_goes_to_the_dead_letter_file(tmp_path: Path) -> None:
    sink = ScriptedSink(
        [lambda b: SendResult(Outcome.REJECTED, reason="topic authorization failed")]
    )
    acks, worker, _ = run_worker(tmp_path, sink, n=3)
    worker.join(10)
    lines = (tmp_path / "dlq" / "scripted.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x)["record"]["n"] for x in lines] == [0, 1, 2]
    assert acks.watermark("f") == 500


def test_rejected_entries_are_not_resent_with_a_retry(tmp_path: Path) -> None:
    sink = ScriptedSink(
        [lambda b: SendResult(Outcome.RETRY, reason="mixed", rejected=[(0, "too large")])]
    )
    acks, worker, _ = run_worker(tmp_path, sink, n=3)
    worker.join(10)
    assert sink.sent == [[0, 1, 2], [1, 2]]
    assert acks.watermark("f") == 500


def test_a_sink_that_raises_is_retried_not_fatal(tmp_path: Path) -> None:
    def boom(batch: Batch) -> SendResult:
        raise RuntimeError("bug in sink")

    sink = ScriptedSink([boom])
    acks, worker, _ = run_worker(tmp_path, sink)
    worker.join(10)
    assert len(sink.sent) == 2
    assert acks.watermark("f") == 500


def test_abandon_stops_retrying_without_acking(tmp_path: Path) -> None:
    sink = ScriptedSink([lambda b: SendResult(Outcome.RETRY, reason="down")] * 10_000)
    acks, worker, _ = run_worker(tmp_path, sink)
    wait_until(lambda: len(sink.sent) >= 3, timeout=10, message="a few retries")
    worker.abandon()
    worker.join(10)
    assert not worker.is_alive()
    assert acks.watermark("f") == 0
    assert not worker.healthy
    assert worker.last_error == "down"


def test_a_failing_dead_letter_write_holds_the_batch(tmp_path: Path) -> None:
    (tmp_path / "dlq").write_text("a file where the folder should be")
    sink = ScriptedSink([lambda b: SendResult(Outcome.REJECTED, reason="bad")])
    acks, worker, metrics = run_worker(tmp_path, sink)
    wait_until(
        lambda: value(metrics, "logship_dead_letter_write_errors_total", sink="scripted") >= 2,
        timeout=10,
        message="dead-letter write failures",
    )
    assert acks.watermark("f") == 0, "records that could not be dead-lettered must not be acked"
    (tmp_path / "dlq").unlink()
    worker.join(10)
    assert acks.watermark("f") == 500


def test_a_record_json_cannot_encode_is_dead_lettered_and_the_rest_delivered(
    tmp_path: Path,
) -> None:
    deep: dict[str, object] = {"n": 1}
    node = deep
    for _ in range(300):  # deeper than orjson's 255 levels
        child: dict[str, object] = {}
        node["x"] = child
        node = child
    entries = [{"n": 0}, deep, {"n": 2}]
    acks = AckTracker()
    acks.track("f", 0)
    ticket = acks.register("f", 30, sinks=1)
    queue = SinkQueue(1000, 1 << 20)
    queue.put(Batch(entries, [ticket], 30))
    out = tmp_path / "out.ndjson"
    sink = FileSink(
        FileSinkSettings.model_validate({"name": "f", "type": "file", "path": str(out)})
    )
    worker = SinkWorker(
        sink, settings(), queue, acks, DeadLetterFile(tmp_path / "dlq", "f"), Metrics()
    )
    worker.start()
    queue.close()
    worker.join(10)
    assert [orjson.loads(x)["n"] for x in out.read_bytes().splitlines()] == [0, 2]
    (dead,) = (tmp_path / "dlq" / "f.jsonl").read_bytes().splitlines()
    assert "cannot be encoded as JSON" in orjson.loads(dead)["reason"]
    assert acks.watermark("f") == 30


def test_retries_and_dead_letters_work_on_encoded_batches(tmp_path: Path) -> None:
    from logship.core.ndjson import encode_ndjson

    acks = AckTracker()
    acks.track("f", 0)
    ticket = acks.register("f", 40, sinks=1)
    queue = SinkQueue(1000, 1 << 20)
    records = [{"n": i} for i in range(4)]
    queue.put(Batch.encoded(encode_ndjson(records), 4, [ticket], 40))
    sink = ScriptedSink(
        [
            lambda b: SendResult(
                Outcome.RETRY, reason="partial", retry_only=[2, 3], rejected=[(1, "too big")]
            )
        ]
    )
    metrics = Metrics()
    worker = SinkWorker(
        sink, settings(), queue, acks, DeadLetterFile(tmp_path / "dlq", sink.name), metrics
    )
    worker.start()
    queue.close()
    worker.join(10)
    assert sink.sent == [[0, 1, 2, 3], [2, 3]]
    (dead,) = (tmp_path / "dlq" / "scripted.jsonl").read_bytes().splitlines()
    assert orjson.loads(dead)["record"] == {"n": 1}
    assert acks.watermark("f") == 40
