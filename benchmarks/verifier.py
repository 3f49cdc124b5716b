"""What the rate-limit verifier costs the load generator: CPU with and without it, at a fixed rate.

    python benchmarks/verifier.py [--rate 1000] [--seconds 15] [--client requests|fast]

Starts a small target in a subprocess (gevent, a correct moving-window limiter per
``X-Forwarded-For`` client, canned 201/400/429 answers), then runs Locust in this
process at a fixed request rate (``constant_throughput``), alternately with the
verifier plugged into the request event exactly as the locustfile plugs it, and
without. It prints the achieved rate, the generator's CPU seconds per 1,000
requests both ways, and the ratio. The target is 10% at 1,000 requests/s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import time
from argparse import Namespace
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

BOOK_PATH = "/api/public/scheduling/jane-doe/30min-call/book"


# The target


def serve(port: int, limit: int, window: float) -> None:
    """A booking endpoint that answers from a moving window per client, nothing else."""
    from gevent.pywsgi import WSGIServer

    logs: dict[str, deque[float]] = defaultdict(deque)
    policy = f'"per-ip";q={limit};w={math.ceil(window)}'

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read()
        client = environ.get("HTTP_X_FORWARDED_FOR") or environ.get("REMOTE_ADDR", "")
        now = time.time()
        log = logs[client]
        while log and log[0] <= now - window:
            log.popleft()
        headers = [("Content-Type", "application/json"), ("RateLimit-Policy", policy)]
        if len(log) >= limit:
            retry_after = max(1, math.ceil(log[0] + window - now + 0.001))
            headers += [("Retry-After", str(retry_after))]
            start_response("429 Too Many Requests", headers)
            return [b'{"error": "Rate limit exceeded."}']
        log.append(now)
        # One in ten books (a fresh slot each time); the rest are refused as invalid.
        if len(log) % 10 == 0:
            start_response("201 Created", headers)
            return [b'{"id": "bkg_benchmark"}']
        start_response("400 Bad Request", headers)
        return [b'{"error": "The request body is invalid."}']

    WSGIServer(("127.0.0.1", port), app, log=None, error_log=None).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark target did not start")


# The generator


def generate(host: str, args: argparse.Namespace, *, with_verifier: bool) -> dict[str, float]:
    """One run in this process; CPU seconds and requests counted after the ramp-up."""
    import gevent
    from locust import HttpUser, constant_throughput, task
    from locust.contrib.fasthttp import FastHttpUser
    from locust.env import Environment

    from load_tests.clients import ClientMode, identity
    from load_tests.plugin import LoadRun
    from load_tests.verifier import Slot

    base = FastHttpUser if args.client == "fast" else HttpUser
    per_user = args.rate / args.users
    body = json.dumps({"startTime": "2026-03-16T14:00:00Z", "inviteeName": "A"}).encode()
    numbers = iter(range(10**9))
    slots = iter(range(10**9))  # every booking a slot of its own

    class BenchmarkUser(base):  # type: ignore[misc, valid-type]
        wait_time = constant_throughput(per_user)

        def on_start(self) -> None:
            self.identity = identity(ClientMode.XFF, next(numbers))

        def context(self) -> dict[str, Any]:
            return {"client": self.identity.name}

        @task
        def book(self) -> None:
            with self.client.post(
                BOOK_PATH,
                data=body,
                headers={"Content-Type": "application/json", **self.identity.headers},
                name="book",
                catch_response=True,
                context={"slot": Slot("jane-doe", next(slots), 0.5 + next(slots))},
            ) as response:
                if response.status_code in (201, 400, 429):
                    response.success()

    options = Namespace(rate_limit=f"{args.limit}/{args.window} seconds", client_mode="xff")
    environment = Environment(user_classes=[BenchmarkUser], host=host, parsed_options=options)
    runner = environment.create_local_runner()
    run = LoadRun(environment)
    in_verifier = [0.0]  # seconds spent in the verifier's code

    def timed(function: Any, clock: Any) -> Any:
        def call(*positional: Any, **named: Any) -> None:
            started = clock()
            function(*positional, **named)
            in_verifier[0] += clock() - started

        return call

    if with_verifier:
        # What the plugin does on test_start and for every request, as in a real run.
        run.on_test_start()
        assert run.verifier is not None
        # A batch every half second: its CPU time, which a busy machine does not inflate.
        run.verifier.feed_many = timed(run.verifier.feed_many, time.thread_time)  # type: ignore[method-assign]
        # Once per request: the thread's CPU clock would cost more than the listener, so
        # wall time (the same, unless the machine preempts us within a few microseconds).
        environment.events.request.add_listener(timed(run.on_request, time.perf_counter))
    runner.start(args.users, spawn_rate=args.users)
    gevent.sleep(args.ramp)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    requests0 = environment.stats.total.num_requests
    in_verifier[0] = 0.0
    gevent.sleep(args.seconds)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    requests1 = environment.stats.total.num_requests
    spent = in_verifier[0]
    if with_verifier:
        run.on_test_stop()
    runner.quit()
    failures = environment.stats.total.num_failures
    verdict = run.verdict
    return {
        "cpu": cpu1 - cpu0,
        "in_verifier": spent,
        "wall": wall1 - wall0,
        "requests": requests1 - requests0,
        "failures": failures,
        "violations": [f.first for f in verdict.findings[:3]] if verdict else [],
    }


def child(args: argparse.Namespace) -> None:
    """One measurement in a fresh process, so runs do not share heaps or pools."""
    from gevent import monkey

    monkey.patch_all()
    result = generate(args.host, args, with_verifier=args.mode == "with")
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000, help="requests per second")
    parser.add_argument("--seconds", type=float, default=15, help="measured time per run")
    parser.add_argument("--ramp", type=float, default=3, help="seconds before measuring")
    parser.add_argument("--users", type=int, default=100, help="users, one client each")
    parser.add_argument("--limit", type=int, default=15)
    parser.add_argument("--window", type=int, default=60, help="seconds")
    parser.add_argument("--rounds", type=int, default=3, help="runs each way, alternating")
    parser.add_argument(
        "--client",
        choices=["requests", "fast"],
        default="fast",
        help="Locust's HttpUser (requests) or FastHttpUser; the cheaper client makes the"
        " verifier's share larger (default: %(default)s)",
    )
    parser.add_argument("--mode", choices=["with", "without"], help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.limit, args.window)
        return
    if args.mode:
        child(args)
        return

    port = free_port()
    here = str(Path(__file__).resolve())
    env = {**os.environ, "PYTHONPATH": str(Path(here).parent.parent)}
    limits = ["--limit", str(args.limit), "--window", str(args.window)]
    server = subprocess.Popen([sys.executable, here, "--serve", str(port), *limits], env=env)
    try:
        wait_ready(port)
        results: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
        for _ in range(args.rounds):
            for mode in ("without", "with"):
                command = [
                    sys.executable,
                    here,
                    "--mode",
                    mode,
                    "--host",
                    f"http://127.0.0.1:{port}",
                    *limits,
                    *("--rate", str(args.rate), "--seconds", str(args.seconds)),
                    *("--ramp", str(args.ramp), "--users", str(args.users)),
                    *("--client", args.client),
                ]
                out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()
        server.wait(timeout=10)

    def per_thousand(runs: list[dict[str, float]]) -> float:
        return 1000 * sum(r["cpu"] for r in runs) / sum(r["requests"] for r in runs)

    def rate(runs: list[dict[str, float]]) -> float:
        return sum(r["requests"] for r in runs) / sum(r["wall"] for r in runs)

    for mode, runs in results.items():
        rounds = ", ".join(f"{1000 * r['cpu'] / r['requests']:.3f}" for r in runs)
        print(f"CPU s per 1,000 requests {mode} the verifier, by round: {rounds}")
    without, with_ = per_thousand(results["without"]), per_thousand(results["with"])
    print(
        f"client {args.client}, {args.users} clients, limit {args.limit} per {args.window:g} s,"
        f" target rate {args.rate:g}/s, {args.rounds} x {args.seconds:g} s each way"
    )
    print(
        f"without verifier: {rate(results['without']):7.1f} requests/s,"
        f" {without:.3f} CPU s per 1,000 requests"
    )
    print(
        f"with verifier:    {rate(results['with']):7.1f} requests/s,"
        f" {with_:.3f} CPU s per 1,000 requests"
    )
    print(f"verifier cost, A/B: {100 * (with_ / without - 1):+.1f}% of the generator's CPU")
    inside = sum(r["in_verifier"] for r in results["with"]) / sum(r["cpu"] for r in results["with"])
    print(f"verifier cost, measured inside the run: {100 * inside:.1f}% of the generator's CPU")


if __name__ == "__main__":
    main()
