"""What each rate-limit probe saw, and the arithmetic rule 1's tests judge it by.

Each probe keeps its client's whole ``history``, every request in order from a
moment the client's window was empty: the tests hold ``r``, ``t`` and
``Retry-After`` to what that history says they must be. The request sequences
that fill these records are in ``probes``; ``probe_runner`` runs each once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .clients import Client
from .ratelimit import Observed, retry_after_rounding
from .target import Exchange

# Seconds past a retry's due moment before the suite sends it: clocks tick apart.
RETRY_SLACK = 0.05


def observed(history: list[Exchange]) -> list[Observed]:
    """A client's requests as the rate-limit arithmetic sees them."""
    return [Observed(e.received_at - e.elapsed, e.received_at, e.status != 429) for e in history]


def retry_wait(exchange: Exchange, window: float) -> float:
    """Seconds after a 429 arrived before its retry may go: Retry-After, rounding and all."""
    retry_after = exchange.retry_after
    if retry_after is None:
        return window + RETRY_SLACK
    return retry_after + retry_after_rounding(exchange.headers) + RETRY_SLACK


# Tries of a probe whose burst a slow target answered too slowly to fit in one window.
BURST_TRIES = 3


def burst_rolled(first: Exchange, refused: Exchange, window: float) -> bool:
    """True when the limit+1-th request was answered after the first could have left the
    window: a target that accepted it may be right, so the try tells nothing."""
    return (
        refused.status != 429 and refused.received_at > first.received_at - first.elapsed + window
    )


@dataclass
class Spoof:
    """A client over the limit sends an X-Forwarded-For that names someone else."""

    client: str
    header: str  # the X-Forwarded-For it sent
    locked_out: Exchange  # its request over the limit, without the header
    spoofed: Exchange
    history: list[Exchange] = field(default_factory=list)


@dataclass
class Exhaustion:
    """A fresh client sends `limit` requests of every outcome, a booking too, then one more."""

    client: str = ""
    client_used: Client = field(default_factory=Client)
    history: list[Exchange] = field(default_factory=list)
    accepted: list[tuple[str, Exchange]] = field(default_factory=list)
    refused: Exchange | None = None
    booking: Exchange | None = None  # the 201 among `accepted`
    booking_problem: str | None = None  # why there is none
    # While locked out: label -> exchange (unknown user and bad JSON).
    during_lockout: dict[str, Exchange] = field(default_factory=dict)
    other_client: Exchange | None = None
    spoof: Spoof | None = None  # an untrusted peer's made-up X-Forwarded-For
    forged_hop: Spoof | None = None  # behind a trusted proxy, a hop forged ahead of the client
    unchecked: dict[str, str] = field(default_factory=dict)  # check -> why it was not made

    @property
    def exchanges(self) -> list[Exchange]:
        out = list(self.history)
        out += [e for e in (self.other_client,) if e is not None]
        return out + (self.spoof.history if self.spoof is not None else [])


@dataclass
class RetryAfterProbe:
    """One request, a pause, the rest of the quota, a 429, then a retry after Retry-After."""

    first: Exchange
    pause: float  # seconds between the first request's response and the 429's request
    refused: Exchange
    retry: Exchange | None = None
    waited: float = 0.0
    history: list[Exchange] = field(default_factory=list)

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self.history)


@dataclass
class LockoutProbe:
    """A 429, a hammering of `limit` more requests half-way through the lockout, then a retry."""

    refused: Exchange
    refused_at: float
    hammered: list[tuple[float, Exchange]] = field(default_factory=list)
    retry: Exchange | None = None
    history: list[Exchange] = field(default_factory=list)

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self.history)


@dataclass
class BoundaryProbe:
    """`limit` requests just before a multiple of the window since the epoch, one just after.

    A limiter of fixed windows aligned to the clock forgets the first ones at the
    multiple and lets the last one (and a whole limit more) through.
    """

    boundary: float  # epoch seconds, a multiple of the window
    before: list[Exchange] = field(default_factory=list)
    after: Exchange | None = None
    first_sent: float = 0.0  # epoch seconds, this machine's clock
    last_received: float = 0.0
    after_sent: float = 0.0
    after_received: float = 0.0
    problem: str | None = None  # why the probe could not straddle a multiple

    @property
    def exchanges(self) -> list[Exchange]:
        return [*self.before, *([self.after] if self.after is not None else [])]
