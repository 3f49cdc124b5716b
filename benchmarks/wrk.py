"""wrk, the load generator: finding it, running one of our Lua scripts, reading its RESULT line."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procfs import CpuShares


def find_wrk(install: bool = True) -> str:
    """wrk's path; as root, apt-get installs Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; installing Debian's package: apt-get install -y wrk", flush=True)
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        quiet = {"stdout": subprocess.DEVNULL, "env": env}
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-qq"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "The load generator wrk is not installed. Install it with"
        " `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`, then run again."
    )


@dataclass(frozen=True)
class Wrk:
    """wrk, and how a script has it load a server: the same for each of its runs."""

    path: str
    connections: int
    threads: int = 1
    timeout: float = 10  # seconds; a slower answer counts as a timeout, not in the latency
    prefix: Sequence[str] = ()  # taskset's, to pin wrk to its core

    def argv(
        self, url: str, script: Path, script_args: Sequence[object], seconds: float
    ) -> list[str]:
        """wrk running script against url; script_args follow `--`, for the script."""
        return [
            *self.prefix,
            self.path,
            f"--threads={self.threads}",
            f"--connections={self.connections}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={max(1, round(self.timeout))}s",
            f"--script={script}",
            url,
            "--",
            *(str(arg) for arg in script_args),
        ]

    def version(self) -> str:
        """The first line wrk prints of itself."""
        answer = subprocess.run([self.path, "--version"], capture_output=True, text=True)
        return (answer.stdout + answer.stderr).splitlines()[0]


def wrk_result(returncode: int | None, stdout: str, stderr: str) -> dict[str, Any]:
    """The JSON our Lua scripts print in done() as "RESULT {json}"; RuntimeError if wrk failed."""
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if returncode or line is None:
        raise RuntimeError(f"wrk failed ({returncode}):\n{stdout}\n{stderr}")
    return json.loads(line.removeprefix("RESULT "))


def run_wrk(
    argv: Sequence[str],
    *,
    seconds: float,
    server_pid: int,
    env: Mapping[str, str] | None = None,
    sample: Callable[[float], None] | None = None,
    every: float = 5,
    cpu_seconds: float | None = None,
    more: Mapping[str, int] | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """wrk run to its end: its RESULT, and the CPU the server, wrk and others used meanwhile.

    wrk gets seconds + 60 to finish. With sample, sample(seconds since the start) is called
    as wrk starts and every `every` seconds while it runs. With cpu_seconds, the CPU is
    that of the run's first cpu_seconds only (wrk's then read from /proc as it runs); more
    names further process trees whose CPU is counted apart (procfs.CpuShares).
    """
    cpu = CpuShares(server_pid, more=more)  # wrk is the only child reaped in between
    deadline = cpu.started + seconds + 60
    next_sample = cpu.started
    shares: dict[str, int] | None = None
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        if cpu_seconds is not None:
            cpu = CpuShares(server_pid, wrk_pid=process.pid, more=more)
        cpu_at = cpu.started + cpu_seconds if cpu_seconds is not None else math.inf
        try:
            while True:
                now = time.monotonic()
                if now > deadline:
                    raise RuntimeError(f"wrk did not finish within {seconds + 60:.0f} s")
                if shares is None and now >= cpu_at:
                    shares = cpu.percent()
                if sample is not None and now >= next_sample:
                    sample(now - cpu.started)
                    next_sample += every
                until = min(deadline, next_sample) if sample is not None else deadline
                if shares is None:
                    until = min(until, cpu_at)
                try:
                    stdout, stderr = process.communicate(timeout=max(0.01, until - now))
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if shares is None:  # wrk ended first: read now (with cpu_seconds, wrk counts 0)
        shares = cpu.percent()
    return wrk_result(process.returncode, stdout, stderr), shares
