"""Client simulation: which client IP each simulated user is, as the target will see it.

Three modes, because a rate limit per client IP can only be tested per client if the
load generator can be many clients:

- ``xff``: every client sends ``X-Forwarded-For: <its address>``; for a target that
  trusts the load machine as a proxy (booking-mock ``--forwarded-allow-ips``). The
  addresses come from 198.18.0.0/15, the range RFC 2544 sets aside for benchmarks:
  they only ever appear in a header, never as a destination.
- ``source``: every client binds its own loopback source address, 127.0.0.2,
  127.0.0.3 and so on; for a target on this machine that trusts no proxy.
- ``single``: one client, the machine itself; for staging. Several load machines
  (Locust's distributed mode) are then several clients.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
from dataclasses import dataclass
from enum import StrEnum

XFF_BASE = ipaddress.IPv4Address("198.18.0.1")
XFF_SIZE = 2**17 - 2
SOURCE_BASE = ipaddress.IPv4Address("127.0.0.2")
SOURCE_SIZE = 2**24 - 3


class ClientMode(StrEnum):
    XFF = "xff"
    SOURCE = "source"
    SINGLE = "single"


@dataclass(frozen=True)
class Identity:
    """One simulated client: the name the verifier knows it by, and how to be it."""

    name: str
    headers: dict[str, str]
    source_address: str | None = None


class ClientAllocator:
    """Hands each new user its client, unique across the workers of a distributed run.

    A user created as the n-th of worker w is client ``n * workers + w``; with
    ``clients`` set, that number wraps around, so several users share a client.
    """

    def __init__(
        self, mode: ClientMode, *, clients: int = 0, worker: int = 0, workers: int = 1
    ) -> None:
        self.mode = mode
        self.clients = clients
        self.worker = max(0, worker)
        self.workers = max(1, workers, self.worker + 1)
        self._sequence = itertools.count()
        self._single = Identity(f"{socket.gethostname()} (this machine)", {})

    def next(self) -> Identity:
        if self.mode is ClientMode.SINGLE:
            return self._single
        number = next(self._sequence) * self.workers + self.worker
        if self.clients:
            number %= self.clients
        return identity(self.mode, number)


def identity(mode: ClientMode, number: int) -> Identity:
    """Client ``number`` (from 0) of a multi-client mode."""
    if mode is ClientMode.XFF:
        address = str(XFF_BASE + number % XFF_SIZE)
        return Identity(address, {"X-Forwarded-For": address})
    if mode is ClientMode.SOURCE:
        address = str(SOURCE_BASE + number % SOURCE_SIZE)
        return Identity(address, {}, source_address=address)
    raise ValueError(f"{mode} has a single client")
