"""The journal: a bounded record of recent requests and responses, for "what did my page send?"."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import InvalidRequest
from .arming import ARMED_KEY
from .faults import FAULT_KEY
from .json_input import parse_json_body

BODY_LIMIT = 16 * 1024
DEFAULT_SIZE = 500
# A live reader that falls this far behind is dropped; it reconnects with ?after=.
SUBSCRIBER_BACKLOG = 1000


def _body(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    truncated = len(raw) > BODY_LIMIT
    raw = raw[:BODY_LIMIT]
    try:
        # The requests' own reader: a hostile body the endpoint refused is shown as text.
        body: Any = parse_json_body(raw, None)
    except InvalidRequest:
        body = raw.decode("utf-8", errors="replace")
    out: dict[str, Any] = {"body": body}
    if truncated:
        out["truncated"] = True
    return out


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _readable(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    out["time"] = datetime.fromtimestamp(entry["time"], UTC).isoformat(timespec="milliseconds")
    for side in ("request", "response"):
        headers, raw = entry[side]
        out[side] = {"headers": _headers(headers), **_body(raw)}
    return out


class Journal:
    """The last ``size`` exchanges, newest first; memory is bounded by size and BODY_LIMIT.

    Live readers (the dashboard's stream) subscribe to a queue; an exchange is made
    readable once, for all of them, and only when there is one.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def record(self, entry: dict[str, Any]) -> None:
        """Keep an exchange; its bodies and headers stay raw until someone reads them."""
        entry["id"] = next(self._ids)
        self._entries.appendleft(entry)
        if self._subscribers:
            readable = _readable(entry)
            for queue in list(self._subscribers):
                try:
                    queue.put_nowait(readable)
                except asyncio.QueueFull:
                    self._subscribers.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(None)  # the reader sees the end of its stream

    @property
    def last_id(self) -> int:
        """The id of the newest exchange kept, 0 when there is none."""
        return self._entries[0]["id"] if self._entries else 0

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return [_readable(entry) for entry in itertools.islice(self._entries, limit)]

    def after(self, entry_id: int) -> list[dict[str, Any]]:
        """The exchanges kept that are newer than ``entry_id``, oldest first."""
        newer = itertools.takewhile(lambda entry: entry["id"] > entry_id, self._entries)
        return [_readable(entry) for entry in reversed(list(newer))]

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any] | None]]:
        """A queue of every exchange recorded from now on; None when the reader fell behind."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def clear(self) -> None:
        self._entries.clear()


class JournalMiddleware:
    """Records every exchange except those of the excluded path prefixes (the control API)."""

    def __init__(self, app: ASGIApp, *, journal: Journal, exclude: tuple[str, ...] = ()) -> None:
        self.app = app
        self.journal = journal
        self.exclude = exclude

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exclude):
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        started = time.perf_counter()
        # Read the body up front (up to BODY_LIMIT), so the journal shows what was sent
        # even when the answer came before anyone read it (a forced response, a 404).
        buffered: list[Message] = []
        request_body: list[bytes] = []
        size = 0
        while size <= BODY_LIMIT:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            request_body.append(message.get("body", b""))
            size += len(request_body[-1])
            if not message.get("more_body", False):
                break
        replay = iter(buffered)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        response: dict[str, Any] = {"status": None, "headers": [], "body": []}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                response["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replaying_receive, recording_send)
        finally:
            client = scope.get("client")
            fault = scope.get(FAULT_KEY)
            status = response["status"]
            if status is None:  # nothing sent: a fault below HTTP, or a crash (a 500)
                status = 0 if fault else 500
            marks = {"fault": fault} if fault else {}
            if ARMED_KEY in scope:
                marks["armed"] = scope[ARMED_KEY]
            self.journal.record(
                {
                    "time": arrived,
                    "client": client[0] if client else "unknown",
                    "method": scope["method"],
                    "path": scope["path"],
                    "query": scope.get("query_string", b"").decode("latin-1"),
                    "status": status,
                    **marks,
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                    "request": (scope.get("headers", []), b"".join(request_body)[: BODY_LIMIT + 1]),
                    "response": (response["headers"], b"".join(response["body"])[: BODY_LIMIT + 1]),
                }
            )
