"""The suite's clients, each kept inside the rate limit: who the suite is to the target.

The suite must never fail on a 429 it caused itself: every request goes through
a ``ClientPool``, which keeps each client inside the profile's limit (and inside
what the target's ``RateLimit`` field says is left), waits out ``Retry-After``,
and, when the target trusts ``X-Forwarded-For`` from the suite, spreads the load
over many simulated clients instead of waiting.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .profile import RateLimit
from .ratelimit import FieldSyntaxError, parse_quota, parse_retry_after, retry_after_rounding

# Told of every wait before it starts, in the thread that waits: (who, seconds, what for).
OnWait = Callable[[str, float, str], None]


def trusts_peer(rate_limit: RateLimit, address: str | None) -> bool:
    """Whether the target honours X-Forwarded-For from a peer (None: the suite's own address).

    The profile's ``trustedProxies``: None means the suite's own address when
    ``trustsForwardedFor``, else nobody; ``*`` means every peer; otherwise addresses
    and networks, as booking-mock's ``--forwarded-allow-ips``.
    """
    proxies = rate_limit.trusted_proxies
    if proxies is not None and "*" in proxies:
        return True
    if address is None:
        return rate_limit.trusts_forwarded_for
    if proxies is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in proxies
    for proxy in proxies:
        try:
            if ip in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def can_send_from(address: str, base_url: str) -> bool:
    """True when this machine can connect to the target from the source address `address`."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection(
            (parts.hostname or "", port), timeout=2, source_address=(address, 0)
        ):
            return True
    except OSError:
        return False


@dataclass
class Client:
    """One client as the target sees it: this machine, a loopback source address, or by XFF."""

    forwarded_for: str | None = None
    # The loopback address the suite sends from; None: whatever this machine uses.
    source_address: str | None = None
    # Arrival times (monotonic) of this client's requests that count against the limit.
    counted: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    server_remaining: int | None = None
    server_reset_at: float = 0.0

    @property
    def name(self) -> str:
        return self.forwarded_for or self.source_address or "this machine"

    def headers(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.forwarded_for} if self.forwarded_for else {}


class ClientPool:
    """Clients to send requests as, each kept inside the rate limit.

    With ``forwarded`` (the target trusts X-Forwarded-For from the suite) every
    request may come from a simulated client: one that runs low is retired and a
    fresh address from the benchmarking range 198.18.0.0/15 takes its place.
    Otherwise ordinary requests come from this machine, which waits; with
    ``sources`` (a target on this machine) the rate-limit probes and "another
    client" are loopback source addresses, 127.x.y.z, as the load tests' clients.
    Either way ``simulate`` says the probes may be clients of their own.

    ``on_wait`` hears of every wait before it starts (a long run says what it waits
    for); it is called in the waiting thread, a background probe's as well.
    """

    # A client keeps one request in reserve so a retry after a refused slot never waits.
    RESERVE = 1
    # Seconds added to every wait: the target's clock and ours tick apart.
    SLACK = 0.05

    def __init__(
        self,
        rate_limit: RateLimit,
        *,
        sources: bool = False,
        seed: int | None = None,
        on_wait: OnWait | None = None,
    ) -> None:
        self.rate_limit = rate_limit
        self.forwarded = rate_limit.trusts_forwarded_for
        self.sources = sources
        self.simulate = self.forwarded or sources
        self._random = random.Random(seed)
        # A fresh block per run, so a run never inherits the counts of the last one.
        self._block = self._random.randrange(0, 2**17 - 2**12)
        self._next_address = 1
        self._source_block = self._random.randrange(1, 255)
        self._next_source = 0
        self._lock = threading.Lock()
        self._own = Client()
        self._current = self._new_client() if self.forwarded else self._own
        self.requests = 0
        self.unplanned_429s = 0
        self.waited = 0.0
        self.on_wait = on_wait
        self._local = threading.local()

    def _new_client(self) -> Client:
        number = self._block + self._next_address
        self._next_address += 1
        return Client(f"198.{18 + (number >> 16)}.{(number >> 8) & 255}.{number & 255}")

    def _new_source(self, *, untrusted: bool = False) -> Client | None:
        """A new loopback source address (one the target must not trust, if asked), or None."""
        for _ in range(64):
            number = self._next_source
            self._next_source += 1
            # 127.B.x.y with y in 1..254: no address of the block ends in .0 or .255.
            high, low = divmod(number, 254)
            address = f"127.{self._source_block}.{high & 255}.{low + 1}"
            if not (untrusted and trusts_peer(self.rate_limit, address)):
                return Client(source_address=address)
        return None

    def describe(self) -> str:
        """Who the suite is to the target, for the run's summary."""
        if self.forwarded:
            everyone = "*" in (self.rate_limit.trusted_proxies or ())
            peers = (
                ", untrusted peers from loopback source addresses"
                if self.sources and not everyone
                else ""
            )
            return f"as simulated clients (X-Forwarded-For){peers}"
        if self.sources:
            return (
                f"as one client, its rate-limit probes from loopback source addresses"
                f" 127.{self._source_block}.x.y"
            )
        return "as one client"

    def untrusted_peer(self) -> Client | None:
        """A fresh loopback source address the target must not trust as a proxy, or None.

        None when the suite cannot send from other loopback addresses (a target not on
        this machine) or the profile trusts every one of them.
        """
        with self._lock:
            return self._new_source(untrusted=True) if self.sources else None

    def forging(self, client: Client, forged: str) -> Client:
        """client with a hop forged ahead of its own address in X-Forwarded-For."""
        return Client(forwarded_for=f"{forged}, {client.forwarded_for}")

    def _available(self, client: Client, at: float) -> int:
        window = self.rate_limit.window
        while client.counted and client.counted[0] + window + self.SLACK <= at:
            client.counted.popleft()
        available = self.rate_limit.limit - len(client.counted)
        if client.server_remaining is not None and at < client.server_reset_at:
            available = min(available, client.server_remaining)
        return available

    def _ready_at(self, client: Client, cost: int, at: float) -> float:
        """When client can send `cost` requests without going over."""
        ready = max(at, client.blocked_until)
        window = self.rate_limit.window
        excess = len(client.counted) + cost - self.rate_limit.limit
        if excess > 0:
            ready = max(ready, client.counted[excess - 1] + window + self.SLACK)
        if client.server_remaining is not None and client.server_remaining < cost:
            ready = max(ready, client.server_reset_at + self.SLACK)
        return ready

    def acquire(self, cost: int = 1) -> Client:
        """A client that may send `cost` requests now; waits when no other client may be used."""
        if cost > self.rate_limit.limit:
            raise ValueError(f"{cost} requests at once exceed the limit {self.rate_limit}")
        while True:
            with self._lock:
                at = time.monotonic()
                client = self._current
                reserve = self.RESERVE if cost + self.RESERVE <= self.rate_limit.limit else 0
                if client.blocked_until <= at and self._available(client, at) >= cost + reserve:
                    return client
                if self.forwarded:
                    self._current = self._new_client()
                    return self._current
                wait = self._ready_at(client, cost + reserve, at) - at
                why = (
                    "the Retry-After of a 429"
                    if client.blocked_until > at
                    else f"a request to leave the {self.rate_limit.window} s window"
                )
            self._sleep(wait, client, why)

    def fresh(self) -> Client:
        """A client with its whole quota: a new address, or this machine after a quiet window."""
        with self._lock:
            if self.forwarded:
                return self._new_client()
            if self.sources:
                source = self._new_source()
                if source is not None:
                    return source
        self.wait_until_quiet(self._own)
        return self._own

    def wait_until_quiet(self, client: Client) -> None:
        """Wait until every counted request of client has left the window."""
        with self._lock:
            at = time.monotonic()
            last = client.counted[-1] if client.counted else 0.0
            quiet = last + self.rate_limit.window + self.SLACK
            wait = max(quiet, client.blocked_until) - at
            why = (
                "the Retry-After of a 429"
                if client.blocked_until > quiet
                else f"all its requests to leave the {self.rate_limit.window} s window"
            )
        self._sleep(wait, client, why)

    def _sleep(self, seconds: float, client: Client, why: str) -> None:
        if seconds > 0:
            self.waited += seconds
            self._announce(seconds, client, why)
            time.sleep(seconds)

    def pause(self, seconds: float, client: Client, why: str) -> None:
        """A probe's planned wait: announced as the pacing's are, not counted in ``waited``."""
        if seconds > 0:
            self._announce(seconds, client, why)
            time.sleep(seconds)

    @contextmanager
    def acting_for(self, label: str) -> Iterator[None]:
        """This thread's waits are announced as label's (e.g. "the exhaust probe")."""
        previous = getattr(self._local, "label", None)
        self._local.label = label
        try:
            yield
        finally:
            self._local.label = previous

    def _announce(self, seconds: float, client: Client, why: str) -> None:
        if self.on_wait is None:
            return
        label = getattr(self._local, "label", None)
        who = f"{label}, client {client.name}" if label else f"client {client.name}"
        self.on_wait(who, seconds, why)

    def record(self, client: Client, status: int, headers: Mapping[str, str]) -> None:
        """Account for one response: what counted, what the target says is left, any lockout."""
        at = time.monotonic()
        with self._lock:
            self.requests += 1
            try:
                quota = parse_quota(headers)
            except FieldSyntaxError:
                quota = None
            if status == 429:
                retry_after = parse_retry_after(headers)
                wait = (
                    retry_after + retry_after_rounding(headers)
                    if retry_after is not None
                    else self.rate_limit.window
                )
                client.blocked_until = max(client.blocked_until, at + wait + self.SLACK)
            else:
                client.counted.append(at)
            if quota is not None:
                # r holds until t seconds from now, when the oldest request leaves the window.
                client.server_remaining = quota.remaining
                client.server_reset_at = at + quota.reset
