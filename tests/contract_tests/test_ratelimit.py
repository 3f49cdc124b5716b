"""The RateLimit fields as structured fields, and the suite's pacing of its clients."""

from __future__ import annotations

import time

import pytest

from contract_tests.profile import RateLimit
from contract_tests.ratelimit import (
    ClientPool,
    FieldSyntaxError,
    parse_quota,
    parse_retry_after,
    parse_sf_list,
)


def fields(policy: str, limit: str) -> dict[str, str]:
    return {"RateLimit-Policy": policy, "RateLimit": limit}


def test_the_drafts_fields_parse() -> None:
    quota = parse_quota(fields('"per-ip";q=15;w=60', '"per-ip";r=14;t=60'))
    assert (quota.policy, quota.limit, quota.window, quota.remaining, quota.reset) == (
        "per-ip",
        15,
        60,
        14,
        60,
    )


def test_several_policies_are_a_list() -> None:
    items = parse_sf_list('"burst";q=100;w=1, "per-ip";q=15;w=60;note="x";strict')
    assert [item.name for item in items] == ["burst", "per-ip"]
    assert items[1].params == {"q": 15, "w": 60, "note": "x", "strict": True}
    quota = parse_quota(fields('"per-ip";q=15;w=60', '"other";r=1;t=1, "per-ip";r=3;t=9'))
    assert (quota.remaining, quota.reset) == (3, 9)


@pytest.mark.parametrize(
    ("policy", "limit", "says"),
    [
        ("per-ip;q=15;w=60", '"per-ip";r=14;t=60', "token"),
        ('"per-ip";q=15', '"per-ip";r=14;t=60', "w="),
        ('"per-ip";q=15;w=60', '"per-ip";r=16;t=60', "exceeds"),
        ('"per-ip";q=15;w=60', '"per-ip";r=-1;t=60', "r="),
        ('"per-ip";q=15;w=60', '"per-ip";r=1.5;t=60', "structured-field"),
        ('"per-ip";q=15;w=60', '"global";r=1;t=60', "no item for the policy"),
        ('"per-ip" q=15 w=60', '"per-ip";r=1;t=60', "structured-field"),
    ],
)
def test_malformed_fields_are_refused_with_a_reason(policy: str, limit: str, says: str) -> None:
    with pytest.raises(FieldSyntaxError, match=says):
        parse_quota(fields(policy, limit))


def test_missing_fields_are_named() -> None:
    with pytest.raises(FieldSyntaxError, match="missing RateLimit-Policy"):
        parse_quota({"RateLimit": '"per-ip";r=1;t=1'})


@pytest.mark.parametrize(
    ("value", "expected"), [("42", 42), (" 7 ", 7), ("Wed, 21 Oct 2015 07:28:00 GMT", None)]
)
def test_retry_after_is_delay_seconds(value: str, expected: int | None) -> None:
    assert parse_retry_after({"Retry-After": value}) == expected
    assert parse_retry_after({}) is None


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
    pool.record(client, 200, fields('"per-ip";q=10;w=60', '"per-ip";r=1;t=1'))
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
