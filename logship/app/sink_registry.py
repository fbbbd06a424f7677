"""The sink types the agent knows: `type:` in config -> settings model -> sink.

The settings models are imported here (the config composes them); a sink's class is imported
only when one is built, so loading a config (or the tail stage, or `logship check`) does not
load confluent_kafka or an HTTP client it may never use. Adding a sink type means adding its
settings model to `SinkSettingsUnion` and its sink class to `_SINKS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
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


_SINKS: dict[type[Any], tuple[str, str]] = {
    FileSinkSettings: ("sinks.file", "FileSink"),
    StdoutSinkSettings: ("sinks.stdout", "StdoutSink"),
    KafkaSinkSettings: ("sinks.kafka.sink", "KafkaSink"),
    ElasticsearchSinkSettings: ("sinks.elasticsearch.sink", "ElasticsearchSink"),
    NullSinkSettings: ("sinks.null", "NullSink"),
    HttpSinkSettings: ("sinks.http.sink", "HttpSink"),
}
"""Settings model -> (module, class) of its sink: the module is imported when one is built."""


def preload_sinks(settings: Iterable[Any]) -> None:
    """Imports the modules of these sinks' classes (a process about to fork its workers)."""
    for entry in settings:
        importlib.import_module(_SINKS[type(entry)][0])


def build_sink(settings: Any, metrics: Metrics | None = None) -> Sink:
    """The sink for one validated `sinks:` entry, bound to `metrics` when given."""
    module, name = _SINKS[type(settings)]
    sink: Sink = getattr(importlib.import_module(module), name)(settings)
    if metrics is not None:
        sink.bind_metrics(metrics)
    return sink
