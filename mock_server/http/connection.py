"""Outermost: what the app needs of the connection a request came on, as one layer.

For each HTTP request:

1. under uvicorn, the request cycle writes through a HeldTransport, so a response's
   head goes out with its body in one write (mock_server.http.one_write);
2. that transport is put in the scope for the faults below HTTP (mock_server.http.faults);
3. an exception nobody below answered is logged and, when no response has started,
   answered with the last-resort 500 in the documented ``{"error"}`` format, then raised
   on to the server (what Connexion's ServerErrorMiddleware did here with our handler).

These were three layers, the last with a ``send`` wrapper called twice a response. Under
uvicorn, whether the response has started is the request cycle's own
``response_started``, so no wrapper is needed; under another server (an in-process test
client), ``send`` is wrapped to see the start, as Starlette does.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import TRANSPORT_KEY
from .one_write import HeldTransport
from .responses import send_error, to_booking_error

_CYCLES = ("RequestResponseCycle",)  # uvicorn's, in its httptools and h11 protocols
_NEEDED = ("abort", "close", "write", "is_closing")  # of a transport the faults can use


class Connection:
    """One write per response, the transport for the faults, the last-resort 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._usable: dict[type, bool] = {}  # transport class -> whether faults can use it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn's send is a bound method of its request cycle, which holds the transport.
        cycle = getattr(send, "__self__", None)
        uvicorn = type(cycle).__name__ in _CYCLES and hasattr(cycle, "response_started")
        transport = getattr(cycle, "transport", None)
        if uvicorn and transport is not None and not isinstance(transport, HeldTransport):
            transport = cycle.transport = HeldTransport(transport)
        if self._can_fault(transport):
            scope[TRANSPORT_KEY] = transport
        if uvicorn:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:
                if not cycle.response_started:
                    await send_error(send, to_booking_error(exc))
                raise
            return
        started = False

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except Exception as exc:
            if not started:
                await send_error(send, to_booking_error(exc))
            raise

    def _can_fault(self, transport: Any) -> bool:
        # asyncio's or uvloop's: the latter is no asyncio.Transport subclass.
        usable = self._usable.get(type(transport))
        if usable is None:
            usable = self._usable[type(transport)] = all(hasattr(transport, n) for n in _NEEDED)
        return usable
