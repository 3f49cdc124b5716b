"""The OpenAPI documents are valid OpenAPI 3.0 and lint clean with Spectral's oas ruleset."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mock_server.specs import openapi_dir

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(openapi_dir().glob("*.yaml"))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_document_is_valid_openapi_3_0(document):
    spec, _ = read_from_filename(str(document))
    assert spec["openapi"].startswith("3.0.")
    validate(spec)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_spectral_oas_ruleset_reports_no_errors(document):
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx (Node.js) is not installed")
    result = subprocess.run(
        [
            npx,
            "--yes",
            "@stoplight/spectral-cli@6",
            "lint",
            str(document),
            "--ruleset",
            str(ROOT / ".spectral.yaml"),
            "--fail-severity",
            "error",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_response_of_the_book_endpoint_has_an_example_and_ratelimit_headers():
    spec, _ = read_from_filename(str(openapi_dir() / "booking.yaml"))
    operation = spec["paths"]["/api/public/scheduling/{userSlug}/{eventSlug}/book"]["post"]
    assert set(operation["responses"]) == {
        "201",
        "400",
        "404",
        "405",
        "413",
        "415",
        "429",
        "500",
        "503",
    }
    for status, response in operation["responses"].items():
        if status == "503":  # the limiter's own storage may be what is down
            continue
        assert {"RateLimit-Policy", "RateLimit"} <= set(response["headers"]), status
        assert response["content"]["application/json"]["examples"], status
    assert "Retry-After" in operation["responses"]["429"]["headers"]
