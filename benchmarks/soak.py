"""Soak: booking-mock under 500 open connections for 60 s; errors, lost bookings and RSS.

    .venv/bin/python benchmarks/soak.py [--connections 500] [--duration 60] [--warmup 75]

Starts one booking-mock as benchmarks/throughput.py starts it (harness.mock_argv: memory
storage, the clock pinned, X-Forwarded-For trusted from 127.0.0.1) and loads it with wrk
sending throughput.py's realistic mix (benchmarks/booking_mix.lua, loaded by
benchmarks/soak.lua, which also keeps and times every 201), over --connections open
connections:

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
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness
from lost_bookings import compare_bookings, reset_bookings, stored_booking_ids
from mix import run_phase, timed_latency
from procfs import cpu_text, memory_kib, mib
from slots import fake_host_slugs, slot_lines, write_slot_file
from wrk import Wrk, find_wrk

RSS_GROWTH_TARGET = 10.0  # percent, from the RSS once warm to the RSS at the end
# The warm-up outlasts the soak: a soak that books more than the warm-up held grows the
# heap past it (and the store's dicts past a resize), which is data, not a leak.
WARMUP_SHARE = 1.25
WRK_HINT = (
    "soak: the load generator wrk is not installed. Install it with"
    " `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`, then run again"
    " (or pass --install to have this script apt-get it when run as root)."
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
        wrk_path = find_wrk(install=args.install)
    except SystemExit:
        print(WRK_HINT, file=sys.stderr)
        return 2
    pins = harness.pinning(not args.no_pin)
    server_prefix, wrk_prefix = pins or ([], [])
    wrk = Wrk(
        wrk_path, args.connections, threads=args.threads, timeout=args.timeout, prefix=wrk_prefix
    )
    version = harness.code_version()
    port = harness.free_port()
    extra = shlex.split(args.mock_args)
    command = harness.mock_argv(port, fake_hosts=args.fake_hosts, extra=extra)
    print(f"code: {version}")
    print(f"server: {harness.shown(command)}")
    print(f"load generator: {wrk.version()}")
    print(f"server and wrk pinned to different cores: {'yes' if pins else 'no'}", flush=True)

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        with harness.running("booking-mock", [*server_prefix, *command], port, work, 60) as server:
            options: dict[str, Any] = {
                "server_pid": server.pid,
                "work": work,
                "sample_every": args.sample_every,
            }
            rss_cold = memory_kib(server.pid)["VmRSS"]
            slugs = fake_host_slugs(args.fake_hosts)
            lines = slot_lines(server.url, slugs)
            slots = write_slot_file(lines, work / "slots.txt")
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

    bookings = compare_bookings(before, soak.created_ids, after)
    timed = timed_latency(soak)
    growth = 100 * (rss_end - rss_start) / rss_start
    errors_5xx = warm.server_errors + soak.server_errors
    checks = {
        "5xx": errors_5xx == 0,
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
    print(f"5xx: {errors_5xx} (warm-up {warm.server_errors}, soak {soak.server_errors})")
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
    print(f"CPU during the soak (% of one core): {cpu_text(cpu)}")
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
            "server": harness.shown(command),
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
        harness.write_json(args.out, document)
    return 1 if failed else 0


if __name__ == "__main__":
    harness.run_script(main, "soak", "the server it started is stopped")
