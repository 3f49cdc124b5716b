"""The one body reader (mock_server.http.json_input): what it reads, whichever path it takes."""

from __future__ import annotations

import json

import pytest

from mock_server.errors import InvalidRequest
from mock_server.http.json_input import parse_json_body

READ_AS_JSON_LOADS = [
    '{"a": 1, "b": -2.5e-3, "c": [true, false, null], "d": {"e": "f"}}',
    '{"big": 1180591620717411303424, "negative": -9223372036854775809}',
    '{"u64": 18446744073709551615, "long": 123456789012345678}',
    '{"pair": "\\ud83d\\ude00", "nul": "\\u0000", "text": "caf\u00e9"}',
    '{"a": 1, "a": 2}',
    '{"digits": "1234567890123456789012345"}',
    '{"small": 5e-324, "large": 1.7976931348623157e308, "zero": -0.0}',
    " \t\r\n" + "[" * 64 + "]" * 64,
    "null",
]


@pytest.mark.parametrize("text", READ_AS_JSON_LOADS)
def test_a_body_reads_as_json_loads_reads_it(text):
    read = parse_json_body(text.encode(), None)
    assert read == json.loads(text)
    assert json.dumps(read) == json.dumps(json.loads(text))  # types too: 2**70 stays an int


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": NaN}',
        b'{"a": 1e999}',
        b'{"a": "\\ud800"}',
        b'{"a": "\xed\xa0\x80"}',
        b"\xef\xbb\xbf{}",
        b'{"a": 1,}',
        b"",
        b"[" * 65 + b"]" * 65,
        b'{"a": ' + b"1" * 101 + b"}",
    ],
    ids=[
        "nan",
        "infinite",
        "lone-escape",
        "surrogate-bytes",
        "bom",
        "trailing-comma",
        "empty",
        "deep",
        "long-number",
    ],
)
def test_what_json_does_not_allow_is_invalid_request(raw):
    with pytest.raises(InvalidRequest):
        parse_json_body(raw, None)


def test_a_declared_charset_is_read_in_that_charset():
    text = '{"name": "Ren\u00e9e"}'
    assert parse_json_body(text.encode("latin-1"), "iso-8859-1") == {"name": "Ren\u00e9e"}
    assert parse_json_body(text.encode("utf-16"), "utf-16") == {"name": "Ren\u00e9e"}
