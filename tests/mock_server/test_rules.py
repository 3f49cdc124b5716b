"""The reference behaviour, rule by rule (PRODUCT.md "Behaviour of the reference implementation").

Every test talks HTTP to a real server whose clock is frozen at 2026-03-13T10:30:00Z,
a Friday; Monday 2026-03-16 is the first bookable weekday.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import PINNED

BOOK = "/api/public/scheduling/{user}/{event}/book"


SLOT_TAKEN = "The selected time slot is no longer available."


def body(**overrides: Any) -> dict[str, Any]:
    """The API document's example request, with overrides (None removes a field)."""
    request = {
        "startTime": "2026-03-16T14:00:00Z",
        "endTime": "2026-03-16T14:30:00Z",
        "inviteeName": "Alex Johnson",
        "inviteeEmail": "alex@example.com",
        "inviteePhone": "+1-555-0123",
        "inviteeTimezone": "America/New_York",
        "inviteeLocale": "en",
        "customFields": {"company": "Acme Inc."},
        "inviteeNotes": "Looking forward to discussing the project.",
        "source": "BookingPage",
        "honeypotValue": "",
    }
    request.update(overrides)
    return {k: v for k, v in request.items() if v is not None}


def book(
    client: httpx.Client, user: str = "jane-doe", event: str = "30min-call", **overrides: Any
) -> httpx.Response:
    return client.post(BOOK.format(user=user, event=event), json=body(**overrides))


def assert_error(response: httpx.Response, status: int, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error, str) and error
    if message is not None:
        assert error == message


# Rule 1: the rate limit comes first.


def test_rule_1_rate_limit_answers_before_404_and_validation(shared_server):
    base = shared_server(rate_limit="3/minute")
    with httpx.Client(base_url=base) as client:
        for _ in range(3):
            client.post(BOOK.format(user="nobody", event="x"), content=b"not json")
        over = client.post(BOOK.format(user="nobody", event="x"), content=b"not json")
    assert_error(over, 429)
    assert int(over.headers["Retry-After"]) >= 1


# Rule 2: 404s, before any validation.


def test_rule_2_unknown_user_is_404_before_validation(client):
    response = client.post(BOOK.format(user="nobody", event="30min-call"), content=b"{")
    assert_error(response, 404, "User not found.")


def test_rule_2_unknown_event_type_is_404(client):
    assert_error(book(client, event="no-such-event"), 404, "Event type not found.")


def test_rule_2_event_type_of_another_user_is_404(client):
    assert_error(book(client, user="john-smith", event="30min-call"), 404, "Event type not found.")


# Rule 3: the request's shape.


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("inviteeEmail", "not-an-email"),
        ("inviteeEmail", "two@@example.com"),
        ("inviteeEmail", "alex@localhost"),
        ("inviteeEmail", "alex @example.com"),
        ("inviteeEmail", "a" * 250 + "@example.com"),
        ("inviteeTimezone", "Mars/Olympus_Mons"),
        ("inviteeTimezone", "x" * 65),
        ("inviteeLocale", "english"),
        ("inviteeLocale", "en_US"),
        ("inviteePhone", "12"),
        ("inviteePhone", "call me"),
        ("inviteePhone", "+1-555"),
        ("inviteeName", "   "),
        ("inviteeName", ""),
        ("inviteeName", "x" * 201),
        ("inviteeNotes", "x" * 5001),
        ("source", "Fax"),
        ("customFields", ["company"]),
        ("customFields", {"company": 42}),
        ("customFields", {"company": "x" * 1001}),
        ("customFields", {f"k{i}": "v" for i in range(51)}),
        ("customFields", {"k" * 101: "v"}),
        ("honeypotValue", "x" * 1001),
        ("captchaToken", "x" * 4097),
        ("startTime", "2026-03-16T14:00:00"),
        ("startTime", "2026-02-30T14:00:00Z"),
        ("startTime", "next monday"),
        ("startTime", 1773669600),
    ],
)
def test_rule_3_malformed_field_is_400_with_details(client, field, value):
    response = book(client, **{field: value})
    assert_error(response, 400)
    details = response.json()["details"]
    assert any(d["field"].split(".")[0] == field for d in details), details


@pytest.mark.parametrize(
    "field", ["startTime", "endTime", "inviteeName", "inviteeEmail", "inviteeTimezone"]
)
def test_rule_3_missing_required_field_is_400(client, field):
    response = book(client, **{field: None})
    assert_error(response, 400)
    assert {"field": field, "message": "This field is required."} in response.json()["details"]


def test_rule_3_body_that_is_not_an_object_is_400(client):
    response = client.post(BOOK.format(user="jane-doe", event="30min-call"), json=["a"])
    assert_error(response, 400, "The request body must be a JSON object.")


def test_rule_3_fractional_seconds_are_accepted_and_normalised(client):
    response = book(
        client, startTime="2026-03-16T14:00:00.000Z", endTime="2026-03-16T14:30:00.000Z"
    )
    assert response.status_code == 201, response.text
    assert response.json()["startTime"] == "2026-03-16T14:00:00Z"
    assert response.json()["endTime"] == "2026-03-16T14:30:00Z"


def test_rule_3_offset_times_are_accepted_and_normalised_to_utc(client):
    response = book(
        client, startTime="2026-03-16T10:00:00-04:00", endTime="2026-03-16T10:30:00-04:00"
    )
    assert response.status_code == 201, response.text
    assert response.json()["startTime"] == "2026-03-16T14:00:00Z"


def test_rule_3_time_without_offset_is_rejected(client):
    response = book(client, startTime="2026-03-16T14:00:00", endTime="2026-03-16T14:30:00")
    assert_error(response, 400)
    assert {d["field"] for d in response.json()["details"]} == {"startTime", "endTime"}


def test_rule_3_unknown_top_level_fields_are_ignored(client):
    response = book(client, referrer="newsletter", utm={"campaign": "spring"})
    assert response.status_code == 201, response.text


# Rule 4: honeypot.


def test_rule_4_filled_honeypot_is_refused_and_stores_nothing(client):
    refused = book(client, honeypotValue="I am a bot")
    assert_error(refused, 400)
    assert "honeypot" not in refused.text.lower()
    # The same slot is still free: nothing was stored.
    assert book(client).status_code == 201


# Rule 5: CAPTCHA.


def captcha_body(**overrides: Any) -> dict[str, Any]:
    return {
        "startTime": "2026-03-16T14:00:00Z",
        "endTime": "2026-03-16T14:15:00Z",
        "customFields": None,
        **overrides,
    }


@pytest.mark.parametrize("token", [None, ""])
def test_rule_5_captcha_event_type_needs_a_token(client, token):
    response = book(client, event="15min-captcha", **captcha_body(captchaToken=token))
    assert_error(response, 400, "A CAPTCHA token is required for this event type.")


def test_rule_5_token_the_verifier_refuses_is_rejected(client):
    response = book(client, event="15min-captcha", **captcha_body(captchaToken="invalid-token"))
    assert_error(response, 400, "The CAPTCHA token was rejected.")


def test_rule_5_turnstile_development_token_passes(client):
    response = book(
        client, event="15min-captcha", **captcha_body(captchaToken="XXXX.DUMMY.TOKEN.XXXX")
    )
    assert response.status_code == 201, response.text
    assert response.json()["location"] == {"type": "Phone", "value": "+1-555-0100"}


def test_rule_5_captcha_comes_before_duration(client):
    response = book(client, event="15min-captcha", **captcha_body(endTime="2026-03-16T15:00:00Z"))
    assert_error(response, 400, "A CAPTCHA token is required for this event type.")


# Rule 6: duration.


def test_rule_6_duration_must_match_the_event_type(client):
    response = book(client, endTime="2026-03-16T15:00:00Z")
    assert_error(response, 400, "The slot must last exactly 30 minutes.")


def test_rule_6_end_before_start_is_refused(client):
    response = book(client, endTime="2026-03-16T13:30:00Z")
    assert_error(response, 400, "endTime must be after startTime.")


# Rule 7: time bounds (now is 2026-03-13T10:30:00Z, notice 60 min, horizon 60 days).


def test_rule_7_start_inside_minimum_notice_is_refused(shared_server):
    # A Monday 09:00 New York slot, 30 minutes away.
    base = shared_server(rate_limit="100/minute", clock=datetime.fromisoformat("2026-03-16T12:30Z"))
    with httpx.Client(base_url=base) as client:
        response = book(client, startTime="2026-03-16T13:00:00Z", endTime="2026-03-16T13:30:00Z")
    assert_error(response, 400, "The slot must start at least 60 minutes from now.")


def test_rule_7_start_in_the_past_is_refused(client):
    response = book(client, startTime="2026-03-12T14:00:00Z", endTime="2026-03-12T14:30:00Z")
    assert_error(response, 400)
    assert response.json()["error"] != SLOT_TAKEN


def test_rule_7_start_beyond_the_horizon_is_refused(client):
    # Monday 2026-05-18 is 66 days after now.
    response = book(client, startTime="2026-05-18T14:00:00Z", endTime="2026-05-18T14:30:00Z")
    assert_error(response, 400, "The slot must start within 60 days from now.")


def test_rule_7_start_at_the_horizon_is_accepted(client):
    # Friday 2026-05-08 14:00Z is inside 60 days of 2026-03-13T10:30Z.
    response = book(client, startTime="2026-05-08T14:00:00Z", endTime="2026-05-08T14:30:00Z")
    assert response.status_code == 201, response.text


# Rule 8: availability.


def test_rule_8_slot_off_the_grid_is_unavailable(client):
    response = book(client, startTime="2026-03-16T14:15:00Z", endTime="2026-03-16T14:45:00Z")
    assert_error(response, 400, SLOT_TAKEN)


def test_rule_8_slot_outside_weekly_availability_is_unavailable(client):
    # 08:00 New York time, an hour before Jane's day starts.
    response = book(client, startTime="2026-03-16T12:00:00Z", endTime="2026-03-16T12:30:00Z")
    assert_error(response, 400, SLOT_TAKEN)


def test_rule_8_slot_running_past_the_end_of_day_is_unavailable(client):
    # 16:30 to 17:30 New York: the 60-minute consult would end after 17:00.
    response = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T20:30:00Z",
        endTime="2026-03-16T21:30:00Z",
    )
    assert_error(response, 400, SLOT_TAKEN)


def test_rule_8_weekend_is_unavailable(client):
    response = book(client, startTime="2026-03-14T14:00:00Z", endTime="2026-03-14T14:30:00Z")
    assert_error(response, 400, SLOT_TAKEN)


def test_rule_8_booked_slot_is_gone(client):
    assert book(client).status_code == 201
    assert_error(book(client, inviteeEmail="other@example.com"), 400, SLOT_TAKEN)


def test_rule_8_booking_blocks_overlapping_slot_of_another_event_type(client):
    assert book(client).status_code == 201  # 14:00-14:30Z on 30min-call
    overlapping = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T13:30:00Z",
        endTime="2026-03-16T14:30:00Z",
    )
    assert_error(overlapping, 400, SLOT_TAKEN)


def test_rule_8_pending_approval_blocks_the_slot(client):
    pending = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T14:00:00Z",
        endTime="2026-03-16T15:00:00Z",
    )
    assert pending.json()["status"] == "PendingApproval"
    assert_error(
        book(client, startTime="2026-03-16T14:30:00Z", endTime="2026-03-16T15:00:00Z"),
        400,
        SLOT_TAKEN,
    )


def test_rule_8_adjacent_slots_do_not_overlap(client):
    assert book(client).status_code == 201
    after = book(client, startTime="2026-03-16T14:30:00Z", endTime="2026-03-16T15:00:00Z")
    assert after.status_code == 201, after.text


def test_rule_8_other_hosts_are_not_blocked(client):
    assert book(client).status_code == 201
    # 15:00 Berlin is 14:00Z: the same instant, another host.
    response = book(
        client,
        user="john-smith",
        event="15min-intro",
        startTime="2026-03-16T14:00:00Z",
        endTime="2026-03-16T14:15:00Z",
        customFields=None,
    )
    assert response.status_code == 201, response.text


def test_rule_8_monday_0900_new_york_is_bookable_across_the_dst_change(shared_server):
    # New York moved to EDT on Sunday 2026-03-08: Monday 09:00 local is 13:00Z, not 14:00Z.
    base = shared_server(rate_limit="100/minute", clock=datetime.fromisoformat("2026-03-06T12:00Z"))
    with httpx.Client(base_url=base) as client:
        nine = book(client, startTime="2026-03-09T13:00:00Z", endTime="2026-03-09T13:30:00Z")
        eight = book(client, startTime="2026-03-09T12:00:00Z", endTime="2026-03-09T12:30:00Z")
        # The Friday before, still EST: 09:00 local is 14:00Z.
        friday = book(client, startTime="2026-03-06T14:00:00Z", endTime="2026-03-06T14:30:00Z")
        friday_early = book(
            client, startTime="2026-03-06T13:30:00Z", endTime="2026-03-06T14:00:00Z"
        )
    assert nine.status_code == 201, nine.text
    assert_error(eight, 400, SLOT_TAKEN)
    assert friday.status_code == 201, friday.text
    assert_error(friday_early, 400, SLOT_TAKEN)


def test_rule_8_concurrent_requests_for_one_slot_give_exactly_one_201(server):
    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            requests = [
                client.post(
                    BOOK.format(user="jane-doe", event="30min-call"),
                    json=body(inviteeEmail=f"guest{i}@example.com"),
                )
                for i in range(50)
            ]
            return [r.status_code for r in await asyncio.gather(*requests)]

    statuses = asyncio.run(burst())
    assert statuses.count(201) == 1
    assert statuses.count(400) == 49


# Rule 9: custom fields.


def test_rule_9_missing_required_custom_field_is_refused(client):
    response = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T14:00:00Z",
        endTime="2026-03-16T15:00:00Z",
        customFields={"role": "CTO"},
    )
    assert_error(response, 400, "The custom field 'company' is required.")
    assert response.json()["details"] == [
        {"field": "customFields.company", "message": "This field is required."}
    ]


def test_rule_9_empty_required_custom_field_is_refused(client):
    response = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T14:00:00Z",
        endTime="2026-03-16T15:00:00Z",
        customFields={"company": "  "},
    )
    assert_error(response, 400, "The custom field 'company' is required.")


def test_rule_9_undefined_custom_field_keys_are_ignored(client):
    response = book(client, customFields={"company": "Acme", "favouriteColour": "teal"})
    assert response.status_code == 201, response.text


def test_rule_9_availability_comes_before_custom_fields(client):
    response = book(
        client,
        event="60min-consult",
        startTime="2026-03-14T14:00:00Z",
        endTime="2026-03-14T15:00:00Z",
        customFields=None,
    )
    assert_error(response, 400, SLOT_TAKEN)


def test_rule_8_taken_slot_answers_before_a_missing_required_custom_field(client):
    """Rule 8's overlap with a stored booking answers before rule 9 (issue 10's request)."""
    assert (
        book(client, startTime="2026-03-16T15:00:00Z", endTime="2026-03-16T15:30:00Z").status_code
        == 201
    )
    response = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T15:00:00Z",
        endTime="2026-03-16T16:00:00Z",
        customFields=None,
    )
    assert_error(response, 400, SLOT_TAKEN)
    # The same request for a free slot still gets rule 9's answer, and books nothing.
    free = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T16:00:00Z",
        endTime="2026-03-16T17:00:00Z",
        customFields=None,
    )
    assert free.status_code == 400 and free.json()["error"] != SLOT_TAKEN
    assert (
        book(client, startTime="2026-03-16T16:00:00Z", endTime="2026-03-16T16:30:00Z").status_code
        == 201
    )


# Rule 10: the booking.


def test_rule_10_example_request_yields_the_example_response(client):
    response = book(client)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert re.fullmatch(r"bkg_[A-Za-z0-9]{12,}", booking["id"])
    assert re.fullmatch(
        r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}", booking["location"]["value"]
    )
    assert booking == {
        "id": booking["id"],
        "eventTypeId": "evt_abc123",
        "status": "Confirmed",
        "startTime": "2026-03-16T14:00:00Z",
        "endTime": "2026-03-16T14:30:00Z",
        "invitee": {
            "name": "Alex Johnson",
            "email": "alex@example.com",
            "phone": "+1-555-0123",
            "timezone": "America/New_York",
        },
        "location": {"type": "GoogleMeet", "value": booking["location"]["value"]},
        "createdAt": PINNED.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def test_rule_10_phone_is_absent_when_not_sent(client):
    booking = book(client, inviteePhone=None).json()
    assert "phone" not in booking["invitee"]


def test_rule_10_approval_event_type_is_pending_with_a_zoom_link(client):
    response = book(
        client,
        event="60min-consult",
        startTime="2026-03-16T14:00:00Z",
        endTime="2026-03-16T15:00:00Z",
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "PendingApproval"
    assert re.fullmatch(r"https://zoom\.us/j/\d{9,11}", response.json()["location"]["value"])


def test_rule_10_in_person_location_is_the_address(client):
    response = book(
        client,
        user="john-smith",
        event="15min-intro",
        startTime="2026-03-16T09:00:00Z",
        endTime="2026-03-16T09:15:00Z",
        customFields=None,
    )
    assert response.status_code == 201, response.text
    assert response.json()["location"] == {
        "type": "InPerson",
        "value": "Alexanderplatz 1, 10178 Berlin",
    }


def test_rule_10_ids_are_unique(client):
    ids = {
        book(client, startTime=f"2026-03-16T{h}:00:00Z", endTime=f"2026-03-16T{h}:30:00Z").json()[
            "id"
        ]
        for h in (14, 15, 16, 17)
    }
    assert len(ids) == 4
