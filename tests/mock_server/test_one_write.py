"""One write per response under uvicorn (mock_server.http.one_write)."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from mock_server.app import Settings, create_app
from mock_server.http.connection import Connection
from mock_server.http.faults import TRANSPORT_KEY
from mock_server.http.one_write import HeldTransport
from tests.conftest import PINNED
from tests.servers import serve_app

from .test_rules import BOOK, body

URL = BOOK.format(user="jane-doe", event="30min-call")


def first_reads(base: str, count: int) -> list[bytes]:
    """``count`` bookings on one connection; what the first recv() after each returned."""
    address = urlsplit(base)
    payload = json.dumps(body(inviteeEmail="not-an-email")).encode()
    request = (
        f"POST {URL} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    reads = []
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        for _ in range(count):
            sock.sendall(request)
            first = sock.recv(65536)
            head, _, rest = first.partition(b"\r\n\r\n")
            length = int(
                next(
                    line
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ).split(b":")[1]
            )
            reads.append(first)
            while len(rest) < length:  # read the remainder, if any, before the next request
                more = sock.recv(65536)
                rest += more
                reads[-1] += more
    return reads


def whole(read: bytes) -> bool:
    head, _, rest = read.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(x for x in lines if x.lower().startswith(b"content-length:")).split(b":")[1])
    return len(rest) == length


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_uvicorns_request_cycle_writes_through_a_held_transport(http):
    """Under both of uvicorn's HTTP protocols the response's writes go through HeldTransport
    (seen where Connection hands the transport to the faults): were uvicorn to change
    its request cycle, this fails rather than the saving silently going away."""
    seen = []

    async def probe(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(type(scope.get(TRANSPORT_KEY)))
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve_app(Connection(probe), http=http) as base:
        assert [httpx.get(base).text for _ in range(3)] == ["ok"] * 3
    assert seen == [HeldTransport] * 3


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_answers_stay_whole_and_in_order_on_a_kept_alive_connection(http):
    settings = Settings(clock=PINNED, clock_frozen=True, rate_limit="1000/minute")
    with serve_app(create_app(settings), http=http) as base:
        reads = first_reads(base, 30)
    assert all(read.startswith(b"HTTP/1.1 400 ") for read in reads)
    assert [whole(read) for read in reads] == [True] * 30


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def close(self) -> None:
        self.calls.append(("close", b""))

    def is_closing(self) -> bool:
        return False


def test_the_held_head_goes_with_the_next_write():
    async def scenario() -> list[tuple[str, bytes]]:
        real = Recording()
        held = HeldTransport(real)
        held.write(b"head")
        assert real.calls == []
        held.write(b"body")
        held.write(b"more")
        await asyncio.sleep(0)
        return real.calls

    assert asyncio.run(scenario()) == [("write", b"headbody"), ("write", b"more")]


def test_a_held_head_never_waits_past_the_loops_next_turn():
    """A streamed answer (an event stream, a slow body): the head leaves as soon as the app
    yields, not with the first chunk."""

    async def scenario() -> list[tuple[str, bytes]]:
        real = Recording()
        held = HeldTransport(real)
        held.write(b"head")
        await asyncio.sleep(0)
        return real.calls

    assert asyncio.run(scenario()) == [("write", b"head")]


def test_closing_sends_the_held_head_first():
    async def scenario() -> list[tuple[str, bytes]]:
        real = Recording()
        held = HeldTransport(real)
        held.write(b"head")
        held.close()
        assert not held.is_closing()  # everything else is the transport's own
        await asyncio.sleep(0)
        return real.calls

    assert asyncio.run(scenario()) == [("write", b"head"), ("close", b"")]


def test_heads_held_in_one_turn_all_leave_on_the_next():
    """Responses begun in the same turn of the loop (many connections under load) share
    one flush; none of their heads waits longer than when each had its own."""

    async def scenario() -> list[list[tuple[str, bytes]]]:
        reals = [Recording() for _ in range(3)]
        helds = [HeldTransport(real) for real in reals]
        for n, held in enumerate(helds):
            held.write(b"head%d" % n)
        helds[1].write(b"body1")  # this one completes in the same turn
        await asyncio.sleep(0)
        late = Recording()
        HeldTransport(late).write(b"late")  # a head of the next turn is flushed on the turn after
        await asyncio.sleep(0)
        return [real.calls for real in reals] + [late.calls]

    assert asyncio.run(scenario()) == [
        [("write", b"head0")],
        [("write", b"head1body1")],
        [("write", b"head2")],
        [("write", b"late")],
    ]
