"""The sink types the agent knows: `type:` in config -> settings model and sink class.

Adding a sink type means adding one line here (and its settings model to `SinkSettingsUnion`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from logship.core.metrics import Metrics
from logship.core.sink import Sink
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.elasticsearch.sink import ElasticsearchSink
from sinks.file import FileSink, FileSinkSettings
from sinks.http.config import HttpSinkSettings
from sinks.http.sink import HttpSink
from sinks.kafka.config import KafkaSinkSettings
from sinks.kafka.sink import KafkaSink
from sinks.null import NullSink, NullSinkSettings
from sinks.stdout import StdoutSink, StdoutSinkSettings

SinkSettingsUnion = Annotated[
    FileSinkSettings
    | StdoutSinkSettings
    | KafkaSinkSettings
    | ElasticsearchSinkSettings
    | NullSinkSettings
    | HttpSinkSettings,
    Field(discriminator="type"),
]
"""What one entry of `sinks:` may be, told apart by its `type`."""

SINK_CLASSES: dict[type[Any], type[Any]] = {
    FileSinkSettings: FileSink,
    StdoutSinkSettings: StdoutSink,
    KafkaSinkSettings: KafkaSink,
    ElasticsearchSinkSettings: ElasticsearchSink,
    NullSinkSettings: NullSink,
    HttpSinkSettings: HttpSink,
}


def build_sink(settings: Any, metrics: Metrics | None = None) -> Sink:
    """The sink for one validated `sinks:` entry, bound to `metrics` when given."""
    sink: Sink = SINK_CLASSES[type(settings)](settings)
    if metrics is not None:
        sink.bind_metrics(metrics)
    return sink
