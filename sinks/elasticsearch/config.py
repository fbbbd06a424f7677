"""Settings of the Elasticsearch sink (`type: elasticsearch`), checked when the config loads."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from logship.core.schema import StrictModel
from logship.core.sink import SinkSettings
from logship.core.units import ByteSize, Duration
from sinks.template import FieldTemplate, TemplateError
from sinks.transport.auth import AuthSettings
from sinks.transport.tls import TlsSettings

# Elasticsearch's rules for the parts of a data stream name (`logs-<dataset>-<namespace>`):
# lowercase, none of `\/*?"<>| ,#:`, and no `-`, which separates the parts.
_STREAM_PART = re.compile(r"^[a-z0-9_.+@!$%&'();=\[\]^`{}~]+$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def _stream_part(value: str, example: str) -> str:
    if "-" in value:
        raise ValueError(
            f"must not contain '-' (the data stream is named logs-<dataset>-<namespace>, "
            f"so '-' separates the parts); use '.' or '_' instead, like {example!r} (got {value!r})"
        )
    if not _STREAM_PART.match(value) or value.startswith((".", "_", "+")):
        raise ValueError(
            f"expected lowercase letters, digits, '.' or '_' (not starting with '.' or '_'), "
            f"like {example!r} (got {value!r})"
        )
    if len(value.encode()) > 100:
        raise ValueError(f"expected at most 100 bytes (got {len(value.encode())})")
    return value


class ElasticsearchAuthSettings(AuthSettings):
    """Basic (`username` + `password`), `api_key` or `bearer_token`."""

    api_key: str | None = None
    """The encoded API key (base64 of `id:key`), as Kibana and the create-API-key API show it."""

    def methods(self) -> list[str]:
        """The authentication methods given (one at most once validated)."""
        given = [
            ("username/password", self.username is not None or self.password is not None),
            ("api_key", self.api_key is not None),
            ("bearer_token", self.bearer_token is not None),
        ]
        return [name for name, present in given if present]

    def authorization(self) -> str | None:
        """The value of the Authorization header, None when no method is set."""
        if self.api_key is not None:
            return f"ApiKey {self.api_key}"
        return super().authorization()


class ElasticsearchTlsSettings(TlsSettings):
    """How the agent verifies the cluster's certificate (https URLs only)."""

    ca_fingerprint: str | None = None
    """SHA-256 fingerprint of the cluster's CA or certificate, instead of `ca_file`."""

    @model_validator(mode="after")
    def _one_ca(self) -> ElasticsearchTlsSettings:
        if self.ca_file is not None and self.ca_fingerprint is not None:
            raise ValueError("set ca_file or ca_fingerprint, not both")
        return self


class KibanaSettings(StrictModel):
    """Kibana, for `logship setup elasticsearch` to create a data view (uses the sink's auth)."""

    url: str
    space: str | None = None

    @field_validator("url")
    @classmethod
    def _is_url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError(f"expected a URL like http://localhost:5601 (got {value!r})")
        return value.rstrip("/")


class SetupSettings(StrictModel):
    """What `logship setup elasticsearch` installs; the agent itself never changes the cluster."""

    retention: Duration | None = None
    """Delete data older than this (an ILM delete phase); unset keeps data until deleted by hand."""
    rollover_max_age: Duration = 30 * 86400.0
    rollover_max_primary_shard_size: str = "50gb"
    ilm_policy: str | None = None
    """Name of the ILM policy setup writes; default `logship-<dataset>` / `logship-<sink name>`."""
    template_name: str | None = None
    """Index template name in index mode; default `logship-<sink name>`."""
    template_priority: int | None = Field(None, ge=0)
    """Priority of the index template setup writes; default 150 for data streams, 200 for indices."""
    kibana: KibanaSettings | None = None


class ElasticsearchSinkSettings(SinkSettings):
    """`type: elasticsearch`: bulk indexing into data streams (default) or template-named indices."""

    type: Literal["elasticsearch"]
    hosts: list[str] = Field(
        default=[], json_schema_extra={"expected": "a list of URLs like https://es1:9200"}
    )
    cloud_id: str | None = None
    auth: ElasticsearchAuthSettings = ElasticsearchAuthSettings()
    tls: ElasticsearchTlsSettings = ElasticsearchTlsSettings()

    dataset: str | None = None
    """Data stream mode: documents go to `logs-<dataset>-<namespace>`; unset: the record's
    `event.dataset` names it (`generic` without one), see `sinks.elasticsearch.streams`."""
    namespace: str = "default"
    index: str | None = None
    """Index mode: an index name template like `logs-{service.name}-%Y.%m.%d` instead of a data stream."""
    default_index: str = "logs-logship-%Y.%m.%d"
    """Index mode: where a record goes when `index` names a field the record lacks."""
    id: Literal["deterministic", "none"] = "deterministic"
    """deterministic: each line gets an _id from its file identity and offset, so replays are not indexed twice."""
    pipeline: str | None = None
    """Ingest pipeline to run on every document (the `pipeline` bulk parameter)."""

    compression_level: int = Field(1, ge=0, le=9)
    """gzip level of request bodies; 0 sends them uncompressed."""
    request_timeout: Duration = Field(60.0, gt=0)
    max_request_bytes: ByteSize = Field(16 * 1024 * 1024, ge=1024)
    """Uncompressed bulk bodies larger than this are sent in parts (and halved again after a 413)."""
    auth_retry_interval: Duration = Field(30.0, gt=0)
    """How long to wait between attempts while the cluster refuses the credentials (401/403); capped by retry.max_backoff."""
    setup: SetupSettings = SetupSettings()

    @field_validator("hosts")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for i, url in enumerate(value):
            if not _URL.match(url):
                raise ValueError(
                    f"hosts[{i}]: expected a URL like https://localhost:9200 (got {url!r})"
                )
            if "@" in url.split("/")[2]:
                # Credentials in a URL end up in `logship check` output and in logs.
                raise ValueError(
                    f"hosts[{i}]: put credentials in auth.username / auth.password, not in the URL"
                )
        return [url.rstrip("/") for url in value]

    @field_validator("cloud_id")
    @classmethod
    def _cloud_id(cls, value: str | None) -> str | None:
        if value is not None:
            # Imported here: elastic_transport (and urllib3) cost every agent ~0.1 s of
            # start-up CPU, once per worker, also without an Elasticsearch sink.
            from elastic_transport.client_utils import parse_cloud_id

            try:
                cloud = parse_cloud_id(value)
            except ValueError:
                cloud = None
            if cloud is None or cloud.es_address is None:
                raise ValueError(
                    "not a valid Cloud ID; copy it from the Elastic Cloud console "
                    "(it looks like name:base64...)"
                )
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str | None) -> str | None:
        return None if value is None else _stream_part(value, "nginx.access")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return _stream_part(value, "production")

    @field_validator("index", "default_index")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            FieldTemplate(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _target(self) -> ElasticsearchSinkSettings:
        if not self.hosts and self.cloud_id is None:
            raise ValueError(
                "set hosts (like [https://localhost:9200]) or cloud_id (from the Elastic Cloud console)"
            )
        if self.hosts and self.cloud_id is not None:
            raise ValueError("set hosts or cloud_id, not both")
        if FieldTemplate(self.default_index).fields:
            raise ValueError(
                "default_index: must not name record fields (it is the fallback when they are "
                "missing); dates like %Y.%m.%d are fine"
            )
        return self

    @property
    def data_stream(self) -> str | None:
        """The data stream name in data-stream mode, None in index mode."""
        if self.index is not None:
            return None
        return f"logs-{self.dataset or '{event.dataset}'}-{self.namespace}"
