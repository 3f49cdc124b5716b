"""The book operation is read from the spec once, and a spec it does not enforce stops start-up."""

from __future__ import annotations

import copy

import pytest

from mock_server.http.book import BookSpec, SpecMismatch
from mock_server.specs import load_spec

PATH = "/api/public/scheduling/{userSlug}/{eventSlug}/book"


def spec_with(change) -> dict:
    spec = copy.deepcopy(load_spec("booking.yaml"))
    change(spec["paths"][PATH])
    return spec


def test_the_operation_comes_from_the_spec():
    book = BookSpec.from_spec(load_spec("booking.yaml"))
    assert book.path == PATH
    assert book.media_types == ("application/json",)
    assert book.body_required
    assert {201, 400, 404, 429} <= set(book.responses)


def test_a_parameter_the_operation_does_not_read_fails_start_up():
    def add_query(item: dict) -> None:
        item["post"]["parameters"] = [
            {"name": "dryRun", "in": "query", "schema": {"type": "boolean"}}
        ]

    with pytest.raises(SpecMismatch, match="dryRun"):
        BookSpec.from_spec(spec_with(add_query))


def test_a_media_type_the_operation_does_not_read_fails_start_up():
    def add_form(item: dict) -> None:
        content = item["post"]["requestBody"]["content"]
        content["application/x-www-form-urlencoded"] = content["application/json"]

    with pytest.raises(SpecMismatch, match="x-www-form-urlencoded"):
        BookSpec.from_spec(spec_with(add_form))


def test_a_path_without_the_operation_fails_start_up():
    with pytest.raises(SpecMismatch, match="bookSlot"):
        BookSpec.from_spec(spec_with(lambda item: item["post"].update(operationId="other")))
