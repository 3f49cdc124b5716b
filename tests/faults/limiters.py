"""Rate limiters, right and wrong, as plain models: for synthetic streams and broken servers.

The load tests' simulation runs them on streams of instants; `gate.LimiterGate` serves
one in front of the reference, for the load runs and the contract suite's self-test.

``admit`` decides a request when the server counts it; ``settle`` sees its final
status (only a limiter that counts by outcome needs it). ``fields`` renders a
decision as the response's RateLimit-Policy, RateLimit and Retry-After fields: every
model reports an honest ``r`` and ``t`` for what it did, unless breaking them is the
point of the model.
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
    remaining: int = 0  # RateLimit r
    reset: int = 0  # RateLimit t: seconds until one request frees up


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
            honest = self.honest_retry_after(log, at)
            decision = Decision(False, self.retry_after(log, at), 0, self.reset(honest))
            self.refused(client, at)
            return decision
        if not self.counts_after:
            bisect.insort(log, at)
        counted = len(log) + (1 if self.counts_after else 0)
        frees = self.frees_in(log[0] if log else at, at)
        return Decision(True, None, self.remaining(counted), self.reset(frees))

    def settle(self, client: str, at: float, status: int) -> None:
        if self.counts_after and self.counts(status):
            bisect.insort(self.log(client, at), at)

    def counts(self, status: int) -> bool:
        return True

    def refused(self, client: str, at: float) -> None:
        pass

    def frees_in(self, oldest: float, at: float) -> int:
        """Whole seconds until a request counted at ``oldest`` leaves the window."""
        return max(1, math.ceil(oldest + self.window - at + 0.001))

    def honest_retry_after(self, log: list[float], at: float) -> int:
        return self.frees_in(log[len(log) - self.capacity()], at)

    def retry_after(self, log: list[float], at: float) -> str | None:
        return str(self.honest_retry_after(log, at))

    def remaining(self, counted: int) -> int:
        return max(0, self.limit - counted)

    def reset(self, frees: int) -> int:
        return min(frees, math.ceil(self.window))

    def policy(self) -> str:
        return f'"per-ip";q={self.limit};w={math.ceil(self.window)}'

    def fields(self, decision: Decision) -> dict[str, str]:
        """The response fields of a decision, lower-case names as the verifier reads them."""
        headers = {
            "ratelimit-policy": self.policy(),
            "ratelimit": f'"per-ip";r={decision.remaining};t={decision.reset}',
        }
        if decision.retry_after is not None:
            headers["retry-after"] = decision.retry_after
        return headers


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


class WholeWindowRetryAfter(SlidingWindow):
    """Retry-After is always the whole window, however soon a request frees up."""

    def retry_after(self, log: list[float], at: float) -> str | None:
        return str(math.ceil(self.window))


class RefusalsCounted(SlidingWindow):
    """429s go into the log too, so a client that keeps asking stays locked out."""

    def refused(self, client: str, at: float) -> None:
        bisect.insort(self.log(client, at), at)


class OnlySuccesses(SlidingWindow):
    counts_after = True

    def counts(self, status: int) -> bool:
        return status < 300


class BookingClearsTheWindow(SlidingWindow):
    """A 201 forgets the client's earlier requests, as if a booking paid off its quota."""

    def settle(self, client: str, at: float, status: int) -> None:
        if status == 201:
            self.logs[self.key(client)].clear()


class FixedWindow(SlidingWindow):
    """Counts per calendar window: a burst straddling a boundary gets twice the limit."""

    def admit(self, client: str, at: float) -> Decision:
        bucket = math.floor(at / self.window)
        log = self.logs[f"{client}@{bucket}"]
        ends_in = max(1, math.ceil((bucket + 1) * self.window - at))
        if len(log) >= self.limit:
            return Decision(False, str(ends_in), 0, ends_in)
        log.append(at)
        return Decision(True, None, self.limit - len(log), ends_in)


# The RateLimit fields broken, the limit itself kept.


class StuckRemaining(SlidingWindow):
    """``r`` never counts down: every accepted request says all but one are left."""

    def remaining(self, counted: int) -> int:
        return self.limit - 1


class LowRemaining(SlidingWindow):
    """``r`` one short: the request is subtracted twice."""

    def remaining(self, counted: int) -> int:
        return max(0, self.limit - counted - 1)


class ResetIsWindow(SlidingWindow):
    """``t`` always the whole window, wherever the oldest request is."""

    def reset(self, frees: int) -> int:
        return math.ceil(self.window)


class ResetIsZero(SlidingWindow):
    """``t`` always 0, as if a request were free right now."""

    def reset(self, frees: int) -> int:
        return 0


class WrongPolicy(SlidingWindow):
    """Enforces its limit but announces another (a policy string hard-coded for production)."""

    def policy(self) -> str:
        return f'"per-ip";q={self.limit + 10};w={math.ceil(self.window)}'
