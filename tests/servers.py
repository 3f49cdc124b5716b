"""Servers for tests: on a free port of 127.0.0.1, ready before use, always stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import httpx
import uvicorn


def free_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready socket bound to a free port; handing it over avoids port races."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(free_socket(host)) as sock:
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_app(app: Any, host: str = "127.0.0.1", **config: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread; yields its base URL. ``config`` goes to
    uvicorn.Config (server_header=False, say)."""
    sock = free_socket(host)
    port = sock.getsockname()[1]
    # As booking-mock does: the app applies --forwarded-allow-ips itself, uvicorn must not.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        timeout_graceful_shutdown=2,  # as booking-mock: an open stream does not hold the stop
        **config,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def wait_ready(url: str, process: subprocess.Popen[Any] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} was not ready within {timeout}s")


@dataclass
class ServedProcess:
    """A server subprocess from ``start_process``: its URL, and the means to crash it."""

    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def kill(self) -> None:
        """SIGKILL: no shutdown and no clean-up, as a crash or the OOM killer would."""
        self.process.kill()
        self.process.wait(timeout=10)

    def output(self, limit: int = 4000) -> str:
        """The tail of what the server wrote (read without moving the shared file offset)."""
        size = os.fstat(self.log.fileno()).st_size
        start = max(0, size - limit)
        return os.pread(self.log.fileno(), size - start, start).decode("utf-8", "replace")


@contextlib.contextmanager
def start_process(
    args: list[str],
    port: int,
    host: str = "127.0.0.1",
    *,
    module: str = "mock_server",
    ready_path: str = "/openapi.json",
) -> Iterator[ServedProcess]:
    """Run ``python -m MODULE ARGS --host H --port P`` (booking-mock by default), ready.

    Yields the process too, so a test can kill it mid-run; stopped (terminated, else
    killed) on the way out unless the test already killed it. The server's output goes
    to a file: a pipe nobody reads fills after some hundred access-log lines, and the
    server then blocks on its next write.
    """
    command = [sys.executable, "-m", module, *args, "--host", host, "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}
        )
        served = ServedProcess(f"http://{host}:{port}", process, log)
        try:
            try:
                wait_ready(served.url + ready_path, process)
            except RuntimeError as exc:
                raise RuntimeError(
                    f"{exc}; {' '.join(command)} wrote:\n{served.output()}"
                ) from None
            yield served
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextlib.contextmanager
def serve_process(
    args: list[str],
    port: int,
    host: str = "127.0.0.1",
    *,
    module: str = "mock_server",
    ready_path: str = "/openapi.json",
) -> Iterator[str]:
    """As ``start_process``, yielding only the server's URL."""
    with start_process(args, port, host, module=module, ready_path=ready_path) as served:
        yield served.url
