"""The server clock: real, pinned, frozen, moved."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from mock_server.domain.clock import Clock

PINNED = datetime(2026, 3, 13, 10, 30, tzinfo=UTC)


def test_real_clock_follows_time():
    assert abs(Clock().now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_frozen_clock_stands_still():
    clock = Clock(PINNED, frozen=True)
    time.sleep(0.02)
    assert clock.now() == PINNED


def test_pinned_running_clock_runs_from_the_instant():
    clock = Clock(PINNED)
    time.sleep(0.02)
    assert PINNED < clock.now() < PINNED + timedelta(seconds=1)


def test_advance_freeze_unfreeze():
    clock = Clock(PINNED, frozen=True)
    clock.advance(timedelta(hours=2))
    assert clock.now() == PINNED + timedelta(hours=2)
    clock.unfreeze()
    assert not clock.frozen
    assert clock.now() >= PINNED + timedelta(hours=2)
    clock.freeze()
    assert clock.frozen


def test_naive_instant_is_refused():
    with pytest.raises(ValueError):
        Clock(datetime(2026, 3, 13))
