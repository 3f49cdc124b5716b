"""The slot grid and weekly availability, as pure functions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from mock_server.dataset import load_dataset
from mock_server.domain import slots

DATASET = load_dataset()
JANE = DATASET.hosts["jane-doe"]
CALL = JANE.event_types["30min-call"]
CONSULT = JANE.event_types["60min-consult"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_windows_follow_the_host_zone_across_dst():
    # EST (UTC-5) on Friday 2026-03-06, EDT (UTC-4) on Monday 2026-03-09.
    assert slots.windows_on(JANE, date(2026, 3, 6)) == (
        (at("2026-03-06T14:00Z"), at("2026-03-06T22:00Z")),
    )
    assert slots.windows_on(JANE, date(2026, 3, 9)) == (
        (at("2026-03-09T13:00Z"), at("2026-03-09T21:00Z")),
    )


def test_weekend_has_no_windows():
    assert slots.windows_on(JANE, date(2026, 3, 14)) == ()


def test_grid_of_a_60_minute_event_type_steps_by_30_minutes():
    day = list(slots.grid_slots(JANE, CONSULT, date(2026, 3, 16), date(2026, 3, 16)))
    assert day[0] == (at("2026-03-16T13:00Z"), at("2026-03-16T14:00Z"))
    assert day[1][0] - day[0][0] == timedelta(minutes=30)
    assert day[-1][1] == at("2026-03-16T21:00Z")  # ends at 17:00 New York
    assert len(day) == 15


def test_every_grid_slot_is_on_the_grid_and_available():
    for start, end in slots.grid_slots(JANE, CALL, date(2026, 3, 16), date(2026, 3, 22)):
        assert slots.is_on_grid_and_available(JANE, CALL, start, end)


def test_off_grid_slot_is_not_available():
    assert not slots.is_on_grid_and_available(
        JANE, CALL, at("2026-03-16T14:10Z"), at("2026-03-16T14:40Z")
    )


def test_bounds_are_inclusive_of_minimum_notice_and_horizon():
    now = at("2026-03-13T10:30Z")
    assert slots.within_bounds(CALL, now + timedelta(minutes=60), now)
    assert not slots.within_bounds(CALL, now + timedelta(minutes=59), now)
    assert slots.within_bounds(CALL, now + timedelta(days=60), now)
    assert not slots.within_bounds(CALL, now + timedelta(days=60, minutes=1), now)


def test_a_day_s_windows_are_remembered_per_host_not_per_slug():
    """A reloaded dataset's host, under the same slug, gets its own windows, not the old."""
    day = date(2026, 3, 6)
    assert slots.windows_on(JANE, day) is slots.windows_on(JANE, day)  # remembered
    later = dataclasses.replace(JANE, weekly=((), (), (), (), (), (), ()))
    assert slots.windows_on(later, day) == ()
    assert slots.windows_on(JANE, day) != ()


def test_the_remembered_days_are_bounded():
    first = date(2026, 1, 1)
    for n in range(slots.DAYS_KEPT + 10):
        slots.windows_on(JANE, first + timedelta(days=n))
    assert 0 < slots.days_remembered() <= slots.DAYS_KEPT
