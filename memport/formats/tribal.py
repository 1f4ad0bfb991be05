"""Tribal Memory 1.0: the portable bundle ``{"manifest", "entries"}`` and the JSONL entry stream.

Reference: shared/formats/tribal.md (tribalmemory 0.6.2). The bundle is one line of
``json.dump(..., default=str)``: ASCII escapes, Python separators, no final newline. The HTTP
export wraps it as ``{"success", "memory_count", "bundle", "error"}``; memport reads the bundle
inside and says so. The JSONL stream (one entry per line, no manifest) has no native reader; it
carries no model identity, so its vectors have no model.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..bundle import Bundle, Records
from ..errors import Location, MalformedInputError
from ..jsonio import BOM, atomic_output, dumps_python, has_lone_surrogate, needs_reference, read_document, write_synced
from ..model import BundleMeta, Codec, Embedding, EmbeddingModel, Field, Memory, Timestamp, Unfit, number, raw_timestamp, text, text_list
from ..problems import Problem, json_path, quote
from ..schemas import SchemaSet, schema_set
from ..timestamps import ISO_NAIVE_UTC, parse_text, store_text
from . import Detection, Indexed, NativeRecord
from ._document import head_of, header_of, walk
from ._jsonl import scan

NAME = "tribal"
JSONL_NAME = "tribal-jsonl"
VERSIONS = ("1.0",)
ENTRY_KEYS = (
    "id",
    "content",
    "embedding",
    "source_instance",
    "source_type",
    "created_at",
    "updated_at",
    "tags",
    "context",
    "confidence",
    "supersedes",
    "related_to",
)
ENVELOPE_KEYS = {"success", "bundle"}


@dataclass(frozen=True, slots=True)
class _Context:
    model: str | None
    dimensions: int | None


def _timestamp(raw: Any, _ctx: Any = None) -> Timestamp:
    if not isinstance(raw, str):
        raise Unfit
    utc, dialect = parse_text(raw, naive=ISO_NAIVE_UTC)
    return Timestamp.model_construct(raw=raw, utc=utc, dialect=dialect)


def _vector(raw: Any, ctx: _Context) -> Embedding | None:
    if raw is None:
        return None
    if isinstance(raw, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw):
        return Embedding.model_construct(vector=raw, model=ctx.model, dimensions=ctx.dimensions)
    raise Unfit


# Entries from the bundle and from the stream are the same object, so they share one codec.
ENTRY = Codec(
    Memory,
    NAME,
    [
        Field("id", "id", text),
        Field("content", "content"),
        Field("embedding", "embedding", _vector, lambda e: e.vector),
        Field("source_instance", "source_instance", text),
        Field("source_type", "source_type", text),
        Field("created_at", "created_at", _timestamp, raw_timestamp),
        Field("updated_at", "updated_at", _timestamp, raw_timestamp),
        Field("tags", "tags", text_list),
        Field("context", "context", text),
        Field("confidence", "confidence", number),
        Field("supersedes", "supersedes", text),
        Field("related_to", "related_to", text_list),
    ],
    lambda _: ENTRY_KEYS,
)

COLUMNS = {
    "memories": [
        "id",
        "content",
        "embedding",
        "source_instance",
        "source_type",
        "created_at",
        "updated_at",
        "tags",
        "context",
        "confidence",
        "supersedes",
        "related_to",
    ],
}


def _embedding_model(raw: Any) -> EmbeddingModel | None:
    if not isinstance(raw, dict):
        return None
    name, dims, provider, created = (raw.get(k) for k in ("model_name", "dimensions", "provider", "created_at"))
    return EmbeddingModel(
        name=name if isinstance(name, str) else None,
        dimensions=dims if isinstance(dims, int) and not isinstance(dims, bool) else None,
        provider=provider if isinstance(provider, str) else None,
        created_at=_timestamp(created) if isinstance(created, str) else None,
    )


def _unwrap(doc: Any) -> tuple[Any, bool]:
    """The bundle inside an HTTP export envelope, or the document itself."""
    if isinstance(doc, dict) and "manifest" not in doc and ENVELOPE_KEYS <= doc.keys() and isinstance(doc.get("bundle"), dict):
        return doc["bundle"], True
    return doc, False


def _spread(wrapped: bool) -> Any:
    """How :func:`walk` reads a Tribal document: entries one by one, the envelope's bundle (if
    it is one) member by member, the rest whole."""
    entries = ("bundle", "entries") if wrapped else ("entries",)
    return lambda member: "array" if member == entries else "object" if wrapped and member == ("bundle",) else None


def _outline(path: Path) -> dict[str, Any]:
    """The document with its entries left out (an empty list stands for them), read only as far
    as detection needs: up to the entries when what comes before says what the file is (the
    manifest first, as Tribal writes it), else to the end, entries skipped one by one."""
    top: dict[str, Any] = {}

    def spread(member: tuple[str, ...]) -> str | None:
        if member == ("entries",):
            return "array"
        return None if "manifest" in top else _spread(True)(member)  # an envelope has no manifest of its own

    events = walk(path, spread, allow_bom=True)
    with contextlib.closing(events):
        for event in events:
            holder = top if len(event.path) == 1 else top.get("bundle")
            if not isinstance(holder, dict):
                continue
            if event.kind == "object":
                top["bundle"] = {}
            elif event.kind == "value":
                holder[event.path[-1]] = event.value
            elif event.kind == "array":
                holder[event.path[-1]] = []
                settled = "manifest" in top if len(event.path) == 1 else "success" in top and "manifest" in holder
                if settled:
                    break
    return top


class TribalFormat:
    name = NAME
    versions = VERSIONS
    looks_for = 'a JSON file {"manifest": {"schema_version": ...}, "entries": [...]} (or the HTTP envelope holding one)'
    volatile = ()

    def sniff(self, path: Path) -> Detection | None:
        if not path.is_file():
            return None
        head = head_of(path)
        if not head.startswith(b"{") or (b'"manifest"' not in head and b'"bundle"' not in head):
            return None
        try:
            # detection looks through a BOM, so that validation can report it as a problem
            doc = _outline(path)
        except MalformedInputError:
            if head.startswith(b'{"manifest"') or (b'"manifest"' in head and b'"entries"' in head):
                raise  # clearly Tribal, but broken: say so rather than "not a bundle"
            return None
        bundle, wrapped = _unwrap(doc)
        if not isinstance(bundle, dict) or "manifest" not in bundle:
            return None
        manifest = bundle["manifest"]
        version = manifest.get("schema_version") if isinstance(manifest, dict) else None
        evidence = ["HTTP export envelope: the bundle is under .bundle"] if wrapped else []
        evidence += ["top-level manifest object", f"manifest.schema_version {version!r}"]
        if "entries" in bundle:
            evidence.append("top-level entries array")
        return Detection(
            NAME, str(version) if isinstance(version, str) else repr(version), evidence, {"wrapped": wrapped, "header": header_of(bundle)}
        )

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        bundle, _ = _unwrap(read_document(path).value)
        result = from_native(bundle, version=detection.version, local_tz=local_tz, source=str(path))
        result.path = str(path)
        return result

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        """The entries one by one, read as a stream (memory: one entry). Detection may have stopped
        reading at the entries, so the members met after them complete its header (Tribal's
        exporter writes none)."""
        wrapped = bool(detection.details.get("wrapped"))
        bundle = ("bundle",) if wrapped else ()
        header = detection.details.get("header")
        name = str(path)
        for event in walk(path, _spread(wrapped)):
            if event.kind == "item" and event.path == (*bundle, "entries"):
                entry = event.value
                if not isinstance(entry, dict):
                    raise MalformedInputError(
                        f"expected an entry object, got {quote(entry)}",
                        Location(name, record=event.index, path=json_path((*event.path, event.index))),
                    )
                yield NativeRecord("memories", entry, event.exact, name, None, event.index)
            elif event.kind == "value" and event.path[:-1] == bundle and event.path[-1] != "entries" and isinstance(header, dict):
                header[event.path[-1]] = event.value

    def identity(self, kind: str, value: dict[str, Any]) -> str:
        return _entry_identity(kind, value)

    def identity_bytes(self, kind: str, value: dict[str, Any]) -> bytes:
        return _entry_identity(kind, value).encode("utf-8", "surrogatepass")

    def index(self, kind: str, value: dict[str, Any], local_tz: Any) -> Indexed:
        return _entry_index(kind, value)

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        wrapped = bool(detection.details.get("wrapped"))
        entries = ("bundle", "entries") if wrapped else ("entries",)
        return {"memories": sum(1 for event in walk(path, _spread(wrapped)) if event.kind == "item" and event.path == entries)}

    def write(self, bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
        meta = bundle.meta
        if meta.format == NAME and meta.header is not None:
            header = dict(meta.header)
        else:
            header = {"manifest": self._fresh_manifest(bundle), "entries": None}
        if exported_at is not None and isinstance(header.get("manifest"), dict):
            header["manifest"] = {**header["manifest"], "exported_at": exported_at.astimezone(UTC).isoformat()}
        entries = [ENTRY.encode(m) for m in bundle.records.memories]
        doc = {k: (entries if k == "entries" else v) for k, v in header.items()}
        with atomic_output(path, directory=False, overwrite=overwrite) as out:
            # json.dump(bundle, f, default=str): one line, no final newline
            write_synced(out.tmp, dumps_python(doc).encode("ascii"))
        return out.backup

    def _fresh_manifest(self, bundle: Bundle) -> dict[str, Any]:
        model = bundle.meta.embedding_model or EmbeddingModel()
        embedding: dict[str, Any] = {"model_name": model.name or "unknown", "dimensions": model.dimensions}
        if model.provider is not None:
            embedding["provider"] = model.provider
        manifest: dict[str, Any] = {"schema_version": "1.0", "embedding": embedding, "memory_count": len(bundle.records.memories)}
        if bundle.meta.exported_at is not None and isinstance(bundle.meta.exported_at.raw, str):
            manifest["exported_at"] = bundle.meta.exported_at.raw
        return manifest

    def validate(self, path: Path, detection: Detection) -> list[Problem]:
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
            problems.append(
                Problem("json.malformed", "error", err.message, name, err.location.line, err.location.record, err.location.path)
            )
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
                Problem(
                    "tribal.bundle.layout", "warning", "Tribal's exporter writes the bundle as a single line with no final newline", name
                )
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


class TribalJsonlFormat:
    name = JSONL_NAME
    versions = VERSIONS
    looks_for = "a JSON Lines file of Tribal entries (id, content, source_type, created_at, ...)"
    volatile = ()

    def sniff(self, path: Path) -> Detection | None:
        if not path.is_file():
            return None
        with open(path, "rb") as f:
            for raw in f:
                if raw.strip():
                    first = raw.lstrip(BOM).strip()
                    break
            else:
                return None
        if not first.startswith(b"{"):
            return None
        try:
            from ..jsonio import loads

            obj = loads(first).value
        except MalformedInputError:
            return None
        if (
            not isinstance(obj, dict)
            or not {"id", "content"} <= obj.keys()
            or not obj.keys() & {"source_type", "created_at", "source_instance"}
        ):
            return None
        shown = ", ".join(k for k in ENTRY_KEYS if k in obj)
        return Detection(
            JSONL_NAME, "1.0", [f"first line is a Tribal entry object ({shown})", "no manifest: the stream format of Tribal 1.0"]
        )

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        def entries() -> Iterator[dict[str, Any]]:
            for line, value, _, _ in scan(path, None, ascii_expected=True):
                if not isinstance(value, dict):
                    raise MalformedInputError(f"expected an entry object, got {quote(value)}", Location(str(path), line=line))
                yield value

        bundle = jsonl_from_native(entries(), local_tz=local_tz)
        bundle.path = str(path)
        return bundle

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        return {"memories": sum(1 for _ in scan(path, None, ascii_expected=True, exact_integers=False))}

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        for line, value, exact, raw in scan(path, None, ascii_expected=True):
            if not isinstance(value, dict):
                raise MalformedInputError(f"expected an entry object, got {quote(value)}", Location(str(path), line=line))
            yield NativeRecord("memories", value, exact, str(path), line, raw=raw)

    def identity(self, kind: str, value: dict[str, Any]) -> str:
        return _entry_identity(kind, value)

    def identity_bytes(self, kind: str, value: dict[str, Any]) -> bytes:
        return _entry_identity(kind, value).encode("utf-8", "surrogatepass")

    def index(self, kind: str, value: dict[str, Any], local_tz: Any) -> Indexed:
        return _entry_index(kind, value)

    def write(self, bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
        with atomic_output(path, directory=False, overwrite=overwrite) as out:
            with open(out.tmp, "w", encoding="ascii", newline="\n") as f:
                for memory in bundle.records.memories:
                    f.write(dumps_python(ENTRY.encode(memory)))
                    f.write("\n")
        return out.backup

    def validate(self, path: Path, detection: Detection) -> list[Problem]:
        name = str(path)
        schemas = schema_set(NAME, detection.version)
        problems: list[Problem] = []
        checker = EntryChecker(schemas, name, None)
        for line, value, exact, _ in scan(path, problems, ascii_expected=True):
            checker.check(value, exact=exact, line=line, problems=problems)
        checker.finish(problems)
        return problems


PLUGIN = TribalFormat()
JSONL_PLUGIN = TribalJsonlFormat()


def _entry_identity(kind: str, entry: dict[str, Any]) -> str:
    ident = entry.get("id")
    return ident if isinstance(ident, str) else json.dumps(ident, ensure_ascii=False)


def _entry_index(kind: str, entry: dict[str, Any], local_tz: Any = None) -> Indexed:
    """Entries of the bundle and of the stream are one object, indexed alike."""
    content, tags = entry.get("content"), entry.get("tags")
    return Indexed(
        identity=_entry_identity(kind, entry),
        type=entry.get("source_type") if isinstance(entry.get("source_type"), str) else None,
        content=content if isinstance(content, str) else json.dumps(content, ensure_ascii=False),
        tags=tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None,
        created_at=_store_time(entry.get("created_at")),
        updated_at=_store_time(entry.get("updated_at")),
    )


def _store_time(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    utc, _ = parse_text(text, naive=ISO_NAIVE_UTC)
    return store_text(utc)


def from_native(bundle: dict[str, Any], *, version: str = "1.0", local_tz: str = "UTC", source: str | None = None) -> Bundle:
    """A bundle from a native Tribal document (what the reader parsed, or what a conversion built)."""
    manifest = bundle.get("manifest")
    model = _embedding_model(manifest.get("embedding")) if isinstance(manifest, dict) else None
    ctx = _Context(model.name if model else None, model.dimensions if model else None)
    entries = bundle.get("entries", [])
    if not isinstance(entries, list):
        raise MalformedInputError(f"entries must be an array, got {quote(entries)}", Location(source, path="$.entries"))
    records = Records()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedInputError(
                f"expected an entry object, got {quote(entry)}", Location(source, record=index, path=f"$.entries[{index}]")
            )
        records.memories.append(ENTRY.decode(entry, ctx))
    header = {k: (None if k == "entries" else v) for k, v in bundle.items()}
    meta = BundleMeta(format=NAME, version=version, embedding_model=model, header=header, local_tz=local_tz)
    if isinstance(manifest, dict):
        exported = manifest.get("exported_at")
        meta.exported_at = _timestamp(exported) if isinstance(exported, str) else None
        meta.declared_counts = {"memories": manifest.get("memory_count")}
        meta.schema_version = manifest.get("schema_version") if isinstance(manifest.get("schema_version"), str) else None
    return Bundle(meta, records, columns=COLUMNS)


def jsonl_from_native(entries: Iterable[dict[str, Any]], *, local_tz: str = "UTC", model: EmbeddingModel | None = None) -> Bundle:
    """A JSONL-stream bundle from native entries; the stream itself carries no model identity."""
    ctx = _Context(model.name if model else None, model.dimensions if model else None)
    records = Records(memories=[ENTRY.decode(e, ctx) for e in entries])
    return Bundle(BundleMeta(format=JSONL_NAME, version="1.0", local_tz=local_tz, embedding_model=model), records, columns=COLUMNS)


class EntryChecker:
    """Schema and cross-entry checks for Tribal entries, shared by the bundle and the stream."""

    def __init__(self, schemas: SchemaSet, file: str, dimensions: int | None):
        self.schemas = schemas
        self.file = file
        self.dimensions = dimensions
        self.is_valid = schemas.fast("entry").is_valid
        self.first_seen: dict[str, tuple[int | None, int | None]] = {}
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
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in prefix)
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
            if ident in self.first_seen:
                first_line, first_record = self.first_seen[ident]
                at = f"line {first_line}" if first_line is not None else f"entries[{first_record}]"
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
                self.first_seen[ident] = (line, record)
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
            if target not in self.first_seen:
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
