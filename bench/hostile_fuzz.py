#!/usr/bin/env python
"""Hostile fuzzing: property-based requests (hypothesis) made of the inputs that broke the
server before (issue #10), sent over real HTTP to every API route and every console form.

Beside Schemathesis (``bench/fuzz.py``), which explores what the OpenAPI document
allows, this fuzzer sends what an attacker sends: NUL and other control characters, lone
surrogates (as JSON ``\\ud800`` escapes, or as the invalid UTF-8 a URL can carry), huge
and tiny numbers (``1e400``, ``2**64``, 5,000-digit integers), ``NaN``/``Infinity``
tokens, dates at and past the calendar's edges, JSON nested thousands deep, duplicate
JSON keys, keyset cursors whose JSON fields have the wrong types, wrong JSON types in
body fields, look-alike unicode (zero-width, bidi overrides, combining marks, NFC/NFD
variants) and spreadsheet formulas — in bodies, query parameters, the ``Idempotency-Key``
and ``If-Match`` headers and path segments. The API routes come from the served
``/v1/openapi.json`` (path ids of a seeded organization); the console routes from the URL
resolver, each with the fields of its form (and those its served pages' forms show),
posted with a signed-in session, the CSRF token and the forms' one-time ``form_token``;
deletes aim at sacrificial rows. Each route's share of the requests starts with a
catalogue (each of those inputs at each place of the route, the rest of the request
valid: see ``api_focuses``/``console_focuses``) and goes on with hypothesis' own draws.

Properties checked on every answer:

- no 5xx, and an answer at all;
- no write on a 4xx: row counts of every table of the ``segments`` app and the greatest
  ``updated_at`` of each, read before and after through a direct psycopg connection;
- every API 4xx is a problem document (``code``, ``status`` equal to the HTTP status,
  ``title``);
- a body with duplicate JSON keys is never accepted (2xx);
- no request makes a name (organizations, ledgers, segments, portfolios, accounts)
  stored with zero-width or bidi control characters, or not in NFC;
- no CSV export cell starts like a formula (``= + - @`` tab, CR) undefused.

Stops after ``--requests`` (default 5,000) or ``--seconds``; prints the figures (per
route class) and every failure grouped by root cause (the server's traceback, found by
the request id) with one request each; exits non-zero on any failure or when fewer than
``--requests`` were sent. ``--app-dir`` serves another checkout (e.g. a ``git worktree``
of an older commit) with this fuzzer.

Over HTTP gunicorn itself refuses control characters in header values (400, counted
apart); the suite's in-process run (tests/hardening/test_hostile_fuzz_smoke.py) sends
them to the app.

Usage: python bench/hostile_fuzz.py [--requests 5000] [--seconds 900] [--seed 10]
       [--port 8311] [--app-dir DIR] [--database-url URL] [--log FILE]
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import csv
import dataclasses
import functools
import http.client
import http.cookies
import io
import itertools
import json
import logging
import os
import re
import sys
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol

import hypothesis
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PORT = 8311
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/seg_hostile_fuzz"
USERNAME, PASSWORD = "hostile", "hostile-fuzz-password"

# --------------------------------------------------------------------------- hostile atoms

CONTROL_CHARACTERS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85"]
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
BIDI_CONTROLS = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"]
BIDI_CONTROLS += ["\u2066", "\u2067", "\u2068", "\u2069"]
LOOK_ALIKE_WORDS = [
    "Bl\u200back",  # zero-width space
    "Black\u200d",
    "\ufeffBlack",
    "\u202ekcalB",  # right-to-left override
    "\u2067Black\u2069",
    "Cafe\u0301",  # NFD of Café
    "Caf\u00e9",
    "A\u030angstr\u00f6m",
    "\u212bngstrom",  # ANGSTROM SIGN: NFC turns it into Å
    "\uff22lack",  # fullwidth B
    "\u0412lack",  # Cyrillic Ve
    "Bla\u0441k",  # Cyrillic es
    "Black\u0301\u0301\u0301",
]
HUGE_AND_TINY_NUMBERS = [
    "1e400",
    "-1e400",
    "1e-400",
    "4.9e-325",
    "1E+308",
    "-0",
    str(2**64),
    str(-(2**63) - 1),
    str(2**53 + 1),
    "9" * 5000,
    "1" + "0" * 400,
    "0." + "0" * 400 + "1",
    "123456789012345678901234567890.123456789",
]
NON_FINITE_TOKENS = ["NaN", "Infinity", "-Infinity"]
EXTREME_DATES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "9999-12-31T23:59:59.999999",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "0000-00-00",
    "10000-01-01",
    "-0001-01-01",
    "2024-02-30",
    "2024-13-01",
    "2024-1-1",
    "20240101",
    "2024-01-01T25:00:00",
    "\uff12\uff10\uff12\uff14-01-01",  # fullwidth digits
    "2024-01-01\x00",
    " 2024-01-01",
    "1970-01-01",
]
FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", '=HYPERLINK("http://127.0.0.1/","x")', "\t=1"]
UUID_LOOK_ALIKES = [
    "00000000-0000-0000-0000-000000000000",
    "{01a23396-a1cf-7b91-bef9-3d7bce0df25b}",
    "urn:uuid:01a23396-a1cf-7b91-bef9-3d7bce0df25b",
    "01A23396A1CF7B91BEF93D7BCE0DF25B",
    "01a23396-a1cf-7b91-bef9-3d7bce0df25\u0431",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
]
NUMBERS_AS_TEXT = HUGE_AND_TINY_NUMBERS[:8] + NON_FINITE_TOKENS
NUMBERS_AS_TEXT += ["0", "-1", "1.5", "0x10", "\u0661\u0662", "\uff11\uff10", "1_000", "1e3"]
LONG_LENGTHS = [101, 257, 2001, 5000, 100_000]
NESTING_DEPTHS = [200, 1_000, 3_000, 10_000, 50_000]

HOSTILE_ATOMS = (
    CONTROL_CHARACTERS
    + LONE_SURROGATES
    + INVISIBLE
    + BIDI_CONTROLS
    + LOOK_ALIKE_WORDS
    + EXTREME_DATES
    + FORMULAS
    + UUID_LOOK_ALIKES
    + NUMBERS_AS_TEXT
    + ["", " ", "null", "true", "[]", "{}", "..", "%00", "\\", "'", '"', "<b>x</b>"]
)

# Characters a name must not be stored with (issue #10, item 7), as a PostgreSQL regex.
INVISIBLE_IN_NAMES = "[\\u200B-\\u200F\\u202A-\\u202E\\u2060\\u2066-\\u2069\\uFEFF]"
NAMED_COLUMNS = [
    ("segments_organization", "legal_name"),
    ("segments_ledger", "name"),
    ("segments_segment", "name"),
    ("segments_portfolio", "name"),
    ("segments_account", "name"),
]

# The inputs that broke the server before (issue #10): drawn half of the time, so that
# every route meets each of them within its share of a run.
KNOWN_BAD_TEXT = (
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "0001-01-01",
    "9999-12-31",
    "1e400",
    str(2**64),
    "9" * 5000,
    "NaN",
    "Bl\u200back",
    "\u202eevil",
    "Cafe\u0301",
    '=HYPERLINK("http://127.0.0.1/","x")',
    "x" * 5000,
)
_word = st.text(alphabet="abcXYZ019-_ ", max_size=6)
_atom = st.sampled_from(HOSTILE_ATOMS)
_generated_text = st.one_of(
    _atom,
    st.tuples(_word, _atom, _word).map("".join),
    st.tuples(_word, _atom, _atom, _word).map("".join),
    st.text(st.characters(categories=["Cc", "Cf", "Cs", "Mn", "Zs", "Co"]), min_size=1, max_size=6),
    st.tuples(
        st.sampled_from(["x", "\u00e9", "\u200b", "\x00"]), st.sampled_from(LONG_LENGTHS)
    ).map(lambda pair: pair[0] * pair[1]),
)
hostile_text = st.sampled_from(KNOWN_BAD_TEXT) | _generated_text
"""A string a hostile client sends (it may hold lone surrogates: encode with
``surrogatepass`` or as JSON escapes)."""

header_text = hostile_text.map(lambda text: text.replace("\r", "").replace("\n", "")[:2000])


def choose(draw: st.DrawFn, options: Iterable[Any]) -> Any:
    """One of ``options`` (a tuple, so that hypothesis caches the strategy)."""
    return draw(st.sampled_from(tuple(options)))


def json_string(text: str) -> str:
    """A JSON string token; lone surrogates become ``\\udXXX`` escapes."""
    return json.dumps(text, ensure_ascii=True)


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '[{"a":' * (depth // 2) + "1" + "}]" * (depth // 2)


deep_json = st.builds(
    nested, st.sampled_from(NESTING_DEPTHS), st.sampled_from(["array", "object", "mixed"])
)
_scalar_tokens = ["null", "true", "false", "0", "-1", "[]", "{}", '""', '"ACTIVE"', "[[]]"]
_dup_objects = ['{"a":"1","a":"2"}', '{"code":"ACTIVE","code":"INACTIVE"}', '{"k":1,"k":{"k":2}}']


KNOWN_BAD_JSON = (
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    str(2**64),
    "9" * 5000,
    json.dumps("\x00"),
    json.dumps("\ud800"),
    json.dumps("a\x00b"),
    json.dumps("9999-12-31"),
    json.dumps("0001-01-01"),
    nested(10_000, "array"),
    nested(10_000, "object"),
    '{"a":1,"a":2}',
    "[]",
    "{}",
)


@st.composite
def hostile_json(draw: st.DrawFn, depth: int = 0) -> str:
    """A raw JSON value (text) that a hostile client puts where a field's value goes."""
    choice = draw(st.integers(0, 13))
    if choice >= 10:
        return choose(draw, KNOWN_BAD_JSON)
    if choice <= 2:
        return json_string(draw(hostile_text))
    if choice == 3:
        return choose(draw, HUGE_AND_TINY_NUMBERS + NON_FINITE_TOKENS)
    if choice == 4:
        return json_string(choose(draw, EXTREME_DATES))
    if choice == 5:
        return draw(deep_json)
    if choice == 6:
        return choose(draw, _scalar_tokens + _dup_objects)
    if choice == 7 and depth < 2:
        inner = draw(HOSTILE_JSON_INNER if depth == 0 else hostile_json(2))
        wrapper = choose(draw, ("[@]", '{"k":@}', '{"code":@}', "[@,@]"))
        return wrapper.replace("@", inner)
    if choice == 8:
        # A raw control character inside a string: not JSON at all.
        return '"a' + choose(draw, CONTROL_CHARACTERS) + 'b"'
    return json_string(choose(draw, LOOK_ALIKE_WORDS + FORMULAS))


HOSTILE_JSON = hostile_json()
HOSTILE_JSON_INNER = hostile_json(1)
_VALID_T, _VALID_I = "2026-01-01T00:00:00+00:00", "01a23396-a1cf-7b91-bef9-3d7bce0df25b"
_CURSOR_T = (
    st.sampled_from(
        (
            *tuple(
                json_string(t)
                for t in (
                    _VALID_T,
                    "0001-01-01T00:00:00+00:00",
                    "9999-12-31T23:59:59.999999+00:00",
                    "0001-01-01T00:00:00+14:00",
                    "9999-12-31T23:59:59-14:00",
                    "0001-01-01",
                    "2026-01-01T00:00:00",
                )
            ),
            "1",
            "1.5",
            "null",
            "true",
            "[]",
            "{}",
            '{"t":1}',
            "1e400",
            "NaN",
        )
    )
    | HOSTILE_JSON
)
_CURSOR_I = st.sampled_from((json_string(_VALID_I), "123", "[]", "{}", "null")) | HOSTILE_JSON
_CURSOR_D = st.sampled_from(('"next"', '"prev"', "5", "null", '["next"]')) | HOSTILE_JSON


@st.composite
def hostile_cursor(draw: st.DrawFn) -> str:
    """A keyset cursor as the server makes them (base64 of ``{"t", "i", "d"}``) with wrong
    JSON types, edge or broken values, or a broken encoding."""
    t, i, d = draw(_CURSOR_T), draw(_CURSOR_I), draw(_CURSOR_D)
    payload = choose(
        draw,
        (
            f'{{"t":{t},"i":{i},"d":{d}}}',
            f'{{"t":{t},"i":{i},"d":{d},"t":{t}}}',
            f'{{"t":{t},"i":{i}}}',
            "[]",
            "null",
            '"x"',
            "{}",
            "1e400",
            nested(3_000, "object"),
        ),
    )
    raw = payload.encode("utf-8", "surrogatepass")
    encoding = draw(st.integers(0, 5))
    if encoding == 0:
        return base64.b64encode(raw).decode()  # standard alphabet, padded
    if encoding == 1:
        return base64.urlsafe_b64encode(b"\xff\xfe" + raw).decode().rstrip("=")
    if encoding == 2:
        return choose(draw, ("!!!!", "====", "\u00e9\u00e9\u00e9\u00e9", "a", "\x00"))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HOSTILE_CURSOR = hostile_cursor()


@functools.cache
def query_value(name: str) -> st.SearchStrategy[str]:
    """A hostile value for the query parameter ``name``."""
    if name in ("start_date", "end_date", "from", "to"):
        return st.sampled_from(("0001-01-01", "9999-12-31", *EXTREME_DATES)) | hostile_text
    if name in ("limit", "page"):
        return st.sampled_from(tuple(NUMBERS_AS_TEXT)) | hostile_text
    if name == "cursor":
        return HOSTILE_CURSOR
    if name.endswith("_id") or name == "id":
        return st.sampled_from((*UUID_LOOK_ALIKES, "none")) | hostile_text
    return hostile_text


def quote(text: str, limit: int = 0) -> str:
    """Percent-encode every byte (lone surrogates as the invalid UTF-8 they would be); with
    ``limit``, at most that many characters of ``text`` (what goes in a URL: gunicorn
    refuses request lines over 4 KB before the app sees them)."""
    text = text[:limit] if limit else text
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


URL_TEXT = 300  # characters of one hostile value in a path or query
MAX_URL = 4000  # bytes of a request line's URL


RAW_BYTES_IN_URLS = ["%FF", "%C0%80", "%ED%A0%80", "%E2%80", "%00", "%F4%90%80%80"]


@st.composite
def _encoded_query(draw: st.DrawFn, names: tuple[str, ...], metadata: bool) -> str:
    pairs: list[tuple[str, str]] = []
    if names:
        for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
            pairs.append((quote(name), quote(draw(query_value(name)), URL_TEXT)))
            if name in ("start_date", "end_date") and draw(st.booleans()):
                other = "end_date" if name == "start_date" else "start_date"
                edge = "9999-12-31" if other == "end_date" else "0001-01-01"
                pairs.append((other, quote(choose(draw, (edge, "2026-01-01")))))
    extra = draw(st.integers(0, 3))
    if extra == 0 and metadata:
        key = draw(METADATA_KEY)
        pairs.append((quote(f"metadata.{key}", URL_TEXT), quote(draw(hostile_text), URL_TEXT)))
    elif extra == 1:
        pairs.append((quote(draw(hostile_text), URL_TEXT), quote(draw(hostile_text), URL_TEXT)))
    elif extra == 2 and names:
        pairs.append((quote(draw(st.sampled_from(names))), choose(draw, RAW_BYTES_IN_URLS)))
    query = ""
    for key, value in pairs:
        if len(query) + len(key) + len(value) + 2 > MAX_URL - 300:
            break
        query += ("&" if query else "") + f"{key}={value}"
    return query


METADATA_KEY = st.sampled_from(("k", "name")) | hostile_text


@functools.cache
def encoded_query(names: tuple[str, ...], metadata: bool = False) -> st.SearchStrategy[str]:
    """A query string: a few of ``names`` (and, with ``metadata``, ``metadata.<key>``
    filters) hostile; the date range often paired so that it gets past "both ends
    required"."""
    return _encoded_query(tuple(sorted(set(names))), metadata)


# --------------------------------------------------------------------------- the catalogue

# Besides what hypothesis draws, every recipe first sends its share of a catalogue: each of
# the inputs above at each place of the route (a "focus": the rest of the request valid),
# interleaved target by target, so that the inputs issue #10 named reach every route in
# every run whatever hypothesis prefers to draw.
PATH_BAD = ("\x00", "a\x00b", "\ud800", "Bl\u200back", "x" * 300)
QUERY_BAD = ("\x00", "\ud800", "1e400", str(2**64), "9" * 300, "NaN", "-1", "9999-12-31")
FORM_BAD = ("\x00", "a\x00b", "\ud800", "9999-12-31", "0001-01-01", "1e400", "Bl\u200back")
FORM_BAD += ("x" * 5000, "=1+1", str(2**64))
DATE_PAIRS = (
    "start_date=0001-01-01&end_date=9999-12-31",
    "start_date=2026-01-01&end_date=9999-12-31",
    "start_date=0001-01-01&end_date=2026-01-01",
    "start_date=9999-12-31&end_date=9999-12-31",
    "start_date=0001-01-01%2000%3A00%3A00&end_date=9999-12-31%2023%3A59%3A59",
    "start_date=2026-02-30&end_date=2026-03-01",
)
CONSOLE_DATES = ("from=0001-01-01&to=9999-12-31", "to=9999-12-31", "from=9999-12-31")
CONSOLE_DATES += ("from=0001-01-01", "from=2026-02-30")


def _cursor(payload: str) -> str:
    return urllib.parse.quote(
        base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).decode().rstrip("=")
    )


_T, _I = json_string(_VALID_T), json_string(_VALID_I)
WRONG_CURSORS = tuple(
    "cursor=" + _cursor(payload)
    for payload in (
        f'{{"t":{_T},"i":123,"d":"next"}}',
        f'{{"t":{_T},"i":[],"d":"next"}}',
        f'{{"t":1,"i":{_I},"d":"next"}}',
        f'{{"t":{{}},"i":{_I},"d":"next"}}',
        f'{{"t":{_T},"i":{_I},"d":5}}',
        "[]",
        "null",
        '"x"',
        f'{{"t":"0001-01-01T00:00:00+14:00","i":{_I},"d":"prev"}}',
        f'{{"t":"9999-12-31T23:59:59.999999-14:00","i":{_I},"d":"next"}}',
        f'{{"t":"2026\\u0000","i":{_I},"d":"next"}}',
        f'{{"t":{_T},"i":"\\ud800","d":"next"}}',
        f'{{"t":1e400,"i":{_I},"d":"next"}}',
        nested(3_000, "object"),
    )
)
METADATA_BAD = tuple(
    [("k", raw) for raw in ("1e400", "-1e400", "NaN", "Infinity", json.dumps("\x00"))]
    + [("k", raw) for raw in (json.dumps("\ud800"), nested(10_000, "array"), '{"a":1}')]
    + [(key, '"v"') for key in ("\x00", "k\x00", "\ud800", "x" * 101)]
)
# Metadata filter keys: a number as a key is read as an array index by PostgreSQL's ->>.
METADATA_KEYS_BAD = (str(2**64), "\x00", "\ud800", "-1", "0", "1e400", "a.b", "'")
WHOLE_BAD = (nested(50_000, "array"), nested(5_000, "object"), '{"name":"a","name":"b"}')
WHOLE_BAD += ("NaN", "1e400", '"\\ud800"', "[]")
HEADER_BAD = {
    "Idempotency-Key": (b"\x00", b"k\x00", b"\xed\xa0\x80", b"x" * 300, "é".encode()),
    "If-Match": (b"\x00", b'"\x00"', b"\xed\xa0\x80", b"*", b'W/"x"'),
}


def interleave(groups: list[list]) -> list:
    """The first of every group, then the second of every group, …"""
    return [item for row in itertools.zip_longest(*groups) for item in row if item is not None]


def api_focuses(method: str, names: tuple, query: tuple, fields: tuple) -> list[tuple]:
    """The catalogue of one API operation."""
    groups: list[list] = []
    if method in ("GET", "HEAD") and query:
        groups.append([("query", f"metadata.k={quote(v)}") for v in ("\x00", "\ud800", "1e400")])
        groups.append([("query", f"metadata.{quote(k)}=v") for k in METADATA_KEYS_BAD])
    if "start_date" in query:
        groups.append([("query", pair) for pair in DATE_PAIRS])
    if "cursor" in query:
        groups.append([("query", cursor) for cursor in WRONG_CURSORS])
    if "metadata" in fields:
        groups.append([("metadata", key, raw) for key, raw in METADATA_BAD])
    if fields:
        groups.append([("whole", raw) for raw in WHOLE_BAD])
    groups += [[("body", field, raw) for raw in KNOWN_BAD_JSON] for field in fields]
    plain = [q for q in query if q not in ("start_date", "end_date", "cursor")]
    groups += [[("query", f"{q}={quote(v)}") for v in QUERY_BAD] for q in plain]
    groups += [[("path", name, text) for text in PATH_BAD] for name in names]
    if method == "POST":
        groups.append([("header", "Idempotency-Key", raw) for raw in HEADER_BAD["Idempotency-Key"]])
    if method in ("PATCH", "DELETE"):
        groups.append([("header", "If-Match", raw) for raw in HEADER_BAD["If-Match"]])
    return interleave(groups)


def console_focuses(method: str, names: tuple, fields: tuple, export: bool) -> list[tuple]:
    """The catalogue of one console route and method."""
    groups: list[list] = []
    if method == "GET":
        if "from" in fields:
            groups.append([("query", pair) for pair in CONSOLE_DATES])
        if "start_date" in fields:
            groups.append([("query", pair) for pair in DATE_PAIRS])
        if "metadata" in fields:
            texts = ("k=\x00", f"{2**64}=v", "\x00=v", "k=\ud800", "-1=v", "1e400=v")
            groups.append([("query", f"metadata={quote(v)}") for v in texts])
        if export:
            groups.append([("query", f"metadata.k={quote(v)}") for v in ("\x00", "\ud800")])
            groups.append([("query", f"metadata.{quote(k)}=v") for k in METADATA_KEYS_BAD])
        plain = [f for f in fields if f not in ("from", "to", "start_date", "end_date")]
        groups += [[("query", f"{f}={quote(v)}") for v in QUERY_BAD] for f in plain]
    else:
        if "metadata_key" in fields:
            pairs = [("\x00", "v"), ("k", "\x00"), ("k\x00", "v"), ("\ud800", "v")]
            pairs += [("k", "\ud800"), ("x" * 101, "v"), ("k", "x" * 2001), ("k", "1e400")]
            groups.append([("metadata", key, value) for key, value in pairs])
        groups += [[("field", f, text) for text in FORM_BAD] for f in fields]
    groups += [[("path", name, text) for text in PATH_BAD[:3]] for name in names]
    return interleave(groups)


# --------------------------------------------------------------------------- requests


@dataclasses.dataclass
class Request:
    """One request as sent: ``path`` and ``query`` already percent-encoded."""

    route_class: str
    route: str
    method: str
    path: str
    query: str = ""
    headers: dict[str, bytes] = dataclasses.field(default_factory=dict)
    body: bytes | None = None
    duplicate_keys: bool = False
    session: str = "user"  # whose cookies: the signed-in user's, or "anonymous"

    @property
    def url(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    def describe(self, width: int = 240) -> str:
        shown = {name: value for name, value in self.headers.items() if name in HOSTILE_HEADERS}
        text = f"{self.method} {excerpt(self.url.encode(), width)}"
        if shown:
            text += " headers " + ", ".join(f"{k}: {excerpt(v, 80)}" for k, v in shown.items())
        if self.body is not None:
            text += f" body({len(self.body)} bytes) {excerpt(self.body, width)}"
        return text


@dataclasses.dataclass
class Answer:
    status: int  # 0: no answer (connection error or timeout)
    headers: dict[str, str]
    body: bytes
    error: str = ""
    cause: str = ""  # in-process: the exception the view raised, where (see Failure.cause)
    message: str = ""

    @property
    def from_app(self) -> bool:
        """The app answered (it sets ``X-Request-Id``), not gunicorn refusing the bytes."""
        return "x-request-id" in self.headers


HOSTILE_HEADERS = ("Idempotency-Key", "If-Match", "Content-Type")


def excerpt(raw: bytes, width: int) -> str:
    text = raw.decode("utf-8", "backslashreplace")
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= width else text[:width] + f"…(+{len(text) - width})"


class Transport(Protocol):
    def send(self, request: Request) -> Answer: ...

    def cookie(self, name: str, session: str = "user") -> str: ...


class HttpTransport:
    """http.client on loopback, with a cookie jar per session (the signed-in user's, and
    an anonymous one for the sign-in form)."""

    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.jars: dict[str, dict[str, str]] = collections.defaultdict(dict)

    def send(self, request: Request) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.putrequest(request.method, request.url, skip_accept_encoding=True)
            headers = dict(request.headers)
            jar = self.jars[request.session]
            if jar:
                cookie = "; ".join(f"{name}={value}" for name, value in jar.items())
                headers.setdefault("Cookie", cookie.encode())
            if request.body is not None:
                headers["Content-Length"] = str(len(request.body)).encode()
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(request.body)
            response = connection.getresponse()
            body = response.read()
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    cookies = http.cookies.SimpleCookie()
                    cookies.load(value)
                    for morsel in cookies.values():
                        if morsel["max-age"] == "0" or not morsel.value:
                            jar.pop(morsel.key, None)
                        else:
                            jar[morsel.key] = morsel.value
            return Answer(response.status, answer_headers, body)
        except (OSError, http.client.HTTPException) as error:
            return Answer(0, {}, b"", f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def cookie(self, name: str, session: str = "user") -> str:
        return self.jars[session].get(name, "")


class DjangoClientTransport:
    """The same requests in-process, through Django's test client (CSRF enforced), for the
    test suite: no server, the same checks. Every request comes from ``address``, so that
    the sign-in form's failures never lock out the address other tests sign in from."""

    def __init__(self, address: str = "192.0.2.10") -> None:
        from django.core.signals import got_request_exception
        from django.test import Client

        def client() -> Client:
            return Client(enforce_csrf_checks=True, raise_request_exception=False)

        self.clients = collections.defaultdict(client)
        self.address = address
        self.exception: tuple[str, str] | None = None
        # The exception behind a 500: Django signals it, the API's handler logs it.
        got_request_exception.connect(self._record, weak=False)
        self.handler = logging.Handler(logging.ERROR)
        self.handler.emit = self._logged  # type: ignore[method-assign]
        logging.getLogger().addHandler(self.handler)

    def _record(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.exception = exception_cause(error, Path.cwd())

    def _logged(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exception = exception_cause(record.exc_info[1], Path.cwd())

    def send(self, request: Request) -> Answer:
        client = self.clients[request.session]
        self.exception = None
        extra = {
            "HTTP_" + name.upper().replace("-", "_"): value.decode("latin-1")
            for name, value in request.headers.items()
            if name != "Content-Type"
        }
        content_type = request.headers.get("Content-Type", b"").decode("latin-1")
        try:
            response = client.generic(
                request.method,
                request.url,
                data=request.body or b"",
                content_type=content_type or "application/octet-stream",
                REMOTE_ADDR=self.address,
                **extra,
            )
            body = b"".join(response.streaming_content) if response.streaming else response.content
        except Exception as error:  # raised while streaming: what a client sees as a 500
            cause, message = exception_cause(error, Path.cwd())
            return Answer(500, {}, b"", f"{type(error).__name__}", cause, message)
        headers = {name.lower(): value for name, value in response.headers.items()}
        cause, message = self.exception or ("", "")
        return Answer(response.status_code, headers, body, "", cause, message)

    def close(self) -> None:
        from django.core.signals import got_request_exception

        got_request_exception.disconnect(self._record)
        logging.getLogger().removeHandler(self.handler)

    def cookie(self, name: str, session: str = "user") -> str:
        morsel = self.clients[session].cookies.get(name)
        return morsel.value if morsel else ""


# --------------------------------------------------------------------------- the database


class Probe:
    """Cheap reads of what the fuzzer must not change: per table of the ``segments`` app
    its row count and greatest ``updated_at``; per named column the rows whose name holds
    invisible or bidi characters or is not NFC. One statement per snapshot."""

    def __init__(self, execute: Callable[[str], list[tuple]]) -> None:
        self.execute = execute
        tables = execute(
            "SELECT table_name, bool_or(column_name = 'updated_at') FROM "
            "information_schema.columns WHERE table_schema = current_schema() AND "
            "table_name LIKE 'segments\\_%' GROUP BY table_name ORDER BY table_name"
        )
        if not tables:
            raise RuntimeError("no table of the segments app found")
        self.labels: list[str] = []
        parts: list[str] = []
        for table, has_updated_at in tables:
            self.labels.append(f"{table} rows")
            parts.append(f'(SELECT count(*) FROM "{table}")::text')
            if has_updated_at:
                self.labels.append(f"{table} max(updated_at)")
                parts.append(f'(SELECT max(updated_at) FROM "{table}")::text')
        self.write_fields = len(self.labels)
        for table, column in NAMED_COLUMNS:
            self.labels.append(f"{table}.{column} look-alike")
            parts.append(
                f'(SELECT count(*) FROM "{table}" WHERE "{column}" ~ \'{INVISIBLE_IN_NAMES}\' '
                f'OR NOT "{column}" IS NFC NORMALIZED)::text'
            )
        self.sql = "SELECT " + ", ".join(parts)
        self.tables = [table for table, _ in tables]

    def snapshot(self) -> tuple:
        return tuple(self.execute(self.sql)[0])

    def writes(self, before: tuple, after: tuple) -> list[str]:
        return [
            f"{self.labels[n]}: {before[n]} -> {after[n]}"
            for n in range(self.write_fields)
            if before[n] != after[n]
        ]

    def look_alikes(self, before: tuple, after: tuple) -> list[str]:
        return [
            f"{self.labels[n]}: {before[n]} -> {after[n]}"
            for n in range(self.write_fields, len(self.labels))
            if int(after[n] or 0) > int(before[n] or 0)
        ]


def psycopg_probe(database_url: str) -> Probe:
    import psycopg

    connection = psycopg.connect(database_url, autocommit=True)

    def execute(sql: str) -> list[tuple]:
        return connection.execute(sql).fetchall()

    return Probe(execute)


# --------------------------------------------------------------------------- routes


@dataclasses.dataclass
class Recipe:
    """How to build hostile requests for one route and method."""

    route_class: str
    route: str
    method: str
    strategy: Callable[[Context, tuple | None], st.SearchStrategy[Request]]
    weight: float = 1.0  # its share of the requests, relative to the others
    focuses: list[tuple] = dataclasses.field(default_factory=list)  # its catalogue


@dataclasses.dataclass
class Context:
    ids: dict
    counter: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    csrf_token: Callable[[str], str] = lambda session: ""
    form_tokens: list[str] = dataclasses.field(default_factory=list)

    def unique(self, prefix: str) -> str:
        self.counter[prefix] += 1
        return f"{prefix}{self.counter[prefix]}-{uuid.uuid4().hex[:6]}"

    def victim(self, kind: str) -> str:
        """The next sacrificial row of ``kind`` (a delete consumes it)."""
        pool = self.ids["victims"][kind]
        self.counter[f"victim:{kind}"] += 1
        return pool[self.counter[f"victim:{kind}"] % len(pool)] if pool else self.ids[kind]


def api_route_class(method: str, path: str) -> str:
    if path.endswith("/metrics/count"):
        return "api count"
    if "/alias/" in path or "/external/" in path:
        return "api lookup"
    if "/members" in path or path.endswith("/history"):
        return "api members/history"
    collection = path.endswith("s") and not path.endswith("}")
    kind = {"GET": "list" if collection else "get", "POST": "create"}.get(method)
    return f"api {kind or method.lower()}"


def _entity_of(path: str) -> str:
    """The kind of the ``{id}`` of an API path (``organization_segment`` for segments
    without a ledger)."""
    collection = path.split("/{id}")[0].rsplit("/", 1)[-1]
    kind = {"organizations": "organization", "ledgers": "ledger", "portfolios": "portfolio"}
    kind |= {"accounts": "account", "segments": "segment", "benefits": "benefit"}
    name = kind.get(collection, "segment")
    if name in ("segment", "benefit") and "{ledger_id}" not in path:
        return f"organization_{name}"
    return name


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    for key in ("allOf", "oneOf", "anyOf"):
        if key in node:
            return _resolve(schema, node[key][0])
    return node


def valid_value(name: str, context: Context) -> Any:
    """A valid JSON value for body field ``name`` (fresh names and aliases)."""
    ids = context.ids
    if name == "name":
        return context.unique("hf ")
    if name == "legalName":
        return context.unique("HF Bank ")
    if name == "alias":
        return "@" + context.unique("hf").replace(" ", "")
    values: dict[str, Any] = {
        "legalDocument": "12345678901",
        "doingBusinessAs": "HF",
        "description": "hostile",
        "metadata": {"k": "v"},
        "status": {"code": "ACTIVE"},
        "code": "ACTIVE",
        "type": "deposit",
        "assetCode": "BRL",
        "entityId": "e-1",
        "segmentId": ids["segment"],
        "portfolioId": ids["portfolio"],
        "parentAccountId": None,
        "parentOrganizationId": None,
        "blocked": False,
        "accountIds": [ids["account"]],
        "portfolioIds": [ids["portfolio"]],
        "country": "BR",
    }
    return values.get(name, "x")


REQUIRED_ON_CREATE = {"name", "legalName", "legalDocument", "type", "assetCode", "accountIds"}
WHOLE_DOCUMENTS = st.sampled_from(('{"name":', "", "[]", "nul", '{"a":1}{"a":2}', "\x00", "{}"))
SUBFIELDS = {"status": ("code", "description"), "address": ("line1", "country", "zipCode")}
METADATA_VALUE = HOSTILE_JSON | st.just('"v"')


def api_body(schema: dict, body_schema: dict, context: Context, method: str):
    """The raw JSON bodies of one operation: a valid body (its fields from the schema)
    with one to three fields made hostile, a hostile value inside ``status``/``address``
    or ``metadata``, a field given twice, a hostile field name, a look-alike name, or a
    whole hostile document."""
    properties = _resolve(schema, body_schema).get("properties", {})
    names = tuple(properties) or ("name",)
    objects = {
        name: tuple(sub)
        for name, spec in properties.items()
        if name in ("status", "address") and (sub := _resolve(schema, spec).get("properties"))
    }
    holders = tuple(name for name in names if name in objects) or names
    named = tuple(name for name in names if name in ("name", "legalName")) or names
    some_fields = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)

    @st.composite
    def build(draw: st.DrawFn, focus: tuple | None = None) -> bytes:
        pairs: list[tuple[str, Any]] = []
        for name in names:
            optional = method == "PATCH" or name not in REQUIRED_ON_CREATE
            if optional and (focus is not None or draw(st.integers(0, 3 - (method == "PATCH")))):
                continue
            if name == "status":
                pairs.append((name, {"code": '"ACTIVE"'}))
            elif name in objects:
                pairs.append(
                    (name, {k: json.dumps(valid_value(k, context)) for k in objects[name]})
                )
            else:
                pairs.append((name, json.dumps(valid_value(name, context))))
        if focus is not None:
            kind = focus[0] if focus else ""
            if kind == "whole":
                return focus[1].encode("utf-8", "surrogatepass")
            if kind == "body":
                pairs = [(k, v) for k, v in pairs if k != focus[1]] + [(focus[1], focus[2])]
            elif kind == "metadata":
                pairs = [(k, v) for k, v in pairs if k != "metadata"]
                pairs.append(("metadata", {focus[1]: focus[2]}))
            return render_object(pairs).encode("utf-8", "surrogatepass")
        mode = draw(st.integers(0, 9))
        if mode <= 3:
            for name in draw(some_fields):
                pairs = [(key, value) for key, value in pairs if key != name]
                pairs.append((name, draw(HOSTILE_JSON)))
        elif mode == 4:
            holder = choose(draw, holders)
            key = choose(draw, SUBFIELDS.get(holder, ("code",)))
            pairs = [(k, v) for k, v in pairs if k != holder]
            pairs.append((holder, {key: draw(HOSTILE_JSON)}))
        elif mode == 5:
            pairs = [(k, v) for k, v in pairs if k != "metadata"]
            pairs.append(("metadata", {draw(METADATA_KEY): draw(METADATA_VALUE)}))
        elif mode == 6:
            name = choose(draw, names)
            value = json.dumps(valid_value(name, context))
            pairs += [(name, value), (name, draw(HOSTILE_JSON | st.just(value)))]
        elif mode == 7:
            pairs.append((draw(hostile_text), draw(HOSTILE_JSON)))
        elif mode == 8:
            name = choose(draw, named)
            pairs = [(k, v) for k, v in pairs if k != name]
            pairs.append((name, json_string(choose(draw, LOOK_ALIKE_WORDS))))
        else:
            return draw(HOSTILE_JSON | WHOLE_DOCUMENTS).encode("utf-8", "surrogatepass")
        return render_object(pairs).encode("utf-8", "surrogatepass")

    return build


def render_object(pairs: Iterable[tuple[str, Any]]) -> str:
    """A JSON object from (key, value) pairs — duplicates kept; a value is raw JSON text
    or a dict of the same."""
    parts = []
    for key, value in pairs:
        rendered = render_object(value.items()) if isinstance(value, dict) else value
        parts.append(f"{json_string(key)}:{rendered}")
    return "{" + ",".join(parts) + "}"


def has_duplicate_keys(raw: bytes) -> bool:
    """Whether the document, read as JSON (NaN and all), has an object with a key twice."""

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        keys = [key for key, _ in pairs]
        if len(keys) != len(set(keys)):
            raise KeyError("duplicate")
        return dict(pairs)

    try:
        json.loads(raw, object_pairs_hook=pairs_hook)
    except KeyError:
        return True
    except (ValueError, RecursionError):
        pass
    return False


CONTENT_TYPES = (b"application/json",) * 40 + (
    b"application/json; charset=utf-16",
    b"text/plain",
    b"multipart/form-data",
    b"application/x-www-form-urlencoded",
    b"application/json\xc3\xa9",
)
IDEMPOTENCY_KEYS = header_text | st.uuids().map(str)
IF_MATCH = header_text | st.sampled_from(('"x"', "*", 'W/"x"', '"', "W/"))
PATH_PREFIXES = ("@", "@maria", "BRL", "@external/")


def api_recipes(document: dict, token: str) -> list[Recipe]:
    """One recipe per operation of the served OpenAPI document."""
    recipes = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "head", "post", "patch", "delete", "put"):
                continue
            method = method.upper()
            parameters = operation.get("parameters", [])
            query = [p["name"] for p in parameters if p["in"] == "query"]
            if method == "DELETE" and "segments" in path:
                query.append("detach")
            if method == "GET" and "limit" in query:  # undocumented, read all the same
                query += ["sort", "cursor", "q"]
            body_schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            route_class = api_route_class(method, path)
            strategy = _api_strategy(document, path, method, tuple(query), body_schema, token)
            fields = (
                tuple(_resolve(document, body_schema).get("properties", {})) if body_schema else ()
            )
            names = tuple(re.findall(r"{(\w+)}", path))
            focuses = api_focuses(method, names, tuple(query), fields)
            recipes.append(
                Recipe(route_class, f"{method} {path}", method, strategy, focuses=focuses)
            )
    return recipes


def _api_strategy(document, path, method, query, body_schema, token):
    names = tuple(re.findall(r"{(\w+)}", path))
    looked_up = bool({"alias", "code"} & set(names))
    listing = method in ("GET", "HEAD")
    query_strategy = encoded_query(query, metadata=listing) if query or listing else st.just("")
    route_class = api_route_class(method, path)

    def strategy(context: Context, focus: tuple | None = None) -> st.SearchStrategy[Request]:
        body_strategy = api_body(document, body_schema, context, method) if body_schema else None
        aim = focus[0] if focus else None

        @st.composite
        def build(draw: st.DrawFn) -> Request:
            ids = context.ids
            values = {"organization_id": ids["organization"], "ledger_id": ids["ledger"]}
            values |= {"alias": ids["alias"], "code": ids["external_code"]}
            at_ledger = "{ledger_id}" in path
            values["segment_id"] = ids["segment" if at_ledger else "organization_segment"]
            # no refresh or preview job has these ids: a 404 each (0007)
            values |= {"refresh_id": str(uuid.uuid4()), "preview_id": str(uuid.uuid4())}
            if "{id}" in path:
                kind = _entity_of(path)
                values["id"] = context.victim(kind) if method == "DELETE" else ids[kind]
            target = None
            if aim == "path":
                target = focus[1]
            elif focus is None and names and draw(st.integers(0, 19)) < (12 if looked_up else 2):
                target = choose(draw, names)
            rendered = path
            for name in names:
                if name == target and aim == "path":
                    value = quote(focus[2], URL_TEXT)
                elif name == target:
                    text = draw(hostile_text)
                    if name in ("alias", "code") and draw(st.booleans()):
                        text = choose(draw, PATH_PREFIXES) + text
                    value = quote(text, URL_TEXT)
                else:
                    value = urllib.parse.quote(values[name])
                rendered = rendered.replace(f"{{{name}}}", value)
            headers = {"Authorization": f"Bearer {token}".encode(), "Accept": b"application/json"}
            if aim == "header":
                headers[focus[1]] = focus[2]
            elif focus is not None:
                pass
            elif method == "POST" and draw(st.booleans()):
                headers["Idempotency-Key"] = draw(IDEMPOTENCY_KEYS).encode("utf-8", "surrogatepass")
            if focus is None and method in ("PATCH", "DELETE", "PUT") and draw(st.booleans()):
                headers["If-Match"] = draw(IF_MATCH).encode("utf-8", "surrogatepass")
            body, duplicate = None, False
            if body_strategy is not None:
                # A focus elsewhere sends a valid body (the empty focus).
                on_body = focus if aim in ("body", "metadata", "whole") else ()
                body = draw(body_strategy(None if focus is None else on_body))
                duplicate = has_duplicate_keys(body)
                headers["Content-Type"] = (
                    b"application/json" if focus else choose(draw, CONTENT_TYPES)
                )
            elif focus is None and method in ("GET", "DELETE") and draw(st.integers(0, 9)) == 0:
                body = draw(deep_json).encode()
                headers["Content-Type"] = b"application/json"
            return Request(
                route_class,
                f"{method} {path}",
                method,
                rendered,
                focus[1] if aim == "query" else "" if focus else draw(query_strategy),
                headers,
                body,
                duplicate,
            )

        return build()

    return strategy


# --------------------------------------------------------------------------- console

# Every console (and CSV export) route: what its GET takes in the query string and what
# its POST form carries. Field names come from segments/console/forms.py and the views;
# the fields the served pages' forms show are added to these (FormFields).
LIST_FILTERS = ["q", "status", "from", "to", "metadata", "sort", "sort_order", "limit", "page"]
SEGMENT_FORM = ["name", "status", "description", "metadata_key", "metadata_value", "form_token"]
ACCOUNT_FORM = ["name", "alias", "type", "asset_code", "entity_id", "portfolio_id"]
ACCOUNT_FORM += ["segment_id", "status"]
MEMBER_EDIT = ["name", "entity_id", "segment_id", "status", "etag"]
RECORD_LIST = ["q", "segment_id", "sort", "sort_order", "limit", "page"]
BENEFIT_FORM = ["name", "kind", "status", "description", "priority", "exclusivity_group"]
BENEFIT_FORM += ["valid_from", "valid_until", "parameters.percentage", "parameters.assetCode"]
BENEFIT_FORM += ["parameters.cap.amount", "parameters.cap.period", "parameters.serviceCode"]
BENEFIT_FORM += ["parameters.basisPoints", "parameters.allowance.count", "custom"]
RULE_FORM = ["expression", "subject", "priority"]
CONSOLE_ROUTES: dict[str, tuple[list[str] | None, list[str] | None]] = {
    # name: (GET query parameters, POST form fields); None: the method is not fuzzed
    "login": ([], ["username", "password", "next"]),
    "logout": (None, []),
    "home": (["page"], None),
    "organization": (LIST_FILTERS, None),
    "ledger": (["tab"], None),
    "ledger_segments": ([*LIST_FILTERS, "create"], None),
    "ledger_accounts": (RECORD_LIST, None),
    "account_create": ([], ACCOUNT_FORM),
    "accounts_bulk_segment": (None, ["account_ids", "action", "segment_id"]),
    "account_edit": ([], [*MEMBER_EDIT, "portfolio_id", "blocked"]),
    "ledger_portfolios": (RECORD_LIST, None),
    "portfolio_create": ([], ["name", "entity_id", "segment_id", "status"]),
    "portfolios_bulk_segment": (None, ["portfolio_ids", "action", "segment_id"]),
    "portfolio_edit": ([], MEMBER_EDIT),
    "segment_create": ([], SEGMENT_FORM),
    "segment": ([], None),
    "segment_members": (["kind", "q", "sort", "sort_order", "limit", "page"], None),
    "segment_members_add": (["kind", "q", "account_ids"], ["kind", "q", "account_ids"]),
    "segment_members_remove": (None, ["account_ids", "portfolio_ids", "kind"]),
    "segment_history": (["page", "limit"], None),
    "segment_edit": ([], [*SEGMENT_FORM[:-1], "etag"]),
    "segment_delete": (["from"], ["detach", "from"]),
    "segments_csv": (["name", "status", "start_date", "end_date", "sort", "sort_order"], None),
    "segment_members_csv": (["kind", "start_date", "end_date", "sort", "sort_order"], None),
    "account": (["at"], None),
    "segment_benefits": (["kind", "status", "name", "sort", "sort_order", "limit", "page"], None),
    "segment_benefit_create": (["kind", "redraw"], BENEFIT_FORM),
    "segment_benefit": ([], None),
    "segment_benefit_edit": (["kind", "redraw"], [*BENEFIT_FORM, "etag"]),
    "segment_benefit_delete": (["from"], ["from"]),
    "segment_rule": ([], None),
    "segment_rule_save": (None, RULE_FORM),
    "segment_rule_preview": (None, RULE_FORM),
    "segment_rule_preview_job": (["subject", "priority"], None),
    "segment_rule_remove": (None, ["keep_members"]),
    "segment_rule_refresh": ([], None),
    "segment_rule_refresh_run": (None, []),
}
ANONYMOUS_ROUTES = ("login", "logout")  # fuzzed signed out: signed in, they only redirect
FORM_TEXT = hostile_text | st.sampled_from(tuple(EXTREME_DATES + HUGE_AND_TINY_NUMBERS))
MULTI_VALUED = {"metadata_key", "metadata_value", "account_ids", "portfolio_ids"}
HX_TARGETS = ("tab-body", "segments-table", "members-table", "picker-results", "dialog-body")
HX_TARGETS += ("benefits-table", "account-gets", "rule-preview", "rule-refresh")


def console_route_class(name: str, method: str) -> str:
    if name.endswith("_csv"):
        return "csv export"
    if name in ("login", "logout"):
        return "console sign-in"
    if method == "GET":
        return "console page/filters"
    if name.endswith(("_create", "_edit")):
        return "console create/edit form"
    return "console action (members, bulk, delete)"


def valid_form_value(name: str, context: Context) -> list[str]:
    """What a browser would send in field ``name`` (fresh names, a fresh form token)."""
    ids = context.ids
    if name == "name":
        return [context.unique("hf ")]
    if name == "alias":
        return ["@" + context.unique("hf").replace(" ", "")]
    if name == "form_token":
        return [context.form_tokens.pop() if context.form_tokens else uuid.uuid4().hex]
    values = {
        "type": ["deposit"],
        "asset_code": ["BRL"],
        "status": ["ACTIVE"],
        "segment_id": [ids["segment"]],
        "account_ids": [ids["account"]],
        "portfolio_ids": [ids["portfolio"]],
        "kind": ["accounts"],
        "action": ["set"],
        "metadata_key": ["k"],
        "metadata_value": ["v"],
        "expression": ['metadata.tier == "black"'],
        "subject": ["account"],
        "keep_members": ["true"],
        "username": [USERNAME + "-nobody"],
        "password": ["wrong"],
    }
    return values.get(name, [""])


def _console_path(route: str, name: str, context: Context, override: dict | None = None) -> str:
    """The route's path with the seeded ids (a sacrificial segment, or benefit of the
    seeded segment, for deletes), or the values of ``override``."""
    ids = context.ids
    org_level = name.startswith("org_")
    segment_kind = "organization_segment" if org_level else "segment"
    benefit_kind = "organization_benefit" if org_level else "benefit"
    deletes = name.endswith("delete")
    segment = context.victim(segment_kind) if deletes and "benefit" not in name else None
    benefit = context.victim(benefit_kind) if deletes and "benefit" in name else None
    values = {
        "benefit_id": benefit or ids.get(benefit_kind, ""),
        "organization_id": ids["organization"],
        "ledger_id": ids["ledger"],
        "segment_id": segment or ids[segment_kind],
        "account_id": ids["account"],
        "portfolio_id": ids["portfolio"],
        "job_id": str(uuid.uuid4()),
    } | (override or {})
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def console_recipes(routes: list[tuple[str, str]], discovered: dict[str, set[str]]) -> list:
    """One recipe per console route and fuzzed method; stops on a route without one."""
    recipes, missing = [], []
    for route, name in routes:
        key = name.removeprefix("org_")
        if key not in CONSOLE_ROUTES:
            missing.append(name)
            continue
        get_fields, post_fields = CONSOLE_ROUTES[key]
        extra = discovered.get(name, set()) - {"csrfmiddlewaretoken"}
        if get_fields is not None:
            recipes.append(_console_recipe(route, name, "GET", sorted(set(get_fields))))
        if post_fields is not None:
            recipes.append(_console_recipe(route, name, "POST", sorted(set(post_fields) | extra)))
    if missing:
        raise SystemExit(f"console routes without a fuzz recipe (add to CONSOLE_ROUTES): {missing}")
    return recipes


def _console_recipe(route: str, name: str, method: str, fields: list[str]) -> Recipe:
    route_class = console_route_class(name.removeprefix("org_"), method)
    session = "anonymous" if name in ANONYMOUS_ROUTES else "user"
    names = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route))
    query_strategy = encoded_query(tuple(fields), metadata=name.endswith("_csv"))
    some_fields = (
        st.lists(st.sampled_from(tuple(fields)), min_size=1, max_size=3, unique=True)
        if fields
        else st.just([])
    )

    def strategy(context: Context, focus: tuple | None = None) -> st.SearchStrategy[Request]:
        aim = focus[0] if focus else None

        @st.composite
        def build(draw: st.DrawFn) -> Request:
            hostile = {}
            if aim == "path":
                hostile[focus[1]] = quote(focus[2], URL_TEXT)
            elif focus is None and names and draw(st.integers(0, 14)) == 0:
                hostile[choose(draw, names)] = quote(draw(hostile_text), URL_TEXT)
            path = _console_path(route, name, context, hostile)
            headers: dict[str, bytes] = {"Accept": b"text/html"}
            if method == "POST" or draw(st.integers(0, 9)) < 8:
                headers["HX-Request"] = b"true"
                if method == "GET" and draw(st.booleans()):
                    headers["HX-Target"] = choose(draw, HX_TARGETS).encode()
            if method == "GET":
                return Request(
                    route_class,
                    f"GET /{route}",
                    "GET",
                    path,
                    focus[1] if aim == "query" else "" if focus else draw(query_strategy),
                    headers,
                    session=session,
                )
            pairs: list[tuple[str, str]] = []
            hostile_fields = set() if focus else set(draw(some_fields))
            for field in fields:
                if aim == "field" and field == focus[1]:
                    values = [focus[2]]
                elif aim == "metadata" and field in ("metadata_key", "metadata_value"):
                    values = [focus[1] if field == "metadata_key" else focus[2]]
                elif field in hostile_fields:
                    count = draw(st.integers(1, 3)) if field in MULTI_VALUED else 1
                    values = [draw(FORM_TEXT) for _ in range(count)]
                elif focus is None and draw(st.integers(0, 5)) == 0:
                    continue  # a field left out
                else:
                    values = valid_form_value(field, context)
                pairs += [(field, value) for value in values]
            token = context.csrf_token(session)
            pairs.append(("csrfmiddlewaretoken", token))
            headers["X-CSRFToken"] = token.encode()
            headers["Content-Type"] = b"application/x-www-form-urlencoded"
            body = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()
            return Request(
                route_class, f"POST /{route}", "POST", path, "", headers, body, session=session
            )

        return build()

    # Signing in runs the password hasher (slow by design): a smaller share.
    weight = 0.25 if name in ANONYMOUS_ROUTES else 1.0
    focuses = console_focuses(method, names, tuple(fields), name.endswith("_csv"))
    return Recipe(route_class, f"/{route}", method, strategy, weight, focuses)


class FormFields(HTMLParser):
    """The names of the fields of every form of a page, by the form's action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, set[str]] = collections.defaultdict(set)
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes.get("action") or attributes.get("hx-post") or ""
            return
        name = attributes.get("name")
        if self.action is not None and name and tag in ("input", "select", "textarea"):
            self.forms[self.action].add(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.action = None


# --------------------------------------------------------------------------- checks


@dataclasses.dataclass
class Failure:
    kind: str
    request: Request
    answer: Answer
    detail: str = ""
    cause: str = ""  # the server's exception type and where it was raised (groups failures)
    message: str = ""  # the exception's message


@dataclasses.dataclass
class Tally:
    per_class: dict[str, collections.Counter] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    failures: list[Failure] = dataclasses.field(default_factory=list)
    sent: int = 0
    seconds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    seconds_per_class: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def count(self, request: Request, answer: Answer) -> None:
        self.sent += 1
        bucket = f"{answer.status // 100}xx" if answer.status else "no answer"
        self.per_class[request.route_class][bucket] += 1
        self.per_class[request.route_class]["requests"] += 1
        if 400 <= answer.status < 500 and not answer.from_app:
            self.per_class[request.route_class]["4xx by gunicorn"] += 1

    def fail(self, failure: Failure) -> None:
        self.failures.append(failure)
        self.per_class[failure.request.route_class][f"fail: {failure.kind}"] += 1


def check(request: Request, answer: Answer, before: tuple, after: tuple, probe: Probe) -> list:
    """Every property one answer must have; the failures (kind, detail)."""
    found = []
    status = answer.status
    if status == 0:
        found.append(("no answer", answer.error))
    elif status >= 500:
        found.append(("5xx", ""))
    if 400 <= status < 500:
        writes = probe.writes(before, after)
        if writes:
            found.append(("write on 4xx", "; ".join(writes)))
        if request.path.startswith("/v1/") and request.method != "HEAD" and answer.from_app:
            problem = _problem_error(answer)
            if problem:
                found.append(("4xx not a problem document", problem))
    if request.duplicate_keys and 200 <= status < 300:
        found.append(("duplicate JSON keys accepted", ""))
    look_alikes = probe.look_alikes(before, after)
    if look_alikes:
        found.append(("look-alike name stored", "; ".join(look_alikes)))
    if 200 <= status < 300 and request.path.endswith(".csv"):
        formula = _formula_cell(answer.body)
        if formula:
            found.append(("formula in CSV", formula))
    return found


def _problem_error(answer: Answer) -> str:
    try:
        document = json.loads(answer.body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(document, dict):
        return "body is not an object"
    wrong = [
        what
        for what, ok in (
            ("code (a string)", isinstance(document.get("code"), str)),
            ("status (= HTTP status)", document.get("status") == answer.status),
            ("title", bool(document.get("title"))),
        )
        if not ok
    ]
    return ("missing or wrong: " + ", ".join(wrong)) if wrong else ""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_cell(body: bytes) -> str:
    for row in csv.reader(io.StringIO(body.decode("utf-8-sig", "replace"))):
        for cell in row:
            if cell.startswith(FORMULA_START):
                return f"cell {cell[:60]!r} in row {row[:3]}"
    return ""


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass
class Run:
    transport: Transport
    probe: Probe
    context: Context
    deadline: float
    wanted: int
    tally: Tally = dataclasses.field(default_factory=Tally)
    snapshot: tuple = ()
    log: io.TextIOBase | None = None  # one line per request, for debugging the fuzzer

    def send(self, request: Request) -> Answer:
        request.headers["X-Request-Id"] = (
            f"hf-{self.tally.sent:06d}-{uuid.uuid4().hex[:8]}".encode()
        )
        before = self.snapshot or self.probe.snapshot()
        started = time.monotonic()
        answer = self.transport.send(request)
        answered = time.monotonic()
        self.snapshot = self.probe.snapshot()
        self.tally.seconds["server"] += answered - started
        self.tally.seconds["database probe"] += time.monotonic() - answered
        self.tally.seconds_per_class[request.route_class] += answered - started
        self.tally.count(request, answer)
        for kind, detail in check(request, answer, before, self.snapshot, self.probe):
            cause = answer.cause if kind == "5xx" else ""
            self.tally.fail(Failure(kind, request, answer, detail, cause, answer.message))
        if self.log is not None:
            print(
                f"{answer.status} {excerpt(answer.body, 160)}\n    {request.describe(300)}",
                file=self.log,
            )
        return answer

    def done(self) -> bool:
        return self.tally.sent >= self.wanted or time.monotonic() > self.deadline


def run_recipe(run: Run, recipe: Recipe, examples: int, seed: int, focuses: list) -> int:
    """Send the ``focuses`` (one request each), then hypothesis' own requests up to
    ``examples`` in all; the number sent."""
    sent = 0
    settings = hypothesis.settings(
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )

    def send(request: Request) -> None:
        nonlocal sent
        if sent >= examples or run.done():
            return
        run.send(request)
        sent += 1

    for number, focus in enumerate(focuses):
        # One test per focus: hypothesis must not see its draws change from one example
        # to the next (they depend on the focus).
        hypothesis.seed(seed + number)(
            hypothesis.settings(settings, max_examples=1)(
                hypothesis.given(request=recipe.strategy(run.context, focus))(send)
            )
        )()
    hypothesis.seed(seed)(
        hypothesis.settings(settings, max_examples=max(1, examples - sent))(
            hypothesis.given(request=recipe.strategy(run.context, None))(send)
        )
    )()
    return sent


CATALOGUE_SHARE = 0.6


def fuzz(run: Run, recipes: list[Recipe], seed: int) -> None:
    """Spread the wanted requests over the recipes (every route gets its share), top up
    the ones hypothesis ended early."""
    rounds = 0
    total_weight = sum(recipe.weight for recipe in recipes)
    while not run.done() and rounds < 5:
        remaining = run.wanted - run.tally.sent
        for index, recipe in enumerate(recipes):
            if run.done():
                break
            share = max(1, round(remaining * recipe.weight / total_weight + 0.5))
            # The first round sends the catalogue first: up to 60 % of the share.
            focuses = recipe.focuses[: int(share * CATALOGUE_SHARE + 0.5)] if rounds == 0 else []
            run_recipe(run, recipe, share, seed * 1000 + rounds * 100 + index, focuses)
        rounds += 1


# --------------------------------------------------------------------------- server log


# Django's log lines ("2026-01-01 00:00:00,000 ERROR … request_id=…") and gunicorn's
# ("[2026-01-01 00:00:00 +0000] [pid] [ERROR] Error handling request GET /url").
LOG_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ |\[\d{4}-\d\d-\d\d )", re.M)
FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def exception_cause(error: BaseException, app_dir: Path) -> tuple[str, str]:
    """The cause of an exception raised in-process, as ``causes_from_log`` gives it."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if str(app_dir) in f.filename and "/.venv/" not in f.filename]
    where = ""
    if ours or frames:
        frame = (ours or frames)[-1]
        where = f" at {os.path.relpath(frame.filename, app_dir)}:{frame.lineno} in {frame.name}"
    kind = f"{type(error).__module__}.{type(error).__qualname__}".removeprefix("builtins.")
    return kind + where, f"{kind}: {error}"[:300]


EXCEPTION_LINE = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Warning))\b:?")


def causes_from_log(log: str, app_dir: Path) -> dict[str, tuple[str, str]]:
    """request id (or, for gunicorn's records, "METHOD url") → the cause of its traceback
    ("ExceptionType at file:line in function", the innermost frame of the app) and the
    exception's message."""
    causes = {}
    starts = [match.start() for match in LOG_RECORD.finditer(log)] + [len(log)]
    for start, end in itertools.pairwise(starts):
        record = log[start:end]
        found = re.search(r"request_id=(\S+)", record) or re.search(
            r"Error handling request (\S+ \S+)", record
        )
        if not found or "Traceback" not in record:
            continue
        lines = [line.strip() for line in record.splitlines() if line.strip()]
        exception = next(
            (line for line in reversed(lines) if EXCEPTION_LINE.match(line)), lines[-1]
        )
        name = EXCEPTION_LINE.match(exception)
        frames = FRAME.findall(record)
        ours = [f for f in frames if str(app_dir) in f[0] and "/.venv/" not in f[0]] or frames
        where = ""
        if ours:
            file, line, function = ours[-1]
            where = f" at {os.path.relpath(file, app_dir)}:{line} in {function}"
        kind = name.group(1) if name else exception[:60]
        causes[found.group(1)] = (kind + where, exception[:300])
    return causes


# --------------------------------------------------------------------------- report


def report(tally: Tally, wanted: int, seconds: float, out=sys.stdout) -> bool:
    """Print the figures and the failures grouped by cause; True when all held."""
    totals: collections.Counter = collections.Counter()
    for counts in tally.per_class.values():
        totals.update(counts)
    writes = sum(1 for failure in tally.failures if failure.kind == "write on 4xx")
    server_errors = totals["5xx"]
    print("\nHostile fuzzing (hypothesis) of the API and the console", file=out)
    print(f"  requests sent:         {tally.sent} (wanted {wanted}) in {seconds:.1f} s", file=out)
    for bucket in ("2xx", "3xx", "4xx"):
        print(f"  {bucket}:                   {totals[bucket]}", file=out)
    print(f"  4xx refused by gunicorn before the app: {totals['4xx by gunicorn']}", file=out)
    print(f"  5xx:                   {server_errors} (must be 0)", file=out)
    print(f"  no answer:             {totals['no answer']} (must be 0)", file=out)
    print(f"  writes on 4xx:         {writes} (must be 0)", file=out)
    spent = ", ".join(f"{name} {value:.1f} s" for name, value in tally.seconds.items())
    print(f"  time spent:            {spent}", file=out)
    print("  per route class:", file=out)
    print(
        f"    {'class':40} {'requests':>8} {'2xx':>6} {'3xx':>6} {'4xx':>6} {'5xx':>5} "
        f"{'writes':>6} {'fails':>6}",
        file=out,
    )
    for name in sorted(tally.per_class):
        counts = tally.per_class[name]
        fails = sum(value for key, value in counts.items() if key.startswith("fail: "))
        mean = 1000 * tally.seconds_per_class[name] / max(1, counts["requests"])
        print(
            f"    {name:40} {counts['requests']:8} {counts['2xx']:6} {counts['3xx']:6} "
            f"{counts['4xx']:6} {counts['5xx']:5} {counts['fail: write on 4xx']:6} {fails:6}"
            f" {mean:6.0f} ms",
            file=out,
        )
    groups: dict[tuple[str, str], list[Failure]] = collections.defaultdict(list)
    for failure in tally.failures:
        # One group per root cause: where the server raised it and what it said (numbers
        # and quoted values aside), or, without a traceback, the route and the answer.
        first_line = (failure.message.splitlines() or [""])[0]
        said = re.sub(r"'[^']*'|\d+", "…", first_line.split(": ", 1)[-1])[:70]
        cause = f"{failure.cause} — {said}" if failure.cause else _shape(failure)
        groups[(failure.kind, cause)].append(failure)
    print(f"  failures:              {len(tally.failures)} in {len(groups)} groups", file=out)
    for (kind, cause), failures in sorted(groups.items(), key=lambda item: -len(item[1])):
        first = failures[0]
        routes = sorted({failure.request.route for failure in failures})
        print(f"\n  [{kind}] x{len(failures)} — {cause}", file=out)
        print(f"    routes: {', '.join(routes[:6])}{' …' if len(routes) > 6 else ''}", file=out)
        print(f"    request:  {first.request.describe()}", file=out)
        answer = f"{first.answer.status or first.answer.error} {excerpt(first.answer.body, 200)}"
        print(f"    answer:   {answer}", file=out)
        if first.message:
            print(f"    error:    {first.message}", file=out)
        if first.detail:
            print(f"    detail:   {first.detail[:300]}", file=out)
    ok = tally.sent >= wanted and not tally.failures
    print("\n  result:                " + ("PASS" if ok else "FAIL"), file=out)
    return ok


def _shape(failure: Failure) -> str:
    """A cause for failures without a traceback: the route and the answer's code."""
    code = ""
    with contextlib.suppress(ValueError, AttributeError):
        code = json.loads(failure.answer.body).get("code", "")
    detail = failure.detail.split(":")[0] if failure.kind == "write on 4xx" else ""
    return f"{failure.request.route} answered {failure.answer.status} {code} {detail}".strip()


# --------------------------------------------------------------------------- main


def sign_in(transport: Transport) -> None:
    """Sign in through the login form, as a browser does (CSRF cookie and token)."""
    page = transport.send(Request("setup", "GET /login/", "GET", "/login/"))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    if not token:
        raise RuntimeError(f"no CSRF token on the login page ({page.status})")
    form = urllib.parse.urlencode(
        {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    )
    answer = transport.send(
        Request(
            "setup",
            "POST /login/",
            "POST",
            "/login/",
            headers={"Content-Type": b"application/x-www-form-urlencoded"},
            body=form.encode(),
        )
    )
    if answer.status != 302 or not transport.cookie("sessionid"):
        raise RuntimeError(f"could not sign in: {answer.status} {excerpt(answer.body, 300)}")


def console_routes() -> list[tuple[str, str]]:
    """(route, name) of every console and CSV export URL, from the URL resolver."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, text, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace in ("console", "exports"):
                found.append((text, pattern.name or text))

    walk(get_resolver().url_patterns, "", "")
    return found


def discover_fields(transport: Transport, routes, context: Context) -> dict[str, set[str]]:
    """The fields of the forms the console's pages really show, by route name; and the
    one-time ``form_token`` of the create dialogs, kept for the first create requests."""
    from django.urls import Resolver404, resolve

    fields: dict[str, set[str]] = collections.defaultdict(set)
    for route, name in routes:
        if name.endswith("delete") or name in ANONYMOUS_ROUTES or name.endswith("_csv"):
            continue
        path = _console_path(route, name, context)
        answer = transport.send(Request("setup", f"GET /{route}", "GET", path))
        if answer.status != 200:
            continue
        parser = FormFields()
        parser.feed(answer.body.decode("utf-8", "replace"))
        for action, names in parser.forms.items():
            try:
                match = resolve(urllib.parse.urlsplit(action).path or path)
            except Resolver404:
                continue
            fields[match.url_name or ""] |= names
        html = answer.body.decode("utf-8", "replace")
        context.form_tokens += re.findall(r'name="form_token" value="([0-9a-f]{32})"', html)
    return fields


def prepare(
    transport: Transport, ids: dict, token: str, probe: Probe, wanted: int, deadline: float
) -> tuple[Run, list[Recipe]]:
    """Sign in (and open an anonymous session for the sign-in form), read the routes (the
    served OpenAPI document, the console's URL resolver and the fields its pages' forms
    show) and make the recipes: what a run needs, over HTTP or in-process."""
    sign_in(transport)
    transport.send(Request("setup", "GET /login/", "GET", "/login/", session="anonymous"))
    context = Context(ids, csrf_token=lambda session: transport.cookie("csrftoken", session))
    routes = console_routes()
    discovered = discover_fields(transport, routes, context)
    schema = transport.send(Request("setup", "schema", "GET", "/v1/openapi.json"))
    document = json.loads(schema.body)
    recipes = api_recipes(document, token) + console_recipes(routes, discovered)
    print(
        f"{len(recipes)} routes × methods ({len(document['paths'])} API paths, "
        f"{len(routes)} console routes); {len(probe.tables)} tables watched"
    )
    return Run(transport, probe, context, deadline, wanted), recipes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=900)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--app-dir", type=Path, default=None, help="serve another checkout")
    parser.add_argument("--log", type=Path, default=None, help="write every request there")
    parser.add_argument(
        "--database-url", default=os.environ.get("HOSTILE_FUZZ_DATABASE_URL", DEFAULT_DATABASE)
    )
    args = parser.parse_args()

    from bench.live_server import ROOT, live_app

    app_dir = (args.app_dir or ROOT).resolve()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segments_console.test_settings")
    import django

    django.setup()  # the console's routes come from the URL resolver
    started = time.monotonic()
    with live_app(
        args.database_url,
        args.port,
        role="ADMIN",
        victims=40,
        app_dir=app_dir,
        username=USERNAME,
        password=PASSWORD,
        static=True,
    ) as app:
        transport = HttpTransport("127.0.0.1", args.port)
        probe = psycopg_probe(args.database_url)
        run, recipes = prepare(
            transport, app.ids, app.token, probe, args.requests, started + args.seconds
        )
        run.log = args.log.open("w") if args.log else None
        fuzz(run, recipes, args.seed)
        log = app.server_log.read_text(errors="replace") if app.server_log else ""
    causes = causes_from_log(log, app_dir)
    for failure in run.tally.failures:
        request_id = failure.request.headers.get("X-Request-Id", b"").decode()
        failure.cause, failure.message = causes.get(request_id) or causes.get(
            f"{failure.request.method} {failure.request.url}", (failure.cause, failure.message)
        )
    ok = report(run.tally, args.requests, time.monotonic() - started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
