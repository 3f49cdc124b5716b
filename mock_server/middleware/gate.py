"""The book endpoint's gate: rule 1 (rate limit) then rule 2 (404s), before any validation.

PRODUCT.md puts the rate limit first so nothing behind it can be hammered, and
the 404s before shape validation; Connexion validates before any handler runs,
so both rules live here, in front of it. The gate also stamps the RateLimit
fields on every response of the endpoint, whoever produced it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..booking import BookingService
from ..errors import NotFound, RateLimited, StorageUnavailable
from ..ratelimit import RateLimiter
from ._send import send_error


def path_pattern(template: str) -> re.Pattern[str]:
    """A regex for an OpenAPI path template, one named group per parameter."""
    parts = re.split(r"\{([^}/]+)\}", template)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def match_path(pattern: re.Pattern[str], scope: Scope) -> re.Match[str] | None:
    """Match the path as sent: in the decoded path an encoded slash (jane%2Fdoe) would
    look like two segments, miss the endpoint, and so escape its rate limit."""
    raw = scope.get("raw_path")
    return pattern.match(raw.decode("latin-1") if raw else scope["path"])


def client_ip(scope: Scope) -> str:
    """The TCP peer, or the client a trusted proxy named (set by ProxyHeadersMiddleware)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class BookingGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        path_pattern: re.Pattern[str],
        limiter: RateLimiter,
        service: BookingService,
    ) -> None:
        self.app = app
        self.pattern = path_pattern
        self.limiter = limiter
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = match_path(self.pattern, scope)
        if match is None:
            await self.app(scope, receive, send)
            return

        booking = scope["method"] == "POST"
        client = client_ip(scope)
        try:
            quota = await (self.limiter.hit(client) if booking else self.limiter.peek(client))
        except StorageUnavailable as error:
            await send_error(send, error)
            return
        fields = self.limiter.headers(quota)

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A forced 429 (Prefer) sets its own fields; the real ones fill in the rest.
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [field for field in fields if field[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        if not quota.allowed:
            await send_error(send_with_fields, RateLimited(quota.retry_after))
            return
        if booking:
            try:
                self.service.find(unquote(match["userSlug"]), unquote(match["eventSlug"]))
            except NotFound as error:
                await send_error(send_with_fields, error)
                return
        await self.app(scope, receive, send_with_fields)
