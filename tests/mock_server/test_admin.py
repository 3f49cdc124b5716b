"""The control API under /__admin, and the rule that guards it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import pytest

from mock_server.dataset import load_dataset
from mock_server.domain.slots import grid_slots

from .test_rules import BOOK, assert_error, body, book


def test_health(client):
    health = client.get("/__admin/health").json()
    assert health == {
        "status": "ok",
        "bookings": 0,
        "now": "2026-03-13T10:30:00Z",
        "storage": "memory",
    }


def test_list_bookings_with_filters(client):
    book(client)
    book(
        client,
        event="60min-consult",
        startTime="2026-03-17T14:00:00Z",
        endTime="2026-03-17T15:00:00Z",
    )
    everything = client.get("/__admin/bookings").json()["bookings"]
    assert [b["eventSlug"] for b in everything] == ["30min-call", "60min-consult"]
    first = everything[0]
    assert first["host"] == "jane-doe"
    assert first["customFields"] == {"company": "Acme Inc."}
    assert first["notes"] == "Looking forward to discussing the project."
    assert first["invitee"]["locale"] == "en"
    assert (
        len(
            client.get("/__admin/bookings", params={"status": "PendingApproval"}).json()["bookings"]
        )
        == 1
    )
    assert (
        len(client.get("/__admin/bookings", params={"eventType": "evt_abc123"}).json()["bookings"])
        == 1
    )
    assert client.get("/__admin/bookings", params={"host": "john-smith"}).json()["bookings"] == []
    assert_error(client.get("/__admin/bookings", params={"status": "Cancelled"}), 400)


def test_cancel_frees_the_slot(client):
    booking = book(client).json()
    assert book(client).status_code == 400
    assert client.delete(f"/__admin/bookings/{booking['id']}").status_code == 204
    assert book(client).status_code == 201
    assert_error(client.delete(f"/__admin/bookings/{booking['id']}"), 404)


@pytest.mark.parametrize(
    ("only", "bookings_left", "journal_left"),
    [(None, 0, 0), (["bookings"], 0, 1), (["journal"], 1, 0), (["rateLimits"], 1, 1)],
)
def test_reset(client, only, bookings_left, journal_left):
    book(client)
    client.put("/__admin/clock", json={"advanceSeconds": 60})
    result = client.post("/__admin/reset", params={"only": only} if only else None).json()
    everything = ["bookings", "rateLimits", "journal", "clock", "armed"]
    assert set(result["reset"]) == set(only or everything)
    assert len(client.get("/__admin/bookings").json()["bookings"]) == bookings_left
    assert len(client.get("/__admin/requests").json()["requests"]) == journal_left
    clock = client.get("/__admin/clock").json()["now"]
    assert clock == ("2026-03-13T10:30:00Z" if only is None else "2026-03-13T10:31:00Z")


def test_reset_of_rate_limits_restores_the_quota(shared_server):
    base = shared_server(rate_limit="2/minute")
    with httpx.Client(base_url=base) as client:
        for _ in range(2):
            book(client, inviteeEmail="")
        assert book(client, inviteeEmail="").status_code == 429
        client.post("/__admin/reset", params={"only": "rateLimits"})
        assert book(client, inviteeEmail="").status_code == 400


def test_unknown_reset_part_is_refused(client):
    assert_error(client.post("/__admin/reset", params={"only": "everything"}), 400)


def test_clock_read_set_freeze_unfreeze_advance(client):
    assert client.get("/__admin/clock").json() == {
        "now": "2026-03-13T10:30:00Z",
        "frozen": True,
        "real": False,
    }
    moved = client.put("/__admin/clock", json={"advanceSeconds": 7200}).json()
    assert moved["now"] == "2026-03-13T12:30:00Z"
    pinned = client.put("/__admin/clock", json={"now": "2026-04-01T08:00:00-04:00"}).json()
    assert pinned == {"now": "2026-04-01T12:00:00Z", "frozen": True, "real": False}
    running = client.put("/__admin/clock", json={"frozen": False}).json()
    assert running["frozen"] is False
    later = datetime.fromisoformat(client.get("/__admin/clock").json()["now"])
    assert later >= datetime.fromisoformat("2026-04-01T12:00:00+00:00")
    real = client.put("/__admin/clock", json={"real": True}).json()
    assert real["real"] is True and real["frozen"] is False


def test_clock_pinned_and_frozen_in_one_change_stands_exactly_at_the_instant(client):
    """From the running real clock, {now, frozen: true} stops at the instant, not a hair after:
    a slot exactly the minimum notice ahead books."""
    client.put("/__admin/clock", json={"real": True})
    client.put("/__admin/clock", json={"now": "2026-12-04T18:00:00Z", "frozen": True})
    exact = book(client, startTime="2026-12-04T19:00:00Z", endTime="2026-12-04T19:30:00Z")
    assert exact.status_code == 201, exact.text
    early = book(client, startTime="2026-12-04T18:30:00Z", endTime="2026-12-04T19:00:00Z")
    assert_error(early, 400)


def test_moving_the_clock_changes_what_books(client):
    # Tuesday 09:00 New York is bookable now, and not once the clock is past it.
    client.put("/__admin/clock", json={"now": "2026-03-17T14:00:00Z"})
    response = book(client, startTime="2026-03-17T13:00:00Z", endTime="2026-03-17T13:30:00Z")
    assert_error(response, 400)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"now": "2026-03-13T10:30:00"},
        {"advanceSeconds": "soon"},
        {"advanceSeconds": 4e16},
        {"tick": 1},
        {"now": "9999-12-31T23:00:00Z", "advanceSeconds": 7200},
    ],
)
def test_bad_clock_change_is_refused_and_changes_nothing(client, change):
    assert_error(client.put("/__admin/clock", json=change), 400)
    assert client.get("/__admin/clock").json()["now"] == "2026-03-13T10:30:00Z"


def test_journal_shows_what_the_page_sent_and_got(client):
    client.post(
        BOOK.format(user="jane-doe", event="30min-call"),
        json=body(),
        headers={"Prefer": "code=201"},
    )
    book(client, inviteeEmail="nope")
    entries = client.get("/__admin/requests", params={"limit": 2}).json()["requests"]
    newest, older = entries
    assert newest["request"]["body"]["inviteeEmail"] == "nope"
    assert newest["status"] == 400
    assert newest["response"]["body"]["details"][0]["field"] == "inviteeEmail"
    assert newest["response"]["headers"]["ratelimit-policy"] == '"per-ip";q=1000;w=60'
    assert older["request"]["headers"]["prefer"] == "code=201"
    assert older["request"]["body"]["inviteeName"] == "Alex Johnson"
    assert newest["durationMs"] >= 0 and newest["client"] == "127.0.0.1"
    assert newest["id"] > older["id"]
    # The control API's own calls are not journalled.
    assert all(
        not e["path"].startswith("/__admin")
        for e in client.get("/__admin/requests").json()["requests"]
    )


def test_journal_is_bounded(shared_server):
    base = shared_server(journal_size=5)
    with httpx.Client(base_url=base) as client:
        for _ in range(8):
            client.get("/nope")
        assert len(client.get("/__admin/requests", params={"limit": 500}).json()["requests"]) == 5


def test_slots_of_an_unknown_event_type_are_404(client):
    assert_error(client.get("/__admin/slots/jane-doe/nope"), 404, "Event type not found.")


def test_slots_in_another_time_zone(client):
    listing = client.get(
        "/__admin/slots/jane-doe/30min-call",
        params={"from": "2026-03-16", "to": "2026-03-16", "timezone": "Asia/Tokyo"},
    ).json()
    # Monday in Tokyo ends at 15:00Z, 11:00 in New York: Jane's first four slots.
    assert listing["timezone"] == "Asia/Tokyo"
    assert [s["localStart"] for s in listing["slots"]] == [
        "2026-03-16T22:00:00+09:00",
        "2026-03-16T22:30:00+09:00",
        "2026-03-16T23:00:00+09:00",
        "2026-03-16T23:30:00+09:00",
    ]
    assert listing["slots"][0]["startTime"] == "2026-03-16T13:00:00Z"


def test_slot_range_is_bounded(client):
    response = client.get(
        "/__admin/slots/jane-doe/30min-call", params={"from": "2026-03-16", "to": "2026-06-16"}
    )
    assert_error(response, 400)


@pytest.mark.parametrize("event", ["30min-call", "60min-consult", "15min-captcha"])
def test_listed_slots_all_book_and_unlisted_grid_slots_do_not(client, event):
    """Free slots agree with booking, over a week that starts inside the minimum notice."""
    client.put("/__admin/clock", json={"now": "2026-03-16T13:10:00Z"})  # Monday 09:10 New York
    # Some slots are taken first, on another event type of the same host.
    book(
        client, event="30min-call", startTime="2026-03-17T15:00:00Z", endTime="2026-03-17T15:30:00Z"
    )
    listed = client.get(
        f"/__admin/slots/jane-doe/{event}", params={"from": "2026-03-16", "to": "2026-03-22"}
    ).json()["slots"]
    listed_starts = {s["startTime"] for s in listed}
    assert listed_starts
    jane = load_dataset().hosts["jane-doe"]
    grid = list(grid_slots(jane, jane.event_types[event], date(2026, 3, 16), date(2026, 3, 22)))
    extra = {"customFields": {"company": "Acme"}, "captchaToken": "XXXX.DUMMY.TOKEN.XXXX"}
    # Unlisted grid slots first: booking the listed ones would change what is free.
    unlisted = [(s, e) for s, e in grid if s.strftime("%Y-%m-%dT%H:%M:%SZ") not in listed_starts]
    assert unlisted  # the notice and the taken slot hide some
    for start, end in unlisted:
        response = book(
            client,
            event=event,
            startTime=_z(start),
            endTime=_z(end),
            inviteeEmail="x@example.com",
            **extra,
        )
        assert response.status_code == 400, (start, response.text)
    for slot in listed:
        response = book(
            client, event=event, startTime=slot["startTime"], endTime=slot["endTime"], **extra
        )
        assert response.status_code == 201, (slot, response.text)
        client.delete(f"/__admin/bookings/{response.json()['id']}")


def _z(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_admin_is_off_when_disabled(start_server):
    base = start_server(admin_enabled=False)
    with httpx.Client(base_url=base) as client:
        response = client.get("/__admin/health")
        assert_error(response, 404)
        assert "--admin-token" in response.json()["error"]
        # The booking API is unaffected.
        assert book(client).status_code == 201


def test_admin_token_is_required_when_given(start_server):
    base = start_server(admin_token="s3cret")
    with httpx.Client(base_url=base) as client:
        missing = client.get("/__admin/health")
        assert_error(missing, 401)
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert_error(client.get("/__admin/health", headers={"Authorization": "Bearer wrong"}), 401)
        assert_error(client.get("/__admin/health", headers={"Authorization": "Basic s3cret"}), 401)
        ok = client.get("/__admin/health", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_cli_turns_admin_off_on_a_non_loopback_address_without_a_token():
    from mock_server.cli import build_parser, settings_from_args

    def settings(*args: str):
        return settings_from_args(build_parser().parse_args(list(args)))

    assert settings().admin_enabled
    assert settings("--host", "::1").admin_enabled
    assert not settings("--host", "0.0.0.0").admin_enabled
    on = settings("--host", "0.0.0.0", "--admin-token", "t")
    assert on.admin_enabled and on.admin_token == "t"


def test_admin_documents_are_served(client):
    spec = client.get("/__admin/openapi.json").json()
    assert spec["info"]["title"] == "booking-mock control API"
    assert client.get("/__admin/ui/").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Public Booking API"
    assert client.get("/ui/").status_code == 200


def test_a_week_has_the_expected_number_of_free_slots(client):
    listing = client.get(
        "/__admin/slots/jane-doe/30min-call", params={"from": "2026-03-16", "to": "2026-03-22"}
    ).json()
    assert len(listing["slots"]) == 5 * 16  # five 8-hour days of 30-minute slots
    assert listing["slots"][0]["localStart"] == "2026-03-16T09:00:00-04:00"
    assert datetime.fromisoformat(listing["slots"][1]["startTime"]) - datetime.fromisoformat(
        listing["slots"][0]["startTime"]
    ) == timedelta(minutes=30)
