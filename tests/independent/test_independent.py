"""The independent implementation through HTTP, on the real clock."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.servers import serve_app

from . import create_app

BOOK = "/api/public/scheduling/{}/{}/book"
TAKEN = "The selected time slot is no longer available."
NEW_YORK = ZoneInfo("America/New_York")


def slots(minutes: int, step: int = 30) -> Iterator[tuple[str, str]]:
    """Jane Doe's bookable starts (weekdays 09:00-17:00 New York), soonest first."""
    earliest = datetime.now(UTC) + timedelta(minutes=75)
    day = earliest.astimezone(NEW_YORK).date()
    while True:
        if day.weekday() < 5:
            start = datetime.combine(day, datetime.min.time(), NEW_YORK) + timedelta(hours=9)
            while start + timedelta(minutes=minutes) <= start.replace(hour=17):
                if start >= earliest:
                    end = start + timedelta(minutes=minutes)
                    yield (
                        start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    )
                start += timedelta(minutes=step)
        day += timedelta(days=1)


def body(start: str, end: str, **extra: object) -> dict[str, object]:
    return {
        "startTime": start,
        "endTime": end,
        "inviteeName": "Alex Johnson",
        "inviteeEmail": "alex@example.com",
        "inviteePhone": "+1-555-0123",
        "inviteeTimezone": "America/New_York",
        "inviteeLocale": "en",
        "customFields": {"company": "Acme Inc."},
        "inviteeNotes": "Looking forward to discussing the project.",
        "source": "BookingPage",
        "honeypotValue": "",
        **extra,
    }


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with serve_app(create_app(limit=1000)) as url, httpx.Client(base_url=url) as client:
        yield client


def test_example_booking_is_created(client: httpx.Client) -> None:
    start, end = next(slots(30))
    response = client.post(BOOK.format("jane-doe", "30min-call"), json=body(start, end))
    assert response.status_code == 201, response.text
    booking = response.json()
    assert re.fullmatch(r"bkg_[A-Za-z0-9]{16}", booking["id"])
    assert booking["eventTypeId"] == "evt_abc123"
    assert booking["status"] == "Confirmed"
    assert booking["startTime"] == start.replace(".000", "")
    assert booking["endTime"] == end
    assert booking["invitee"] == {
        "name": "Alex Johnson",
        "email": "alex@example.com",
        "phone": "+1-555-0123",
        "timezone": "America/New_York",
    }
    assert re.fullmatch(
        r"https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}", booking["location"]["value"]
    )
    created = datetime.fromisoformat(booking["createdAt"].replace("Z", "+00:00"))
    assert abs(created - datetime.now(UTC)) < timedelta(seconds=5)
    assert booking["manageUrl"].endswith(booking["id"])
    assert re.fullmatch(r'"per-ip";q=1000;w=60', response.headers["RateLimit-Policy"])
    assert re.fullmatch(r'"per-ip";r=\d+;t=\d+', response.headers["RateLimit"])
    assert response.headers["X-Request-Id"]


def test_taken_slot_and_rule_8_before_rule_9(client: httpx.Client) -> None:
    free = slots(60)
    for _ in range(6):
        next(free)
    start, end = next(free)
    half = BOOK.format("jane-doe", "30min-call")
    first = client.post(
        half,
        json=body(
            start,
            (datetime.fromisoformat(start) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ),
    )
    assert first.status_code == 201, first.text
    again = client.post(half, json=body(start, first.json()["endTime"]))
    assert (again.status_code, again.json()) == (400, {"error": TAKEN})
    # Another event type of the same host, overlapping, and lacking its required field.
    consult = BOOK.format("jane-doe", "60min-consult")
    overlap = client.post(consult, json=body(start, end, customFields={}))
    assert (overlap.status_code, overlap.json()) == (400, {"error": TAKEN})
    later, later_end = next(free)
    missing = client.post(consult, json=body(later, later_end, customFields={}))
    assert missing.status_code == 400 and missing.json()["error"] != TAKEN
    assert "details" not in missing.json()
    blank = client.post(consult, json=body(later, later_end, customFields={"company": "   "}))
    assert blank.status_code == 201, blank.text
    assert blank.json()["status"] == "PendingApproval"
    assert re.fullmatch(r"https://\w+\.zoom\.us/j/\d+", blank.json()["location"]["value"])


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 50_000,
        b'{"startTime": ' + b"9" * 5000 + b"}",
        b'{"startTime": NaN}',
        b'{"x": Infinity}',
        b'{"inviteeName": "\\ud800"}',
        b"\xff\xfe",
        b'{"startTime": "2026-03-16T14:00:00"}',
    ],
)
def test_hostile_bodies_get_a_json_4xx(client: httpx.Client, content: bytes) -> None:
    response = client.post(
        BOOK.format("jane-doe", "30min-call"),
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}


def test_times_out_of_range_naive_and_chunked_oversized(client: httpx.Client) -> None:
    url = BOOK.format("jane-doe", "30min-call")
    for start in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "2026-03-16T14:00"):
        response = client.post(url, json=body(start, "2026-03-16T14:30:00Z"))
        assert response.status_code == 400, start

    def chunks() -> Iterator[bytes]:
        yield b'{"inviteeNotes": "'
        for _ in range(70):
            yield b"x" * 1024

    response = client.post(url, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "error" in response.json()


def test_rate_limit_counts_everything_but_429s() -> None:
    with serve_app(create_app(limit=3, window=1)) as url, httpx.Client(base_url=url) as client:
        path = BOOK.format("nobody", "nothing")
        assert client.get(path).status_code == 405
        preflight = {"Origin": "http://page.test", "Access-Control-Request-Method": "POST"}
        assert client.options(path, headers=preflight).status_code == 204
        last = client.post(path, json={})
        assert last.status_code == 404
        assert last.headers["RateLimit"].startswith('"per-ip";r=0;')
        refused = client.post(path, json={})
        assert refused.status_code == 429
        assert set(refused.json()) == {"error"}
        wait = int(refused.headers["Retry-After"])
        assert wait == 1
        assert client.post(path, json={}).status_code == 429
        time.sleep(wait)
        assert client.post(path, json={}).status_code == 404


def test_retry_after_as_http_date() -> None:
    app = create_app(limit=1, window=3, retry_after="http-date")
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        path = BOOK.format("jane-doe", "30min-call")
        sent = time.time()
        assert client.post(path, json={}).status_code == 400
        refused = client.post(path, json={})
        assert refused.status_code == 429
        at = parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
        assert sent + 3 - 1 <= at <= sent + 3 + 1.5
        assert refused.headers["Date"]


def test_forwarded_for_right_most_untrusted_hop() -> None:
    app = create_app(limit=1, trusted_proxies=("127.0.0.1", "10.0.0.0/8"))
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        path = BOOK.format("nobody", "nothing")

        def status(forwarded: str) -> int:
            return client.post(path, json={}, headers={"X-Forwarded-For": forwarded}).status_code

        assert status("6.6.6.6, 203.0.113.7, 10.0.0.1") == 404
        assert status("7.7.7.7, 203.0.113.7") == 429  # the forged left hop does not count
        assert status("203.0.113.8") == 404
    with serve_app(create_app(limit=1)) as url, httpx.Client(base_url=url) as client:
        assert client.post(path, json={}, headers={"X-Forwarded-For": "1.1.1.1"}).status_code == 404
        assert client.post(path, json={}, headers={"X-Forwarded-For": "2.2.2.2"}).status_code == 429
