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

Forging probes check that ``X-Forwarded-For`` cannot make a client someone else
(``Forgery``): each is one client like the others, and every request it sends forges
a fresh address from 203.0.113.0/24 (RFC 5737's TEST-NET-3, which no client here is).
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

XFF_BASE = ipaddress.IPv4Address("198.18.0.1")
XFF_SIZE = 2**17 - 2
SOURCE_BASE = ipaddress.IPv4Address("127.0.0.2")
SOURCE_SIZE = 2**24 - 3
FORGED_BASE = ipaddress.IPv4Address("203.0.113.1")
FORGED_SIZE = 254
XFF_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")


class ClientMode(StrEnum):
    XFF = "xff"
    SOURCE = "source"
    SINGLE = "single"


class Forgery(StrEnum):
    """How a forging probe writes X-Forwarded-For; PRODUCT.md says neither may count.

    - ``untrusted-peer``: from a loopback address the target does not list as a proxy,
      a made-up ``X-Forwarded-For``: the client is its own address (the TCP peer);
    - ``hop-ahead``: through the trusted proxy (xff mode), a made-up hop ahead of its
      own address: the client is the right-most hop that is not a listed proxy.
    """

    UNTRUSTED_PEER = "untrusted-peer"
    HOP_AHEAD = "hop-ahead"


@dataclass(frozen=True)
class Identity:
    """One simulated client: the name the verifier knows it by, and how to be it.

    A forging client's ``forwarded_for`` is its ``X-Forwarded-For`` with ``{forged}``
    where each request puts a made-up address.
    """

    name: str
    headers: dict[str, str]
    source_address: str | None = None
    forwarded_for: str | None = None

    def forge(self, number: int) -> str:
        """The X-Forwarded-For of this forging client's request ``number``."""
        assert self.forwarded_for is not None
        return self.forwarded_for.format(forged=FORGED_BASE + number % FORGED_SIZE)


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
        self._forgers = {forgery: itertools.count() for forgery in Forgery}
        self._single = Identity(f"{socket.gethostname()} (this machine)", {})

    def next(self) -> Identity:
        if self.mode is ClientMode.SINGLE:
            return self._single
        number = next(self._sequence) * self.workers + self.worker
        if self.clients:
            number %= self.clients
        return identity(self.mode, number)

    def forger(self, forgery: Forgery) -> Identity:
        """A client of its own for a forging probe, never shared whatever ``clients`` says.

        Numbered from the top of the mode's range, clear of the other clients.
        """
        number = next(self._forgers[forgery]) * self.workers + self.worker
        if forgery is Forgery.HOP_AHEAD and self.mode is ClientMode.XFF:
            own = identity(ClientMode.XFF, XFF_SIZE - 1 - number)
            return Identity(own.name, {}, forwarded_for=f"{{forged}}, {own.name}")
        if forgery is Forgery.UNTRUSTED_PEER and self.mode is ClientMode.XFF:
            own = identity(ClientMode.SOURCE, number)  # no other client binds one here
        elif forgery is Forgery.UNTRUSTED_PEER and self.mode is ClientMode.SOURCE:
            own = identity(ClientMode.SOURCE, SOURCE_SIZE - 1 - number)
        else:
            raise ValueError(f"no {forgery} probe in {self.mode} mode")
        return Identity(own.name, {}, own.source_address, forwarded_for="{forged}")


def forgeries(mode: ClientMode, host: str, trusted: Iterable[str] | None) -> list[Forgery]:
    """The forging probes that apply: what the target must refuse to believe.

    ``trusted`` is the profile's list of proxies the target honours (None: only this
    machine in xff mode, nobody otherwise). Where the target trusts a forger's own
    address, or any peer (``*``), what it forged may rightly count: no probe then.
    """
    listed = list(trusted or ())
    if "*" in listed:
        return []
    networks = []
    for entry in listed:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name or a socket path: not one of our addresses
    out = []
    if mode is ClientMode.XFF and not any(n.overlaps(XFF_NETWORK) for n in networks):
        out.append(Forgery.HOP_AHEAD)
    # A loopback target, reached from 127.0.0.2 and up: only safe if none is listed.
    peers = ipaddress.IPv4Network("127.0.0.0/8")
    peer_listed = any(
        n.overlaps(peers) and n != ipaddress.ip_network("127.0.0.1/32") for n in networks
    )
    if mode in (ClientMode.XFF, ClientMode.SOURCE) and _loopback(host) and not peer_listed:
        out.append(Forgery.UNTRUSTED_PEER)
    return out


def _loopback(url: str) -> bool:
    """A literal IPv4 loopback host (``localhost`` may resolve to ::1, out of reach of a
    127.0.0.x source address)."""
    hostname = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback


def identity(mode: ClientMode, number: int) -> Identity:
    """Client ``number`` (from 0) of a multi-client mode."""
    if mode is ClientMode.XFF:
        address = str(XFF_BASE + number % XFF_SIZE)
        return Identity(address, {"X-Forwarded-For": address})
    if mode is ClientMode.SOURCE:
        address = str(SOURCE_BASE + number % SOURCE_SIZE)
        return Identity(address, {}, source_address=address)
    raise ValueError(f"{mode} has a single client")
