"""The one base of logship's own exceptions: `except LogshipError` catches every error the agent
raises on purpose (bad config, a data folder it cannot use, a sink that cannot work, ...), and
none of Python's."""

from __future__ import annotations


class LogshipError(Exception):
    """An error logship raises on purpose; its message says what to do."""
