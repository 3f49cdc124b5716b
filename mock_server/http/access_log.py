"""The access log: one line per request (method, path, status, client, milliseconds).

Lines are written in batches (every 100 ms, and at exit): logging each line as it
happens costs a formatted record, a lock and a flushed write per request, which the
throughput benchmark showed to be a large share of a request's time. The exchange
(mock_server.http.exchange) adds a line for every HTTP request it sees.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import time

from starlette.types import Scope

logger = logging.getLogger("mock_server.access")

FLUSH_INTERVAL = 0.1


class AccessLog:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._scheduled = False
        self._second = -1
        self._stamp = ""
        atexit.register(self.flush)

    @staticmethod
    def enabled() -> bool:
        return logger.isEnabledFor(logging.INFO)

    def flush(self) -> None:
        self._scheduled = False
        if self._lines:
            lines, self._lines = self._lines, []
            logger.info("\n".join(lines))

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:  # strftime once a second, not once a request
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((now - second) * 1000):03d}"

    def add(self, scope: Scope, status: int, started: float) -> None:
        """The line of a request that began at ``started`` (``time.perf_counter()``)."""
        client = scope.get("client")
        self._lines.append(
            f"{self._timestamp(time.time())} INFO mock_server.access: {scope['method']}"
            f" {scope['path']} {status} {client[0] if client else '-'}"
            f" {(time.perf_counter() - started) * 1000:.1f}ms"
        )
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self.flush)
