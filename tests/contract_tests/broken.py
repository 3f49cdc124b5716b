"""Deliberately broken booking servers: the reference with one rule broken, for the suite to catch.

Each fault is test code only: an ASGI layer in front of the reference app that
rewrites a request or a response, a booking store that forgets a rule, a
rate limiter of our own with one mistake, or a dataset that contradicts the
profile the suite is given. None of it is a switch in the product.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

import mock_server
from mock_server import Settings, create_app

Scope = dict[str, Any]
ASGIApp = Callable[..., Awaitable[None]]

BOOK = re.compile(r"^/api/public/scheduling/(?P<user>[^/]+)/(?P<event>[^/]+)/book$")
DATASET = Path(mock_server.__file__).resolve().parent / "data" / "default-dataset.yaml"
# A limit no test reaches, for layers that do the rate limiting themselves.
UNLIMITED = "100000/minute"


def default_dataset() -> dict[str, Any]:
    return yaml.safe_load(DATASET.read_text(encoding="utf-8"))


def durations() -> dict[str, int]:
    """Event slug -> minutes, from the default dataset."""
    return {
        event["slug"]: event["durationMinutes"]
        for host in default_dataset()["hosts"]
        for event in host["eventTypes"]
    }


def write_dataset(directory: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The default dataset with `change` applied, as a file for Settings(dataset=...)."""
    data = default_dataset()
    change(data)
    path = directory / "dataset.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def every_event(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for host in data["hosts"] for event in host["eventTypes"]]


def reference(**settings: Any) -> Any:
    settings.setdefault("rate_limit", UNLIMITED)
    return create_app(Settings(**settings))


# ASGI plumbing: read a request body, send a JSON answer, capture an answer.


async def read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def with_length(scope: Scope, body: bytes) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}


async def answer(send: Any, status: int, body: Any, content_type: str = "application/json") -> None:
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


@dataclass
class Captured:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


async def call(app: ASGIApp, scope: Scope, body: bytes) -> Captured:
    """Run the app on a request and keep its whole answer."""
    captured = Captured()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")

    await app(with_length(scope, body), replay(body), send)
    return captured


async def emit(send: Any, captured: Captured) -> None:
    headers = [(k, v) for k, v in captured.headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(captured.body)).encode()))
    await send({"type": "http.response.start", "status": captured.status, "headers": headers})
    await send({"type": "http.response.body", "body": captured.body})


Rewrite = Callable[[Scope, Any, Captured], Awaitable[None] | None]


class Layer:
    """An ASGI layer in front of the reference, for every request or the book endpoint's.

    ``before(scope, body)`` may return a changed (scope, body) or a Captured answer
    that stands instead of the reference's; ``after(scope, request, captured)`` may
    change the reference's answer in place.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        before: Callable[[Scope, bytes], Any] | None = None,
        after: Callable[[Scope, Any, Captured], None] | None = None,
        book_only: bool = True,
    ) -> None:
        self.app = app
        self.before = before
        self.after = after
        self.book_only = book_only

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (self.book_only and not BOOK.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if self.before is not None:
            changed = self.before(scope, body)
            if isinstance(changed, Captured):
                await emit(send, changed)
                return
            if changed is not None:
                scope, body = changed
        captured = await call(self.app, scope, body)
        if self.after is not None:
            try:
                request = json.loads(body)
            except ValueError:
                request = None
            self.after(scope, request, captured)
        await emit(send, captured)


def json_request(change: Callable[[Scope, dict[str, Any]], Any]) -> Callable[[Scope, bytes], Any]:
    """A `before` that edits JSON object bodies; change returns a Captured to answer itself."""

    def before(scope: Scope, body: bytes) -> Any:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        result = change(scope, data)
        if isinstance(result, Captured):
            return result
        return scope, json.dumps(data).encode()

    return before


def refusal(message: str, status: int = 400) -> Captured:
    return Captured(
        status, [(b"content-type", b"application/json")], json.dumps({"error": message}).encode()
    )


def booking_answer(change: Callable[[dict[str, Any], Any], None]) -> Callable[..., None]:
    """An `after` that edits 201 bodies."""

    def after(scope: Scope, request: Any, captured: Captured) -> None:
        if captured.status == 201:
            booking = captured.json()
            change(booking, request)
            captured.body = json.dumps(booking).encode()

    return after


# Booking stores that forget part of rule 8 or 10.


class BrokenStore:
    """The BookingStore interface over a list, with one fault in add_if_free."""

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.bookings: list[Any] = []
        self.locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    def _overlap(self, b: Any, start: Any, end: Any) -> bool:
        if self.fault == "touching spans overlap":
            return b.busy_start <= end and start <= b.busy_end
        if self.fault == "only the same start blocks":
            return b.busy_start == start
        if self.fault == "only a booking containing the new start blocks":
            return b.busy_start <= start < b.busy_end
        return b.busy_start < end and start < b.busy_end

    def _clashes(self, booking: Any) -> bool:
        others = [b for b in self.bookings if b.host_slug == booking.host_slug]
        if self.fault == "double booking":
            others = []
        elif self.fault == "same event type only":
            others = [b for b in others if b.event_slug == booking.event_slug]
        elif self.fault == "pending does not block":
            others = [b for b in others if b.status != "PendingApproval"]
        return any(self._overlap(b, booking.busy_start, booking.busy_end) for b in others)

    async def is_busy(self, host_slug: str, busy_start: Any, busy_end: Any) -> bool:
        if self.fault == "custom fields before the overlap":
            return False  # the order of the issue-10 bug: rule 9 answers for a taken slot
        return any(
            b.host_slug == host_slug and self._overlap(b, busy_start, busy_end)
            for b in self.bookings
        )

    async def add_if_free(self, booking: Any) -> bool:
        if self.fault == "atomic per event type only":
            # One lock per event type: a burst on one event type is serialised, one across
            # two event types of the host races.
            async with self.locks[(booking.host_slug, booking.event_slug)]:
                clash = self._clashes(booking)
                await asyncio.sleep(0.3)
                return self._insert(booking, clash)
        clash = self._clashes(booking)
        if self.fault == "not atomic":
            # The check and the insert are apart: wide enough that a burst always races.
            await asyncio.sleep(0.5)
        return self._insert(booking, clash)

    def _insert(self, booking: Any, clash: bool) -> bool:
        if clash:
            return False
        self.bookings.append(booking)
        return True

    async def list(self) -> list[Any]:
        return sorted(self.bookings, key=lambda b: (b.start, b.id))

    async def get(self, booking_id: str) -> Any:
        return next((b for b in self.bookings if b.id == booking_id), None)

    async def delete(self, booking_id: str) -> bool:
        before = len(self.bookings)
        self.bookings = [b for b in self.bookings if b.id != booking_id]
        return len(self.bookings) < before

    async def clear(self) -> None:
        self.bookings.clear()

    async def ping(self) -> bool:
        return True


def with_store(fault: str) -> Any:
    return reference(store=BrokenStore(fault))


# A rate limiter of our own in front of an unlimited reference, with one mistake.


@dataclass
class LimiterFaults:
    count_refused: bool = False  # a 429 counts, so hammering extends the lockout
    full_window_retry: bool = False  # Retry-After is always the whole window
    global_key: bool = False  # one limit shared by every client
    extra: int = 0  # lets this many more through than the limit
    skip_404: bool = False  # unknown users are answered before the limit, uncounted
    trust_forwarded: bool = False


class SlidingLimit:
    """A sliding-log limiter that stamps the draft's fields and answers 429 itself."""

    def __init__(self, app: ASGIApp, limit: int, window: int, faults: LimiterFaults) -> None:
        self.app = app
        self.limit = limit
        self.window = window
        self.faults = faults
        self.log: dict[str, deque[float]] = defaultdict(deque)
        self.hosts = {host["slug"] for host in default_dataset()["hosts"]}

    def key(self, scope: Scope) -> str:
        if self.faults.global_key:
            return "everyone"
        if self.faults.trust_forwarded:
            for name, value in scope["headers"]:
                if name.lower() == b"x-forwarded-for":
                    return value.decode().split(",")[0].strip()
        return scope["client"][0]

    def fields(self, log: deque[float], now: float, refused: bool) -> list[tuple[bytes, bytes]]:
        remaining = max(0, self.limit - len(log))
        reset = max(1, int(log[0] + self.window - now + 0.999)) if log else 0
        out = [
            (b"ratelimit-policy", f'"per-ip";q={self.limit};w={self.window}'.encode()),
            (b"ratelimit", f'"per-ip";r={remaining};t={reset}'.encode()),
        ]
        if refused:
            retry = self.window if self.faults.full_window_retry else reset
            out.append((b"retry-after", str(retry).encode()))
        return out

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        match = BOOK.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.faults.skip_404 and match["user"] not in self.hosts:
            await answer(send, 404, {"error": "User not found."})
            return
        now = time.monotonic()
        log = self.log[self.key(scope)]
        while log and log[0] + self.window <= now:
            log.popleft()
        refused = len(log) >= self.limit + self.faults.extra
        if not refused or self.faults.count_refused:
            log.append(now)
        if refused:
            body = json.dumps({"error": "Rate limit exceeded."}).encode()
            headers = [(b"content-type", b"application/json"), *self.fields(log, now, True)]
            await emit(send, Captured(429, headers, body))
            return
        captured = await call(self.app, scope, await read_body(receive))
        captured.headers = [
            (k, v) for k, v in captured.headers if not k.lower().startswith(b"ratelimit")
        ] + self.fields(log, now, False)
        await emit(send, captured)


# The faults, by name.


def _shape_of_times(booking: dict[str, Any], request: Any) -> None:
    booking["startTime"], booking["endTime"] = request["startTime"], request["endTime"]


def _no_duration_check(scope: Scope, data: dict[str, Any]) -> None:
    event = BOOK.match(scope["path"])["event"]  # type: ignore[index]
    minutes = durations().get(event)
    try:
        start = datetime.fromisoformat(str(data["startTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return
    if minutes:
        end = start + timedelta(minutes=minutes)
        data["endTime"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")


def _naive_as_utc(scope: Scope, data: dict[str, Any]) -> None:
    for name in ("startTime", "endTime"):
        value = data.get(name)
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value):
            data[name] = value + "Z"


def _refuse_if(test: Callable[[dict[str, Any]], bool]) -> Callable[[Scope, dict[str, Any]], Any]:
    def change(scope: Scope, data: dict[str, Any]) -> Any:
        return refusal("The request body is invalid.") if test(data) else None

    return change


KNOWN_FIELDS = {
    "startTime", "endTime", "inviteeName", "inviteeEmail", "inviteePhone", "inviteeTimezone",
    "inviteeLocale", "customFields", "inviteeNotes", "source", "honeypotValue", "captchaToken",
}  # fmt: skip


def _validation_first(scope: Scope, body: bytes) -> Any:
    headers = dict(scope["headers"])
    if not headers.get(b"content-type", b"").startswith(b"application/json"):
        return refusal("The request body must be application/json.", 415)
    try:
        json.loads(body)
    except ValueError:
        return refusal("The request body is not valid JSON.")
    return None


def _other_hosts_event(scope: Scope, body: bytes) -> Any:
    match = BOOK.match(scope["path"])
    assert match is not None
    owners = {
        event["slug"]: host["slug"]
        for host in default_dataset()["hosts"]
        for event in host["eventTypes"]
    }
    owner = owners.get(match["event"])
    if owner and owner != match["user"]:
        path = f"/api/public/scheduling/{owner}/{match['event']}/book"
        return {**scope, "path": path, "raw_path": path.encode()}, body
    return None


def _honeypot_stored(app: ASGIApp) -> ASGIApp:
    async def layer(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not BOOK.match(scope["path"]):
            await app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("honeypotValue"):
            data["honeypotValue"] = ""
            await call(app, scope, json.dumps(data).encode())  # booked, then denied
            await emit(send, refusal("The booking request could not be accepted."))
            return
        await emit(send, await call(app, scope, body))

    return layer


def _closing(scope: Scope, data: dict[str, Any]) -> tuple[datetime, datetime, datetime] | None:
    """The request's start and end, and its host's closing time that day, in the host's zone."""
    match = BOOK.match(scope["path"])
    hosts = {host["slug"]: host for host in default_dataset()["hosts"]}
    host = hosts.get(match["user"]) if match else None
    try:
        start = datetime.fromisoformat(str(data["startTime"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(data["endTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    if host is None or end.tzinfo is None or start.tzinfo is None:
        return None
    zone = ZoneInfo(host["timezone"])
    start = start.astimezone(zone)
    windows = host["availability"].get(start.strftime("%A").lower(), [])
    if not windows:
        return None
    hours, minutes = windows[-1].split("-")[1].split(":")
    closing = start.replace(hour=int(hours), minute=int(minutes), second=0, microsecond=0)
    return start, end.astimezone(zone), closing


def _last_slot_refused(scope: Scope, data: dict[str, Any]) -> Any:
    edges = _closing(scope, data)
    if edges is not None and edges[1] == edges[2]:
        return refusal("The selected time slot is no longer available.")
    return None


def _past_closing_accepted(scope: Scope, data: dict[str, Any]) -> Any:
    """A made-up 201 for a slot that starts before closing and ends after it."""
    edges = _closing(scope, data)
    if edges is None or not edges[0] < edges[2] < edges[1]:
        return None
    booking = {
        "id": "bkg_PastClosing0001",
        "eventTypeId": "evt_def456",
        "status": "PendingApproval",
        "startTime": data["startTime"],
        "endTime": data["endTime"],
        "invitee": {
            "name": data.get("inviteeName"),
            "email": data.get("inviteeEmail"),
            "timezone": data.get("inviteeTimezone"),
        },
        "location": {"type": "Zoom", "value": "https://zoom.us/j/123456789"},
        "createdAt": "2026-03-13T10:30:00Z",
    }
    return Captured(201, [(b"content-type", b"application/json")], json.dumps(booking).encode())


def _chunked_uncapped(scope: Scope, body: bytes) -> Any:
    """A server that caps Content-Length but reads a chunked body whole, and books it."""
    has_length = any(name.lower() == b"content-length" for name, _ in scope["headers"])
    if has_length or len(body) <= 64 * 1024:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict):
        data.pop("inviteeNotes", None)
    return scope, json.dumps(data).encode()


def _html_framework_errors(scope: Scope, request: Any, captured: Captured) -> None:
    if (captured.status in (404, 405) and not BOOK.match(scope["path"])) or captured.status == 405:
        captured.headers = [(k, v) for k, v in captured.headers if k.lower() != b"content-type"]
        captured.headers.append((b"content-type", b"text/html; charset=utf-8"))
        captured.body = b"<html><body><h1>Not here</h1></body></html>"


def _renamed_error_key(scope: Scope, request: Any, captured: Captured) -> None:
    body = captured.json()
    if captured.status == 400 and isinstance(body, dict) and "error" in body:
        body["message"] = body.pop("error")
        captured.body = json.dumps(body).encode()


def _strip_retry_after(scope: Scope, request: Any, captured: Captured) -> None:
    captured.headers = [(k, v) for k, v in captured.headers if k.lower() != b"retry-after"]


@dataclass(frozen=True)
class Fault:
    """One broken rule: how to serve it, what to run, and which tests must fail."""

    name: str
    build: Callable[[Path], Any]
    select: str  # pytest -k: the broken rule's tests and some neighbours that must pass
    fails: tuple[str, ...]  # fnmatch patterns of test names; every other selected test passes
    args: tuple[str, ...] = ("--rate-limit", UNLIMITED)


def _layer(**kwargs: Any) -> Callable[[Path], Any]:
    return lambda _: Layer(reference(), **kwargs)


def _dataset(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], Any]:
    return lambda tmp: reference(dataset=write_dataset(tmp, change))


def _limited(faults: LimiterFaults) -> Callable[[Path], Any]:
    return lambda _: SlidingLimit(reference(), 5, 4, faults)


def _nothing_required(data: dict[str, Any]) -> None:
    for event in every_event(data):
        for custom_field in event.get("customFields", []):
            custom_field["required"] = False


def _set_all(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for event in every_event(data):
            event[key] = value

    return change


RATE = ("--rate-limit", "5/4 seconds")
# Most limiter faults show as well with many clients, whose probes run side by side.
RATE_TRUSTED = (*RATE, "--trusts-forwarded-for")

FAULTS = [
    # Response shape (rule 10).
    Fault(
        "201 without createdAt",
        _layer(after=booking_answer(lambda b, r: b.pop("createdAt"))),
        "rule_10 and not concurrent",
        ("test_rule_10_booking_echoes_and_normalises_the_request",),
    ),
    Fault(
        "invitee.phone dropped",
        _layer(after=booking_answer(lambda b, r: b["invitee"].pop("phone", None))),
        "rule_10 and not concurrent",
        ("test_rule_10_booking_echoes_and_normalises_the_request",),
    ),
    Fault(
        "every booking gets the same id",
        _layer(after=booking_answer(lambda b, r: b.update(id="bkg_SameIdEveryTime"))),
        "rule_10 and not concurrent",
        ("test_rule_10_booking_ids_are_unique",),
    ),
    Fault(
        "Phone location without the host's number",
        _layer(
            after=booking_answer(
                lambda b, r: (
                    b["location"].update(value="call us")
                    if b["location"]["type"] == "Phone"
                    else None
                )
            )
        ),
        "rule_10 and not concurrent",
        ("test_rule_10_location_comes_from_the_event_type",),
    ),
    Fault(
        "approval event types come back Confirmed",
        _layer(after=booking_answer(lambda b, r: b.update(status="Confirmed"))),
        "rule_10 and not concurrent or rule_8_pending",
        ("test_rule_10_approval_event_type_is_pending_approval",),
    ),
    Fault(
        "times echoed as sent, not normalised to UTC",
        _layer(after=booking_answer(_shape_of_times)),
        "rule_3 or rule_10_booking_echoes",
        (
            "test_rule_3_fractional_seconds_are_accepted_and_normalised",
            "test_rule_3_offset_times_are_accepted_and_normalised_to_utc",
        ),
    ),
    # Validation (rule 3 and the field limits).
    Fault(
        "inviteeEmail not validated",
        _layer(
            before=json_request(
                lambda s, d: (
                    d.update(inviteeEmail="valid@example.com")
                    if not re.fullmatch(
                        r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+", str(d.get("inviteeEmail"))
                    )
                    or len(str(d.get("inviteeEmail"))) > 254
                    else None
                )
            )
        ),
        "field_limits",
        ("test_field_limits_values_past_the_limits_are_refused[[]inviteeEmail:*",),
    ),
    Fault(
        "an email with + refused",
        _layer(before=json_request(_refuse_if(lambda d: "+" in str(d.get("inviteeEmail"))))),
        "field_limits",
        ("test_field_limits_values_at_the_limits_are_accepted[[]an email with +*",),
    ),
    Fault(
        "the name limit counts UTF-8 bytes",
        _layer(
            before=json_request(_refuse_if(lambda d: len(str(d.get("inviteeName")).encode()) > 200))
        ),
        "field_limits",
        ("test_field_limits_values_at_the_limits_are_accepted[[]a 200-character name*",),
    ),
    Fault(
        "inviteeName limited to 100 characters",
        _layer(before=json_request(_refuse_if(lambda d: len(str(d.get("inviteeName"))) > 100))),
        "field_limits",
        ("test_field_limits_values_at_the_limits_are_accepted[[]longest values[]]",),
    ),
    Fault(
        "unknown top-level fields refused",
        _layer(before=json_request(_refuse_if(lambda d: bool(set(d) - KNOWN_FIELDS)))),
        "rule_3",
        ("test_rule_3_unknown_top_level_fields_are_ignored",),
    ),
    Fault(
        "a chunked body over 64 KiB not capped",
        _layer(before=_chunked_uncapped),
        "rule_3",
        ("test_rule_3_chunked_body_over_64_kib_is_413",),
    ),
    Fault(
        "fractional seconds refused",
        _layer(before=json_request(_refuse_if(lambda d: "." in str(d.get("startTime"))))),
        "rule_3",
        ("test_rule_3_fractional_seconds_are_accepted_and_normalised",),
    ),
    Fault(
        "a time without offset taken as UTC",
        _layer(before=json_request(_naive_as_utc)),
        "rule_3",
        ("test_rule_3_time_without_offset_is_rejected",),
    ),
    # Time and slot rules (6, 7, 8).
    Fault(
        "duration not checked",
        _layer(before=json_request(_no_duration_check)),
        "rule_6 or rule_7",
        ("test_rule_6_wrong_duration_is_refused[[]*",),
    ),
    Fault(
        "no minimum notice",
        _dataset(_set_all("minimumNoticeMinutes", 0)),
        "rule_7 or rule_6",
        ("test_rule_7_start_inside_minimum_notice_is_refused",),
    ),
    Fault(
        "no booking horizon",
        _dataset(_set_all("bookingHorizonDays", 3650)),
        "rule_7 or rule_6",
        ("test_rule_7_start_beyond_the_booking_horizon_is_refused",),
    ),
    Fault(
        "slots off the grid accepted",
        _dataset(_set_all("slotIntervalMinutes", 5)),
        "rule_8 and not dst",
        ("test_rule_8_slot_off_the_grid_is_unavailable",),
    ),
    Fault(
        "a slot can be booked twice",
        lambda _: with_store("double booking"),
        "rule_8_booked or rule_8_outside or rule_7",
        ("test_rule_8_booked_slot_is_unavailable",),
    ),
    Fault(
        "bookings block only their own event type",
        lambda _: with_store("same event type only"),
        "rule_8_booking_blocks or rule_8_booked or rule_8_adjacent",
        ("test_rule_8_booking_blocks_overlapping_slots_of_other_event_types",),
    ),
    Fault(
        "PendingApproval bookings do not block",
        lambda _: with_store("pending does not block"),
        "rule_8_pending or rule_8_booked or rule_10_approval",
        ("test_rule_8_pending_approval_blocks_the_slot",),
    ),
    Fault(
        "back-to-back slots treated as overlapping",
        lambda _: with_store("touching spans overlap"),
        "rule_8_adjacent or rule_8_booked or rule_8_booking_blocks",
        ("test_rule_8_adjacent_slots_do_not_overlap",),
    ),
    Fault(
        "only a booking with the same start blocks",
        lambda _: with_store("only the same start blocks"),
        "rule_8_partial or rule_8_booked",
        ("test_rule_8_partial_overlap_with_a_different_start_is_unavailable[[]*",),
    ),
    Fault(
        "only a booking containing the new start blocks",
        lambda _: with_store("only a booking containing the new start blocks"),
        "rule_8_partial or rule_8_booked",
        (
            "test_rule_8_partial_overlap_with_a_different_start_is_unavailable"
            "[[]containing its start[]]",
        ),
    ),
    Fault(
        "the last slot of the day refused",
        _layer(before=json_request(_last_slot_refused)),
        "rule_8_last or running_past or outside_the_weekly",
        ("test_rule_8_last_slot_of_the_day_is_available",),
    ),
    Fault(
        "a slot running past closing accepted",
        _layer(before=json_request(_past_closing_accepted)),
        "rule_8_last or running_past or outside_the_weekly",
        ("test_rule_8_slot_running_past_closing_is_unavailable",),
    ),
    Fault(
        "a booking horizon one day too long",
        _dataset(_set_all("bookingHorizonDays", 61)),
        "rule_7",
        ("test_rule_7_booking_horizon_is_exact",),
    ),
    Fault(
        "a minimum notice one slot too long",
        _dataset(_set_all("minimumNoticeMinutes", 61)),
        "rule_7",
        ("test_rule_7_minimum_notice_is_exact",),
    ),
    Fault(
        "custom fields answer before the overlap (rule 9 before 8)",
        lambda _: with_store("custom fields before the overlap"),
        "rule_9",
        ("test_rule_9_taken_slot_comes_before_custom_fields",),
    ),
    Fault(
        "a race across two event types of one host",
        lambda _: with_store("atomic per event type only"),
        "rule_10_concurrent or rule_8_booked",
        ("test_rule_10_concurrent_burst_across_event_types_yields_exactly_one_201",),
    ),
    Fault(
        "check-then-insert race",
        lambda _: with_store("not atomic"),
        "rule_10_concurrent or rule_8_booked",
        ("test_rule_10_concurrent_burst_for_one_slot_yields_exactly_one_201",),
    ),
    # CAPTCHA (rule 5), honeypot (rule 4), custom fields (rule 9).
    Fault(
        "CAPTCHA token not required",
        _dataset(_set_all("captcha", False)),
        "rule_5 or rule_4",
        (
            "test_rule_5_missing_captcha_token_is_refused[[]*",
            "test_rule_5_refused_captcha_token_is_rejected",
            "test_rule_5_captcha_comes_before_duration",
        ),
    ),
    Fault(
        "every CAPTCHA token accepted",
        _layer(
            before=json_request(
                lambda s, d: (
                    d.update(captchaToken="ok")
                    if str(d.get("captchaToken", "")).startswith("invalid")
                    else None
                )
            )
        ),
        "rule_5",
        ("test_rule_5_refused_captcha_token_is_rejected",),
    ),
    Fault(
        "honeypot ignored",
        _layer(before=json_request(lambda s, d: d.pop("honeypotValue", None) and None)),
        "rule_4 or rule_5",
        ("test_rule_4_filled_honeypot_is_refused_and_stores_nothing",),
    ),
    Fault(
        "honeypot refused but stored",
        lambda _: _honeypot_stored(reference()),
        "rule_4 or rule_5",
        ("test_rule_4_filled_honeypot_is_refused_and_stores_nothing",),
    ),
    Fault(
        "required custom field not enforced",
        _dataset(_nothing_required),
        "rule_9",
        ("test_rule_9_missing_required_custom_field_is_refused[[]*",),
    ),
    # 404s (rule 2).
    Fault(
        "body validated before the 404",
        _layer(before=_validation_first),
        "rule_2",
        ("test_rule_2_404_comes_before_validation[[]*",),
    ),
    Fault(
        "another host's event type accepted",
        _layer(before=_other_hosts_event),
        "rule_2",
        ("test_rule_2_event_type_of_another_host_is_404",),
    ),
    # Error format.
    Fault(
        "framework errors as HTML",
        _layer(after=_html_framework_errors, book_only=False),
        "error_format or rule_2",
        (
            "test_error_format_is_json_with_an_error_message[[]unknown route 404[]]",
            "test_error_format_is_json_with_an_error_message[[]wrong method 405[]]",
            "test_error_format_405_names_the_allowed_method",
        ),
    ),
    Fault(
        '400s say "message", not "error"',
        _layer(after=_renamed_error_key),
        "error_format",
        (
            "test_error_format_is_json_with_an_error_message[[]body not JSON 400[]]",
            "test_error_format_is_json_with_an_error_message[[]invalid field 400[]]",
            "test_error_format_details_name_the_field",
        ),
    ),
    # Rate limiting (rule 1).
    Fault(
        "429 without Retry-After",
        lambda _: Layer(
            reference(rate_limit="5/4 seconds", forwarded_allow_ips=["127.0.0.1"]),
            after=_strip_retry_after,
        ),
        "rule_1_",
        (
            "test_rule_1_request_over_the_limit_is_429",
            "test_rule_1_retry_after_is_not_needlessly_long",
            "test_rule_1_429_does_not_extend_the_lockout",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "refused requests extend the lockout",
        _limited(LimiterFaults(count_refused=True, trust_forwarded=True)),
        "rule_1_",
        ("test_rule_1_429_does_not_extend_the_lockout",),
        RATE_TRUSTED,
    ),
    Fault(
        "Retry-After is always the whole window",
        _limited(LimiterFaults(full_window_retry=True, trust_forwarded=True)),
        "rule_1_",
        ("test_rule_1_retry_after_is_not_needlessly_long",),
        RATE_TRUSTED,
    ),
    Fault(
        "one limit shared by every client",
        _limited(LimiterFaults(global_key=True, trust_forwarded=True)),
        # Only the probe that needs two clients: the others would share the limit too.
        "rule_1_another or rule_1_request_over or rule_1_remaining",
        ("test_rule_1_another_client_is_unaffected",),
        RATE_TRUSTED,
    ),
    Fault(
        "one request too many let through",
        _limited(LimiterFaults(extra=1, trust_forwarded=True)),
        "rule_1_",
        ("test_rule_1_request_over_the_limit_is_429",),
        RATE_TRUSTED,
    ),
    Fault(
        "unknown users answered before the limit",
        _limited(LimiterFaults(skip_404=True, trust_forwarded=True)),
        "rule_1_",
        (
            "test_rule_1_rate_limit_answers_before_404_and_validation",
            "test_rule_1_every_outcome_counts",
        ),
        RATE_TRUSTED,
    ),
    Fault(
        "X-Forwarded-For trusted from anyone",
        lambda _: reference(rate_limit="5/4 seconds", forwarded_allow_ips=["*"]),
        # One client: only the probe of the spoofing test and its neighbours.
        "rule_1_spoofed or rule_1_request_over or rule_1_remaining",
        ("test_rule_1_spoofed_forwarded_for_does_not_reset_the_limit",),
        RATE,
    ),
]
