"""Runs each rate-limit probe at most once per run, in the background when it may.

The probes (``probes``) start in background threads at the start of the run when
the suite may act as many clients, each probe a client of its own, so their waits
overlap the rest of the suite; otherwise a probe runs inline when a test first asks
for its result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from .probes import boundary, exhaust, lockout, retry_after
from .target import Target

# How often a test waiting for a background probe lets the run's progress lines out.
IDLE_TICK = 0.5


class ProbeFailed(RuntimeError):
    """A probe could not be run to its end; the tests that judge it report why."""


PROBES: dict[str, Callable[[Target], Any]] = {
    "exhaust": exhaust,
    "retry_after": retry_after,
    "lockout": lockout,
    "boundary": boundary,
}


class Probes:
    """Runs each probe at most once per run; in background threads when clients are simulated."""

    def __init__(self, target: Target, *, on_idle: Callable[[], None] | None = None) -> None:
        self.target = target
        # Called now and then while a test waits for a background probe (in its thread).
        self.on_idle = on_idle
        self._threads: dict[str, threading.Thread] = {}
        self._results: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def start(self, names: Iterable[str]) -> None:
        """Start probes in the background; only sensible when each can be its own client."""
        for name in names:
            with self._lock:
                if name in self._threads or name in self._results:
                    continue
                thread = threading.Thread(target=self._run, args=(name,), daemon=True)
                self._threads[name] = thread
            thread.start()

    def _run(self, name: str) -> None:
        try:
            with self.target.unreported(), self.target.pool.acting_for(f"the {name} probe"):
                result = PROBES[name](self.target)
        except BaseException as exc:  # handed to the test that asks for the result
            with self._lock:
                self._errors[name] = exc
        else:
            with self._lock:
                self._results[name] = result

    def result(self, name: str) -> Any:
        """The probe's result: waits for a background run, or runs it now."""
        with self._lock:
            done = name in self._results or name in self._errors
            thread = self._threads.get(name)
        if not done:
            if thread is None:
                self._run(name)
            else:
                thread.join(IDLE_TICK)
                while thread.is_alive():
                    if self.on_idle is not None:
                        self.on_idle()
                    thread.join(IDLE_TICK)
        with self._lock:
            if name in self._errors:
                error = self._errors[name]
                raise ProbeFailed(f"the {name} probe failed: {error!r}") from error
            return self._results[name]
