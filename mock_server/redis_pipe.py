"""One connection to Redis per process, shared by every request, pipelined automatically.

A booking on Redis is two commands (the limiter's scripts, then ``ADD_IF_FREE``). Through
redis-py's asyncio client each command cost the worker about 40 us of CPU (a connection
taken from the pool and given back, the command packed, a write, a read awaited;
``benchmarks/redis_client.py``, 50 concurrent callers; valkey-glide, tried once the same
way, about 34 us). That was most of what a Redis booking cost over a memory one, and
made two workers on Redis slower than one in memory (``benchmarks/scale_out.py``).

Here every command given during one turn of the event loop goes out in one write on one
connection, and the replies, which Redis sends in the same order, are handed back as they
are read: about 3 us a command, the same way. hiredis packs the
commands and parses the replies; redis-py parses the URL and builds the TLS context.

- Every command is answered within the storage deadline, or fails with redis-py's
  ``TimeoutError``: a connection that has left its oldest command unanswered that long
  (a Redis stopped or hung) is given up, with every command waiting on it. One timer a
  connection keeps that deadline, not one a command. The next command opens a new one;
  connecting, and a command sent again, stay within the first attempt's deadline.
- A connection that is lost fails the commands waiting on it. Those it never wrote are
  sent again on a new one; those Redis may have run, only when the caller says they bear
  running twice (``RedisPipe.call``).
- An error reply raises redis-py's exception for it (``NoScriptError``, ``ResponseError``).
- Scripts are run by their SHA and loaded on NOSCRIPT (a Redis restarted or flushed).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import hiredis
from redis.asyncio.connection import RedisSSLContext, SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import STORAGE_DEADLINE

Arg = bytes | str | int | float
T = TypeVar("T")


class Script:
    """A Lua script run with EVALSHA, its SHA1 computed once."""

    def __init__(self, text: str | bytes) -> None:
        self.text = text.encode() if isinstance(text, str) else text
        self.sha = hashlib.sha1(self.text).hexdigest()


class NotSent(RedisConnectionError):
    """The connection was gone before the command was written: Redis never saw it, and it
    is always safe to send again."""


def error_for(reply: hiredis.ReplyError) -> ResponseError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class _Connection(asyncio.Protocol):
    """One socket to Redis: commands queued during a turn of the loop, one write for them,
    each reply to the oldest waiting caller."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reader = hiredis.Reader()
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.outgoing: list[bytes] = []
        self.closed = False
        self.watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise NotSent("the connection to Redis is closed")
        future = self.loop.create_future()
        now = self.loop.time()
        self.waiting.append((future, now))
        if self.watch is None:
            self.watch = self.loop.call_at(now + STORAGE_DEADLINE, self._check)
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(packed)
        return future

    def _flush(self) -> None:
        if self.closed or self.transport is None:
            return
        data = b"".join(self.outgoing) if len(self.outgoing) > 1 else self.outgoing[0]
        self.outgoing.clear()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError:
                self.abort()
                return
            if reply is False:
                return
            if not waiting:  # a reply nobody asked for: the stream is not to be trusted
                self.abort()
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller gave up (the storage deadline)
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(error_for(reply))
            else:
                future.set_result(reply)

    def _check(self) -> None:
        """The storage deadline, one timer a connection: a connection that has left its
        oldest command unanswered that long is given up, failing every waiting command
        (Redis stopped, or hung); otherwise the next check is when the oldest is due."""
        self.watch = None
        if self.closed or not self.waiting:
            return
        due = self.waiting[0][1] + STORAGE_DEADLINE
        if self.loop.time() < due:
            self.watch = self.loop.call_at(due, self._check)
            return
        self.closed = True
        error = RedisTimeoutError(f"Redis did not answer within {STORAGE_DEADLINE:g} s")
        self._fail_waiting(error)
        self.abort()

    def abort(self) -> None:
        self.closed = True  # nothing more is written to it
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows, and fails the waiting
        else:
            self.connection_lost(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None
        # The last commands waiting are those never written (one write a loop turn).
        unsent = len(self.outgoing)
        self.outgoing.clear()
        reason = f"the connection to Redis was lost: {exc or 'closed'}"
        self._fail_waiting(RedisConnectionError(reason), keep=unsent)
        self._fail_waiting(NotSent(reason))

    def _fail_waiting(self, error: Exception, keep: int = 0) -> None:
        """Fails the waiting commands, oldest first, all but the newest ``keep``."""
        while len(self.waiting) > keep:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: a caller that gave up logs no warning


async def _replies(futures: list[asyncio.Future[Any]]) -> list[Any]:
    """Each future's result or error reply. A lost connection is raised: ``NotSent`` when
    none of the lost commands had been written. A caller that stops waiting (cancelled, a
    timeout) cancels the rest, whose replies are then skipped in their turn."""
    out: list[Any] = []
    lost: RedisConnectionError | None = None
    try:
        for future in futures:
            try:
                out.append(await future)
            except RedisConnectionError as exc:
                if lost is None or isinstance(lost, NotSent):
                    lost = exc
            except ResponseError as exc:
                out.append(exc)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    if lost is not None:
        raise lost
    return out


class RedisPipe:
    """Commands to the Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``, with
    its user, password and database), over one connection opened when first needed."""

    def __init__(self, url: str) -> None:
        params = parse_url(url)
        self.path: str | None = params.get("path")
        self.host: str = params.get("host", "localhost")
        self.port: int = int(params.get("port", 6379))
        self.db = int(params.get("db", 0))
        self.username: str | None = params.get("username")
        self.password: str | None = params.get("password")
        self.ssl: Any = None
        if params.get("connection_class") is SSLConnection:
            # redis-py's defaults for rediss://: the certificate and host name checked.
            options = {"cert_reqs": "required", "check_hostname": True}
            options.update((k[4:], v) for k, v in params.items() if k.startswith("ssl_"))
            self.ssl = RedisSSLContext(**options).get()
        self._connection: _Connection | None = None
        self._opening: asyncio.Task[_Connection] | None = None

    async def call(self, *args: Arg, retry: bool = False) -> Any:
        """One command's reply, within the storage deadline (redis-py's ``TimeoutError``,
        or the builtin one while connecting); a connection error is redis-py's
        ``ConnectionError``.

        A command the connection was lost before writing is sent again on a new one. One
        it had written, which Redis may have run, is sent again only with ``retry``: for
        commands that bear running twice (reads, and ``ADD_IF_FREE``, which names its
        attempt), as redis-py's retry did for all.
        """
        packed = hiredis.pack_command(args)
        return await self._send(lambda c: c.send(packed), retry)

    async def calls(self, *commands: Sequence[Arg], retry: bool = False) -> list[Any]:
        """Several commands written together, in order (Redis runs them back to back):
        each one's reply, or the error reply it met (``ResponseError``,
        ``NoScriptError``), in a list. Lost, they are sent again as ``call`` sends one."""
        packed = [hiredis.pack_command(tuple(command)) for command in commands]
        return await self._send(lambda c: _replies([c.send(p) for p in packed]), retry)

    async def _send(self, send: Callable[[_Connection], Awaitable[T]], retry: bool) -> T:
        """``send`` on the open connection, whose timer bounds it; on a new one when
        there is none, or when it was lost (``_again``)."""
        connection = self._usable_now()
        written = False
        if connection is not None:
            started = connection.loop.time()
            try:
                return await send(connection)
            except NotSent:
                pass
            except RedisConnectionError:
                if not retry:
                    raise
                written = True
        else:
            started = asyncio.get_running_loop().time()
        return await self._again(send, started, retry, written)

    async def _again(
        self,
        send: Callable[[_Connection], Awaitable[T]],
        started: float,
        retry: bool,
        written: bool,
    ) -> T:
        """``send`` on a connection opened for it, or again after a lost one: all of it
        within the deadline of the first attempt, begun at ``started``; what was written
        once is sent once more only with ``retry``."""
        async with asyncio.timeout_at(started + STORAGE_DEADLINE):
            while True:
                try:
                    return await send(await self._usable())
                except NotSent:
                    continue
                except RedisConnectionError:
                    if not retry or written:
                        raise
                    written = True

    async def evalsha(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg], *, retry: bool = False
    ) -> Any:
        """The script's reply, loading it first when Redis does not have it."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self.call(*command, retry=retry)
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", script.text, retry=True)
            return await self.call(*command, retry=retry)

    def _usable_now(self) -> _Connection | None:
        """The open connection, if there is one on the running loop. A connection of
        another loop (an app driven by several loops in turn, as a test client may) is
        left to that loop, and this one opens its own."""
        connection = self._connection
        if connection is None or connection.closed:
            return None
        if connection.loop is not asyncio.get_running_loop():
            self._connection = self._opening = None
            return None
        return connection

    async def _usable(self) -> _Connection:
        """The open connection, else a new one."""
        connection = self._usable_now()
        if connection is not None:
            return connection
        if self._opening is None:
            # One attempt for every caller that needs the connection meanwhile; shielded,
            # so one caller's deadline does not cancel it for the others.
            self._opening = asyncio.ensure_future(self._open())
            self._opening.add_done_callback(self._opened)
        return await asyncio.shield(self._opening)

    def _opened(self, task: asyncio.Task[_Connection]) -> None:
        self._opening = None
        if not task.cancelled() and task.exception() is None:
            self._connection = task.result()

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(STORAGE_DEADLINE):
                if self.path is not None:
                    _, connection = await loop.create_unix_connection(
                        lambda: _Connection(loop), self.path
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(loop), self.host, self.port, ssl=self.ssl
                    )
                try:
                    if self.password is not None:
                        user = (self.username,) if self.username else ()
                        await connection.send(hiredis.pack_command(("AUTH", *user, self.password)))
                    if self.db:
                        await connection.send(hiredis.pack_command(("SELECT", self.db)))
                except BaseException:
                    connection.abort()
                    raise
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
        return connection

    def close(self) -> None:
        """Closes the connection; the next command opens another. A connection whose
        loop is already closed went with it."""
        connection, self._connection = self._connection, None
        if connection is not None and not connection.loop.is_closed():
            connection.abort()
