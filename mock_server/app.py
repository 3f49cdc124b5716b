"""The Connexion application: the booking API wired to the domain, and the pieces around it."""

from __future__ import annotations

import re
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
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from . import errors
from .booking import BookingService, CaptchaVerifier, IdFactory, default_captcha_verifier
from .clock import Clock
from .dataset import Dataset, load_dataset
from .handlers import BookingHandlers
from .middleware import AccessLog, BodyLimit, BookingGate
from .middleware.body_limit import DEFAULT_MAX_BODY
from .ratelimit import RateLimiter
from .specs import load_spec, openapi_dir, operation_path
from .store import MemoryBookingStore
from .validation import VALIDATOR_MAP


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
    validate_responses: bool = False
    # Embedders can plug a real CAPTCHA verifier (Turnstile, hCaptcha) in here.
    captcha_verifier: CaptchaVerifier = default_captcha_verifier


@dataclass
class MockState:
    """The live objects behind a running app, for tests and the control API."""

    dataset: Dataset
    clock: Clock
    limiter: RateLimiter
    service: BookingService


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def create_app(settings: Settings | None = None) -> AsyncApp:
    """Build the app; a bad dataset or rate limit raises before anything is served."""
    settings = settings or Settings()
    dataset = load_dataset(settings.dataset)
    clock = Clock(settings.clock, frozen=settings.clock_frozen)
    limiter = RateLimiter(settings.rate_limit)
    service = BookingService(
        dataset,
        MemoryBookingStore(),
        clock,
        captcha=settings.captcha_verifier,
        ids=IdFactory(settings.seed),
    )
    handlers = BookingHandlers(service)
    spec = load_spec("booking.yaml")

    middlewares: list[Any] = [
        partial(ServerErrorMiddleware, handler=errors.connexion_handler),
        AccessLog,
        partial(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips),
        partial(
            BookingGate,
            book_path=operation_path(spec, "bookSlot"),
            limiter=limiter,
            service=service,
        ),
        partial(BodyLimit, max_bytes=settings.max_body_bytes),
        ExceptionMiddleware,
        SwaggerUIMiddleware,
        RoutingMiddleware,
        SecurityMiddleware,
        RequestValidationMiddleware,
        ResponseValidationMiddleware,
        LifespanMiddleware,
        ContextMiddleware,
    ]
    app = AsyncApp(
        __name__,
        specification_dir=openapi_dir(),
        middlewares=middlewares,
        validator_map=VALIDATOR_MAP,
        validate_responses=settings.validate_responses,
        pythonic_params=True,
        resolver=Resolver(
            function_resolver=lambda operation_id: getattr(handlers, snake(operation_id))
        ),
    )
    app.add_api(spec, name="booking")
    for exception in errors.HANDLED:
        app.add_error_handler(exception, errors.connexion_handler)
    app.state = MockState(dataset, clock, limiter, service)  # type: ignore[attr-defined]
    return app
