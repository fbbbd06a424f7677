"""The sink types the agent knows: `type:` in config -> settings model -> sink.

The settings models are imported here (the config composes them); a sink's class is imported
only when one is built, so loading a config (or the tail stage, or `logship check`) does not
load confluent_kafka or an HTTP client it may never use. Adding a sink type means adding its
settings model to `SinkSettingsUnion` and a factory to `_FACTORIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from logship.core.metrics import Metrics
from logship.core.sink import Sink
from sinks.elasticsearch.config import ElasticsearchSinkSettings
from sinks.file import FileSinkSettings
from sinks.http.config import HttpSinkSettings
from sinks.kafka.config import KafkaSinkSettings
from sinks.null import NullSinkSettings
from sinks.stdout import StdoutSinkSettings

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


def _file(settings: FileSinkSettings) -> Sink:
    from sinks.file import FileSink

    return FileSink(settings)


def _stdout(settings: StdoutSinkSettings) -> Sink:
    from sinks.stdout import StdoutSink

    return StdoutSink(settings)


def _kafka(settings: KafkaSinkSettings) -> Sink:
    from sinks.kafka.sink import KafkaSink

    return KafkaSink(settings)


def _elasticsearch(settings: ElasticsearchSinkSettings) -> Sink:
    from sinks.elasticsearch.sink import ElasticsearchSink

    return ElasticsearchSink(settings)


def _null(settings: NullSinkSettings) -> Sink:
    from sinks.null import NullSink

    return NullSink(settings)


def _http(settings: HttpSinkSettings) -> Sink:
    from sinks.http.sink import HttpSink

    return HttpSink(settings)


_FACTORIES: dict[type[Any], Callable[[Any], Sink]] = {
    FileSinkSettings: _file,
    StdoutSinkSettings: _stdout,
    KafkaSinkSettings: _kafka,
    ElasticsearchSinkSettings: _elasticsearch,
    NullSinkSettings: _null,
    HttpSinkSettings: _http,
}
"""Settings model -> the function that builds its sink (importing the sink's module then)."""


def build_sink(settings: Any, metrics: Metrics | None = None) -> Sink:
    """The sink for one validated `sinks:` entry, bound to `metrics` when given."""
    sink = _FACTORIES[type(settings)](settings)
    if metrics is not None:
        sink.bind_metrics(metrics)
    return sink
