"""Schemathesis 4 fuzzes the booking operation against the running reference.

Positive and negative data; every response must conform to the spec in status,
content type, headers and schema, and nothing may be a 5xx. The limit is raised
so fuzzing measures the contract, not the limiter (tested in test_ratelimit.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import available_timezones

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from mock_server import Settings, create_app
from mock_server.specs import spec_path
from tests.servers import serve_app

schemathesis.openapi.format("iana-timezone", st.sampled_from(sorted(available_timezones())))

schema = schemathesis.openapi.from_path(spec_path("booking.yaml"))
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=150
)


SHAPE_ERROR = "The request body is invalid."


@schemathesis.check
def valid_body_not_rejected_for_shape(ctx, response, case) -> bool | None:
    """Schema-valid data may fail a booking rule (a taken slot is a 400), never the shape check.

    Replaces Schemathesis's positive_data_acceptance, which counts any 400 as a rejection.
    The one limit OpenAPI 3.0 cannot state (custom field keys of at most 100 characters)
    is allowed to reject.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        error = response.json()
        fields = {d["field"] for d in error.get("details", [])}
        if error["error"] == SHAPE_ERROR and fields != {"customFields"}:
            raise AssertionError(f"schema-valid body rejected for its shape: {error}")
    return True


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    with serve_app(create_app(Settings(rate_limit="100000/minute"))) as base_url:
        yield base_url


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_response_conforms_to_the_spec(case, reference):
    response = case.call_and_validate(
        base_url=reference,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
        additional_checks=[valid_body_not_rejected_for_shape],
    )
    assert response.status_code < 500
    assert response.headers["content-type"] == ["application/json"]


admin_schema = schemathesis.openapi.from_path(spec_path("admin.yaml"))
admin_schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=40
)


@pytest.fixture(scope="module")
def control_reference() -> Iterator[str]:
    # Its own server: fuzzed arming must not answer the booking operation's fuzzing.
    with serve_app(create_app(Settings(rate_limit="100000/minute"))) as base_url:
        yield base_url


@admin_schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_control_api_response_conforms_to_its_spec(case, control_reference):
    if case.path == "/requests/stream":
        query = case.query if isinstance(case.query, dict) else {}
        seconds = str(query.get("seconds", "0"))
        if seconds.isascii() and seconds.isdigit() and int(seconds) <= 3600:
            query["seconds"] = 0  # the stream stays open that long; 0 ends it after the replay
        case.query = query
    # Schema-valid calls may still be refused (a range too long, an unknown booking id).
    response = case.call_and_validate(
        base_url=control_reference + "/__admin",
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
    assert response.status_code < 500
