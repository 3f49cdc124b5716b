"""What the broken servers of `broken.FAULTS` do to a request or an answer, one function a fault.

Each is a `before` or an `after` for `tests.faults.Layer` (or, for the honeypot, a
layer of its own): it does what a server with that one bug would do, and leaves
every other request to the reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.faults import BOOK, Captured, refusal
from tests.faults.asgi import book_match, call, emit, json_answer, json_body, read_body

from .broken_datasets import default_dataset, durations

Edit = Callable[[Scope, dict[str, Any]], Any]

KNOWN_FIELDS = {
    "startTime", "endTime", "inviteeName", "inviteeEmail", "inviteePhone", "inviteeTimezone",
    "inviteeLocale", "customFields", "inviteeNotes", "source", "honeypotValue", "captchaToken",
}  # fmt: skip


def _book(scope: Scope) -> re.Match[str]:
    match = BOOK.match(scope["path"])
    assert match is not None, "a Layer's rewrite runs on the book endpoint only"
    return match


def _instant(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def refuse_if(test: Callable[[dict[str, Any]], bool]) -> Edit:
    """A body edit that refuses as invalid every body ``test`` holds for."""

    def change(scope: Scope, data: dict[str, Any]) -> Any:
        return refusal("The request body is invalid.") if test(data) else None

    return change


# Rule 3 and 10: times.


def times_as_sent(booking: dict[str, Any], request: Any) -> None:
    booking["startTime"], booking["endTime"] = request["startTime"], request["endTime"]


def naive_as_utc(scope: Scope, data: dict[str, Any]) -> None:
    for name in ("startTime", "endTime"):
        value = data.get(name)
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", value):
            data[name] = value + "Z"


def chunked_uncapped(scope: Scope, body: bytes) -> tuple[Scope, bytes] | None:
    """A server that caps Content-Length but reads a chunked body whole, and books it."""
    if "content-length" in Headers(scope=scope) or len(body) <= 64 * 1024:
        return None
    data = json_body(body)
    if data is None:
        return None
    if isinstance(data, dict):
        data.pop("inviteeNotes", None)
    return scope, json.dumps(data).encode()


# Rules 6 and 8: duration and the day's closing time.


def no_duration_check(scope: Scope, data: dict[str, Any]) -> None:
    minutes = durations().get(_book(scope)["event_type"])
    try:
        start = _instant(data["startTime"])
    except (KeyError, ValueError):
        return
    if minutes:
        end = start + timedelta(minutes=minutes)
        data["endTime"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")


def _closing(scope: Scope, data: dict[str, Any]) -> tuple[datetime, datetime, datetime] | None:
    """The request's start and end, and its host's closing time that day, in the host's zone."""
    hosts = {host["slug"]: host for host in default_dataset()["hosts"]}
    host = hosts.get(_book(scope)["host"])
    try:
        start, end = _instant(data["startTime"]), _instant(data["endTime"])
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


def last_slot_refused(scope: Scope, data: dict[str, Any]) -> Captured | None:
    edges = _closing(scope, data)
    if edges is not None and edges[1] == edges[2]:
        return refusal("The selected time slot is no longer available.")
    return None


def past_closing_accepted(scope: Scope, data: dict[str, Any]) -> Captured | None:
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
    return json_answer(201, booking)


# Rule 4: the honeypot.


def honeypot_stored(app: ASGIApp) -> ASGIApp:
    """A filled honeypot refused, but only after the booking was stored."""

    async def layer(scope: Scope, receive: Receive, send: Send) -> None:
        if book_match(scope) is None:
            await app(scope, receive, send)
            return
        body = await read_body(receive)
        data = json_body(body)
        if isinstance(data, dict) and data.get("honeypotValue"):
            data["honeypotValue"] = ""
            await call(app, scope, json.dumps(data).encode())  # booked, then denied
            await emit(send, refusal("The booking request could not be accepted."))
            return
        await emit(send, await call(app, scope, body))

    return layer


# Rule 2: the 404s.


def validation_first(scope: Scope, body: bytes) -> Captured | None:
    if not Headers(scope=scope).get("content-type", "").startswith("application/json"):
        return refusal("The request body must be application/json.", 415)
    try:
        json.loads(body)
    except ValueError:
        return refusal("The request body is not valid JSON.")
    return None


def other_hosts_event(scope: Scope, body: bytes) -> tuple[Scope, bytes] | None:
    match = _book(scope)
    owners = {
        event["slug"]: host["slug"]
        for host in default_dataset()["hosts"]
        for event in host["eventTypes"]
    }
    owner = owners.get(match["event_type"])
    if owner and owner != match["host"]:
        path = f"/api/public/scheduling/{owner}/{match['event_type']}/book"
        return {**scope, "path": path, "raw_path": path.encode()}, body
    return None


# The error format.


def html_framework_errors(scope: Scope, request: Any, captured: Captured) -> None:
    if (captured.status in (404, 405) and not BOOK.match(scope["path"])) or captured.status == 405:
        captured.headers["content-type"] = "text/html; charset=utf-8"
        captured.body = b"<html><body><h1>Not here</h1></body></html>"


def renamed_error_key(scope: Scope, request: Any, captured: Captured) -> None:
    body = captured.json()
    if captured.status == 400 and isinstance(body, dict) and "error" in body:
        body["message"] = body.pop("error")
        captured.body = json.dumps(body).encode()
