"""Soak: booking-mock under 500 open connections for 60 s; errors, lost bookings and RSS.

    .venv/bin/python benchmarks/soak.py [--connections 500] [--duration 60] [--warmup 75]

Starts one booking-mock as benchmarks/throughput.py starts it (memory storage, the clock
pinned, X-Forwarded-For trusted from 127.0.0.1) and loads it with wrk sending
throughput.py's realistic mix (benchmarks/booking_mix.lua, loaded by benchmarks/soak.lua,
which also keeps and times every 201), over --connections open connections:

1. warm-up: --warmup seconds (default: 1.25 times the soak's) of the mix;
2. its bookings are reset (POST /__admin/reset?only=bookings), so the soak can book the
   same slots again, and the RSS is read: the server has now served the soak's load and
   held more bookings than the soak will make, which is what "warm" means here;
3. soak: --duration seconds of the same mix from the same simulated clients, the RSS read
   every --sample-every seconds and at the end;
4. the bookings the server stores (GET /__admin/bookings) against the soak's 201s.

It reports the 5xx answers, the connection errors, the latency, the RSS once warm and at
the end, and the lost bookings (201s whose booking the server does not store), and a
verdict against the targets: no 5xx, no lost booking, RSS growth under 10% once warm.
Exit code 0 when all are met, 1 when one is not, 2 when wrk is not installed. The server
runs on CPU 0 and wrk on CPU 1 when taskset is available. See benchmarks/README.md for
why the warm-up holds the bookings first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import memory_kib, mib  # scripts' siblings, not a package
from throughput import (
    children_cpu_seconds,
    code_version,
    fake_host_slugs,
    find_wrk,
    free_port,
    interruptible,
    machine_busy_seconds,
    mock_argv,
    pinning,
    running,
    slot_lines,
    tree_cpu_seconds,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOAK_SCRIPT = HERE / "soak.lua"
RSS_GROWTH_TARGET = 10.0  # percent, from the RSS once warm to the RSS at the end
# The warm-up outlasts the soak: a soak that books more than the warm-up held grows the
# heap past it (and the store's dicts past a resize), which is data, not a leak.
WARMUP_SHARE = 1.25
WRK_HINT = (
    "soak: the load generator wrk is not installed. Install it with"
    " `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`, then run again"
    " (or pass --install to have this script apt-get it when run as root)."
)


@dataclass
class Phase:
    """One wrk run of the mix: wrk's totals and the ids of the bookings it was given."""

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
        return sum(n for code, n in self.status.items() if code.startswith("5"))

    @property
    def created(self) -> int:
        return self.status.get("201", 0)


def run_phase(
    name: str,
    wrk: str,
    url: str,
    slots_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    prefix: Sequence[str],
    server_pid: int,
    work: Path,
    timeout: float = 10,
    sample_every: float = 0,
) -> Phase:
    """One wrk run of soak.lua; with sample_every, the server's RSS that often meanwhile.

    wrk counts an answer that took longer than timeout as a timeout error, and leaves it out
    of the latency percentiles; soak.lua still counts its status and booking id.

    Every phase uses booking_mix.lua's phase 0: the same simulated clients throughout, so
    the rate limiter holds the same clients' state in the soak as at its start.
    """
    ids_file = work / f"created-{name}.txt"
    argv = [
        *prefix,
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={max(1, round(timeout))}s",
        f"--script={SOAK_SCRIPT}",
        url,
        "--",
        str(slots_file),
        "0",
        str(threads),
    ]
    env = os.environ | {"SOAK_IDS": str(ids_file)}
    started = time.monotonic()
    machine_before, server_before = machine_busy_seconds(), tree_cpu_seconds(server_pid)
    wrk_before = children_cpu_seconds()  # wrk is the only child reaped in between
    samples: list[tuple[float, int]] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            deadline = started + seconds + 60
            next_sample = started
            while process.poll() is None:
                now = time.monotonic()
                if now > deadline:
                    raise RuntimeError(f"wrk did not finish within {seconds + 60:.0f} s")
                if sample_every and now >= next_sample:
                    samples.append((round(now - started), memory_kib(server_pid)["VmRSS"]))
                    next_sample += sample_every
                time.sleep(0.1)
            stdout, stderr = process.communicate()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    wall = time.monotonic() - started
    server_cpu = tree_cpu_seconds(server_pid) - server_before
    wrk_cpu = children_cpu_seconds() - wrk_before
    machine = machine_busy_seconds() - machine_before
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if process.returncode or line is None or not ids_file.exists():
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{stdout}\n{stderr}")
    raw = json.loads(line.removeprefix("RESULT "))
    errors = raw["errors"]
    ids, timed = [], []
    for entry in ids_file.read_text().splitlines():
        booking_id, *times = entry.split()
        ids.append(booking_id)
        if times:
            timed.append((int(times[0]), int(times[1])))
    return Phase(
        name=name,
        requests=raw["requests"],
        seconds=round(raw["duration_us"] / 1e6, 2),
        latency_ms={k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
        status=dict(sorted(raw["status"].items())),
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
        slots_reused=raw["slots_reused"],
        created_ids=ids,
        cpu_percent={
            "server": round(100 * server_cpu / wall),
            "wrk": round(100 * wrk_cpu / wall),
            "others": round(100 * max(0.0, machine - server_cpu - wrk_cpu) / wall),
        },
        rss_kib=samples,
        timed=timed,
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


def stored_booking_ids(url: str) -> list[str]:
    """The ids of every booking the server stores (the control API lists them all at once)."""
    answer = httpx.get(f"{url}/__admin/bookings", timeout=120)
    answer.raise_for_status()
    return [booking["id"] for booking in answer.json()["bookings"]]


def reset_bookings(url: str) -> None:
    answer = httpx.post(f"{url}/__admin/reset", params={"only": "bookings"}, timeout=60)
    answer.raise_for_status()


@dataclass
class Bookings:
    """What the clients were told was booked, against what the server stores."""

    created: int  # 201 answers
    stored: int  # bookings stored afterwards that were not there before
    lost_ids: list[str]  # ids of 201s that are not stored
    unseen: int  # stored bookings whose 201 no client received (in flight at wrk's stop)
    repeated_ids: int  # 201s that gave an id already given to an earlier one
    without_id: int  # 201s whose body had no id

    @property
    def lost(self) -> int:
        """201s without a stored booking: by id, and by count for what ids cannot tell."""
        return max(len(self.lost_ids), self.created - self.stored)


def compare_bookings(before: Sequence[str], phase: Phase, after: Sequence[str]) -> Bookings:
    """Match the booking id of every 201 of the phase with the server's stored bookings."""
    told = phase.created_ids
    with_id = [i for i in told if i != "?"]
    new = set(after) - set(before)
    return Bookings(
        created=len(told),
        stored=len(new),
        lost_ids=sorted(set(with_id) - new),
        unseen=len(new - set(with_id)),
        repeated_ids=sum(n - 1 for n in Counter(with_id).values()),
        without_id=len(told) - len(with_id),
    )


def server_log_errors(log: Path) -> list[str]:
    """The server log's ERROR lines and tracebacks."""
    lines = log.read_text(errors="replace").splitlines()
    return [x for x in lines if " ERROR " in x or x.startswith("Traceback")]


def status_counts(status: dict[str, int]) -> str:
    total = sum(status.values()) or 1
    return ", ".join(f"{code} {n:,} ({100 * n / total:.0f}%)" for code, n in status.items())


def errors_text(errors: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in errors.items())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500, help="open connections (500)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of soak (60)")
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds of warm-up before the RSS once warm (default: 1.25 x --duration, so"
        " that the warm-up holds more bookings than the soak makes)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--timeout", type=float, default=10, help="wrk's timeout, in seconds (10, as throughput.py)"
    )
    parser.add_argument(
        "--fake-hosts",
        type=int,
        default=300,
        help="booking-mock --fake-hosts; 300 give about 200,000 free slots (300)",
    )
    parser.add_argument(
        "--sample-every", type=float, default=5, help="seconds between RSS readings (5)"
    )
    parser.add_argument("--mock-args", default="", help="more booking-mock options (none)")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="copy the server log and the 201s (id, latency and send time in microseconds)"
        " of each phase into DIR",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument(
        "--install", action="store_true", help="apt-get install wrk when missing (as root)"
    )
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = WARMUP_SHARE * args.duration
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if args.duration < 1 or args.warmup < 1:
        parser.error("--duration and --warmup must be at least 1 s")
    if args.sample_every <= 0:
        parser.error("--sample-every must be above 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = find_wrk(install=args.install)
    except SystemExit:
        print(WRK_HINT, file=sys.stderr)
        return 2
    pins = pinning(not args.no_pin)
    server_prefix, wrk_prefix = pins or ([], [])
    version = code_version()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    port = free_port()
    command = mock_argv(port, args.fake_hosts, shlex.split(args.mock_args))
    shown = shlex.join(command).replace(str(ROOT) + "/", "")
    print(f"code: {version}")
    print(f"server: {shown}")
    print(f"load generator: {(wrk_version.stdout + wrk_version.stderr).splitlines()[0]}")
    print(f"server and wrk pinned to different cores: {'yes' if pins else 'no'}", flush=True)
    options: dict[str, Any] = {
        "connections": args.connections,
        "threads": args.threads,
        "prefix": wrk_prefix,
        "timeout": args.timeout,
        "sample_every": args.sample_every,
    }

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        with running("booking-mock", [*server_prefix, *command], port, work, 60) as server:
            options |= {"server_pid": server.pid, "work": work}
            rss_cold = memory_kib(server.pid)["VmRSS"]
            slugs = fake_host_slugs(args.fake_hosts)
            lines = slot_lines(server.url, slugs)
            slots = work / "slots.txt"
            slots.write_text("\n".join(lines) + "\n")
            print(f"{len(lines):,} free slots of {len(slugs)} hosts", flush=True)

            print(f"warming up: {args.warmup:g} s, {args.connections} connections", flush=True)
            warm = run_phase("warm-up", wrk, server.url, slots, seconds=args.warmup, **options)
            rss_warm_held = memory_kib(server.pid)["VmRSS"]
            reset_bookings(server.url)
            before = stored_booking_ids(server.url)
            time.sleep(1)
            rss_start = memory_kib(server.pid)["VmRSS"]

            print(f"soaking: {args.duration:g} s, {args.connections} connections", flush=True)
            soak = run_phase("soak", wrk, server.url, slots, seconds=args.duration, **options)
            time.sleep(1)
            if server.process.poll() is not None:
                raise RuntimeError(f"booking-mock died under load:\n{server.log_tail()}")
            memory = memory_kib(server.pid)
            rss_end, rss_peak = memory["VmRSS"], memory["VmHWM"]
            after = stored_booking_ids(server.url)  # after the RSS: the listing allocates
            log_errors = server_log_errors(server.log_path)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for kept in (server.log_path, *work.glob("created-*.txt")):
                shutil.copy(kept, args.keep / kept.name)

    bookings = compare_bookings(before, soak, after)
    timed = timed_latency(soak)
    growth = 100 * (rss_end - rss_start) / rss_start
    server_errors = warm.server_errors + soak.server_errors
    checks = {
        "5xx": server_errors == 0,
        "lost bookings": bookings.lost == 0,
        f"RSS growth under {RSS_GROWTH_TARGET:g}%": growth < RSS_GROWTH_TARGET,
    }
    failed = [name for name, ok in checks.items() if not ok]
    verdict = "FAIL" if failed else "PASS"
    lat = soak.latency_ms
    rss_series = "  ".join(f"{s}s {kib / 1024:.0f}" for s, kib in soak.rss_kib)
    rate = soak.requests / soak.seconds

    print("\n" + "=" * 88)
    print(
        f"soak: {soak.requests:,} requests in {soak.seconds:g} s ({rate:,.0f}/s),"
        f" {args.connections} connections, by wrk (booking_mix.lua via soak.lua);"
        f" warm-up before it: {warm.requests:,} requests in {warm.seconds:g} s"
    )
    print(f"status (soak): {status_counts(soak.status)}")
    print(f"5xx: {server_errors} (warm-up {warm.server_errors}, soak {soak.server_errors})")
    print(
        f"connection errors (soak): {errors_text(soak.socket_errors)}"
        f" (timeout: answered after more than {args.timeout:g} s, counted in the status,"
        f" not in the latency); warm-up: {errors_text(warm.socket_errors)}"
    )
    if timed:
        t = timed.percentiles_ms
        print(
            f"latency (soak, each 201 timed from its request): p50 {t['p50']:g} ms,"
            f" p90 {t['p90']:g} ms, p99 {t['p99']:g} ms, max {t['max']:g} ms;"
            f" {timed.over_1s} over 1 s ({timed.over_1s_sent_first_second} of them sent in"
            " the first second, while wrk opened its connections)"
        )
    else:
        print("latency (soak, each 201 timed from its request): not measured (wrk without ffi)")
    print(
        f"latency (soak, every answer, wrk's own with its coordinated-omission correction):"
        f" p50 {lat['p50']:g} ms, p90 {lat['p90']:g} ms, p99 {lat['p99']:g} ms,"
        f" max {lat['max']:g} ms"
    )
    print(
        f"RSS: {mib(rss_cold)} cold, {mib(rss_warm_held)} after the warm-up"
        f" ({warm.created:,} bookings held), {mib(rss_start)} once warm"
        " (those bookings reset)"
    )
    print(
        f"RSS: {mib(rss_start)} once warm, {mib(rss_end)} at the end of the soak"
        f" ({soak.created:,} bookings held): growth {growth:+.1f}% (peak {mib(rss_peak)})"
    )
    print(f"RSS during the soak (s MiB): {rss_series}")
    print(
        f"bookings (soak): {bookings.created:,} 201s, {bookings.stored:,} stored afterwards;"
        f" lost bookings: {bookings.lost}"
    )
    print(
        f"  stored without a 201 received: {bookings.unseen:,} (in flight when wrk stopped);"
        f" ids given twice: {bookings.repeated_ids}; 201s without an id: {bookings.without_id}"
    )
    if bookings.lost_ids:
        print(f"  lost ids (first 10): {', '.join(bookings.lost_ids[:10])}")
    cpu = soak.cpu_percent
    print(
        f"CPU during the soak (% of one core): server {cpu['server']}, wrk {cpu['wrk']},"
        f" other processes {cpu['others']}"
    )
    first = f"; first: {log_errors[0]}" if log_errors else ""
    print(f"server log: {len(log_errors)} error lines{first}")
    notes = []
    if soak.created > warm.created:
        notes.append(
            f"the soak made {soak.created - warm.created:,} more bookings than the warm-up"
            " held: the RSS growth includes their memory"
        )
    if warm.slots_reused or soak.slots_reused:
        reused = warm.slots_reused + soak.slots_reused
        notes.append(f"ran out of free slots: {reused:,} repeated (more with --fake-hosts)")
    unanswered = sum(n for kind, n in soak.socket_errors.items() if kind != "timeout")
    if unanswered:
        notes.append(f"{unanswered} connect, read or write errors: requests without an answer")
    if soak.socket_errors["timeout"]:
        notes.append(
            f"{soak.socket_errors['timeout']} answers took over {args.timeout:g} s: the latency"
            " percentiles leave them out"
        )
    if cpu["others"] >= 15:
        notes.append(f"other processes used {cpu['others']}% of a core: a busy machine")
    for note in notes:
        print(f"note: {note}")
    targets = f"0 5xx, 0 lost bookings, RSS growth under {RSS_GROWTH_TARGET:g}% once warm"
    print(f"{verdict} ({targets})" + (f"; not met: {', '.join(failed)}" if failed else ""))

    if args.out:
        phases = {}
        for phase in (warm, soak):
            skip = ("created_ids", "timed")
            phases[phase.name] = {k: v for k, v in asdict(phase).items() if k not in skip}
        document = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "code": version,
            "server": shown,
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "phases": phases,
            "rss_kib": {
                "cold": rss_cold,
                "after_warmup": rss_warm_held,
                "start": rss_start,
                "end": rss_end,
                "peak": rss_peak,
            },
            "rss_growth_percent": round(growth, 2),
            "latency_201_measured": asdict(timed) if timed else None,
            "bookings": asdict(bookings) | {"lost": bookings.lost},
            "server_log_errors": log_errors[:50],
            "notes": notes,
            "verdict": verdict,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    interruptible()
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nsoak: interrupted; the server it started is stopped", file=sys.stderr)
        sys.exit(130)
