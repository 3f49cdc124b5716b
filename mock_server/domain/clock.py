"""The server's notion of now: the real clock, or one pinned, frozen or moved by the operator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """A UTC clock that can start at any instant, run or stand still, and be moved.

    A running clock keeps an offset from the real clock, so time passes at the
    real rate from wherever it was set.
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._offset = 0.0
        self._frozen_at: float | None = None
        if start is not None:
            self.set(start, frozen=frozen)
        elif frozen:
            self.freeze()

    def _real(self) -> float:
        return time.time()

    def timestamp(self) -> float:
        if self._frozen_at is not None:
            return self._frozen_at
        return self._real() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def real(self) -> bool:
        """True when now is the real clock's now."""
        return self._frozen_at is None and self._offset == 0.0

    def set(self, instant: datetime, *, frozen: bool | None = None) -> None:
        """Move now to instant; frozen None keeps the clock running or frozen as it was."""
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        target = instant.timestamp()
        keep_frozen = self.frozen if frozen is None else frozen
        if keep_frozen:
            self._frozen_at = target
        else:
            self._frozen_at = None
            self._offset = target - self._real()

    def freeze(self) -> None:
        self._frozen_at = self.timestamp()

    def unfreeze(self) -> None:
        if self._frozen_at is not None:
            self._offset = self._frozen_at - self._real()
            self._frozen_at = None

    def advance(self, delta: timedelta) -> None:
        if self._frozen_at is not None:
            self._frozen_at += delta.total_seconds()
        else:
            self._offset += delta.total_seconds()

    def state(self) -> tuple[float, float | None]:
        """What restore() needs to undo later changes."""
        return self._offset, self._frozen_at

    def restore(self, state: tuple[float, float | None]) -> None:
        self._offset, self._frozen_at = state

    def reset(self) -> None:
        """Back to the real clock, running."""
        self._offset = 0.0
        self._frozen_at = None
