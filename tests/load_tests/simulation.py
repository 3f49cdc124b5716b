"""Synthetic record streams: clients sending at chosen instants to a modelled rate limiter.

A server counts each request at some instant between its send and receive time; the
simulation picks that instant at random, lets a limiter model decide in that order,
and hands the records to the verifier in the order their responses arrive, as a
load generator would see them. Each record carries the RateLimit fields the model
reports for its decision. Booking requests (a ``Send`` with a slot) go through a
booking-store model that decides, at the same instant, whether the slot is free.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from load_tests.verifier import CONNECTION_ERROR, Record, Slot
from tests.faults.limiters import SlidingWindow


@dataclass(frozen=True)
class Send:
    client: str
    sent: float
    latency: float = 0.01
    status: int = 400  # what the server answers when the limiter lets it through
    slot: Slot | None = None  # a booking request: 201 if the store takes it, else 400
    event_type: str = ""
    forged: str | None = None  # the X-Forwarded-For a forging probe sent


class AtomicStore:
    """The product's store: the overlap check and the insert are one step, per host."""

    def __init__(self) -> None:
        self.booked: list[tuple[Slot, str, float]] = []  # slot, event type, committed at

    def book(self, slot: Slot, event_type: str, at: float, received: float) -> bool:
        for other, other_type, committed in self.booked:
            overlaps = other.host == slot.host and other.start < slot.end and slot.start < other.end
            if overlaps and self.sees(other_type, committed, event_type, at):
                return False
        self.booked.append((slot, event_type, self.committed(at, received)))
        return True

    def sees(self, other_type: str, committed: float, event_type: str, at: float) -> bool:
        return True

    def committed(self, at: float, received: float) -> float:
        return at


class PerEventTypeStore(AtomicStore):
    """Serialised per event type only: another event type's booking is seen once it is
    committed, just before its response leaves, so two overlapping requests on different
    event types of one host, in flight together, are both booked."""

    def sees(self, other_type: str, committed: float, event_type: str, at: float) -> bool:
        return other_type == event_type or committed <= at

    def committed(self, at: float, received: float) -> float:
        return received


def run(
    sends: list[Send],
    limiter: SlidingWindow,
    seed: int = 0,
    store: AtomicStore | None = None,
    honours_forged: bool = False,
) -> list[Record]:
    """Records in arrival order; each request counted at a random instant in flight.

    ``honours_forged`` models a server that counts a forging request by the left-most
    hop of its X-Forwarded-For, the address it forged, instead of its client.
    """
    rng = random.Random(seed)
    store = store if store is not None else AtomicStore()
    counted = sorted(
        ((send.sent + rng.random() * send.latency, index) for index, send in enumerate(sends)),
    )
    records = []
    for at, index in counted:
        send = sends[index]
        received = send.sent + send.latency
        if send.status == CONNECTION_ERROR:
            records.append(
                Record(
                    send.client,
                    send.sent,
                    received,
                    CONNECTION_ERROR,
                    error="reset",
                    forged=send.forged,
                )
            )
            continue
        counted_as = send.client
        if honours_forged and send.forged:
            counted_as = send.forged.split(",")[0].strip()
        decision = limiter.admit(counted_as, at)
        status = send.status if decision.allowed else 429
        if status == 201 and send.slot is not None:
            status = 201 if store.book(send.slot, send.event_type, at, received) else 400
        limiter.settle(counted_as, at, status)
        headers = limiter.fields(decision)
        records.append(
            Record(send.client, send.sent, received, status, headers, send.slot, None, send.forged)
        )
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
