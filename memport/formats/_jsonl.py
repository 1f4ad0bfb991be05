"""Streaming JSON Lines, shared by the Kagura and Tribal JSONL formats.

One scanner serves both reading and validating. Reading (``problems is None``) raises at the first
line it cannot parse; validating records a problem for each bad line and carries on, then adds
file-level findings (BOM, CRLF, blank lines, raw non-ASCII, missing final newline) once per file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import Location, MalformedInputError
from ..jsonio import BOM, MAX_LINE_BYTES, loads, may_hold_huge_integer
from ..problems import Problem
from ..progress import open_read
from . import NativeRecord

# bytes of a JSON Lines file read and looked at together (see scan)
BATCH_BYTES = 1 << 16


@dataclass
class FileFacts:
    crlf: int = 0
    blank: int = 0
    non_ascii: int = 0
    first_non_ascii: int | None = None
    ends_with_newline: bool = True
    lines: int = 0

    def add(self, other: FileFacts, line_offset: int) -> None:
        """Fold in the facts of the next byte range, whose line numbers start after ours."""
        self.crlf += other.crlf
        self.blank += other.blank
        self.non_ascii += other.non_ascii
        if self.first_non_ascii is None and other.first_non_ascii is not None:
            self.first_non_ascii = other.first_non_ascii + line_offset
        self.lines += other.lines


def scan(
    path: Path,
    problems: list[Problem] | None,
    *,
    ascii_expected: bool,
    exact_integers: bool = True,
    start: int = 0,
    end: int | None = None,
    facts: FileFacts | None = None,
) -> Iterator[tuple[int, Any, bool, bytes]]:
    """Yield ``(line number, value, exact, raw line)`` for each JSON line of ``path``.

    ``exact`` is True when the value holds NaN, lone surrogates or integers beyond 64 bits (see
    ``jsonio.needs_reference``; only lines orjson refuses or may misread are asked): validate such
    values with the reference engine. ``exact_integers=False`` skips the
    guard for integers beyond 2**64 where a float reading of them cannot change the outcome
    (validation), which keeps the hot loop lean.

    ``start``/``end`` restrict the scan to a byte range that begins at a line start (line numbers
    then count from that range's first line). Given ``facts``, file-level findings are collected
    there for the caller; otherwise they are added to ``problems`` at the end.
    """
    own = facts is None
    facts = facts if facts is not None else FileFacts()
    name = str(path)
    loads = orjson.loads
    # a batch of lines (64 KB) is looked at as one for what is rare: line ends, non-ASCII bytes,
    # 19-digit runs (a line end is no digit: no run spans two lines); a line only if its batch has it
    for first, _, batch in line_batches(path, start, end, facts, size=BATCH_BYTES):
        joined = b"".join(batch)
        if b"\r\n" in joined:
            facts.crlf += joined.count(b"\r\n")
        if ascii_expected and not joined.isascii():
            for i, raw in enumerate(batch):
                if not raw.isascii():
                    facts.non_ascii += 1
                    if facts.first_non_ascii is None:
                        facts.first_non_ascii = first + i
        careful = len(joined) > MAX_LINE_BYTES or (exact_integers and may_hold_huge_integer(joined))
        for number, raw in enumerate(batch, first):
            try:
                if careful and (len(raw) > MAX_LINE_BYTES or (exact_integers and may_hold_huge_integer(raw))):
                    raise orjson.JSONDecodeError("too long, or possibly an integer beyond 64 bits", "", 0)
                value = loads(raw)
            except orjson.JSONDecodeError:
                found = slow_line(raw, number, name, problems, facts, first_line=start == 0 and number == 1)
                if found is not None:
                    yield found
                continue
            yield number, value, False, raw
    if own:
        facts.ends_with_newline = ends_with_newline(path)
        if problems is not None:
            problems.extend(file_problems(name, facts))


def records(
    file: Path, kind_of: Any, start: int = 0, end: int | None = None, facts: FileFacts | None = None, *, default: str = "memories"
) -> Iterator[Any]:
    """The values of a JSON Lines file (or of a byte range of it) as native records, each of the
    kind ``kind_of(value)`` names (``default`` for a value that is not an object: the store names it
    as a record it cannot hold, and goes on)."""
    label = str(file)
    for line, value, exact, raw in scan(file, None, ascii_expected=True, start=start, end=end, facts=facts):
        yield NativeRecord(kind_of(value) if type(value) is dict else default, value, exact, label, line, raw=raw)


def line_batches(
    path: Path, start: int = 0, end: int | None = None, facts: FileFacts | None = None, size: int = 1 << 20
) -> Iterator[tuple[int, int, list[bytes]]]:
    """Lists of lines (bytes with line end) of about ``size`` bytes each, from a file or from a byte
    range of it that begins at a line start, with the line number of each list's first line (from 1
    in the range) and its byte offset in the file.
    (``readlines`` reads a list at C speed: a third of the time of a loop yielding line by line.)
    Counts the lines into ``facts.lines`` when done."""
    remaining = end - start if end is not None else None
    number, offset = 1, start
    with open_read(path, start, end) as f:
        f.seek(start)
        while remaining is None or remaining > 0:
            lines = f.readlines(size)
            if not lines:
                break
            read = sum(map(len, lines))
            if remaining is not None:
                remaining -= read
                while remaining < 0:  # read past the range's end, which is a line start
                    dropped = len(lines.pop())
                    remaining += dropped
                    read -= dropped
            yield number, offset, lines
            number += len(lines)
            offset += read
    if facts is not None:
        facts.lines = number - 1


def lines_at(path: Path, numbers: set[int]) -> dict[int, bytes]:
    """The lines (with line end) of ``path`` that have these numbers (from 1), read a batch at a
    time without looking at the others."""
    found: dict[int, bytes] = {}
    wanted = sorted(numbers)
    at = 0
    for first, _, batch in line_batches(path):
        while at < len(wanted) and wanted[at] < first + len(batch):
            if wanted[at] >= first:
                found[wanted[at]] = batch[wanted[at] - first]
            at += 1
        if at == len(wanted):
            break
    return found


def ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if not f.tell():
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


def line_ranges(path: Path, parts: int) -> list[tuple[int, int | None]]:
    """Split a file into ``parts`` byte ranges that each start at a line start."""
    size = path.stat().st_size
    cuts = [0]
    with open(path, "rb") as f:
        for i in range(1, parts):
            f.seek(size * i // parts)
            f.readline()
            position = f.tell()
            if cuts[-1] < position < size:
                cuts.append(position)
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], None])]


def sample_lines(path: Path, count: int) -> list[bytes]:
    """Up to ``count`` whole lines from evenly spread places of a file (to estimate, cheaply)."""
    size = path.stat().st_size
    found = []
    with open(path, "rb") as f:
        for i in range(count):
            f.seek(size * i // count)
            if i:
                f.readline()  # on to the next line start
            line = f.readline()
            if line:
                found.append(line)
    return found


def slow_line(
    raw: bytes, number: int, name: str, problems: list[Problem] | None, facts: FileFacts, *, first_line: bool
) -> tuple[int, Any, bool, bytes] | None:
    """Everything orjson did not take: lines over the size limit, BOM, blank lines, non-strict
    JSON, malformed lines. None for a line that holds no record (blank, or bad while validating:
    then a problem says so)."""
    if len(raw) > MAX_LINE_BYTES:
        raise MalformedInputError(
            f"line is {len(raw) >> 20} MiB, over the {MAX_LINE_BYTES >> 20} MiB limit for one record", Location(name, line=number)
        )
    data = raw.rstrip(b"\r\n")
    if first_line and data.startswith(BOM):
        message = "starts with a UTF-8 byte order mark (BOM); the native importer fails on the first line"
        if problems is None:
            raise MalformedInputError(message, Location(name, line=1))
        problems.append(Problem("file.bom", "error", message, name, 1))
        data = data[len(BOM) :]
    if not data.strip():
        facts.blank += 1
        return None
    try:
        parsed = loads(data, Location(name, line=number), fast=False)
        return number, parsed.value, parsed.exact, raw
    except MalformedInputError as err:
        if problems is None:
            raise
        problems.append(Problem("json.malformed", "error", err.message, name, number, None, err.location.path))
        return None


def file_problems(name: str, facts: FileFacts) -> list[Problem]:
    out = []
    if facts.crlf:
        out.append(
            Problem(
                "file.crlf", "warning", f"{facts.crlf} line(s) end with CRLF; the exporter writes LF only (the importer accepts both)", name
            )
        )
    if facts.blank:
        out.append(
            Problem("file.blank-lines", "warning", f"{facts.blank} blank line(s); the exporter writes none (the importer skips them)", name)
        )
    if facts.non_ascii:
        out.append(
            Problem(
                "file.not-ascii",
                "warning",
                f"{facts.non_ascii} line(s) hold raw non-ASCII bytes (first: line {facts.first_non_ascii}); the exporter writes \\u escapes only, and an importer under a non-UTF-8 locale fails on them",
                name,
                facts.first_non_ascii,
            )
        )
    if not facts.ends_with_newline:
        out.append(
            Problem(
                "file.no-final-newline",
                "warning",
                "the last line has no line end; the exporter ends every line with \\n (a missing one can mean a truncated file)",
                name,
            )
        )
    return out
