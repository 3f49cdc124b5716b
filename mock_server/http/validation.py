"""Request validation plugged into Connexion's validator map.

Connexion validates bodies against the spec; this module only changes how: the
spec's own formats (RFC 3339 ``date-time``, ``iana-timezone``) are checked for
real, validators are compiled once per schema instead of once per request, and
every failing field is reported in ``details`` rather than the first alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import jsonschema_rs
from connexion import validators as connexion_validators
from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import JSONRequestBodyValidator
from jsonschema import Draft4Validator
from starlette.datastructures import Headers
from starlette.types import Receive, Scope

from ..domain.instants import parse_instant
from ..errors import FieldError, InvalidRequest
from .json_input import field_path, media_type, parse_json_body

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
_ZONES: dict[str, bool] = {}

FORMAT_CHECKER = jsonschema.FormatChecker()
FORMAT_CHECKER.checkers = dict(Draft4Validator.FORMAT_CHECKER.checkers)


@FORMAT_CHECKER.checks("date-time")
def is_rfc3339(value: object) -> bool:
    """An RFC 3339 date-time: a real calendar instant with an explicit offset."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        parse_instant(value)
    except (ValueError, OverflowError):
        return False
    return True


@FORMAT_CHECKER.checks("date")
def is_full_date(value: object) -> bool:
    """An RFC 3339 full-date, YYYY-MM-DD, that exists in the calendar."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@FORMAT_CHECKER.checks("iana-timezone")
def is_iana_timezone(value: object) -> bool:
    if not isinstance(value, str):
        return True
    known = _ZONES.get(value)
    if known is None:
        try:
            ZoneInfo(value)
            known = True
        except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            known = False
        if len(_ZONES) < 10_000:
            _ZONES[value] = known
    return known


_FORMAT_NAMES = {
    "date-time": "an RFC 3339 date-time with an offset, such as 2026-03-16T14:00:00Z",
    "iana-timezone": "an IANA time zone name, such as America/New_York",
    "date": "a date YYYY-MM-DD",
}


def _describe(error: jsonschema.ValidationError) -> list[FieldError]:
    path = list(error.absolute_path)
    if error.validator == "required":
        return [
            FieldError(field_path([*path, name]), "This field is required.")
            for name in error.validator_value
            if name not in error.instance
        ]
    field = field_path(path) or "(body)"
    if error.validator == "format":
        expected = _FORMAT_NAMES.get(error.validator_value, error.validator_value)
        if error.validator_value == "date-time" and _RFC3339.match(str(error.instance)):
            return [
                FieldError(
                    field, f"{_short(error.instance)} is outside the years 1 to 9999 in UTC."
                )
            ]
        return [FieldError(field, f"{_short(error.instance)} is not {expected}.")]
    if error.validator == "pattern":
        description = error.schema.get("description", "").strip().split("\n\n")[0]
        hint = " ".join(description.split())
        return [FieldError(field, f"{_short(error.instance)} is not valid. {hint}".strip())]
    return [FieldError(field, error.message)]


def _details(errors: list[jsonschema.ValidationError]) -> list[FieldError]:
    out: list[FieldError] = []
    for error in errors:
        for detail in _describe(error):
            if detail not in out:
                out.append(detail)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


# Root keywords that look at the properties' values (or keys) beyond ``properties``: a root
# schema with any of them is explained whole.
_DESCENDING = frozenset(
    {
        "additionalProperties",
        "patternProperties",
        "dependencies",
        "propertyNames",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "$ref",
    }
)


class SchemaValidator:
    """A schema of the spec, compiled once, twice over.

    jsonschema-rs (compiled, same formats) answers the common question, "is this
    valid?", in microseconds; only a failing instance goes through the Python
    jsonschema validator, which names every failing field. The Python validator has
    the last word, so the messages and the verdict are jsonschema's.

    For an object, jsonschema-rs also says which parts failed: the object itself
    (``required``, say) or some of its properties. The Python validator then reads only
    those: the root's own keywords without descending, and each failing property against
    its own schema, its errors' paths under the property's name. Reading the whole body
    in Python cost ten times more (about 150 us a body, and a tenth of the load test's
    requests are invalid). Should the two validators disagree so that the Python one
    finds nothing where jsonschema-rs found something, the whole body is read in Python.
    """

    # OpenAPI keywords jsonschema-rs does not know; a schema using them is checked in Python.
    _OPENAPI_ONLY = ("nullable", "readOnly", "writeOnly", "discriminator")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.explainer = Draft4RequestValidator(schema, format_checker=FORMAT_CHECKER)
        self._fast = None
        if not any(f'"{word}"' in json.dumps(schema) for word in self._OPENAPI_ONLY):
            self._fast = jsonschema_rs.Draft4Validator(
                schema,
                formats={name: FORMAT_CHECKER.checkers[name][0] for name in _FORMAT_NAMES},
                validate_formats=True,
            )
        self._parts: dict[str, Any] | None = None
        properties = schema.get("properties")
        # "" names the object itself below, so a property of that name reads it whole.
        if (
            isinstance(properties, dict)
            and "" not in properties
            and not _DESCENDING & schema.keys()
        ):
            own = {key: value for key, value in schema.items() if key != "properties"}
            self._parts = {
                "": Draft4RequestValidator(own, format_checker=FORMAT_CHECKER),
                **{
                    name: Draft4RequestValidator(sub, format_checker=FORMAT_CHECKER)
                    for name, sub in properties.items()
                },
            }

    def iter_errors(self, instance: Any) -> Iterator[jsonschema.ValidationError]:
        if self._fast is not None and self._fast.is_valid(instance):
            return iter(())
        return self._explained(instance)

    def _explained(self, instance: Any) -> Iterator[jsonschema.ValidationError]:
        """The errors of an instance jsonschema-rs refused (or of any, without it)."""
        if self._fast is None:
            return self.explainer.iter_errors(instance)
        if self._parts is not None and isinstance(instance, dict):
            errors = self._part_errors(instance)
            if errors:
                return iter(errors)
        return self.explainer.iter_errors(instance)

    def _part_errors(self, instance: dict[str, Any]) -> list[jsonschema.ValidationError]:
        """The Python validator's errors in the parts jsonschema-rs found failing."""
        assert self._fast is not None and self._parts is not None
        failing = {
            error.instance_path[0] if error.instance_path else ""
            for error in self._fast.iter_errors(instance)
        }
        errors = []
        for name in sorted(failing, key=str):
            validator = self._parts.get(name) if isinstance(name, str) else None
            if validator is None:
                return []  # not a part this reads on its own: read the whole body
            if name == "":
                errors.extend(validator.iter_errors(instance))
                continue
            for error in validator.iter_errors(instance[name]):
                error.path.appendleft(name)
                errors.append(error)
        return errors

    def check_body(self, body: Any) -> None:
        """Raise InvalidRequest naming every failing field of a request body."""
        if self._fast is not None and self._fast.is_valid(body):
            return  # nearly every body: no iterator, no sort
        errors = sorted(self._explained(body), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            if not isinstance(body, dict):
                raise InvalidRequest("The request body must be a JSON object.")
            raise InvalidRequest(details=_details(errors))


_COMPILED: dict[int, tuple[SchemaValidator, dict[str, Any]]] = {}


def compiled(schema: dict[str, Any]) -> SchemaValidator:
    """The validator of a schema of the spec, built once: spec schemas live as long as the app."""
    entry = _COMPILED.get(id(schema))
    if entry is None:
        # Keep the schema alive with its validator, so its id cannot be reused.
        entry = _COMPILED[id(schema)] = (SchemaValidator(schema), schema)
    return entry[0]


class JSONBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validator, reporting every failing field as InvalidRequest."""

    @property
    def _validator(self) -> Any:
        return compiled(self._schema)

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        headers = Headers(scope=scope)
        if "content-length" not in headers and "transfer-encoding" in headers:
            # Connexion only looks at Content-Length; read a chunked body (BodyLimit still
            # counts it) and present it with a length, so it is validated, not refused.
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            raw = b"".join(chunks)
            scope["headers"] = [
                *((k, v) for k, v in scope["headers"] if k != b"transfer-encoding"),
                (b"content-length", str(len(raw)).encode()),
            ]
            replay = {"type": "http.request", "body": raw, "more_body": False}
            receive = self._insert_messages(receive, messages=[replay])
        elif not int(headers.get("content-length") or 0) and self._required:
            raise InvalidRequest("The request body is required: a JSON object.")
        return await super().wrap_receive(receive, scope=scope)

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        # The charset as the book endpoint reads it (Connexion's reading misses "; charset=").
        return parse_json_body(raw, media_type(Headers(scope=scope))[1]) if raw else None

    def _validate(self, body: Any) -> None:
        if body is None and self._nullable:
            return
        # An empty body was refused in wrap_receive; None here is a JSON null.
        self._validator.check_body(body)


class ParameterValidator(connexion_validators.ParameterValidator):
    """Connexion's parameter validator with the spec's formats, and no empty values."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict, param_name: Any = None
    ) -> Any:
        if value == "" or value == [""]:
            return f"The {parameter_type} parameter '{param['name']}' must not be empty."
        if value is None:
            return connexion_validators.ParameterValidator.validate_parameter(
                parameter_type, value, param, param_name
            )
        errors = list(compiled(param.get("schema", param)).iter_errors(value))
        if errors:
            detail = _describe(errors[0])[0]
            return f"The {parameter_type} parameter '{param['name']}': {detail.message}"
        return None

    def validate_query_parameter(self, param: dict, request: Any) -> Any:
        # Connexion reads an empty value as absent; an empty value is a client's mistake.
        if request.query_params.get(param["name"]) == "" or (
            param["name"] in request.query_params
            and request.query_params.get(param["name"]) is None
        ):
            return f"The query parameter '{param['name']}' must not be empty."
        return super().validate_query_parameter(param, request)


VALIDATOR_MAP = {
    "body": MediaTypeDict({"*/*json": JSONBodyValidator}),
    "parameter": ParameterValidator,
}
