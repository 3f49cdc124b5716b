"""The watch's reverse proxy: every request to the upstream and every answer back, unchanged.

An ASGI app (served by uvicorn) over httpx. Bodies stream both ways; only the book
operation's POSTs are copied, up to a bound, for the judge. What changes on the way,
as RFC 9110 asks of a proxy (7.6):

- the hop-by-hop fields are not forwarded: ``Connection`` and the fields it names,
  ``Proxy-Connection``, ``Keep-Alive``, ``TE``, ``Transfer-Encoding``, ``Upgrade``;
- ``Host`` names the upstream, and ``Via`` names the proxy;
- so that the upstream counts the same clients the watch judges: with
  ``forward_for``, ``X-Forwarded-For`` names the client; else, when the upstream and
  the client are both on loopback, the request leaves from the client's own address.

An upstream that does not answer gets the client a 502 in the API's ``{"error"}`` format.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from starlette.types import Receive, Scope, Send

from .. import spec
from ..target import Exchange

HOP_BY_HOP = frozenset(
    {"connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade"}
)
VIA = b"1.1 booking-contract-watch"
CAPTURE_LIMIT = 256 * 1024  # per body of a judged exchange; more is passed on, not judged
MAX_UPSTREAM_CLIENTS = 256  # one pool per source address
_NOT_REPLAYED = {"host", "via", "content-length"}
# httpx keeps 20 idle connections by default: under more concurrency each request beyond
# them would open (and close) a connection of its own.
POOL = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)


@dataclass
class Watched:
    """One book request as the watch saw it pass: the exchange, and what the judge adds."""

    exchange: Exchange
    sent: float  # epoch seconds
    received: float  # when the answer's head arrived, or the upstream failed
    complete: bool = True  # False when a body was longer than CAPTURE_LIMIT
    error: str | None = None  # why the upstream gave no (whole) answer
    abandoned: bool = False  # the client left before its request was all sent


def hop_by_hop(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """The hop-by-hop field names of a message: the fixed ones and those Connection names."""
    names = {name.encode() for name in HOP_BY_HOP}
    for name, value in headers:
        if name.lower() == b"connection":
            names |= {token.strip().lower() for token in value.split(b",") if token.strip()}
    return names


def end_to_end(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    dropped = hop_by_hop(headers)
    return [(name, value) for name, value in headers if name.lower() not in dropped]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def book_pattern() -> re.Pattern[str]:
    parts = re.split(r"\{[^}/]+\}", spec.book_path())
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")


class WatchingProxy:
    """Forwards to ``upstream``; hands each book POST to ``on_exchange`` once it ends."""

    # The exchange's URL is the upstream's, so its curl line reproduces against it.

    def __init__(
        self,
        upstream: str,
        *,
        on_exchange: Callable[[Watched], None],
        forward_for: bool = False,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{upstream!r} is not an http(s) URL")
        self.upstream = upstream.rstrip("/")
        self.authority = parts.netloc.encode()
        self.on_exchange = on_exchange
        self.forward_for = forward_for
        # On loopback, a client's own address can be the request's source address.
        self.same_source = not forward_for and _is_loopback(parts.hostname)
        self.timeout = httpx.Timeout(timeout, connect=10.0)
        self.book = book_pattern()
        self._clients: OrderedDict[str | None, httpx.AsyncClient] = OrderedDict()
        self._retired: list[httpx.AsyncClient] = []
        self.in_flight = 0

    def identity(self) -> str:
        """How the upstream tells this proxy's clients apart, in words."""
        if self.forward_for:
            return "by X-Forwarded-For, which the upstream trusts from here"
        if self.same_source:
            return "by address: each loopback client's requests leave from its own address"
        return "not at all: every request comes from this proxy, judged as one client"

    def client_of(self, scope: Scope) -> str:
        """The client the upstream counts this request for (and the verdict judges)."""
        peer = scope.get("client")
        address = peer[0] if peer else "unknown"
        if self.forward_for or (self.same_source and _is_loopback(address)):
            return address
        return "proxy"

    def _upstream_client(self, source: str | None) -> httpx.AsyncClient:
        client = self._clients.get(source)
        if client is None:
            if len(self._clients) >= MAX_UPSTREAM_CLIENTS:
                # Retired: nothing new goes through it; closed with the others at the end.
                self._retired.append(self._clients.popitem(last=False)[1])
            transport = (
                httpx.AsyncHTTPTransport(local_address=source, limits=POOL) if source else None
            )
            client = httpx.AsyncClient(
                transport=transport,
                timeout=self.timeout,
                follow_redirects=False,
                limits=POOL,
            )
            self._clients[source] = client
        self._clients.move_to_end(source)
        return client

    async def aclose(self) -> None:
        for client in [*self._clients.values(), *self._retired]:
            await client.aclose()
        self._clients.clear()
        self._retired.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets are not the booking API's
        self.in_flight += 1
        try:
            await self._forward(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        judged = scope["method"] == "POST" and bool(self.book.match(path))
        client = self.client_of(scope)
        replaced = {b"host", b"x-forwarded-for"} if self.forward_for else {b"host"}
        headers = [
            (b"host", self.authority),
            *((k, v) for k, v in end_to_end(scope["headers"]) if k.lower() not in replaced),
            (b"via", VIA),
        ]
        if self.forward_for:
            headers.append((b"x-forwarded-for", client.encode()))
        captured = bytearray()
        complete = True
        gone = False  # the client left before its request was all sent

        async def body() -> AsyncIterator[bytes]:
            nonlocal complete, gone
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone = True
                    raise _ClientGone()
                if message["type"] != "http.request":
                    return
                chunk = message.get("body", b"")
                if judged:
                    if len(captured) + len(chunk) <= CAPTURE_LIMIT:
                        captured.extend(chunk)
                    else:
                        complete = False
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        url = self.upstream + path + (f"?{query}" if query else "")
        source = client if self.same_source and client != "proxy" else None
        upstream = self._upstream_client(source)
        sent_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        # Not client.build_request: that adds the client's defaults (Accept, User-Agent,
        # Connection, cookies) to what the client sent.
        framed = {k.lower(): v for k, v in scope["headers"]}
        has_body = b"transfer-encoding" in framed or framed.get(b"content-length", b"0") != b"0"
        # A request without a body goes without one: a stream would be sent chunked.
        request = httpx.Request(
            scope["method"], url, headers=sent_headers, content=body() if has_body else None
        )
        sent, started = time.time(), time.monotonic()
        received = sent
        answered = bytearray()
        status, answer, error = 0, [], None
        try:
            try:
                response = await upstream.send(request, stream=True)
            except (_ClientGone, httpx.HTTPError) as failure:
                received = time.time()
                if gone:  # the client's doing, not the upstream's: nobody to answer
                    error = "the client left before its request was all sent"
                    return
                error = f"{type(failure).__name__}: {failure}"
                await _bad_gateway(send, self.upstream, failure)
                return
            received = time.time()
            status = response.status_code
            answer = end_to_end(list(response.headers.raw))
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [*answer, (b"via", VIA)],
                    }
                )
                async for chunk in response.aiter_raw():
                    if judged:
                        if len(answered) + len(chunk) <= CAPTURE_LIMIT:
                            answered.extend(chunk)
                        else:
                            complete = False
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except httpx.HTTPError as failure:
                # The upstream broke off mid-answer: so does the proxy (uvicorn closes the
                # connection of an answer left incomplete), as the client would have seen.
                error = f"{type(failure).__name__} mid-answer: {failure}"
                status = 0
            finally:
                await response.aclose()
        finally:
            if judged:
                exchange = Exchange(
                    method=scope["method"],
                    url=url,
                    # As the client sent them: curl names the host and the length itself.
                    request_headers={
                        k: v for k, v in sent_headers if k.lower() not in _NOT_REPLAYED
                    },
                    request_body=bytes(captured),
                    status=status,
                    response_headers=httpx.Headers(
                        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer]
                    ),
                    response_body=bytes(answered),
                    client=client,
                    elapsed=time.monotonic() - started,
                )
                self.on_exchange(Watched(exchange, sent, received, complete, error, gone))


class _ClientGone(Exception):
    """The client went away before its request body was all read."""


async def _bad_gateway(send: Send, upstream: str, error: Exception) -> None:
    body = json.dumps(
        {"error": f"The upstream {upstream} did not answer: {type(error).__name__}: {error}"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 502,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"via", VIA),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
