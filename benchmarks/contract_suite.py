"""Wall time and request count of the contract suite against local servers it starts itself.

    .venv/bin/python benchmarks/contract_suite.py [--only short-window-xff,independent-xff]
        [--out benchmarks/contract_suite.json]

For each setup a server is served on a free 127.0.0.1 port in this process, behind a
layer that counts the HTTP requests it receives; the suite runs as `python -m
contract_tests` (what booking-contract runs) in a subprocess against it, and the
server is stopped afterwards. The setups:

- short-window-xff: the reference (mock_server) limits 30 requests per 4 s per client
  and trusts X-Forwarded-For from 127.0.0.1; the suite acts as many clients and pins
  the reference's clock through its control API. The goal: at most 60 s;
- independent-xff: the same run against tests/independent, the correct server written
  from PRODUCT.md alone (no control API: the suite judges on the real clock);
- short-window: the reference at 30 per 4 s, the suite as one client, pacing itself;
- simulated-clients: the reference at the default 15 per minute, trusting
  X-Forwarded-For from 127.0.0.1, the suite as many clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server import Settings, create_app  # noqa: E402
from tests.independent.server import create_app as create_independent_app  # noqa: E402

SHORT = ["--rate-limit", "30/4 seconds"]
XFF = ["--trusts-forwarded-for"]
SETUPS: dict[str, tuple[Any, list[str]]] = {
    "short-window-xff": (
        lambda: create_app(Settings(rate_limit="30/4 seconds", forwarded_allow_ips=["127.0.0.1"])),
        [*SHORT, *XFF],
    ),
    "independent-xff": (
        lambda: create_independent_app(limit=30, window=4, trusted_proxies=["127.0.0.1"]),
        [*SHORT, *XFF, "--no-control-api"],
    ),
    "short-window": (lambda: create_app(Settings(rate_limit="30/4 seconds")), SHORT),
    "simulated-clients": (lambda: create_app(Settings(forwarded_allow_ips=["127.0.0.1"])), XFF),
}
BOOK = re.compile(r"^/api/public/scheduling/[^/]+/[^/]+/book$")


class Counting:
    """Counts the requests reaching the app, by status, book endpoint apart."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.book_requests = 0
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.requests += 1
            self.book_requests += bool(BOOK.match(scope["path"]))

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counting_send)


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # As booking-mock serves: X-Forwarded-For only as the app's --forwarded-allow-ips says.
    config = uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the reference did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Result:
    setup: str
    exit_code: int
    wall_seconds: float
    requests: int
    book_requests: int
    requests_per_second: float
    responses_429: int
    tests: str
    suite_summary: str


def run(setup: str) -> Result:
    build, suite_args = SETUPS[setup]
    counting = Counting(build())
    with tempfile.TemporaryDirectory() as tmp, serve(counting) as base_url:
        command = [
            sys.executable,
            "-m",
            "contract_tests",
            "--base-url",
            base_url,
            *suite_args,
            "--junit",
            str(Path(tmp) / "junit.xml"),
            "-q",
        ]
        started = time.monotonic()
        completed = subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
    output = completed.stdout + completed.stderr
    summary = next(
        (line.strip("- ") for line in output.splitlines() if "contract suite:" in line), ""
    )
    tests = next((line.strip("= ") for line in reversed(output.splitlines()) if " in " in line), "")
    if completed.returncode != 0:
        print(output[-4000:], file=sys.stderr)
    return Result(
        setup,
        completed.returncode,
        round(wall, 1),
        counting.requests,
        counting.book_requests,
        round(counting.requests / wall, 1),
        counting.statuses[429],
        tests,
        summary,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SETUPS), help="comma-separated setups")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    results = [run(setup.strip()) for setup in args.only.split(",") if setup.strip()]
    header = f"{'setup':<18} {'exit':>4} {'wall s':>7} {'requests':>8} {'book':>5}"
    print(f"{header} {'req/s':>6} {'429s':>5}")
    for r in results:
        print(
            f"{r.setup:<18} {r.exit_code:>4} {r.wall_seconds:>7} {r.requests:>8}"
            f" {r.book_requests:>5} {r.requests_per_second:>6} {r.responses_429:>5}"
        )
        print(f"  {r.tests}\n  {r.suite_summary}")
    if args.out:
        args.out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
