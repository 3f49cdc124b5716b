"""Behaviour scenarios: one test per claim of PRODUCT.md's rules 2 to 6, 9 and 10, over HTTP.

Rules 7 and 8 (time bounds, availability, overlap) live in test_time_rules.py and
test_availability.py. Slots come from the profile and the clock: the nearest
bookable ones for what must succeed, deliberately wrong ones for what must fail.
A slot the target refuses as taken that the run never booked is a failure on a
dedicated target (the slot ledger knows every booking there) and is skipped, and
counted, on a shared one.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from . import slots, spec
from .bodies import OMIT, booking_body
from .profile import EventType, Host, Profile
from .slots import Slot, utc_text
from .suite import Suite
from .support import (
    BOOKING_ID,
    assert_error,
    assert_refused_before_availability,
    body_for,
    book,
    booking_schema_errors,
    free_slot,
    overlapping_slot,
    parse_utc,
    pick,
    plain,
    refuse_each_until_free,
    windows_ahead,
)
from .target import SLOT_TAKEN, ContractViolation

# Rule 2: 404s, before any validation.


def test_rule_2_unknown_user_is_404(contract: Suite) -> None:
    """A request for a user the target does not know is 404, even with a bookable slot."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, body, host_slug="no-such-user-contract")
    assert_error(exchange, 404)


def test_rule_2_unknown_event_type_is_404(contract: Suite) -> None:
    """A request for an event type the user does not have is 404."""
    event_type = plain(contract.profile)
    body = booking_body(contract.profile, event_type, free_slot(contract, event_type))
    exchange = contract.target.post_booking(event_type, body, event_slug="no-such-event-contract")
    assert_error(exchange, 404)


def test_rule_2_event_type_of_another_host_is_404(contract: Suite) -> None:
    """An event type that exists, but under another host, is 404 for this host."""
    for host in contract.profile.hosts:
        own = {e.slug for e in host.event_types}
        for other in contract.profile.event_types():
            if other.host_slug != host.slug and other.slug not in own:
                body = booking_body(contract.profile, other, free_slot(contract, other))
                exchange = contract.target.post_booking(other, body, host_slug=host.slug)
                assert_error(exchange, 404)
                return
    pytest.skip("the profile has no two hosts with event types of different slugs")


@pytest.mark.parametrize(
    ("content", "media_type"),
    [(b"{not json", "application/json"), (b"startTime=soon", "text/plain")],
    ids=["body-not-json", "not-application-json"],
)
@pytest.mark.parametrize("unknown", ["user", "event type"])
def test_rule_2_404_comes_before_validation(
    contract: Suite, unknown: str, content: bytes, media_type: str
) -> None:
    """An unknown user or event type is 404 even when the body is malformed."""
    event_type = plain(contract.profile)
    names = (
        {"host_slug": "no-such-user-contract"}
        if unknown == "user"
        else {"event_slug": "no-such-event-contract"}
    )
    exchange = contract.target.post_booking(
        event_type, content=content, headers={"Content-Type": media_type}, **names
    )
    assert_error(exchange, 404)


# Rule 3: the request's shape.


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


# Rule 4: honeypot.


def test_rule_4_filled_honeypot_is_refused_and_stores_nothing(contract: Suite) -> None:
    """A non-empty honeypotValue gets a generic 400, and the slot stays free."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    for attempt, slot in enumerate(contract.ledger.free_slots(host, event_type)):
        refused = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot, honeypotValue="I am a bot")
        )
        assert refused.status != 201, "a request with a filled honeypot was booked"
        assert_error(refused, 400)
        assert "honeypot" not in (refused.error or "").lower(), (
            "the refusal names the honeypot: a bot learns what to leave empty"
        )
        again = contract.target.post_booking(
            event_type, booking_body(contract.profile, event_type, slot)
        )
        if again.status == 201:
            contract.ledger.mark_busy(event_type, slot)
            return
        assert again.is_slot_taken, "a valid booking of a free slot was refused"
        if contract.ledger.dedicated:
            contract.ledger.mark_busy(event_type, slot)
        assert not contract.ledger.dedicated, (
            f"{slot} was taken right after a refused honeypot request for it, and nothing"
            f" else books on this target: the honeypot request was stored"
        )
        contract.ledger.found_taken(event_type, slot)
        # Taken by someone else, or by the honeypot request: only a run of them tells.
        assert attempt < 3, (
            "4 slots in a row were taken right after a refused honeypot request for them:"
            " the honeypot requests were stored"
        )
    raise ContractViolation(f"no free slot of {event_type.label} left")


# Rule 5: CAPTCHA.


def captcha_type(profile: Profile) -> EventType:
    return pick(profile, lambda e: e.captcha, "has CAPTCHA enabled")


@pytest.mark.parametrize("token", [OMIT, ""], ids=["absent", "empty"])
def test_rule_5_missing_captcha_token_is_refused(contract: Suite, token: object) -> None:
    """On a CAPTCHA event type, a missing or empty captchaToken is 400."""
    event_type = captcha_type(contract.profile)
    body = booking_body(
        contract.profile, event_type, free_slot(contract, event_type), captchaToken=token
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "a CAPTCHA event type needs a token")


def test_rule_5_refused_captcha_token_is_rejected(contract: Suite) -> None:
    """On a CAPTCHA event type, a token the verifier refuses is 400."""
    event_type = captcha_type(contract.profile)
    assert contract.profile.captcha is not None
    body = booking_body(
        contract.profile,
        event_type,
        free_slot(contract, event_type),
        captchaToken=contract.profile.captcha.failing_token,
    )
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, "the verifier refuses this token")


def test_rule_5_passing_captcha_token_books(contract: Suite) -> None:
    """On a CAPTCHA event type, a token the verifier accepts books the slot."""
    book(contract, captcha_type(contract.profile))


def test_rule_5_captcha_comes_before_duration(contract: Suite) -> None:
    """A missing token answers first, even when the duration is wrong too."""
    event_type = captcha_type(contract.profile)
    slot = free_slot(contract, event_type)
    alone = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, captchaToken=OMIT)
    )
    both = contract.target.post_booking(
        event_type,
        booking_body(
            contract.profile,
            event_type,
            slot,
            captchaToken=OMIT,
            endTime=utc_text(slot.end + event_type.slot_interval),
        ),
    )
    again = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, captchaToken=OMIT)
    )
    longer = utc_text(slot.end + event_type.slot_interval)
    duration_only = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, endTime=longer)
    )
    for exchange in (alone, both, again, duration_only):
        assert_error(exchange, 400)
    # Only the messages tell which rule answered; the wording is the target's own.
    if alone.error != again.error:
        pytest.skip("the target words the same refusal differently each time: order unobservable")
    if alone.error == duration_only.error:
        pytest.skip("the target gives one message for both refusals: order unobservable")
    assert both.error == alone.error, "the wrong duration answered before the missing token"


# Rule 6: duration.


@pytest.mark.parametrize("change", ["longer", "shorter", "empty", "reversed"])
def test_rule_6_wrong_duration_is_refused(contract: Suite, change: str) -> None:
    """endTime - startTime must be exactly the event type's duration, endTime after startTime."""
    event_type = plain(contract.profile)
    slot = free_slot(contract, event_type)
    end = {
        "longer": slot.end + event_type.slot_interval,
        "shorter": slot.end - timedelta(minutes=1),
        "empty": slot.start,
        "reversed": slot.start - event_type.duration,
    }[change]
    body = booking_body(contract.profile, event_type, slot, endTime=utc_text(end))
    exchange = contract.target.post_booking(event_type, body)
    assert_refused_before_availability(exchange, f"a slot {change} than the event type's duration")


# Rule 9: custom fields.


def required_field_type(profile: Profile) -> EventType:
    return pick(profile, lambda e: bool(e.required_fields), "has a required custom field")


@pytest.mark.parametrize("answer", ["absent", "empty", "null"])
def test_rule_9_missing_required_custom_field_is_refused(contract: Suite, answer: str) -> None:
    """A required custom field missing or empty is 400."""
    event_type = required_field_type(contract.profile)
    key = event_type.required_fields[0]
    answers: dict[str, Any] = {"absent": {}, "empty": {key: ""}, "null": {key: None}}[answer]
    answers.update({k: "Acme" for k in event_type.required_fields[1:]})
    exchange = refuse_each_until_free(
        contract,
        event_type,
        body_for(contract.profile, event_type, customFields=answers),
        f"an {answer} required field is refused",
    )
    assert exchange.status != 201, f"a booking with the required field {key!r} {answer} was made"
    assert_error(exchange, 400)


def test_rule_9_blank_required_custom_field_is_refused_or_accepted(contract: Suite) -> None:
    """An answer of only white space: PRODUCT leaves it open, refused as empty or accepted.

    Either way the answer is the contract's: a 400 of rule 9 (not "slot taken") or a 201.
    """
    event_type = required_field_type(contract.profile)
    answers = {k: "Acme" for k in event_type.required_fields}
    answers[event_type.required_fields[0]] = "   "

    def make(slot: Slot) -> dict[str, Any]:
        return booking_body(contract.profile, event_type, slot, customFields=answers)

    _, exchange = contract.target.book_free_slot(event_type, make)
    if exchange.status != 201:
        assert_refused_before_availability(exchange, "a blank answer is refused")


def test_rule_9_undefined_custom_field_keys_are_ignored(contract: Suite) -> None:
    """Custom field keys the event type does not define are accepted and ignored."""
    event_type = plain(contract.profile)
    answers = {key: "Acme" for key in event_type.required_fields}
    answers["favouriteColourContract"] = "teal"
    book(contract, event_type, customFields=answers)


def test_rule_9_availability_comes_before_custom_fields(contract: Suite) -> None:
    """An unavailable slot is 'no longer available', even when a required field is missing."""
    event_type = required_field_type(contract.profile)
    host = contract.profile.host_of(event_type)
    before_opening = [
        Slot(start - event_type.duration, start) for start, _ in windows_ahead(host, event_type)
    ]
    slot = next((s for s in before_opening if not slots.is_available(host, s)), None)
    if slot is None:
        pytest.skip(f"{host.slug} has no opening time with unavailable time before it")
    exchange = contract.target.post_booking(
        event_type, booking_body(contract.profile, event_type, slot, customFields={})
    )
    assert_error(exchange, 400, message=SLOT_TAKEN)


def test_rule_9_taken_slot_comes_before_custom_fields(contract: Suite) -> None:
    """A slot overlapping a booking is 'no longer available', even when a required field is
    missing: all of rule 8, the overlap included, answers before rule 9."""
    event_type = required_field_type(contract.profile)
    host = contract.profile.host_of(event_type)
    others = [e for e in host.event_types if not e.captcha] or [event_type]
    for other in sorted(others, key=lambda e: e is event_type):
        for _ in range(3):
            slot, _ = book(contract, other)
            overlapping = overlapping_slot(contract, other, slot, event_type)
            if overlapping is None:
                continue
            exchange = contract.target.post_booking(
                event_type, booking_body(contract.profile, event_type, overlapping, customFields={})
            )
            assert exchange.status != 201, f"{overlapping} was booked over {slot}"
            assert_error(exchange, 400, message=SLOT_TAKEN)
            return
    pytest.skip(f"no grid slot of {event_type.label} overlaps another booking of its host")


# Rule 10: the booking.


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
    event_type = pick(contract.profile, lambda e: e.requires_approval, "requires approval")
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
