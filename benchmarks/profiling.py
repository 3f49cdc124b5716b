"""py-spy recording a running server, and the hot spots of what it recorded."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness import ROOT, beside_python


@contextlib.contextmanager
def profiled(pid: int, seconds: float, out: Path, prefix: Sequence[str]) -> Iterator[None]:
    """py-spy samples pid's Python stacks into out, as collapsed stacks, for seconds.

    On leaving, it waits for py-spy to write out (30 s at most past seconds).
    """
    spy = beside_python("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    argv = [*prefix, spy, "record", "--pid", str(pid), "--duration", str(round(seconds))]
    # Only stacks holding the GIL: the CPU the server spends in Python, not idle threads.
    argv += ["--rate", "100", "--gil", "--format", "raw", "--output", str(out)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
        process.wait(timeout=seconds + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


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


def print_hot_spots(spots: dict[str, Any], server: str = "booking-mock") -> None:
    print(f"\n{server} profile: {spots['samples']} samples of stacks holding the GIL")
    for kind in ("inclusive", "self"):
        scope = " (below the entry chain on every stack)" if kind == "inclusive" else ""
        print(f"  top {len(spots[kind])} by {kind} time{scope}:")
        for name, share in spots[kind]:
            print(f"    {share:5.1f}%  {name}")
