"""CORS in two parts: the booking API for pages anywhere, the control API for listed ones."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SplitCORS:
    """Starlette's CORSMiddleware, configured per part of the URL space.

    Requests under ``admin_prefix`` get CORS headers only when their origin is one of
    ``admin_origins`` (none by default); any other origin reaches the app without them,
    preflights included, and AdminGuard refuses it. Everything else gets ``origins``.

    A public request without ``Origin`` (curl, a server, a load test) gets from
    CORSMiddleware only ``Vary: Origin``; that is added here directly, without the
    middleware's per-response header objects (about 3% of a booking's time).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        admin_prefix: str,
        origins: Sequence[str],
        admin_origins: Sequence[str],
        expose_headers: Sequence[str],
    ) -> None:
        self.app = app
        self.prefix = admin_prefix
        options = {"allow_methods": ["*"], "allow_headers": ["*"], "max_age": 600}
        self.public = CORSMiddleware(
            app, allow_origins=origins, expose_headers=expose_headers, **options
        )
        self.admin = (
            CORSMiddleware(app, allow_origins=admin_origins, **options) if admin_origins else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            for name, _ in scope["headers"]:
                if name == b"origin":
                    await self.public(scope, receive, send)
                    return
            await self.app(scope, receive, _varying_on_origin(send))
            return
        origin = Headers(scope=scope).get("origin")
        if self.admin is not None and origin is not None and self.admin.is_allowed_origin(origin):
            await self.admin(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _varying_on_origin(send: Send) -> Send:
    """``send`` adding ``Vary: Origin`` to the response, as CORSMiddleware does without an
    Origin: joined to a Vary the app set, into one field."""

    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            for name, _ in headers:
                if name.lower() == b"vary":
                    varies = [value for name, value in headers if name.lower() == b"vary"]
                    headers = [(name, value) for name, value in headers if name.lower() != b"vary"]
                    headers.append((b"vary", b", ".join([*varies, b"Origin"])))
                    break
            else:  # the app set no Vary: one more field, the rest as they are
                headers = [*headers, (b"vary", b"Origin")]
            message = {**message, "headers": headers}
        await send(message)

    return send_varying
