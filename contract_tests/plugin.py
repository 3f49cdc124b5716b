"""The pytest plugin of the contract suite: its options, its one fixture, and its failure report.

It is registered as a pytest11 entry point, so it loads in every pytest run of
an environment that has the toolkit installed; everything but the options stays
idle unless the run collects the suite's own tests.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key

from .clock import ControlApiError
from .html_report import Failure, failure_message, render_html, write_html
from .profile import ProfileError, load_profile, parse_rate_limit
from .progress import Progress, terminal_progress
from .step_summary import ContractSummary, append_step_summary
from .suite import Suite, activate, active

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name

RULES = {
    1: "rate limit: more than the limit per client IP in a rolling window is 429",
    2: "404 for an unknown user or event type, before any validation",
    3: "the request's shape: 400 (or 413/415) for a malformed request",
    4: "honeypot: a filled honeypotValue is refused and stores nothing",
    5: "CAPTCHA: required and verified on event types that have it",
    6: "duration: endTime - startTime is the event type's duration",
    7: "time bounds: the minimum notice and the booking horizon",
    8: "availability: the slot grid, the weekly availability, no overlapping booking",
    9: "custom fields: required answers present and non-empty",
    10: "the booking: 201, stored atomically, the documented response",
}
OTHER_RULES = {
    "field_limits": "field limits (rule 3): the accepted length and shape of every field",
    "robustness": "hostile input (rule 3): a 4xx in the error format, never a 5xx, nothing stored",
    "error_format": 'errors: every error is application/json {"error": "..."}',
    "fuzz": "the OpenAPI document: Schemathesis-generated requests and the responses' shapes",
}


# The short names a run of the suite accepts. They become options only for such a
# run: the plugin loads in every pytest run of the environment, and names this
# generic must stay free for other projects' options.
ALIASES = {
    "--base-url": "--contract-base-url",
    "--profile": "--contract-profile",
    "--rate-limit": "--contract-rate-limit",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "booking-contract",
        "booking API contract suite (when running it, also --base-url, --profile, --rate-limit)",
    )
    group.addoption(
        "--contract-base-url",
        dest="contract_base_url",
        metavar="URL",
        help="the booking API server to judge, e.g. http://127.0.0.1:8080",
    )
    group.addoption(
        "--contract-profile",
        dest="contract_profile",
        metavar="FILE",
        help="what the target holds (YAML); default: booking-mock's default dataset",
    )
    group.addoption(
        "--contract-rate-limit",
        dest="contract_rate_limit",
        metavar="SPEC",
        help="override the profile's rate limit, e.g. '15/minute' or '15/10 seconds'",
    )
    group.addoption(
        "--trusts-forwarded-for",
        dest="contract_trusts_forwarded_for",
        action="store_true",
        default=None,
        help="the target trusts X-Forwarded-For from this machine: act as many clients",
    )
    group.addoption(
        "--no-trusts-forwarded-for",
        dest="contract_trusts_forwarded_for",
        action="store_false",
        help="the target does not trust X-Forwarded-For from this machine",
    )
    group.addoption(
        "--shared-target",
        dest="contract_dedicated",
        action="store_false",
        default=None,
        help="others book on the target too (staging): slots found taken are skipped, counted",
    )
    group.addoption(
        "--dedicated-target",
        dest="contract_dedicated",
        action="store_true",
        help="only this run books on the target: a free slot refused as taken is a failure",
    )
    group.addoption(
        "--control-api",
        dest="contract_control_api",
        action="store_true",
        default=None,
        help="the target offers booking-mock's control API: pin its clock for the time rules",
    )
    group.addoption(
        "--no-control-api",
        dest="contract_control_api",
        action="store_false",
        help="never use a control API, even if the target has one (the real clock only)",
    )
    group.addoption(
        "--no-source-addresses",
        dest="contract_source_addresses",
        action="store_false",
        default=None,
        help="on loopback, do not act as other clients by source address (e.g. behind Docker)",
    )
    group.addoption(
        "--fuzz-examples",
        dest="contract_fuzz_examples",
        type=int,
        metavar="N",
        help="override the profile's Schemathesis examples per event type and mode",
    )
    group.addoption(
        "--contract-html",
        dest="contract_html",
        metavar="FILE",
        help="write the run's report, one self-contained HTML page, to FILE",
    )


def _resolve(arg: str, invocation_dir: Path) -> str:
    """`contract_tests[/...][::...]` names the installed package when no such folder is here."""
    head = re.split(r"[/\\]|::", arg, maxsplit=1)[0]
    if head != PACKAGE or (invocation_dir / PACKAGE).exists():
        return arg
    return str(PACKAGE_DIR) + arg[len(PACKAGE) :]


def _targets_suite(arg: str, invocation_dir: Path) -> bool:
    path = (invocation_dir / arg.split("::")[0]).resolve()
    return path.exists() and path.is_relative_to(PACKAGE_DIR)


def _translate(args: list[str]) -> tuple[list[str], set[str]]:
    """The short option names as the plugin's own; also the values they took."""
    out: list[str] = []
    values: set[str] = set()
    index = 0
    while index < len(args):
        name, equals, value = args[index].partition("=")
        if name not in ALIASES:
            out.append(args[index])
        elif equals:
            out.append(f"{ALIASES[name]}={value}")
        else:
            out.append(ALIASES[name])
            if index + 1 < len(args):
                index += 1
                out.append(args[index])
                values.add(args[index])
        index += 1
    return out, values


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    namespace = early_config.known_args_namespace
    here = early_config.invocation_params.dir
    positional = list(getattr(namespace, "file_or_dir", None) or [])
    resolved = [_resolve(arg, here) for arg in positional]
    if not any(_targets_suite(arg, here) for arg in resolved):
        return
    renamed = dict(zip(positional, resolved, strict=True))
    for index, arg in enumerate(args):
        if arg in renamed and (index == 0 or args[index - 1] not in ("-k", "-m", "-p")):
            args[index] = renamed[arg]
    args[:], values = _translate(args)
    # Unknown to the first parse, `--base-url URL` left URL among the paths.
    namespace.file_or_dir = [arg for arg in resolved if arg not in values]
    # The rest of the run looks for conftest files below the rootdir; the suite has none,
    # but a cwd-based confcutdir must not hide the package from pytest either.
    namespace.confcutdir = None


def _in_suite(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(PACKAGE_DIR)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "probe(name): the rate-limit probe a contract test judges (contract_tests)"
    )


def _suite_from_options(config: pytest.Config) -> Suite:
    base_url = config.getoption("contract_base_url")
    if not base_url:
        raise pytest.UsageError(
            "the contract suite needs the server to judge: --base-url URL"
            " (e.g. --base-url http://127.0.0.1:8080)"
        )
    try:
        profile = load_profile(config.getoption("contract_profile"))
    except ProfileError as exc:
        raise pytest.UsageError(f"bad profile: {exc}") from None
    spec = config.getoption("contract_rate_limit")
    limit = window = None
    if spec:
        try:
            limit, window = parse_rate_limit(spec)
        except ValueError as exc:
            raise pytest.UsageError(f"--rate-limit: {exc}") from None
    profile = profile.with_rate_limit(
        limit, window, config.getoption("contract_trusts_forwarded_for")
    )
    profile = profile.with_fuzzing(config.getoption("contract_fuzz_examples"))
    profile = profile.with_target(
        config.getoption("contract_dedicated"),
        config.getoption("contract_control_api"),
        config.getoption("contract_source_addresses"),
    )
    progress = terminal_progress(config, lambda: config.stash.get(STEP_SUMMARY_KEY, None))
    if progress is not None:
        config.stash[PROGRESS_KEY] = progress
    try:
        return Suite.create(
            base_url.rstrip("/"),
            profile,
            on_wait=progress.waiting if progress else None,
            on_idle=progress.flush if progress else None,
        )
    except ControlApiError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(tryfirst=True)
def pytest_collectstart(collector: pytest.Collector) -> None:
    # The suite is built when pytest first reaches its package, before its test
    # modules are imported: the fuzzing module reads the profile at import time.
    if isinstance(collector, (pytest.Package, pytest.Module)) and _suite_pending(collector):
        suite = _suite_from_options(collector.config)
        collector.config.stash[SUITE_KEY] = suite
        activate(suite)
        # Hypothesis keeps caches in ./.hypothesis; a CI workspace is not the place. It is
        # loaded only when the fuzzing is (its pytest plugin imports it).
        configuration = sys.modules.get("hypothesis.configuration")
        if configuration is not None:
            configuration.set_hypothesis_home_dir(
                Path(tempfile.gettempdir()) / "booking-contract-hypothesis"
            )


SUITE_KEY = pytest.StashKey[Suite]()
# Outcomes by rule group, for the CI job's Markdown summary ($GITHUB_STEP_SUMMARY).
STEP_SUMMARY_KEY = pytest.StashKey[ContractSummary]()
PROGRESS_KEY = pytest.StashKey[Progress]()
# The failed tests, for --contract-html: their exchanges are gone once the next test starts.
FAILURES_KEY = pytest.StashKey[list[Failure]]()


def _suite_pending(collector: pytest.Collector) -> bool:
    if SUITE_KEY in collector.config.stash:
        return False
    return Path(str(collector.path)).resolve().is_relative_to(PACKAGE_DIR)


@pytest.fixture(scope="session")
def contract(request: pytest.FixtureRequest) -> Suite:
    """The run in progress: its target, profile, pacing, slot ledger and rate-limit probes."""
    return active()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    suite = config.stash.get(SUITE_KEY, None)
    if suite is None or not suite.pool.simulate:
        return
    # The probes run in the background from the start; judging them last lets every
    # other test run while they wait out their windows.
    items.sort(key=lambda item: _in_suite(item) and item.get_closest_marker("probe") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    suite = session.config.stash.get(SUITE_KEY, None)
    progress = session.config.stash.get(PROGRESS_KEY, None)
    if progress is not None:
        progress.expect({item.nodeid: _group(item) for item in session.items if _in_suite(item)})
    if suite is None or not suite.pool.simulate:
        return
    # Each probe is a client of its own: start them now, so their waits overlap the run.
    wanted = set()
    for item in session.items:
        marker = item.get_closest_marker("probe")
        if marker is not None and _in_suite(item):
            wanted.add(marker.args[0])
    suite.probes.start(sorted(wanted))


def pytest_runtest_setup(item: pytest.Item) -> None:
    suite = item.config.stash.get(SUITE_KEY, None)
    if suite is not None and _in_suite(item):
        suite.target.start_test()


def rule_groups() -> list[str]:
    """Every rule group, in the contract's order: rule 1 to 10, then the others."""
    numbered = [f"Rule {number}: {title}" for number, title in RULES.items()]
    return numbered + [title[0].upper() + title[1:] for title in OTHER_RULES.values()]


def rule_of(name: str) -> str:
    match = re.match(r"test_rule_(\d+)_", name)
    if match and int(match[1]) in RULES:
        return f"Rule {match[1]}: {RULES[int(match[1])]}"
    for prefix, title in OTHER_RULES.items():
        if name.startswith(f"test_{prefix}"):
            return title[0].upper() + title[1:]
    return name


def _group(item: pytest.Item) -> str:
    return rule_of(getattr(item, "originalname", item.name))


def _expectation(item: pytest.Item) -> str | None:
    """The test docstring's first line: what the contract expects."""
    doc = getattr(getattr(item, "function", None), "__doc__", None)
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def junit_classname(group: str) -> str:
    """A rule group as JUnit's classname: viewers read a dot as a package separator."""
    return group.replace("...", "…").replace(".", "_")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    suite = item.config.stash.get(SUITE_KEY, None)
    if suite is None or not _in_suite(item):
        return report
    item.config.stash.setdefault(STEP_SUMMARY_KEY, ContractSummary(rule_of)).add(report)
    xml = item.config.stash.get(xml_key, None)
    if xml is not None:
        # What record_xml_attribute does: a JUnit viewer then groups the tests by rule.
        xml.node_reporter(report).add_attribute("classname", junit_classname(_group(item)))
    if report.failed and item.config.getoption("contract_html"):
        _keep_failure(item, report, suite)
    if not report.failed or report.when != "call":
        return report
    lines = [f"Broken: {_group(item)}"]
    expected = _expectation(item)
    if expected:
        lines.append(f"Expected: {expected}")
    exchanges = suite.target.recent[-3:]
    for number, exchange in enumerate(exchanges, start=1):
        lines += ["", f"Exchange {number} of the last {len(exchanges)}:", exchange.describe()]
    text = "\n".join(lines)
    longrepr = report.longrepr
    if hasattr(longrepr, "addsection"):
        longrepr.addsection("contract", text)
    else:
        report.longrepr = f"{longrepr}\n\n{text}"
    return report


def _keep_failure(item: pytest.Item, report: pytest.TestReport, suite: Suite) -> None:
    failure = Failure(
        test=item.name,
        nodeid=item.nodeid,
        group=_group(item),
        expected=_expectation(item),
        message=failure_message(report),
        details=report.longreprtext,
        exchanges=suite.target.recent,
        made=suite.target.noted,
        when=report.when,
    )
    item.config.stash.setdefault(FAILURES_KEY, []).append(failure)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    progress = config.stash.get(PROGRESS_KEY, None)
    if progress is not None:
        progress.close()
    suite = config.stash.get(SUITE_KEY, None)
    path = config.getoption("contract_html")
    if suite is None or not path:
        return
    outcomes = config.stash.get(STEP_SUMMARY_KEY, None) or ContractSummary(rule_of)
    html = render_html(
        suite,
        outcomes,
        config.stash.get(FAILURES_KEY, []),
        order=rule_groups(),
        exit_status=int(exitstatus),
        waits=progress.waits if progress is not None else None,
    )
    write_html(Path(config.invocation_params.dir, path), html)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    suite = terminalreporter.config.stash.get(SUITE_KEY, None)
    if suite is not None:
        terminalreporter.write_sep("-", suite.summary())
        for note in suite.coverage_notes():
            terminalreporter.write_line(f"  {note}")
        page = terminalreporter.config.getoption("contract_html")
        if page:
            terminalreporter.write_line(f"  the run's HTML report: {page}")
        outcomes = terminalreporter.config.stash.get(STEP_SUMMARY_KEY, None)
        if outcomes is not None:
            details = [suite.summary(), *suite.coverage_notes()]
            append_step_summary(outcomes.markdown(suite.base_url, details))


def pytest_unconfigure(config: pytest.Config) -> None:
    suite = config.stash.get(SUITE_KEY, None)
    if suite is not None:
        suite.close()
        activate(None)
