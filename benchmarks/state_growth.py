"""Does booking-mock's cost stay flat as state grows? One load, fresh and after 1M bookings.

    .venv/bin/python benchmarks/state_growth.py [--bookings 1000000] [--clients 100000]
        [--fake-hosts 2300] [--rounds 3] [--duration 15] [--out benchmarks/state_growth.json]

booking-mock (memory storage, one worker, full behaviour) runs on CPU 0 and wrk on CPU 1.
In one run:

1. the fill: wrk (fill.lua) books --bookings free slots of one booking-mock across its
   fake hosts, from --clients X-Forwarded-For addresses in turn, through the API like any
   client;
2. --rounds rounds, each measuring booking_mix.lua (after a warm-up) on a newly started
   booking-mock and on the filled one, the two alternating which goes first. The filled
   server keeps free slots of its own for each round; each fresh one books the same
   slots, all free on a server just started.

This machine's speed drifts by a third over minutes (benchmarks/README.md). Measured once
each, minutes apart, the two servers differed by the drift as much as by their state;
measured in alternating pairs, the drift shows in every pair alike, and the median of
the pairs' ratios is what the state costs.

It reports requests/s and latency of each measurement, each round's filled/fresh ratio
for requests/s and p99 and their median (issue 16's goal: within 10%), the RSS the fill
added per stored booking (the goal: under 1 KiB; it counts the limiter's windows of the
fill's clients too), and the control API's answer time before and after the fill for a
host the fill never touched (its listing and its free slots must not read other hosts'
bookings) and for a filled host. Everything it started is stopped by pid.
"""

from __future__ import annotations

import argparse
import math
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
from mix import Load, load_table, print_load, ratio, run_mix, tcp_note
from procfs import memory_kib, mib
from slots import FAKE_EVENT, FIRST_DAY, fake_host_slugs, slot_lines, write_slot_file
from wrk import Wrk, find_wrk, wrk_result

FILL_SCRIPT = harness.HERE / "fill.lua"
QUIET_HOSTS = 5  # fake hosts the fill never books: their queries must not feel it
# Free slots kept for each measurement, a second of it: booking_mix books 70% of its
# requests, and booking-mock answers 6,000 to 7,000 a second here.
SLOTS_PER_SECOND = 8_000
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
        "--fake-hosts", type=int, default=2300, help="booking-mock --fake-hosts (%(default)s)"
    )
    parser.add_argument("--duration", type=float, default=15, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up")
    parser.add_argument("--connections", type=int, default=50, help="open connections")
    parser.add_argument("--out", type=Path, default=harness.HERE / "state_growth.json")
    parser.add_argument(
        "--rounds", type=int, default=3, help="fresh/filled measurement pairs (%(default)s)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
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
    busy = busy_slugs[0]
    rounds: list[dict[str, Load]] = []
    with tempfile.TemporaryDirectory(prefix="state-growth-") as tmp:
        work = Path(tmp)

        def mock(port: int) -> list[str]:
            return [*server_prefix, *harness.mock_argv(port, fake_hosts=args.fake_hosts)]

        port = harness.free_port()
        print(f"booking-mock: {harness.shown(mock(port))}", flush=True)
        with harness.running("booking-mock (filled)", mock(port), port, work, 120) as srv:
            print(f"   fetching the free slots of {len(busy_slugs):,} hosts", flush=True)
            lines = slot_lines(srv.url, busy_slugs)
            warm_slots = math.ceil(args.warmup * SLOTS_PER_SECOND)
            per_round = warm_slots + math.ceil(args.duration * SLOTS_PER_SECOND)
            needed = per_round * args.rounds + args.bookings
            if len(lines) < needed:
                raise SystemExit(
                    f"{len(lines):,} free slots, {needed:,} needed: raise --fake-hosts"
                    f" (each has about {len(lines) // len(busy_slugs):,})"
                )

            def slot_files(name: str, first: int) -> tuple[Path, Path]:
                """A warm-up's and a measurement's slots, from line ``first`` on."""
                warm = lines[first : first + warm_slots]
                measured = lines[first + warm_slots : first + per_round]
                return (
                    write_slot_file(warm, work / f"{name}-warm.txt"),
                    write_slot_file(measured, work / f"{name}.txt"),
                )

            # Interleaved by host (slots.interleave): each part spreads over every host.
            # A fresh server has every slot free: each round's starts on the same ones.
            # The filled server keeps a part of its own for each round, and is filled
            # with the rest.
            fresh_files = slot_files("fresh", 0)
            filled_files = [slot_files(f"filled-{n}", n * per_round) for n in range(args.rounds)]
            fill_file = write_slot_file(lines[per_round * args.rounds : needed], work / "fill.txt")

            def measure(server: harness.Server, files: tuple[Path, Path], phase: int) -> Load:
                print(f"   warm-up {args.warmup:g} s, then {args.duration:g} s", flush=True)
                run_mix(
                    wrk, server.url, files[0], phase, seconds=args.warmup, server_pid=server.pid
                )
                load = run_mix(
                    wrk,
                    server.url,
                    files[1],
                    phase + 1,
                    seconds=args.duration,
                    server_pid=server.pid,
                )
                print_load(load)
                return load

            queries_fresh = control_api(srv.url, quiet[0], busy)
            before = memory_kib(srv.pid)["VmRSS"]
            count_before = stored(srv.url)
            print(
                f"\n== fill: {args.bookings:,} bookings from {args.clients:,} clients", flush=True
            )
            tally = fill(wrk, srv.url, fill_file, args.clients)
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
            for n in range(args.rounds):
                measured: dict[str, Load] = {}
                # Alternate which goes first, so a drift of the machine favours neither.
                for side in ("fresh", "filled") if n % 2 == 0 else ("filled", "fresh"):
                    if side == "filled":
                        print(f"\n== round {n + 1}: the filled server", flush=True)
                        measured[side] = measure(srv, filled_files[n], 2)
                        continue
                    fresh_port = harness.free_port()
                    print(f"\n== round {n + 1}: a fresh server", flush=True)
                    with harness.running(
                        f"booking-mock (fresh, round {n + 1})",
                        mock(fresh_port),
                        fresh_port,
                        work,
                        120,
                    ) as fresh:
                        measured[side] = measure(fresh, fresh_files, 0)
                rounds.append({"fresh": measured["fresh"], "filled": measured["filled"]})
            if srv.process.poll() is not None:
                raise RuntimeError(f"booking-mock died:\n{srv.log_tail()}")
    per_booking = (after - before) * 1024 / added if added else float("nan")
    ratios = [
        {
            "requests_per_s": ratio(r["filled"].requests_per_s, r["fresh"].requests_per_s),
            "p99": ratio(r["filled"].latency_ms["p99"], r["fresh"].latency_ms["p99"]),
        }
        for r in rounds
    ]
    median = {
        key: round(statistics.median(r[key] or 0 for r in ratios), 2)
        for key in ("requests_per_s", "p99")
    }
    table: dict[str, Load] = {}
    for n, r in enumerate(rounds, 1):
        table[f"fresh, round {n}"] = r["fresh"]
        table[f"after {count_after:,} bookings, round {n}"] = r["filled"]
    print("\n" + "=" * 100)
    print("\n".join(load_table(table, first="booking-mock")))
    for name, load in table.items():
        if load.slots_reused:
            print(f"note: {name}: ran out of free slots, {load.slots_reused:,} booked twice")
        if tcp_note(load):
            print(f"note: {name}: {tcp_note(load)}")
    print("\nfilled/fresh:")
    for n, r in enumerate(ratios, 1):
        print(f"  round {n}: requests/s x{r['requests_per_s']}, p99 x{r['p99']}")
    print(f"  median:  requests/s x{median['requests_per_s']}, p99 x{median['p99']}")
    print(
        f"memory: +{(after - before) / 1024:,.1f} MiB for {added:,} bookings,"
        f" {per_booking:,.0f} bytes a booking (goal: under {GOAL_BYTES})"
    )
    print("\ncontrol API, median ms     fresh   filled")
    for name, ms in queries_fresh.items():
        print(f"  {name:<32}{ms:>7.2f}{queries_filled[name]:>9.2f}")
    flat = all(abs(value - 1) <= GOAL for value in median.values())
    print(
        f"goal (requests/s and p99 within {GOAL:.0%}, median of {args.rounds} rounds):"
        f" {'MET' if flat else 'NOT MET'}"
    )
    small = "MET" if per_booking < GOAL_BYTES else "NOT MET"
    print(f"goal (under {GOAL_BYTES} bytes a booking): {small}")
    harness.write_json(
        args.out,
        {
            "code": version,
            "settings": vars(args) | {"out": str(args.out)},
            "rounds": [
                {side: vars(load) for side, load in r.items()} | {"ratios": ratios[n]}
                for n, r in enumerate(rounds)
            ],
            "fill": tally | {"stored": added, "rss_kib": [before, after]},
            "ratios": median,
            "goals": {"flat": flat, "under_1_kib": per_booking < GOAL_BYTES},
            "bytes_per_booking": round(per_booking),
            "control_api_ms": {"fresh": queries_fresh, "filled": queries_filled},
        },
    )
    return 0


if __name__ == "__main__":
    harness.run_script(main, "state_growth", "every server it started is stopped")
