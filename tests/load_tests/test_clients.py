"""Client simulation: each user a distinct client, across workers, or all one machine."""

from __future__ import annotations

import pytest

from load_tests.clients import ClientAllocator, ClientMode, identity


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
