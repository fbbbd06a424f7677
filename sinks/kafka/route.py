"""MessageRoute: the topic and key of each record, from the `topic` / `key` templates."""

from __future__ import annotations

from logship.core.record import LogEntry
from sinks.kafka.config import topic_name_problem
from sinks.template import FieldTemplate

_CHECKED_TOPICS_MAX = 10_000
"""Bound of the cache of topic names already checked (a template over a wild field could make many)."""


class MessageRoute:
    """Renders topics and keys; a record whose topic is not a valid name gets a reason instead.

    When the topic is a constant and there is no key, `constant_topic` is set and the sink
    skips per-record rendering entirely.
    """

    def __init__(self, topic: str, default_topic: str | None, key: str | None) -> None:
        self._topic = FieldTemplate(topic)
        self._default = default_topic
        self._key = FieldTemplate(key) if key is not None else None
        self.constant_topic: str | None = (
            self._topic.constant if self._topic.constant is not None and key is None else None
        )
        self._checked: dict[str, str | None] = {}

    def topic(self, entry: LogEntry) -> tuple[str, str | None]:
        """`(topic, None)`, or `(text, reason)` when the rendered name is not a valid topic."""
        name = self._topic.render(entry)
        if name is None:
            # Config validation guarantees a default when a field can be missing.
            name = self._default or ""
        problem = self._checked.get(name, "")
        if problem == "":
            problem = topic_name_problem(name)
            if len(self._checked) >= _CHECKED_TOPICS_MAX:
                self._checked.clear()
            self._checked[name] = problem
        if problem is not None:
            return name, f"topic template {self._topic.text!r} rendered {problem}"
        return name, None

    def key(self, entry: LogEntry) -> bytes | None:
        """The message key as UTF-8, or None (no key) when there is no key template or no value."""
        if self._key is None:
            return None
        text = self._key.render(entry)
        return None if text is None else text.encode()
