"""Rate-limit probes: the request sequences rule 1's tests judge, run once, maybe in the background.

A probe needs one client's whole quota and then waits most of a window, so the
probes run before the tests that judge them: in background threads at the start
of the run when the suite may act as many clients (each probe is its own
client, and the wait overlaps the rest of the suite), inline otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .bodies import booking_body
from .ratelimit import Client, FieldSyntaxError, parse_quota
from .slots import in_the_past
from .target import Exchange, Target


@dataclass
class Exhaustion:
    """A fresh client sends `limit` requests of every outcome, then one more."""

    accepted: list[tuple[str, Exchange]] = field(default_factory=list)
    refused: Exchange | None = None
    # While locked out: label -> exchange (spoofed X-Forwarded-For, unknown user and bad JSON).
    during_lockout: dict[str, Exchange] = field(default_factory=dict)
    other_client: Exchange | None = None

    @property
    def exchanges(self) -> list[Exchange]:
        out = [e for _, e in self.accepted]
        out += [e for e in (self.refused, self.other_client) if e is not None]
        return out + list(self.during_lockout.values())


@dataclass
class RetryAfterProbe:
    """One request, a pause, the rest of the quota, a 429, then a retry after Retry-After."""

    first: Exchange
    pause: float  # seconds between the first request's response and the 429's request
    refused: Exchange
    retry: Exchange | None = None
    waited: float = 0.0

    @property
    def exchanges(self) -> list[Exchange]:
        return [e for e in (self.first, self.refused, self.retry) if e is not None]


@dataclass
class LockoutProbe:
    """A 429, a hammering of `limit` more requests half-way through the lockout, then a retry."""

    refused: Exchange
    refused_at: float
    hammered: list[tuple[float, Exchange]] = field(default_factory=list)
    retry: Exchange | None = None

    @property
    def exchanges(self) -> list[Exchange]:
        out = [self.refused, *(e for _, e in self.hammered)]
        return out + ([self.retry] if self.retry is not None else [])


class ProbeFailed(RuntimeError):
    """A probe could not be run to its end; the tests that judge it report why."""


def _outcomes(target: Target) -> list[tuple[str, Callable[[Client], Exchange]]]:
    """Requests with every kind of outcome; none of them can book anything."""
    profile = target.profile
    event_type = profile.event_types()[0]
    host = profile.host_of(event_type)
    past = in_the_past(host, event_type)

    def refused_slot(client: Client) -> Exchange:
        body = booking_body(profile, event_type, past)
        return target.post_booking(event_type, body, client=client, retry_429=False)

    def unknown_user(client: Client) -> Exchange:
        body = booking_body(profile, event_type, past)
        return target.post_booking(
            event_type, body, host_slug="no-such-user-contract", client=client, retry_429=False
        )

    def not_json(client: Client) -> Exchange:
        return target.post_booking(
            event_type,
            content=b"{not json",
            headers={"Content-Type": "application/json"},
            client=client,
            retry_429=False,
        )

    def wrong_media_type(client: Client) -> Exchange:
        return target.post_booking(
            event_type,
            content=b"startTime=tomorrow",
            headers={"Content-Type": "text/plain"},
            client=client,
            retry_429=False,
        )

    return [
        ("a refused booking (400)", refused_slot),
        ("an unknown user (404)", unknown_user),
        ("a body that is not JSON (400)", not_json),
        ("a body that is not application/json (415)", wrong_media_type),
    ]


def _remaining(exchange: Exchange) -> int | None:
    try:
        return parse_quota(exchange.headers).remaining
    except FieldSyntaxError:
        return None


def _fresh_start(target: Target, first: Callable[[Client], Exchange]) -> tuple[Client, Exchange]:
    """A client whose first request leaves limit-1: no request of it is in the window."""
    limit = target.profile.rate_limit.limit
    for _ in range(3):
        client = target.pool.fresh()
        exchange = first(client)
        remaining = _remaining(exchange)
        if exchange.status != 429 and (remaining is None or remaining >= limit - 1):
            return client, exchange
        # Someone else's requests (an earlier run's) are still in the window: let them age out.
        target.pool.wait_until_quiet(client)
        time.sleep(target.profile.rate_limit.window)
    return client, exchange


def exhaust(target: Target) -> Exhaustion:
    limit = target.profile.rate_limit.limit
    outcomes = _outcomes(target)
    result = Exhaustion()
    label, send = outcomes[0]
    client, exchange = _fresh_start(target, send)
    result.accepted.append((label, exchange))
    for index in range(1, limit):
        label, send = outcomes[index % len(outcomes)]
        result.accepted.append((label, send(client)))
    result.refused = outcomes[0][1](client)

    event_type = target.profile.event_types()[0]
    spoofed = {"X-Forwarded-For": "203.0.113.77"}
    if not target.profile.rate_limit.trusts_forwarded_for:
        past = in_the_past(target.profile.host_of(event_type), event_type)
        body = booking_body(target.profile, event_type, past)
        result.during_lockout["spoofed X-Forwarded-For"] = target.post_booking(
            event_type, body, headers=spoofed, client=client, retry_429=False
        )
    result.during_lockout["unknown user with a body that is not JSON"] = target.post_booking(
        event_type,
        content=b"{not json",
        headers={"Content-Type": "application/json"},
        host_slug="no-such-user-contract",
        client=client,
        retry_429=False,
    )
    if target.pool.simulate:
        result.other_client = outcomes[0][1](target.pool.fresh())
    return result


def _pause(window: int) -> float:
    """How long to wait after the first request so Retry-After must be shorter than a window."""
    return float(max(2, window // 4)) if window >= 4 else 0.0


def retry_after(target: Target) -> RetryAfterProbe:
    limit = target.profile.rate_limit.limit
    outcomes = _outcomes(target)
    send = outcomes[0][1]
    client, first = _fresh_start(target, send)
    time.sleep(_pause(target.profile.rate_limit.window))
    started = time.monotonic()
    for _ in range(limit - 1):
        exchange = send(client)
        if exchange.status == 429:
            break
    refused = send(client)
    pause = started - first.received_at
    probe = RetryAfterProbe(first=first, pause=pause, refused=refused)
    if refused.status != 429:
        return probe
    wait = (
        refused.retry_after if refused.retry_after is not None else target.profile.rate_limit.window
    )
    # Retry-After counts from the moment the response was sent; the slack covers the trip.
    time.sleep(max(0.0, refused.received_at + wait + 0.05 - time.monotonic()))
    probe.waited = time.monotonic() - refused.received_at
    probe.retry = send(client)
    return probe


def lockout(target: Target) -> LockoutProbe:
    limit = target.profile.rate_limit.limit
    send = _outcomes(target)[0][1]
    client, _ = _fresh_start(target, send)
    for _ in range(limit - 1):
        send(client)
    refused = send(client)
    probe = LockoutProbe(refused=refused, refused_at=refused.received_at)
    if refused.status != 429:
        return probe
    wait = (
        refused.retry_after if refused.retry_after is not None else target.profile.rate_limit.window
    )
    # Half-way through the lockout, a whole quota of refused requests: if they counted,
    # they would still fill the window when the original lockout ends.
    time.sleep(max(0.0, refused.received_at + wait / 2 - time.monotonic()))
    for _ in range(limit):
        exchange = send(client)
        probe.hammered.append((exchange.received_at, exchange))
    time.sleep(max(0.0, refused.received_at + wait + 0.05 - time.monotonic()))
    probe.retry = send(client)
    return probe


PROBES: dict[str, Callable[[Target], Any]] = {
    "exhaust": exhaust,
    "retry_after": retry_after,
    "lockout": lockout,
}


class Probes:
    """Runs each probe at most once per run; in background threads when clients are simulated."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._threads: dict[str, threading.Thread] = {}
        self._results: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def start(self, names: Iterable[str]) -> None:
        """Start probes in the background; only sensible when each can be its own client."""
        for name in names:
            with self._lock:
                if name in self._threads or name in self._results:
                    continue
                thread = threading.Thread(target=self._run, args=(name,), daemon=True)
                self._threads[name] = thread
            thread.start()

    def _run(self, name: str) -> None:
        try:
            with self.target.unreported():
                result = PROBES[name](self.target)
        except BaseException as exc:  # handed to the test that asks for the result
            with self._lock:
                self._errors[name] = exc
        else:
            with self._lock:
                self._results[name] = result

    def result(self, name: str) -> Any:
        """The probe's result: waits for a background run, or runs it now."""
        with self._lock:
            done = name in self._results or name in self._errors
            thread = self._threads.get(name)
        if not done:
            if thread is None:
                self._run(name)
            else:
                thread.join()
        with self._lock:
            if name in self._errors:
                error = self._errors[name]
                raise ProbeFailed(f"the {name} probe failed: {error!r}") from error
            return self._results[name]
