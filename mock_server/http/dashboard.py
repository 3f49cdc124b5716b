"""The live dashboard: its page at ``/__admin/``, its assets, and the journal as a live stream.

The page is static (``mock_server/dashboard/``, shipped in the package, no build step,
nothing from a CDN) and drives the mock through the same control API as anything
else. It sits behind AdminGuard: loopback ``Host`` names only, same origin only; with
``--admin-token`` the page and its assets, which hold no data, load without the token,
and the page sends it with every call. They are served with a Content-Security-Policy
that allows nothing but this origin, and no framing.

``GET /__admin/requests/stream`` is the journal as server-sent events: a ``hello``
naming this process (ids start again in a new one) and the last id recorded; with
``?after=<id>``, the exchanges kept that are newer than that id; then each new one as
it is recorded. The stream ends after ``seconds`` (a client reconnects with
the last id it saw; 0 sends the replay alone), or when its reader falls a thousand
exchanges behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from importlib.resources import files
from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InvalidRequest, MethodNotAllowed, NotFound
from .journal import Journal
from .responses import send_error

ASSETS = {
    "dashboard.js": b"text/javascript; charset=utf-8",
    "dashboard.css": b"text/css; charset=utf-8",
}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self';"
        b" img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]
KEEP_ALIVE_SECONDS = 15.0
DEFAULT_STREAM_SECONDS = 300
MAX_STREAM_SECONDS = 3600


PAGE = "index.html"


def _read_files() -> dict[str, bytes]:
    """The page and its assets, read once at start-up: a broken install fails there."""
    folder = files("mock_server").joinpath("dashboard")
    return {name: folder.joinpath(name).read_bytes() for name in (PAGE, *ASSETS)}


def _int_param(query: QueryParams, name: str, low: int, high: int) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if (
        not (value.isascii() and value.isdigit())
        or len(value) > 13
        or not low <= int(value) <= high
    ):
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def _event(entry: dict[str, Any]) -> bytes:
    data = json.dumps(entry, separators=(",", ":"))
    return f"id: {entry['id']}\nevent: request\ndata: {data}\n\n".encode()


class Dashboard:
    def __init__(self, app: ASGIApp, *, prefix: str, journal: Journal) -> None:
        self.app = app
        self.prefix = prefix
        self.journal = journal
        self.files = _read_files()
        # Ids start again at 1 in a new process: a reader that sees another instance
        # knows its last id means nothing here.
        self.instance = uuid.uuid4().hex
        self.stream_path = prefix + "/requests/stream"
        self.asset_prefix = prefix + "/dashboard/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path == self.prefix:
            await self._redirect(scope, send)
        elif path == self.prefix + "/":
            await self._file(scope, send, PAGE, b"text/html; charset=utf-8")
        elif path.startswith(self.asset_prefix):
            name = path[len(self.asset_prefix) :]
            if name in ASSETS:
                await self._file(scope, send, name, ASSETS[name])
            else:
                await send_error(send, NotFound(f"No dashboard file {name[:100]!r}."))
        elif path == self.stream_path:
            await self._stream(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _redirect(self, scope: Scope, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", (self.prefix + "/").encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _file(self, scope: Scope, send: Send, name: str, content_type: bytes) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            error = MethodNotAllowed(
                "The dashboard's files answer GET and HEAD only.", headers={"Allow": "GET, HEAD"}
            )
            await send_error(send, error)
            return
        body = self.files[name]
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            *SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)  # Connexion's 405 with Allow
            return
        try:
            query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            after = _int_param(query, "after", 0, 10**12)
            seconds = _int_param(query, "seconds", 0, MAX_STREAM_SECONDS)
        except InvalidRequest as error:
            await send_error(send, error)
            return
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (DEFAULT_STREAM_SECONDS if seconds is None else seconds)
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            with self.journal.subscribe() as queue:
                last = -1
                hello = {"instance": self.instance, "lastId": self.journal.last_id}
                await send(_chunk(f"event: hello\ndata: {json.dumps(hello)}\n\n".encode()))
                for entry in self.journal.after(after) if after is not None else []:
                    await send(_chunk(_event(entry)))
                    last = entry["id"]
                while not gone.done():
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    getting = asyncio.ensure_future(queue.get())
                    await asyncio.wait(
                        {getting, gone},
                        timeout=min(left, KEEP_ALIVE_SECONDS),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if not getting.done():
                        getting.cancel()
                        if not gone.done() and loop.time() < deadline:
                            await send(_chunk(b": keep-alive\n\n"))
                        continue
                    entry = getting.result()
                    if entry is None:  # fell behind: end, the reader resumes with ?after=
                        break
                    if entry["id"] > last:
                        await send(_chunk(_event(entry)))
                        last = entry["id"]
            if not gone.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone


def _chunk(body: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": True}


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
