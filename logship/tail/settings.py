"""`InputSettings`: one `inputs:` entry, the tail stage's own settings model (the aggregate
`Config` in logship.app.config composes it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from logship.core.metadata import Dataset, InputFields, InputTags, ServiceSettings
from logship.core.schema import ConfigPath, GlobPattern, StrictModel
from logship.core.units import ByteSize, Duration
from logship.tail.container import ContainerFormat
from logship.tail.multiline import MultilineSettings
from parsers.enrich.settings import EnrichStepSettings


class InputSettings(StrictModel):
    """One `inputs:` entry: which files to tail, how to frame and parse them, what to add to
    their records."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    paths: list[GlobPattern] = Field(
        min_length=1, json_schema_extra={"expected": "a list of glob patterns"}
    )
    exclude: list[str] = Field(
        default=[], json_schema_extra={"expected": "a list of glob patterns"}
    )
    start_at: Literal["beginning", "end"] = "beginning"
    parsers: list[str] = Field(
        default=[], json_schema_extra={"expected": "a list of parser rule names"}
    )
    on_no_match: Literal["keep", "drop"] = "keep"
    """A line no rule matches: shipped raw with tags [parse_failure] (keep), or dropped (counted)."""
    max_line_bytes: ByteSize = Field(256 * 1024, ge=64)
    partial_line_timeout: Duration = Field(5.0, gt=0)
    read_buffer_bytes: ByteSize = Field(128 * 1024, ge=4096)
    scan_interval: Duration = Field(10.0, gt=0)
    poll_interval: Duration = Field(1.0, gt=0)
    close_inactive: Duration = Field(300.0, gt=0)
    ignore_older: Duration | None = Field(None, gt=0)
    include_compressed: bool = False
    follow_symlinks: bool | list[ConfigPath] = Field(
        False,
        json_schema_extra={"expected": "true, false, or a list of folders links may lead into"},
    )
    """Symlinks are read only when the file they lead to lies inside the folders the globs
    cover (false), also inside these folders (a list), or anywhere (true)."""
    watch: Literal["inotify", "poll"] = "inotify"
    container: ContainerFormat | None = None
    multiline: MultilineSettings | None = None
    keep_original: bool = False
    """Every record carries its event's whole text as `event.original` (redacted like the rest)."""
    enrich: list[EnrichStepSettings] = Field(
        default=[],
        json_schema_extra={"expected": "a list of enrichment steps: user_agent, geoip, url"},
    )
    """Steps that add fields to every parsed record, in order (parsers.enrich)."""
    sinks: list[str] | None = Field(None, json_schema_extra={"expected": "a list of sink names"})
    """The sinks this input's records go to (their `when` permitting); default: every sink."""
    # What the input adds to its records (logship.core.metadata, parsers.stamp).
    fields: InputFields = Field(default={})
    tags: InputTags = Field(default=[])
    dataset: Dataset | None = None
    service: ServiceSettings | None = None

    @field_validator("follow_symlinks", mode="before")
    @classmethod
    def _folders_not_a_string(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError('expected true, false, or a list of folders, like ["/var/log/pods"]')
        return value

    @field_validator("paths", "exclude", mode="before")
    @classmethod
    def _list_of_globs(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError('expected a list of glob patterns, like ["/var/log/app/*.log"]')
        return value
