"""Fixtures of the engine's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["thread", "process"])
def workers(request: pytest.FixtureRequest) -> str:
    """Each test once with thread workers and once with spawned worker processes."""
    return request.param
