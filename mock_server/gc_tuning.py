"""The cyclic garbage collector, tuned for a server whose long-lived state only grows.

A full collection walks every tracked object, so its pause grows with the heap: on a
fresh booking-mock the modules, the spec and the dataset alone made pauses of 50 to
180 ms under load (benchmarks/throughput.py), the whole of the latency tail. Two
things keep the pauses short and flat:

- ``freeze()`` once the app is built moves everything alive then (imports, spec,
  dataset, compiled validators) into the permanent generation, which no collection
  walks again; those objects are never garbage.
- The stores and the rate limiter keep their state in untracked objects (tuples of
  atomic values, arrays), so the bookings and clients a run accumulates add nothing
  to a collection's walk (mock_server.domain.store, mock_server.ratelimit).

The young generation's threshold is raised from 700 allocations to YOUNG: a request
allocates a few hundred objects, and collecting every couple of requests spent time
on objects that die with the request anyway.
"""

from __future__ import annotations

import gc

YOUNG = 10_000


def tune() -> None:
    """Freeze what is alive now, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
