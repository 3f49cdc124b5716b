"""Slots from the profile and the clock, independent of any server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from contract_tests import slots
from contract_tests.profile import load_profile
from contract_tests.slots import Slot, SlotLedger

PROFILE = load_profile()
JANE = PROFILE.host("jane-doe")
CALL = JANE.event_type("30min-call")
CONSULT = JANE.event_type("60min-consult")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_9_to_5_window_keeps_its_local_hours_across_the_dst_change() -> None:
    # New York moves to EDT on Sunday 2027-03-14.
    assert slots.windows_on(JANE, date(2027, 3, 12)) == [
        (utc("2027-03-12T14:00:00Z"), utc("2027-03-12T22:00:00Z"))
    ]
    assert slots.windows_on(JANE, date(2027, 3, 15)) == [
        (utc("2027-03-15T13:00:00Z"), utc("2027-03-15T21:00:00Z"))
    ]
    assert slots.dst_changes(JANE, utc("2027-03-10T00:00Z"), utc("2027-03-20T00:00Z")) == [
        utc("2027-03-14T07:00:00Z")
    ]


def test_the_grid_runs_every_slot_interval_inside_the_windows() -> None:
    day = list(slots.grid(JANE, CONSULT, date(2027, 3, 15), date(2027, 3, 15)))
    assert day[0] == Slot(utc("2027-03-15T13:00Z"), utc("2027-03-15T14:00Z"))
    assert day[-1].end == utc("2027-03-15T21:00Z")
    assert len(day) == 15  # 09:00 to 16:00 starts, every 30 minutes
    assert list(slots.grid(JANE, CALL, date(2027, 3, 13), date(2027, 3, 14))) == []  # weekend


def test_bookable_slots_respect_the_minimum_notice_and_the_horizon() -> None:
    at = utc("2027-03-15T13:30:00Z")  # Monday 09:30 in New York
    first = next(slots.bookable(JANE, CALL, at))
    assert first.start == utc("2027-03-15T15:00:00Z")  # 60 min notice plus the margin
    last = next(slots.bookable_latest_first(JANE, CALL, at))
    assert last.start <= at + timedelta(days=60)
    assert last.start > at + timedelta(days=59)
    beyond = slots.beyond_horizon(JANE, CALL, at)
    # The nearest slot past the horizon: 2027-05-14 is a Friday, 09:30 New York is open.
    assert at + timedelta(days=60) < beyond.start <= at + timedelta(days=60, hours=1)
    assert slots.is_available(JANE, beyond) and slots.is_on_grid(JANE, CALL, beyond)


def test_wrong_slots_are_wrong_for_the_reason_given() -> None:
    at = utc("2027-03-15T13:30:00Z")
    soon = slots.inside_minimum_notice(CALL, at)
    assert at < soon.start < at + CALL.minimum_notice
    past = slots.in_the_past(JANE, CALL, at)
    assert past.end <= at - timedelta(days=1) and slots.is_available(JANE, past)
    assert not slots.is_on_grid(JANE, CALL, first_plus(JANE, 15))


def first_plus(host, minutes: int) -> Slot:
    start = utc("2027-03-15T13:00Z") + timedelta(minutes=minutes)
    return Slot(start, start + timedelta(minutes=30))


def test_the_ledger_keeps_busy_slots_buffers_included() -> None:
    ledger = SlotLedger()
    slot = Slot(utc("2027-03-15T13:00Z"), utc("2027-03-15T14:00Z"))
    assert ledger.is_free(CONSULT, slot)
    ledger.mark_busy(CONSULT, slot)
    assert not ledger.is_free(CALL, Slot(utc("2027-03-15T13:30Z"), utc("2027-03-15T14:00Z")))
    assert ledger.is_free(CALL, Slot(utc("2027-03-15T14:00Z"), utc("2027-03-15T14:30Z")))
    assert ledger.is_free(PROFILE.event_types()[-1], slot)  # another host
