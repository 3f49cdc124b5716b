"""What the watch costs: booking-mock directly and through `booking-contract watch`, in one run.

    .venv/bin/python benchmarks/proxy.py [--duration 20] [--connections 50] [--quick]

Starts one booking-mock as benchmarks/throughput.py starts it (harness.mock_argv), with a
rate limit no request reaches, and `python -m contract_tests watch` in front of it with
the same limit, each on a free 127.0.0.1 port. The same wrk load (throughput.py's mix,
benchmarks/booking_mix.lua, through benchmarks/drain.lua so that wrk leaves no request in
flight when it stops) runs against booking-mock directly, then through the watch, each
warmed up and then measured with the same connections and duration; the bookings are
reset between the two, so both book the same slots. It prints both in throughput.py's
table and the ratios through/direct, then stops the watch with SIGINT and prints its
verdict: booking-mock keeps the contract, so it must be PASS, with exit code 0. Exit code
0 when it is, 1 when not. booking-mock and the watch run on CPU 0 and wrk on CPU 1 when
taskset is available. See benchmarks/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness
from lost_bookings import reset_bookings
from mix import Load, load_table, print_load, ratio, run_mix
from procfs import cpu_text
from slots import fake_host_slugs, slot_lines, write_slot_files
from wrk import Wrk, find_wrk

DIRECT, THROUGH = "direct", "through watch"
# booking_mix.lua's PHASE, (warm-up, measurement) per side: each side its own simulated
# clients, so the watch's verifier sees every request its clients made.
PHASES = {DIRECT: (0, 1), THROUGH: (2, 3)}
DEFAULTS = {"duration": 20, "warmup": 3, "connections": 50, "fake_hosts": 200, "drain": 3}
QUICK = {"duration": 2, "warmup": 1, "connections": 10, "fake_hosts": 20, "drain": 1}
VERDICT_PREFIX = "Watch verdict:"
WATCHED_PREFIX = "Watched "


def watch_argv(port: int, upstream: str, rate_limit: str) -> list[str]:
    """The watch in front of upstream; wrk's X-Forwarded-For names each client, to the
    watch (--forwarded-allow-ips) and from it to booking-mock (--trusts-forwarded-for)."""
    return [
        sys.executable,
        *("-m", "contract_tests", "watch", "--upstream", upstream),
        *("--host", "127.0.0.1", "--port", str(port), "--rate-limit", rate_limit),
        *("--forwarded-allow-ips", "127.0.0.1", "--trusts-forwarded-for"),
    ]


def sent(load: Load) -> int:
    """Requests wrk sent in a drained run: answered in it, in the drain, or never."""
    drain = load.drain or {}
    return load.requests + drain.get("answered", 0) + drain.get("unanswered", 0)


def measure(
    side: str,
    url: str,
    files: tuple[Path, Path],
    servers: dict[str, harness.Server],
    *,
    args: argparse.Namespace,
    wrk: Wrk,
) -> tuple[Load, Load]:
    """Warm-up and measurement of one side, each drained; booking-mock is the server."""
    mock = servers["booking-mock"]
    options = {"server_pid": mock.pid, "drain": args.drain, "more": {"watch": servers["watch"].pid}}
    warm_phase, measured_phase = PHASES[side]
    print(f"\n== {side}: {url}", flush=True)
    print(f"   warming up {args.warmup:g} s (+{args.drain:g} s drain)", flush=True)
    warm = run_mix(wrk, url, files[0], warm_phase, seconds=args.warmup, **options)
    print(f"   measuring {args.duration:g} s (+{args.drain:g} s drain)", flush=True)
    load = run_mix(wrk, url, files[1], measured_phase, seconds=args.duration, **options)
    for name, server in servers.items():
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} died under load:\n{server.log_tail()}")
    print_load(load)
    return warm, load


def watch_outcome(watch: harness.Server, timeout: float) -> dict[str, Any]:
    """SIGINT to the watch, as Ctrl-C: its exit code and the lines of its verdict."""
    code = watch.interrupt(timeout)
    lines = watch.log_path.read_text(errors="replace").splitlines()
    verdict = next((x for x in reversed(lines) if x.startswith(VERDICT_PREFIX)), None)
    watched = next((x for x in reversed(lines) if x.startswith(WATCHED_PREFIX)), None)
    count = None
    if watched is not None:
        count = int(watched.removeprefix(WATCHED_PREFIX).split()[0].replace(",", ""))
    violations = [x for x in lines if x.startswith("VIOLATION ")]
    return {
        "exit_code": code,
        "verdict": verdict,
        "watched": count,
        "violations_shown": violations[:10],
        "log_tail": "\n".join(lines[-40:]),
    }


def report(
    loads: dict[str, Load], warmups: dict[str, Load], watch: dict[str, Any], pinned: bool
) -> dict[str, Any]:
    """Print the table, the ratios, the CPU and the watch's verdict; return the summary."""
    direct, through = loads[DIRECT], loads[THROUGH]
    print("\n" + "=" * 100)
    print("\n".join(load_table(loads, first="path")))
    ratios = {
        "requests_per_s": ratio(through.requests_per_s, direct.requests_per_s),
        "p50": ratio(through.latency_ms["p50"], direct.latency_ms["p50"]),
        "p99": ratio(through.latency_ms["p99"], direct.latency_ms["p99"]),
    }
    added = {
        p: round(through.latency_ms[p] - direct.latency_ms[p], 2) for p in ("p50", "p99", "max")
    }
    print()
    print(
        f"{'through/direct':<16}requests/s x{ratios['requests_per_s']},"
        f" p50 x{ratios['p50']}, p99 x{ratios['p99']}"
    )
    print(f"{'added latency':<16}p50 {added['p50']:+.2f} ms, p99 {added['p99']:+.2f} ms")
    for side, load in loads.items():
        print(f"CPU, {side} (% of one core; server = booking-mock): {cpu_text(load.cpu_percent)}")
    through_sent = sent(warmups[THROUGH]) + sent(through)
    code, verdict = watch["exit_code"], watch["verdict"] or "no verdict line printed"
    exited = "did not exit" if code is None else f"exit code {code}"
    print(f"watch: {verdict} ({exited} on SIGINT)")
    if watch["watched"] is not None:
        print(
            f"watch: judged {watch['watched']:,} book requests of the {through_sent:,} wrk"
            " sent through it (warm-up included)"
        )
    print(
        "booking-mock and the watch on one core, wrk on another:"
        f" {'yes' if pinned else 'no (not pinned)'}"
    )
    notes = []
    for side, load in loads.items():
        cpu = load.cpu_percent
        if cpu["others"] >= 15:
            notes.append(f"{side}: other processes used {cpu['others']}% of a core: noisy numbers")
        if cpu["wrk"] >= 90:
            notes.append(f"{side}: wrk used {cpu['wrk']}% of a core: it may set the pace")
        if load.slots_reused:
            notes.append(
                f"{side}: ran out of free slots: {load.slots_reused} repeated (more --fake-hosts)"
            )
    runs = [(f"{side} warm-up", load) for side, load in warmups.items()] + list(loads.items())
    for run, load in runs:
        unanswered = (load.drain or {}).get("unanswered", 0)
        if unanswered:
            notes.append(
                f"{run}: {unanswered} requests unanswered when wrk stopped (a longer --drain?);"
                " through the watch, each counts as a connection error"
            )
    for note in notes:
        print(f"note: {note}")
    if code != 0:
        print("\nthe watch's last lines:\n" + watch["log_tail"])
        for line in watch["violations_shown"]:
            print(line)
    return {"ratios": ratios, "added_latency_ms": added, "through_sent": through_sent}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, help="seconds measured per side (20; --quick: 2)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per side (3; 1)")
    parser.add_argument("--connections", type=int, help="open connections (50; 10)")
    parser.add_argument(
        "--drain",
        type=float,
        help="seconds wrk waits after each run for the answers in flight (3; 1)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--fake-hosts", type=int, help="booking-mock --fake-hosts (200, about 130,000 slots; 20)"
    )
    parser.add_argument(
        "--rate-limit",
        default="100000/minute",
        help="booking-mock's and the watch's --rate-limit: one no client reaches (%(default)s)",
    )
    parser.add_argument("--mock-args", default="", help="more booking-mock options (none)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test: 2 s per side, 10 connections"
    )
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if args.duration < 1 or args.warmup < 1 or args.drain < 1:
        parser.error("--duration, --warmup and --drain must be at least 1 s")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path = find_wrk(install=not args.no_install)
    pins = harness.pinning(not args.no_pin)
    server_prefix, wrk_prefix = pins or ([], [])
    wrk = Wrk(wrk_path, args.connections, threads=args.threads, prefix=wrk_prefix)
    started = time.monotonic()
    version = harness.code_version()
    mock_port, watch_port = harness.free_port(), harness.free_port()
    mock_cmd = harness.mock_argv(
        mock_port,
        fake_hosts=args.fake_hosts,
        rate_limit=args.rate_limit,
        extra=shlex.split(args.mock_args),
    )
    watch_cmd = watch_argv(watch_port, f"http://127.0.0.1:{mock_port}", args.rate_limit)
    print(f"code: {version}")
    print(f"booking-mock: {harness.shown(mock_cmd)}")
    print(f"watch: {harness.shown(watch_cmd)}")
    print(f"load generator: {wrk.version()}, {args.connections} connections", flush=True)
    slugs = fake_host_slugs(args.fake_hosts)
    warmup_share = args.warmup / (args.warmup + args.duration)
    loads: dict[str, Load] = {}
    warmups: dict[str, Load] = {}
    with tempfile.TemporaryDirectory(prefix="proxy-") as tmp:
        work = Path(tmp)
        with (
            harness.running(
                "booking-mock", [*server_prefix, *mock_cmd], mock_port, work, 60
            ) as mock,
            harness.running("watch", [*server_prefix, *watch_cmd], watch_port, work, 60) as watch,
        ):
            print(f"fetching free slots of {len(slugs)} hosts", flush=True)
            lines = slot_lines(mock.url, slugs)
            files = write_slot_files(lines, warmup_share, work)
            print(f"{len(lines):,} free slots", flush=True)
            servers = {"booking-mock": mock, "watch": watch}
            for side, url in ((DIRECT, mock.url), (THROUGH, watch.url)):
                reset_bookings(mock.url)  # both sides book the same slots from the same store
                warmups[side], loads[side] = measure(side, url, files, servers, args=args, wrk=wrk)
            outcome = watch_outcome(watch, timeout=60)
    summary = report(loads, warmups, outcome, pins is not None)
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.out:
        harness.write_json(
            args.out,
            {
                "settings": {
                    "duration_s": args.duration,
                    "warmup_s": args.warmup,
                    "drain_s": args.drain,
                    "connections": args.connections,
                    "wrk_threads": args.threads,
                    "fake_hosts": args.fake_hosts,
                    "rate_limit": args.rate_limit,
                },
                "code": version,
                "commands": {
                    "booking-mock": harness.shown(mock_cmd),
                    "watch": harness.shown(watch_cmd),
                },
                "pinning": {"servers": pins[0], "wrk": pins[1]} if pins else None,
                "sides": {
                    side: {"load": asdict(loads[side]), "warmup": asdict(warmups[side])}
                    for side in loads
                },
                **summary,
                "watch": {k: v for k, v in outcome.items() if k != "log_tail"},
            },
        )
    return 0 if outcome["exit_code"] == 0 else 1


if __name__ == "__main__":
    harness.run_script(main, "proxy", "booking-mock and the watch are stopped")
