"""The rate-limit verifier: a pure judge over the stream of request records of a load run.

It knows nothing of Locust or HTTP clients. Feed it ``Record``s in roughly the order
the responses arrived, then call ``finish()`` for a ``Verdict``. The rules are the
product's (PRODUCT.md, "The load tests"):

- per client, never more than ``limit`` requests accepted in any rolling ``window``;
- no 429 while the client was under its limit;
- every 429 carries a valid ``Retry-After``; a retry after it is accepted, and it is
  not longer than the window needs;
- one client's traffic does not change another's outcome;
- no 5xx, no connection errors;
- no two 201s for overlapping slots of one host;
- every response carries the RateLimit fields (PRODUCT.md, "Rate-limit headers"):
  ``RateLimit-Policy`` states the limit and window, ``r`` is what the client's
  requests in the window leave, ``t`` is no later than when one of them frees up
  (nor, on a 429, earlier);
- a client that forges ``X-Forwarded-For`` (a hop ahead of its own address, or any
  hop from a peer the target does not trust) is counted as its own address: its
  records say what it forged, and a rate-limit finding that only forging clients
  have is named for the forgery.

Timing is uncertain: the server counted a request at some instant between its send
and its receive time, and the verifier only reports what holds for *every* such
instant. So a violation it names is certain, whatever the latency was.

Memory is O(clients x limit) plus the 429s still waiting to be judged (a second or
so of traffic) and the 201s (one per booked slot): judging a 429 waits until every
request that might have been counted before it has had time to arrive.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, NamedTuple

from contract_tests import FieldSyntaxError, parse_quota

CONNECTION_ERROR = 0  # the status of a request that got no HTTP response
# The status of a request its own client gave up before the server had it whole (a
# watching proxy sees these): the server may have counted it; no fault of the server's.
ABANDONED = -1
# How much longer an honest HTTP-date Retry-After can read than the wait it means.
HTTP_DATE_ROUNDING = 3.0


class Slot(NamedTuple):
    """The span a booking keeps its host busy (the slot plus buffers), epoch seconds."""

    host: str
    start: float
    end: float


class Record(NamedTuple):
    """One request to the book endpoint as the load generator saw it.

    ``headers`` needs only the response fields the verifier reads, lower-case:
    ``ratelimit-policy`` and ``ratelimit`` of every response, ``retry-after`` and
    ``date`` of a 429 (a missing or None value is a field the response lacked).
    ``slot`` is set for requests that asked for a slot; ``forged`` is the
    ``X-Forwarded-For`` a forging probe sent, which must not change who ``client`` is.
    """

    client: str
    sent: float
    received: float
    status: int
    headers: Mapping[str, str | None] = {}
    slot: Slot | None = None
    error: str | None = None
    forged: str | None = None

    @classmethod
    def from_wire(cls, fields: list[Any] | tuple[Any, ...]) -> Record:
        """Rebuild a record that went through msgpack (tuples arrive as lists)."""
        client, sent, received, status, headers, slot, error, forged = fields
        return cls(
            client,
            sent,
            received,
            status,
            headers or {},
            Slot(*slot) if slot else None,
            error,
            forged,
        )


class Violation(StrEnum):
    """What the verifier can find; the value is the name printed in reports."""

    LIMIT_EXCEEDED = "limit-exceeded"
    REFUSED_UNDER_LIMIT = "refused-under-limit"
    CLIENT_INTERFERENCE = "client-interference"
    RETRY_AFTER_INVALID = "retry-after-invalid"
    RETRY_AFTER_TOO_LONG = "retry-after-too-long"
    RETRY_REFUSED = "retry-refused"
    SERVER_ERROR = "server-error"
    CONNECTION_ERROR = "connection-error"
    DOUBLE_BOOKING = "double-booking"
    RATELIMIT_INVALID = "ratelimit-fields-invalid"
    POLICY_WRONG = "ratelimit-policy-wrong"
    REMAINING_WRONG = "ratelimit-remaining-wrong"
    RESET_WRONG = "ratelimit-reset-wrong"
    FORGED_HOP_COUNTED = "forged-hop-counted"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    Violation.LIMIT_EXCEEDED: "more than the limit accepted in a rolling window",
    Violation.REFUSED_UNDER_LIMIT: "429 while the client was under its limit",
    Violation.CLIENT_INTERFERENCE: "another client's traffic changed this client's outcome",
    Violation.RETRY_AFTER_INVALID: "429 without a valid Retry-After",
    Violation.RETRY_AFTER_TOO_LONG: "Retry-After longer than the window needs",
    Violation.RETRY_REFUSED: "a retry after Retry-After was refused",
    Violation.SERVER_ERROR: "5xx response",
    Violation.CONNECTION_ERROR: "connection error",
    Violation.DOUBLE_BOOKING: "two 201s for overlapping slots of one host",
    Violation.RATELIMIT_INVALID: "RateLimit or RateLimit-Policy missing or not the draft's shape",
    Violation.POLICY_WRONG: "RateLimit-Policy does not state the limit and window",
    Violation.REMAINING_WRONG: "RateLimit r disagrees with the client's requests in the window",
    Violation.RESET_WRONG: "RateLimit t disagrees with when a request frees up",
    Violation.FORGED_HOP_COUNTED: "a client counted by an X-Forwarded-For hop it forged",
}

# What a target keeps per client: findings a forging client has alone are the forgery's.
_PER_CLIENT_COUNT = (
    Violation.LIMIT_EXCEEDED,
    Violation.REFUSED_UNDER_LIMIT,
    Violation.CLIENT_INTERFERENCE,
    Violation.REMAINING_WRONG,
    Violation.RESET_WRONG,
)
_PARSED_FIELDS_MAX = 4096  # distinct (RateLimit-Policy, RateLimit) texts remembered


class _Fields(NamedTuple):
    """A response's RateLimit fields as judged: r and t (None if unreadable), what is wrong."""

    remaining: int | None
    reset: int | None
    problem: Violation | None
    detail: str


@dataclass
class Finding:
    """How often one violation happened to one client, and its first occurrence."""

    violation: Violation
    client: str
    count: int
    first: str


class Progress(NamedTuple):
    """A run's verdict so far: requests and clients judged, violations found."""

    requests: int
    clients: int
    violations: dict[Violation, int]


@dataclass
class ClientSummary:
    """One row of the per-client table."""

    client: str
    requests: int = 0
    accepted: int = 0
    refused: int = 0
    errors: int = 0
    booked: int = 0
    peak: int = 0  # most requests certainly accepted within one window
    max_retry_after: float | None = None
    findings: dict[Violation, int] = field(default_factory=dict)


@dataclass
class Verdict:
    """The outcome of a run: ``ok`` when no violation was found."""

    limit: int
    window: float
    clients: list[ClientSummary]
    findings: list[Finding]
    requests: int
    inconclusive: int  # 429s at the very end that could not be judged

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def violations(self) -> dict[Violation, int]:
        """Occurrences of each violation found, over all clients."""
        out: dict[Violation, int] = {}
        for finding in self.findings:
            out[finding.violation] = out.get(finding.violation, 0) + finding.count
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "limit": self.limit,
            "window": self.window,
            "requests": self.requests,
            "inconclusive": self.inconclusive,
            "violations": {str(k): v for k, v in self.violations.items()},
            "findings": [
                {
                    "violation": str(f.violation),
                    "client": f.client,
                    "count": f.count,
                    "first": f.first,
                }
                for f in self.findings
            ],
            "clients": [
                {
                    "client": c.client,
                    "requests": c.requests,
                    "accepted": c.accepted,
                    "refused": c.refused,
                    "errors": c.errors,
                    "booked": c.booked,
                    "peak": c.peak,
                    "max_retry_after": c.max_retry_after,
                    "violations": {str(k): v for k, v in c.findings.items()},
                }
                for c in self.clients
            ],
        }


def parse_retry_after(value: str | None, date: str | None = None) -> float | None:
    """Seconds to wait, from RFC 9110 delay-seconds or an HTTP-date; None if invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to RFC 9110
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or now is None or when.tzinfo is None:
        # Without the response's Date the delay would be measured against our clock.
        return None
    delay = (when - now).total_seconds()
    return delay if delay >= 0 else None


class _Refusal:
    """A 429 the verifier remembers: to judge it, and for the promise its Retry-After made.

    It keeps its record's fields as a plain tuple, not the Record: a load run holds a
    second or so of 429s, long enough to reach the collector's oldest generation, and
    a tuple of atoms (a Record's fields, with a dict of strings) it stops walking; a
    Record, a tuple subclass, it walks at every full collection of the generator's heap.
    """

    __slots__ = (
        "_fields",
        "client",
        "counted_send",
        "dated",
        "delay",
        "possibly_counted",
        "possibly_refused",
        "promise",
        "received",
        "remaining",
        "reset",
        "sent",
    )

    def __init__(
        self, client: _Client, record: Record, delay: float | None, fields: _Fields | None
    ) -> None:
        self.client = client
        self._fields = tuple(record)
        # An HTTP-date Retry-After (not delay-seconds) may read longer than the wait.
        raw = record.headers.get("retry-after") or ""
        self.dated = not raw.strip().isdigit()
        self.sent = record.sent
        self.received = record.received
        self.delay = delay
        # RateLimit r and t, when the fields were readable.
        self.remaining = fields.remaining if fields is not None else None
        self.reset = fields.reset if fields is not None else None
        # The earlier 429 whose Retry-After had run out when this request was sent.
        self.promise: _Refusal | None = None
        # Requests of the client that may have been counted in the window before this one.
        self.possibly_counted = 0
        self.possibly_refused = 0
        # Earliest send time of a countable request that completed after this 429 was
        # sent: such a request may have used the slot the Retry-After promised.
        self.counted_send = math.inf

    @property
    def record(self) -> Record:
        return Record._make(self._fields)


class _LowRemaining:
    """An accepted request whose ``r`` is lower than the client's requests known so far
    explain: judged once every request that may have been counted before it is in."""

    __slots__ = ("client", "possible", "received", "record", "remaining")

    def __init__(self, client: _Client, record: Record, remaining: int, possible: int) -> None:
        self.client = client
        self.record = record
        self.received = record.received
        self.remaining = remaining
        # Requests of the client that may have been counted in its window, itself included.
        self.possible = possible


class _Client:
    __slots__ = (
        "certain",
        "forged",
        "low",
        "pending",
        "promise",
        "received",
        "refusals",
        "sent",
        "summary",
        "under_limit",
    )

    def __init__(self, name: str, limit: int) -> None:
        self.summary = ClientSummary(name)
        # Countable requests (anything but a 429) in order of receive time, as three
        # aligned lists so a 429 finds its window by bisection. Uncertain ones (5xx,
        # connection errors) may or may not have been counted by the server.
        self.received: list[float] = []
        self.sent: list[float] = []
        self.certain: list[bool] = []
        # The latest 429s' (send, receive) times: plain floats, which the cyclic garbage
        # collector does not have to walk, unlike the records themselves.
        self.refusals: deque[tuple[float, float]] = deque(maxlen=limit + 1)
        self.pending: deque[_Refusal] = deque()
        # The 429 whose Retry-After runs out first, among those after which nothing
        # countable has completed yet: the promise the next requests are held to.
        self.promise: _Refusal | None = None
        # 429s under the limit, by (countable, all own requests) in the window before
        # them; told apart into interference or plain refusals once the run is over.
        self.under_limit: dict[tuple[int, int, bool], list[Any]] = {}
        self.low: deque[_LowRemaining] = deque()
        # What this client forged in X-Forwarded-For (the first value), if it forges.
        self.forged: str | None = None


class Verifier:
    """Judges a stream of ``Record``s against a per-client ``limit`` per ``window`` seconds.

    ``tolerance`` absorbs clock granularity (seconds); ``slack`` is how long a 429's
    judgement waits, beyond the slowest response seen, for records that may still be
    on their way (more in distributed runs, where records arrive in batches).
    ``ratelimit_fields=False`` leaves the RateLimit fields unjudged, for a feeder that
    does not pass them on. ``on_finding(violation, record, detail)`` hears of each
    violation as it is found (a live watch prints them); the verdict counts them anyway.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        tolerance: float = 0.05,
        slack: float = 1.0,
        ratelimit_fields: bool = True,
        on_finding: Callable[[Violation, Record, str], None] | None = None,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the limit must be at least 1 request per a positive window")
        self.limit = limit
        self.window = float(window)
        self.tolerance = tolerance
        self.slack = slack
        self.ratelimit_fields = ratelimit_fields
        self.on_finding = on_finding
        self._clients: dict[str, _Client] = {}
        self._pending: deque[_Refusal] = deque()
        self._low: deque[_LowRemaining] = deque()
        self._parsed: dict[tuple[str | None, str | None], _Fields] = {}
        self._watermark = -math.inf
        self._max_latency = 0.0
        # 429s received before this instant are judged: _watermark - _grace().
        self._horizon = -math.inf
        self._start = math.inf
        self._requests = 0
        self._inconclusive = 0
        self._findings: dict[tuple[Violation, str], Finding] = {}
        # The most requests a client was seen accepted after, within one window:
        # the server's demonstrated per-client capacity (countable only, and all).
        self._capacity_countable = -1
        self._capacity_all = -1
        self._bookings: dict[str, list[tuple[float, float, str, float]]] = {}

    # Feeding

    def feed(self, record: Record) -> None:
        """Take one record; judges whatever became judgeable."""
        # One record per request of a load run: this path is kept lean (see
        # benchmarks/verifier.py for what it costs the load generator).
        name, sent, received, status = record.client, record.sent, record.received, record.status
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = _Client(name, self.limit)
        self._requests += 1
        summary = client.summary
        summary.requests += 1
        if sent < self._start:
            self._start = sent
        if received > self._watermark:
            self._watermark = received
            if received - sent > self._max_latency:
                self._max_latency = received - sent
            self._horizon = received - self._max_latency - self.slack
        elif received - sent > self._max_latency:
            self._max_latency = received - sent
            self._horizon = self._watermark - self._max_latency - self.slack

        if record.forged is not None and client.forged is None:
            client.forged = record.forged
        fields = None
        if self.ratelimit_fields and 0 < status < 500:
            headers = record.headers
            key = (headers.get("ratelimit-policy"), headers.get("ratelimit"))
            fields = self._parsed.get(key)
            if fields is None or fields.problem is not None:
                fields = self._fields(record, key)
        if status == 429:
            summary.refused += 1
            self._refused(client, record, fields)
        elif status == ABANDONED:
            self._countable(client, sent, received, certain=False)
        elif status == CONNECTION_ERROR or status >= 500:
            summary.errors += 1
            if status == CONNECTION_ERROR:
                detail = f": {record.error}" if record.error else ""
                self._find(Violation.CONNECTION_ERROR, record, f"no response{detail}")
            else:
                self._find(Violation.SERVER_ERROR, record, f"status {status}")
            self._countable(client, sent, received, certain=False)
        else:
            summary.accepted += 1
            self._check_window(client, record, fields)
            self._countable(client, sent, received, certain=True)
            if status == 201 and record.slot is not None:
                summary.booked += 1
                self._booked(record)
        pending = self._pending
        while pending and pending[0].received < self._horizon:
            self._judge_next()
        low = self._low
        while low and low[0].received < self._horizon:
            self._judge_low()

    def feed_many(self, records: Iterable[Record]) -> None:
        feed = self.feed
        for record in records:
            feed(record)

    def progress(self) -> Progress:
        """What is judged so far, for a line during the run; costs no judging."""
        counts: dict[Violation, int] = {}
        for finding in self._findings.values():
            counts[finding.violation] = counts.get(finding.violation, 0) + finding.count
        return Progress(self._requests, len(self._clients), counts)

    def finish(self, *, complete: bool = True) -> Verdict:
        """Judge what is left and return the verdict.

        ``complete=False`` says requests may have been cut off in flight (a stopped
        Locust run): 429s that such a request might have preceded are left unjudged
        rather than risk a false accusation.
        """
        horizon = self._watermark - self._grace() if not complete else math.inf
        while self._pending:
            refusal = self._pending[0]
            if refusal.received > horizon:
                self._inconclusive += 1
                self._pending.popleft()
                refusal.client.pending.popleft()
                continue
            self._judge_next()
        while self._low:
            if self._low[0].received > horizon:
                # A request cut off in flight may yet explain it.
                self._low.popleft().client.low.popleft()
                continue
            self._judge_low()
        self._classify_under_limit()
        self._name_forgeries()
        findings = sorted(
            self._findings.values(), key=lambda f: (f.violation, _client_key(f.client))
        )
        for finding in findings:
            row = self._clients[finding.client].summary
            row.findings[finding.violation] = finding.count
        clients = sorted(
            (c.summary for c in self._clients.values()), key=lambda s: _client_key(s.client)
        )
        return Verdict(
            self.limit, self.window, clients, findings, self._requests, self._inconclusive
        )

    # The rules

    def _countable(self, client: _Client, sent: float, received: float, *, certain: bool) -> None:
        window, tol = self.window, self.tolerance
        # It may have been counted before a 429 still waiting for judgement, or used
        # up the slot that 429's promise was about.
        for refusal in client.pending:
            if sent < refusal.received + tol and received > refusal.sent - window - tol:
                refusal.possibly_counted += 1
            _spend(refusal.promise, sent, received)
        promise = client.promise
        if promise is not None:
            _spend(promise, sent, received)
            if promise.counted_send < math.inf:
                client.promise = None
        # It may have been counted before an accepted request whose r is still in doubt.
        for low in client.low:
            if sent < low.received + tol:
                low.possible += 1
        receipts = client.received
        if not receipts or received >= receipts[-1]:
            receipts.append(received)
            client.sent.append(sent)
            client.certain.append(certain)
        else:
            index = bisect_right(receipts, received)
            receipts.insert(index, received)
            client.sent.insert(index, sent)
            client.certain.insert(index, certain)
        self._forget_old(client)

    def _check_window(self, client: _Client, record: Record, fields: _Fields | None) -> None:
        """More than the limit accepted: this one and the limit others sent last.

        Also judges the accepted request's RateLimit fields, from the same requests.
        """
        sent, received = record.sent, record.received
        limit, reach = self.limit, self.window - self.tolerance
        # Only requests sent less than a window before this one was received can share
        # a window with it; none of them was received earlier than they were sent.
        cutoff = received - reach
        receipts, sends, certain = client.received, client.sent, client.certain
        near: list[tuple[float, float]] = []
        before = 0  # certainly counted, and still in the window, when this one was
        oldest = received  # the earliest of those to be received (so counted)
        start = bisect_right(receipts, cutoff)
        for index in range(start, len(receipts)):
            s = sends[index]
            if s > cutoff and certain[index]:
                r = receipts[index]
                near.append((s, r))
                if r <= sent:
                    if not before:
                        oldest = r  # receipts are in order: the first is the earliest
                    before += 1
        refused_before = 0
        for q_sent, q_received in client.refusals:
            if q_received <= sent and q_sent > cutoff:
                refused_before += 1
        if before > self._capacity_countable:
            self._capacity_countable = before
        if before + refused_before > self._capacity_all:
            self._capacity_all = before + refused_before
        if before >= client.summary.peak:
            client.summary.peak = before + 1
        if fields is not None and fields.remaining is not None:
            self._check_accepted_fields(
                client, record, fields, before, oldest, len(receipts) - start
            )

        if len(near) < limit:
            return
        # The limit others sent last: the tightest span they can make with this one.
        others = heapq.nlargest(limit, near) if len(near) > limit else near
        first = min(sent, min(s for s, _ in others))
        last = max(received, max(r for _, r in others))
        if last - first < reach:
            self._find(
                Violation.LIMIT_EXCEEDED,
                record,
                f"{self.limit + 1} requests accepted within {last - first:.3f} s"
                f" (limit {self.limit} per {self.window:g} s), the first sent at"
                f" {self._at(first)}",
            )

    def _check_accepted_fields(
        self,
        client: _Client,
        record: Record,
        fields: _Fields,
        before: int,
        oldest: float,
        recent: int,
    ) -> None:
        """r and t of an accepted request, against what was surely or possibly counted.

        The server wrote the fields at some instant while the request was in flight,
        after counting it. By then it had surely counted ``before`` of the client's
        requests still in the window, and this one (unless it was in flight for a whole
        window); the oldest of those leaves the window at the latest a window after it
        was received, so one request frees up by then. ``recent`` of the client's
        requests seen so far were received within the window before this one was.
        """
        remaining, reset = fields.remaining, fields.reset
        assert remaining is not None and reset is not None
        sent, received, limit, tol = record.sent, record.received, self.limit, self.tolerance
        surely = before + (1 if received - sent < self.window - tol else 0)
        if remaining > 0 and remaining > limit - surely:
            self._find(
                Violation.REMAINING_WRONG,
                record,
                f"r={remaining}, but {surely} requests of the client in the window were surely"
                f" counted by then, this one included (limit {limit}): at most"
                f" r={max(0, limit - surely)}",
            )
        frees_by = oldest + self.window
        # t is whole seconds: an honest value may round up by one.
        if reset > frees_by - sent + 1 + tol:
            self._find(
                Violation.RESET_WRONG,
                record,
                f"t={reset}, but a request of the client's window frees up within"
                f" {max(0.0, frees_by - sent):.2f} s",
            )
        # Too low: more left than r says, unless requests not seen yet were counted too.
        if remaining + 1 + recent < limit:
            # Every request received after the window before this one was sent may have
            # been counted (a few more than ``recent``): those seen so far, and this one.
            receipts = client.received
            first = bisect_right(receipts, sent - self.window - tol)
            possible = 1 + len(receipts) - first
            if remaining + possible < limit:
                # This one is counted in again as it joins the client's countable requests.
                low = _LowRemaining(client, record, remaining, possible - 1)
                client.low.append(low)
                self._low.append(low)

    def _judge_low(self) -> None:
        low = self._low.popleft()
        low.client.low.popleft()
        if low.remaining + low.possible < self.limit:
            self._find(
                Violation.REMAINING_WRONG,
                low.record,
                f"r={low.remaining}, but at most {low.possible} requests of the client can"
                f" have been counted in the window, this one included (limit {self.limit}):"
                f" at least r={self.limit - low.possible}",
            )

    def _refused(self, client: _Client, record: Record, fields: _Fields | None) -> None:
        headers = record.headers
        raw = headers.get("retry-after")
        if raw is not None and raw.isascii() and raw.isdigit():
            delay: float | None = float(raw)  # the usual form, parsed here for speed
        else:
            delay = parse_retry_after(raw, headers.get("date"))
        summary = client.summary
        if delay is None:
            shown = "missing" if raw is None else f"{raw!r}"
            self._find(Violation.RETRY_AFTER_INVALID, record, f"Retry-After {shown}")
        elif summary.max_retry_after is None or delay > summary.max_retry_after:
            summary.max_retry_after = delay
        if fields is not None and fields.remaining:
            self._check_refused_remaining(client, record, fields.remaining)
        refusal = _Refusal(client, record, delay, fields)
        sent, received = refusal.sent, refusal.received
        window, tol = self.window, self.tolerance
        latest, earliest = received + tol, sent - window - tol
        # Countable requests received in the window before this one completed may have
        # been counted first; so may later-received ones sent while it was in flight.
        receipts, sends = client.received, client.sent
        first = bisect_right(receipts, earliest)
        done = bisect_right(receipts, received, first)
        counted = done - first
        total = len(receipts)
        for index in range(done, total):
            if sends[index] < latest:
                counted += 1
        refusal.possibly_counted = counted
        # Countable requests that completed after this one was sent.
        after = bisect_right(receipts, sent, first, done)
        if after < total:
            refusal.counted_send = min(sends[after:])
        if counted < self.limit:
            # Only 429s under the limit need the client's own 429s counted (rare with a
            # correct target, so not done for every 429).
            refused = 0
            for q_sent, q_received in client.refusals:
                if q_sent < latest and q_received > earliest:
                    refused += 1
            refusal.possibly_refused = refused
        # Earlier 429s still waiting may have this one in their window (concurrency
        # within one client); newest first, stopping where none can.
        for waiting in reversed(client.pending):
            if waiting.received + tol < sent:
                break
            if sent < waiting.received + tol:
                waiting.possibly_refused += 1
        promise = client.promise
        if promise is not None:
            promised = promise.received + (promise.delay or 0.0)
            if promise.sent < sent and promised <= sent - tol:
                refusal.promise = promise
            if delay is not None and received + delay < promised:
                client.promise = refusal
        elif delay is not None:
            client.promise = refusal
        client.refusals.append((sent, received))
        client.pending.append(refusal)
        self._pending.append(refusal)

    def _check_refused_remaining(self, client: _Client, record: Record, remaining: int) -> None:
        """A 429 saying requests are left: no more than the surely counted ones leave."""
        sent, received = record.sent, record.received
        cutoff = received - self.window + self.tolerance
        receipts, sends, certain = client.received, client.sent, client.certain
        surely = 0
        for index in range(bisect_right(receipts, cutoff), bisect_right(receipts, sent)):
            if sends[index] > cutoff and certain[index]:
                surely += 1
        if remaining > self.limit - surely:
            self._find(
                Violation.REMAINING_WRONG,
                record,
                f"r={remaining} on a 429, but {surely} requests of the client in the window"
                f" were surely counted by then (limit {self.limit})",
            )

    def _grace(self) -> float:
        return self._max_latency + self.slack

    def _judge_next(self) -> None:
        refusal = self._pending.popleft()
        client = refusal.client
        client.pending.popleft()
        if refusal.possibly_counted < self.limit:
            others = self._other_traffic(client, refusal.record)
            key = (
                refusal.possibly_counted,
                min(refusal.possibly_counted + refusal.possibly_refused, 2 * self.limit + 1),
                others,
            )
            entry = client.under_limit.get(key)
            if entry is None:
                client.under_limit[key] = [1, refusal.record]
            else:
                entry[0] += 1
        elif refusal.delay is not None or refusal.reset is not None:
            self._check_frees_up(client, refusal)
        earlier = refusal.promise
        # A 429 for a request sent after an earlier Retry-After ran out, with nothing
        # countable sent before this request completed that may have taken the slot.
        if (
            earlier is not None
            and earlier.delay is not None
            and earlier.counted_send >= refusal.received
        ):
            record = refusal.record
            self._find(
                Violation.RETRY_REFUSED,
                record,
                f"sent {record.sent - earlier.received:.2f} s after a 429 with"
                f" Retry-After {earlier.delay:g} s (received {self._at(earlier.received)}),"
                " with nothing else counted in between",
            )

    def _check_frees_up(self, client: _Client, refusal: _Refusal) -> None:
        """The latest the oldest counted request can age out, against Retry-After and t."""
        sent, received = refusal.sent, refusal.received
        # The limit-th latest instant among the countable requests sent before this one
        # completed (received later: counted at the latest when this one was).
        receipts, sends = client.received, client.sent
        done = bisect_right(receipts, received)
        later = 0
        for index in range(done, len(receipts)):
            if sends[index] < received:
                later += 1
        needed = self.limit - later
        oldest_sent = -math.inf  # when that request was sent, if it was received before
        if needed <= 0:
            frees_by = received + self.window
        elif done - needed < 0:
            return  # forgotten already: cannot tell
        else:
            frees_by = receipts[done - needed] + self.window
            oldest_sent = sends[done - needed]
        # delay-seconds are whole seconds, so an honest value may round up by one.
        latest = frees_by + 1 + self.tolerance - sent
        # An HTTP-date is measured against Date: the date rounds up a second, Date is cut
        # to its second, and servers (uvicorn, nginx) refresh their Date once a second.
        dated = HTTP_DATE_ROUNDING - 1 if refusal.dated else 0.0
        if refusal.delay is not None and refusal.delay > latest + dated:
            self._find(
                Violation.RETRY_AFTER_TOO_LONG,
                refusal.record,
                f"Retry-After {refusal.delay:g} s, but a request is free again within"
                f" {max(0.0, frees_by - sent):.2f} s",
            )
        # t, when none is left (with some left, t is about another request than Retry-After).
        reset = refusal.reset
        if reset is None or refusal.remaining != 0:
            return
        if reset > latest:
            self._find(
                Violation.RESET_WRONG,
                refusal.record,
                f"t={reset} on a 429, but a request is free again within"
                f" {max(0.0, frees_by - sent):.2f} s",
            )
        # That request, sent then, cannot leave the window before a window later: a t
        # that says so (beyond rounding) may be early. Rare with a correct target.
        elif reset + 1 + self.tolerance < oldest_sent + self.window - received:
            self._check_reset_not_early(client, refusal)

    def _check_reset_not_early(self, client: _Client, refusal: _Refusal) -> None:
        """A 429 whose window can only hold the limit requests it was seen to: t is not early.

        When exactly the limit of the client's requests may have been counted before
        the 429, and the server says none is left, those are the ones it holds: none
        leaves the window before the earliest of them was sent plus a window. t may
        have been rounded down a second; no more.
        """
        reset = refusal.reset
        assert reset is not None
        if refusal.possibly_counted != self.limit:
            return
        sent, received, window, tol = refusal.sent, refusal.received, self.window, self.tolerance
        receipts, sends = client.received, client.sent
        latest = received + tol
        first = bisect_right(receipts, sent - window - tol)
        members = [s for s in sends[first:] if s < latest]
        if len(members) != self.limit:
            return  # some were forgotten already: cannot tell
        frees_at = min(members) + window
        if reset + 1 + tol < frees_at - received:
            self._find(
                Violation.RESET_WRONG,
                refusal.record,
                f"t={reset} on a 429, but none of the {self.limit} requests that filled the"
                f" window leaves it for {frees_at - received:.2f} s",
            )

    def _other_traffic(self, client: _Client, record: Record) -> bool:
        since = record.sent - self.window
        return any(
            other is not client and other.received and other.received[-1] > since
            for other in self._clients.values()
        )

    def _classify_under_limit(self) -> None:
        """Refusals under the limit: interference when the client's own traffic cannot explain them.

        A per-client limiter decides from the client's own requests. If the server was
        seen accepting some client after at least as many of its own requests, counted
        either way (429s or not), then refusing this one cannot be a per-client rule:
        when other clients were active, their traffic is what changed the outcome.
        """
        for client in self._clients.values():
            for (countable, own, others), (count, record) in sorted(client.under_limit.items()):
                interference = (
                    others and countable <= self._capacity_countable and own <= self._capacity_all
                )
                if interference:
                    self._find(
                        Violation.CLIENT_INTERFERENCE,
                        record,
                        f"429 after {countable} countable requests of its own in the window"
                        f" ({own} with its 429s) while other clients were active; the server"
                        f" accepted clients after as many as {self._capacity_countable} of theirs",
                        count,
                    )
                else:
                    self._find(
                        Violation.REFUSED_UNDER_LIMIT,
                        record,
                        f"429 after at most {countable} countable requests in the window"
                        f" (limit {self.limit} per {self.window:g} s)"
                        + (
                            f"; with its own 429s {own}: are 429s counted?"
                            if own >= self.limit
                            else ""
                        ),
                        count,
                    )

    def _booked(self, record: Record) -> None:
        slot = record.slot
        assert slot is not None
        booked = self._bookings.setdefault(slot.host, [])
        entry = (slot.start, slot.end, record.client, record.received)
        index = _bisect(booked, slot.start)
        for neighbour in booked[max(0, index - 1) : index + 1]:
            if neighbour[0] < slot.end and slot.start < neighbour[1]:
                self._find(
                    Violation.DOUBLE_BOOKING,
                    record,
                    f"201 for {slot.host} {_utc(slot.start)}-{_utc(slot.end)}, overlapping the"
                    f" 201 for {_utc(neighbour[0])}-{_utc(neighbour[1])} to client {neighbour[2]}",
                )
                return
        booked.insert(index, entry)

    def _fields(self, record: Record, key: tuple[str | None, str | None]) -> _Fields:
        """The record's RateLimit fields (``key``), parsed once per distinct text; finds
        what is wrong. ``feed`` looks the usual, well-formed ones up itself."""
        fields = self._parsed.get(key)
        if fields is None:
            if len(self._parsed) >= _PARSED_FIELDS_MAX:
                self._parsed.clear()
            fields = self._parsed[key] = self._parse_fields(*key)
        if fields.problem is not None:
            self._find(fields.problem, record, fields.detail)
        return fields

    def _parse_fields(self, policy: str | None, quota: str | None) -> _Fields:
        try:
            # The contract suite's reading of the draft's fields, so both judge alike.
            parsed = parse_quota({"ratelimit-policy": policy, "ratelimit": quota})
        except FieldSyntaxError as exc:
            return _Fields(None, None, Violation.RATELIMIT_INVALID, str(exc))
        remaining, reset = parsed.remaining, parsed.reset
        windows = {math.floor(self.window), math.ceil(self.window)}
        if parsed.limit != self.limit or parsed.window not in windows:
            return _Fields(
                remaining,
                reset,
                Violation.POLICY_WRONG,
                f"RateLimit-Policy {policy!r} says {parsed.limit} per {parsed.window} s, the run"
                f" {self.limit} per {self.window:g} s (--rate-limit or the profile): which is"
                " right?",
            )
        return _Fields(remaining, reset, None, "")

    def _name_forgeries(self) -> None:
        """A per-client finding that only clients forging X-Forwarded-For have: the forgery's.

        The forging clients are treated like any other, so what sets them apart can only
        be that the target counted them by the address they forged.
        """
        clients = self._clients
        honest = {v for v, name in self._findings if clients[name].forged is None}
        for key in sorted(self._findings):
            violation, name = key
            forged = clients[name].forged
            if forged is None or violation not in _PER_CLIENT_COUNT or violation in honest:
                continue
            finding = self._findings.pop(key)
            detail = finding.first.removeprefix(f"{violation}: client {name}, ")
            named = self._findings.get((Violation.FORGED_HOP_COUNTED, name))
            if named is not None:
                named.count += finding.count
                continue
            self._findings[(Violation.FORGED_HOP_COUNTED, name)] = Finding(
                Violation.FORGED_HOP_COUNTED,
                name,
                finding.count,
                f"{Violation.FORGED_HOP_COUNTED}: client {name} (forging X-Forwarded-For,"
                f" e.g. {forged!r}) had {violation}, which no client forging nothing had: the"
                f" target counted it by what it forged, not as itself. {violation}: {detail}",
            )

    # Bookkeeping

    def _forget_old(self, client: _Client) -> None:
        """Drop countable requests no future 429 can have in its window."""
        horizon = self._watermark - self.window - self._grace() - self.tolerance
        receipts = client.received
        drop = max(bisect_right(receipts, horizon), len(receipts) - 8 * self.limit - 8)
        if drop > 0:
            del receipts[:drop], client.sent[:drop], client.certain[:drop]

    def _find(self, violation: Violation, record: Record, detail: str, count: int = 1) -> None:
        key = (violation, record.client)
        finding = self._findings.get(key)
        if finding is None:
            first = (
                f"{violation}: client {record.client}, request sent {self._at(record.sent)}"
                f" (status {record.status or 'none'}): {detail}"
            )
            self._findings[key] = Finding(violation, record.client, count, first)
        else:
            finding.count += count
        if self.on_finding is not None:
            self.on_finding(violation, record, detail)

    def _at(self, instant: float) -> str:
        return f"+{instant - self._start:.3f} s"


def verify(records: Iterable[Record], limit: int, window: float, **options: Any) -> Verdict:
    """Judge a complete stream of records."""
    verifier = Verifier(limit, window, **options)
    verifier.feed_many(records)
    return verifier.finish()


def _spend(promise: _Refusal | None, sent: float, received: float) -> None:
    """A countable request that completed after the promise's 429 was sent."""
    if promise is not None and received > promise.sent and sent < promise.counted_send:
        promise.counted_send = sent


def _bisect(booked: list[tuple[float, float, str, float]], start: float) -> int:
    lo, hi = 0, len(booked)
    while lo < hi:
        mid = (lo + hi) // 2
        if booked[mid][0] < start:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _utc(instant: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(instant, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client_key(name: str) -> tuple[Any, ...]:
    """Sort 127.0.0.10 after 127.0.0.9."""
    parts = name.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return (0, *(int(p) for p in parts))
    return (1, name)
