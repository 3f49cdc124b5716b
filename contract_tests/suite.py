"""One run of the contract suite: the target, its profile, and what the run shares between tests."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .probes import Probes
from .profile import Profile
from .ratelimit import ClientPool
from .slots import SlotLedger
from .target import Target


@dataclass(repr=False)
class Suite:
    base_url: str
    profile: Profile
    pool: ClientPool
    ledger: SlotLedger
    target: Target
    probes: Probes
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def create(cls, base_url: str, profile: Profile) -> Suite:
        pool = ClientPool(profile.rate_limit)
        dedicated = profile.target.dedicated
        ledger = SlotLedger(dedicated=is_loopback(base_url) if dedicated is None else dedicated)
        target = Target(base_url, profile, pool, ledger)
        return cls(base_url, profile, pool, ledger, target, Probes(target))

    def __repr__(self) -> str:
        return f"<contract suite against {self.base_url}, profile {self.profile.name!r}>"

    def close(self) -> None:
        self.target.close()

    def summary(self) -> str:
        pool = self.pool
        clients = "as simulated clients (X-Forwarded-For)" if pool.simulate else "as one client"
        return (
            f"contract suite: {pool.requests} requests to {self.base_url} {clients},"
            f" profile {self.profile.name!r} ({self.profile.rate_limit}),"
            f" {pool.unplanned_429s} unplanned 429s, {pool.waited:.1f} s waited for the rate"
            f" limit, {time.monotonic() - self.started:.1f} s in all"
        )


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
