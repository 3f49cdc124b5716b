"""``booking-contract watch``: a proxy in front of any server that judges the traffic through it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..profile import ProfileError, load_profile, parse_rate_limit
from ..step_summary import append_step_summary
from .proxy import WatchingProxy
from .session import WatchSession


class _Server(uvicorn.Server):
    """uvicorn's server, except that Ctrl-C ends the watch with its verdict: uvicorn
    itself re-raises the signal once it has stopped, which would end the process first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="booking-contract watch",
        description="A reverse proxy that forwards everything to --upstream unchanged and judges"
        " each book request through it against the contract: the answer's shape, the rate"
        " limit per client, Retry-After and its retry, no double booking. A violation is"
        " printed as it happens; the verdict comes on Ctrl-C or after --duration, with exit"
        " code 1 on any violation.",
    )
    parser.add_argument("--upstream", required=True, metavar="URL", help="the server to judge")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="what the server holds and its rate limit (YAML); default: booking-mock's dataset",
    )
    parser.add_argument(
        "--rate-limit", metavar="SPEC", help="override the profile's limit, e.g. '15/minute'"
    )
    parser.add_argument(
        "--trusts-forwarded-for",
        action="store_true",
        help="the upstream trusts X-Forwarded-For from this proxy: name each client in it, so"
        " the upstream counts them apart (default: the profile's trustsForwardedFor)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        type=_csv,
        default=[],
        metavar="LIST",
        help="peers in front of the proxy (a load balancer) whose X-Forwarded-For names the client",
    )
    parser.add_argument(
        "--duration", type=float, metavar="S", help="stop after S seconds (default: Ctrl-C)"
    )
    parser.add_argument("--report", metavar="FILE", help="write the verdict as JSON to FILE")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML to FILE")
    return parser


async def watch(args: argparse.Namespace, **config: Any) -> int:
    profile = load_profile(args.profile)
    if args.rate_limit:
        limit, window = parse_rate_limit(args.rate_limit)
        profile = profile.with_rate_limit(limit, window)
    session = WatchSession(profile)
    forward_for = args.trusts_forwarded_for or profile.rate_limit.trusts_forwarded_for
    proxy = WatchingProxy(args.upstream, on_exchange=session.observe, forward_for=forward_for)
    app: Any = proxy
    if args.forwarded_allow_ips:
        app = ProxyHeadersMiddleware(proxy, trusted_hosts=args.forwarded_allow_ips)
    server = _Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # --forwarded-allow-ips is applied above, or not at all
            lifespan="on",
            timeout_graceful_shutdown=5,
            # The upstream's Date and Server pass through; the proxy adds neither.
            server_header=False,
            date_header=False,
            **config,
        )
    )
    print(
        f"booking-contract watch: http://{args.host}:{args.port} -> {proxy.upstream}"
        f"  rate limit: {profile.rate_limit}  clients told apart {proxy.identity()}",
        file=sys.stderr,
        flush=True,
    )
    if args.duration is not None:
        asyncio.get_running_loop().call_later(args.duration, setattr, server, "should_exit", True)
    await server.serve()
    session.verdict(complete=proxy.in_flight == 0)
    print(session.summary(), flush=True)
    append_step_summary(session.markdown())
    if args.report:
        Path(args.report).write_text(json.dumps(session.to_dict(), indent=2), encoding="utf-8")
    if args.junit:
        Path(args.junit).write_bytes(session.junit())
    return 0 if session.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        load_profile(args.profile)
        if args.rate_limit:
            parse_rate_limit(args.rate_limit)
        WatchingProxy(args.upstream, on_exchange=lambda _: None)
    except (ProfileError, ValueError) as exc:
        print(f"booking-contract watch: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(watch(args))
