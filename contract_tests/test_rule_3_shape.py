"""Rule 3: the request's shape. A malformed request is 400 (or 413/415) and books nothing;
RFC 3339 times with fractional seconds or an offset book and come back in UTC.

Hostile input and the accepted length of each field, also rule 3, live in
test_robustness.py and test_field_limits.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from . import spec
from .bodies import OMIT, booking_body
from .profile import Host
from .slots import Slot, utc_text
from .suite import Suite
from .support import (
    assert_error,
    assert_refused_before_availability,
    body_for,
    free_slot,
    plain,
)


def required_fields() -> list[str]:
    return list(spec.load_spec()["components"]["schemas"]["BookingRequest"]["required"])


def test_rule_3_missing_required_field_is_400(contract: Suite) -> None:
    """A body without any one of the required fields is 400, and books nothing."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    answers = {}
    for name in required_fields():
        body = booking_body(contract.profile, event_type, slot, **{name: OMIT})
        answers[name] = contract.target.post_booking(event_type, body)
    wrong = {name: e.status for name, e in answers.items() if e.status != 400}
    assert not wrong, f"a body without these required fields was not refused with 400: {wrong}"
    for exchange in answers.values():
        assert_error(exchange, 400)


def test_rule_3_body_that_is_not_json_is_400(contract: Suite) -> None:
    """A body that does not parse as JSON is 400."""
    event_type = plain(contract.profile)
    exchange = contract.target.post_booking(
        event_type, content=b'{"startTime": ', headers={"Content-Type": "application/json"}
    )
    assert_error(exchange, 400)


def test_rule_3_body_that_is_not_an_object_is_400(contract: Suite) -> None:
    """A JSON body that is not an object is 400."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, [body])
    assert_error(exchange, 400)


def test_rule_3_body_that_is_not_application_json_is_415(contract: Suite) -> None:
    """A body sent as another media type than application/json is 415."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(
        event_type, content=repr(body).encode(), headers={"Content-Type": "text/plain"}
    )
    assert_error(exchange, 415)


def test_rule_3_body_over_64_kib_is_413(contract: Suite) -> None:
    """A body larger than 64 KiB is 413."""
    event_type = plain(contract.profile)
    body = booking_body(
        contract.profile, event_type, free_slot(contract, event_type), inviteeNotes="x" * 70_000
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_error(exchange, 413)


def test_rule_3_chunked_body_over_64_kib_is_413(contract: Suite) -> None:
    """The 64 KiB cap holds for a body sent in chunks with no Content-Length, too."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    body = booking_body(contract.profile, event_type, slot, inviteeNotes="x" * 70_000)
    content = json.dumps(body).encode()
    exchange = contract.target.post_booking(
        event_type, content=content, headers={"Content-Type": "application/json"}, chunked=True
    )
    if exchange.status == 201:
        contract.ledger.mark_busy(event_type, slot)
    assert_error(exchange, 413)


def test_rule_3_fractional_seconds_are_accepted_and_normalised(contract: Suite) -> None:
    """Times as Date.toISOString() sends them (.000Z) book, and come back as ...:SSZ."""
    event_type = plain(contract.profile)

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(
            contract.profile,
            event_type,
            slot,
            startTime=slot.start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            endTime=slot.end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )

    slot, exchange = contract.target.book_free_slot(event_type, make)
    assert exchange.status == 201, "a booking with fractional-second times was refused"
    booking = exchange.json()
    assert (booking["startTime"], booking["endTime"]) == (utc_text(slot.start), utc_text(slot.end))


def _offset_text(instant: datetime, host: Host) -> str:
    offset = instant.astimezone(host.timezone).utcoffset() or timedelta(0)
    if not offset:
        offset = timedelta(hours=2)  # a UTC host: any other offset names the same instant
    return instant.astimezone(timezone(offset)).isoformat()


def test_rule_3_offset_times_are_accepted_and_normalised_to_utc(contract: Suite) -> None:
    """Times with an explicit offset (...T10:00:00-04:00) book, and come back in UTC."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(
            contract.profile,
            event_type,
            slot,
            startTime=_offset_text(slot.start, host),
            endTime=_offset_text(slot.end, host),
        )

    slot, exchange = contract.target.book_free_slot(event_type, make)
    assert exchange.status == 201, "a booking with offset times was refused"
    booking = exchange.json()
    assert (booking["startTime"], booking["endTime"]) == (utc_text(slot.start), utc_text(slot.end))


def test_rule_3_time_without_offset_is_rejected(contract: Suite) -> None:
    """A time without an offset (2026-03-16T14:00:00) is 400, never guessed."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    body = booking_body(
        contract.profile,
        event_type,
        slot,
        startTime=slot.start.strftime("%Y-%m-%dT%H:%M:%S"),
        endTime=slot.end.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    exchange = contract.target.post_booking(event_type, body)
    # Rule 3 answers before rule 8: a naive time read in some zone must not reach availability.
    assert_refused_before_availability(exchange, "a time without an offset is not RFC 3339")


def test_rule_3_unknown_top_level_fields_are_ignored(contract: Suite) -> None:
    """Fields the API does not define are ignored (forward compatibility), not refused."""
    event_type = plain(contract.profile)
    _, exchange = contract.target.book_free_slot(
        event_type,
        body_for(contract.profile, event_type, referrer="newsletter", utm={"campaign": "spring"}),
    )
    assert exchange.status == 201, "a body with fields the API does not define was refused"
