"""JSON in and out, exactly as the memory systems write it.

Reading: orjson is the fast path, but it refuses what Python's ``json`` module writes by default
(bare ``NaN``/``Infinity``, lone surrogate escapes) and silently turns integers beyond 2**64 into
floats. Such input goes through the standard library instead, which keeps every value as written.

Writing: two dialects.
* :func:`dumps_python` is ``json.dumps`` with its defaults (Kagura, Tribal): ASCII escapes,
  surrogate pairs, ``", "``/``": "`` separators, bare NaN tokens.
* :func:`dumps_js` reproduces ``JSON.stringify(value, null, 2)`` (Doclea): raw UTF-8, lone
  surrogates escaped as ``\\udxxx``, integral numbers without a fraction, JS exponent notation.

Every file write is atomic (:mod:`memport.outputs`): a temporary sibling, flushed and fsynced, then
renamed over the target.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from .errors import Location, MalformedInputError

# the atomic writes live in memport.outputs (checked, staged, renamed, modes that follow the data);
# the writers of the formats import them from here
from .outputs import Output, atomic_output, atomic_write_bytes, backup_name, write_synced  # noqa: F401

BOM = b"\xef\xbb\xbf"
# orjson reads integers in [-2**63, 2**64) exactly and others as floats; -(2**63) - 1 already has
# 19 digits, so any run of 19 digits could be such an integer, unless a "." comes before it (a
# fraction's digits, which orjson reads exactly). bytes.translate maps digits to "0", "." to itself
# and everything else to a space, making the test a substring search (a regex costs 10x more).
_DIGITS = bytes(ord("0") if 48 <= c <= 57 else ord(".") if c == 46 else ord(" ") for c in range(256))
_LONG_RUN = b"0" * 19


def may_hold_huge_integer(data: bytes) -> bool:
    """Whether ``data`` may hold an integer beyond 64 bits: a run of 19 digits or more that is not
    a fraction's (such input goes to the standard library, which reads it exactly)."""
    digits = data.translate(_DIGITS)
    return b" " + _LONG_RUN in digits or digits.startswith(_LONG_RUN)


def needs_reference(value: Any) -> bool:
    """Whether a value holds something orjson and jsonschema-rs cannot see as written (NaN and
    Infinity become null there, lone surrogates are not Rust strings, integers beyond 64 bits): such
    values are written back by the standard library and validated by the reference engine."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return has_lone_surrogate(value)
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(needs_reference(k) or needs_reference(v) for k, v in value.items())
    if isinstance(value, list):
        return any(needs_reference(v) for v in value)
    return False


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages that say what was found instead: "a string", "an
    array", "the number 1", "null", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**40:  # repr of a huge one may even raise (4300 digits)
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# Lines above this size are refused before parsing: a single JSONL record this large is a broken
# file, not data (the exporters write one memory per line).
MAX_LINE_BYTES = 256 * 1024 * 1024


@dataclass(slots=True)
class Parsed:
    """A parsed JSON value and whether it is exact: holds what only the standard library reads and
    writes faithfully (:func:`needs_reference`: NaN, lone surrogates, integers beyond 64 bits).
    Decided by the value, not by which parser read it, so that a record has one content key
    whichever way it came (a line, a document, a bundle in memory)."""

    value: Any
    exact: bool


# Python reads integers of at most this many digits (int()'s limit, which its json module meets and
# no option of it lifts): memport's reader stops there, as do the native importers written in Python
MAX_DIGITS = sys.int_info.default_max_str_digits
# about where Python's JSON reader gives up on nesting (the interpreter's recursion limit)
READER_DEPTH = 1000
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')
_SHOWN_DEPTH = 4  # the path to a deep value shows its first members, then "..."


@dataclass(frozen=True, slots=True)
class Beyond:
    """Where well-formed JSON goes beyond what the reader takes (see :func:`beyond`): the offset in
    the text (an integer's first character, or where the level the reader gives up at opens), the
    path to it from the value read, and what it is."""

    offset: int
    path: str
    message: str
    level: int | None = None  # for nesting: the level the reader gives up at, which opens at the offset

    def said(self, column: int) -> str:
        """The message, with the column of the offset."""
        where = f"level {self.level} opens at column {column}" if self.level is not None else f"column {column}"
        return f"{self.message} ({where})"


def beyond(text: str, start: int = 0, outer: int = 0) -> Beyond | None:
    """Where the JSON value at ``start`` goes beyond what Python's reader takes: its first integer
    of more than :data:`MAX_DIGITS` digits, or else its deepest nesting (counted from the
    document's root: ``outer`` containers hold the value). None when neither is found. Looked for only after the reader failed, so the scan (a tokenizer that keeps the path)
    costs nothing on good input."""
    # per open container: [is an object, member key or element index, expecting a key]
    stack: list[list[Any]] = []
    depth, path, gives_up = 0, (), start
    for m in _TOKEN.finditer(text, start):
        token = m.group()
        first = token[0]
        if first in "{[":
            stack.append([True, None, True] if first == "{" else [False, 0, False])
            if len(stack) > depth:
                depth = len(stack)
                path = tuple(entry[1] for entry in stack[: min(depth - 1, _SHOWN_DEPTH)])  # a slice of the whole stack: quadratic
                if depth + outer <= READER_DEPTH:
                    gives_up = m.start()
        elif first in "}]":
            if stack:
                stack.pop()
            if not stack:
                break  # the value is over
        elif first == ",":
            if stack and stack[-1][0]:
                stack[-1][2] = True
            elif stack:
                stack[-1][1] += 1
        elif first == ":":
            if stack:
                stack[-1][2] = False
        elif first == '"':
            if stack and stack[-1][2]:
                try:
                    stack[-1][1] = json.loads(token)
                except ValueError:
                    stack[-1][1] = token[1:-1]
        else:
            digits = len(token.lstrip("-"))
            if digits > MAX_DIGITS and not any(c in token for c in ".eE"):
                message = f"an integer of {digits} digits: more than the {MAX_DIGITS} Python reads, memport and the native importers alike"
                return Beyond(m.start(), _path(tuple(entry[1] for entry in stack)), message)
            if not stack:
                break
    if depth < 2:
        return None
    shown = _path(path) + ("..." if depth - 1 > len(path) else "")
    depth += outer
    message = f"nested too deeply to read ({depth} levels): Python's JSON reader, memport's and the native importers' alike, takes about {READER_DEPTH}"
    return Beyond(gives_up, shown, message, min(depth, READER_DEPTH))


def _path(parts: tuple[Any, ...]) -> str:
    from .problems import json_path

    return json_path([p for p in parts if p is not None])


def _decode_error(data: bytes, where: Location, err: Exception, text: str | None = None) -> MalformedInputError:
    """Turn any parser failure into one readable error with line/column (never a traceback)."""
    if isinstance(err, RecursionError) or (isinstance(err, ValueError) and not isinstance(err, json.JSONDecodeError) and text is not None):
        found = beyond(text) if text is not None else None
        if found is None:
            return MalformedInputError(f"JSON is nested too deeply to read or holds a value Python cannot read ({err})", where)
        line = text.count("\n", 0, found.offset)
        column = found.offset - text.rfind("\n", 0, found.offset)
        loc = Location(where.file, line=where.line if where.line is not None else line + 1, record=where.record, path=found.path)
        return MalformedInputError(found.said(column), loc)
    if isinstance(err, UnicodeDecodeError):
        return MalformedInputError(f"bytes are not valid UTF-8 at byte {err.start}: {data[err.start : err.start + 4]!r}", where)
    if isinstance(err, json.JSONDecodeError):
        # inside a single-document file, the parser's own line number is the location
        loc = where if where.line is not None else Location(where.file, line=err.lineno, record=where.record, path=where.path)
        # the input ends inside a value: a cut-off write rather than a bad character
        truncated = err.pos >= len(err.doc.rstrip()) or err.msg.startswith("Unterminated string")
        hint = "; the data ends in the middle of a value (truncated?)" if truncated else ""
        return MalformedInputError(f"malformed JSON: {err.msg} (column {err.colno}){hint}", loc)
    return MalformedInputError(f"malformed JSON: {err}", where)


def loads(data: bytes, where: Location | None = None, *, fast: bool = True) -> Parsed:
    """Parse one JSON document from bytes, fast where safe and exact always.

    ``fast=False`` goes straight to the standard library (the caller knows orjson refused it).
    """
    where = where if where is not None else Location()
    if fast and not may_hold_huge_integer(data):
        try:
            return Parsed(orjson.loads(data), False)
        except orjson.JSONDecodeError:
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _decode_error(data, where, err) from None
    if text.startswith("\ufeff"):
        raise MalformedInputError("starts with a UTF-8 byte order mark (BOM)", where)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _decode_error(data, where, err, text) from None
    return Parsed(value, needs_reference(value))


def read_document(path: Path) -> Parsed:
    """Read and parse a whole single-document JSON file (Tribal, Doclea, Kagura's metadata.json)."""
    return parse_document(path.read_bytes(), str(path))


def parse_document(data: bytes, name: str) -> Parsed:
    """Parse the bytes of a single-document JSON file, refusing a BOM and an empty file clearly."""
    where = Location(name)
    if data.startswith(BOM):
        raise MalformedInputError("starts with a UTF-8 byte order mark (BOM); the native importers reject it", where)
    if not data.strip():
        raise MalformedInputError("file is empty; expected a JSON object", where)
    return loads(data, where)


# ---------------------------------------------------------------------------------------------
# Writing


def dumps_python(value: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` with Python's defaults: what Kagura and Tribal write."""
    return json.dumps(value, indent=indent)


_SURROGATE = re.compile("[\ud800-\udfff]")
# With indent=2 every number stands alone on its line, optionally after a key; only numbers in
# exponent form are formatted differently by JavaScript, so only those lines are rewritten.
_EXPONENT_LINE = re.compile(r'^(\s*(?:"(?:[^"\\]|\\.)*": )?)(-?[0-9.]+e[-+][0-9]+)(,?)$', re.MULTILINE)


def _js_integral(value: Any) -> Any:
    """Floats that JavaScript prints without a fraction become ints (1.0 -> 1, -0.0 -> 0)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _js_integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_js_integral(v) for v in value]
    return value


def js_number(text: str) -> str:
    """Format a Python float repr the way JavaScript's Number.prototype.toString does.

    Both print the shortest digits that round-trip; they differ only in where they switch to
    exponent notation (JS: below 1e-6 and from 1e21) and how they write the exponent.
    """
    sign, digits, exponent = Decimal(text).as_tuple()
    digits_text = "".join(map(str, digits)).rstrip("0") or "0"
    # value = 0.<digits> * 10**n
    n = len(digits) + exponent
    k = len(digits_text)
    prefix = "-" if sign else ""
    if k <= n <= 21:
        return prefix + digits_text + "0" * (n - k)
    if 0 < n <= 21:
        return prefix + digits_text[:n] + "." + digits_text[n:]
    if -6 < n <= 0:
        return prefix + "0." + "0" * (-n) + digits_text
    e = n - 1
    mantissa = digits_text[0] + ("." + digits_text[1:] if k > 1 else "")
    return f"{prefix}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


# With indent=2 every number stands alone on its line (after a key, or as an array element). orjson
# writes a float's shortest digits, as JavaScript does, but an integral one with ".0" (JavaScript:
# none) and large or small ones in exponent form (JavaScript switches at other magnitudes): a line
# with such a number is written by the exact writer
_FLOAT_LINE = re.compile(r'^ *(?:"(?:[^"\\]|\\.)*": )?-?[0-9]+(?:\.[0-9]*)?(?:[eE]|(?<=\.0)(?:,?$))', re.MULTILINE)


def dumps_js(value: Any) -> str:
    """``JSON.stringify(value, null, 2)``: what Doclea writes (no trailing newline).

    orjson writes exactly that for a value without lone surrogates and integers beyond 64 bits (it
    refuses those) and whose floats it prints as JavaScript does (:data:`_FLOAT_LINE`): several times
    faster than the standard library's indenting encoder, which is pure Python (validating 200k
    Doclea memories spent 15.7 of 22 s here)."""
    try:
        fast = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except (TypeError, orjson.JSONEncodeError):
        fast = None
    if fast is not None and not _FLOAT_LINE.search(fast):
        return fast
    return _dumps_js(value)


def _dumps_js(value: Any) -> str:
    text = json.dumps(_js_integral(value), ensure_ascii=False, indent=2, allow_nan=True)
    if "NaN" in text or "Infinity" in text:
        text = _non_finite_to_null(value)
    text = _EXPONENT_LINE.sub(lambda m: m.group(1) + js_number(m.group(2)) + m.group(3), text)
    # A str decoded from JSON holds a surrogate only when it was a lone one (pairs are combined);
    # JavaScript escapes those as \udxxx.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps_js_compact(value: Any) -> str:
    """``JSON.stringify(value)`` without indentation (Doclea's relation metadata strings)."""
    text = json.dumps(_js_integral(value), ensure_ascii=False, separators=(",", ":"))
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _non_finite_to_null(value: Any) -> str:
    """JSON.stringify writes null for NaN and Infinity."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(_js_integral(clean(value)), ensure_ascii=False, indent=2)
