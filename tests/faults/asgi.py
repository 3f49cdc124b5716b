"""ASGI plumbing for broken servers: capture the reference's answer, change it, send it on.

A broken server here is a `Layer` in front of the reference app: it reads the request
whole, may change it or answer instead of the reference (``before``), and may change
the reference's answer (``after``). Answers leave through `emit` alone, and a JSON
answer of our own is a `Captured` made by `json_answer` (or sent by `send_json`).
Headers are read and changed through Starlette's `Headers`, as ASGI middleware does.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BOOK = re.compile(r"^/api/public/scheduling/(?P<host>[^/]+)/(?P<event_type>[^/]+)/book$")

RawHeaders = list[tuple[bytes, bytes]]


def book_match(scope: Scope) -> re.Match[str] | None:
    """The book endpoint's host and event type, for an HTTP request to it (any method)."""
    return BOOK.match(scope["path"]) if scope["type"] == "http" else None


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def json_body(body: bytes) -> Any:
    """The body as JSON, or None where it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None


def replay(body: bytes) -> Receive:
    """A receive that hands over ``body`` once, then waits as for a client that stays."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def with_length(scope: Scope, body: bytes) -> Scope:
    """The scope with a Content-Length that fits ``body`` (a replayed body is never chunked)."""
    scope = dict(scope)  # MutableHeaders copies the header list into the copy
    MutableHeaders(scope=scope)["content-length"] = str(len(body))
    return scope


@dataclass
class Captured:
    """A whole answer: the reference's, kept to change, or one of our own."""

    status: int = 0
    headers: MutableHeaders = field(default_factory=MutableHeaders)
    body: bytes = b""

    def json(self) -> Any:
        return json_body(self.body)


def json_answer(status: int, content: Any, headers: Iterable[tuple[bytes, bytes]] = ()) -> Captured:
    """An answer with a JSON body (``content`` dumped) and ``headers`` besides its type."""
    raw: RawHeaders = [(b"content-type", b"application/json"), *headers]
    return Captured(status, MutableHeaders(raw=raw), json.dumps(content).encode())


def refusal(message: str, status: int = 400) -> Captured:
    """The API's error answer: ``{"error": message}``."""
    return json_answer(status, {"error": message})


async def emit(send: Send, captured: Captured) -> None:
    """Send a whole answer, its Content-Length set to the body it has now."""
    captured.headers["content-length"] = str(len(captured.body))
    headers = captured.headers.raw
    await send({"type": "http.response.start", "status": captured.status, "headers": headers})
    await send({"type": "http.response.body", "body": captured.body})


async def send_json(
    send: Send, status: int, content: Any, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await emit(send, json_answer(status, content, headers))


async def call(app: ASGIApp, scope: Scope, body: bytes) -> Captured:
    """Run the app on a request and keep its whole answer."""
    captured = Captured()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = MutableHeaders(raw=list(message.get("headers", [])))
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")

    await app(with_length(scope, body), replay(body), send)
    return captured


# What a layer does with a request: a changed (scope, body), an answer of its own, or
# None to pass it on; and with the reference's answer, given the request's JSON body.
Before = Callable[[Scope, bytes], tuple[Scope, bytes] | Captured | None]
After = Callable[[Scope, Any, Captured], None]


class Layer:
    """An ASGI layer in front of an app, for every request or the book endpoint's alone.

    ``before(scope, body)`` may return a changed (scope, body), or a Captured answer
    that stands instead of the app's; ``after(scope, request, captured)`` may change
    the app's answer in place (``request`` is the body as JSON, None where it is not).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        before: Before | None = None,
        after: After | None = None,
        book_only: bool = True,
    ) -> None:
        self.app = app
        self.before = before
        self.after = after
        self.book_only = book_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.book_only and not book_match(scope)):
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
            self.after(scope, json_body(body), captured)
        await emit(send, captured)


def json_request(change: Callable[[Scope, dict[str, Any]], Any]) -> Before:
    """A `before` that edits JSON object bodies in place; ``change`` may return an answer."""

    def before(scope: Scope, body: bytes) -> tuple[Scope, bytes] | Captured | None:
        data = json_body(body)
        if not isinstance(data, dict):
            return None
        result = change(scope, data)
        if isinstance(result, Captured):
            return result
        return scope, json.dumps(data).encode()

    return before


def booking_answer(change: Callable[[dict[str, Any], Any], None]) -> After:
    """An `after` that edits 201 bodies: ``change(booking, request)``."""

    def after(scope: Scope, request: Any, captured: Captured) -> None:
        if captured.status == 201:
            booking = captured.json()
            change(booking, request)
            captured.body = json.dumps(booking).encode()

    return after
