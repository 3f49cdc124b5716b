"""What the HTML verdict draws: each client's requests over time, and each violation's record.

The verifier keeps only what judging needs (a window of requests per client), so the
charts need records of their own. A ``Timeline`` is fed the same records as the
verifier, in the same batches, and hears of each violation through the verifier's
``on_finding``. It is bounded, whatever the run's length or rate:

- every accepted, refused-for-error and failed request of a client, up to
  ``per_client`` (a correct server accepts at most the limit per window, so a run's
  accepted requests are few);
- of a client's 429s, the first after any other answer (the one whose Retry-After
  the retry follows) and then at most one per ``window / 120`` seconds: a client
  hammering a correct limiter gets thousands, and a chart cannot show them apart.
  The others are counted (``thinned``), not kept; the report's table counts them all;
- lanes for the first ``clients`` clients seen, and up to ``per_violation`` records
  of each violation class, ``per_client`` markers per client.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .verifier import Record, Violation

PER_CLIENT = 5000
CLIENTS = 2000
PER_VIOLATION = 50
MARKERS_PER_CLIENT = 200
THINNING = 120  # 429s kept per window and client, at most


class Point(NamedTuple):
    """One request on a client's chart; ``retry_after`` and ``date`` are a 429's fields."""

    sent: float
    received: float
    status: int
    retry_after: str | None = None
    date: str | None = None


class Marker(NamedTuple):
    """A violation as found: its class, the record that showed it, the verifier's words."""

    violation: Violation
    record: Record
    detail: str


@dataclass(eq=False)
class Lane:
    """One client's points, oldest first (as fed), with what was left out.

    They are kept as plain tuples of atoms, which the garbage collector stops walking
    (a NamedTuple it would walk at every collection); ``points`` gives them as Points.
    """

    kept: deque[tuple[float, float, int, str | None, str | None]]
    markers: list[Marker] = field(default_factory=list)
    thinned: int = 0  # 429s counted but not kept
    dropped: int = 0  # points pushed out by per_client
    last_kept_429: float = float("-inf")
    last_status: int = 0

    @property
    def points(self) -> list[Point]:
        return [Point._make(fields) for fields in self.kept]


class Timeline:
    """A bounded record of a load run for its charts; feed it what the verifier is fed."""

    def __init__(
        self,
        window: float,
        *,
        per_client: int = PER_CLIENT,
        clients: int = CLIENTS,
        per_violation: int = PER_VIOLATION,
    ) -> None:
        self.window = float(window)
        self.per_client = per_client
        self.max_clients = clients
        self.per_violation = per_violation
        self.lanes: dict[str, Lane] = {}
        self.unlaned = 0  # records of clients past ``clients``
        self.markers: dict[Violation, list[Marker]] = {}
        self.start = float("inf")
        self._gap = self.window / THINNING

    def feed_many(self, records: Iterable[Sequence[Any]]) -> None:
        """Take a batch: Records, or plain tuples of a Record's fields (a load run's batch).

        Fed once per batch, read by index: no cost per request beyond the batch's own.
        """
        lanes, gap = self.lanes, self._gap
        start = self.start
        for record in records:
            client, sent, received, status = record[0], record[1], record[2], record[3]
            lane = lanes.get(client)
            if lane is None:
                lane = self._lane(client)
                if lane is None:
                    self.unlaned += 1
                    continue
            if sent < start:
                start = sent
            if status == 429:
                if lane.last_status == 429 and received - lane.last_kept_429 < gap:
                    lane.thinned += 1
                    continue
                lane.last_kept_429 = received
                headers = record[4] or {}
                point = (sent, received, 429, headers.get("retry-after"), headers.get("date"))
            else:
                point = (sent, received, status, None, None)
            lane.last_status = status
            kept = lane.kept
            if len(kept) == self.per_client:
                lane.dropped += 1
            kept.append(point)
        self.start = start

    def feed(self, record: Record) -> None:
        self.feed_many((record,))

    def on_finding(self, violation: Violation, record: Record, detail: str) -> None:
        """The verifier's ``on_finding``: a marker on the client's chart, a row in the list."""
        marker = Marker(violation, record, detail)
        kept = self.markers.setdefault(violation, [])
        if len(kept) < self.per_violation:
            kept.append(marker)
        lane = self.lanes.get(record.client) or self._lane(record.client)
        if lane is not None and len(lane.markers) < MARKERS_PER_CLIENT:
            lane.markers.append(marker)

    def _lane(self, client: str) -> Lane | None:
        if len(self.lanes) >= self.max_clients:
            return None
        lane = self.lanes[client] = Lane(deque(maxlen=self.per_client))
        return lane
