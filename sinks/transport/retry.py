"""`RetryLogic`: each HTTP sink's reading of its endpoint's answers, behind one shape.

The sink worker owns retries and backoff; a sink only says what one attempt meant. Every HTTP
sink has the same two cases, an answer or none (`Unreachable`), so `attempt` maps a request to
its verdict once, and each sink supplies the logic for its own responses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sinks.transport.answer import Answer
from sinks.transport.errors import Unreachable

Verdict_co = TypeVar("Verdict_co", covariant=True)


class RetryLogic(Protocol[Verdict_co]):
    """What an answer (or no answer) means for the request: the sink's own verdict type."""

    def answered(self, answer: Answer) -> Verdict_co:
        """The verdict on an answer, whatever its status."""
        ...

    def unanswered(self, error: str) -> Verdict_co:
        """The verdict when no answer came; `error` says why (refused, timeout, TLS)."""
        ...


def attempt(request: Callable[[], Answer], logic: RetryLogic[Verdict_co]) -> Verdict_co:
    """Runs `request` once and returns `logic`'s verdict on its answer or on its failure."""
    try:
        answer = request()
    except Unreachable as exc:
        return logic.unanswered(str(exc))
    return logic.answered(answer)
