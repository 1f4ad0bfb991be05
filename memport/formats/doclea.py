"""Doclea 1.0.0: one pretty-printed JSON document with six arrays under ``data``.

Reference: shared/formats/doclea.md (docleaai/doclea-mcp ``exportData``/``importData``).
``JSON.stringify(…, null, 2)``, raw UTF-8, no final newline. Memories, documents, chunks and
pending memories are camelCase objects; ``memoryRelations`` and ``crossLayerRelations`` are raw
snake_case SQLite rows whose ``metadata`` is a JSON-encoded string. Times are integer Unix seconds,
except memory relations' ``created_at``, which is in milliseconds. Chunk offsets count UTF-16
code units.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..bundle import Bundle, Records
from ..errors import Location, MalformedInputError
from ..jsonio import BOM, atomic_output, dumps_js, dumps_js_compact, needs_reference, read_document, write_synced
from ..model import (
    BundleMeta,
    Chunk,
    Codec,
    Document,
    EmbeddingModel,
    Field,
    Memory,
    PendingMemory,
    Relation,
    Timestamp,
    Unfit,
    integer,
    number,
    raw_timestamp,
    text,
    text_list,
)
from ..problems import Problem, json_path, quote
from ..schemas import schema_set
from ..timestamps import parse_epoch, store_text
from . import Detection, Indexed, NativeRecord
from ._document import head_of, header_of, walk

NAME = "doclea"
VERSIONS = ("1.0.0",)
SCHEMA_VERSIONS = tuple(f"{n:03d}" for n in range(5, 13))
SECTIONS = ("memories", "documents", "chunks", "memoryRelations", "crossLayerRelations", "pendingMemories")
SCHEMA_OF = {
    "memories": "memory",
    "documents": "document",
    "chunks": "chunk",
    "memoryRelations": "memory-relation",
    "crossLayerRelations": "cross-layer-relation",
    "pendingMemories": "pending-memory",
}


def _epoch(milliseconds: bool):
    def decode(raw: Any, _ctx: Any = None) -> Timestamp:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise Unfit
        utc, dialect = parse_epoch(raw, milliseconds=milliseconds)
        return Timestamp.model_construct(raw=raw, utc=utc, dialect=dialect)

    return decode


_seconds = _epoch(False)
_millis = _epoch(True)


def _json_string(raw: Any, _ctx: Any = None) -> Any:
    """Relation metadata is a JSON-encoded string: decode it for inspection when re-encoding gives
    the very same string back; otherwise it stays verbatim in ``extra``."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Unfit
    try:
        value = json.loads(raw)
    except ValueError:
        raise Unfit from None
    if value is None or dumps_js_compact(value) != raw:
        raise Unfit
    return value


MEMORY_KEYS = (
    "id",
    "type",
    "title",
    "content",
    "summary",
    "importance",
    "tags",
    "relatedFiles",
    "gitCommit",
    "sourcePr",
    "experts",
    "qdrantId",
    "createdAt",
    "accessedAt",
    "accessCount",
    "needsReview",
    "decayRate",
    "lastRefreshedAt",
    "confidenceFloor",
    "decayFunction",
)
MEMORY = Codec(
    Memory,
    NAME,
    [
        Field("id", "id", text),
        Field("type", "type", text),
        Field("title", "title", text),
        Field("content", "content", text),
        Field("summary", "summary", text, omit_none=True),
        Field("importance", "importance", number),
        Field("tags", "tags", text_list),
        Field("createdAt", "created_at", _seconds, raw_timestamp),
        Field("accessedAt", "accessed_at", _seconds, raw_timestamp),
    ],
    lambda _: MEMORY_KEYS,
)

DOCUMENT = Codec(
    Document,
    NAME,
    [
        Field("id", "id", text),
        Field("title", "title", text),
        Field("content", "content", text),
        Field("contentHash", "content_hash", text, omit_none=True),
        Field("createdAt", "created_at", _seconds, raw_timestamp),
        Field("updatedAt", "updated_at", _seconds, raw_timestamp),
    ],
    lambda _: ("id", "title", "content", "contentHash", "createdAt", "updatedAt"),
)

CHUNK = Codec(
    Chunk,
    NAME,
    [
        Field("id", "id", text),
        Field("documentId", "document_id", text),
        Field("content", "content", text),
        Field("startOffset", "start_offset", integer),
        Field("endOffset", "end_offset", integer),
    ],
    lambda _: ("id", "documentId", "content", "qdrantId", "startOffset", "endOffset"),
)

MEMORY_RELATION = Codec(
    Relation,
    NAME,
    [
        Field("id", "id", text),
        Field("source_id", "source", text),
        Field("target_id", "target", text),
        Field("type", "type", text),
        Field("weight", "weight", number),
        Field("metadata", "metadata", _json_string, dumps_js_compact),
        Field("created_at", "created_at", _millis, raw_timestamp),
    ],
    lambda _: ("id", "source_id", "target_id", "type", "weight", "metadata", "created_at"),
)

CROSS_LAYER = Codec(
    Relation,
    NAME,
    [
        Field("id", "id", text),
        Field("memory_id", "source", text),
        Field("code_node_id", "target", text),
        Field("relation_type", "type", text),
        Field("direction", "direction", text),
        Field("confidence", "confidence", number),
        Field("metadata", "metadata", _json_string, dumps_js_compact),
        Field("created_at", "created_at", _seconds, raw_timestamp),
    ],
    lambda _: ("id", "memory_id", "code_node_id", "relation_type", "direction", "confidence", "metadata", "created_at"),
)

PENDING = Codec(
    PendingMemory,
    NAME,
    [
        Field("id", "id", text),
        Field("memoryData", "memory"),
        Field("suggestedAt", "suggested_at", _seconds, raw_timestamp),
        Field("source", "source", text),
        Field("reason", "reason", text),
    ],
    lambda _: ("id", "memoryData", "suggestedAt", "source", "reason"),
)

# section name -> (codec, records attribute, fixed canonical values)
READERS = {
    "memories": (MEMORY, "memories", {}),
    "documents": (DOCUMENT, "documents", {}),
    "chunks": (CHUNK, "chunks", {}),
    "memoryRelations": (MEMORY_RELATION, "relations", {"kind": "memory"}),
    "crossLayerRelations": (CROSS_LAYER, "relations", {"kind": "cross_layer"}),
    "pendingMemories": (PENDING, "pending", {}),
}

COLUMNS = {
    "memories": ["id", "type", "title", "content", "summary", "importance", "tags", "created_at", "accessed_at"],
    "relations": ["kind", "id", "source", "target", "type", "weight", "confidence", "direction", "metadata", "created_at"],
    "documents": ["id", "title", "content", "content_hash", "created_at", "updated_at"],
    "chunks": ["id", "document_id", "content", "start_offset", "end_offset"],
    "pending": ["id", "memory", "suggested_at", "source", "reason"],
}


def _spread(member: tuple[str, ...]) -> str | None:
    """How :func:`walk` reads a Doclea document: the data object member by member, its record
    arrays one record at a time, the rest whole."""
    if member == ("data",):
        return "object"
    return "array" if len(member) == 2 and member[0] == "data" and member[1] in SECTIONS else None


def _outline(path: Path) -> tuple[dict[str, Any], bool]:
    """The document with its record arrays left out (an empty list stands for them), read only
    as far as detection needs: up to the first record array when the version came before it (as
    Doclea writes it), else to the end, records skipped one by one. True when it stopped early."""
    top: dict[str, Any] = {}
    events = walk(path, _spread, allow_bom=True)
    with contextlib.closing(events):
        for event in events:
            if event.kind == "object":
                top["data"] = {}
            elif event.kind in ("value", "array"):
                holder = top if len(event.path) == 1 else top["data"]
                holder[event.path[-1]] = event.value if event.kind == "value" else []
                if event.kind == "array" and "version" in top:
                    return top, True
    return top, False


class DocleaFormat:
    name = NAME
    versions = VERSIONS
    looks_for = 'a JSON file {"version": "1.0.0", "schemaVersion": ..., "data": {"memories": [...], ...}}'
    volatile = ()

    def sniff(self, path: Path) -> Detection | None:
        if not path.is_file():
            return None
        head = head_of(path)
        if not head.startswith(b"{") or (b'"data"' not in head and b'"schemaVersion"' not in head):
            return None
        try:
            # detection looks through a BOM, so that validation can report it as a problem
            doc, partial = _outline(path)
        except MalformedInputError:
            if b'"schemaVersion"' in head or b'"memoryRelations"' in head:
                raise  # clearly Doclea, but broken: say so rather than "not a bundle"
            return None
        if not isinstance(doc, dict) or "version" not in doc or "data" not in doc or "manifest" in doc:
            return None
        version = doc["version"]
        evidence = [f"top-level version {version!r}", "top-level data object"]
        if "schemaVersion" in doc:
            evidence.append(f"schemaVersion {doc['schemaVersion']!r}")
        data = doc["data"]
        if isinstance(data, dict) and data:
            evidence.append("data arrays: " + ", ".join(k for k in SECTIONS if k in data) + (", ..." if partial else ""))
        return Detection(NAME, version if isinstance(version, str) else repr(version), evidence, {"header": header_of(doc)})

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        bundle = from_native(read_document(path).value, version=detection.version, local_tz=local_tz, source=str(path))
        bundle.path = str(path)
        return bundle

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        """The records of each data array one by one, in the file's order, read as a stream
        (memory: one record). Detection stopped reading at the first array, so the members met
        after the data object (Doclea writes ``metadata`` there) complete its header."""
        header = detection.details.get("header")
        name = str(path)
        for event in walk(path, _spread):
            if event.kind == "item":
                section, item = event.path[1], event.value
                if not isinstance(item, dict):
                    raise MalformedInputError(
                        f"expected an object, got {quote(item)}",
                        Location(name, record=event.index, path=json_path((*event.path, event.index))),
                    )
                yield NativeRecord(READERS[section][1], item, event.exact, name, None, event.index)
            elif event.kind == "value" and len(event.path) == 1 and event.path[0] != "data" and isinstance(header, dict):
                header[event.path[0]] = event.value

    def identity(self, kind: str, rec: dict[str, Any]) -> str:
        ident = rec.get("id")
        identity = ident if isinstance(ident, str) else json.dumps(ident, ensure_ascii=False)
        if kind == "relations":  # the two relation tables have separate id spaces
            return json.dumps(["cross" if "memory_id" in rec else "memory", identity], ensure_ascii=False)
        return identity

    def index(self, kind: str, rec: dict[str, Any], local_tz: Any) -> Indexed:
        identity = self.identity(kind, rec)
        if kind == "memories":
            tags = rec.get("tags")
            return Indexed(
                identity,
                type=_str(rec.get("type")),
                title=_str(rec.get("title")),
                content=_str(rec.get("content")),
                tags=tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None,
                created_at=_epoch_text(rec.get("createdAt"), False),
                updated_at=_epoch_text(rec.get("accessedAt"), False),
            )
        if kind == "relations":
            cross = "memory_id" in rec  # crossLayerRelations rows
            return Indexed(
                identity,
                type=_str(rec.get("relation_type" if cross else "type")),
                source=_str(rec.get("memory_id" if cross else "source_id")),
                target=_str(rec.get("code_node_id" if cross else "target_id")),
                created_at=_epoch_text(rec.get("created_at"), not cross),
            )
        return Indexed(identity, title=_str(rec.get("title")), content=_str(rec.get("content")))

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        found = dict.fromkeys(SECTIONS, 0)
        for event in walk(path, _spread):
            if event.kind == "end":
                found[event.path[1]] = event.index
        return {
            "memories": found["memories"],
            "relations": found["memoryRelations"] + found["crossLayerRelations"],
            "documents": found["documents"],
            "chunks": found["chunks"],
            "pending": found["pendingMemories"],
        }

    def write(self, bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
        meta = bundle.meta
        same = meta.format == NAME and meta.header is not None
        header = dict(meta.header) if same else self._fresh_header(bundle)
        container = meta.container if same and meta.container is not None else {"keys": list(SECTIONS), "raw": {}}
        if exported_at is not None:
            header["exportedAt"] = int(exported_at.timestamp())
        r = bundle.records
        encoded = {
            "memories": [MEMORY.encode(m) for m in r.memories],
            "documents": [DOCUMENT.encode(d) for d in r.documents],
            "chunks": [CHUNK.encode(c) for c in r.chunks],
            "memoryRelations": [MEMORY_RELATION.encode(x) for x in r.relations if x.kind == "memory"],
            "crossLayerRelations": [CROSS_LAYER.encode(x) for x in r.relations if x.kind == "cross_layer"],
            "pendingMemories": [PENDING.encode(p) for p in r.pending],
        }
        data = {k: (container["raw"][k] if k in container["raw"] else encoded.get(k, [])) for k in container["keys"]}
        doc = {k: (data if k == "data" else v) for k, v in header.items()}
        with atomic_output(path, directory=False, overwrite=overwrite) as out:
            write_synced(out.tmp, dumps_js(doc).encode("utf-8"))
        return out.backup

    def _fresh_header(self, bundle: Bundle) -> dict[str, Any]:
        meta = bundle.meta
        exported = meta.exported_at.utc if meta.exported_at is not None and meta.exported_at.utc else datetime(1970, 1, 1, tzinfo=UTC)
        metadata: dict[str, Any] = {"totalMemories": len(bundle.records.memories)}
        model = meta.embedding_model
        if model is not None and model.provider:
            metadata["embeddingProvider"] = model.provider
        if model is not None and model.name:
            metadata["embeddingModel"] = model.name
        return {
            "version": "1.0.0",
            "exportedAt": int(exported.timestamp()),
            "backendType": meta.backend_type or "sqlite",
            "storageMode": meta.storage_mode or "manual",
            "schemaVersion": meta.schema_version or "012",
            "data": None,
            "metadata": metadata,
        }

    def validate(self, path: Path, detection: Detection) -> list[Problem]:
        """Every problem, reading the document as a stream. What the cross-record checks need is
        kept (ids, the relations' ends, the documents' text for the chunks' offsets), not the
        records themselves."""
        name = str(path)
        schemas = schema_set(NAME, detection.version)
        problems: list[Problem] = []
        with open(path, "rb") as f:
            bom = f.read(len(BOM)) == BOM
        if bom:
            problems.append(
                Problem("file.bom", "error", "starts with a UTF-8 byte order mark (BOM); Doclea's JSON.parse rejects it", name, 1)
            )
        checks = _Checks(schemas, name)
        top: dict[str, Any] = {}
        with _Stringified(path, len(BOM) if bom else 0) as layout:
            try:
                for event in walk(path, _spread, allow_bom=True):
                    layout.add(event)
                    if not event.path:  # not an object
                        problems.extend(schemas.problems("bundle", event.value, file=name))
                        return problems
                    holder = top if len(event.path) == 1 else top["data"]
                    if event.kind == "value":
                        # the bundle's schema sees the data arrays empty (their records are checked one by one)
                        holder[event.path[-1]] = [] if len(event.path) == 2 and isinstance(event.value, list) else event.value
                    elif event.kind == "object":
                        top["data"] = {}
                    elif event.kind == "array":
                        holder[event.path[-1]] = []
                    elif event.kind == "item":
                        checks.item(event.path[1], event.index, event.value, event.exact)
                    else:
                        checks.counts[event.path[1]] = event.index
            except MalformedInputError as err:
                # what the records before the break showed (not their references: the rest is unread)
                problems.append(
                    Problem("json.malformed", "error", err.message, name, err.location.line, err.location.record, err.location.path)
                )
                return problems + checks.record_problems()
            same_layout = layout.finish()
        problems.extend(schemas.problems("bundle", top, exact=needs_reference(top), file=name))
        if layout.final_newline:
            problems.append(Problem("file.final-newline", "warning", "ends with a newline; Doclea's writer adds none", name))
        elif same_layout is False:
            problems.append(
                Problem(
                    "doclea.bundle.layout",
                    "warning",
                    "not laid out as Doclea writes it (JSON.stringify(data, null, 2): 2-space indent, raw UTF-8)",
                    name,
                )
            )
        problems.extend(checks.finish())
        metadata, memories = top.get("metadata"), checks.counts.get("memories")
        if isinstance(metadata, dict) and memories is not None:
            total = metadata.get("totalMemories")
            if isinstance(total, int) and not isinstance(total, bool) and total != memories:
                problems.append(
                    Problem(
                        "doclea.bundle.count-mismatch",
                        "warning",
                        f"metadata.totalMemories says {total} but data.memories has {memories}",
                        name,
                        None,
                        None,
                        "$.metadata.totalMemories",
                    )
                )
        relations = checks.counts.get("memoryRelations")
        if relations:
            problems.append(
                Problem(
                    "doclea.memory-relation.not-importable",
                    "warning",
                    f"Doclea's own importer cannot import memory relations (it inserts into columns relation_type/confidence that do not exist), so these {relations} would be lost on a native restore",
                    name,
                    None,
                    None,
                    "$.data.memoryRelations",
                )
            )
        return problems


class _Checks:
    """The record checks of a Doclea validation, fed one record at a time: each record against its
    schema, duplicate ids per array, then (``finish``) references and chunk offsets, from what was
    kept of the records (ids, the relations' ends, the documents' text), in the order of SECTIONS."""

    def __init__(self, schemas: Any, file: str):
        self.schemas, self.file = schemas, file
        self.found: dict[str, list[Problem]] = {section: [] for section in SECTIONS}
        self.ids: dict[str, dict[str, int]] = {}
        self.counts: dict[str, int] = {}  # records of each array, once it ended
        self.ends: dict[str, list[tuple[int, str, str]]] = {"memoryRelations": [], "crossLayerRelations": []}
        self.contents: dict[Any, Any] = {}  # document id -> its text
        self.chunks: list[tuple[int, Any, Any, Any, Any]] = []  # index, documentId, startOffset, endOffset, content

    def item(self, section: str, index: int, item: Any, exact: bool) -> None:
        schema = SCHEMA_OF[section]
        found, file = self.found[section], self.file
        if exact or not self.schemas.fast(schema).is_valid(item):
            found.extend(self.schemas.problems(schema, item, exact=exact, file=file, record=index, prefix=("data", section, index)))
        seen = self.ids.setdefault(section, {})
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str):
            if ident in seen:
                found.append(
                    Problem(
                        f"doclea.{schema}.duplicate-id",
                        "error",
                        f"id {quote(ident)} already used by {section}[{seen[ident]}]: Doclea's importer skips (or overwrites with) the later copy",
                        file,
                        None,
                        index,
                        f"$.data.{section}[{index}].id",
                    )
                )
            else:
                seen[ident] = index
        if not isinstance(item, dict):
            return
        if section == "memoryRelations":
            self.ends[section] += [(index, key, item[key]) for key in ("source_id", "target_id") if isinstance(item.get(key), str)]
        elif section == "crossLayerRelations" and isinstance(item.get("memory_id"), str):
            self.ends[section].append((index, "memory_id", item["memory_id"]))
        elif section == "documents":
            self.contents[item.get("id")] = item.get("content")
        elif section == "chunks":
            self.chunks.append((index, item.get("documentId"), item.get("startOffset"), item.get("endOffset"), item.get("content")))

    def record_problems(self) -> list[Problem]:
        """What the records showed one by one: their schemas' problems and duplicate ids."""
        return [problem for section in SECTIONS for problem in self.found[section]]

    def finish(self) -> list[Problem]:
        """The records' problems, then their references' and the chunks' offsets'."""
        out = self.record_problems()
        file = self.file
        memories, documents = self.ids.get("memories", {}), self.ids.get("documents", {})
        for section, code in (
            ("memoryRelations", "doclea.memory-relation.dangling"),
            ("crossLayerRelations", "doclea.cross-layer-relation.dangling"),
        ):
            for index, key, target in self.ends[section]:
                if target not in memories:
                    out.append(
                        Problem(
                            code,
                            "warning",
                            f"{key} {quote(target)} names no memory in this bundle (Doclea accepts dangling references)",
                            file,
                            None,
                            index,
                            f"$.data.{section}[{index}].{key}",
                        )
                    )
        for index, doc_id, start, end, chunk_text in self.chunks:
            out.extend(_chunk_problems(file, index, doc_id, start, end, chunk_text, documents, self.contents))
        return out


def _chunk_problems(
    file: str, index: int, doc_id: Any, start: Any, end: Any, text: Any, documents: dict[str, int], contents: dict[Any, Any]
) -> list[Problem]:
    """A chunk's reference to its document and its offsets (UTF-16 code units) into the document's text."""
    out = []
    where = f"$.data.chunks[{index}]"
    if isinstance(doc_id, str) and doc_id not in documents:
        out.append(
            Problem(
                "doclea.chunk.dangling",
                "warning",
                f"documentId {quote(doc_id)} names no document in this bundle (Doclea accepts it)",
                file,
                None,
                index,
                f"{where}.documentId",
            )
        )
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return out
    if start > end:
        out.append(Problem("doclea.chunk.offsets", "warning", f"startOffset {start} is after endOffset {end}", file, None, index, where))
        return out
    content = contents.get(doc_id)
    if isinstance(content, str) and isinstance(text, str):
        length = len(content.encode("utf-16-le", "surrogatepass")) // 2
        if end > length:
            out.append(
                Problem(
                    "doclea.chunk.offsets",
                    "warning",
                    f"endOffset {end} is beyond the document's {length} UTF-16 code units",
                    file,
                    None,
                    index,
                    where,
                )
            )
        elif utf16_slice(content, start, end) != text:
            hint = " (the offsets would fit if counted in code points: UTF-16 units are expected)" if content[start:end] == text else ""
            out.append(
                Problem(
                    "doclea.chunk.offsets",
                    "warning",
                    f"the document's text at UTF-16 offsets {start}..{end} differs from the chunk's content{hint}",
                    file,
                    None,
                    index,
                    where,
                )
            )
    return out


class _Stringified:
    """Whether a document is laid out as ``JSON.stringify(doc, null, 2)`` writes it, judged piece by
    piece as :func:`walk` hands the document out, against the file's bytes (neither held whole):
    ``finish()`` says True or False, or None when a value holds what JSON.stringify writes
    otherwise (NaN, lone surrogates: no verdict, as for a whole document)."""

    def __init__(self, path: Path, skip: int):
        self.file = open(path, "rb")
        self.file.seek(skip)
        self.same: bool | None = True
        self.written = [0]  # members or elements written at each open level: the document's, then data's, then an array's
        self.final_newline = False
        self._put("{")

    def __enter__(self) -> _Stringified:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.file.close()

    def _put(self, text: str) -> None:
        if self.same:
            data = text.encode("utf-8")
            self.same = self.file.read(len(data)) == data

    def _next(self) -> str:
        """The separator before the next member or element of the innermost open level."""
        depth = len(self.written)
        separator = "," if self.written[-1] else ""
        self.written[-1] += 1
        return separator + "\n" + "  " * depth

    def _close(self, bracket: str) -> None:
        count = self.written.pop()
        self._put(("\n" + "  " * len(self.written) if count else "") + bracket)

    def add(self, event: Any) -> None:
        if not self.same or not event.path:
            return
        if event.exact:
            self.same = None
            return
        if event.kind == "item":
            self._put(self._next() + dumps_js(event.value).replace("\n", "\n" + "  " * len(self.written)))
            return
        if event.kind == "end":
            self._close("]")
            return
        if len(event.path) < len(self.written):  # a member after the data object: that closed
            self._close("}")
        prefix = self._next() + dumps_js(event.path[-1]) + ": "
        if event.kind == "value":
            self._put(prefix + dumps_js(event.value).replace("\n", "\n" + "  " * len(self.written)))
        else:
            self._put(prefix + ("{" if event.kind == "object" else "["))
            self.written.append(0)

    def finish(self) -> bool | None:
        """The verdict, once the whole document went by."""
        while self.same and self.written:
            self._close("}" if len(self.written) < 3 else "]")
        if self.same:
            self.same = self.file.read(1) == b""
        self.file.seek(0, 2)
        if self.file.tell():
            self.file.seek(-1, 2)
            self.final_newline = self.file.read(1) == b"\n"
        return self.same


PLUGIN = DocleaFormat()


def from_native(doc: dict[str, Any], *, version: str = "1.0.0", local_tz: str = "UTC", source: str | None = None) -> Bundle:
    """A bundle from a native Doclea document (what the reader parsed, or what a conversion built)."""
    data = doc.get("data")
    if not isinstance(data, dict):
        raise MalformedInputError(f"data must be an object, got {quote(data)}", Location(source, path="$.data"))
    records = Records()
    raw_sections: dict[str, Any] = {}
    for key, value in data.items():
        reader = READERS.get(key)
        if reader is None or not isinstance(value, list):
            raw_sections[key] = value  # kept verbatim: not records memport understands
            continue
        codec, attr, fixed = reader
        target = getattr(records, attr)
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise MalformedInputError(
                    f"expected an object, got {quote(item)}", Location(source, record=index, path=f"$.data.{key}[{index}]")
                )
            target.append(codec.decode(item, None, **fixed))
    header = {k: (None if k == "data" else v) for k, v in doc.items()}
    meta = BundleMeta(format=NAME, version=version, header=header, local_tz=local_tz, container={"keys": list(data), "raw": raw_sections})
    exported = doc.get("exportedAt")
    meta.exported_at = _seconds(exported) if isinstance(exported, (int, float)) and not isinstance(exported, bool) else None
    for attr, key in (("backend_type", "backendType"), ("storage_mode", "storageMode"), ("schema_version", "schemaVersion")):
        if isinstance(doc.get(key), str):
            setattr(meta, attr, doc[key])
    metadata = doc.get("metadata")
    if isinstance(metadata, dict):
        meta.declared_counts = {"memories": metadata.get("totalMemories")}
        if isinstance(metadata.get("embeddingModel"), str) or isinstance(metadata.get("embeddingProvider"), str):
            meta.embedding_model = EmbeddingModel(
                name=metadata.get("embeddingModel") if isinstance(metadata.get("embeddingModel"), str) else None,
                provider=metadata.get("embeddingProvider") if isinstance(metadata.get("embeddingProvider"), str) else None,
            )
    return Bundle(meta, records, columns=COLUMNS)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _epoch_text(value: Any, milliseconds: bool) -> str | None:
    utc, _ = parse_epoch(value, milliseconds=milliseconds)
    return store_text(utc)


def utf16_slice(text: str, start: int, end: int) -> str:
    """``text.slice(start, end)`` as JavaScript counts: in UTF-16 code units."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * start : 2 * end].decode("utf-16-le", "surrogatepass")
