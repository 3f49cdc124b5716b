"""Requests/s and latency of booking-mock, a bare Starlette floor and Prism's mock, in one run.

    .venv/bin/python benchmarks/throughput.py [--duration 15] [--connections 50]
        [--out benchmarks/results.json] [--only booking-mock,floor,prism]

Each server is started on a free 127.0.0.1 port, warmed up, loaded by the same wrk
script (benchmarks/booking_mix.lua: fresh slots, taken slots, invalid bodies, thousands
of clients by X-Forwarded-For and a few that exceed the rate limit), and stopped by
pid, one after the other. The server runs on CPU 0 and wrk on CPU 1 when taskset is
available. See benchmarks/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = ROOT / "openapi" / "booking.yaml"
MIX_SCRIPT = HERE / "booking_mix.lua"
VENV_BIN = Path(sys.executable).parent
SERVERS = ("booking-mock", "floor", "prism")

CLOCK = "2026-03-13T10:30:00Z"  # the API document's moment, as the tests pin it
FIRST_DAY = date(2026, 3, 13)
DAYS = 62  # the control API's longest slot listing; the booking horizon is 60 days
FAKE_EVENT = "30min"  # one event type per host: its slots never overlap one another
SEED = 20260313
PRISM_PACKAGE = "@stoplight/prism-cli@5"
TARGET_RATIO = 2.0  # issue 6: booking-mock at >= 2x Prism's requests/s, p99 no worse


# Processes


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinning(enabled: bool) -> tuple[list[str], list[str]] | None:
    """taskset prefixes for the server (CPU 0) and wrk (CPU 1), or None when not possible."""
    if not enabled or shutil.which("taskset") is None:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", str(cpus[1])]


class Server:
    """A server process in its own session, stopped with its children by its pid."""

    def __init__(self, name: str, argv: Sequence[str], port: int, log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # A new session makes the pid a process group id: npx's node children go with it.
        self.process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            # The leader is gone; children it left in the group may not be.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self._log.close()


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str], port: int, log_dir: Path, timeout: float
) -> Iterator[Server]:
    server = Server(name, argv, port, log_dir)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


def process_tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc."""
    pids, index = [pid], 0
    while index < len(pids):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pids[index]}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        index += 1
    return pids


def uvicorn_flavour(pid: int) -> tuple[str, str]:
    """The event loop and HTTP parser a running uvicorn uses, from the libraries it mapped."""
    mapped = ""
    for each in process_tree(pid):
        with contextlib.suppress(OSError):
            mapped += Path(f"/proc/{each}/maps").read_text()
    loop = "uvloop" if "/uvloop/loop." in mapped else "asyncio"
    http = "httptools" if "/httptools/parser/" in mapped else "h11"
    return loop, http


# wrk


def find_wrk(install: bool = True) -> str:
    """wrk's path; as root, apt-get installs Debian's package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; installing Debian's package: apt-get install -y wrk", flush=True)
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        quiet = {"stdout": subprocess.DEVNULL, "env": env}
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-qq"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "The load generator wrk is not installed. Install it with"
        " `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`, then run again."
    )


@dataclass
class Load:
    """One wrk run's numbers."""

    requests: int
    seconds: float
    requests_per_s: float
    latency_ms: dict[str, float]
    status: dict[str, int]
    socket_errors: dict[str, int]
    slots_reused: int
    errors: int  # failed requests: socket errors, timeouts and 5xx answers
    cpu_percent: dict[str, float]  # of one core, over the run: server, wrk, other processes


TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all processes used since boot, from /proc/stat.

    Interrupt time is left out: the loopback traffic's own softirq work lands there and is
    charged to no process, so it would read as other processes' load.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:4]]
    user, nice, system = fields
    return (user + nice + system) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used by pid and its descendants, from /proc/PID/stat."""
    total = 0
    for each in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            stat = Path(f"/proc/{each}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    wrk: str,
    url: str,
    slots_file: Path,
    phase: int,
    *,
    seconds: float,
    connections: int,
    threads: int,
    prefix: Sequence[str],
    server_pid: int,
) -> Load:
    """One wrk run of booking_mix.lua, with the CPU the server, wrk and others used meanwhile."""
    argv = [
        *prefix,
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        f"--script={MIX_SCRIPT}",
        url,
        "--",
        str(slots_file),
        str(phase),
        str(threads),
    ]
    before = (time.monotonic(), machine_busy_seconds(), tree_cpu_seconds(server_pid))
    wrk_before = children_cpu_seconds()  # wrk is the only child reaped in between
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.monotonic() - before[0]
    machine = machine_busy_seconds() - before[1]
    server = tree_cpu_seconds(server_pid) - before[2]
    generator = children_cpu_seconds() - wrk_before
    cpu = {
        "server": round(100 * server / wall),
        "wrk": round(100 * generator / wall),
        "others": round(100 * max(0.0, machine - server - generator) / wall),
    }
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("RESULT "))
    duration = raw["duration_us"] / 1e6
    errors = raw["errors"]
    status = dict(sorted(raw["status"].items()))
    socket_errors = {k: errors[k] for k in ("connect", "read", "write", "timeout")}
    server_errors = sum(n for code, n in status.items() if code.startswith("5"))
    return Load(
        requests=raw["requests"],
        seconds=round(duration, 2),
        requests_per_s=round(raw["requests"] / duration, 1),
        latency_ms={k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
        status=status,
        socket_errors=socket_errors,
        slots_reused=raw["slots_reused"],
        errors=sum(socket_errors.values()) + server_errors,
        cpu_percent=cpu,
    )


# Slots


def fake_host_slugs(count: int) -> list[str]:
    """The slugs booking-mock gives its --fake-hosts with --seed SEED."""
    sys.path.insert(0, str(ROOT))
    from mock_server.fake import fake_hosts  # the same function the server calls

    return [host["slug"] for host in fake_hosts(count, SEED)]


def slot_lines(base_url: str, slugs: list[str]) -> list[str]:
    """Every free slot of each host's 30-minute event type, as booking_mix.lua reads them."""
    import httpx

    lines: list[str] = []
    last = FIRST_DAY + timedelta(days=DAYS)
    window = {"from": FIRST_DAY.isoformat(), "to": last.isoformat()}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for slug in slugs:
            answer = client.get(f"/__admin/slots/{slug}/{FAKE_EVENT}", params=window)
            if answer.status_code != 200:
                raise RuntimeError(
                    f"GET /__admin/slots/{slug}/{FAKE_EVENT}: {answer.status_code} {answer.text}"
                    " (do booking-mock's --fake-hosts still follow mock_server.fake.fake_hosts?)"
                )
            path = f"/api/public/scheduling/{slug}/{FAKE_EVENT}/book"
            for slot in answer.json()["slots"]:
                lines.append(f"{path} {slot['startTime']} {slot['endTime']} {bad_end(slot)}")
    return interleave(lines)


def synthetic_slot_lines(slugs: list[str]) -> list[str]:
    """Slot-shaped lines for runs without booking-mock: floor and Prism do not check them."""
    lines = []
    start = datetime(2026, 3, 16, 9, tzinfo=UTC)
    for slug in slugs:
        path = f"/api/public/scheduling/{slug}/{FAKE_EVENT}/book"
        for n in range(700):
            s = start + timedelta(minutes=30 * n)
            slot = {"startTime": utc(s), "endTime": utc(s + timedelta(minutes=30))}
            lines.append(f"{path} {slot['startTime']} {slot['endTime']} {bad_end(slot)}")
    return interleave(lines)


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bad_end(slot: dict[str, str]) -> str:
    end = datetime.fromisoformat(slot["endTime"].replace("Z", "+00:00"))
    return utc(end + timedelta(minutes=15))


def interleave(lines: list[str]) -> list[str]:
    """Round-robin over hosts, so consecutive requests go to different hosts and days."""
    by_path: dict[str, list[str]] = {}
    for line in lines:
        by_path.setdefault(line.split(" ", 1)[0], []).append(line)
    columns = list(by_path.values())
    out = []
    for row in range(max((len(c) for c in columns), default=0)):
        out += [c[row] for c in columns if row < len(c)]
    return out


def write_slot_files(lines: list[str], warmup_share: float, work: Path) -> tuple[Path, Path]:
    """Split the slots: warm-up and measurement never book the same one."""
    cut = max(1, int(len(lines) * warmup_share))
    warm, measure = work / "slots-warmup.txt", work / "slots-measure.txt"
    warm.write_text("\n".join(lines[:cut]) + "\n")
    measure.write_text("\n".join(lines[cut:]) + "\n")
    return warm, measure


# The three servers


def booking_mock() -> str:
    """The booking-mock next to this Python (the venv's), else the one on PATH."""
    beside = VENV_BIN / "booking-mock"
    found = str(beside) if beside.exists() else shutil.which("booking-mock")
    if found is None:
        raise SystemExit("booking-mock not found: run with the project's .venv/bin/python")
    return found


def mock_argv(port: int, fake_hosts: int, extra: Sequence[str]) -> list[str]:
    return [
        booking_mock(),
        "--port",
        str(port),
        "--clock",
        CLOCK,
        "--freeze",
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--fake-hosts",
        str(fake_hosts),
        "--seed",
        str(SEED),
        *extra,
    ]


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


# Profile


def start_profiler(
    pid: int, seconds: float, out: Path, prefix: Sequence[str]
) -> subprocess.Popen[bytes]:
    """py-spy sampling pid's Python stacks that hold the GIL, as collapsed stacks."""
    beside = VENV_BIN / "py-spy"
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    argv = [*prefix, spy, "record", "--pid", str(pid), "--duration", str(round(seconds))]
    # Only stacks holding the GIL: the CPU the server spends in Python, not idle threads.
    argv += ["--rate", "100", "--gil", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        spy.wait(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()


def frame_name(frame: str) -> str:
    """'function (path/file.py:line)' as 'function (file.py)': one entry per function."""
    function, _, where = frame.rpartition(" (")
    if not function:
        return frame
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/site-packages/", str(ROOT) + "/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{function} ({path})"


def hot_spots(raw: Path, top: int = 15) -> dict[str, Any]:
    """The functions with most samples, inclusive (anywhere on the stack) and self (the leaf)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n

    def ranked(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return [(name, round(100 * n / total, 1)) for name, n in best]

    # The entry chain (<module>, main, uvicorn.run, the loop) is on every stack: not a spot.
    inclusive = {name: n for name, n in inclusive.items() if n < 0.99 * total}
    return {"samples": total, "inclusive": ranked(inclusive), "self": ranked(own)}


def print_hot_spots(spots: dict[str, Any]) -> None:
    print(f"\nbooking-mock profile: {spots['samples']} samples of stacks holding the GIL")
    for kind in ("inclusive", "self"):
        scope = " (below the entry chain on every stack)" if kind == "inclusive" else ""
        print(f"  top {len(spots[kind])} by {kind} time{scope}:")
        for name, share in spots[kind]:
            print(f"    {share:5.1f}%  {name}")


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
    server: Server,
    files: tuple[Path, Path],
    *,
    args: argparse.Namespace,
    wrk: str,
    wrk_prefix: Sequence[str],
    profile: Path | None = None,
) -> Measured:
    """Warm the server up, then measure it, each on its own slots and clients.

    With profile, py-spy samples the server during the measurement into that file.
    """
    options: dict[str, Any] = {
        "connections": args.connections,
        "threads": args.threads,
        "prefix": wrk_prefix,
        "server_pid": server.pid,
    }
    print(f"   warming up {args.warmup:g} s", flush=True)
    warm = run_wrk(wrk, server.url, files[0], 0, seconds=args.warmup, **options)
    print(f"   measuring {args.duration:g} s", flush=True)
    spy = start_profiler(server.pid, args.duration, profile, wrk_prefix) if profile else None
    try:
        load = run_wrk(wrk, server.url, files[1], 1, seconds=args.duration, **options)
    finally:
        if spy is not None:
            stop_profiler(spy, args.duration)
    if server.process.poll() is not None:
        raise RuntimeError(f"{name} died under load:\n{server.log_tail()}")
    print(
        f"   {load.requests_per_s:,.0f} requests/s, p50 {load.latency_ms['p50']} ms,"
        f" p99 {load.latency_ms['p99']} ms, status {status_mix(load)}",
        flush=True,
    )
    cpu = load.cpu_percent
    print(
        f"   CPU (% of one core): server {cpu['server']}, wrk {cpu['wrk']},"
        f" other processes {cpu['others']}",
        flush=True,
    )
    return Measured(name, "", load, warm)


def status_mix(load: Load) -> str:
    total = sum(load.status.values()) or 1
    return ", ".join(f"{code} {100 * n / total:.0f}%" for code, n in load.status.items())


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def report(results: dict[str, Measured], pinned: bool) -> dict[str, Any]:
    """Print the table and the ratios; return them for the JSON file."""
    print("\n" + "=" * 100)
    header = f"{'server':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    print(header + "  status mix")
    for name, m in results.items():
        lat = m.load.latency_ms
        print(
            f"{name:<14}{m.load.requests_per_s:>9,.0f}{lat['p50']:>9.2f}{lat['p99']:>9.2f}"
            f"{lat['max']:>9.1f}{m.load.errors:>8}  {status_mix(m.load)}"
        )
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


def code_version() -> str:
    """HEAD's short hash, and whether mock_server/ differs from it: what booking-mock ran."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "mock_server"], capture_output=True, text=True
    )
    version = commit.stdout.strip() or "unknown"
    return version + (" + uncommitted changes in mock_server/" if dirty.stdout.strip() else "")


def environment(wrk: str, pins: tuple[list[str], list[str]] | None, version: str) -> dict[str, Any]:
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True)
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
        "wrk": (wrk_version.stdout + wrk_version.stderr).splitlines()[0],
        "pinning": {"server": pins[0], "wrk": pins[1]} if pins else None,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds measured per server")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=50, help="open connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: 1)")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.json", help="JSON file for the results"
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
        help="record booking-mock with py-spy during the measurement into FILE (collapsed"
        " stacks) and print its hot spots; py-spy slows the server, so compare no numbers",
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
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_floor:
        serve_floor(args.serve_floor, args.floor_loop, args.floor_http)
        return 0
    wrk = find_wrk(install=not args.no_install)
    pins = pinning(not args.no_pin)
    # SIGTERM as Ctrl-C: unwind, so every finally stops its server.
    started = time.monotonic()
    version = code_version()
    print(f"code: {version}", flush=True)
    results: dict[str, Measured] = {}
    loop, http = "auto", "auto"
    slugs = fake_host_slugs(args.fake_hosts)
    server_prefix, wrk_prefix = pins or ([], [])
    warmup_share = args.warmup / (args.warmup + args.duration)
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        work = Path(tmp)
        files: tuple[Path, Path] | None = None
        for name in args.only:
            port = free_port()
            notes: list[str] = []
            if name == "booking-mock":
                argv_, timeout = mock_argv(port, args.fake_hosts, shlex.split(args.mock_args)), 60
            elif name == "floor":
                argv_, timeout = floor_argv(port, loop, http), 30
                notes.append(f"uvicorn loop={loop} http={http}")
            else:
                argv_, timeout = prism_argv(port), 300  # the first run downloads Prism
            print(f"\n== {name}: {shlex.join(argv_)}", flush=True)
            with running(name, [*server_prefix, *argv_], port, work, timeout) as server:
                if name == "booking-mock":
                    loop, http = uvicorn_flavour(server.pid)
                    notes.append(f"uvicorn loop={loop} http={http} (read from /proc/PID/maps)")
                    print(f"   fetching free slots of {len(slugs)} hosts", flush=True)
                    lines = slot_lines(server.url, slugs)
                    files = write_slot_files(lines, warmup_share, work)
                    notes.append(f"{len(lines):,} free slots")
                elif files is None:
                    files = write_slot_files(synthetic_slot_lines(slugs), warmup_share, work)
                profile = args.profile if name == "booking-mock" else None
                measured = measure(
                    name, server, files, args=args, wrk=wrk, wrk_prefix=wrk_prefix, profile=profile
                )
            measured.command = shlex.join(argv_).replace(str(ROOT) + "/", "")
            cpu = measured.load.cpu_percent
            if cpu["others"] >= 15:
                notes.append(f"other processes used {cpu['others']}% of a core: noisy numbers")
            if cpu["wrk"] >= 90:
                notes.append(f"wrk used {cpu['wrk']}% of a core: the load generator may bound it")
            if name == "booking-mock" and measured.load.slots_reused:
                notes.append(
                    f"ran out of free slots: {measured.load.slots_reused} repeated"
                    " (more with --fake-hosts)"
                )
            measured.notes = notes
            results[name] = measured
    summary = report(results, pins is not None)
    if args.profile and "booking-mock" in results and args.profile.exists():
        spots = hot_spots(args.profile)
        print_hot_spots(spots)
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
        "servers": {name: asdict(m) for name, m in results.items()},
        **summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


def interruptible() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt, so every finally stops its server.

    Set explicitly: a shell starts background jobs with SIGINT ignored.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


if __name__ == "__main__":
    interruptible()
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nthroughput: interrupted; every server it started is stopped", file=sys.stderr)
        sys.exit(130)
