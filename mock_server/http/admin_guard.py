"""The control plane's door: only the developer who started the mock drives it.

Three locks, checked in this order:

- **Host**: on a loopback address, ``/__admin`` and the docs answer only requests whose
  ``Host`` is a loopback name (``localhost`` and its subdomains, 127.0.0.0/8, ``[::1]``,
  any port) or one listed with ``--allowed-hosts``. A page on ``evil.example`` whose
  name a DNS rebinding points at 127.0.0.1 sends ``Host: evil.example``: 403.
- **Origin**: ``/__admin`` answers no cross-origin browser request unless its origin
  is listed with ``--admin-cors-origins``: a page elsewhere can neither read the journal
  nor send a "simple" POST that needs no preflight. The mock's own pages (the Swagger
  UI) are same-origin and pass.
- **No framing**: every answer of ``/__admin`` and the docs says ``X-Frame-Options: DENY``
  and ``frame-ancestors 'none'``, so no page elsewhere can clickjack their buttons.
- **Token**: with ``--admin-token``, ``Authorization: Bearer <token>``; without one on a
  non-loopback address, the control API is off. The dashboard's page and its assets
  hold no data and load without it (a browser cannot add the header to a navigation);
  the page asks for the token and sends it with each call.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from ipaddress import ip_address
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BookingError, Forbidden, NotFound, Unauthorized
from .responses import send_error

DOCS_PATHS = ("/ui", "/openapi.json", "/openapi.yaml")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _name_and_port(authority: str, scheme: str) -> tuple[str, int] | None:
    """``Localhost:8080`` -> ("localhost", 8080); None when it is not a plain authority."""
    if not authority or "@" in authority or "/" in authority:
        return None
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname else None


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(name: str, allowed: Iterable[str]) -> bool:
    """A loopback name, or one of ``allowed``: exact, ``.example.com`` for its subdomains too,
    or ``*`` for any."""
    if is_loopback_name(name):
        return True
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == "*" or name == entry:
            return True
        if entry.startswith(".") and (name == entry[1:] or name.endswith(entry)):
            return True
    return False


def _is_protected(path: str, prefix: str) -> bool:
    if path == prefix or path.startswith(prefix + "/"):
        return True
    return any(path == docs or path.startswith(docs + "/") for docs in DOCS_PATHS)


_NO_FRAMING = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


def _unframeable(send: Send) -> Send:
    """No page elsewhere may frame the control plane's pages (clickjacking its buttons)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [field for field in _NO_FRAMING if field[0] not in present]
            if extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


class AdminGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        enabled: bool,
        token: str | None,
        check_host: bool = False,
        allowed_hosts: Iterable[str] = (),
        admin_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.enabled = enabled
        self.token = token.encode() if token else None
        self.check_host = check_host
        self.allowed_hosts = [h.strip().lower() for h in allowed_hosts if h.strip()]
        self.admin_origins = {o.strip().rstrip("/").lower() for o in admin_origins if o.strip()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_protected(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        error = self._host_error(headers, scope)
        if error is None and (scope["path"] + "/").startswith(self.prefix + "/"):
            error = self._admin_error(headers, scope)
        if error is not None:
            await send_error(send, error)
            return
        await self.app(scope, receive, _unframeable(send))

    def _host_error(self, headers: Headers, scope: Scope) -> BookingError | None:
        host = headers.get("host")
        if not self.check_host or host is None:  # no browser sends a request without Host
            return None
        authority = _name_and_port(host, scope.get("scheme", "http"))
        if authority is not None and host_allowed(authority[0], self.allowed_hosts):
            return None
        return Forbidden(
            f"Host {host[:100]!r} is not a loopback name: the control API and the docs answer"
            " localhost, 127.0.0.1 and [::1] only (DNS rebinding). Name it with"
            " --allowed-hosts to open it."
        )

    def _admin_error(self, headers: Headers, scope: Scope) -> BookingError | None:
        if not self.enabled:
            return NotFound(
                "The control API is off: the mock listens on a non-loopback address"
                " without --admin-token."
            )
        if not self._same_origin_or_listed(headers, scope):
            return Forbidden(
                "Cross-origin requests to the control API are refused; list the page's"
                " origin with --admin-cors-origins to allow it."
            )
        if self.token is not None and not self._is_page(scope) and not self._authorized(headers):
            return Unauthorized(headers={"WWW-Authenticate": "Bearer"})
        return None

    def _is_page(self, scope: Scope) -> bool:
        """The dashboard's page and assets (mock_server.http.dashboard), which hold no data."""
        path = scope["path"]
        return scope["method"] in ("GET", "HEAD") and (
            path in (self.prefix, self.prefix + "/") or path.startswith(self.prefix + "/dashboard/")
        )

    def _same_origin_or_listed(self, headers: Headers, scope: Scope) -> bool:
        origin = headers.get("origin")
        if origin is None:
            # Browsers send Origin on every CORS and every non-GET request; without one,
            # Fetch Metadata still tells a page's no-cors request from a navigation.
            site = headers.get("sec-fetch-site", "same-origin")
            return site in ("same-origin", "none") or headers.get("sec-fetch-mode") == "navigate"
        normalised = origin.strip().rstrip("/").lower()
        if "*" in self.admin_origins or normalised in self.admin_origins:
            return True
        try:
            parts = urlsplit(normalised)
        except ValueError:  # "http://[::1": not an origin a browser sends
            return False
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null": sandboxed frames, file: pages
        # The Host of a same-origin request names the port the page's scheme implies.
        page = _name_and_port(parts.netloc, parts.scheme)
        served = _name_and_port(headers.get("host", ""), parts.scheme)
        return page is not None and page == served

    def _authorized(self, headers: Headers) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode("latin-1", "replace"), self.token or b""
        )
