"""What one Redis command costs a booking-mock worker: redis-py's client against the pipe.

    .venv/bin/python benchmarks/redis_client.py [--commands 20000] [--callers 50]

Starts a redis-server on a free 127.0.0.1 port (no persistence) and, in one process
pinned to one core, has ``--callers`` concurrent tasks run ``--commands`` EVALSHAs of a
small script in all, as a worker's requests do: first through redis-py's asyncio client
on the pool booking-mock gave it before (``redis_store.waiting_pool``), then through
``mock_server.redis_pipe.RedisPipe``, booking-mock's connection since. It prints the CPU
time per command of each, their ratio and the commands per second, alternating the two
``--rounds`` times. Issue 16's goal 4 is what this cost decides: two workers on Redis at
least as fast as one in memory (``scale_out.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' siblings, not a package
import harness

SCRIPT = "return redis.call('INCR', KEYS[1])"


async def measure(call: Callable[[], Awaitable[Any]], commands: int, callers: int) -> dict:
    """CPU microseconds per command and commands per second, ``callers`` at once."""

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    await call()  # connected, script loaded
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller(commands // callers) for _ in range(callers)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = commands // callers * callers
    return {"cpu_us": cpu / done * 1e6, "per_s": done / wall}


async def redis_py(url: str, commands: int, callers: int) -> dict:
    import redis.asyncio as redis

    from mock_server.redis_store import waiting_pool

    client = redis.Redis(connection_pool=waiting_pool(url))
    script = client.register_script(SCRIPT)
    try:
        return await measure(lambda: script(keys=["k"], args=[1, 2, 3]), commands, callers)
    finally:
        await client.aclose()


async def pipe(url: str, commands: int, callers: int) -> dict:
    from mock_server.redis_pipe import RedisPipe, Script

    connection, script = RedisPipe(url), Script(SCRIPT)
    try:
        return await measure(
            lambda: connection.evalsha(script, ["k"], [1, 2, 3]), commands, callers
        )
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20000, help="commands per measurement")
    parser.add_argument("--callers", type=int, default=50, help="concurrent tasks")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two")
    parser.add_argument("--out", type=Path, default=harness.HERE / "redis_client.json")
    args = parser.parse_args(argv)
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {0})  # the client on one core, Redis free to use another
        print("client pinned to CPU 0", flush=True)
    version = harness.code_version()
    print(f"code: {version}", flush=True)
    results: dict[str, list[dict]] = {"redis-py": [], "pipe": []}
    with tempfile.TemporaryDirectory(prefix="redis-client-") as tmp:
        port = harness.free_port()
        argv_ = [redis_server, "--port", str(port), "--bind", "127.0.0.1"]
        argv_ += ["--save", "", "--appendonly", "no"]
        with harness.running("redis", argv_, port, Path(tmp), 30):
            url = f"redis://127.0.0.1:{port}/0"
            for round_ in range(1, args.rounds + 1):
                for name, run in (("redis-py", redis_py), ("pipe", pipe)):
                    result = asyncio.run(run(url, args.commands, args.callers))
                    results[name].append(result)
                    print(
                        f"round {round_}  {name:9} {result['cpu_us']:6.1f} us CPU a command"
                        f"  {result['per_s']:9,.0f} commands/s",
                        flush=True,
                    )
    median = {name: statistics.median(r["cpu_us"] for r in runs) for name, runs in results.items()}
    ratio = median["redis-py"] / median["pipe"]
    print(
        f"\nmedian CPU a command: redis-py {median['redis-py']:.1f} us, pipe {median['pipe']:.1f}"
        f" us: the pipe costs 1/{ratio:.1f} of redis-py ({args.callers} callers)"
    )
    harness.write_json(
        args.out,
        {"code": version, "settings": vars(args) | {"out": str(args.out)}, "runs": results},
    )
    return 0


if __name__ == "__main__":
    harness.run_script(main, "redis_client", "the redis-server it started is stopped")
