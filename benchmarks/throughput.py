"""Requests/s and latency of booking-mock, a bare Starlette floor and Prism's mock, in one run.

    .venv/bin/python benchmarks/throughput.py [--duration 15] [--connections 50]
        [--out benchmarks/results.json] [--only booking-mock,floor,prism] [--rounds 1]

Each server is started on a free 127.0.0.1 port, warmed up, loaded by the same wrk
script (benchmarks/booking_mix.lua: fresh slots, taken slots, invalid bodies, thousands
of clients by X-Forwarded-For and a few that exceed the rate limit), and stopped by
pid, one after the other. The server runs on CPU 0 and wrk on CPU 1 when taskset is
available. With --rounds N the whole sequence runs N times, and the ratios are the
median of the rounds': this machine's speed drifts by a third over minutes, and one round
measures each server in its own minute. See benchmarks/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness
from mix import Load, load_table, print_load, ratio, run_mix, tcp_note
from procfs import uvicorn_flavour
from profiling import hot_spots, print_hot_spots, profiled
from slots import fake_host_slugs, slot_lines, synthetic_slot_lines, write_slot_files
from wrk import Wrk, find_wrk

SPEC = harness.ROOT / "openapi" / "booking.yaml"
SERVERS = ("booking-mock", "floor", "prism")
PRISM_PACKAGE = "@stoplight/prism-cli@5"
TARGET_RATIO = 2.0  # issue 6: booking-mock at >= 2x Prism's requests/s, p99 no worse
# Issue 16, against the floor: requests/s at least half its, p99 at most three times its,
# and booking-mock's own p99 at most three times its p50.
GOALS = {"requests_per_s": 0.5, "p99": 3.0, "p99_over_p50": 3.0}


# booking-mock's rivals


def floor_argv(port: int, loop: str, http: str) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-floor",
        str(port),
        "--floor-loop",
        loop,
        "--floor-http",
        http,
    ]


def prism_argv(port: int) -> list[str]:
    npx = shutil.which("npx")
    if npx is None:
        raise RuntimeError("npx not found: Prism needs Node.js and npm")
    return [npx, "--yes", PRISM_PACKAGE, "mock", "-p", str(port), "-h", "127.0.0.1", str(SPEC)]


def floor_app() -> Any:
    """The floor: Starlette parses the JSON body and answers a JSON object with 201."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def book(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"id": "bkg_floor", "status": "Confirmed", "echo": body}, 201)

    return Starlette(
        routes=[Route("/api/public/scheduling/{user}/{event}/book", book, methods=["POST"])]
    )


def serve_floor(port: int, loop: str, http: str) -> None:
    import uvicorn

    # booking-mock's own uvicorn options (mock_server/cli.py), with its loop and parser.
    uvicorn.run(
        floor_app(),
        host="127.0.0.1",
        port=port,
        loop=loop,
        http=http,
        log_level="info",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


# The run


@dataclass
class Measured:
    """One server's measurement, as printed and written to the JSON file."""

    server: str
    command: str
    load: Load
    warmup: Load
    notes: list[str] = field(default_factory=list)


def measure(
    name: str,
    server: harness.Server,
    files: tuple[Path, Path],
    *,
    args: argparse.Namespace,
    wrk: Wrk,
    profile: Path | None = None,
) -> Measured:
    """Warm the server up, then measure it, each on its own slots and clients.

    With profile, py-spy samples the server during the measurement into that file.
    """
    print(f"   warming up {args.warmup:g} s", flush=True)
    warm = run_mix(wrk, server.url, files[0], 0, seconds=args.warmup, server_pid=server.pid)
    print(f"   measuring {args.duration:g} s", flush=True)
    spying = (
        profiled(server.pid, args.duration, profile, wrk.prefix)
        if profile
        else contextlib.nullcontext()
    )
    with spying:
        load = run_mix(wrk, server.url, files[1], 1, seconds=args.duration, server_pid=server.pid)
    if server.process.poll() is not None:
        raise RuntimeError(f"{name} died under load:\n{server.log_tail()}")
    print_load(load)
    return Measured(name, "", load, warm)


def report(results: dict[str, Measured], pinned: bool) -> dict[str, Any]:
    """Print the table and the ratios; return them for the JSON file."""
    print("\n" + "=" * 100)
    print("\n".join(load_table({name: m.load for name, m in results.items()})))
    ratios: dict[str, Any] = {}
    mock = results.get("booking-mock")
    for other in ("prism", "floor"):
        if mock and other in results:
            theirs = results[other].load
            ratios[f"booking-mock/{other}"] = {
                "requests_per_s": ratio(mock.load.requests_per_s, theirs.requests_per_s),
                "p50": ratio(mock.load.latency_ms["p50"], theirs.latency_ms["p50"]),
                "p99": ratio(mock.load.latency_ms["p99"], theirs.latency_ms["p99"]),
            }
    if "prism" in results and "floor" in results:
        prism, floor = results["prism"].load, results["floor"].load
        ratios["prism/floor"] = {
            "requests_per_s": ratio(prism.requests_per_s, floor.requests_per_s)
        }
    print()
    for key, r in ratios.items():
        latency = f", p50 x{r['p50']}, p99 x{r['p99']}" if "p99" in r else ""
        print(f"{key:<20} requests/s x{r['requests_per_s']}{latency}")
    verdict = None
    if "booking-mock/prism" in ratios:
        r = ratios["booking-mock/prism"]
        passed = r["requests_per_s"] >= TARGET_RATIO and r["p99"] <= 1.0
        verdict = {"target": f">= {TARGET_RATIO}x Prism's requests/s, p99 <= Prism's"}
        verdict["passed"] = passed
        print(f"target ({verdict['target']}): {'MET' if passed else 'NOT MET'}")
    print(f"load generator and server pinned to different cores: {'yes' if pinned else 'no'}")
    for name, m in results.items():
        for note in m.notes:
            print(f"note: {name}: {note}")
    return {"ratios": ratios, "target": verdict}


def floor_ratios(results: dict[str, Measured]) -> dict[str, float | None] | None:
    """booking-mock against the floor in one round: req/s and p99 ratios, its p99/p50."""
    if "booking-mock" not in results or "floor" not in results:
        return None
    mock, floor = results["booking-mock"].load, results["floor"].load

    def exact(a: float, b: float) -> float | None:  # judged unrounded: 0.496 is not 0.5
        return a / b if b else None

    return {
        "requests_per_s": exact(mock.requests_per_s, floor.requests_per_s),
        "p99": exact(mock.latency_ms["p99"], floor.latency_ms["p99"]),
        "p99_over_p50": exact(mock.latency_ms["p99"], mock.latency_ms["p50"]),
    }


def shown_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def goals(rounds: list[dict[str, float | None]]) -> dict[str, Any]:
    """Issue 16's goals on the median of the rounds' ratios; printed and returned."""
    median = {
        key: statistics.median(values)
        if (values := [r[key] for r in rounds if r[key] is not None])
        else None
        for key in GOALS
    }
    if len(rounds) > 1:
        print(f"\nbooking-mock/floor over {len(rounds)} rounds:")
        for index, r in enumerate(rounds, 1):
            print(
                f"  round {index}: requests/s x{shown_ratio(r['requests_per_s'])},"
                f" p99 x{shown_ratio(r['p99'])}, p99/p50 {shown_ratio(r['p99_over_p50'])}"
            )
        print(
            f"  median:  requests/s x{shown_ratio(median['requests_per_s'])},"
            f" p99 x{shown_ratio(median['p99'])}, p99/p50 {shown_ratio(median['p99_over_p50'])}"
        )
    wanted = {
        "requests_per_s": (f">= {GOALS['requests_per_s']}x the floor's requests/s", True),
        "p99": (f"p99 <= {GOALS['p99']:g}x the floor's", False),
        "p99_over_p50": (f"p99/p50 <= {GOALS['p99_over_p50']:g}", False),
    }
    verdicts = {}
    for key, (text, at_least) in wanted.items():
        value = median[key]
        met = value is not None and (value >= GOALS[key] if at_least else value <= GOALS[key])
        verdicts[key] = {"goal": text, "value": value, "met": met}
    print(
        "issue 16 goals: "
        + "; ".join(
            f"{v['goal']}: {'MET' if v['met'] else 'NOT MET'} ({shown_ratio(v['value'])})"
            for v in verdicts.values()
        )
    )
    return {"median": median, "verdicts": verdicts}


def environment(wrk: Wrk, pins: tuple[list[str], list[str]] | None, version: str) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": version,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "wrk": wrk.version(),
        "pinning": {"server": pins[0], "wrk": pins[1]} if pins else None,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds measured per server")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=50, help="open connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: 1)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the whole sequence this many times; ratios are the rounds' median (default: 1)",
    )
    parser.add_argument(
        "--out", type=Path, default=harness.HERE / "results.json", help="JSON file for the results"
    )
    parser.add_argument(
        "--only",
        default=",".join(SERVERS),
        help="comma-separated servers to measure, of: %(default)s",
    )
    parser.add_argument(
        "--fake-hosts", type=int, default=200, help="booking-mock --fake-hosts (default: 200)"
    )
    parser.add_argument(
        "--mock-args",
        default="",
        help="more booking-mock options, e.g. '--log-level warning' (default: none)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="record a server (--profile-server) with py-spy during the measurement into FILE"
        " (collapsed"
        " stacks) and print its hot spots; py-spy slows the server, so compare no numbers",
    )
    parser.add_argument(
        "--profile-server",
        default="booking-mock",
        choices=SERVERS,
        help="the server --profile records (default: booking-mock)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--floor-loop", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--floor-http", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SERVERS))
    if unknown or not only:
        parser.error(f"--only takes some of {', '.join(SERVERS)}; got {args.only!r}")
    args.only = [s for s in SERVERS if s in only]
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def measure_round(
    args: argparse.Namespace,
    slugs: list[str],
    work: Path,
    wrk: Wrk,
    server_prefix: list[str],
) -> dict[str, Measured]:
    """Each server of --only in turn, fresh: started, warmed up, measured, stopped."""
    results: dict[str, Measured] = {}
    loop, http = "auto", "auto"
    warmup_share = args.warmup / (args.warmup + args.duration)
    files: tuple[Path, Path] | None = None
    for name in args.only:
        port = harness.free_port()
        notes: list[str] = []
        if name == "booking-mock":
            extra = shlex.split(args.mock_args)
            mock = harness.mock_argv(port, fake_hosts=args.fake_hosts, extra=extra)
            argv_, timeout = mock, 60
        elif name == "floor":
            argv_, timeout = floor_argv(port, loop, http), 30
            notes.append(f"uvicorn loop={loop} http={http}")
        else:
            argv_, timeout = prism_argv(port), 300  # the first run downloads Prism
        print(f"\n== {name}: {shlex.join(argv_)}", flush=True)
        with harness.running(name, [*server_prefix, *argv_], port, work, timeout) as server:
            if name == "booking-mock":
                loop, http = uvicorn_flavour(server.pid)
                notes.append(f"uvicorn loop={loop} http={http} (read from /proc/PID/maps)")
                print(f"   fetching free slots of {len(slugs)} hosts", flush=True)
                lines = slot_lines(server.url, slugs)
                files = write_slot_files(lines, warmup_share, work)
                notes.append(f"{len(lines):,} free slots")
            elif files is None:
                files = write_slot_files(synthetic_slot_lines(slugs), warmup_share, work)
            profile = args.profile if name == args.profile_server else None
            measured = measure(name, server, files, args=args, wrk=wrk, profile=profile)
        measured.command = harness.shown(argv_)
        cpu = measured.load.cpu_percent
        if cpu["others"] >= 15:
            notes.append(f"other processes used {cpu['others']}% of a core: noisy numbers")
        if cpu["wrk"] >= 90:
            notes.append(f"wrk used {cpu['wrk']}% of a core: the load generator may bound it")
        if tcp_note(measured.load):
            notes.append(tcp_note(measured.load))
        if name == "booking-mock" and measured.load.slots_reused:
            notes.append(
                f"ran out of free slots: {measured.load.slots_reused} repeated"
                " (more with --fake-hosts)"
            )
        measured.notes = notes
        results[name] = measured
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_floor:
        serve_floor(args.serve_floor, args.floor_loop, args.floor_http)
        return 0
    wrk_path = find_wrk(install=not args.no_install)
    pins = harness.pinning(not args.no_pin)
    started = time.monotonic()
    version = harness.code_version()
    print(f"code: {version}", flush=True)
    rounds: list[dict[str, Any]] = []
    slugs = fake_host_slugs(args.fake_hosts)
    server_prefix, wrk_prefix = pins or ([], [])
    wrk = Wrk(wrk_path, args.connections, threads=args.threads, prefix=wrk_prefix)
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        work = Path(tmp)
        for round_number in range(1, args.rounds + 1):
            if args.rounds > 1:
                print(f"\n##### round {round_number} of {args.rounds}", flush=True)
            results = measure_round(args, slugs, work, wrk, server_prefix)
            summary = report(results, pins is not None)
            rounds.append({"servers": results, **summary, "floor": floor_ratios(results)})
    judged = goals([r["floor"] for r in rounds if r["floor"] is not None])
    results, summary = rounds[-1]["servers"], {k: rounds[-1][k] for k in ("ratios", "target")}
    if args.profile and args.profile_server in results and args.profile.exists():
        spots = hot_spots(args.profile)
        print_hot_spots(spots, args.profile_server)
        summary["profile"] = {"file": str(args.profile), **spots}
    elapsed = time.monotonic() - started
    print(f"total time {elapsed:.0f} s; results in {args.out}")
    document = {
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "fake_hosts": args.fake_hosts,
            "mix": "booking_mix.lua: 70% fresh slots, 10% taken, 10% invalid, 10% over-limit",
        },
        "environment": environment(wrk, pins, version),
        # The last round's servers and ratios, as a run of one round writes them.
        "servers": {name: asdict(m) for name, m in results.items()},
        **summary,
        "goals": judged,
    }
    if len(rounds) > 1:
        document["rounds"] = [
            {
                "servers": {name: asdict(m) for name, m in r["servers"].items()},
                "ratios": r["ratios"],
                "floor": r["floor"],
            }
            for r in rounds
        ]
    harness.write_json(args.out, document)
    return 0


if __name__ == "__main__":
    harness.run_script(main, "throughput", "every server it started is stopped")
