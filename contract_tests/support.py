"""What the behaviour tests share: choosing event types from the profile, and judging answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import jsonschema
import pytest

from . import spec
from .profile import EventType, Profile
from .target import SLOT_TAKEN, Exchange

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
