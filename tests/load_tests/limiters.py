"""Rate limiters, right and wrong, as plain models shared by synthetic streams and broken servers.

``admit`` decides a request when the server counts it; ``settle`` sees its final
status (only a limiter that counts successes alone needs it).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: str | None = None  # the Retry-After of a refusal; None: no such field
    remaining: int = 0


class SlidingWindow:
    """The product's limiter: a moving window per client, 429s not counted."""

    counts_after = False

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.logs: dict[str, list[float]] = defaultdict(list)

    def key(self, client: str) -> str:
        return client

    def capacity(self) -> int:
        return self.limit

    def log(self, client: str, at: float) -> list[float]:
        log = self.logs[self.key(client)]
        del log[: bisect.bisect_right(log, at - self.window)]
        return log

    def admit(self, client: str, at: float) -> Decision:
        log = self.log(client, at)
        if len(log) >= self.capacity():
            decision = Decision(False, self.retry_after(log, at))
            self.refused(client, at)
            return decision
        if not self.counts_after:
            bisect.insort(log, at)
        return Decision(True, None, self.capacity() - len(log))

    def settle(self, client: str, at: float, status: int) -> None:
        if self.counts_after and self.counts(status):
            bisect.insort(self.log(client, at), at)

    def counts(self, status: int) -> bool:
        return True

    def refused(self, client: str, at: float) -> None:
        pass

    def honest_retry_after(self, log: list[float], at: float) -> int:
        frees = log[len(log) - self.capacity()] + self.window
        return max(1, math.ceil(frees - at + 0.001))

    def retry_after(self, log: list[float], at: float) -> str | None:
        return str(self.honest_retry_after(log, at))


class OffByOne(SlidingWindow):
    def capacity(self) -> int:
        return self.limit + 1


class TooStrict(SlidingWindow):
    def capacity(self) -> int:
        return self.limit - 1


class GlobalBucket(SlidingWindow):
    def key(self, client: str) -> str:
        return "everyone"


class NoRetryAfter(SlidingWindow):
    def retry_after(self, log: list[float], at: float) -> str | None:
        return None


class ShortRetryAfter(SlidingWindow):
    def retry_after(self, log: list[float], at: float) -> str | None:
        return str(self.honest_retry_after(log, at) - 1)


class LongRetryAfter(SlidingWindow):
    def retry_after(self, log: list[float], at: float) -> str | None:
        return str(self.honest_retry_after(log, at) + math.ceil(self.window))


class RefusalsCounted(SlidingWindow):
    """429s go into the log too, so a client that keeps asking stays locked out."""

    def refused(self, client: str, at: float) -> None:
        bisect.insort(self.log(client, at), at)


class OnlySuccesses(SlidingWindow):
    counts_after = True

    def counts(self, status: int) -> bool:
        return status < 300


class FixedWindow(SlidingWindow):
    """Counts per calendar window: a burst straddling a boundary gets twice the limit."""

    def admit(self, client: str, at: float) -> Decision:
        bucket = math.floor(at / self.window)
        log = self.logs[f"{client}@{bucket}"]
        if len(log) >= self.limit:
            return Decision(False, str(max(1, math.ceil((bucket + 1) * self.window - at))))
        log.append(at)
        return Decision(True, None, self.limit - len(log))
