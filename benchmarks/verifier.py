"""What the rate-limit verifier costs the load generator: CPU with and without it, at a fixed rate.

    python benchmarks/verifier.py [--rate 1000] [--rounds 6] [--control 2] [--verdict-html]
                                  [--pin] [--time-listener] [--out FILE]

Starts a small target in a subprocess (gevent, a correct moving-window limiter per
``X-Forwarded-For`` client with its RateLimit fields, canned 201/400/429 answers).
Then, round after round, two Locust generators run at the same time against it, each
in a process of its own at a fixed request rate (``constant_throughput``) with
clients of its own: one with the verifier plugged into the request event exactly as
the locustfile plugs it, one without. Each pair gives the ratio of their CPU seconds
per 1,000 requests; the cost is the median ratio minus one. Control pairs, without
the verifier in either, show the method's noise. The target is under 10% at 1,000
requests/s. "Inside the run" is the time in the verifier's batches; ``--time-listener`` adds
the request listener, timed per request by a wrapper that itself adds to the A/B
cost. ``--verdict-html`` measures the verifier with the HTML report on: the
timeline it keeps for the charts is fed in the same batches, and the page is written
after the measured seconds (its size and the time it took are reported).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from collections import defaultdict, deque
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
from harness import free_port, pinning, running

BOOK_PATH = "/api/public/scheduling/jane-doe/30min-call/book"
TARGET = 0.10  # the verifier's cost, as a share of the generator's CPU


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
            headers += [
                ("RateLimit", f'"per-ip";r=0;t={retry_after}'),
                ("Retry-After", str(retry_after)),
            ]
            start_response("429 Too Many Requests", headers)
            return [b'{"error": "Rate limit exceeded."}']
        log.append(now)
        frees = min(math.ceil(window), max(1, math.ceil(log[0] + window - now + 0.001)))
        headers.append(("RateLimit", f'"per-ip";r={limit - len(log)};t={frees}'))
        # One in ten books (a fresh slot each time); the rest are refused as invalid.
        if len(log) % 10 == 0:
            start_response("201 Created", headers)
            return [b'{"id": "bkg_benchmark"}']
        start_response("400 Bad Request", headers)
        return [b'{"error": "The request body is invalid."}']

    WSGIServer(("127.0.0.1", port), app, log=None, error_log=None).serve_forever()


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
    # Clients of their own: the target remembers the clients of earlier runs.
    numbers = iter(range(args.first_client, 10**9))
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

    page = Path(tempfile.gettempdir()) / f"verifier-benchmark-{os.getpid()}.html"
    options = Namespace(
        rate_limit=f"{args.limit}/{args.window} seconds",
        client_mode="xff",
        verdict_html=str(page) if args.verdict_html else "",
    )
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
        if run.timeline is not None:  # the HTML report's records, fed in the same batches
            run.timeline.feed_many = timed(run.timeline.feed_many, time.thread_time)  # type: ignore[method-assign]
        if args.time_listener:
            # Once per request: the thread's CPU clock would cost more than the listener,
            # so wall time (the same, unless the machine preempts us within a few
            # microseconds). The timing wrapper costs about as much as the call it wraps,
            # and the A/B cost counts it too: off unless asked for.
            environment.events.request.add_listener(timed(run.on_request, time.perf_counter))
        else:
            environment.events.request.add_listener(run.on_request)
    runner.start(args.users, spawn_rate=args.users)
    gevent.sleep(args.ramp)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    requests0 = environment.stats.total.num_requests
    in_verifier[0] = 0.0
    gevent.sleep(args.seconds)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    requests1 = environment.stats.total.num_requests
    spent = in_verifier[0]
    report_seconds = report_bytes = 0.0
    if with_verifier:
        written = time.perf_counter()
        run.on_test_stop()
        if args.verdict_html:
            report_seconds = time.perf_counter() - written
            report_bytes = page.stat().st_size
            page.unlink()
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
        "report_seconds": report_seconds,
        "report_bytes": report_bytes,
    }


def child(args: argparse.Namespace) -> None:
    """One measurement in a fresh process, so runs do not share heaps or pools."""
    from gevent import monkey

    monkey.patch_all()
    result = generate(args.host, args, with_verifier=args.mode == "with")
    print(json.dumps(result))


def start_child(
    mode: str,
    port: int,
    first_client: int,
    args: argparse.Namespace,
    env: dict[str, str],
    log: IO[str],
    pin: list[str],
) -> subprocess.Popen[str]:
    command = [
        *pin,
        sys.executable,
        str(Path(__file__).resolve()),
        *("--mode", mode, "--host", f"http://127.0.0.1:{port}"),
        *("--limit", str(args.limit), "--window", str(args.window)),
        *("--rate", str(args.rate), "--seconds", str(args.seconds)),
        *("--ramp", str(args.ramp), "--users", str(args.users)),
        *("--client", args.client, "--first-client", str(first_client)),
        *(["--verdict-html"] if args.verdict_html else []),
        *(["--time-listener"] if args.time_listener else []),
    ]
    # Its log to a file: two generators writing to pipes read one after the other
    # could fill one and stall it mid-measurement.
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)


def finish_child(process: subprocess.Popen[str], log: IO[str], timeout: float) -> dict[str, Any]:
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError("a generator run did not finish in time") from None
    if process.returncode != 0:
        log.seek(0)
        raise RuntimeError(f"a generator run failed:\n{log.read()[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def per_thousand(run: dict[str, Any]) -> float:
    """The generator's CPU seconds per 1,000 requests."""
    return 1000 * run["cpu"] / run["requests"]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Pairs of generators running at the same time against one target.

    Both runs of a pair share the machine's state of the moment (frequency, other
    load, the target's speed), which sequential runs do not: here that drift moves
    CPU per request by 20% from one run to the next. So each pair gives one ratio,
    and control pairs, both without the verifier, show what the method cannot resolve.
    """
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    limits = ["--limit", str(args.limit), "--window", str(args.window)]
    # --pin: the target on one CPU, both generators of a pair on the other. They then
    # share one core and its caches (less noise between the two, but each is slower than
    # a generator with a core of its own, as in a real run).
    pins = pinning(args.pin)
    target_pin, generator_pin = pins if pins else ([], [])
    target = [*target_pin, sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
    target += limits
    pairs = [("with", "without")] * args.rounds + [("without", "without")] * args.control
    rounds: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="verifier-") as tmp,
        running("target", target, port, Path(tmp), timeout=15),
    ):
        timeout = args.ramp + args.seconds + 60
        for number, modes in enumerate(pairs):
            # Which one starts first alternates; each has clients of its own.
            order = modes if number % 2 == 0 else modes[::-1]
            first = 2 * number * args.users
            with contextlib.ExitStack() as stack:
                logs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in order]
                processes = [
                    start_child(
                        mode, port, first + i * args.users, args, env, logs[i], generator_pin
                    )
                    for i, mode in enumerate(order)
                ]
                try:
                    results = [
                        finish_child(process, log, timeout)
                        for process, log in zip(processes, logs, strict=True)
                    ]
                finally:
                    for process in processes:  # a failed or stuck pair: stop both
                        if process.poll() is None:
                            process.kill()
                            process.wait()
            if order != modes:
                results.reverse()
            a, b = results
            rounds.append(
                {
                    "kind": "verifier" if modes[0] == "with" else "control",
                    "with" if modes[0] == "with" else "a": a,
                    "without" if modes[0] == "with" else "b": b,
                    "ratio": per_thousand(a) / per_thousand(b),
                }
            )
    return summarise(rounds, args)


def summarise(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    verifier = [r for r in rounds if r["kind"] == "verifier"]
    control = [r for r in rounds if r["kind"] == "control"]
    ratios = [r["ratio"] for r in verifier]
    runs = [r[k] for r in rounds for k in ("with", "without", "a", "b") if k in r]
    with_runs = [r["with"] for r in verifier]
    inside = sum(r["in_verifier"] for r in with_runs) / sum(r["cpu"] for r in with_runs)
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "users": args.users,
        "client": args.client,
        "limit": args.limit,
        "window": args.window,
        "rounds": rounds,
        "achieved_rate_min": min(r["requests"] / r["wall"] for r in runs),
        "cost_median": statistics.median(ratios) - 1,
        "cost_min": min(ratios) - 1,
        "cost_max": max(ratios) - 1,
        "control_ratios": [r["ratio"] for r in control],
        "cost_inside": inside,
        "violations": sorted({v for r in with_runs for v in r["violations"]}),
        "verdict_html": args.verdict_html,
        "pinned": pinning(args.pin) is not None,
        "time_listener": args.time_listener,
        "report_seconds_max": max(r["report_seconds"] for r in with_runs),
        "report_bytes_max": max(r["report_bytes"] for r in with_runs),
    }


def report(summary: dict[str, Any], target: float) -> None:
    print(
        f"client {summary['client']}, {summary['users']} clients, limit {summary['limit']} per"
        f" {summary['window']:g} s, {summary['rate']:g} requests/s per generator,"
        f" {summary['seconds']:g} s measured per run; two generators at a time"
        + (", with --verdict-html" if summary["verdict_html"] else "")
        + ("; the target on one CPU, both generators on the other" if summary["pinned"] else "")
    )
    print("round  pair                  CPU s per 1,000 requests   ratio")
    for number, r in enumerate(summary["rounds"], 1):
        if r["kind"] == "verifier":
            pair, a, b = "with / without", r["with"], r["without"]
        else:
            pair, a, b = "without / without", r["a"], r["b"]
        print(
            f"{number:>5}  {pair:<20}  {per_thousand(a):.3f} / {per_thousand(b):.3f}"
            f"              {r['ratio']:.3f}"
        )
    print(f"slowest generator run: {summary['achieved_rate_min']:.0f} requests/s")
    if summary["achieved_rate_min"] < 0.95 * summary["rate"]:
        print("warning: a generator fell behind the rate; the machine is too busy to measure")
    if summary["control_ratios"]:
        spread = max(abs(r - 1) for r in summary["control_ratios"])
        print(f"control pairs (no verifier in either): ratios within {100 * spread:.1f}% of 1")
    print(
        f"verifier cost, A/B: {100 * summary['cost_median']:+.1f}% of the generator's CPU"
        f" (median of {len(summary['rounds']) - len(summary['control_ratios'])} pairs;"
        f" {100 * summary['cost_min']:+.1f}% to {100 * summary['cost_max']:+.1f}%)"
    )
    timed = "the request listener and the batches" if summary["time_listener"] else "the batches"
    print(
        f"verifier cost, measured inside the run ({timed}): {100 * summary['cost_inside']:.1f}%"
        " of the generator's CPU"
    )
    if summary["verdict_html"]:
        print(
            f"HTML report, written after the measured seconds: up to"
            f" {summary['report_bytes_max'] / 1e6:.1f} MB in {summary['report_seconds_max']:.2f} s"
        )
    if summary["violations"]:
        print(f"warning: the verifier found violations: {summary['violations']}")
    met = "met" if summary["cost_median"] < target else "NOT met"
    print(f"target: under {100 * target:g}% at {summary['rate']:g} requests/s: {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10, help="measured time per run")
    parser.add_argument("--ramp", type=float, default=3, help="seconds before measuring")
    parser.add_argument("--users", type=int, default=100, help="users, one client each")
    parser.add_argument("--limit", type=int, default=15)
    parser.add_argument("--window", type=int, default=60, help="seconds")
    parser.add_argument("--rounds", type=int, default=6, help="pairs with and without")
    parser.add_argument(
        "--control", type=int, default=2, help="pairs without the verifier in either"
    )
    parser.add_argument(
        "--client",
        choices=["requests", "fast"],
        default="fast",
        help="Locust's HttpUser (requests) or FastHttpUser; the cheaper client makes the"
        " verifier's share larger (default: %(default)s)",
    )
    parser.add_argument(
        "--verdict-html",
        action="store_true",
        help="with the HTML report on (--verdict-html): its timeline is fed with the verifier",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="with taskset: the target on one CPU, both generators on the other",
    )
    parser.add_argument(
        "--time-listener",
        action="store_true",
        help="also time the request listener inside the run; its wrapper adds to the A/B cost",
    )
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    parser.add_argument("--mode", choices=["with", "without"], help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first-client", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.limit, args.window)
        return
    if args.mode:
        child(args)
        return
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    summary = measure(args)
    report(summary, TARGET)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
