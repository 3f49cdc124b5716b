"""Every error, the framework's own included, is JSON {"error": ...}; no input yields a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from .test_rules import BOOK, assert_error, body

URL = BOOK.format(user="jane-doe", event="30min-call")


def test_unknown_route_is_json_404(client):
    response = client.get("/no/such/route")
    assert_error(response, 404)
    assert "POST /api/public/scheduling/{userSlug}/{eventSlug}/book" in response.json()["error"]


def test_wrong_method_is_json_405_with_allow(client):
    response = client.put(URL, json=body())
    assert_error(response, 405, "Method not allowed.")
    assert response.headers["Allow"] == "POST"


def test_wrong_media_type_is_json_415(client):
    response = client.post(URL, content=b"startTime=x", headers={"content-type": "text/plain"})
    assert_error(response, 415)


def test_form_encoded_body_is_json_415(client):
    response = client.post(URL, data={"startTime": "x"})
    assert_error(response, 415)


def test_announced_oversized_body_is_json_413(client):
    payload = b'{"inviteeNotes": "' + b"x" * 70_000 + b'"}'
    response = client.post(URL, content=payload, headers={"content-type": "application/json"})
    assert_error(response, 413, "The request body must not exceed 65536 bytes.")


def test_streamed_oversized_body_is_json_413(client):
    def chunks() -> Iterator[bytes]:
        yield b'{"inviteeNotes": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    # A generator body is sent chunked, with no Content-Length to refuse up front.
    response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413)


def test_body_at_the_limit_is_not_413(client):
    filler = "x" * (65536 - len('{"inviteeNotes": ""}'))
    payload = ('{"inviteeNotes": "' + filler + '"}').encode()
    assert len(payload) == 65536
    response = client.post(URL, content=payload, headers={"content-type": "application/json"})
    assert_error(response, 400)  # shape errors, not size


def test_malformed_json_is_json_400(client):
    response = client.post(
        URL, content=b'{"startTime": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400)
    assert "not valid JSON" in response.json()["error"]


def test_body_in_a_wrong_encoding_is_json_400(client):
    response = client.post(URL, content=b"\xff\xfe{}", headers={"content-type": "application/json"})
    assert_error(response, 400)


def test_empty_body_is_json_400(client):
    response = client.post(URL, headers={"content-type": "application/json"})
    assert_error(response, 400)


def test_errors_are_never_problem_json_or_html(client):
    for response in (
        client.get("/"),
        client.delete(URL),
        client.post(URL, content=b"<xml/>", headers={"content-type": "application/xml"}),
        client.post(URL, content=b"[", headers={"content-type": "application/json"}),
    ):
        assert response.headers["content-type"] == "application/json", response.text
        assert set(response.json()) <= {"error", "details"}


def test_unexpected_exception_is_json_500_without_traceback(shared_server):
    async def broken_verifier(token: str) -> bool:
        raise RuntimeError("verifier exploded: secret internals")

    base = shared_server(captcha_verifier=broken_verifier)
    with httpx.Client(base_url=base) as client:
        response = client.post(
            BOOK.format(user="jane-doe", event="15min-captcha"),
            json=body(endTime="2026-03-16T14:15:00Z", captchaToken="token"),
        )
    assert_error(response, 500, "Internal server error.")
    assert "secret" not in response.text
    assert "RateLimit" in response.headers
