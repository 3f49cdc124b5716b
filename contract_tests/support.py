"""What the behaviour tests share: choosing event types from the profile, and judging answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import jsonschema
import pytest

from . import slots, spec
from .bodies import booking_body
from .profile import EventType, Host, Profile
from .slots import SLOT_TAKEN, Slot
from .suite import Suite
from .target import ContractViolation, Exchange

BOOKING_ID = re.compile(r"bkg_[A-Za-z0-9]{12,}")
UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def pick(profile: Profile, wanted: Callable[[EventType], bool], what: str) -> EventType:
    """The first event type of the profile that is `what`; skips the test when there is none."""
    for event_type in profile.event_types():
        if wanted(event_type):
            return event_type
    pytest.skip(f"the profile has no event type that {what}")


def plain(profile: Profile) -> EventType:
    """An event type with no CAPTCHA and no approval: the simplest to book."""
    return pick(
        profile,
        lambda e: not e.captcha and not e.requires_approval,
        "needs neither CAPTCHA nor approval",
    )


def captcha_type(profile: Profile) -> EventType:
    """An event type with CAPTCHA enabled."""
    return pick(profile, lambda e: e.captcha, "has CAPTCHA enabled")


def approval_type(profile: Profile) -> EventType:
    """An event type the host approves by hand."""
    return pick(profile, lambda e: e.requires_approval, "requires approval")


def required_field_type(profile: Profile) -> EventType:
    """An event type with at least one required custom field."""
    return pick(profile, lambda e: bool(e.required_fields), "has a required custom field")


def assert_error(
    exchange: Exchange, status: int | Iterable[int], *, message: str | None = None
) -> None:
    """An error answer of the given status, in the documented {"error": ...} JSON shape."""
    statuses = {status} if isinstance(status, int) else set(status)
    assert exchange.status in statuses, (
        f"expected {' or '.join(map(str, sorted(statuses)))}, got {exchange.status}"
    )
    assert_error_shape(exchange)
    if message is not None:
        assert exchange.error == message, f"expected the message {message!r}"


def assert_error_shape(exchange: Exchange) -> None:
    assert exchange.media_type == "application/json", (
        f"an error must be application/json, not {exchange.headers.get('content-type')!r}"
    )
    body = exchange.json()
    assert isinstance(body, dict), "an error body must be a JSON object"
    assert isinstance(body.get("error"), str) and body["error"].strip(), (
        'an error body must have a non-empty "error" string'
    )


def assert_refused_before_availability(exchange: Exchange, why: str) -> None:
    """A 400 from a rule that comes before rule 8: its message is not rule 8's."""
    assert exchange.status != 201, f"{why}, but the target booked it"
    assert_error(exchange, 400)
    assert exchange.error != SLOT_TAKEN, (
        f"{why}; rule 8's 'slot no longer available' answers only after that check passed"
    )


def booking_schema_errors(booking: Any) -> list[str]:
    """What is wrong with a 201 body, measured against the document's Booking schema."""
    validator = jsonschema.Draft4Validator(
        spec.component("Booking"), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(booking)
    ]


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Slots and bookings the scenarios share.


def body_for(profile: Profile, event_type: EventType, **changes: Any) -> Any:
    """A body maker for Target.book_free_slot."""
    return lambda slot: booking_body(profile, event_type, slot, **changes)


def post_slot(contract: Suite, event_type: EventType, slot: Slot) -> Exchange:
    """A valid booking request for `slot`, sent as it is (no retry on another slot)."""
    body = booking_body(contract.profile, event_type, slot)
    return contract.target.post_booking(event_type, body)


def free_slot(contract: Suite, event_type: EventType) -> Slot:
    """The nearest slot not known to be busy; for requests that must be refused anyway."""
    host = contract.profile.host_of(event_type)
    return next(contract.ledger.free_slots(host, event_type))


def book(contract: Suite, event_type: EventType, **changes: Any) -> tuple[Slot, Exchange]:
    """Book the nearest free slot with a valid body plus changes; the booking must succeed."""
    slot, exchange = contract.target.book_free_slot(
        event_type, body_for(contract.profile, event_type, **changes)
    )
    assert exchange.status == 201, f"a valid booking of the free slot {slot} was refused"
    return slot, exchange


def refuse_each_until_free(
    contract: Suite, event_type: EventType, make_body: Any, why: str
) -> Exchange:
    """Send make_body(slot) for free slots until the answer is not "slot taken" (rule 8 first)."""
    host = contract.profile.host_of(event_type)
    for slot in contract.ledger.free_slots(host, event_type):
        exchange = contract.target.post_booking(event_type, make_body(slot))
        if not exchange.is_slot_taken:
            return exchange
        contract.ledger.found_taken(event_type, slot)
    raise ContractViolation(f"no free slot of {event_type.label} left to show that {why}")


def windows_ahead(host: Host, event_type: EventType) -> list[tuple[datetime, datetime]]:
    """The host's availability windows with room for a slot on either side inside the bounds."""
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    day = slots.local_day(host, earliest)
    out = []
    while day <= slots.local_day(host, latest):
        out += [w for w in slots.windows_on(host, day) if earliest <= w[0] - event_type.duration]
        day += timedelta(days=1)
    return [w for w in out if w[1] + event_type.duration <= latest]


def bookable_instant(event_type: EventType, slot: Slot) -> bool:
    earliest, latest = slots.bookable_bounds(event_type, slots.now())
    return earliest <= slot.start <= latest


def overlapping_slot(
    contract: Suite, booked: EventType, slot: Slot, other: EventType
) -> Slot | None:
    """A grid slot of `other` inside the availability that overlaps `slot` of `booked`."""
    host = contract.profile.host_of(other)
    busy_start, busy_end = slots.occupied(booked, slot)
    day = slots.local_day(host, slot.start)
    for candidate in slots.grid(host, other, day - timedelta(days=1), day + timedelta(days=1)):
        start, end = slots.occupied(other, candidate)
        if start < busy_end and busy_start < end and bookable_instant(other, candidate):
            return candidate
    return None
