"""``booking-contract``: run the installed contract suite against a base URL, exit 0 or 1."""

from __future__ import annotations

import argparse
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import NoReturn

from .profile import ProfileError, load_profile, parse_rate_limit

PACKAGE_DIR = Path(__file__).resolve().parent
# What the [contract] extra installs; the mock alone does not need them.
EXTRA = ("pytest", "schemathesis", "httpx")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # CI reads the exit code as pass/fail: a bad command line is a failed run.
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="booking-contract",
        description="Judge a booking API server against the contract: the OpenAPI document,"
        " the behaviour rules and the rate limit. Exit code 0 when it keeps the contract,"
        " 1 otherwise.",
        epilog="Arguments after -- go to pytest as they are (e.g. -- -x -v)."
        " `booking-contract watch --upstream URL` judges live traffic instead (see its --help).",
    )
    parser.add_argument("--base-url", required=True, metavar="URL", help="the server to judge")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="what the server holds (YAML); default: booking-mock's default dataset",
    )
    parser.add_argument(
        "--junit", metavar="FILE", help="write a JUnit XML report to FILE, a class per rule group"
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write the run's report to FILE: one self-contained HTML page, each failure with"
        " its exchanges and curl lines",
    )
    parser.add_argument("-k", metavar="EXPR", help="run only the tests matching EXPR (pytest -k)")
    parser.add_argument(
        "--rate-limit",
        metavar="SPEC",
        help="override the profile's rate limit, e.g. '15/minute' or '15/10 seconds'",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--trusts-forwarded-for",
        dest="trusts",
        action="store_const",
        const=True,
        help="the server trusts X-Forwarded-For from this machine: act as many clients",
    )
    trust.add_argument(
        "--no-trusts-forwarded-for",
        dest="trusts",
        action="store_const",
        const=False,
        help="the server does not trust X-Forwarded-For from this machine",
    )
    sharing = parser.add_mutually_exclusive_group()
    sharing.add_argument(
        "--dedicated-target",
        dest="dedicated",
        action="store_const",
        const=True,
        help="only this run books on the server (default for a loopback URL)",
    )
    sharing.add_argument(
        "--shared-target",
        dest="dedicated",
        action="store_const",
        const=False,
        help="others book on the server too, e.g. staging (default for other URLs)",
    )
    control = parser.add_mutually_exclusive_group()
    control.add_argument(
        "--control-api",
        dest="control_api",
        action="store_const",
        const=True,
        help="the server offers booking-mock's control API: pin its clock for the time rules"
        " (default: detected)",
    )
    control.add_argument(
        "--no-control-api",
        dest="control_api",
        action="store_const",
        const=False,
        help="judge on the server's real clock only",
    )
    parser.add_argument(
        "--no-source-addresses",
        dest="source_addresses",
        action="store_false",
        default=True,
        help="on loopback, do not act as other clients by source address (behind Docker's"
        " published ports every address looks the same to the server)",
    )
    parser.add_argument(
        "--fuzz-examples", type=int, metavar="N", help="override the profile's fuzzing budget"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="one line per failure; still a line per rule group and per long wait",
    )
    parser.add_argument("pytest_args", nargs="*", help=argparse.SUPPRESS)
    return parser


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line the options stand for."""
    out = [str(PACKAGE_DIR), "-p", "contract_tests.plugin", "--contract-base-url", args.base_url]
    if args.profile:
        out += ["--contract-profile", args.profile]
    if args.rate_limit:
        out += ["--contract-rate-limit", args.rate_limit]
    if args.trusts is True:
        out.append("--trusts-forwarded-for")
    elif args.trusts is False:
        out.append("--no-trusts-forwarded-for")
    if args.dedicated is not None:
        out.append("--dedicated-target" if args.dedicated else "--shared-target")
    if args.control_api is not None:
        out.append("--control-api" if args.control_api else "--no-control-api")
    if not args.source_addresses:
        out.append("--no-source-addresses")
    if args.fuzz_examples is not None:
        out += ["--fuzz-examples", str(args.fuzz_examples)]
    if args.junit:
        out += ["--junitxml", args.junit]
    if args.html:
        out += ["--contract-html", args.html]
    if args.k:
        out += ["-k", args.k]
    out.append("-q" if args.quiet else "-v")
    # This process imported the package before pytest could mark it for assertion
    # rewriting; the tests' own modules are still rewritten.
    out += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return out + list(args.pytest_args)


def _missing_message(missing: list[str]) -> str:
    return (
        f"booking-contract: {', '.join(missing)} not installed; install"
        " booking-api-toolkit[contract] (pip install 'booking-api-toolkit[contract]',"
        " or pip install '.[contract]' in a checkout)"
    )


def missing_extra() -> list[str]:
    return [name for name in EXTRA if find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    missing = missing_extra()
    if argv[:1] == ["watch"]:
        if missing:
            print(_missing_message(missing), file=sys.stderr)
            return 2
        from .watch import main as watch

        return watch(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if missing:
        print(_missing_message(missing), file=sys.stderr)
        return 2
    # Say what is wrong with the profile or the limit before pytest starts.
    try:
        load_profile(args.profile)
        if args.rate_limit:
            parse_rate_limit(args.rate_limit)
    except (ProfileError, ValueError) as exc:
        print(f"booking-contract: {exc}", file=sys.stderr)
        return 1
    import pytest

    code = pytest.main(pytest_args(args))
    return 0 if code == 0 else 1
