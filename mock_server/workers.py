"""Several worker processes on one port, each accepting on a listening socket of its own.

uvicorn's ``--workers`` hands every worker one shared listening socket. asyncio accepts
every connection pending on a socket each time it wakes up for it, so a burst of
connections (a load generator opening 50, a browser opening six) goes to whichever worker
woke first: in ``benchmarks/scale_out.py`` one of two workers ran at 99% of a core and the
other at 0%, half the runs. Here each worker listens on a socket of its own, bound to the
same address with ``SO_REUSEPORT``, and the kernel spreads new connections over them by
their addresses. Everything else is uvicorn's supervisor: SIGINT, SIGTERM, SIGHUP (every
worker replaced in turn), health checks, a dead worker replaced (on the same socket, so the
connections queued on it are served). SIGTTIN and SIGTTOU, which add and remove a worker
in uvicorn, are ignored with a warning: the sockets are made for ``--workers`` at start.
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

logger = logging.getLogger("uvicorn.error")


def can_spread() -> bool:
    """Whether this system has ``SO_REUSEPORT`` (Linux, the BSDs, macOS; not Windows)."""
    return hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets listening on one address with ``SO_REUSEPORT``.

    The address is first bound once without it, and let go: a port already in use, even by
    sockets that would share it (another booking-mock with workers), is refused as it is
    with one worker, instead of two servers silently splitting its connections. Port 0
    becomes the port the system chose then.
    """
    with _socket(host, port, reuse_port=False) as probe:
        port = probe.getsockname()[1]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = _socket(host, port, reuse_port=True)
            sockets.append(sock)
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class SpreadWorkers(Multiprocess):
    """uvicorn's ``Multiprocess``, with worker ``i`` always on ``sockets[i]``."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        if len(sockets) != config.workers:
            raise ValueError(f"{config.workers} workers need as many sockets, not {len(sockets)}")
        super().__init__(config, sockets)
        self.failed = False  # a worker failed before serving, and so stopped the rest

    def handle_ttin(self) -> None:
        logger.warning("SIGTTIN ignored: the number of workers is --workers, set at start")

    def handle_ttou(self) -> None:
        logger.warning("SIGTTOU ignored: the number of workers is --workers, set at start")

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(index) for index in range(self.processes_num)]

    def restart_all(self) -> None:
        """Each worker replaced by a new one on its socket, the new one ready first (SIGHUP)."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error(
                        f"New child process [{new.pid}] was not ready in time; "
                        f"keeping worker [{old.pid}] and aborting the restart."
                    )
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or already gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving: a new one would fail the same way.
                logger.error(f"Child process [{process.pid}] failed to start, stopping.")
                self.failed = True
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            self.processes[index] = self._start(index)


def run_workers(config: Config) -> None:
    """``config.workers`` workers serving ``config.app`` (an import string), until SIGINT or
    SIGTERM; a socket of their own each where the system has ``SO_REUSEPORT``, uvicorn's one
    shared socket otherwise."""
    if not can_spread():
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    try:
        sockets = listening_sockets(config.host, config.port, config.workers, config.backlog)
    except OSError as exc:
        logger.error(exc)  # as uvicorn's own bind does
        sys.exit(STARTUP_FAILURE)
    host, port = sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    logger.info(f"Uvicorn running on http://{shown}:{port} (Press CTRL+C to quit)")
    supervisor = SpreadWorkers(config, sockets)
    try:
        supervisor.run()
    finally:
        for sock in sockets:
            sock.close()
    if supervisor.failed:
        sys.exit(STARTUP_FAILURE)
