"""What /proc tells of the processes a benchmark runs: their trees, CPU time and memory."""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """pid and its descendants."""
    pids, index = [pid], 0
    while index < len(pids):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pids[index]}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        index += 1
    return pids


def uvicorn_flavour(pid: int) -> tuple[str, str]:
    """The event loop and HTTP parser a running uvicorn uses, from the libraries it mapped."""
    mapped = ""
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            mapped += Path(f"/proc/{each}/maps").read_text()
    loop = "uvloop" if "/uvloop/loop." in mapped else "asyncio"
    http = "httptools" if "/httptools/parser/" in mapped else "h11"
    return loop, http


def machine_busy_seconds() -> float:
    """CPU seconds all processes used since boot, from /proc/stat.

    Interrupt time is left out: the loopback traffic's own softirq work lands there and is
    charged to no process, so it would read as other processes' load.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4]]
    user, nice, system = fields
    return (user + nice + system) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used by pid and its descendants, from /proc/PID/stat."""
    total = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            stat = Path(f"/proc/{each}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def children_cpu_seconds() -> float:
    """CPU seconds of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuShares:
    """The CPU a server, wrk and all other processes use from now until percent() is read.

    wrk is counted as this process's reaped children: it must be the only child waited for
    in between. With wrk_pid, wrk is read from /proc instead, so percent() must be read
    while it runs. more names further process trees (pid by name), each counted apart from
    the other processes.
    """

    def __init__(
        self,
        server_pid: int,
        *,
        wrk_pid: int | None = None,
        more: Mapping[str, int] | None = None,
    ) -> None:
        self.server_pid = server_pid
        self.wrk_pid = wrk_pid
        self.more = dict(more or {})
        self.started = time.monotonic()
        self.machine = machine_busy_seconds()
        self.server = tree_cpu_seconds(server_pid)
        self.wrk = self._wrk_seconds()
        self.named = {name: tree_cpu_seconds(pid) for name, pid in self.more.items()}

    def _wrk_seconds(self) -> float:
        if self.wrk_pid is None:
            return children_cpu_seconds()
        return tree_cpu_seconds(self.wrk_pid)

    def percent(self) -> dict[str, int]:
        """Each one's CPU since the start, in % of one core: server, more's, wrk, others."""
        wall = time.monotonic() - self.started
        machine = machine_busy_seconds() - self.machine
        server = tree_cpu_seconds(self.server_pid) - self.server
        named = {name: tree_cpu_seconds(pid) - self.named[name] for name, pid in self.more.items()}
        wrk = max(0.0, self._wrk_seconds() - self.wrk)
        rest = machine - server - wrk - sum(named.values())
        return {
            "server": round(100 * server / wall),
            **{name: round(100 * seconds / wall) for name, seconds in named.items()},
            "wrk": round(100 * wrk / wall),
            "others": round(100 * max(0.0, rest) / wall),
        }


def cpu_text(cpu: dict[str, int]) -> str:
    named = "".join(f", {k} {v}" for k, v in cpu.items() if k not in ("server", "wrk", "others"))
    return f"server {cpu['server']}{named}, wrk {cpu['wrk']}, other processes {cpu['others']}"


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of pid in KiB, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


# The kernel's TCP counters a stall can come from: a segment lost on loopback waits for
# its retransmission timeout (200 ms at least, doubling), a refused SYN for a second.
TCP_COUNTERS = {
    "retransmits": ("Tcp", "RetransSegs"),
    "timeouts": ("TcpExt", "TCPTimeouts"),
    "syn_retransmits": ("TcpExt", "TCPSynRetrans"),
    "listen_drops": ("TcpExt", "ListenDrops"),
}


def tcp_counters() -> dict[str, int]:
    """The machine's TCP_COUNTERS since boot, from /proc/net/snmp and /proc/net/netstat
    (system-wide: on a quiet machine, the benchmark's own connections)."""
    values: dict[tuple[str, str], int] = {}
    for name in ("snmp", "netstat"):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/net/{name}").read_text().splitlines()
            # Each group is two lines: "Group: names..." then "Group: values...".
            for heads, nums in zip(lines[::2], lines[1::2], strict=False):
                group, _, names = heads.partition(":")
                for key, value in zip(names.split(), nums.partition(":")[2].split(), strict=False):
                    with contextlib.suppress(ValueError):
                        values[(group, key)] = int(value)
    return {name: values[where] for name, where in TCP_COUNTERS.items() if where in values}


def counted_since(before: Mapping[str, int]) -> dict[str, int]:
    """tcp_counters() now, less ``before``."""
    now = tcp_counters()
    return {name: now[name] - before.get(name, 0) for name in now}
