"""The journal: a bounded record of recent requests and responses, for "what did my page send?".

The exchange (mock_server.http.exchange) records every request outside the control API.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidRequest
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
    if "durationMs" in entry:
        out["durationMs"] = round(entry["durationMs"], 2)
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
