"""Rule 3: the request's shape (415, 413 and 400), hostile input included."""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .timeutil import Instant, parse_rfc3339

BODY_CAP = 64 * 1024
_LONGEST_NUMBER = 1000  # characters of a JSON number literal; longer ones are hostile

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_PHONE = re.compile(r"\+?[ ().\-]*(?:[0-9][ ().\-]*){5,}")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_ZONES = frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules"}
_SOURCES = ("BookingPage", "EmbedWidget", "API")
_REQUIRED = ("startTime", "endTime", "inviteeName", "inviteeEmail", "inviteeTimezone")
_STRINGS = (
    *_REQUIRED,
    "inviteePhone",
    "inviteeLocale",
    "inviteeNotes",
    "source",
    "honeypotValue",
    "captchaToken",
)


class ApiError(Exception):
    """An answer other than 201: a status and the sentence for ``{"error": ...}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad(message: str) -> ApiError:
    return ApiError(400, message)


@dataclass(frozen=True)
class BookingRequest:
    start: Instant
    end: Instant
    name: str
    email: str
    timezone: str
    phone: str | None
    locale: str | None
    notes: str | None
    source: str | None
    custom_fields: dict[str, str]
    honeypot: str
    captcha_token: str | None


def check_media_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = media_type or "no Content-Type at all"
        raise ApiError(415, f"Send the booking as application/json (got {shown[:100]!r}).")


async def read_capped(content_length: str | None, chunks: AsyncIterator[bytes]) -> bytes:
    """The body, read as it streams (chunked too) and refused once past 64 KiB."""
    too_big = ApiError(413, f"Request bodies are limited to {BODY_CAP} bytes on this endpoint.")
    length = (content_length or "").strip()
    if length.isdigit() and int(length) > BODY_CAP:
        raise too_big
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > BODY_CAP:
            raise too_big
    return bytes(body)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        if len(text) > _LONGEST_NUMBER:
            raise ValueError("number literal too long")
        return kind(text)

    return parse


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_json(body: bytes) -> Any:
    """RFC 8259 JSON in UTF-8; anything else (hostile input included) raises a 400."""
    not_json = bad("That body could not be read as a JSON document.")
    try:
        text = body.decode("utf-8")
        document = json.loads(
            text,
            parse_constant=_no_constants,
            parse_int=_number(int),
            parse_float=_number(float),
        )
    except (ValueError, RecursionError) as error:
        raise not_json from error
    stack = [document]
    while stack:  # no recursion: the parser already bounded the depth
        item = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise bad("Strings must not contain unpaired UTF-16 surrogates.")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return document


def _check_length(field: str, value: str, most: int, least: int = 0) -> None:
    if not least <= len(value) <= most:
        raise bad(f"Field {field!r} takes {least} to {most} characters, this one has {len(value)}.")


def validate(document: Any) -> BookingRequest:
    """The booking request in ``document``, or a 400 for the first thing wrong with it."""
    if not isinstance(document, dict):
        raise bad("The JSON body has to be an object with the booking's fields.")
    for field in _REQUIRED:
        if field not in document:
            raise bad(f"Field {field!r} is mandatory and was not sent.")
    for field in _STRINGS:
        if field in document and not isinstance(document[field], str):
            raise bad(f"Field {field!r} has to be a JSON string.")
    custom = document.get("customFields", {})
    if not isinstance(custom, dict):
        raise bad("Field 'customFields' has to be a JSON object.")

    times = {}
    for field in ("startTime", "endTime"):
        _check_length(field, document[field], 64)
        times[field] = parse_rfc3339(document[field])
        if times[field] is None:
            raise bad(
                f"Field {field!r} needs an RFC 3339 date-time with an offset or Z, "
                "inside the years 1 to 9999."
            )

    name = document["inviteeName"]
    _check_length("inviteeName", name, 200, 1)
    if not re.search(r"\S", name):
        raise bad("Field 'inviteeName' cannot be blank.")

    email = document["inviteeEmail"]
    _check_length("inviteeEmail", email, 254)
    if not _EMAIL.fullmatch(email):
        raise bad("Field 'inviteeEmail' does not look like an address such as a@example.com.")

    zone = document["inviteeTimezone"]
    _check_length("inviteeTimezone", zone, 64, 1)
    if zone not in _ZONES:
        raise bad("Field 'inviteeTimezone' is not a zone of the IANA database.")

    phone = document.get("inviteePhone")
    if phone is not None:
        _check_length("inviteePhone", phone, 32, 5)
        if not _PHONE.fullmatch(phone):
            raise bad("Field 'inviteePhone' takes digits, spaces, - . ( ) and a leading +.")

    locale = document.get("inviteeLocale")
    if locale is not None:
        _check_length("inviteeLocale", locale, 35)
        if not _LOCALE.fullmatch(locale):
            raise bad("Field 'inviteeLocale' has to be a BCP 47 language tag such as pt-BR.")

    notes = document.get("inviteeNotes")
    if notes is not None:
        _check_length("inviteeNotes", notes, 5000)

    source = document.get("source")
    if source is not None and source not in _SOURCES:
        raise bad(f"Field 'source' is one of {', '.join(_SOURCES)}.")

    honeypot = document.get("honeypotValue", "")
    _check_length("honeypotValue", honeypot, 1000)
    token = document.get("captchaToken")
    if token is not None:
        _check_length("captchaToken", token, 4096)

    if len(custom) > 50:
        raise bad("Field 'customFields' holds at most 50 answers.")
    for key, value in custom.items():
        if len(key) > 100:
            raise bad("A key of 'customFields' is longer than 100 characters.")
        if not isinstance(value, str):
            raise bad("Every answer in 'customFields' has to be a JSON string.")
        if len(value) > 1000:
            raise bad("An answer in 'customFields' is longer than 1000 characters.")

    return BookingRequest(
        start=times["startTime"],
        end=times["endTime"],
        name=name,
        email=email,
        timezone=zone,
        phone=phone,
        locale=locale,
        notes=notes,
        source=source,
        custom_fields=dict(custom),
        honeypot=honeypot,
        captcha_token=token,
    )
