"""The control API's door: open on loopback, bearer token when configured, else closed."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import BookingError, NotFound
from ._send import send_error


class Unauthorized(BookingError):
    status = 401
    message = "The control API needs Authorization: Bearer <token> (see --admin-token)."


class AdminGuard:
    def __init__(self, app: ASGIApp, *, prefix: str, enabled: bool, token: str | None) -> None:
        self.app = app
        self.prefix = prefix
        self.enabled = enabled
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (
            scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        if not self.enabled:
            await send_error(
                send,
                NotFound(
                    "The control API is off: the mock listens on a non-loopback address"
                    " without --admin-token."
                ),
            )
            return
        if self.token is not None and not self._authorized(scope):
            await send_error(send, Unauthorized(headers={"WWW-Authenticate": "Bearer"}))
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    token.strip(), self.token or b""
                )
        return False
