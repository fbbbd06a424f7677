"""Fixtures of the proof suite: a printed, replayable random seed."""

from __future__ import annotations

import os
import random

import pytest

SEED_ENV = "LOGSHIP_PROVE_SEED"


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The test's random seed: LOGSHIP_PROVE_SEED when set (to replay a failure), else a new one.

    Printed, so that a failing test's captured output says how to replay it.
    """
    given = os.environ.get(SEED_ENV)
    value = int(given) if given else random.SystemRandom().randrange(2**32)
    print(f"\nreplay with: {SEED_ENV}={value} pytest '{request.node.nodeid}'")
    request.node.user_properties.append((SEED_ENV, value))
    return value
