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

from ..errors import Location, MalformedInputError
from ..jsonio import BOM, Parsed, iter_lines, loads
from ..problems import Problem


@dataclass(slots=True)
class LineRecord:
    line: int
    value: Any
    exact: bool  # parsed by the standard library: validate with the reference engine


@dataclass
class FileFacts:
    crlf: int = 0
    blank: int = 0
    non_ascii: int = 0
    first_non_ascii: int | None = None
    records: int = 0
    ends_with_newline: bool = True


def scan(path: Path, problems: list[Problem] | None, *, ascii_expected: bool) -> Iterator[LineRecord]:
    """Yield each parsed line of ``path``; see the module docstring for the two modes."""
    facts = FileFacts()
    name = str(path)
    last: bytes | None = None
    for line in iter_lines(path):
        data = line.data
        if line.number == 1 and data.startswith(BOM):
            message = "starts with a UTF-8 byte order mark (BOM); the native importer fails on the first line"
            if problems is None:
                raise MalformedInputError(message, Location(name, line=1))
            problems.append(Problem("file.bom", "error", message, name, 1))
            data = data[len(BOM):]
        last = line.data
        if line.crlf:
            facts.crlf += 1
        if not data.strip():
            facts.blank += 1
            continue
        if ascii_expected and not data.isascii():
            facts.non_ascii += 1
            if facts.first_non_ascii is None:
                facts.first_non_ascii = line.number
        try:
            parsed: Parsed = loads(data, Location(name, line=line.number))
        except MalformedInputError as err:
            if problems is None:
                raise
            problems.append(Problem("json.malformed", "error", err.message, name, line.number))
            continue
        facts.records += 1
        yield LineRecord(line.number, parsed.value, parsed.exact)
    facts.ends_with_newline = last is None or _ends_with_newline(path)
    if problems is not None:
        problems.extend(_file_problems(name, facts))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


def _file_problems(name: str, facts: FileFacts) -> list[Problem]:
    out = []
    if facts.crlf:
        out.append(Problem("file.crlf", "warning", f"{facts.crlf} line(s) end with CRLF; the exporter writes LF only (the importer accepts both)", name))
    if facts.blank:
        out.append(Problem("file.blank-lines", "warning", f"{facts.blank} blank line(s); the exporter writes none (the importer skips them)", name))
    if facts.non_ascii:
        out.append(Problem("file.not-ascii", "warning",
                           f"{facts.non_ascii} line(s) hold raw non-ASCII bytes (first: line {facts.first_non_ascii}); the exporter writes \\u escapes only, and an importer under a non-UTF-8 locale fails on them",
                           name, facts.first_non_ascii))
    if not facts.ends_with_newline:
        out.append(Problem("file.no-final-newline", "warning", "the last line has no line end; the exporter ends every line with \\n (a missing one can mean a truncated file)", name))
    return out
