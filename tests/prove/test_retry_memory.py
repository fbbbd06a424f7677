"""Proof: a failed request to Elasticsearch leaves nothing behind, however long the outage.

Found by the outage proof: while the cluster was down the agent's memory grew by about a batch
per failed attempt (52 -> 157 MiB in a 90 s outage) and only fell when Python's cyclic garbage
collector ran. elastic-transport keeps the error it raises in a local of the frame raising it,
a reference cycle through the traceback that kept that frame, the request body and every
caller's frame (the batch being sent) alive; the agent collects cycles rarely on purpose
(logship.core.process.tune_gc). Now the client clears those frames as soon as it has read the error.
"""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator

import pytest

from logship.app.sink_registry import build_sink
from logship.core.batch import Batch
from logship.core.metrics import Metrics
from logship.core.sink import Outcome
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.encoder import BulkItems


@pytest.fixture
def no_cycle_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failed_bulk_requests_keep_no_batch_alive(no_cycle_collection: None) -> None:
    settings = ElasticsearchSinkSettings.model_validate(
        {"name": "es", "type": "elasticsearch", "hosts": [f"http://127.0.0.1:{closed_port()}"]}
    )
    sink = build_sink(settings, Metrics())
    entries = [
        {"message": f"line {i}", "log": {"offset": i, "file": {"device_id": "1", "inode": "2"}}}
        for i in range(500)
    ]
    for _ in range(10):
        result = sink.send(Batch(entries))
        assert result.outcome is Outcome.RETRY
    alive = [o for o in gc.get_objects() if isinstance(o, BulkItems)]
    assert alive == [], f"{len(alive)} encoded batches still held after their sends returned"
    sink.close(1)
