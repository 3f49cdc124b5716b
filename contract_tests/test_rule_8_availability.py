"""Rule 8, availability: the slot grid, the weekly availability and its day edges, no overlap
with another booking of the host.

A slot the run never booked, refused as taken, fails on a dedicated target (SlotLedger).
The same rule across a DST change lives in test_time_rules.py, and under concurrency
(rule 10's atomicity) in test_rule_10_atomicity.py.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from . import slots
from .bodies import booking_body
from .profile import EventType, Profile
from .slots import SLOT_TAKEN, Slot
from .suite import Suite
from .support import (
    approval_type,
    assert_error,
    book,
    bookable_instant,
    overlapping_slot,
    pick,
    plain,
    post_slot,
    windows_ahead,
)
from .target import Exchange


def _assert_unavailable(contract: Suite, event_type: EventType, slot: Slot, why: str) -> None:
    """Rule 8's answer: the slot is refused as no longer available."""
    exchange = post_slot(contract, event_type, slot)
    assert exchange.status != 201, why
    assert_error(exchange, 400, message=SLOT_TAKEN)


def test_rule_8_slot_off_the_grid_is_unavailable(contract: Suite) -> None:
    """A slot inside the availability but off the slot grid is 'no longer available'."""
    event_type = pick(
        contract.profile,
        lambda e: e.slot_interval >= timedelta(minutes=2) and not e.captcha,
        "has a slot interval of 2 minutes or more",
    )
    host = contract.profile.host_of(event_type)
    shift = timedelta(minutes=event_type.slot_interval.seconds // 120 or 1)
    for slot in contract.ledger.free_slots(host, event_type):
        off = slot.shifted(shift)
        if slots.is_available(host, off) and not slots.is_on_grid(host, event_type, off):
            exchange = contract.target.post_booking(
                event_type, booking_body(contract.profile, event_type, off)
            )
            assert_error(exchange, 400, message=SLOT_TAKEN)
            return
    pytest.skip(f"no off-grid slot of {event_type.label} lies inside the availability")


def test_rule_8_slot_outside_the_weekly_availability_is_unavailable(contract: Suite) -> None:
    """Slots ending at the opening time, starting at the closing time, or running past it."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    cases = {}
    for start, end in windows_ahead(host, event_type):
        candidates = {
            "before opening": Slot(start - event_type.duration, start),
            "after closing": Slot(end, end + event_type.duration),
        }
        if event_type.duration > event_type.slot_interval:
            late = end - event_type.slot_interval
            candidates["running past closing"] = Slot(late, late + event_type.duration)
        for name, slot in candidates.items():
            if name not in cases and not slots.is_available(host, slot):
                cases[name] = slot
        if len(cases) == len(candidates):
            break
    if not cases:
        pytest.skip(f"{host.slug} has no window with unavailable time around it")
    for name, slot in cases.items():
        _assert_unavailable(contract, event_type, slot, f"a slot {name} ({slot}) was booked")


def test_rule_8_day_without_availability_is_unavailable(contract: Suite) -> None:
    """A slot on a weekday the host has no window, at an hour open on other days."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    open_day = next(d for d in range(7) if host.weekly[d])
    closed = [d for d in range(7) if not host.weekly[d]]
    if not closed:
        pytest.skip(f"{host.slug} is available every day of the week")
    opening = host.weekly[open_day][0].start
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    day = slots.local_day(host, earliest) + timedelta(days=1)
    while day.weekday() not in closed:
        day += timedelta(days=1)
    start = datetime.combine(day, opening, host.timezone).astimezone(UTC)
    slot = Slot(start, start + event_type.duration)
    if slot.start > latest:
        pytest.skip(f"no day {host.slug} is closed falls inside the booking horizon")
    _assert_unavailable(contract, event_type, slot, f"a slot on a closed day ({slot}) was booked")


def test_rule_8_booked_slot_is_unavailable(contract: Suite) -> None:
    """Once booked, the same slot is refused with 'no longer available'."""
    event_type = plain(contract.profile)
    slot, _ = book(contract, event_type)
    _assert_unavailable(contract, event_type, slot, f"the slot {slot} was booked twice")


def _pair_on_one_host(profile: Profile, first: Any, second: Any) -> tuple[EventType, EventType]:
    for host in profile.hosts:
        for a in host.event_types:
            for b in host.event_types:
                if a is not b and first(a) and second(b):
                    return a, b
    pytest.skip("the profile has no host with two such event types")


def test_rule_8_booking_blocks_overlapping_slots_of_other_event_types(contract: Suite) -> None:
    """A booking makes the host busy: an overlapping slot of another event type is refused."""
    first, second = _pair_on_one_host(
        contract.profile, lambda e: not e.requires_approval, lambda e: True
    )
    for _ in range(3):
        slot, _ = book(contract, first)
        overlapping = overlapping_slot(contract, first, slot, second)
        if overlapping is None:
            continue
        _assert_unavailable(
            contract,
            second,
            overlapping,
            f"{second.label} booked {overlapping}, overlapping {first.label}'s booking of {slot}",
        )
        return
    pytest.skip(f"no grid slot of {second.label} overlaps one of {first.label}")


def test_rule_8_pending_approval_blocks_the_slot(contract: Suite) -> None:
    """A booking waiting for approval keeps the host busy as a confirmed one does."""
    approval = approval_type(contract.profile)
    host = contract.profile.host_of(approval)
    others = [e for e in host.event_types if e is not approval] or [approval]
    # Whether the answer says PendingApproval is rule 10's claim; here only the blocking counts.
    slot, _ = book(contract, approval)
    for other in others:
        overlapping = overlapping_slot(contract, approval, slot, other)
        if overlapping is not None:
            _assert_unavailable(
                contract,
                other,
                overlapping,
                f"{other.label} booked {overlapping} over a pending booking of {slot}",
            )
            return
    pytest.skip(f"no slot of {host.slug}'s event types overlaps {approval.label}'s")


class _Taken(Exception):
    """A shared target's slot was taken by someone else: try another."""


def _must_book(contract: Suite, event_type: EventType, slot: Slot, why: str) -> Exchange:
    """Book a slot the ledger says is free; the target must accept it."""
    exchange = post_slot(contract, event_type, slot)
    if exchange.is_slot_taken:
        contract.ledger.found_taken(event_type, slot, why)
        raise _Taken()
    assert exchange.status == 201, f"{slot}{why}, was refused"
    contract.ledger.mark_busy(event_type, slot)
    return exchange


def test_rule_8_adjacent_slots_do_not_overlap(contract: Suite) -> None:
    """Slots ending where a booking (and its buffers) starts, or starting where it ends: free."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    for slot in contract.ledger.free_slots(host, event_type):
        busy_start, busy_end = slots.occupied(event_type, slot)
        day = slots.local_day(host, slot.start)
        grid = [
            s for s in slots.grid(host, event_type, day, day) if bookable_instant(event_type, s)
        ]
        # Back to back only: the neighbour's busy span touches the booking's.
        before = [s for s in grid if slots.occupied(event_type, s)[1] == busy_start]
        after = [s for s in grid if slots.occupied(event_type, s)[0] == busy_end]
        if not before or not after:
            continue
        neighbours = {"before": before[0], "after": after[0]}
        if not all(contract.ledger.is_free(event_type, s) for s in neighbours.values()):
            continue
        try:
            _must_book(contract, event_type, slot, "")
            for side, neighbour in neighbours.items():
                why = f", back to back {side} the run's booking of {slot}"
                _must_book(contract, event_type, neighbour, why)
        except _Taken:
            continue
        return
    pytest.skip(f"no free slot of {event_type.label} with back-to-back neighbours was found")


def _overlap_offset(booked: EventType, other: EventType, kind: str) -> timedelta | None:
    """A start offset, on other's grid, of an `other` slot overlapping a booking in part."""
    anchor = datetime(2000, 1, 3, 12, tzinfo=UTC)
    busy = slots.occupied(booked, Slot(anchor, anchor + booked.duration))
    for n in range(1, 49):
        for offset in (other.slot_interval * n, -other.slot_interval * n):
            start = anchor + offset
            probe = slots.occupied(other, Slot(start, start + other.duration))
            if not (probe[0] < busy[1] and busy[0] < probe[1]):
                continue
            if (busy[0] < probe[0]) == (kind == "starting inside it"):
                return offset
    return None


@pytest.mark.parametrize("kind", ["starting inside it", "containing its start"])
def test_rule_8_partial_overlap_with_a_different_start_is_unavailable(
    contract: Suite, kind: str
) -> None:
    """A slot overlapping a booking in part, at another start, is refused: not only the
    same start blocks, and not only a booking that contains the new start."""
    for host in contract.profile.hosts:
        types = [e for e in host.event_types if not e.captcha]
        for first in types:
            for second in types:
                offset = _overlap_offset(first, second, kind)
                if offset is None:
                    continue
                for slot in itertools.islice(contract.ledger.free_slots(host, first), 40):
                    start = slot.start + offset
                    probe = Slot(start, start + second.duration)
                    # The probe overlaps the booking about to be made, and nothing else known.
                    if not (
                        slots.is_available(host, probe)
                        and slots.is_on_grid(host, second, probe)
                        and bookable_instant(second, probe)
                        and contract.ledger.is_free(second, probe)
                    ):
                        continue
                    try:
                        _must_book(contract, first, slot, "")
                    except _Taken:
                        continue
                    _assert_unavailable(
                        contract,
                        second,
                        probe,
                        f"{second.label} booked {probe}, {kind}: {first.label}'s booking of {slot}",
                    )
                    return
    pytest.skip(f"no two event types of one host give a grid slot {kind} of a booking")


def test_rule_8_last_slot_of_the_day_is_available(contract: Suite) -> None:
    """A slot ending exactly when the host's window closes lies wholly inside it."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    for _, end in windows_ahead(host, event_type):
        day = slots.local_day(host, end - event_type.duration)
        last = [s for s in slots.grid(host, event_type, day, day) if s.end == end]
        if not last or not contract.ledger.is_free(event_type, last[0]):
            continue
        try:
            _must_book(contract, event_type, last[0], ", ending as the host's window closes")
        except _Taken:
            continue
        return
    pytest.skip(f"no window of {host.slug} ends on {event_type.label}'s grid")


def test_rule_8_slot_running_past_closing_is_unavailable(contract: Suite) -> None:
    """A grid slot that starts before the window closes and ends after it is refused."""
    event_type = pick(
        contract.profile,
        lambda e: e.duration > e.slot_interval and not e.captcha,
        "lasts longer than its slot interval (so a grid slot can run past closing)",
    )
    host = contract.profile.host_of(event_type)
    for _, end in windows_ahead(host, event_type):
        start = end - event_type.slot_interval
        slot = Slot(start, start + event_type.duration)
        if slots.is_available(host, slot) or not slots.is_on_grid(host, event_type, slot):
            continue
        _assert_unavailable(
            contract, event_type, slot, f"{slot}, running past closing at {end}, was booked"
        )
        return
    pytest.skip(f"no grid slot of {event_type.label} runs past a closing time")


def test_rule_8_other_hosts_are_not_blocked(contract: Suite) -> None:
    """One host's booking does not make another host busy at the same time."""
    hosts = contract.profile.hosts
    if len(hosts) < 2:
        pytest.skip("the profile has a single host")
    first = next((e for e in hosts[0].event_types if not e.captcha), hosts[0].event_types[0])
    second = next((e for e in hosts[1].event_types if not e.captcha), hosts[1].event_types[0])
    for slot in contract.ledger.free_slots(hosts[0], first):
        overlapping = overlapping_slot(contract, first, slot, second)
        if overlapping is None or not contract.ledger.is_free(second, overlapping):
            continue
        try:
            _must_book(contract, first, slot, "")
            why = f", free for its host although {first.label} booked {slot}"
            _must_book(contract, second, overlapping, why)
        except _Taken:
            continue
        return
    pytest.skip(f"{hosts[0].slug} and {hosts[1].slug} are never available at the same time")
