"""The load tests' options: the profile, its rate limit, and how to simulate clients.

Kept apart from the Locust wiring so they can be read (and tested) without
importing Locust, which patches the standard library for gevent when imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract_tests import Profile, load_profile, parse_rate_limit

from .clients import ClientMode, Forgery, forgeries


@dataclass(frozen=True)
class Settings:
    """What a run is configured with: the profile and the custom arguments."""

    profile: Profile
    limit: int
    window: float
    mode: ClientMode
    clients: int
    probes: int
    probe_pace: float
    verdict_json: str | None
    verdict_html: str | None = None
    verdict_junit: str | None = None
    forging_probes: int = 1
    # The forging probes that apply to this target and mode (see clients.forgeries).
    forgeries: tuple[Forgery, ...] = ()


def add_arguments(parser: Any) -> None:
    """Locust's ``init_command_line_parser``: the load tests' own options."""
    group = parser.add_argument_group("booking load tests")
    group.add_argument(
        "--target-profile",
        default="",
        help="the target's profile (the contract suite's YAML format); default: the profile"
        " of booking-mock's default dataset",
    )
    group.add_argument(
        "--rate-limit",
        default="",
        help="override the profile's limit, e.g. '5/2 seconds' or '15/minute'",
    )
    group.add_argument(
        "--client-mode",
        default="auto",
        choices=["auto", *(m.value for m in ClientMode)],
        help="how to be many clients: xff (X-Forwarded-For; the target must trust this"
        " machine as a proxy), source (bind 127.0.0.2, 127.0.0.3, ...: local targets), single"
        " (this machine is one client); auto: xff when the profile says the target trusts"
        " X-Forwarded-For, else single",
    )
    group.add_argument(
        "--clients",
        type=int,
        default=0,
        help="number of simulated clients users are spread over; 0: one per user",
    )
    group.add_argument(
        "--probes",
        type=int,
        default=2,
        help="rate-limit probe users among the users (each one client); the rest book",
    )
    group.add_argument(
        "--probe-pace",
        type=float,
        default=2.0,
        help="how many times the limit's rate a probe sends at (default: %(default)s)",
    )
    group.add_argument(
        "--forging-probes",
        type=int,
        default=1,
        help="probes of each kind that forge X-Forwarded-For, where it applies: a hop"
        " ahead of their own through the trusted proxy (xff mode), and, on a 127.x target,"
        " any X-Forwarded-For from a loopback address the profile does not list as trusted;"
        " 0: none (default: %(default)s)",
    )
    group.add_argument(
        "--verdict-json",
        default="",
        help="also write the verifier's verdict to this JSON file",
    )
    group.add_argument(
        "--verdict-html",
        default="",
        help="also write the verdict as one self-contained HTML page with a timeline chart"
        " per client (the 12 most interesting: violations first, then the busiest)",
    )
    group.add_argument(
        "--verdict-junit",
        default="",
        help="also write the verdict as JUnit XML: one test case per violation class",
    )


def settings_from(options: Any) -> Settings:
    profile = load_profile(getattr(options, "target_profile", "") or None)
    limit, window = profile.rate_limit.limit, profile.rate_limit.window
    if getattr(options, "rate_limit", ""):
        limit, window = parse_rate_limit(options.rate_limit)
    mode_name = getattr(options, "client_mode", "auto") or "auto"
    if mode_name == "auto":
        mode = ClientMode.XFF if profile.rate_limit.trusts_forwarded_for else ClientMode.SINGLE
    else:
        mode = ClientMode(mode_name)
    forging = max(0, int(getattr(options, "forging_probes", 1)))
    host = getattr(options, "host", "") or ""
    applicable = forgeries(mode, host, profile.rate_limit.trusted_proxies) if forging else []
    return Settings(
        profile=profile,
        limit=limit,
        window=float(window),
        mode=mode,
        clients=max(0, int(getattr(options, "clients", 0) or 0)),
        probes=max(0, int(getattr(options, "probes", 2))),
        probe_pace=float(getattr(options, "probe_pace", 2.0) or 2.0),
        verdict_json=getattr(options, "verdict_json", "") or None,
        verdict_html=getattr(options, "verdict_html", "") or None,
        verdict_junit=getattr(options, "verdict_junit", "") or None,
        forging_probes=forging,
        forgeries=tuple(applicable),
    )
