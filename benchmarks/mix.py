"""booking_mix.lua under wrk: one run's numbers, as throughput.py and soak.py keep them.

throughput.py runs the mix itself (Load) and prints it as a table (load_table); proxy.py
does too, through drain.lua, which leaves no request in flight when wrk stops; soak.py
runs it through soak.lua, which also keeps the booking id of every 201 and times it (Phase).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procfs import TCP_COUNTERS, counted_since, cpu_text, memory_kib, tcp_counters
from wrk import Wrk, run_wrk

HERE = Path(__file__).resolve().parent
MIX_SCRIPT = HERE / "booking_mix.lua"
SOAK_SCRIPT = HERE / "soak.lua"
DRAIN_SCRIPT = HERE / "drain.lua"


def mix_totals(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Requests, seconds, latency in ms, status codes in order, socket errors, slots reused."""
    errors = raw["errors"]
    return {
        "requests": raw["requests"],
        "seconds": round(raw["duration_us"] / 1e6, 2),
        "latency_ms": {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
        "status": dict(sorted(raw["status"].items())),
        "socket_errors": {k: errors[k] for k in ("connect", "read", "write", "timeout")},
        "slots_reused": raw["slots_reused"],
    }


def server_errors(status: Mapping[str, int]) -> int:
    """The 5xx answers of a status count."""
    return sum(n for code, n in status.items() if code.startswith("5"))


@dataclass
class Load:
    """One run of booking_mix.lua, as throughput.py reports it."""

    requests: int
    seconds: float
    requests_per_s: float
    latency_ms: dict[str, float]
    status: dict[str, int]
    socket_errors: dict[str, int]
    slots_reused: int
    errors: int  # failed requests: socket errors, timeouts and 5xx answers
    cpu_percent: dict[str, int]  # of one core, over the run: server, wrk, other processes
    # With a drain (drain.lua): answers received in it, and requests never answered.
    drain: dict[str, int] | None = None
    # The kernel's TCP retransmissions and timeouts meanwhile (procfs.tcp_counters).
    tcp: dict[str, int] = field(default_factory=dict)


def run_mix(
    wrk: Wrk,
    url: str,
    slots_file: Path,
    phase: int,
    *,
    seconds: float,
    server_pid: int,
    drain: float = 0,
    more: Mapping[str, int] | None = None,
) -> Load:
    """One wrk run of booking_mix.lua, with the CPU the server, wrk and others used meanwhile.

    With drain, through drain.lua: the connections send requests for `seconds`, then only
    wait for the answers in flight, for `drain` more seconds, so that wrk cuts none off;
    the numbers, CPU included, are those of the `seconds` measured. more names further
    process trees whose CPU is counted apart (procfs.CpuShares).
    """
    tcp = tcp_counters()
    if drain:
        args = (slots_file, phase, wrk.threads, seconds)
        argv = wrk.argv(url, DRAIN_SCRIPT, args, seconds + drain)
        raw, cpu = run_wrk(
            argv, seconds=seconds + drain, server_pid=server_pid, cpu_seconds=seconds, more=more
        )
    else:
        argv = wrk.argv(url, MIX_SCRIPT, (slots_file, phase, wrk.threads), seconds)
        raw, cpu = run_wrk(argv, seconds=seconds, server_pid=server_pid, more=more)
    totals = mix_totals(raw)
    return Load(
        **totals,
        requests_per_s=round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        errors=sum(totals["socket_errors"].values()) + server_errors(totals["status"]),
        cpu_percent=cpu,
        drain=raw.get("drain"),
        tcp=counted_since(tcp),
    )


def tcp_note(load: Load) -> str | None:
    """A line on the segments the kernel retransmitted during the run, if it did."""
    tcp = {name: load.tcp.get(name, 0) for name in TCP_COUNTERS}
    if not tcp["retransmits"] and not tcp["syn_retransmits"]:
        return None
    return (
        f"the kernel retransmitted {tcp['retransmits']:,} TCP segments during the measurement"
        f" ({tcp['timeouts']:,} after a timeout, {tcp['syn_retransmits']:,} SYNs,"
        f" {tcp['listen_drops']:,} refused at the listen queue): a request waiting"
        " on one is answered 200 ms to seconds late, which its max and p99 show"
    )


def status_mix(load: Load) -> str:
    """The share of each status code: "201 70%, 400 20%, 429 10%"."""
    total = sum(load.status.values()) or 1
    return ", ".join(f"{code} {100 * n / total:.0f}%" for code, n in load.status.items())


def print_load(load: Load) -> None:
    """A measured side's line, as the benchmark scripts print it under its heading."""
    print(
        f"   {load.requests_per_s:,.0f} requests/s, p50 {load.latency_ms['p50']} ms,"
        f" p99 {load.latency_ms['p99']} ms, status {status_mix(load)}",
        flush=True,
    )
    print(f"   CPU (% of one core): {cpu_text(load.cpu_percent)}", flush=True)


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def load_table(loads: Mapping[str, Load], first: str = "server") -> list[str]:
    """The lines of throughput.py's table: req/s, p50, p99, max, errors, status mix a row."""
    width = max(14, *(len(name) + 2 for name in loads))
    header = f"{first:<{width}}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    lines = [header + "  status mix"]
    for name, load in loads.items():
        lat = load.latency_ms
        lines.append(
            f"{name:<{width}}{load.requests_per_s:>9,.0f}{lat['p50']:>9.2f}{lat['p99']:>9.2f}"
            f"{lat['max']:>9.1f}{load.errors:>8}  {status_mix(load)}"
        )
    return lines


@dataclass
class Phase:
    """One run of soak.lua: the mix's totals and the ids of the bookings it was given."""

    name: str
    requests: int
    seconds: float
    latency_ms: dict[str, float]
    status: dict[str, int]
    socket_errors: dict[str, int]
    slots_reused: int
    created_ids: list[str]
    cpu_percent: dict[str, int]
    # Per 201 timed by soak.lua: (microseconds to the answer, microseconds into the run sent)
    timed: list[tuple[int, int]] = field(default_factory=list)
    rss_kib: list[tuple[float, int]] = field(default_factory=list)  # (seconds in, VmRSS)

    @property
    def server_errors(self) -> int:
        return server_errors(self.status)

    @property
    def created(self) -> int:
        return self.status.get("201", 0)


def run_phase(
    name: str,
    wrk: Wrk,
    url: str,
    slots_file: Path,
    *,
    seconds: float,
    server_pid: int,
    work: Path,
    sample_every: float = 0,
) -> Phase:
    """One wrk run of soak.lua; with sample_every, the server's RSS that often meanwhile.

    wrk counts an answer that took longer than wrk.timeout as a timeout error, and leaves it out
    of the latency percentiles; soak.lua still counts its status and booking id.

    Every phase uses booking_mix.lua's phase 0: the same simulated clients throughout, so
    the rate limiter holds the same clients' state in the soak as at its start.
    """
    ids_file = work / f"created-{name}.txt"
    argv = wrk.argv(url, SOAK_SCRIPT, (slots_file, 0, wrk.threads), seconds)
    samples: list[tuple[float, int]] = []

    def sample(elapsed: float) -> None:
        samples.append((round(elapsed), memory_kib(server_pid)["VmRSS"]))

    raw, cpu = run_wrk(
        argv,
        seconds=seconds,
        server_pid=server_pid,
        env=os.environ | {"SOAK_IDS": str(ids_file)},
        sample=sample if sample_every else None,
        every=sample_every,
    )
    if not ids_file.exists():
        raise RuntimeError(f"soak.lua wrote no {ids_file.name}")
    ids, timed = [], []
    for entry in ids_file.read_text().splitlines():
        booking_id, *times = entry.split()
        ids.append(booking_id)
        if times:
            timed.append((int(times[0]), int(times[1])))
    return Phase(
        name=name, **mix_totals(raw), created_ids=ids, cpu_percent=cpu, rss_kib=samples, timed=timed
    )


@dataclass
class Timed:
    """The 201s' latencies as soak.lua measured them, one per answer."""

    answers: int
    percentiles_ms: dict[str, float]
    over_1s: int
    over_1s_sent_first_second: int


def timed_latency(phase: Phase) -> Timed | None:
    """Percentiles of the measured 201 latencies; None without LuaJIT's ffi in wrk."""
    if not phase.timed:
        return None
    latencies = sorted(latency for latency, _ in phase.timed)

    def at(share: float) -> float:  # nearest rank
        return round(latencies[max(0, math.ceil(share * len(latencies)) - 1)] / 1000, 2)

    slow = [sent for latency, sent in phase.timed if latency > 1_000_000]
    return Timed(
        answers=len(latencies),
        percentiles_ms={"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)},
        over_1s=len(slow),
        over_1s_sent_first_second=sum(1 for sent in slow if sent < 1_000_000),
    )
