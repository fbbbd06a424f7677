"""Settings of `type: kafka` sinks, checked when the config loads.

librdkafka properties in `producer_options` are checked by librdkafka itself: a producer is
created from them without `bootstrap.servers` (it connects nowhere) and destroyed at once, so an
unknown property or an invalid value is a config error naming the property.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from logship.core.progress import Delivery
from logship.core.secrets import is_secret_key
from logship.core.sink import SinkSettings
from logship.core.units import Duration
from sinks.template import FieldTemplate, TemplateError

OptionValue = str | int | float | bool

DEFAULT_PRODUCER_OPTIONS: dict[str, OptionValue] = {
    # Safety: a record counts as delivered only once every in-sync replica has it, and a retry
    # inside librdkafka never duplicates or reorders records within a partition.
    "acks": "all",
    "enable.idempotence": True,
    # Speed (measured by benchmarks/kafka_throughput.py): lz4 costs little CPU and shrinks JSON
    # logs about 5x; a few ms of linger fills message sets while a batch is being produced.
    "compression.type": "lz4",
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    # A hung broker is noticed within seconds, not librdkafka's 30 s.
    "request.timeout.ms": 10_000,
    # Brokers close idle connections routinely; librdkafka's log line for it is noise.
    "log.connection.close": False,
    "client.id": "logship",
}
"""Producer defaults; any of them can be overridden in `producer_options`."""

RESERVED_OPTIONS: dict[str, str] = {
    "bootstrap.servers": "set bootstrap_servers instead",
    "metadata.broker.list": "set bootstrap_servers instead",
    "message.timeout.ms": "set message_timeout instead",
    "delivery.timeout.ms": "set message_timeout instead",
    "delivery.report.only.error": "the sink sets it to track delivery reports",
    "transactional.id": "set delivery: exactly_once instead (the id derives from the agent's identity)",
    "transaction.timeout.ms": "set transaction_timeout instead",
    "on_delivery": "the sink sets its own delivery callback",
    "error_cb": "the sink sets its own error callback",
    "logger": "librdkafka logs go to the agent's log",
    "stats_cb": "not supported",
    "throttle_cb": "not supported",
    "oauth_cb": "not supported; use sasl.oauthbearer.method: oidc",
}
"""Properties the sink owns, with what to do instead."""

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_DOCS = "https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md"
_QUOTED = re.compile(r'"([^"]*)"')


def topic_name_problem(name: str) -> str | None:
    """Why `name` cannot be a Kafka topic, or None when it can."""
    if name in (".", ".."):
        return f"{name!r} is not a valid topic name"
    if not _TOPIC_NAME.match(name):
        return (
            f"{name!r} is not a valid topic name "
            f"(1-249 characters from letters, digits, '.', '_' and '-')"
        )
    return None


class KafkaSinkSettings(SinkSettings):
    """`type: kafka`: each record as one JSON message, acknowledged on Kafka's delivery report."""

    type: Literal["kafka"]
    bootstrap_servers: list[str] = Field(
        min_length=1, json_schema_extra={"expected": "a list of host:port brokers"}
    )
    default_topic: str | None = None
    """The topic of records that `topic` has no value for (a field without fallback is missing)."""
    topic: str = Field(min_length=1)
    """A FieldTemplate: `logs`, `logs-{service.name}`, `logs-{service.name:-misc}`."""
    key: str | None = None
    """A FieldTemplate for the message key; records with the same key keep their order."""
    message_timeout: Duration = Field(30.0, gt=0)
    """How long librdkafka may try to deliver a record before the batch is retried by the agent."""
    metadata_timeout: Duration = Field(10.0, gt=0)
    """How long the start-up metadata request waits for Kafka."""
    shutdown_timeout: Duration = Field(10.0, gt=0)
    """How long closing the sink waits for outstanding deliveries."""
    delivery: Delivery = "at_least_once"
    """`exactly_once`: each batch in a Kafka transaction with the checkpoints it advances."""
    offsets_topic: str = "logship-offsets"
    """Where `exactly_once` commits checkpoints (create it with cleanup.policy=compact)."""
    transaction_timeout: Duration = Field(60.0, gt=0)
    """How long Kafka keeps a transaction of a dead agent open before aborting it itself."""
    producer_options: dict[str, OptionValue] = Field(
        default_factory=dict,
        json_schema_extra={"expected": "a mapping of librdkafka property names to values"},
    )

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _split_servers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers_look_like_hosts(cls, value: list[str]) -> list[str]:
        for server in value:
            host, sep, port = server.rpartition(":")
            if not server or any(c.isspace() for c in server) or (sep and not port.isdigit()):
                raise ValueError(f"expected host:port brokers like kafka-1:9092 (got {server!r})")
            if sep and not host:
                raise ValueError(f"{server!r} has no host name")
        return value

    @field_validator("key")
    @classmethod
    def _key_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @field_validator("topic")
    @classmethod
    def _every_record_has_a_topic(cls, value: str, info: ValidationInfo) -> str:
        template = _compile(value)
        if template.constant is not None:
            if problem := topic_name_problem(template.constant):
                raise ValueError(problem)
        elif (
            "default_topic" in info.data  # else default_topic has its own error
            and info.data["default_topic"] is None
            and _may_be_missing(template)
        ):
            raise ValueError(
                f"{value!r} has no value for records without {', '.join(template.fields)}; "
                f"give each field a fallback like {{{template.fields[0]}:-unknown}} "
                f"or set default_topic"
            )
        return value

    @field_validator("default_topic")
    @classmethod
    def _default_topic_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := topic_name_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("offsets_topic")
    @classmethod
    def _offsets_topic_is_a_name(cls, value: str) -> str:
        if problem := topic_name_problem(value):
            raise ValueError(problem)
        return value

    @field_validator("producer_options", mode="before")
    @classmethod
    def _scalar_values(cls, value: object) -> object:
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(item, str | int | float | bool):
                    raise ValueError(
                        f"{name!r}: expected a string, number or true/false "
                        f"(got {type(item).__name__})"
                    )
        return value

    @field_validator("producer_options")
    @classmethod
    def _librdkafka_accepts(
        cls, value: dict[str, OptionValue], info: ValidationInfo
    ) -> dict[str, OptionValue]:
        for name in value:
            if name in RESERVED_OPTIONS:
                raise ValueError(f"{name!r} cannot be set here: {RESERVED_OPTIONS[name]}")
        timeout = info.data.get("message_timeout", 30.0)
        check_producer_options(value, {**DEFAULT_PRODUCER_OPTIONS, **_derived(timeout)})
        return value

    def producer_config(self) -> dict[str, OptionValue]:
        """The librdkafka properties of the producer (callbacks are added by the sink; with
        exactly_once, `transactional.id` too, once the agent's identity is known)."""
        config: dict[str, OptionValue] = {
            **DEFAULT_PRODUCER_OPTIONS,
            **self.producer_options,
            **_derived(self.message_timeout),
            "bootstrap.servers": ",".join(self.bootstrap_servers),
        }
        if self.delivery == "exactly_once":
            config["transaction.timeout.ms"] = max(1000, round(self.transaction_timeout * 1000))
        return config

    @property
    def delivery_wait(self) -> float:
        """The longest a send waits for delivery reports: every message reports within this.

        librdkafka fails a queued message after message.timeout.ms, but one that is in flight
        only when its request times out, up to request.timeout.ms later.
        """
        request_timeout = self.producer_config().get("request.timeout.ms", 30_000)
        return self.message_timeout + float(request_timeout) / 1000 + 1.0


def _derived(message_timeout: float) -> dict[str, OptionValue]:
    return {
        "message.timeout.ms": max(1, round(message_timeout * 1000)),
        "delivery.report.only.error": True,
    }


def _compile(text: str) -> FieldTemplate:
    try:
        return FieldTemplate(text)
    except TemplateError as exc:
        raise ValueError(f"invalid template: {exc}") from None


def _may_be_missing(template: FieldTemplate) -> bool:
    """True when some record could render to None (a field without a fallback)."""
    return template.render({"@timestamp": "1970-01-01T00:00:00.000Z"}) is None


# --- librdkafka's own check ---------------------------------------------------------------

_SILENT = logging.getLogger("sinks.kafka.config_check")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False


def check_producer_options(
    options: Mapping[str, OptionValue], base: Mapping[str, OptionValue]
) -> None:
    """Raises ValueError naming the first property librdkafka refuses, among `options` over `base`."""
    problem = _refusal({**base, **options})
    if problem is None:
        return
    for name, value in options.items():
        single = _refusal({name: value})
        if single is not None:
            raise ValueError(_explain(name, single))
    # Only the combination fails (`acks` against `enable.idempotence`, linger vs timeout...).
    hint = (
        " (message.timeout.ms is the sink's message_timeout)"
        if "message.timeout" in problem
        else ""
    )
    raise ValueError(f"librdkafka refuses these settings together: {_mask(problem, options)}{hint}")


def _refusal(config: Mapping[str, OptionValue]) -> str | None:
    """librdkafka's message when it refuses `config`, else None. Connects nowhere."""
    from confluent_kafka import KafkaException, Producer

    try:
        producer = Producer({**config, "logger": _SILENT})
    except KafkaException as exc:
        text = str(exc.args[0].str()) if exc.args else str(exc)
        return text.removeprefix("Failed to create producer: ")
    except (TypeError, ValueError) as exc:
        return str(exc)
    del producer  # destroyed at once: it had no brokers and nothing to send
    return None


def _explain(name: str, message: str) -> str:
    if message.startswith("No such configuration property"):
        return f"unknown librdkafka property {name!r} (the properties are listed at {_DOCS})"
    if is_secret_key(name):
        return f"librdkafka refuses the value of {name!r} (value hidden)"
    return f"librdkafka refuses {name!r}: {message}"


def _mask(message: str, options: Mapping[str, Any]) -> str:
    """librdkafka's message with quoted values of secret-looking options hidden."""
    secrets = {str(v) for k, v in options.items() if is_secret_key(k) and str(v)}
    return _QUOTED.sub(lambda m: '"***"' if m.group(1) in secrets else m.group(0), message)
