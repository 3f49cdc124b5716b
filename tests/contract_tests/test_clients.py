"""The suite's clients: whom the target trusts, and the pool that keeps each inside the limit."""

from __future__ import annotations

import time

import pytest

from contract_tests.clients import ClientPool, trusts_peer
from contract_tests.profile import RateLimit


@pytest.mark.parametrize(
    ("trusts", "proxies", "address", "expected"),
    [
        (True, None, None, True),  # the suite's own address, and only it
        (True, None, "127.0.0.2", False),
        (False, None, None, False),
        (False, None, "127.0.0.2", False),
        (True, ("*",), "127.0.0.2", True),
        (True, ("127.0.0.1",), "127.0.0.2", False),
        (True, ("127.0.0.0/8",), "127.0.0.2", True),
        (True, ("10.0.0.0/8", "not an address"), "10.1.2.3", True),
    ],
)
def test_which_peers_the_target_trusts(
    trusts: bool, proxies: tuple[str, ...] | None, address: str | None, expected: bool
) -> None:
    rate_limit = RateLimit(15, 60, trusts_forwarded_for=trusts, trusted_proxies=proxies)
    assert trusts_peer(rate_limit, address) is expected


def test_one_client_waits_for_the_window_instead_of_going_over() -> None:
    pool = ClientPool(RateLimit(limit=3, window=1))
    started = time.monotonic()
    sent = []
    for _ in range(5):
        client = pool.acquire()
        sent.append(time.monotonic() - started)
        pool.record(client, 200, {})
    # Two may go at once (one is kept in reserve), the rest only after the window moved on.
    assert sent[1] < 0.2
    assert sent[2] >= 1.0
    assert client.forwarded_for is None  # no X-Forwarded-For: the target does not trust it


def test_a_429_is_waited_out_for_retry_after() -> None:
    pool = ClientPool(RateLimit(limit=10, window=60))
    client = pool.acquire()
    pool.record(client, 429, {"Retry-After": "1"})
    started = time.monotonic()
    pool.acquire()
    assert 0.9 <= time.monotonic() - started < 2


def test_the_targets_remaining_count_is_believed_over_our_own() -> None:
    pool = ClientPool(RateLimit(limit=10, window=60))
    client = pool.acquire()
    # Someone else has used this client's quota: the target says one left, for a second.
    pool.record(
        client, 200, {"RateLimit-Policy": '"per-ip";q=10;w=60', "RateLimit": '"per-ip";r=1;t=1'}
    )
    started = time.monotonic()
    pool.acquire()
    assert time.monotonic() - started >= 0.9


def test_simulated_clients_take_over_instead_of_waiting() -> None:
    pool = ClientPool(RateLimit(limit=3, window=60, trusts_forwarded_for=True), seed=1)
    started = time.monotonic()
    names = []
    for _ in range(7):
        client = pool.acquire()
        names.append(client.forwarded_for)
        pool.record(client, 200, {})
    assert time.monotonic() - started < 0.5
    assert len(set(names)) == 4  # two requests each, one kept in reserve
    assert all(name and name.startswith("198.1") for name in names)
    assert pool.fresh().forwarded_for not in names


def test_on_loopback_the_probes_are_source_addresses_and_the_rest_this_machine() -> None:
    pool = ClientPool(RateLimit(limit=3, window=60), sources=True, seed=1)
    assert pool.simulate and not pool.forwarded
    assert pool.acquire().name == "this machine"
    fresh = [pool.fresh() for _ in range(300)]
    addresses = [client.source_address for client in fresh]
    assert len(set(addresses)) == 300
    assert all(a and a.startswith("127.") and not a.endswith((".0", ".255")) for a in addresses)
    assert all(not client.headers() for client in fresh)


def test_untrusted_peers_skip_addresses_the_profile_trusts() -> None:
    trusting = RateLimit(3, 60, trusts_forwarded_for=True, trusted_proxies=("127.0.0.0/8",))
    assert ClientPool(trusting, sources=True).untrusted_peer() is None
    some = RateLimit(3, 60, trusts_forwarded_for=True, trusted_proxies=("127.0.0.1",))
    peer = ClientPool(some, sources=True).untrusted_peer()
    assert peer is not None and peer.source_address != "127.0.0.1"
    assert ClientPool(some).untrusted_peer() is None  # not on loopback: no other address


def test_a_forged_hop_goes_ahead_of_the_clients_own() -> None:
    pool = ClientPool(RateLimit(3, 60, trusts_forwarded_for=True), seed=1)
    client = pool.fresh()
    forged = pool.forging(client, "203.0.113.9")
    assert forged.headers() == {"X-Forwarded-For": f"203.0.113.9, {client.forwarded_for}"}


def test_probes_have_source_addresses_of_their_own_even_when_every_peer_is_trusted() -> None:
    everyone = RateLimit(3, 60, trusted_proxies=("*",))
    pool = ClientPool(everyone, sources=True)
    assert pool.fresh().source_address is not None
    assert pool.untrusted_peer() is None
