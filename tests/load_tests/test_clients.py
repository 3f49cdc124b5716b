"""Client simulation: each user a distinct client, across workers, or all one machine."""

from __future__ import annotations

import pytest

from load_tests.clients import ClientAllocator, ClientMode, Forgery, forgeries, identity


def names(allocator: ClientAllocator, count: int) -> list[str]:
    return [allocator.next().name for _ in range(count)]


def test_x_forwarded_for_clients_are_benchmark_addresses_sent_in_the_header():
    first = identity(ClientMode.XFF, 0)
    assert first.name == "198.18.0.1"
    assert first.headers == {"X-Forwarded-For": "198.18.0.1"}
    assert first.source_address is None
    assert identity(ClientMode.XFF, 300).name == "198.18.1.45"


def test_source_address_clients_bind_loopback_addresses_from_127_0_0_2():
    assert identity(ClientMode.SOURCE, 0).source_address == "127.0.0.2"
    assert identity(ClientMode.SOURCE, 254).source_address == "127.0.1.0"
    assert identity(ClientMode.SOURCE, 0).headers == {}


def test_every_user_is_its_own_client_by_default():
    assert names(ClientAllocator(ClientMode.XFF), 3) == ["198.18.0.1", "198.18.0.2", "198.18.0.3"]


def test_workers_of_a_distributed_run_never_share_a_client():
    workers = [ClientAllocator(ClientMode.SOURCE, worker=w, workers=3) for w in range(3)]
    seen = [name for allocator in workers for name in names(allocator, 50)]
    assert len(set(seen)) == 150


def test_a_client_count_makes_users_share_clients():
    assert names(ClientAllocator(ClientMode.XFF, clients=2), 4) == [
        "198.18.0.1",
        "198.18.0.2",
        "198.18.0.1",
        "198.18.0.2",
    ]


def test_single_mode_makes_every_user_this_machine():
    allocator = ClientAllocator(ClientMode.SINGLE, worker=1, workers=2)
    clients = [allocator.next() for _ in range(5)]
    assert all(client == clients[0] for client in clients)
    assert clients[0].headers == {} and clients[0].source_address is None


def test_single_mode_has_no_numbered_clients():
    with pytest.raises(ValueError):
        identity(ClientMode.SINGLE, 0)


# Forging probes: where they apply, and who they are.

LOCAL = "http://127.0.0.1:8080"
BOTH = [Forgery.HOP_AHEAD, Forgery.UNTRUSTED_PEER]


def test_forging_probes_apply_where_the_target_must_not_believe_what_they_forge():
    assert forgeries(ClientMode.XFF, LOCAL, None) == BOTH
    assert forgeries(ClientMode.XFF, LOCAL, ["127.0.0.1"]) == BOTH
    assert forgeries(ClientMode.SOURCE, LOCAL, None) == [Forgery.UNTRUSTED_PEER]
    # No loopback address to send from, or no trusted proxy to send through.
    assert forgeries(ClientMode.XFF, "https://staging.example.com", None) == [Forgery.HOP_AHEAD]
    assert forgeries(ClientMode.XFF, "http://localhost:8080", None) == [Forgery.HOP_AHEAD]
    assert forgeries(ClientMode.SINGLE, LOCAL, None) == []


def test_no_forging_probe_where_the_target_may_rightly_believe_it():
    # Trusting any peer, every loopback address, or the forger's own address.
    assert forgeries(ClientMode.XFF, LOCAL, ["*"]) == []
    assert forgeries(ClientMode.XFF, LOCAL, ["127.0.0.0/8"]) == [Forgery.HOP_AHEAD]
    assert forgeries(ClientMode.XFF, LOCAL, ["127.0.0.1", "198.18.0.0/15"]) == [
        Forgery.UNTRUSTED_PEER
    ]


def test_a_forger_is_a_client_of_its_own_forging_a_fresh_address_each_time():
    allocator = ClientAllocator(ClientMode.XFF, clients=1)
    hop = allocator.forger(Forgery.HOP_AHEAD)
    assert (hop.name, hop.headers, hop.source_address) == ("198.19.255.254", {}, None)
    assert hop.forge(0) == "203.0.113.1, 198.19.255.254"  # the forged hop ahead of its own
    assert hop.forge(1) != hop.forge(0)
    peer = allocator.forger(Forgery.UNTRUSTED_PEER)
    assert peer.name == peer.source_address == "127.0.0.2"
    assert peer.forge(5) == "203.0.113.6"
    assert allocator.next().name == "198.18.0.1"  # the other clients' numbering is untouched
    assert ClientAllocator(ClientMode.SOURCE).forger(Forgery.UNTRUSTED_PEER).name == (
        "127.255.255.254"  # clear of the source-address clients, from 127.0.0.2 up
    )


def test_forgers_of_different_workers_are_different_clients():
    names = [
        ClientAllocator(ClientMode.XFF, worker=w, workers=2).forger(kind).name
        for kind in Forgery
        for w in range(2)
    ]
    assert names == ["127.0.0.2", "127.0.0.3", "198.19.255.254", "198.19.255.253"]


def test_a_hop_ahead_needs_a_trusted_proxy():
    with pytest.raises(ValueError):
        ClientAllocator(ClientMode.SOURCE).forger(Forgery.HOP_AHEAD)
