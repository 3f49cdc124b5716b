"""``--watch``: reload the dataset file when it changes, keeping what still fits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from .dataset import Dataset, DatasetError
from .domain.booking import BookingService
from .errors import StorageUnavailable

logger = logging.getLogger("mock_server")


class DatasetWatcher:
    """Polls the file's size and mtime; cheap, and needs no platform file-event support."""

    def __init__(
        self,
        path: str | Path,
        load: Callable[[], Dataset],
        service: BookingService,
        interval: float = 0.5,
    ) -> None:
        self.path = Path(path)
        self.load = load
        self.service = service
        self.interval = interval
        self._seen = self._stamp()

    def _stamp(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime, stat.st_size

    async def check(self) -> bool:
        """Reload if the file changed; True when a new dataset is served."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        previous, self._seen = self._seen, stamp
        try:
            dataset = self.load()
        except DatasetError as exc:
            logger.error("dataset not reloaded, still serving the previous one: %s", exc)
            return False
        try:
            dropped = await self.service.replace_dataset(dataset)
        except StorageUnavailable:
            # Redis is down: keep serving the old dataset and try again on the next poll.
            logger.error("dataset not reloaded yet: the booking storage is unavailable")
            self._seen = previous
            return False
        logger.info("dataset reloaded from %s; %d bookings dropped", self.path, dropped)
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.check()
