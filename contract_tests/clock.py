"""The target's now as the suite reckons it, and booking-mock's control API to pin it.

Against a target without a control API the suite's now is this machine's clock.
When the profile says the target offers booking-mock's control API (``/__admin``),
the suite reads the target's clock at the start (so a mock started with ``--clock ... --freeze``
is judged at its own now) and may pin it, frozen, for a time rule whose case the
real clock cannot reach (a DST change months away, an exact notice boundary), then
puts it back as it was.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

CLOCK_PATH = "/__admin/clock"
BOOKINGS_PATH = "/__admin/bookings"


class ControlApiError(RuntimeError):
    """The profile says the target has booking-mock's control API, and it did not answer."""


@dataclass(frozen=True)
class _Reading:
    """The target's clock: an instant at a monotonic moment, running or frozen."""

    instant: datetime
    at: float
    frozen: bool
    real: bool

    def now(self) -> datetime:
        if self.frozen:
            return self.instant
        return self.instant + timedelta(seconds=time.monotonic() - self.at)


def _parse(body: Any) -> _Reading | None:
    if not isinstance(body, dict) or not isinstance(body.get("now"), str):
        return None
    try:
        instant = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        return None
    return _Reading(
        instant.astimezone(UTC), time.monotonic(), bool(body.get("frozen")), bool(body.get("real"))
    )


class TargetClock:
    """The suite's now: this machine's clock, or the target's when the profile says it has
    booking-mock's control API (then a target that does not answer it is a usage error)."""

    def __init__(self, base_url: str | None = None, *, control_api: bool = False) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self._lock = threading.Lock()
        self._reading: _Reading | None = None
        self._http: httpx.Client | None = None
        self.control_api = False
        self.pins = 0
        if not control_api or not self.base_url:
            return
        self._http = httpx.Client(base_url=self.base_url, timeout=10)
        reading = self._read()
        if reading is None:
            self.close()
            raise ControlApiError(
                f"the profile says {self.base_url} offers booking-mock's control API, but"
                f" GET {CLOCK_PATH} gave no clock: run with --no-control-api, or set the"
                f" profile's target.controlApi to false"
            )
        self.control_api = True
        self._reading = None if reading.real else reading

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def now(self) -> datetime:
        with self._lock:
            reading = self._reading
        return reading.now() if reading is not None else datetime.now(UTC)

    def _read(self) -> _Reading | None:
        assert self._http is not None
        try:
            response = self._http.get(CLOCK_PATH)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return _parse(response.json())
        except ValueError:
            return None

    def _put(self, change: dict[str, Any]) -> _Reading:
        assert self._http is not None
        response = self._http.put(CLOCK_PATH, json=change)
        reading = _parse(response.json()) if response.status_code == 200 else None
        if reading is None:
            raise ControlApiError(
                f"PUT {CLOCK_PATH} {change} answered {response.status_code}: {response.text[:200]}"
            )
        return reading

    @contextlib.contextmanager
    def pinned(self, instant: datetime) -> Iterator[datetime]:
        """The target's clock frozen at `instant` for the block, then as it was before."""
        if not self.control_api:
            raise ControlApiError("the target offers no control API to pin its clock")
        before = self._read()
        text = instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        reading = self._put({"now": text, "frozen": True})
        with self._lock:
            saved, self._reading = self._reading, reading
            self.pins += 1
        try:
            yield reading.instant
        finally:
            if before is None or before.real:
                self._put({"real": True})
            else:
                resumed = before.now().strftime("%Y-%m-%dT%H:%M:%SZ")
                self._put({"now": resumed, "frozen": before.frozen})
            with self._lock:
                self._reading = saved

    def stored_bookings(self) -> list[dict[str, Any]]:
        """What the target holds already (GET /__admin/bookings), for the slot ledger."""
        if not self.control_api or self._http is None:
            return []
        try:
            response = self._http.get(BOOKINGS_PATH)
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return []
        bookings = body.get("bookings") if isinstance(body, dict) else None
        return [b for b in bookings or [] if isinstance(b, dict)]
