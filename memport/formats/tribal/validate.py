"""Validating Tribal bundles and streams: the schemas, and the checks Tribal's importer and its
LanceDB store make across entries (timestamps it can parse, vector lengths against the manifest,
NaN in vectors, lone surrogates, duplicate ids), read as a stream (memory: one entry and the ids)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import MalformedInputError
from ...jsonio import BOM, has_lone_surrogate, needs_reference
from ...keys import key64
from ...problems import Problem, quote
from ...schemas import SchemaSet, schema_set
from .. import Detection
from .._document import walk
from .._jsonl import scan
from .codec import NAME
from .read import _spread


def validate_bundle(path: Path, detection: Detection) -> list[Problem]:
    """Every problem, reading the document as a stream (memory: one entry, and the ids seen)."""
    name = str(path)
    schemas = schema_set(NAME, detection.version)
    layout = _layout(path)
    problems: list[Problem] = []
    if layout.bom:
        problems.append(Problem("file.bom", "error", "starts with a UTF-8 byte order mark (BOM); Tribal's reader rejects it", name, 1))
    wrapped = bool(detection.details.get("wrapped"))
    bundle = ("bundle",) if wrapped else ()
    header = detection.details.get("header") or {}
    manifest = header.get("manifest") if isinstance(header.get("manifest"), dict) else {}
    embedding = manifest.get("embedding") if isinstance(manifest.get("embedding"), dict) else {}
    dims = embedding.get("dimensions")
    checker = EntryChecker(schemas, name, dims if isinstance(dims, int) and not isinstance(dims, bool) else None)
    top: dict[str, Any] = {}
    found: list[Problem] = []  # the entries' problems, reported after the bundle's own
    entries: int | None = None
    try:
        for event in walk(path, _spread(wrapped), allow_bom=True):
            if event.kind == "item":
                checker.check(event.value, exact=event.exact, record=event.index, prefix=(*event.path, event.index), problems=found)
            elif event.path[:-1] == bundle:
                if event.kind == "value":
                    top[event.path[-1]] = event.value
                elif event.kind == "array":
                    top[event.path[-1]] = []
                elif event.kind == "end":
                    entries = event.index
    except MalformedInputError as err:
        problems.append(Problem("json.malformed", "error", err.message, name, err.location.line, err.location.record, err.location.path))
        return problems + found
    if wrapped:
        problems.append(
            Problem(
                "tribal.bundle.envelope",
                "error",
                "this is the HTTP export envelope; Tribal's importer needs the bundle itself (the value of .bundle)",
                name,
                None,
                None,
                "$.bundle",
            )
        )
    if layout.non_ascii:
        problems.append(Problem("file.not-ascii", "warning", "raw non-ASCII bytes; Tribal's exporter writes \\u escapes only", name))
    if layout.newline:
        problems.append(
            Problem("tribal.bundle.layout", "warning", "Tribal's exporter writes the bundle as a single line with no final newline", name)
        )
    problems.extend(schemas.problems("bundle", top, exact=needs_reference(top), file=name, prefix=bundle))
    if entries is None:
        return problems
    count = manifest.get("memory_count")
    if isinstance(count, int) and not isinstance(count, bool) and count != entries:
        problems.append(
            Problem(
                "tribal.manifest.count-mismatch",
                "warning",
                f"memory_count says {count} but there are {entries} entries; Tribal never checks it",
                name,
                None,
                None,
                "$.manifest.memory_count",
            )
        )
    problems.extend(found)
    checker.finish(problems)
    return problems


def validate_stream(path: Path, detection: Detection) -> list[Problem]:
    name = str(path)
    schemas = schema_set(NAME, detection.version)
    problems: list[Problem] = []
    checker = EntryChecker(schemas, name, None)
    for line, value, exact, _ in scan(path, problems, ascii_expected=True):
        checker.check(value, exact=exact, line=line, problems=problems)
    checker.finish(problems)
    return problems


@dataclass(frozen=True, slots=True)
class _Layout:
    bom: bool
    non_ascii: bool
    newline: bool  # a line end after the document starts: Tribal writes one line, no final newline


def _layout(path: Path, chunk: int = 1 << 22) -> _Layout:
    """What a validator says of the bytes themselves, read a chunk at a time."""
    bom = non_ascii = newline = started = False
    trailing = b""  # white space after the last non-space byte so far
    with open(path, "rb") as f:
        first = True
        while data := f.read(max(chunk, len(BOM)) if first else chunk):
            if first:
                bom, first = data.startswith(BOM), False
                data = data.removeprefix(BOM)
            non_ascii = non_ascii or not data.isascii()
            if not started:
                data = data.lstrip()
                started = bool(data)
            body = data.rstrip()
            if body:
                newline = newline or b"\n" in trailing or b"\n" in body
                trailing = data[len(body) :]
            else:
                trailing += data
    return _Layout(bom, non_ascii, newline or trailing.endswith(b"\n"))


class EntryChecker:
    """Schema and cross-entry checks for Tribal entries, shared by the bundle and the stream."""

    def __init__(self, schemas: SchemaSet, file: str, dimensions: int | None):
        self.schemas = schemas
        self.file = file
        self.dimensions = dimensions
        self.is_valid = schemas.fast("entry").is_valid
        # the first place of each id, by the id's 64-bit key: line n as n, entries[i] as -1 - i (a
        # dict of a million ints, not of strings and tuples: 1M entries measured ~250 -> ~100 MB;
        # two ids of one key among a million: about one chance in 3e7)
        self.first_seen: dict[int, int] = {}
        self.references: list[tuple[str, str, int | None, int | None, str]] = []

    def check(
        self,
        entry: Any,
        *,
        exact: bool,
        problems: list[Problem],
        record: int | None = None,
        line: int | None = None,
        prefix: tuple[Any, ...] = (),
    ) -> None:
        file = self.file
        if exact or not self.is_valid(entry):
            problems.extend(self.schemas.problems("entry", entry, exact=exact, file=file, line=line, record=record, prefix=prefix))
        if not isinstance(entry, dict):
            return
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in prefix) if prefix else "$"
        for key in ("created_at", "updated_at"):
            value = entry.get(key)
            if isinstance(value, str):
                try:
                    datetime.fromisoformat(value)
                except ValueError:
                    problems.append(
                        Problem(
                            "tribal.entry.timestamp",
                            "error",
                            f"{key} {quote(value)} is not an ISO 8601 date-time Tribal can parse (datetime.fromisoformat); the whole bundle would be rejected",
                            file,
                            line,
                            record,
                            f"{where}.{key}",
                        )
                    )
        vector = entry.get("embedding")
        if isinstance(vector, list) and vector:
            if self.dimensions is not None and len(vector) != self.dimensions:
                problems.append(
                    Problem(
                        "tribal.entry.dimensions",
                        "error",
                        f"embedding has {len(vector)} dimensions but the manifest says {self.dimensions}; Tribal's LanceDB store rejects the entry",
                        file,
                        line,
                        record,
                        f"{where}.embedding",
                    )
                )
            # one sum is cheaper than a test per element; only a non-finite sum needs the full look
            if not math.isfinite(_sum(vector)) and not all(math.isfinite(x) for x in vector if isinstance(x, float)):
                problems.append(
                    Problem(
                        "tribal.entry.non-finite",
                        "error",
                        "embedding holds NaN or Infinity; Tribal's LanceDB store rejects the entry",
                        file,
                        line,
                        record,
                        f"{where}.embedding",
                    )
                )
        if exact and any(has_lone_surrogate(v) for v in _strings(entry)):
            problems.append(
                Problem(
                    "tribal.entry.lone-surrogate",
                    "error",
                    "text holds a lone UTF-16 surrogate; Tribal's LanceDB store cannot encode it",
                    file,
                    line,
                    record,
                    where,
                )
            )
        ident = entry.get("id")
        if isinstance(ident, str):
            key = key64(ident.encode("utf-8", "surrogatepass"))
            first = self.first_seen.get(key)
            if first is not None:
                at = f"line {first}" if first >= 0 else f"entries[{-1 - first}]"
                problems.append(
                    Problem(
                        "tribal.entry.duplicate-id",
                        "error",
                        f"id {quote(ident)} already used by {at}: on import the later entry conflicts with the earlier one and is skipped or replaces it",
                        file,
                        line,
                        record,
                        f"{where}.id",
                    )
                )
            else:
                self.first_seen[key] = line if line is not None else -1 - (record or 0)
        supersedes = entry.get("supersedes")
        if isinstance(supersedes, str):
            self.references.append((supersedes, "supersedes", line, record, f"{where}.supersedes"))
        related = entry.get("related_to")
        if isinstance(related, list):
            for i, target in enumerate(related):
                if isinstance(target, str):
                    self.references.append((target, "related_to", line, record, f"{where}.related_to[{i}]"))

    def finish(self, problems: list[Problem]) -> None:
        for target, field, line, record, path in self.references:
            if key64(target.encode("utf-8", "surrogatepass")) not in self.first_seen:
                problems.append(
                    Problem(
                        "tribal.entry.dangling-reference",
                        "warning",
                        f"{field} names {quote(target)}, which is not in this bundle (Tribal accepts it)",
                        self.file,
                        line,
                        record,
                        path,
                    )
                )


def _sum(vector: list[Any]) -> float:
    try:
        return float(sum(x for x in vector if isinstance(x, (int, float)) and not isinstance(x, bool)))
    except OverflowError:
        return math.inf


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
