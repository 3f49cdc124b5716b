"""The in-memory limiter stays exact and bounded with many clients."""

from __future__ import annotations

import asyncio

from mock_server.ratelimit import RateLimiter


def test_quiet_clients_expire_and_memory_stays_bounded():
    async def run() -> tuple[int, int]:
        limiter = RateLimiter("5/1 second")
        for i in range(5000):
            await limiter.hit(f"10.0.{i // 250}.{i % 250}")
        before = len(limiter.storage.events)
        await asyncio.sleep(1.2)
        await limiter.hit("192.0.2.1")  # any request schedules the next sweep
        await asyncio.sleep(0.05)
        return before, len(limiter.storage.events)

    before, after = asyncio.run(run())
    assert before == 5000
    assert after <= 1


def test_sweeping_keeps_live_entries():
    async def run() -> list[bool]:
        limiter = RateLimiter("3/minute")
        verdicts = [(await limiter.hit("a")).allowed for _ in range(3)]
        await limiter.storage.sweep()
        verdicts.append((await limiter.hit("a")).allowed)
        return verdicts

    assert asyncio.run(run()) == [True, True, True, False]
