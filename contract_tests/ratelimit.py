"""The RateLimit fields and Retry-After as the target states them, and the suite's clients.

The suite must never fail on a 429 it caused itself: every request goes through
a ``ClientPool``, which keeps each client inside the profile's limit (and inside
what the target's ``RateLimit`` field says is left), waits out ``Retry-After``,
and, when the target trusts ``X-Forwarded-For`` from the suite, spreads the load
over many simulated clients instead of waiting. ``frees_up_in`` is the oracle the
rate-limit tests hold ``t`` and ``Retry-After`` to.
"""

from __future__ import annotations

import ipaddress
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .profile import RateLimit

# RFC 8941 pieces the draft's fields use: a list of items, each a string or a
# token with parameters whose values are integers, strings, tokens or booleans.
_TOKEN = r"[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*"
_STRING = r'"(?:[^"\\]|\\["\\])*"'
_INTEGER = r"-?[0-9]{1,15}"
_KEY = r"[a-z*][a-z0-9_\-.*]*"
_BARE = rf"(?:{_STRING}|{_TOKEN}|{_INTEGER}|\?[01])"
_PARAMS = rf"(?:;\s*{_KEY}(?:={_BARE})?)*"
_ITEM = re.compile(rf"^(?P<bare>{_STRING}|{_TOKEN})(?P<params>{_PARAMS})$")
_PARAM_RE = re.compile(rf";\s*(?P<key>{_KEY})(?:=(?P<value>{_BARE}))?")


class FieldSyntaxError(ValueError):
    """A RateLimit field that is not a structured field of the draft's shape."""


@dataclass(frozen=True)
class FieldItem:
    name: str
    params: dict[str, Any]
    # The draft names policies with sf-strings; a token of the same letters is another value.
    is_string: bool = True


def _bare_value(text: str | None) -> Any:
    if text is None:
        return True
    if text.startswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text in ("?1", "?0"):
        return text == "?1"
    if re.fullmatch(_INTEGER, text):
        return int(text)
    return text


def parse_sf_list(value: str) -> list[FieldItem]:
    """An RFC 8941 List of Items with parameters (no inner lists, which the draft never uses)."""
    items = []
    for raw in value.split(","):
        text = raw.strip(" \t")
        match = _ITEM.match(text)
        if match is None:
            raise FieldSyntaxError(f"{text!r} is not a structured-field item with parameters")
        params = {m["key"]: _bare_value(m["value"]) for m in _PARAM_RE.finditer(match["params"])}
        bare = match["bare"]
        items.append(FieldItem(_bare_value(bare), params, bare.startswith('"')))
    return items


@dataclass(frozen=True)
class Quota:
    """A response's RateLimit-Policy and RateLimit fields, parsed and cross-checked."""

    policy: str
    limit: int  # q
    window: int  # w
    remaining: int  # r
    reset: int  # t


def parse_quota(headers: Mapping[str, str]) -> Quota:
    """Parse the two fields of one response; raises FieldSyntaxError saying what is wrong."""
    policy_text = _header(headers, "RateLimit-Policy")
    limit_text = _header(headers, "RateLimit")
    if policy_text is None or limit_text is None:
        missing = [
            name
            for name, text in (("RateLimit-Policy", policy_text), ("RateLimit", limit_text))
            if text is None
        ]
        raise FieldSyntaxError(f"missing {' and '.join(missing)}")
    policies = parse_sf_list(policy_text)
    limits = parse_sf_list(limit_text)
    policy = policies[0]
    for item, field_name in ((policy, "RateLimit-Policy"), *((i, "RateLimit") for i in limits)):
        if not item.is_string:
            raise FieldSyntaxError(f"{field_name} names its policy with a token, not a string")
    quota = next((item for item in limits if item.name == policy.name), None)
    if quota is None:
        raise FieldSyntaxError(
            f"RateLimit {limit_text!r} has no item for the policy {policy.name!r}"
        )
    for item, keys, field_name in (
        (policy, ("q", "w"), "RateLimit-Policy"),
        (quota, ("r", "t"), "RateLimit"),
    ):
        for key in keys:
            value = item.params.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise FieldSyntaxError(
                    f"{field_name} item {item.name!r} needs a non-negative integer {key}="
                )
    result = Quota(
        policy=str(policy.name),
        limit=policy.params["q"],
        window=policy.params["w"],
        remaining=quota.params["r"],
        reset=quota.params["t"],
    )
    if result.remaining > result.limit:
        raise FieldSyntaxError(f"r={result.remaining} exceeds the policy's q={result.limit}")
    if result.limit < 1 or result.window < 1:
        raise FieldSyntaxError("the policy's q and w must be positive")
    return result


# An HTTP-date and the Date it is measured against both have whole seconds only.
DATE_ROUNDING = 1.0
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DATE_FORMATS = [
    # IMF-fixdate, then the two obsolete forms RFC 9110 (5.6.7) still asks recipients to read.
    re.compile(
        r"^[A-Z][a-z]{2}, (?P<d>\d{2}) (?P<m>[A-Z][a-z]{2}) (?P<y>\d{4}) (?P<t>[\d:]{8}) GMT$"
    ),
    re.compile(
        r"^[A-Z][a-z]+, (?P<d>\d{2})-(?P<m>[A-Z][a-z]{2})-(?P<y>\d{2}) (?P<t>[\d:]{8}) GMT$"
    ),
    re.compile(
        r"^[A-Z][a-z]{2} (?P<m>[A-Z][a-z]{2}) +(?P<d>\d{1,2}) (?P<t>[\d:]{8}) (?P<y>\d{4})$"
    ),
]


def parse_http_date(text: str) -> float | None:
    """An RFC 9110 HTTP-date as seconds since the epoch, or None when it is not one."""
    for pattern in _DATE_FORMATS:
        match = pattern.match(text.strip())
        if match is None or match["m"] not in _MONTHS:
            continue
        year = int(match["y"])
        if year < 100:
            # RFC 850's two digits: no more than 50 years ahead (RFC 9110, 5.6.7).
            this_year = datetime.now(UTC).year
            year += this_year // 100 * 100
            if year > this_year + 50:
                year -= 100
        hour, minute, second = (int(part) for part in match["t"].split(":"))
        month = _MONTHS.index(match["m"]) + 1
        try:
            when = datetime(year, month, int(match["d"]), hour, minute, second, tzinfo=UTC)
        except ValueError:
            return None
        return when.timestamp()
    return None


def parse_retry_after(headers: Mapping[str, str], *, received: float | None = None) -> float | None:
    """Retry-After in seconds from the response, or None when absent or malformed.

    RFC 9110 allows delay-seconds or an HTTP-date; the contract names delay-seconds
    but does not forbid the other. A date is measured against the response's Date,
    else against `received` (this machine's clock, epoch seconds, when it arrived).
    """
    text = _header(headers, "Retry-After")
    if text is None:
        return None
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return float(int(text))
    when = parse_http_date(text)
    if when is None:
        return None
    date = _header(headers, "Date")
    now = parse_http_date(date) if date is not None else None
    if now is None:
        now = received if received is not None else time.time()
    return max(0.0, when - now)


def retry_after_rounding(headers: Mapping[str, str]) -> float:
    """How far off a parsed Retry-After may be by its notation: a second for an HTTP-date."""
    text = _header(headers, "Retry-After")
    return DATE_ROUNDING if text is not None and parse_http_date(text) is not None else 0.0


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if isinstance(value, list):  # Schemathesis keeps every value of a header
        value = ", ".join(value)
    return value


@dataclass(frozen=True)
class Observed:
    """One request of a client as the suite saw it: when it left, when its answer came."""

    sent: float  # monotonic seconds
    received: float
    counted: bool  # the target must count it: every request except those answered 429


# Ticks of the target's clock and ours, and rounding to the millisecond, stay below this.
CLOCK_SLACK = 0.05


def _possibly_before(earlier: Observed, current: Observed) -> bool:
    return earlier.sent < current.received


def _surely_before(earlier: Observed, current: Observed) -> bool:
    # Requests that overlap in flight (a burst over several connections) may arrive in
    # either order.
    return earlier.received <= current.sent


def in_the_window(history: Sequence[Observed], index: int, window: float) -> tuple[int, int]:
    """How many of the client's other counted requests are in its window when the target
    handles history[index]: at least (surely in it already), and at most (perhaps).

    A sliding log must refuse history[index] when the least is the limit or more, and
    must accept it when the most is below the limit.
    """
    current = history[index]
    least = most = 0
    for position, other in enumerate(history):
        if position == index or not other.counted or not _possibly_before(other, current):
            continue
        least += _surely_before(other, current) and other.sent + window > current.received
        most += other.received + window > current.sent
    return least, most


def frees_up_in(history: Sequence[Observed], index: int, window: float) -> tuple[float, float]:
    """Bounds on "seconds until one frees up" when the target answered history[index].

    The suite repeats the sliding log's arithmetic on purpose (it is the oracle): the
    answer is the oldest counted request still in the window, plus the window, minus
    the moment the target handled the request. The suite knows each moment only up
    to the request's round trip, so it gives the least and the most it can be.
    ``history`` is every request of one client, in the order sent, from a moment its
    window was empty; (0, 0) means nothing is in the window.
    """
    current = history[index]
    low = high = window if current.counted else math.inf
    maybe = 0.0  # the latest end among requests that may or may not be in the window
    for position, other in enumerate(history):
        if position == index or not other.counted or not _possibly_before(other, current):
            continue
        # other leaves the window at its arrival + window: seconds from the target's
        # handling of current, at least and at most.
        least = other.sent + window - current.received
        most = other.received + window - current.sent
        if most <= 0:
            continue  # it left the window before current arrived
        low = min(low, max(least, 0.0))
        if least > 0 and _surely_before(other, current):  # surely in the window
            high = min(high, most)
        else:
            maybe = max(maybe, most)
    if low == math.inf:
        return 0.0, 0.0
    return low, high if high < math.inf else maybe


def within_rounding(value: float, low: float, high: float, rounding: float = 0.0) -> bool:
    """value is low..high, each rounded to whole seconds either way, give or take `rounding`."""
    least = math.floor(low - CLOCK_SLACK) - rounding
    most = math.ceil(high + CLOCK_SLACK) + rounding
    return least <= value <= most


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
    """

    # A client keeps one request in reserve so a retry after a refused slot never waits.
    RESERVE = 1
    # Seconds added to every wait: the target's clock and ours tick apart.
    SLACK = 0.05

    def __init__(
        self, rate_limit: RateLimit, *, sources: bool = False, seed: int | None = None
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
            self._sleep(wait)

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
            wait = max(last + self.rate_limit.window + self.SLACK, client.blocked_until) - at
        self._sleep(wait)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            time.sleep(seconds)

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
