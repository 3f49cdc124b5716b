"""Synthetic record streams: clients sending at chosen instants to a modelled rate limiter.

A server counts each request at some instant between its send and receive time; the
simulation picks that instant at random, lets a limiter model decide in that order,
and hands the records to the verifier in the order their responses arrive, as a
load generator would see them. Each record carries the RateLimit fields the model
reports for its decision.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from load_tests.verifier import CONNECTION_ERROR, Record, Slot

from .limiters import SlidingWindow


@dataclass(frozen=True)
class Send:
    client: str
    sent: float
    latency: float = 0.01
    status: int = 400  # what the server answers when the limiter lets it through
    slot: Slot | None = None


def run(sends: list[Send], limiter: SlidingWindow, seed: int = 0) -> list[Record]:
    """Records in arrival order; each request counted at a random instant in flight."""
    rng = random.Random(seed)
    counted = sorted(
        ((send.sent + rng.random() * send.latency, index) for index, send in enumerate(sends)),
    )
    records = []
    for at, index in counted:
        send = sends[index]
        received = send.sent + send.latency
        if send.status == CONNECTION_ERROR:
            records.append(
                Record(send.client, send.sent, received, CONNECTION_ERROR, error="reset")
            )
            continue
        decision = limiter.admit(send.client, at)
        status = send.status if decision.allowed else 429
        limiter.settle(send.client, at, status)
        headers = limiter.fields(decision)
        records.append(Record(send.client, send.sent, received, status, headers, send.slot))
    records.sort(key=lambda r: r.received)
    return records


def paced(client: str, start: float, end: float, every: float, **fields: object) -> list[Send]:
    """A client sending one request every ``every`` seconds in [start, end)."""
    count = int((end - start) / every)
    return [Send(client, start + i * every, **fields) for i in range(count)]  # type: ignore[arg-type]


def probe(
    client: str, start: float, end: float, limit: int, window: float, rng: random.Random
) -> list[Send]:
    """What a rate-limit probe user does: a burst past the limit, twice the limit's pace
    for two windows, then a rest of one to two windows, from a random phase."""
    out: list[Send] = []
    at = start + rng.random() * window
    every = window / (2 * limit)
    while at < end:
        out += [Send(client, at + i * 0.005) for i in range(limit + 1)]
        at += (limit + 1) * 0.005
        out += paced(client, at, min(end, at + 2 * window), every)
        at += 2 * window + window * (1 + rng.random())
    return [s for s in out if s.sent < end]
