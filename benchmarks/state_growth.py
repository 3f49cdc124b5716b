"""Does booking-mock's cost stay flat as state grows? One load, fresh and after 1M bookings.

    .venv/bin/python benchmarks/state_growth.py [--bookings 1000000] [--clients 100000]
        [--fake-hosts 2000] [--duration 15] [--out benchmarks/state_growth.json]

One booking-mock (memory storage, one worker, full behaviour) and the bare Starlette
floor of throughput.py run side by side on CPU 0; wrk runs on CPU 1. In one run:

1. on the fresh server: the floor, then booking-mock, each under booking_mix.lua;
2. the fill: wrk (fill.lua) books --bookings free slots across the fake hosts, from
   --clients X-Forwarded-For addresses in turn, through the API like any client;
3. on the filled server: the floor again, then booking-mock again, the same mix on
   slots kept free for it.

It reports requests/s and latency of both measurements with their ratio (issue 16's
goal: within 10%), the same ratio against the floor's own drift between the two, the
RSS the fill added per stored booking (the goal: under 1 KiB; it counts the limiter's
windows of the fill's clients too), and the control API's answer time before and after
for a host the fill never touched (its listing and its free slots must not read other
hosts' bookings) and for a filled host. Everything it started is stopped by pid.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness
from mix import Load, load_table, print_load, ratio, run_mix
from procfs import memory_kib, mib
from slots import FAKE_EVENT, FIRST_DAY, fake_host_slugs, slot_lines, write_slot_file
from throughput import floor_argv
from wrk import Wrk, find_wrk, wrk_result

FILL_SCRIPT = harness.HERE / "fill.lua"
QUIET_HOSTS = 5  # fake hosts the fill never books: their queries must not feel it
MEASURE_SLOTS = 120_000  # free slots kept for each measurement (booking_mix books 70%)
WARM_SLOTS = 20_000
GOAL = 0.10  # requests/s and p99 within 10% of each other
GOAL_BYTES = 1024  # per stored booking


def fill(wrk: Wrk, url: str, slots: Path, clients: int) -> dict[str, Any]:
    """Every slot of the file booked once, through the API; wrk's tally."""
    argv = wrk.argv(url, FILL_SCRIPT, (slots, clients, wrk.threads), seconds=3600)
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output: list[str] = []
    finished: set[str] = set()
    try:
        assert process.stdout is not None
        for text in process.stdout:
            output.append(text)
            if text.startswith("PROGRESS "):
                tid, answered, quota = text.split()[1:]
                print(f"   fill: {int(answered):,} of {int(quota):,} answered", flush=True)
                if answered == quota:
                    finished.add(tid)
                    if len(finished) == wrk.threads:
                        process.send_signal(signal.SIGINT)  # wrk then reports and exits
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    result = wrk_result(process.returncode, "".join(output), stderr)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def query_ms(client: httpx.Client, path: str, params: dict[str, str], times: int = 15) -> float:
    """The median answer time of a control-API GET, in ms."""
    took = []
    for _ in range(times):
        started = time.perf_counter()
        answer = client.get(path, params=params)
        took.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:200]}")
    return round(statistics.median(took), 2)


def control_api(url: str, quiet: str, busy: str) -> dict[str, float]:
    window = {"from": FIRST_DAY.isoformat(), "to": (FIRST_DAY.replace(day=28)).isoformat()}
    with httpx.Client(base_url=url, timeout=60) as client:
        return {
            "bookings of an untouched host": query_ms(client, "/__admin/bookings", {"host": quiet}),
            "free slots of an untouched host": query_ms(
                client, f"/__admin/slots/{quiet}/{FAKE_EVENT}", window
            ),
            "bookings of a filled host": query_ms(client, "/__admin/bookings", {"host": busy}),
            "free slots of a filled host": query_ms(
                client, f"/__admin/slots/{busy}/{FAKE_EVENT}", window
            ),
            "health (counts every booking)": query_ms(client, "/__admin/health", {}),
        }


def stored(url: str) -> int:
    return int(httpx.get(url + "/__admin/health", timeout=30).json()["bookings"])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1_000_000, help="bookings the fill stores")
    parser.add_argument("--clients", type=int, default=100_000, help="clients the fill sends from")
    parser.add_argument(
        "--fake-hosts", type=int, default=2000, help="booking-mock --fake-hosts (%(default)s)"
    )
    parser.add_argument("--duration", type=float, default=15, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up")
    parser.add_argument("--connections", type=int, default=50, help="open connections")
    parser.add_argument("--out", type=Path, default=harness.HERE / "state_growth.json")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 131_072:
        parser.error("--clients must be 1 to 131,072 (fill.lua's address range)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path = find_wrk()
    pins = harness.pinning(not args.no_pin)
    server_prefix, wrk_prefix = pins or ([], [])
    wrk = Wrk(wrk_path, args.connections, threads=1, prefix=wrk_prefix)
    version = harness.code_version()
    print(f"code: {version}", flush=True)
    slugs = fake_host_slugs(args.fake_hosts)
    quiet, busy_slugs = slugs[-QUIET_HOSTS:], slugs[:-QUIET_HOSTS]
    results: dict[str, Load] = {}
    with tempfile.TemporaryDirectory(prefix="state-growth-") as tmp:
        work = Path(tmp)
        mock_port, floor_port = harness.free_port(), harness.free_port()
        mock = harness.mock_argv(mock_port, fake_hosts=args.fake_hosts)
        floor = floor_argv(floor_port, "uvloop", "httptools")
        print(f"booking-mock: {harness.shown(mock)}\nfloor: {harness.shown(floor)}", flush=True)
        with (
            harness.running("booking-mock", [*server_prefix, *mock], mock_port, work, 120) as srv,
            harness.running("floor", [*server_prefix, *floor], floor_port, work, 30) as flr,
        ):
            print(f"   fetching the free slots of {len(busy_slugs):,} hosts", flush=True)
            lines = slot_lines(srv.url, busy_slugs)
            needed = WARM_SLOTS * 2 + MEASURE_SLOTS * 2 + args.bookings
            if len(lines) < needed:
                raise SystemExit(
                    f"{len(lines):,} free slots, {needed:,} needed: raise --fake-hosts"
                    f" (each has about {len(lines) // len(busy_slugs):,})"
                )
            # Interleaved by host (slots.interleave): each part spreads over every host.
            warm1, measure1, warm2, measure2, rest = (
                lines[:WARM_SLOTS],
                lines[WARM_SLOTS : WARM_SLOTS + MEASURE_SLOTS],
                lines[WARM_SLOTS + MEASURE_SLOTS : 2 * WARM_SLOTS + MEASURE_SLOTS],
                lines[2 * WARM_SLOTS + MEASURE_SLOTS : needed - args.bookings],
                lines[needed - args.bookings : needed],
            )
            files = {
                name: write_slot_file(part, work / f"{name}.txt")
                for name, part in (
                    ("warm1", warm1),
                    ("measure1", measure1),
                    ("warm2", warm2),
                    ("measure2", measure2),
                    ("fill", rest),
                )
            }
            busy = busy_slugs[0]

            def measure(label: str, warm: Path, slots: Path, phase: int) -> None:
                print(f"\n== {label}", flush=True)
                print(f"   floor: {args.duration:g} s", flush=True)
                results[f"floor, {label}"] = run_mix(
                    wrk, flr.url, slots, phase, seconds=args.duration, server_pid=flr.pid
                )
                print_load(results[f"floor, {label}"])
                print(f"   booking-mock: warm-up {args.warmup:g} s, then {args.duration:g} s")
                run_mix(wrk, srv.url, warm, phase, seconds=args.warmup, server_pid=srv.pid)
                results[f"booking-mock, {label}"] = run_mix(
                    wrk, srv.url, slots, phase + 1, seconds=args.duration, server_pid=srv.pid
                )
                print_load(results[f"booking-mock, {label}"])

            queries_fresh = control_api(srv.url, quiet[0], busy)
            measure("fresh", files["warm1"], files["measure1"], 0)
            before = memory_kib(srv.pid)["VmRSS"]
            count_before = stored(srv.url)
            print(
                f"\n== fill: {args.bookings:,} bookings from {args.clients:,} clients", flush=True
            )
            tally = fill(wrk, srv.url, files["fill"], args.clients)
            after = memory_kib(srv.pid)["VmRSS"]
            count_after = stored(srv.url)
            added = count_after - count_before
            rate = sum(tally["status"].values()) / tally["seconds"]
            print(
                f"   {added:,} bookings stored in {tally['seconds']} s ({rate:,.0f}/s),"
                f" answers {tally['status']}; RSS {mib(before)} -> {mib(after)}",
                flush=True,
            )
            queries_filled = control_api(srv.url, quiet[0], busy)
            measure(f"after {count_after:,} bookings", files["warm2"], files["measure2"], 2)
            if srv.process.poll() is not None:
                raise RuntimeError(f"booking-mock died:\n{srv.log_tail()}")
    fresh_key, filled_key = "booking-mock, fresh", f"booking-mock, after {count_after:,} bookings"
    fresh, filled = results[fresh_key], results[filled_key]
    floor_fresh, floor_filled = (
        results["floor, fresh"],
        results[f"floor, after {count_after:,} bookings"],
    )
    per_booking = (after - before) * 1024 / added if added else float("nan")
    rps = ratio(filled.requests_per_s, fresh.requests_per_s)
    p99 = ratio(filled.latency_ms["p99"], fresh.latency_ms["p99"])
    drift = ratio(floor_filled.requests_per_s, floor_fresh.requests_per_s)
    print("\n" + "=" * 100)
    print("\n".join(load_table(results)))
    print(f"\nfilled/fresh: requests/s x{rps}, p99 x{p99}; the floor's own drift: x{drift}")
    print(f"requests/s against the floor's drift: x{ratio(rps, drift)}")
    print(
        f"memory: +{(after - before) / 1024:,.1f} MiB for {added:,} bookings,"
        f" {per_booking:,.0f} bytes a booking (goal: under {GOAL_BYTES})"
    )
    print("\ncontrol API, median ms     fresh   filled")
    for name, ms in queries_fresh.items():
        print(f"  {name:<32}{ms:>7.2f}{queries_filled[name]:>9.2f}")
    flat = abs(rps - 1) <= GOAL and abs(p99 - 1) <= GOAL
    print(f"goal (requests/s and p99 within {GOAL:.0%}): {'MET' if flat else 'NOT MET'}")
    small = "MET" if per_booking < GOAL_BYTES else "NOT MET"
    print(f"goal (under {GOAL_BYTES} bytes a booking): {small}")
    harness.write_json(
        args.out,
        {
            "code": version,
            "settings": vars(args) | {"out": str(args.out)},
            "loads": {name: vars(load) for name, load in results.items()},
            "fill": tally | {"stored": added, "rss_kib": [before, after]},
            "ratios": {"requests_per_s": rps, "p99": p99, "floor_drift": drift},
            "bytes_per_booking": round(per_booking),
            "control_api_ms": {"fresh": queries_fresh, "filled": queries_filled},
        },
    )
    return 0


if __name__ == "__main__":
    harness.run_script(main, "state_growth", "every server it started is stopped")
