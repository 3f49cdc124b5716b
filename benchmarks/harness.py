"""What the benchmark scripts do around a measurement: ports, pinning, servers, the code.

The scripts import it, and procfs, slots, wrk and profiling, as siblings: benchmarks/ is
a folder of scripts, not a package. It imports only the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent

CLOCK = "2026-03-13T10:30:00Z"  # the API document's moment, as the tests pin it
SEED = 20260313  # booking-mock's --seed: the fake hosts slots.fake_host_slugs names


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinning(enabled: bool) -> tuple[list[str], list[str]] | None:
    """taskset prefixes for the server (CPU 0) and wrk (CPU 1), or None when not possible."""
    if not enabled or shutil.which("taskset") is None:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]


class Server:
    """A server process in its own session, stopped with its children by its pid."""

    def __init__(self, name: str, argv: Sequence[str], port: int, log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # A new session makes the pid a process group id: npx's node children go with it.
        self.process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def interrupt(self, timeout: float) -> int | None:
        """SIGINT to the server's own pid, as Ctrl-C; its exit code, None if still running
        after timeout seconds (stop() then ends it)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            # The leader is gone; children it left in the group may not be.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self._log.close()


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str], port: int, log_dir: Path, timeout: float
) -> Iterator[Server]:
    """The server started, listening on port within timeout seconds; stopped on leaving."""
    server = Server(name, argv, port, log_dir)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


def beside_python(command: str) -> str | None:
    """The command installed next to this Python (the venv's), else the one on PATH."""
    beside = VENV_BIN / command
    return str(beside) if beside.exists() else shutil.which(command)


def booking_mock() -> str:
    found = beside_python("booking-mock")
    if found is None:
        raise SystemExit("booking-mock not found: run with the project's .venv/bin/python")
    return found


def mock_argv(
    port: int,
    *,
    fake_hosts: int | None = None,
    rate_limit: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """booking-mock with memory storage, the clock frozen, X-Forwarded-For from 127.0.0.1.

    With fake_hosts, that many fake hosts of SEED instead of the default dataset.
    """
    argv = [booking_mock(), "--port", str(port), "--clock", CLOCK, "--freeze"]
    if rate_limit is not None:
        argv += ["--rate-limit", rate_limit]
    argv += ["--forwarded-allow-ips", "127.0.0.1"]
    if fake_hosts is not None:
        argv += ["--fake-hosts", str(fake_hosts), "--seed", str(SEED)]
    return [*argv, *extra]


def shown(argv: Sequence[str]) -> str:
    """A command as the reports show it: paths inside the repository relative to it."""
    return shlex.join(argv).replace(str(ROOT) + "/", "")


def code_version() -> str:
    """HEAD's short hash, and whether mock_server/ differs from it: what booking-mock ran."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "mock_server"], capture_output=True, text=True
    )
    version = commit.stdout.strip() or "unknown"
    return version + (" + uncommitted changes in mock_server/" if dirty.stdout.strip() else "")


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def run_script(main: Callable[[], int], name: str, stopped: str) -> None:
    """Exit with main's code; on Ctrl-C or SIGTERM, once every finally has stopped its server.

    The handlers are set explicitly: a shell starts background jobs with SIGINT ignored.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; {stopped}", file=sys.stderr)
        sys.exit(130)
