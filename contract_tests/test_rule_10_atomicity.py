"""Rule 10's atomicity, rule 8 under concurrency: of simultaneous requests for overlapping
slots of one host, exactly one gets 201 and the rest get rule 8's 'no longer available'.

A burst never goes over the rate limit: each request is a client of its own when the
suite can simulate clients, else one client has room for the whole burst.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from .bodies import booking_body
from .profile import EventType, Host
from .slots import Slot
from .suite import Suite
from .support import overlapping_slot, plain
from .target import ContractViolation, Exchange, Target


def _burst(target: Target, requests: list[tuple[EventType, dict[str, Any]]]) -> list[Exchange]:
    """The requests released together, each as its own client when possible."""
    size = len(requests)
    clients = (
        [target.pool.fresh() for _ in range(size)]
        if target.pool.simulate
        else [target.pool.acquire(cost=size)] * size
    )
    barrier = threading.Barrier(size)
    answers: list[Exchange | None] = [None] * size

    def send(index: int) -> None:
        event_type, body = requests[index]
        barrier.wait()
        answers[index] = target.post_booking(event_type, body, client=clients[index])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


def _burst_size(contract: Suite) -> int:
    size = min(8, contract.profile.rate_limit.limit - 1)
    if size < 2:
        pytest.skip("the rate limit leaves room for fewer than two simultaneous requests")
    return size


def _judge_burst(
    contract: Suite, answers: list[Exchange], sent: list[tuple[EventType, Slot]]
) -> bool:
    """True when judged; False when every request found its slot taken (try another)."""
    for event_type, slot in sent:
        contract.ledger.mark_busy(event_type, slot)
    statuses = sorted(a.status for a in answers)
    what = ", ".join(f"{e.label} {s}" for e, s in sent)
    if all(a.is_slot_taken for a in answers):
        assert not contract.ledger.dedicated, (
            f"all {len(answers)} simultaneous requests for {what}, free slots on a target"
            f" dedicated to the run, were refused as taken"
        )
        contract.ledger.unchecked += 1
        return False
    assert statuses.count(201) == 1, f"{len(answers)} simultaneous requests for {what}: {statuses}"
    assert all(a.status == 201 or a.is_slot_taken for a in answers), statuses
    return True


def test_rule_10_concurrent_burst_for_one_slot_yields_exactly_one_201(contract: Suite) -> None:
    """Of simultaneous requests for one slot, one books; the rest are 'no longer available'."""
    event_type = plain(contract.profile)
    host = contract.profile.host_of(event_type)
    size = _burst_size(contract)
    for slot in contract.ledger.free_slots(host, event_type):
        requests = [(event_type, booking_body(contract.profile, event_type, slot))] * size
        if _judge_burst(contract, _burst(contract.target, requests), [(event_type, slot)]):
            return
    raise ContractViolation(f"no free slot of {event_type.label} left for the burst")


def _overlapping_pair(
    contract: Suite, host: Host
) -> tuple[EventType, Slot, EventType, Slot] | None:
    """Two event types of the host and overlapping free slots of each."""
    types = [e for e in host.event_types if not e.captcha]
    for first in types:
        for second in types:
            if first is second:
                continue
            for slot in itertools.islice(contract.ledger.free_slots(host, first), 20):
                other = overlapping_slot(contract, first, slot, second)
                if other is not None and contract.ledger.is_free(second, other):
                    return first, slot, second, other
    return None


def test_rule_10_concurrent_burst_across_event_types_yields_exactly_one_201(
    contract: Suite,
) -> None:
    """Simultaneous requests for overlapping slots of two event types of one host: one books."""
    size = _burst_size(contract)
    for host in contract.profile.hosts:
        for _ in range(4):
            pair = _overlapping_pair(contract, host)
            if pair is None:
                break
            first, slot, second, other = pair
            requests = [
                (first, booking_body(contract.profile, first, slot))
                if index % 2 == 0
                else (second, booking_body(contract.profile, second, other))
                for index in range(size)
            ]
            answers = _burst(contract.target, requests)
            if _judge_burst(contract, answers, [(first, slot), (second, other)]):
                return
    pytest.skip("the profile has no host with two event types whose slots overlap")
