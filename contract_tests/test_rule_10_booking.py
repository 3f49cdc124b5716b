"""Rule 10: the booking. The 201 body is the documented Booking: the request's slot and
invitee in UTC, a status, a location from the event type, a unique id, the server's now.

Its atomicity under concurrent requests lives in test_rule_10_atomicity.py.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from . import slots
from .bodies import OMIT
from .profile import EventType, Profile
from .slots import utc_text
from .suite import Suite
from .support import (
    BOOKING_ID,
    approval_type,
    book,
    booking_schema_errors,
    parse_utc,
    plain,
)


def expected_location(profile: Profile, event_type: EventType) -> tuple[str, str | None]:
    """The location type, and its value when the profile fixes it."""
    kind = event_type.location.type
    if kind == "Phone":
        return kind, profile.host_of(event_type).phone
    if kind == "InPerson":
        return kind, event_type.location.address
    return kind, None


# PRODUCT says "a generated meeting URL": an absolute web address; which host serves it
# (meet.google.com, zoom.us, zoom.com, a company's own) is the target's business.
MEETING_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(/\S*)?")


def test_rule_10_booking_echoes_and_normalises_the_request(contract: Suite) -> None:
    """The 201 body is the documented Booking: the request's slot and invitee, in UTC."""
    event_type = plain(contract.profile)
    before = slots.now()
    slot, exchange = book(contract, event_type)
    after = slots.now()
    assert exchange.media_type == "application/json"
    booking = exchange.json()
    errors = booking_schema_errors(booking)
    assert not errors, "the 201 body is not the document's Booking: " + "; ".join(errors)
    sent = json.loads(exchange.request_body or b"{}")
    assert BOOKING_ID.fullmatch(booking["id"]), f"id {booking['id']!r} is not bkg_ + 12 or more"
    assert booking["eventTypeId"] == event_type.id
    assert booking["status"] == "Confirmed"
    assert booking["startTime"] == utc_text(slot.start)
    assert booking["endTime"] == utc_text(slot.end)
    # Extra invitee fields (a locale, say) are the target's to add; these four are decided.
    invitee = booking["invitee"]
    assert {key: invitee.get(key) for key in ("name", "email", "phone", "timezone")} == {
        "name": sent["inviteeName"],
        "email": sent["inviteeEmail"],
        "phone": sent["inviteePhone"],
        "timezone": sent["inviteeTimezone"],
    }
    created = parse_utc(booking["createdAt"])
    # The target's clock may run a little apart from this machine's.
    assert before - timedelta(minutes=5) <= created <= after + timedelta(minutes=5), (
        f"createdAt {booking['createdAt']} is not the server's now ({utc_text(before)})"
    )


def test_rule_10_location_comes_from_the_event_type(contract: Suite) -> None:
    """A meeting URL for GoogleMeet/Zoom, the host's phone for Phone, the address for InPerson."""
    for event_type in contract.profile.event_types():
        _, exchange = book(contract, event_type)
        location = exchange.json().get("location")
        kind, value = expected_location(contract.profile, event_type)
        assert isinstance(location, dict) and location.get("type") == kind, (
            f"{event_type.label}: location {location!r}, expected type {kind}"
        )
        if value is not None:
            assert location.get("value") == value, f"{event_type.label}: location {location!r}"
        else:
            assert MEETING_URL.fullmatch(str(location.get("value"))), (
                f"{event_type.label}: {location.get('value')!r} is not a {kind} meeting URL"
            )


def test_rule_10_approval_event_type_is_pending_approval(contract: Suite) -> None:
    """An event type the host approves by hand books with status PendingApproval."""
    event_type = approval_type(contract.profile)
    _, exchange = book(contract, event_type)
    assert exchange.json().get("status") == "PendingApproval"


def test_rule_10_phone_is_absent_when_not_sent(contract: Suite) -> None:
    """invitee.phone is present only when the request sent inviteePhone."""
    _, exchange = book(contract, plain(contract.profile), inviteePhone=OMIT)
    assert "phone" not in exchange.json().get("invitee", {})


def test_rule_10_booking_ids_are_unique(contract: Suite) -> None:
    """Every booking gets its own id, bkg_ and at least 12 letters and digits."""
    event_type = plain(contract.profile)
    for _ in range(3):
        book(contract, event_type)
    ids = contract.ledger.booking_ids
    assert all(BOOKING_ID.fullmatch(i) for i in ids), ids
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, f"ids given to two bookings: {repeated}"
