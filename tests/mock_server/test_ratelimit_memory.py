"""The in-memory limiter stays exact and bounded with many clients."""

from __future__ import annotations

import asyncio

from mock_server.ratelimit import RateLimiter


def test_quiet_clients_expire_and_memory_stays_bounded():
    async def run() -> tuple[int, int]:
        limiter = RateLimiter("5/1 second")
        for i in range(5000):
            await limiter.hit(f"10.0.{i // 250}.{i % 250}")
        before = limiter.storage.clients
        await asyncio.sleep(1.2)
        await limiter.hit("192.0.2.1")  # any request schedules the next sweep
        await asyncio.sleep(0.05)
        return before, limiter.storage.clients

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


def test_the_memory_limiter_gives_limits_own_verdicts():
    """The compact windows against limits' stock MemoryStorage, request for request."""
    import random

    from limits.aio.storage import MemoryStorage

    async def run() -> None:
        ours, stock = RateLimiter("4/1 second"), RateLimiter("4/1 second", MemoryStorage())
        rng = random.Random(3)
        for step in range(400):
            client = f"10.0.0.{rng.randrange(6)}"
            a, b = await ours.hit(client), await stock.hit(client)
            assert (a.allowed, a.remaining) == (b.allowed, b.remaining), (step, client)
            peeked = await ours.peek(client), await stock.peek(client)
            assert peeked[0].remaining == peeked[1].remaining
            if step % 50 == 49:
                await asyncio.sleep(0.3)  # windows slide: some entries fall out

    asyncio.run(run())


def test_clients_seen_add_no_object_the_garbage_collector_walks():
    """However many clients the limiter has seen, a collection walks the same objects."""
    import gc

    async def run() -> int:
        limiter = RateLimiter("15/minute")
        await limiter.hit("192.0.2.1")
        gc.collect()
        before = len(gc.get_objects())
        for i in range(5000):
            await limiter.hit(f"10.1.{i // 250}.{i % 250}")
        gc.collect()
        return len(gc.get_objects()) - before

    assert asyncio.run(run()) < 30
