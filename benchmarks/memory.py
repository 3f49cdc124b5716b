"""booking-mock's memory after requests from 100,000 distinct clients, and once they go quiet.

    .venv/bin/python benchmarks/memory.py [--clients 100000] [--rounds 2] [--wait 15]

Starts booking-mock (memory storage, --rate-limit "15/10 seconds", X-Forwarded-For
trusted from 127.0.0.1), books one slot, then has wrk (benchmarks/distinct_clients.lua)
send one request for that taken slot from each of --clients new addresses: each passes the
rate limiter and every rule and is refused with 400, so nothing is stored but the
limiter's and the journal's state. It reads the server's RSS from /proc/PID/status at the
start, after each round, and after each wait past the rate-limit window. With bounded
state, the RSS after the second round is about that after the first. See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
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
from procfs import memory_kib, mib
from wrk import Wrk, find_wrk, wrk_result

CLIENTS_SCRIPT = harness.HERE / "distinct_clients.lua"
BOOK_PATH = "/api/public/scheduling/jane-doe/30min-call/book"
# The API document's example booking: free at the pinned clock, taken once booked.
BOOKING = {
    "startTime": "2026-03-16T14:00:00Z",
    "endTime": "2026-03-16T14:30:00Z",
    "inviteeName": "Alex Johnson",
    "inviteeEmail": "alex@example.com",
    "inviteePhone": "+1-555-0123",
    "inviteeTimezone": "America/New_York",
    "inviteeLocale": "en",
    "source": "BookingPage",
}
WARMUP_CLIENTS = 2_000


def send_clients(wrk: Wrk, url: str, body_file: Path, clients: int, round_: int) -> dict[str, Any]:
    """One request from each of `clients` new addresses; returns wrk's tally."""
    script_args = (BOOK_PATH, body_file, clients, round_, wrk.threads)
    # 600 s is a cap: each thread stops once its clients are answered.
    argv = wrk.argv(url, CLIENTS_SCRIPT, script_args, seconds=600)
    started = time.monotonic()
    wrk_process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output: list[str] = []
    finished: set[str] = set()
    try:
        assert wrk_process.stdout is not None
        for text in wrk_process.stdout:
            output.append(text)
            if text.startswith("PROGRESS "):
                tid, answered, quota = text.split()[1:]
                if answered == quota:
                    finished.add(tid)
                    if len(finished) == wrk.threads:
                        wrk_process.send_signal(signal.SIGINT)  # wrk then reports and exits
        wrk_process.wait(timeout=30)
    finally:
        if wrk_process.poll() is None:
            wrk_process.kill()
            wrk_process.wait()
    stderr = wrk_process.stderr.read() if wrk_process.stderr else ""
    result = wrk_result(wrk_process.returncode, "".join(output), stderr)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["answered"] = sum(result["status"].values())
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="distinct clients a round")
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds of new clients, 1 to 7 (%(default)s)"
    )
    parser.add_argument(
        "--rate-limit", default="15/10 seconds", help="booking-mock --rate-limit (%(default)s)"
    )
    parser.add_argument(
        "--wait", type=float, default=15, help="seconds to wait after each round (%(default)s)"
    )
    parser.add_argument("--connections", type=int, default=50, help="open connections")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--mock-args", default="", help="more booking-mock options (default: none)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 7:
        parser.error("--rounds must be 1 to 7")
    if not 1 <= args.clients <= 250_000:
        parser.error("--clients must be 1 to 250,000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path = find_wrk()
    pins = harness.pinning(not args.no_pin)
    server_prefix, wrk_prefix = pins or ([], [])
    wrk = Wrk(wrk_path, args.connections, threads=1, prefix=wrk_prefix)
    port = harness.free_port()
    command = harness.mock_argv(port, rate_limit=args.rate_limit, extra=shlex.split(args.mock_args))
    version = harness.code_version()
    print(f"booking-mock ({version}): {shlex.join(command)}", flush=True)
    readings: list[dict[str, Any]] = []

    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        work = Path(tmp)
        body_file = work / "body.json"
        body_file.write_text(json.dumps(BOOKING))
        with harness.running("booking-mock", [*server_prefix, *command], port, work, 60) as server:
            url = server.url

            def reading(label: str, **extra: Any) -> None:
                kib = memory_kib(server.pid)
                first = readings[0]["rss_kib"] if readings else kib["VmRSS"]
                delta = kib["VmRSS"] - first
                entry = {"label": label, "rss_kib": kib["VmRSS"], "peak_kib": kib["VmHWM"]}
                readings.append(entry | extra)
                change = f"  ({'+' if delta >= 0 else ''}{delta / 1024:.1f} MiB)" if delta else ""
                print(f"{label:<58}RSS {mib(kib['VmRSS']):>10}{change}", flush=True)

            booked = httpx.post(url + BOOK_PATH, json=BOOKING, timeout=10)
            if booked.status_code != 201:
                raise RuntimeError(f"the first booking failed: {booked.status_code} {booked.text}")
            # Warm every code path first, from addresses the measured rounds do not use.
            send_clients(wrk, url, body_file, WARMUP_CLIENTS, 0)
            time.sleep(args.wait)
            send_clients(wrk, url, body_file, 20, 0)  # lets expired state go
            time.sleep(1)
            reading(f"at start ({WARMUP_CLIENTS:,} warm-up clients, expired)")
            for round_ in range(1, args.rounds + 1):
                tally = send_clients(wrk, url, body_file, args.clients, round_)
                rate = tally["answered"] / tally["seconds"]
                reading(
                    f"after {args.clients:,} new clients, one request each (round {round_})",
                    tally=tally,
                )
                mix = ", ".join(f"{code}: {n:,}" for code, n in sorted(tally["status"].items()))
                print(
                    f"    {tally['answered']:,} answered in {tally['seconds']} s"
                    f" ({rate:,.0f}/s); {mix}; socket errors: {tally['socket_errors']}",
                    flush=True,
                )
                time.sleep(args.wait)
                reading(f"{args.wait:g} s later (rate limit {args.rate_limit})")
                # The memory store sweeps expired clients when a request comes in.
                send_clients(wrk, url, body_file, 20, 0)
                time.sleep(2)
                reading("then after 20 requests and 2 s more")
            peak = memory_kib(server.pid)["VmHWM"]
    print(f"peak RSS {mib(peak)}; pinned to different cores: {'yes' if pins else 'no'}")
    if args.out:
        harness.write_json(args.out, {"code": version, "command": command, "readings": readings})
    return 0


if __name__ == "__main__":
    harness.run_script(main, "memory", "every server it started is stopped")
