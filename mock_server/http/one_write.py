"""One write per response under uvicorn: the head goes out with the body.

uvicorn writes a response's status line and headers to the socket when the app sends
``http.response.start``, and the body when it sends ``http.response.body``: two system
calls for an answer of a few hundred bytes. On this kind of machine (a virtual one, where
a loopback write costs 30 to 35 us) the two writes were a quarter of a booking's time
(benchmarks/throughput.py; timed around uvicorn's ``send``).

mock_server.http.connection hands uvicorn's request cycle a HeldTransport, which holds the
cycle's first write back until its next one, and sends both together. Whatever comes first of the
next write, ``close()``, or the event loop's next turn sends what is held, so a head
never waits on anything: a streamed answer (the dashboard's event stream, a slow-body
fault) has its head on the wire as soon as the app yields, as before. Everything else
is the transport's own. Under another server, or a uvicorn whose request cycle has no
``transport``, requests pass through untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

# Per event loop, the transports holding a head, flushed together on the loop's next turn:
# one callback a turn for every response begun in it, not one a response.
_HOLDING: dict[asyncio.AbstractEventLoop, list[HeldTransport]] = {}


def _flush_held(loop: asyncio.AbstractEventLoop) -> None:
    for transport in _HOLDING.pop(loop, ()):
        transport.flush()


class HeldTransport:
    """A transport that keeps its first write until the next one, a close, or a loop turn."""

    __slots__ = ("_first", "_held", "_transport")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = bytes(data)
            loop = asyncio.get_running_loop()
            holding = _HOLDING.get(loop)
            if holding is None:
                holding = _HOLDING[loop] = []
                loop.call_soon(_flush_held, loop)
            holding.append(self)
            return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        """Send what is held, if anything is."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
