"""``--forwarded-allow-ips``: uvicorn's ProxyHeadersMiddleware, with a quicker trust check.

uvicorn checks each X-Forwarded-For address against the trusted proxies by parsing it
with ``ipaddress`` and remembers the last 4,096 answers. A load test's clients are tens
of thousands of addresses, each seen a few times, so that cache misses nearly always and
every request paid for a parse. Without trusted networks, an address written without a
colon is trusted exactly when its text is one of the trusted IPv4 addresses (whose
written form is unique: ``ipaddress`` refuses leading zeros) or one of the literals, so
a set lookup answers it. Anything else (IPv6, networks, ``*``) is uvicorn's own check.
"""

from __future__ import annotations

from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

try:  # private to uvicorn: without it, its own check is used unchanged
    from uvicorn.middleware.proxy_headers import _TrustedHosts
except ImportError:  # pragma: no cover
    _TrustedHosts = None


if _TrustedHosts is not None:

    class QuickTrust(_TrustedHosts):  # type: ignore[misc, valid-type]
        def __init__(self, trusted_hosts: list[str] | str) -> None:
            super().__init__(trusted_hosts)
            self.quick: frozenset[str] | None = None
            if not self.always_trust and not self.trusted_networks:
                written = {str(host) for host in self.trusted_hosts if host.version == 4}
                self.quick = frozenset(written | self.trusted_literals)

        def __contains__(self, host: str | None) -> bool:
            if self.quick is not None and host and ":" not in host:
                return host in self.quick
            return bool(super().__contains__(host))

        def get_trusted_client_address(self, x_forwarded_for: str) -> tuple[str, int]:
            # One address with no port (a load test's, a single proxy's) is the client,
            # trusted or not: uvicorn's answer, without parsing a list.
            if "," not in x_forwarded_for and ":" not in x_forwarded_for:
                host = x_forwarded_for.strip()
                if not host.startswith("["):
                    return host, 0
            return super().get_trusted_client_address(x_forwarded_for)  # type: ignore[no-any-return]


class ForwardedFor(ProxyHeadersMiddleware):
    """The client a trusted proxy names in X-Forwarded-For, as uvicorn reads it."""

    def __init__(self, app: Any, trusted_hosts: list[str] | str = "127.0.0.1") -> None:
        super().__init__(app, trusted_hosts)
        if _TrustedHosts is not None:
            self.trusted_hosts = QuickTrust(trusted_hosts)
