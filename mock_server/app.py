"""The Connexion application: the booking API and the control API wired to the domain."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from connexion import AsyncApp
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver

from . import gc_tuning
from .admin import AdminHandlers
from .dataset import Dataset, load_dataset
from .domain.booking import BookingService, CaptchaVerifier, IdFactory, default_captcha_verifier
from .domain.clock import Clock
from .domain.store import BookingStore
from .errors import InternalError
from .fake import DynamicResponder, fake_hosts
from .http import responses
from .http.access_log import AccessLog
from .http.admin_guard import AdminGuard
from .http.arming import ArmedResponses
from .http.body_limit import DEFAULT_MAX_BODY, BodyLimit
from .http.book import BookOperation, BookSpec, path_pattern
from .http.connection import Connection
from .http.cors import SplitCORS
from .http.dashboard import Dashboard
from .http.exchange import Exchange
from .http.faults import FAULT_KINDS, RandomFaults
from .http.forwarded import ForwardedFor
from .http.header_limit import DEFAULT_MAX_HEADER_BYTES
from .http.journal import DEFAULT_SIZE, Journal
from .http.latency import Latency
from .http.prefer import ForcedResponses
from .http.validation import VALIDATOR_MAP
from .ratelimit import RateLimiter
from .specs import load_spec, openapi_dir
from .storage import open_storage
from .watch import DatasetWatcher

ADMIN_PREFIX = "/__admin"
# Page code on another origin may read these only if they are exposed.
EXPOSED_HEADERS = ["RateLimit", "RateLimit-Policy", "Retry-After"]


@dataclass
class Settings:
    """Everything the server is configured with; the CLI fills it from its flags."""

    dataset: str | Path | None = None
    clock: datetime | None = None
    clock_frozen: bool = False
    rate_limit: str = "15/minute"
    forwarded_allow_ips: list[str] = field(default_factory=list)
    seed: int | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    validate_responses: bool = False
    # Embedders can plug a real CAPTCHA verifier (Turnstile, hCaptcha) in here.
    captcha_verifier: CaptchaVerifier = default_captcha_verifier
    cors_origins: list[str] = field(default_factory=lambda: ["*"])
    latency: tuple[float, float] | None = None  # seconds, low and high
    # --faults: the share of book requests answered with a network fault, of these kinds.
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    fault_duration: str | None = None  # of slow-body and timeout; None is each one's default
    admin_enabled: bool = True
    admin_token: str | None = None
    # Origins whose pages may call /__admin from a browser; none by default.
    admin_cors_origins: list[str] = field(default_factory=list)
    # On loopback, /__admin and the docs answer loopback Host names only, plus these.
    check_host: bool = True
    allowed_hosts: list[str] = field(default_factory=list)
    fake_hosts: int = 0
    watch: bool = False
    journal_size: int = DEFAULT_SIZE
    storage: str = "memory"  # or redis://host:port/db
    # Embedders and tests can plug a booking store of their own in here (the limiter
    # keeps --storage's); None is --storage's store.
    store: BookingStore | None = None
    # The server process (booking-mock) tunes the garbage collector once started
    # (mock_server.gc_tuning); embedders and tests keep their own settings.
    tune_gc: bool = False
    # Set in each of several worker processes (--workers): their booking ids come from
    # streams of their own. With one --seed they would draw the same ids, and every
    # booking of the second worker would collide with one of the first's.
    worker: int | None = None


@dataclass
class MockState:
    """The live objects behind a running app, for embedders and the control API."""

    clock: Clock
    limiter: RateLimiter
    service: BookingService
    journal: Journal
    watcher: DatasetWatcher | None
    armed: ArmedResponses


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resolver_for(handlers: object) -> Resolver:
    return Resolver(function_resolver=lambda operation_id: getattr(handlers, snake(operation_id)))


class BookingHandlers:
    """The booking API for Connexion, which keeps its routes (the docs, 405 with Allow)."""

    @staticmethod
    async def book_slot(**_: Any) -> None:
        """Never called: BookOperation, ahead of Connexion, answers every POST to the path."""
        raise InternalError()


def allowed_methods(specs: dict[str, dict[str, Any]]) -> Callable[[str], str | None]:
    """Path -> the methods the specs document for it, as an Allow value."""
    index = []
    for prefix, spec in specs.items():
        for path, item in spec["paths"].items():
            methods = sorted(m.upper() for m in item if m in _HTTP_METHODS)
            index.append((path_pattern(prefix + path), ", ".join(methods)))

    def lookup(path: str) -> str | None:
        return next((allow for pattern, allow in index if pattern.match(path)), None)

    return lookup


_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def create_app(settings: Settings | None = None) -> AsyncApp:
    """Build the app; a bad dataset or rate limit raises before anything is served."""
    settings = settings or Settings()
    extra_hosts = fake_hosts(settings.fake_hosts, settings.seed) if settings.fake_hosts else None

    def load() -> Dataset:
        return load_dataset(settings.dataset, extra_hosts)

    dataset = load()
    clock = Clock(settings.clock, frozen=settings.clock_frozen)
    storage = open_storage(settings.storage)
    limiter = RateLimiter(settings.rate_limit, storage.rate_limits, storage.pipe)
    service = BookingService(
        dataset,
        settings.store or storage.bookings,
        clock,
        captcha=settings.captcha_verifier,
        ids=IdFactory(
            settings.seed
            if settings.worker is None or settings.seed is None
            else hash((settings.seed, settings.worker))
        ),
    )
    journal = Journal(settings.journal_size)
    watcher = (
        DatasetWatcher(settings.dataset, load, service)
        if settings.watch and settings.dataset
        else None
    )

    # Separate streams, so a latency draw never shifts the next dynamic response.
    def stream(name: str) -> random.Random:
        return random.Random(None if settings.seed is None else f"{name}-{settings.seed}")

    spec = load_spec("booking.yaml")
    book = BookSpec.from_spec(spec)
    forced = ForcedResponses(
        book.responses, DynamicResponder(settings.seed, stream("dynamic"), clock.now)
    )
    armed = ArmedResponses(forced, rng=stream("armed-latency"))
    faults = RandomFaults(
        settings.fault_rate,
        settings.fault_kinds,
        rng=stream("faults"),
        duration=settings.fault_duration,
    )

    middlewares: list[Any] = [
        Connection,
        partial(ForwardedFor, trusted_hosts=settings.forwarded_allow_ips),
        partial(
            SplitCORS,
            admin_prefix=ADMIN_PREFIX,
            origins=settings.cors_origins,
            admin_origins=settings.admin_cors_origins,
            expose_headers=EXPOSED_HEADERS,
        ),
        partial(
            Exchange,
            access_log=AccessLog(),
            max_header_bytes=settings.max_header_bytes,
            journal=journal,
            unjournaled=(ADMIN_PREFIX,),
            latency=Latency(settings.latency, stream("latency")),
        ),
        partial(
            BookOperation,
            spec=book,
            service=service,
            limiter=limiter,
            forced=forced,
            armed=armed,
            faults=faults,
            max_body_bytes=settings.max_body_bytes,
        ),
        # Below the book operation, which never answers under /__admin: a booking does
        # not pay for the control plane's door.
        partial(
            AdminGuard,
            prefix=ADMIN_PREFIX,
            enabled=settings.admin_enabled,
            token=settings.admin_token,
            check_host=settings.check_host,
            allowed_hosts=settings.allowed_hosts,
            admin_origins=settings.admin_cors_origins,
        ),
        partial(Dashboard, prefix=ADMIN_PREFIX, journal=journal),
        partial(BodyLimit, max_bytes=settings.max_body_bytes),
        ExceptionMiddleware,
        SwaggerUIMiddleware,
        RoutingMiddleware,
        # No SecurityMiddleware: the booking API is open and AdminGuard guards /__admin.
        RequestValidationMiddleware,
        ResponseValidationMiddleware,
        LifespanMiddleware,
        ContextMiddleware,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(watcher.run()) if watcher else None
        if settings.tune_gc:
            gc_tuning.tune()
        try:
            yield
        finally:
            if storage.pipe is not None:
                storage.pipe.close()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = AsyncApp(
        __name__,
        specification_dir=openapi_dir(),
        middlewares=middlewares,
        lifespan=lifespan,
        validator_map=VALIDATOR_MAP,
        validate_responses=settings.validate_responses,
        pythonic_params=True,
    )
    app.add_api(spec, name="booking", resolver=resolver_for(BookingHandlers()))
    admin = AdminHandlers(
        service,
        limiter,
        journal,
        settings.clock,
        settings.clock_frozen,
        storage_name=storage.name,
        armed=armed,
    )
    app.add_api(
        load_spec("admin.yaml"),
        name="admin",
        base_path=ADMIN_PREFIX,
        resolver=resolver_for(admin),
    )
    handler = responses.connexion_handler_with_allow(
        allowed_methods({"": spec, ADMIN_PREFIX: load_spec("admin.yaml")})
    )
    for exception in responses.HANDLED:
        app.add_error_handler(exception, handler)
    app.state = MockState(clock, limiter, service, journal, watcher, armed)  # type: ignore[attr-defined]
    return app
