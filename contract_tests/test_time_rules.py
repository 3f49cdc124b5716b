"""Rule 7, the time bounds, and rule 8 across DST changes: the rules that depend on now.

On the real clock the suite checks what now lets it reach: a start inside the
notice, the nearest and the furthest bookable slots, a DST change when one falls
inside the horizon. When the target offers booking-mock's control API, each case
is also checked exactly, at any season: the clock is pinned (frozen) at the
instant the case needs, and put back afterwards. A case the run cannot reach is
listed in the run's summary, not only in a skip line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from . import slots
from .bodies import booking_body
from .profile import EventType, Host
from .slots import SLOT_TAKEN, Slot
from .suite import Suite
from .support import (
    assert_error,
    assert_refused_before_availability,
    body_for,
    book,
    pick,
    plain,
    post_slot,
)

# How far ahead the suite looks for a DST change to pin the clock before.
DST_SEARCH = timedelta(days=400)
# The pinned now lies this long before the change, so both sides are bookable.
DST_LEAD = timedelta(days=14)


@contextlib.contextmanager
def pinned(contract: Suite, instant: datetime, case: str) -> Iterator[datetime]:
    """The target's clock frozen at `instant`; skips (and says so in the summary) without it."""
    if not contract.clock.control_api:
        why = "the target offers no control API to pin its clock (profile target.controlApi)"
        contract.not_reachable(case, why)
        pytest.skip(f"{case}: {why}")
    with contract.clock.pinned(instant) as now:
        yield now


# Rule 7 on the real clock.


def test_rule_7_start_inside_minimum_notice_is_refused(contract: Suite) -> None:
    """A start sooner than the minimum notice from now is 400."""
    event_type = pick(
        contract.profile,
        lambda e: e.minimum_notice >= timedelta(minutes=10) and not e.captcha,
        "has a minimum notice of 10 minutes or more",
    )
    body = booking_body(contract.profile, event_type, slots.inside_minimum_notice(event_type))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the start is inside the minimum notice")


def test_rule_7_start_in_the_past_is_refused(contract: Suite) -> None:
    """A slot that started yesterday is 400."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    body = booking_body(contract.profile, event_type, slots.in_the_past(host, event_type))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the slot is in the past")


def test_rule_7_start_beyond_the_booking_horizon_is_refused(contract: Suite) -> None:
    """The nearest slot past the booking horizon, inside the host's availability, is 400."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    slot = slots.beyond_horizon(host, event_type)
    exchange = post_slot(contract, event_type, slot)
    assert_refused_before_availability(exchange, "the slot is beyond the booking horizon")
    past = slot.start - (slots.now() + event_type.booking_horizon)
    if past > timedelta(days=1) and not contract.clock.control_api:
        contract.not_reachable(
            "rule 7: the day after the booking horizon",
            f"on the real clock the nearest slot past the horizon lies"
            f" {past.total_seconds() / 3600:.0f} h past it",
        )


def test_rule_7_first_slot_after_the_minimum_notice_is_accepted(contract: Suite) -> None:
    """The nearest bookable slot (minimum notice from now, plus a margin) books."""
    book(contract, plain(contract.profile))


def test_rule_7_last_slot_inside_the_booking_horizon_is_accepted(contract: Suite) -> None:
    """The furthest bookable slot (booking horizon from now, less a margin) books."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    slot, exchange = contract.target.book_free_slot(
        event_type,
        body_for(contract.profile, event_type),
        slots=contract.ledger.free_slots(host, event_type, latest_first=True),
    )
    assert exchange.status == 201, f"the slot {slot}, inside the booking horizon, was refused"


# Rule 7 exactly, on a pinned clock.


def _inner_slots(contract: Suite, host: Host, event_type: EventType) -> Iterator[Slot]:
    """Free grid slots with a grid neighbour on both sides inside the same window."""
    for slot in contract.ledger.free_slots(host, event_type):
        earlier, later = (
            slot.shifted(-event_type.slot_interval),
            slot.shifted(event_type.slot_interval),
        )
        if all(
            slots.is_available(host, s) and slots.is_on_grid(host, event_type, s)
            for s in (earlier, later)
        ):
            yield slot


def _books_at_the_bound(contract: Suite, event_type: EventType, slot: Slot, bound: str) -> None:
    """A slot exactly `bound` from the pinned now books: both bounds are inclusive."""
    exchange = post_slot(contract, event_type, slot)
    if exchange.is_slot_taken:
        contract.ledger.found_taken(event_type, slot)
        pytest.skip(f"{slot} was taken by someone else")
    assert exchange.status == 201, f"{slot}, exactly {bound} from now, was refused"


def test_rule_7_minimum_notice_is_exact(contract: Suite) -> None:
    """At now + minimum notice a slot books; one grid step earlier it is 400 (rule 7)."""
    event_type = pick(
        contract.profile,
        lambda e: e.minimum_notice > timedelta(0) and not e.captcha and not e.requires_approval,
        "has a minimum notice and needs neither CAPTCHA nor approval",
    )
    host = contract.profile.host_of(event_type)
    slot = next(_inner_slots(contract, host, event_type))
    notice = event_type.minimum_notice
    with pinned(contract, slot.start - notice, "rule 7: the notice boundary"):
        early = post_slot(contract, event_type, slot.shifted(-event_type.slot_interval))
        assert_refused_before_availability(
            early, f"{slot.shifted(-event_type.slot_interval)} starts inside the minimum notice"
        )
        _books_at_the_bound(contract, event_type, slot, f"the minimum notice ({notice})")


def test_rule_7_booking_horizon_is_exact(contract: Suite) -> None:
    """At now + horizon a slot books; one grid step later, or on the next day, it is 400."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    slot = next(_inner_slots(contract, host, event_type))
    later = slot.shifted(event_type.slot_interval)
    day = slots.local_day(host, slot.start) + timedelta(days=1)
    next_day = next(slots.grid(host, event_type, day, day + timedelta(days=14)))
    now = slot.start - event_type.booking_horizon
    with pinned(contract, now, "rule 7: the last day of the booking horizon and the day after"):
        for beyond, what in ((later, "one grid step"), (next_day, "a day")):
            exchange = post_slot(contract, event_type, beyond)
            assert_refused_before_availability(
                exchange, f"{beyond} starts {what} past the booking horizon"
            )
        horizon = event_type.booking_horizon
        _books_at_the_bound(contract, event_type, slot, f"the booking horizon ({horizon})")


# Rule 8 across DST changes.


def _opening_slots(host: Host, event_type: EventType, first: date, last: date) -> list[Slot]:
    """The first slot of each of the host's windows on local days first..last."""
    out = []
    day = first
    while day <= last:
        for start, end in slots.windows_on(host, day):
            if start + event_type.duration <= end:
                out.append(Slot(start, start + event_type.duration))
        day += timedelta(days=1)
    return out


def _offset_change(host: Host, change: datetime) -> timedelta:
    before = (change - timedelta(hours=2)).astimezone(host.timezone).utcoffset()
    after = (change + timedelta(hours=2)).astimezone(host.timezone).utcoffset()
    assert before is not None and after is not None
    return after - before


def _dst_case(contract: Suite, direction: str) -> tuple[EventType, Host, datetime, bool]:
    """An event type, its host, the next change of that direction, and whether to pin."""
    now = slots.now()
    candidates = []
    for event_type in contract.profile.event_types():
        if event_type.captcha or event_type.booking_horizon < DST_LEAD + timedelta(days=8):
            continue
        host = contract.profile.host_of(event_type)
        for change in slots.dst_changes(host, now, now + DST_SEARCH):
            if (_offset_change(host, change) > timedelta(0)) == (direction == "forward"):
                earliest, latest = slots.bookable_bounds(event_type, now)
                reachable = earliest + timedelta(days=1) <= change <= latest - timedelta(days=8)
                candidates.append((not reachable, change, event_type, host))
                break
    case = f"rule 8: the DST change {direction} (the clocks go {direction})"
    if not candidates:
        contract.not_reachable(case, "no host of the profile changes its UTC offset that way")
        pytest.skip(f"no host of the profile has a DST change {direction}")
    must_pin, change, event_type, host = min(candidates, key=lambda c: (c[0], c[1]))
    return event_type, host, change, must_pin


@pytest.mark.parametrize("direction", ["forward", "back"])
def test_rule_8_dst_change_is_handled(contract: Suite, direction: str) -> None:
    """Across a DST change, the availability stays at the same local hours."""
    event_type, host, change, must_pin = _dst_case(contract, direction)
    case = f"rule 8: the DST change {direction} (the clocks go {direction})"
    with contextlib.ExitStack() as stack:
        if must_pin:
            stack.enter_context(pinned(contract, change - DST_LEAD, case))
        _check_dst(contract, event_type, host, change)


def _check_dst(contract: Suite, event_type: EventType, host: Host, change: datetime) -> None:
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    shift = abs(_offset_change(host, change))
    change_day = slots.local_day(host, change)
    sides = {
        "before": (
            max(slots.local_day(host, earliest), change_day - timedelta(days=7)),
            change_day - timedelta(days=1),
        ),
        "after": (change_day + timedelta(days=1), change_day + timedelta(days=7)),
    }
    checked = []
    for side, (first, last) in sides.items():
        for slot in _opening_slots(host, event_type, first, last):
            on_side = slot.end <= change if side == "before" else slot.start >= change
            early = slot.shifted(-shift)
            if (
                not on_side
                or not earliest <= early.start <= slot.start <= latest
                or not contract.ledger.is_free(event_type, slot)
                or slots.is_available(host, early)
            ):
                continue
            # The window's first slot books at this side's offset; the same wall-clock
            # hour under the other offset lies before opening and is refused.
            refused = post_slot(contract, event_type, early)
            booked = post_slot(contract, event_type, slot)
            if booked.is_slot_taken:
                contract.ledger.found_taken(event_type, slot, f", {side} the DST change")
                continue  # someone else's booking on a shared target: try the next day
            contract.ledger.mark_busy(event_type, slot)
            assert booked.status == 201, (
                f"{slot}, when {host.slug}'s day opens {side} the DST change of {change},"
                f" was refused"
            )
            assert refused.status != 201, (
                f"{early}, {shift} before {host.slug}'s day opens {side} the DST change, was booked"
            )
            assert_error(refused, 400, message=SLOT_TAKEN)
            checked.append(side)
            break
    if "after" not in checked:
        assert not contract.ledger.dedicated, f"no opening slot after {change} could be checked"
        pytest.skip(f"every opening slot after the DST change of {change} was taken")
