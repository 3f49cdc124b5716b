"""One run of the contract suite: the target, its profile, and what the run shares between tests."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import slots
from .clients import ClientPool, OnWait, can_send_from
from .clock import TargetClock
from .probe_runner import Probes
from .profile import Profile
from .slots import SlotLedger
from .target import Target

# A loopback address other than this machine's usual one, to see whether the suite may send
# from such addresses (Linux: all of 127.0.0.0/8; macOS: only aliased ones).
SOURCE_CHECK = "127.0.0.2"


@dataclass(repr=False)
class Suite:
    base_url: str
    profile: Profile
    pool: ClientPool
    ledger: SlotLedger
    target: Target
    probes: Probes
    clock: TargetClock = field(default_factory=TargetClock)
    started: float = field(default_factory=time.monotonic)
    # Checks the target or the clock kept out of reach, for the summary: (rule, why).
    unreachable: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        base_url: str,
        profile: Profile,
        *,
        on_wait: OnWait | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> Suite:
        """The run against base_url; on_wait hears of each wait for the rate limit, on_idle
        is called now and then while a test waits for a background probe."""
        # On this machine the suite can be other clients by its source address (as the
        # load tests are), whether or not the target trusts its X-Forwarded-For.
        sources = (
            profile.target.source_addresses
            and is_loopback(base_url)
            and can_send_from(SOURCE_CHECK, base_url)
        )
        pool = ClientPool(profile.rate_limit, sources=sources, on_wait=on_wait)
        dedicated = profile.target.dedicated
        ledger = SlotLedger(dedicated=is_loopback(base_url) if dedicated is None else dedicated)
        clock = TargetClock(base_url, control_api=bool(profile.target.control_api))
        slots.use_clock(clock.now)
        seed_ledger(ledger, profile, clock.stored_bookings())
        target = Target(base_url, profile, pool, ledger)
        return cls(base_url, profile, pool, ledger, target, Probes(target, on_idle=on_idle), clock)

    def not_reachable(self, rule: str, why: str) -> None:
        """A check the run could not make; the summary lists it, not only a skip line."""
        self.unreachable.append((rule, why))

    def __repr__(self) -> str:
        return f"<contract suite against {self.base_url}, profile {self.profile.name!r}>"

    def close(self) -> None:
        self.target.close()
        self.clock.close()
        slots.use_clock(None)

    def summary(self) -> str:
        pool = self.pool
        return (
            f"contract suite: {pool.requests} requests to {self.base_url} {pool.describe()},"
            f" profile {self.profile.name!r} ({self.profile.rate_limit}),"
            f" {pool.unplanned_429s} unplanned 429s, {pool.waited:.1f} s waited for the rate"
            f" limit, {time.monotonic() - self.started:.1f} s in all"
        )

    def coverage_notes(self) -> list[str]:
        """What the run could not check, for the summary: a skip line alone is easy to miss."""
        notes = []
        ledger = self.ledger
        kind = "dedicated to the run" if ledger.dedicated else "shared"
        clock = (
            f"the target's clock through its control API ({self.clock.pins} pins)"
            if self.clock.control_api
            else "the real clock (no control API)"
        )
        notes.append(f"target {kind}; time rules judged on {clock}")
        if ledger.unchecked:
            notes.append(
                f"{ledger.unchecked} checks found their slot taken by someone else and moved on"
                f" (a shared target); a dedicated target fails such a slot instead"
            )
        seen = set()
        for rule, why in self.unreachable:
            if rule not in seen:
                seen.add(rule)
                notes.append(f"not checked: {rule}: {why}")
        return notes


def seed_ledger(ledger: SlotLedger, profile: Profile, bookings: list[dict[str, Any]]) -> None:
    """Bookings the target already holds (its control API says so) are busy for this run."""
    for booking in bookings:
        try:
            start = slots.parse_instant(str(booking["startTime"]))
            end = slots.parse_instant(str(booking["endTime"]))
            host = profile.host(str(booking["host"]))
        except (KeyError, ValueError):
            continue
        try:
            event_type = host.event_type(str(booking.get("eventSlug")))
        except KeyError:
            ledger.mark_span_busy(host.slug, start, end)
            continue
        ledger.mark_busy(event_type, slots.Slot(start, end))


def is_loopback(base_url: str) -> bool:
    """True for a target on this machine: localhost or an address of 127.0.0.0/8 or ::1."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_active: Suite | None = None


def activate(suite: Suite | None) -> None:
    global _active
    _active = suite


def active() -> Suite:
    """The run in progress; test modules read the profile from it when pytest imports them."""
    if _active is None:
        raise RuntimeError(
            "the contract suite is not configured: run it with pytest's contract_tests plugin"
            " (booking-contract, or pytest contract_tests --base-url URL)"
        )
    return _active
