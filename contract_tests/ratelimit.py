"""The RateLimit fields as structured fields, and the suite's pacing over one or many clients.

The suite must never fail on a 429 it caused itself: every request goes through
a ``ClientPool``, which keeps each client inside the profile's limit (and inside
what the target's ``RateLimit`` field says is left), waits out ``Retry-After``,
and, when the target trusts ``X-Forwarded-For`` from the suite, spreads the load
over many simulated clients instead of waiting.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


def parse_retry_after(headers: Mapping[str, str]) -> int | None:
    """Retry-After as RFC 9110 delay-seconds, or None when absent or not a number."""
    text = _header(headers, "Retry-After")
    if text is None or not re.fullmatch(r"[0-9]+", text.strip()):
        return None
    return int(text.strip())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if isinstance(value, list):  # Schemathesis keeps every value of a header
        value = ", ".join(value)
    return value


@dataclass
class Client:
    """One client as the target sees it: the suite's own address, or a simulated one."""

    forwarded_for: str | None
    # Arrival times (monotonic) of this client's requests that count against the limit.
    counted: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    server_remaining: int | None = None
    server_reset_at: float = 0.0

    @property
    def name(self) -> str:
        return self.forwarded_for or "this machine"

    def headers(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.forwarded_for} if self.forwarded_for else {}


class ClientPool:
    """Clients to send requests as, each kept inside the rate limit.

    With ``simulate`` (the target trusts X-Forwarded-For from the suite) a client
    that runs low is retired and a fresh address from the benchmarking range
    198.18.0.0/15 takes its place; otherwise the one client waits.
    """

    # A client keeps one request in reserve so a retry after a refused slot never waits.
    RESERVE = 1
    # Seconds added to every wait: the target's clock and ours tick apart.
    SLACK = 0.05

    def __init__(self, rate_limit: RateLimit, *, seed: int | None = None) -> None:
        self.rate_limit = rate_limit
        self.simulate = rate_limit.trusts_forwarded_for
        self._random = random.Random(seed)
        # A fresh block per run, so a run never inherits the counts of the last one.
        self._block = self._random.randrange(0, 2**17 - 2**12)
        self._next_address = 1
        self._lock = threading.Lock()
        self._own = Client(None)
        self._current = self._new_client() if self.simulate else self._own
        self.requests = 0
        self.unplanned_429s = 0
        self.waited = 0.0

    def _new_client(self) -> Client:
        number = self._block + self._next_address
        self._next_address += 1
        return Client(f"198.{18 + (number >> 16)}.{(number >> 8) & 255}.{number & 255}")

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
                if self.simulate:
                    self._current = self._new_client()
                    return self._current
                wait = self._ready_at(client, cost + reserve, at) - at
            self._sleep(wait)

    def fresh(self) -> Client:
        """A client with its whole quota: a new address, or this machine after a quiet window."""
        with self._lock:
            if self.simulate:
                return self._new_client()
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
                wait = retry_after if retry_after is not None else self.rate_limit.window
                client.blocked_until = max(client.blocked_until, at + wait + self.SLACK)
            else:
                client.counted.append(at)
            if quota is not None:
                # r holds until t seconds from now, when the oldest request leaves the window.
                client.server_remaining = quota.remaining
                client.server_reset_at = at + quota.reset
