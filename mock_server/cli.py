"""``booking-mock``: serve the reference implementation of the booking API."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from datetime import datetime
from typing import Any

import uvicorn
from limits import parse as parse_rate_limit

from .app import Settings, create_app
from .dataset import DatasetError
from .domain.instants import parse_instant
from .http.faults import FAULT_KINDS, Fault, parse_rate
from .http.latency import parse_latency
from .http.validation import is_rfc3339
from .workers import run_workers


def _instant(text: str) -> datetime:
    if not is_rfc3339(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 instant with an offset, such as 2026-03-13T10:30:00Z"
        )
    return parse_instant(text)


def _rate_limit(text: str) -> str:
    try:
        parse_rate_limit(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate limit such as 15/minute or 15 per 10 seconds"
        ) from None
    return text


def _latency(text: str) -> tuple[float, float]:
    try:
        return parse_latency(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fault_rate(text: str) -> float:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fault_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in text.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"{text!r}: name faults among {', '.join(FAULT_KINDS)}, separated by commas"
        )
    return kinds


def _fault_duration(text: str) -> str:
    try:
        Fault.parse("timeout", text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _storage(text: str) -> str:
    if text == "memory" or text.startswith(("redis://", "rediss://", "unix://")):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not memory or a redis://host:port/db URL")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="booking-mock",
        description="Serve the booking API's reference implementation and mock.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    parser.add_argument(
        "--dataset",
        metavar="FILE",
        help="hosts and event types (YAML or JSON); default: the built-in dataset",
    )
    parser.add_argument(
        "--clock",
        type=_instant,
        metavar="ISO",
        help="start the server's clock at this instant, e.g. 2026-03-13T10:30:00Z",
    )
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="with --clock: keep the clock still instead of running from there",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default="15/minute",
        metavar="SPEC",
        help="per-client limit in the `limits` syntax (default: %(default)s)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        type=_csv,
        default=[],
        metavar="LIST",
        help="comma-separated proxy addresses or networks whose X-Forwarded-For is"
        " trusted, or *; default: none",
    )
    parser.add_argument(
        "--cors-origins",
        type=_csv,
        default=["*"],
        metavar="LIST",
        help="comma-separated origins allowed to call the mock from a browser (default: *)",
    )
    parser.add_argument(
        "--admin-cors-origins",
        type=_csv,
        default=[],
        metavar="LIST",
        help="comma-separated origins whose pages may call /__admin from a browser"
        " (default: none; the mock's own pages are same-origin)",
    )
    parser.add_argument(
        "--allowed-hosts",
        type=_csv,
        default=[],
        metavar="LIST",
        help="on a loopback --host, Host names besides localhost, 127.0.0.1 and [::1] that"
        " /__admin and the docs answer: name, .domain for its subdomains, or *",
    )
    parser.add_argument(
        "--latency",
        type=_latency,
        metavar="DELAY",
        help="delay every response: 200ms, or a range 100ms-500ms",
    )
    parser.add_argument(
        "--faults",
        type=_fault_rate,
        default=0.0,
        metavar="RATE",
        help="answer this share of book requests (5%% or 0.05) with a network fault drawn"
        " from --fault-kinds; repeatable with --seed",
    )
    parser.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        default=FAULT_KINDS,
        metavar="LIST",
        help="the faults --faults draws from (default: all of " + ", ".join(FAULT_KINDS) + ")",
    )
    parser.add_argument(
        "--fault-duration",
        type=_fault_duration,
        metavar="DELAY",
        help="how long --faults' slow-body dribbles and its timeout waits (defaults 2s, 30s)",
    )
    parser.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="require Authorization: Bearer TOKEN on /__admin; needed to enable the control"
        " API on a non-loopback --host",
    )
    parser.add_argument(
        "--fake-hosts",
        type=int,
        default=0,
        metavar="N",
        help="add N Faker-made hosts, each with 15, 30 and 60 minute event types",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="with --dataset: reload the file when it changes, keeping bookings whose event"
        " types still exist",
    )
    parser.add_argument(
        "--storage",
        default="memory",
        metavar="URL",
        type=_storage,
        help="where bookings and rate-limit state live: memory (default) or"
        " redis://host:port/db, shared by several workers or instances",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (needs --storage redis://...)",
    )
    parser.add_argument(
        "--loop",
        default="asyncio",
        choices=["asyncio", "uvloop", "auto"],
        help="the event loop (default: %(default)s). uvloop answers about 2%% more requests a"
        " second when saturated, but leaves some connections waiting: at 200 connections its"
        " p99 was 1.1 s against asyncio's 35 ms (benchmarks/README.md); auto is uvloop when"
        " installed",
    )
    parser.add_argument("--seed", type=int, help="make booking ids and meeting links repeatable")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="(default: %(default)s)",
    )
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Our access log says more than uvicorn's; Connexion logs every 4xx as a warning.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    # Access lines carry their own timestamp and come in batches: print them as they are.
    access = logging.getLogger("mock_server.access")
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.propagate = False


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(
        dataset=args.dataset,
        clock=args.clock,
        clock_frozen=args.freeze,
        rate_limit=args.rate_limit,
        forwarded_allow_ips=args.forwarded_allow_ips,
        seed=args.seed,
        cors_origins=args.cors_origins,
        latency=args.latency,
        fault_rate=args.faults,
        fault_kinds=args.fault_kinds,
        fault_duration=args.fault_duration,
        admin_enabled=is_loopback(args.host) or bool(args.admin_token),
        admin_token=args.admin_token,
        admin_cors_origins=args.admin_cors_origins,
        check_host=is_loopback(args.host),
        allowed_hosts=args.allowed_hosts,
        fake_hosts=args.fake_hosts,
        watch=args.watch,
        storage=args.storage,
        tune_gc=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.watch and not args.dataset:
        parser.error("--watch needs --dataset FILE")
    if args.fake_hosts < 0:
        parser.error("--fake-hosts must be 0 or more")
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    if args.workers > 1 and args.storage == "memory":
        parser.error(
            "--workers above 1 needs --storage redis://...: with memory storage each worker"
            " would keep its own bookings and rate-limit counters, so a slot could be booked"
            " twice and a client would get 15 requests per worker"
        )
    if args.workers > 1 and args.watch:
        parser.error("--watch works with one worker only")
    _configure_logging(args.log_level)
    try:
        settings = settings_from_args(args)
        app = create_app(settings)
    except DatasetError as exc:
        print(f"booking-mock: bad dataset: {exc}", file=sys.stderr)
        return 2
    admin = "off (non-loopback address; see --admin-token)"
    if settings.admin_enabled:
        admin = f"http://{args.host}:{args.port}/__admin/ui/"
        admin += f"  dashboard: http://{args.host}:{args.port}/__admin/"
        admin += " (bearer token)" if settings.admin_token else ""
    clock = args.clock.strftime("%Y-%m-%dT%H:%M:%SZ") if args.clock else "real time"
    if args.clock and args.freeze:
        clock += ", frozen"
    print(
        f"booking-mock: http://{args.host}:{args.port}  dataset: {args.dataset or 'default'}"
        f"  clock: {clock}  rate limit: {args.rate_limit} per client"
        f"  storage: {args.storage}  workers: {args.workers}  loop: {args.loop}"
        f"  docs: http://{args.host}:{args.port}/ui/"
        f"  control API: {admin}",
        file=sys.stderr,
        flush=True,
    )
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": False,
        "proxy_headers": False,  # the app applies --forwarded-allow-ips itself
        "server_header": False,
        "loop": args.loop,
        # An open journal stream (the dashboard) would hold Ctrl-C for minutes otherwise.
        "timeout_graceful_shutdown": 3,
    }
    if args.workers > 1:
        # Workers are new processes: they rebuild the app from the same arguments.
        os.environ[ARGS_ENV] = json.dumps(sys.argv[1:] if argv is None else argv)
        config = uvicorn.Config(
            "mock_server.cli:app_from_environment", factory=True, workers=args.workers, **options
        )
        run_workers(config)
    else:
        uvicorn.run(app, **options)
    return 0


ARGS_ENV = "BOOKING_MOCK_ARGS"


def app_from_environment() -> Any:
    """The app of a worker process, from the arguments the parent was given."""
    args = build_parser().parse_args(json.loads(os.environ[ARGS_ENV]))
    _configure_logging(args.log_level)
    settings = settings_from_args(args)
    settings.worker = os.getpid()
    return create_app(settings)
