"""Synthetic record streams: clients sending at chosen instants to a modelled rate limiter.

A server counts each request at some instant between its send and receive time; the
simulation picks that instant at random, lets a limiter model decide in that order,
and hands the records to the verifier in the order their responses arrive, as a
load generator would see them.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict, deque
from dataclasses import dataclass

from load_tests.verifier import CONNECTION_ERROR, Record, Slot


@dataclass(frozen=True)
class Send:
    client: str
    sent: float
    latency: float = 0.01
    status: int = 400  # what the server answers when the limiter lets it through
    slot: Slot | None = None


class SlidingWindow:
    """The product's limiter: a moving window per client, 429s not counted."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.log: dict[str, deque[float]] = defaultdict(deque)

    def key(self, client: str) -> str:
        return client

    def allowed_count(self) -> int:
        return self.limit

    def decide(self, client: str, at: float, status: int) -> tuple[int, str | None]:
        log = self.log[self.key(client)]
        while log and log[0] <= at - self.window:
            log.popleft()
        if len(log) >= self.allowed_count():
            return 429, self.retry_after(log, at)
        if self.counts(status):
            log.append(at)
        return status, None

    def counts(self, status: int) -> bool:
        return True

    def retry_after(self, log: deque[float], at: float) -> str | None:
        frees = log[len(log) - self.allowed_count()] + self.window
        return str(max(1, math.ceil(frees - at + 0.001)))


class OffByOne(SlidingWindow):
    def allowed_count(self) -> int:
        return self.limit + 1


class TooStrict(SlidingWindow):
    def allowed_count(self) -> int:
        return self.limit - 1


class GlobalBucket(SlidingWindow):
    def key(self, client: str) -> str:
        return "everyone"


class NoRetryAfter(SlidingWindow):
    def retry_after(self, log: deque[float], at: float) -> str | None:
        return None


class ShortRetryAfter(SlidingWindow):
    def retry_after(self, log: deque[float], at: float) -> str | None:
        return "1"


class RefusalsCounted(SlidingWindow):
    """429s go into the log too, so hammering keeps a client locked out."""

    def decide(self, client: str, at: float, status: int) -> tuple[int, str | None]:
        status, retry_after = super().decide(client, at, status)
        if status == 429:
            self.log[self.key(client)].append(at)
        return status, retry_after

    def retry_after(self, log: deque[float], at: float) -> str | None:
        frees = log[len(log) - self.allowed_count()] + self.window
        return str(max(1, math.ceil(frees - at + 0.001)))


class OnlySuccesses(SlidingWindow):
    def counts(self, status: int) -> bool:
        return status < 300


class FixedWindow(SlidingWindow):
    """Counts per calendar window: a burst straddling a boundary gets twice the limit."""

    def decide(self, client: str, at: float, status: int) -> tuple[int, str | None]:
        bucket = math.floor(at / self.window)
        log = self.log[f"{client}@{bucket}"]
        if len(log) >= self.limit:
            return 429, str(max(1, math.ceil((bucket + 1) * self.window - at)))
        log.append(at)
        return status, None


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
        status, retry_after = limiter.decide(send.client, at, send.status)
        headers = {"retry-after": retry_after} if retry_after is not None else {}
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
