"""431 for request headers over the limit, before anything reads or counts the request."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import HeadersTooLarge
from .responses import send_error

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
"""Names and values of all request headers together; Node.js refuses beyond the same."""


class HeaderLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                message = (
                    f"The request headers total {size} bytes; the mock accepts at most"
                    f" {self.max_bytes}."
                )
                await send_error(send, HeadersTooLarge(message))
                return
        await self.app(scope, receive, send)
