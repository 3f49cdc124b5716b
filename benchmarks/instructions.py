"""Instructions per request of the booking mix, in process: a commit against the working tree.

    .venv/bin/python benchmarks/instructions.py                 # HEAD against the working tree
    .venv/bin/python benchmarks/instructions.py --baseline 15eaf60

On this 2-core virtual machine, requests/s drift by a third over minutes, and timing the
app in process moves by 3 to 5% between runs: more than most single changes buy. The
number of instructions the CPU runs for a request does not drift. This script counts them
with valgrind's callgrind (Debian's package ``valgrind``) for the same requests, in one
run: the app of a baseline commit (checked out in a temporary git worktree) and the app of
the working tree, side by side, one core each.

Each side builds the app as ``booking-mock`` does (memory storage, the clock frozen at
harness.CLOCK, ``--fake-hosts``, X-Forwarded-For trusted from 127.0.0.1, the access log
on, written to /dev/null), lists the free
slots of each fake host's 30-minute event type through the control API, and sends the
mix of booking_mix.lua in process (no sockets): in every 20 requests, 14 fresh slots, 2
taken ones, 2 invalid bodies (four kinds in turn) and 2 from clients over the limit.
Warm-up requests first, then the measured ones; only those run inside
``functools.reduce``, the one C function callgrind is told to count in
(``--toggle-collect``), so start-up and warm-up are not counted.

Instructions are not time: a cache miss costs more than an add. They say whether a change
made the app do less work, which is what a change to the request path is for; whether
that shows under load is throughput.py's to say.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from harness import CLOCK, ROOT, SEED, run_script

MIX = "FFFTFIFHFFFFTFIFHFFF"  # booking_mix.lua's block: Fresh, Taken, Invalid, Hot
TAKEN_LAG = 32
HOT_CLIENTS = 8
DAYS = ("2026-03-13", "2026-05-14")


def mix_requests(slots: list[tuple[str, str, str]], count: int) -> list[tuple[str, bytes, bytes]]:
    """(path, body, X-Forwarded-For) of count requests of the mix, from the free slots."""
    requests, fresh, invalid = [], 0, 0
    for n in range(count):
        kind = MIX[n % len(MIX)]
        email = f"guest{n}@example.com"
        if kind in "TH":
            index = max(fresh - TAKEN_LAG, 0)
        else:
            index, fresh = fresh, fresh + 1
        path, start, end = slots[index % len(slots)]
        fields = {"startTime": start, "endTime": end, "inviteeName": f"Guest {n}"}
        if kind == "I":
            invalid += 1
            variant = invalid % 4
            if variant == 0:
                email = "not-an-email"  # 400: not an email
            elif variant == 1:
                fields["startTime"] = start[:-1]  # 400: no offset
            elif variant == 2:
                fields["endTime"] = start  # 400: wrong duration
        if kind == "I" and invalid % 4 == 3:
            fields["inviteeTimezone"] = "America/New_York"  # 400: no inviteeEmail
        else:
            fields.update(
                inviteeEmail=email,
                inviteePhone=f"+1-555-0{100 + n % 900}",
                inviteeTimezone="America/New_York",
                inviteeLocale="en",
                source="BookingPage",
                customFields={"company": "Acme"},
                inviteeNotes="Looking forward to it.",
            )
        if kind == "H":
            client = f"172.16.0.{(n + 1) % HOT_CLIENTS + 1}"  # as booking_mix.lua counts
        else:
            client = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        requests.append((path, json.dumps(fields).encode(), client.encode()))
    return requests


def drive(hosts: int, warmup: int, measured: int, count_in: Callable[..., object]) -> Counter:
    """Build the app of the tree on sys.path, send the mix, return the measured statuses."""
    import logging
    from datetime import datetime

    from mock_server.app import Settings, create_app
    from mock_server.fake import fake_hosts

    # The access log on, as booking-mock's default --log-level info has it, into nowhere.
    access = logging.getLogger("mock_server.access")
    access.setLevel(logging.INFO)
    access.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
    access.propagate = False

    app = create_app(
        Settings(
            clock=datetime.fromisoformat(CLOCK),
            clock_frozen=True,
            forwarded_allow_ips=["127.0.0.1"],
            fake_hosts=hosts,
            seed=SEED,
        )
    )

    async def call(method: str, path: str, body: bytes = b"", headers=(), query=b"") -> list:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list = []

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)
        return sent

    async def book(requests: list, statuses: Counter) -> None:
        for path, body, client in requests:
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-forwarded-for", client),
            ]
            sent = await call("POST", path, body, headers)
            statuses[sent[0]["status"]] += 1

    async def slots() -> list[tuple[str, str, str]]:
        found = []
        query = f"from={DAYS[0]}&to={DAYS[1]}".encode()
        for host in fake_hosts(hosts, SEED):
            sent = await call("GET", f"/__admin/slots/{host['slug']}/30min", query=query)
            body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
            path = f"/api/public/scheduling/{host['slug']}/30min/book"
            found += [(path, s["startTime"], s["endTime"]) for s in json.loads(body)["slots"]]
        return found

    loop = asyncio.new_event_loop()
    try:
        requests = mix_requests(loop.run_until_complete(slots()), warmup + measured)
        loop.run_until_complete(book(requests[:warmup], Counter()))
        statuses: Counter = Counter()
        # The measured requests, and nothing else, run inside count_in.
        count_in(lambda _, __: loop.run_until_complete(book(requests[warmup:], statuses)), [0], 0)
    finally:
        loop.close()
    return statuses


def callgrind(source: Path, args: argparse.Namespace, out: Path) -> subprocess.Popen:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=functools_reduce",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--drive",
        str(source),
        f"--hosts={args.hosts}",
        f"--warmup={args.warmup}",
        f"--requests={args.requests}",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collected(stderr: str) -> int:
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise RuntimeError(f"callgrind reported no count:\n{stderr[-2000:]}")
    return int(found[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="the commit to compare against")
    parser.add_argument("--requests", type=int, default=4000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=4000, help="requests before them")
    parser.add_argument("--hosts", type=int, default=30, help="booking-mock --fake-hosts")
    parser.add_argument("--drive", metavar="SOURCE", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.drive:  # one side, under callgrind (or alone, as the smoke test runs it)
        sys.path.insert(0, args.drive)
        statuses = drive(args.hosts, args.warmup, args.requests, functools.reduce)
        print(json.dumps({"statuses": dict(sorted(statuses.items()))}))
        return 0

    if shutil.which("valgrind") is None:
        print("instructions.py needs valgrind: apt-get install valgrind", file=sys.stderr)
        return 2
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="instructions-") as temp:
        tree = Path(temp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), revision],
            check=True,
        )
        try:
            print(
                f"counting {args.requests:,} requests after {args.warmup:,} of warm-up,"
                " each side under callgrind (a minute or two)",
                flush=True,
            )
            sides = {
                f"baseline {revision}": callgrind(tree, args, Path(temp) / "baseline.out"),
                "working tree": callgrind(ROOT, args, Path(temp) / "working.out"),
            }
            counts, statuses = {}, {}
            for name, process in sides.items():
                stdout, stderr = process.communicate()
                if process.returncode != 0:
                    raise RuntimeError(f"{name}: exit {process.returncode}\n{stderr[-2000:]}")
                counts[name] = collected(stderr) / args.requests
                statuses[name] = json.loads(stdout.strip().splitlines()[-1])["statuses"]
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    for name, per_request in counts.items():
        print(
            f"{name:<22} {per_request:>10,.0f} instructions a request   statuses {statuses[name]}"
        )
    base, work = counts.values()
    print(f"{'working tree/baseline':<22} {work / base:>10.3f}x")
    if len({json.dumps(s) for s in statuses.values()}) > 1:
        print("note: the two sides answered differently; the counts compare different work")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    run_script(main, "instructions.py", "the worktree and valgrind runs are removed")
