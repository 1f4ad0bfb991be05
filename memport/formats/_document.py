"""Single-document JSON files (Tribal, Doclea, Kagura's metadata.json) as seen by the validators."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Location, MalformedInputError
from ..jsonio import BOM, MAX_LINE_BYTES, Parsed, beyond, may_hold_huge_integer, needs_reference, parse_document
from ..problems import Problem, json_path
from ..progress import open_read


def head_of(path: Path, size: int = 65536) -> bytes:
    """The start of a file, without BOM or leading white space: enough for a format to recognise
    itself without parsing the whole document."""
    with open(path, "rb") as f:
        return f.read(size).lstrip(BOM).lstrip()


def header_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A single-document bundle without its record arrays (None holds their place, so that the
    key order comes back): the small part an import records (detection keeps it, so that a plan
    need not parse a large document once more for it)."""
    return {key: (None if key in ("entries", "data") else value) for key, value in doc.items()}


def parse_checked(path: Path, problems: list[Problem], reader: str) -> tuple[bytes, Parsed] | None:
    """The file's bytes (without a BOM) and its parsed value; a BOM or a parse failure becomes a
    problem instead of an exception. None when the file cannot be parsed at all."""
    name = str(path)
    data = path.read_bytes()
    if data.startswith(BOM):
        problems.append(Problem("file.bom", "error", f"starts with a UTF-8 byte order mark (BOM); {reader} rejects it", name, 1))
        data = data[len(BOM) :]
    try:
        return data, parse_document(data, name)
    except MalformedInputError as err:
        problems.append(Problem("json.malformed", "error", err.message, name, err.location.line))
        return None


# ---------------------------------------------------------------------------------------------
# Streaming: a single-document bundle read member by member, its record arrays item by item


@dataclass(slots=True)
class Event:
    """One step of :func:`walk` through a document.

    ``kind`` is ``value`` (a member read whole, or the document itself when it is not an object),
    ``object`` (a member descended into: its members follow, their paths one longer), ``array``
    (a streamed array begins), ``item`` (one of its elements, ``index`` from 0) or ``end`` (the
    streamed array is over; ``index`` is its length). ``exact`` is :func:`needs_reference` of the
    value: whether only the standard library writes it back faithfully.
    """

    kind: str
    path: tuple[str, ...]
    value: Any = None
    exact: bool = False
    index: int | None = None


# a chunk of the file read at a time; an element larger than what is buffered doubles the read
CHUNK = 1 << 22
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# what may hold a value orjson cannot write faithfully (see needs_reference): NaN or Infinity
# tokens, an integer beyond 64 bits, a surrogate escape without its partner
_LONE_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F]")
_OVERLAP = 24  # bytes kept from one read to find a pattern that spans two


def _may_need_reference(data: bytes) -> bool:
    return (
        b"NaN" in data
        or b"Infinity" in data
        or may_hold_huge_integer(data)
        or ((b"\\ud" in data or b"\\uD" in data) and _LONE_SURROGATE.search(data) is not None)
    )


class _Cursor:
    """A window of a file's text and a position in it. The window holds what is not yet consumed
    plus at least one chunk; reading on drops what lies before the position, keeping count of the
    lines and columns dropped so that errors still say where they are in the file."""

    def __init__(self, f: Any, name: str, *, allow_bom: bool, chunk: int):
        self.f, self.name, self.chunk = f, name, chunk
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text, self.pos = "", 0
        self.base = 0  # characters of the file before text[0]
        self.line, self.column = 1, 1  # where text[0] is
        self.bytes_read, self.eof = 0, False
        self.tail = b""
        self.suspects: list[tuple[int, int]] = []  # character ranges that may need the reference
        self.element: tuple[Any, ...] = ()  # the path of the array element being read, if any
        self.member: tuple[Any, ...] = ()  # the path of the member being read whole, if any
        first = f.read(max(chunk, len(BOM)))
        if first.startswith(BOM):
            if not allow_bom:
                raise MalformedInputError("starts with a UTF-8 byte order mark (BOM); the native importers reject it", Location(name))
            first = first[len(BOM) :] or f.read(chunk)  # (an empty read means the end)
            self.bytes_read = len(BOM)
        self._append(first)
        if not self.text.strip() and self.eof:
            raise MalformedInputError("file is empty; expected a JSON object", Location(name))

    def _append(self, raw: bytes) -> None:
        pending = len(self.decoder.getstate()[0])
        try:
            new = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as err:
            at = self.bytes_read - pending + err.start
            raise MalformedInputError(
                f"bytes are not valid UTF-8 at byte {at}: {err.object[err.start : err.start + 4]!r}", Location(self.name)
            ) from None
        self.bytes_read += len(raw)
        self.eof = not raw
        if raw:
            start = self.base + len(self.text)
            seen = self.tail + raw
            if _may_need_reference(seen):
                self.suspects.append((start - len(self.tail), start + len(new)))
            self.tail = seen[-_OVERLAP:]
        self.text += new

    def more(self) -> bool:
        """Read on (at least as much again as the window holds from the position); False at the end."""
        if self.eof:
            return False
        keep = self.pos
        if keep:
            dropped = self.text[:keep]
            newlines = dropped.count("\n")
            if newlines:
                self.line += newlines
                self.column = keep - dropped.rfind("\n")
            else:
                self.column += keep
            self.base += keep
            self.text, self.pos = self.text[keep:], 0
            self.suspects = [s for s in self.suspects if s[1] > self.base]
        if len(self.text) > MAX_LINE_BYTES:
            raise self.error(f"one value is over {MAX_LINE_BYTES >> 20} MiB, more than one record can be", self.pos, truncated=False)
        self._append(self.f.read(max(self.chunk, len(self.text))))
        return True

    def error(self, message: str, at: int, *, truncated: bool | None = None) -> MalformedInputError:
        """A malformed-JSON error at position ``at`` of the window, located in the file."""
        newlines = self.text.count("\n", 0, at)
        line = self.line + newlines
        column = at - self.text.rfind("\n", 0, at) if newlines else self.column + at
        if truncated is None:
            # the data ends where it failed, or inside a token that was never closed
            rest = self.text[at:].rstrip()
            truncated = self.eof and (message.startswith("Unterminated string") or (len(rest) < 6 and not any(c in rest for c in '"]},')))
        hint = "; the data ends in the middle of a value (truncated?)" if truncated else ""
        return MalformedInputError(f"malformed JSON: {message} (column {column}){hint}", self.located(line))

    def located(self, line: int | None = None) -> Location:
        """Where the cursor is: the file, and the array element being read if any."""
        return Location(
            self.name, line=line, record=self.element[-1] if self.element else None, path=json_path(self.element) if self.element else None
        )

    def beyond(self, err: Exception) -> MalformedInputError:
        """What the reader could not take in the value at the position (jsonio.beyond), located:
        the line and column in the file, the record, and the path from the document's root."""
        holders = self.element or self.member
        found = beyond(self.text, self.pos, len(holders))  # each member or index of the path is one container
        if found is None:
            return MalformedInputError(f"JSON holds a value Python cannot read ({err})", self.located())
        at = found.offset
        newlines = self.text.count("\n", 0, at)
        column = at - self.text.rfind("\n", 0, at) if newlines else self.column + at
        base = json_path(holders)
        inner = found.path[1:]  # "$.a[0]" -> ".a[0]", under the value's own path
        where = Location(self.name, line=self.line + newlines, record=self.element[-1] if self.element else None, path=base + inner)
        return MalformedInputError(found.said(column), where)

    def peek(self) -> str:
        """The next character after white space ('' at the end of the file)."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos : self.pos + 1]

    def closes(self, bracket: str) -> bool:
        """Past what follows a member or element: True for the closing ``bracket``, False for a
        comma (another one follows)."""
        following = self.peek()
        self.pos += 1
        if following == bracket:
            return True
        if following != ",":
            raise self.error("Expecting ',' delimiter", self.pos - 1)
        return False

    def expect(self, char: str, message: str) -> None:
        if self.peek() != char:
            raise self.error(message, self.pos)
        self.pos += 1

    def key(self) -> str:
        if self.peek() != '"':
            raise self.error("Expecting property name enclosed in double quotes", self.pos)
        while True:
            try:
                key, end = json.decoder.scanstring(self.text, self.pos + 1)
            except json.JSONDecodeError as err:
                if self._cut(err) and self.more():
                    continue
                raise self.error(err.msg, err.pos) from None
            self.pos = end
            return key

    def _cut(self, err: json.JSONDecodeError) -> bool:
        """Whether a parse may have failed only because the window ends: a value cut off fails
        there (a string: where it starts)."""
        return err.pos >= len(self.text) - 64 or err.msg.startswith("Unterminated string")

    def value(self) -> tuple[Any, bool]:
        """The next value, read whole, and whether it needs the reference (see Event.exact)."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as err:
                if self._cut(err) and self.more():
                    continue
                raise self.error(err.msg, err.pos) from None
            except (RecursionError, ValueError) as err:  # well-formed, but beyond the reader: too deep, or a huge integer
                raise self.beyond(err) from None
            # a number near the window's end may go on ("1" of "12", "0" of "0.5": the parser
            # leaves "0." or "1e-" unread when nothing follows them)
            if len(self.text) - end < 3 and self.more():
                continue
            start, self.pos = self.base + self.pos, end
            stop = self.base + end
            exact = any(a < stop and start < b for a, b in self.suspects) and needs_reference(value)
            return value, exact


def walk(path: Path, spread: Callable[[tuple[str, ...]], str | None], *, allow_bom: bool = False, chunk: int = CHUNK) -> Iterator[Event]:
    """Read a single-document JSON file without holding it whole: members one by one, and the
    arrays ``spread(member path)`` calls ``"array"`` element by element (memory: one element and a
    chunk of text). ``spread`` says ``"object"`` for an object to go into (its members follow);
    anything else is read whole. Values are exact, as the standard library reads them.

    A streamed or descended member that appears twice is refused: a JSON reader keeps only the
    last one, and its elements before it would already have been handed out. Bad input raises
    :class:`MalformedInputError` with the line, column and element it is at.
    """
    with open_read(path) as f:
        cursor = _Cursor(f, str(path), allow_bom=allow_bom, chunk=chunk)
        if cursor.peek() == "{":
            yield from _members(cursor, (), spread, set())
        else:
            value, exact = cursor.value()
            yield Event("value", (), value, exact)
        if cursor.peek():
            raise cursor.error("Extra data", cursor.pos)


def _members(
    cursor: _Cursor, path: tuple[str, ...], spread: Callable[[tuple[str, ...]], str | None], seen: set[tuple[str, ...]]
) -> Iterator[Event]:
    cursor.expect("{", "Expecting value")
    if cursor.peek() == "}":
        cursor.pos += 1
        return
    while True:
        member = (*path, cursor.key())
        cursor.expect(":", "Expecting ':' delimiter")
        mode = spread(member)
        opening = cursor.peek()
        if (mode == "object" and opening == "{") or (mode == "array" and opening == "["):
            if member in seen:
                raise MalformedInputError(
                    f"{json_path(member)} appears twice; a JSON reader keeps only the last one, so memport does not guess which was meant",
                    Location(cursor.name, path=json_path(member)),
                )
            seen.add(member)
            if opening == "{":
                yield Event("object", member)
                yield from _members(cursor, member, spread, seen)
            else:
                yield from _elements(cursor, member)
        else:
            cursor.member = member
            value, exact = cursor.value()
            cursor.member = ()
            yield Event("value", member, value, exact)
        if cursor.closes("}"):
            return


def _elements(cursor: _Cursor, path: tuple[str, ...]) -> Iterator[Event]:
    cursor.expect("[", "Expecting value")
    yield Event("array", path)
    index = 0
    if cursor.peek() == "]":
        cursor.pos += 1
    else:
        while True:
            cursor.element = (*path, index)
            value, exact = cursor.value()
            yield Event("item", path, value, exact, index)
            index += 1
            if cursor.closes("]"):
                break
    cursor.element = ()
    yield Event("end", path, index=index)
