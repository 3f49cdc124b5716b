"""Scale-out: booking-mock on Redis with two workers against memory storage with one, in one run.

    .venv/bin/python benchmarks/scale_out.py [--workers 2] [--duration 15] [--connections 50]
        [--out benchmarks/scale_out.json]

Both run the same mix (booking_mix.lua, as throughput.py) on their own fresh slots:

- memory: ``booking-mock`` with memory storage and one worker, on CPU 0 (wrk on CPU 1),
  as throughput.py runs it;
- redis: ``booking-mock --storage redis://... --workers N`` against a redis-server this
  script starts on a free 127.0.0.1 port (no persistence) and stops; the workers and
  Redis share the machine, wrk keeps CPU 1 pinned as before.

Issue 16's target on this two-core machine: two workers on Redis at 1.0x or more of one
worker in memory. The ratio is printed with both loads and the CPU each used.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness
from mix import Load, load_table, ratio
from slots import fake_host_slugs, slot_lines, write_slot_files
from throughput import measure
from wrk import Wrk, find_wrk

TARGET = 1.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="workers on Redis (%(default)s)")
    parser.add_argument("--duration", type=float, default=15, help="seconds measured per setup")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per setup")
    parser.add_argument("--connections", type=int, default=50, help="open connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: 1)")
    parser.add_argument("--fake-hosts", type=int, default=200, help="booking-mock --fake-hosts")
    parser.add_argument("--profile", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=harness.HERE / "scale_out.json")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    wrk_path = find_wrk()
    pins = harness.pinning(not args.no_pin)
    server_prefix, wrk_prefix = pins or ([], [])
    wrk = Wrk(wrk_path, args.connections, threads=args.threads, prefix=wrk_prefix)
    version = harness.code_version()
    print(f"code: {version}", flush=True)
    slugs = fake_host_slugs(args.fake_hosts)
    warmup_share = args.warmup / (args.warmup + args.duration)
    loads: dict[str, Load] = {}
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        work = Path(tmp)
        redis_port = harness.free_port()
        redis_argv = [
            redis_server,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with harness.running("redis", redis_argv, redis_port, work, 30):
            url = f"redis://127.0.0.1:{redis_port}/0"
            setups = {
                "memory, 1 worker": ([*server_prefix], []),
                f"redis, {args.workers} workers": (
                    [],
                    ["--storage", url, "--workers", str(args.workers)],
                ),
            }
            for name, (prefix, extra) in setups.items():
                port = harness.free_port()
                argv_ = harness.mock_argv(port, fake_hosts=args.fake_hosts, extra=extra)
                print(f"\n== {name}: {shlex.join([*prefix, *argv_])}", flush=True)
                with harness.running(name, [*prefix, *argv_], port, work, 60) as server:
                    print(f"   fetching free slots of {len(slugs)} hosts", flush=True)
                    files = write_slot_files(slot_lines(server.url, slugs), warmup_share, work)
                    measured = measure(name, server, files, args=args, wrk=wrk)
                    loads[name] = measured.load
    memory, redis = loads.values()
    rps = ratio(redis.requests_per_s, memory.requests_per_s)
    p99 = ratio(redis.latency_ms["p99"], memory.latency_ms["p99"])
    print("\n" + "=" * 100)
    print("\n".join(load_table(loads)))
    print(f"\nredis/memory   requests/s x{rps}, p99 x{p99}")
    met = rps >= TARGET
    print(
        f"target (Redis with {args.workers} workers >= {TARGET}x memory with 1): "
        f"{'MET' if met else 'NOT MET'}"
    )
    harness.write_json(
        args.out,
        {
            "code": version,
            "settings": {k: str(v) for k, v in vars(args).items()},
            "loads": {name: vars(load) for name, load in loads.items()},
            "ratios": {"requests_per_s": rps, "p99": p99},
            "met": met,
        },
    )
    return 0


if __name__ == "__main__":
    harness.run_script(main, "scale_out", "every server it started is stopped")
