"""How long booking-mock takes to serve, against a bare Starlette floor, in one run.

    .venv/bin/python benchmarks/startup.py [--runs 7] [--out benchmarks/startup.json]

Each run starts the server on a free 127.0.0.1 port and times, from the moment the
process is started, the first answer: a 200 from booking-mock's ``/__admin/health``, and
any HTTP answer from the floor (benchmarks/throughput.py's bare Starlette app on the
same uvicorn). Runs alternate between the two, so both see the same machine. The goal
(issue 16) is booking-mock ready in under 1.0 s; the floor says how much of that any
Python server on this stack pays anyway.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness

GOAL_S = 1.0
THROUGHPUT = Path(__file__).resolve().parent / "throughput.py"


def answered(url: str, want_ok: bool) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200 or not want_ok
    except urllib.error.HTTPError:
        return not want_ok  # an HTTP answer, just not a 200
    except OSError:
        return False


def time_to_answer(name: str, argv: list[str], url: str, want_ok: bool, work: Path) -> float:
    """Seconds from starting the process to its first answer; the server is stopped."""
    started = time.perf_counter()
    server = harness.Server(name, argv, int(url.rsplit(":", 1)[1].split("/")[0]), work)
    try:
        deadline = started + 60
        while not answered(url, want_ok):
            if server.process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{server.log_tail()}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{name} did not answer within 60 s:\n{server.log_tail()}")
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="starts of each server")
    parser.add_argument("--out", type=Path, default=harness.HERE / "startup.json")
    args = parser.parse_args(argv)
    print(f"code: {harness.code_version()}")
    times: dict[str, list[float]] = {"booking-mock": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        for run in range(args.runs):
            for name in times:
                port = harness.free_port()
                if name == "booking-mock":
                    command = [harness.booking_mock(), "--port", str(port)]
                    url, want_ok = f"http://127.0.0.1:{port}/__admin/health", True
                else:
                    command = [sys.executable, str(THROUGHPUT), "--serve-floor", str(port)]
                    url, want_ok = f"http://127.0.0.1:{port}/", False
                seconds = time_to_answer(name, command, url, want_ok, Path(tmp))
                times[name].append(seconds)
                print(f"   run {run + 1}: {name:<13} first answer after {seconds:.3f} s")
    summary = {
        name: {
            "median_s": round(statistics.median(values), 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
        }
        for name, values in times.items()
    }
    mock, floor = summary["booking-mock"], summary["floor"]
    ratio = round(mock["median_s"] / floor["median_s"], 2)
    print(f"\n{'server':<14}{'median s':>10}{'min s':>8}{'max s':>8}")
    for name, row in summary.items():
        print(f"{name:<14}{row['median_s']:>10.3f}{row['min_s']:>8.3f}{row['max_s']:>8.3f}")
    print(f"booking-mock/floor   median x{ratio}")
    met = mock["max_s"] < GOAL_S
    verdict = "MET" if met else "NOT MET"
    print(f"goal (booking-mock ready in under {GOAL_S:g} s, every run): {verdict}")
    harness.write_json(
        args.out,
        {"runs": args.runs, "times_s": times, "summary": summary, "ratio": ratio, "met": met},
    )
    return 0


if __name__ == "__main__":
    harness.run_script(main, "startup", "every server it started is stopped")
