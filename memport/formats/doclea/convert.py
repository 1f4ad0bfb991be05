"""Doclea in conversions: its records as the canonical view, and a Doclea export built from one.

Doclea keeps free-text ids, a closed memory ``type`` enum (else ``note``), a required title, whole
Unix seconds, and its own fields (relatedFiles, experts, qdrantId, ...), which other targets carry
as the origin's fields. Relations from other formats become memory relations whose ``metadata``
(a JSON string) keeps the original; reading an export back restores them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ...jsonio import dumps_js_compact
from ...keys import key64
from ...model import Document, Node, Relation
from ...timestamps import epoch_milliseconds, epoch_seconds
from .. import NativeBundle, relation_owner
from .._convert import (
    EPOCH,
    ConversionReport,
    Link,
    RecordSource,
    StreamedCanonical,
    Target,
    View,
    an_object,
    clean,
    content_text,
    derived_uuid,
    id_view,
    lose_vector,
    nanoid_like,
    record_extras,
    required_times,
    utc,
)
from .codec import CHUNK, CROSS_LAYER, DOCUMENT, MEMORY, MEMORY_RELATION, NAME, PENDING

OTHERS = {"documents": DOCUMENT, "chunks": CHUNK, "pending": PENDING}

TYPES = ("decision", "solution", "pattern", "architecture", "note")
DEFAULT_TYPE = "note"
DEFAULT_IMPORTANCE = 0.5
TITLE_LENGTH = 80
# memory fields only Doclea has (native keys), and the values Doclea fills in by itself: carrying
# those elsewhere would add nothing
ONLY_HERE = (
    "relatedFiles",
    "gitCommit",
    "sourcePr",
    "experts",
    "qdrantId",
    "accessCount",
    "needsReview",
    "decayRate",
    "lastRefreshedAt",
    "confidenceFloor",
    "decayFunction",
)
DEFAULTS = {"relatedFiles": [], "experts": [], "accessCount": 0, "needsReview": False}
# what Doclea's relation types mean (_convert.MEANINGS), and the type written for a meaning
MEANING_OF = {
    "references": "references",
    "implements": "implements",
    "extends": "includes",
    "related_to": "related_to",
    "supersedes": "supersedes",
    "requires": "depends_on",
}
CROSS_MEANING_OF = {"documents": "related_to", "addresses": "addresses", "exemplifies": "similar_to"}
TYPE_FOR = {"related_to": "related_to", "implements": "implements", "includes": "extends", "depends_on": "requires"}

# where each canonical field goes when Doclea is the target (docs/mapping.md)
MAPPING = {
    "id": "id (free text: kept; Kagura: the key when unique, else mem_ + uuid5)",
    "key": "id and title",
    "scope": "",
    "user_id": "",
    "agent_name": "",
    "content": "content (non-text values as JSON text)",
    "title": "title (missing: the first line of content, at most 80 characters)",
    "summary": "summary",
    "type": "type (outside the enum: note)",
    "source_type": "",
    "source_instance": "",
    "tags": "tags",
    "importance": "importance",
    "confidence": "",
    "context": "",
    "supersedes": "memoryRelations (type supersedes)",
    "related_to": "memoryRelations (type related_to)",
    "metadata": "",
    "created_at": "createdAt (Unix seconds)",
    "updated_at": "accessedAt (Unix seconds)",
    "accessed_at": "accessedAt (Unix seconds)",
    "embedding": "",
    "doclea fields (relatedFiles, experts, qdrantId, ...)": "the same fields",
    "relations": "memoryRelations / crossLayerRelations (original Kagura type and data in metadata)",
    "nodes": "",
    "documents": "documents",
    "chunks": "chunks",
    "pending": "pendingMemories",
}


# ---------------------------------------------------------------------------------------------
# Doclea as the source


def to_canonical(source: RecordSource, report: ConversionReport) -> StreamedCanonical:
    """Memories as views (Doclea's own fields as the origin's), relations as links, documents,
    chunks and pending memories as they are, read as often as the target needs."""

    def items(report: ConversionReport) -> Iterator[Any]:
        exported = utc(source.meta.exported_at)
        for record in source.records():
            value = an_object(record)
            report.input += 1
            kind = record.kind
            if kind == "memories":
                m = MEMORY.decode(value, None)
                record_extras("memories", m, report, consumed=ONLY_HERE)
                yield _view(id_view(m, NAME, exported))
            elif kind == "relations":
                cross = "memory_id" in value  # a crossLayerRelations row (its memory end is memory_id)
                rel = (CROSS_LAYER if cross else MEMORY_RELATION).decode(value, None, kind="cross_layer" if cross else "memory")
                record_extras("relations", rel, report)
                yield _link(rel)
            else:
                yield OTHERS[kind].decode(value, None)

    return StreamedCanonical(NAME, source, items, report)


def _view(v: View) -> View:
    m = v.record
    v.native_only = {k: m.extra[k] for k in ONLY_HERE if k in m.extra}
    v.native_defaults = native_defaults(v.native_only)
    v.defaults = frozenset(
        name
        for name, is_default in (
            ("type", v.type == DEFAULT_TYPE),
            ("importance", v.importance == DEFAULT_IMPORTANCE),
            ("title", isinstance(v.content, str) and v.title == first_line_title(v.content)),
        )
        if is_default
    )
    return v


def native_defaults(values: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k, value in values.items() if DEFAULTS.get(k, object()) == value)


def meaning(relation: Relation) -> str:
    table = MEANING_OF if relation.kind == "memory" else CROSS_MEANING_OF
    return table.get(relation.type or "", "related_to")


def _link(rel: Relation) -> Link:
    """A relation as a link; one a conversion made from another format's relation (its metadata's
    ``memport`` names the original type and ends) is that relation again."""
    original = rel.metadata.get("memport") if isinstance(rel.metadata, dict) else None
    if isinstance(original, dict) and "rel_type" in original:
        edge = Relation.model_construct(
            kind="edge",
            id=rel.id,
            source=original.get("src"),
            target=original.get("dst"),
            type=original["rel_type"],
            weight=rel.weight,
            confidence=rel.confidence,
            data=original.get("data"),
            extra={},
            origin=None,
        )
        owner = relation_owner("edge")
        return Link(edge, owner.meaning(edge), owner.family)
    return Link(rel, meaning(rel), NAME)


def first_line_title(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:TITLE_LENGTH] or "(untitled)"


# ---------------------------------------------------------------------------------------------
# Doclea as the target


def from_canonical(canonical: Any, target: Target, report: ConversionReport) -> NativeBundle:
    """A Doclea export, record by record: memories, documents, then the relations (those a Tribal
    or Kagura source keeps as fields, other formats' relations, restored ones). Its ids and where
    references lead come from a first read of the source (:class:`_Facts`)."""
    now = target.now
    facts = _Facts(canonical)
    header = {
        "version": "1.0.0",
        "exportedAt": epoch_seconds(now),
        "backendType": "sqlite",
        "storageMode": "manual",
        "schemaVersion": "012",
        "data": None,
        "metadata": {"totalMemories": facts.count},
    }
    cross: list[dict[str, Any]] = []  # made while the memory relations are written (rare: restored ones)

    def records(kind: str) -> Iterator[dict[str, Any]]:
        if kind == "memories":
            return _memories(canonical, facts, report)
        if kind == "documents" and facts.documents:
            return _documents(canonical, now, report)
        if kind == "memoryRelations" and facts.related:
            return _relations(canonical, facts, report, cross)
        if kind == "crossLayerRelations":
            return iter(cross)
        return iter(())

    keys = ["memories", "documents", "chunks", "memoryRelations", "crossLayerRelations", "pendingMemories"]
    return NativeBundle(NAME, header, records, {"keys": keys, "raw": {}}, target.local_tz)


def _memories(canonical: Any, facts: _Facts, report: ConversionReport) -> Iterator[dict[str, Any]]:
    ids = _Ids(facts.many)
    for v in canonical.items():
        if isinstance(v, View):
            lose_vector(v, report, NAME)
            record = _memory(v, ids.assign(v), report)
            report.written += 1
            yield record


def _memory(v: View, memory_id: str, report: ConversionReport) -> dict[str, Any]:
    own = v.native_only if v.origin == NAME else {}
    if v.origin != NAME and {k for k in v.native_only if k not in v.native_defaults}:
        report.lose("memories", f"{v.origin} fields", v.label, "fields only its origin format has: Doclea has no place for them")
    text = content_text(v, report, NAME)
    title = v.title if isinstance(v.title, str) else (v.key if isinstance(v.key, str) else None)
    if title is None:
        title = first_line_title(text)
        report.lose("memories", "title", v.label, "Doclea requires a title: derived from the first line of content")
    # a Doclea record coming home keeps its own type, even one outside the enum ("knowledge")
    kind = v.type if v.type in TYPES or (v.origin == NAME and isinstance(v.type, str)) else DEFAULT_TYPE
    if v.type is not None and v.type != kind:
        report.lose("memories", "type", v.label, f"{v.type!r} is not a Doclea memory type: written as {DEFAULT_TYPE}")
    created, accessed = required_times(v, report, NAME)
    for name, value, given in (("created_at", created, v.created), ("updated_at", accessed, v.updated)):
        if given is not None and value.microsecond:
            report.lose("memories", name, v.label, "Doclea keeps whole Unix seconds: the fraction is dropped")
    record: dict[str, Any] = {"id": memory_id, "type": kind, "title": clean(title, v, "title", report, NAME), "content": text}
    if v.summary is not None:
        record["summary"] = clean(v.summary, v, "summary", report, NAME)
    record["importance"] = _number(v.importance, DEFAULT_IMPORTANCE, "memories", "importance", v.label, report)
    record["tags"] = list(v.tags or [])
    record["relatedFiles"] = own.get("relatedFiles", [])
    for k in ("gitCommit", "sourcePr"):
        if k in own:
            record[k] = own[k]
    record["experts"] = own.get("experts", [])
    if "qdrantId" in own:
        record["qdrantId"] = own["qdrantId"]
    record["createdAt"] = epoch_seconds(created)
    record["accessedAt"] = epoch_seconds(accessed)
    record["accessCount"] = own.get("accessCount", 0)
    record["needsReview"] = own.get("needsReview", False)
    for k in ("decayRate", "lastRefreshedAt", "confidenceFloor", "decayFunction"):
        if k in own:
            record[k] = own[k]
    for name in ("scope", "user_id", "agent_name", "source_type", "source_instance", "context"):
        if getattr(v, name) is not None:
            report.lose("memories", name, v.label, "Doclea has no place for it")
    if v.confidence is not None and v.confidence != 1.0:
        report.lose("memories", "confidence", v.label, "Doclea has no place for it")
    if v.metadata is not None:
        report.lose("memories", "metadata", v.label, "Doclea memories have no free metadata")
    if v.key is not None and v.key != record["id"] and v.key != title:
        report.lose("memories", "key", v.label, "the Kagura key is neither the id nor the title here (only unique text keys are)")
    return record


def _documents(canonical: Any, now: datetime, report: ConversionReport) -> Iterator[dict[str, Any]]:
    """Documents of another format (Letta's files); chunks and pending memories exist only in
    Doclea bundles, which never get here. Doclea keeps one document per id: a repeated id (two
    files of one name in one Letta source) gets one derived from its place, reported."""
    used: set[int] = set()
    for position, item in enumerate(i for i in canonical.items() if isinstance(i, Document)):
        record = _document(item, now, report)
        if _key(record["id"]) in used:
            report.lose("documents", "id", record["id"], "an id an earlier document has: Doclea keeps one per id, so this one's is derived")
            record["id"] = "doc_" + derived_uuid(canonical.format, f"{record['id']}\x1f{position}").replace("-", "")[:16]
        used.add(_key(record["id"]))
        report.written += 1
        yield record


def _document(d: Document, now: datetime, report: ConversionReport) -> dict[str, Any]:
    """A document of another format as Doclea keeps one: its id, title (else the first line of its
    text) and text, whole Unix seconds (missing: the export time); what else it has, reported."""
    content = d.content if isinstance(d.content, str) else ""
    title = d.title if isinstance(d.title, str) else first_line_title(content)
    created, updated = utc(d.created_at), utc(d.updated_at)
    if created is None or updated is None:
        report.lose(
            "documents",
            "created_at" if created is None else "updated_at",
            d.id,
            "missing in the source; Doclea requires it: filled with the export time",
        )
    record: dict[str, Any] = {"id": str(d.id), "title": title, "content": content}
    if d.content_hash is not None:
        record["contentHash"] = d.content_hash
    record["createdAt"] = epoch_seconds(created or now)
    record["updatedAt"] = epoch_seconds(updated or created or now)
    for key, value in d.extra.items():
        if value is not None:
            report.lose("documents", key, d.id, "Doclea documents have no place for it")
    return record


def _key(text: str) -> int:
    return key64(text.encode("utf-8", "surrogatepass"))


class _Ids:
    """Memory ids in source order: free-text ids are kept; Kagura records use their key when it is a
    unique string (among the records without an id); else (or when taken) one derived from the
    source identity."""

    def __init__(self, many: set[int]):
        self.many = many  # keys (of records without an id) that more than one record has
        self.used: set[int] = set()

    def assign(self, v: View) -> str:
        if isinstance(v.source_id, str):
            new = v.source_id
        elif isinstance(v.key, str) and _key(v.key) not in self.many:
            new = v.key
        else:
            new = "mem_" + derived_uuid(v.source_format, v.identity).replace("-", "")[:16]
        if _key(new) in self.used:
            new = "mem_" + derived_uuid(v.source_format, f"{v.identity}\x1f{len(self.used)}").replace("-", "")[:16]
        self.used.add(_key(new))
        return new


class _Facts:
    """What the relations need from all memories, read before they are written: the number of
    memories (metadata.totalMemories), the id the first memory with an id a field relation names
    got, and the id the last memory with a key a relation's end names got. Memory: 64-bit keys,
    and strings only for what relations name."""

    def __init__(self, canonical: Any):
        self.count = 0
        self.documents = self.related = False  # whether there are documents; relations (or nodes) to write or report
        once: set[int] = set()
        self.many: set[int] = set()
        targets: set[int] = set()  # ids that Tribal's or Kagura's relation fields name
        ends: set[int] = set()  # keys (as JSON) that relations' ends name
        for item in canonical.items():
            if isinstance(item, View):
                self.count += 1
                if item.source_id is None and isinstance(item.key, str):
                    key = _key(item.key)
                    (self.many if key in once else once).add(key)
                for ref in ([item.supersedes] if item.supersedes else []) + list(item.related_to or []):
                    targets.add(_key(json.dumps(ref)))
            elif isinstance(item, Link):
                ends.update((_key(json.dumps(item.relation.source)), _key(json.dumps(item.relation.target))))
            elif isinstance(item, Document):
                self.documents = True
            elif isinstance(item, Node):
                self.related = True
        self.related = self.related or bool(targets or ends)
        self.first: dict[Any, str] = {}  # own id -> the id its first memory got
        self.key_to_id: dict[str, str] = {}  # key as JSON -> the id its last memory got
        if targets or ends:
            ids = _Ids(self.many)
            for v in canonical.items():
                if not isinstance(v, View):
                    continue
                assigned = ids.assign(v)
                if v.own_id is not None and v.own_id not in self.first and _key(json.dumps(v.own_id)) in targets:
                    self.first[v.own_id] = assigned
                if v.key is not None and _key(json.dumps(v.key)) in ends:
                    self.key_to_id[json.dumps(v.key)] = assigned


def _relations(canonical: Any, facts: _Facts, report: ConversionReport, cross: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Memory rows (and, into ``cross``, cross-layer rows): from the fields a Tribal or Kagura source
    keeps relations in, from other formats' relations (Kagura's edges), and restored ones."""
    seen: set[Any] = set()
    key_to_id = facts.key_to_id
    ids = _Ids(facts.many)

    def add(kind: str, row: dict[str, Any], from_record: Any) -> bool:
        """Doclea keeps one row per id and per (source, target, type): a repeat is merged."""
        ends = (
            row.get("source_id", row.get("memory_id")),
            row.get("target_id", row.get("code_node_id")),
            row.get("type", row.get("relation_type")),
        )
        if row["id"] in seen or ends in seen:
            if from_record is not None:
                report.merged += 1
            report.lose("relations", "(record)", row["id"], "a repeated link between the same memories: Doclea keeps one")
            return False
        seen.update((row["id"], ends))
        if from_record is not None:
            report.written += 1
        else:
            report.created += 1
        return True

    # the relations a Tribal or Kagura source keeps as fields (its memories come first), then the
    # relations, in the source's order
    for item in canonical.items():
        if isinstance(item, View):
            v = item
            source_id = ids.assign(v)
            for rel_type, targets in (("supersedes", [v.supersedes] if v.supersedes else []), ("related_to", v.related_to or [])):
                for target in targets:
                    row = {
                        "id": nanoid_like("rel", source_id, target, rel_type),
                        "source_id": source_id,
                        "target_id": facts.first.get(target, target),
                        "type": rel_type,
                        "weight": 1,
                        "metadata": None,
                        "created_at": epoch_milliseconds(v.updated or v.created or EPOCH),
                    }
                    if add("memory", row, None):
                        yield row
        elif isinstance(item, Link):
            kind, row = _link_row(item, key_to_id, report)
            if add(kind, row, item.relation):
                if kind == "memory":
                    yield row
                else:
                    cross.append(row)
        elif isinstance(item, Node):
            if isinstance(item.data, dict) and "memport" in item.data:
                report.merged += 1  # an endpoint a conversion to Kagura created: the relation carries it
            else:
                report.drop("nodes", "no graph nodes in doclea", item.id)


def _link_row(link: Link, key_to_id: dict[str, str], report: ConversionReport) -> tuple[str, dict[str, Any]]:
    """The row a relation becomes: its own (restored) one, or a memory relation made from another
    format's relation (Kagura's edge), whose metadata keeps the original."""
    rel = link.relation
    if rel.kind in ("memory", "cross_layer"):  # one of ours, which a conversion kept
        return rel.kind, _row_back(rel, key_to_id)
    src = key_to_id.get(json.dumps(rel.source), rel.source if isinstance(rel.source, str) else json.dumps(rel.source))
    dst = key_to_id.get(json.dumps(rel.target), rel.target if isinstance(rel.target, str) else json.dumps(rel.target))
    created = rel.data.get("created_at") if isinstance(rel.data, dict) else None
    kept = {"memport": {"rel_type": rel.type, "src": rel.source, "dst": rel.target, "data": rel.data}}
    if _has_non_finite(kept):  # JSON.parse reads no NaN: JSON.stringify's null stands in, reported
        report.lose("relations", "data", rel.id, "NaN or Infinity in the edge's data has no JSON form Doclea reads back: written as null")
        metadata = dumps_js_compact(kept)
    else:
        metadata = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
    return "memory", {
        "id": nanoid_like("edge", json.dumps(rel.source), json.dumps(rel.target)),
        "source_id": src,
        "target_id": dst,
        "type": TYPE_FOR.get(link.meaning, "references"),
        "weight": _number(rel.weight, 1, "relations", "weight", rel.id, report),
        "metadata": metadata,
        "created_at": _millis(created),
    }


def _row_back(rel: Relation, key_to_id: dict[str, str]) -> dict[str, Any]:
    """A relation a conversion to another format kept (and restored): its original row."""
    if rel.kind == "memory":
        return {
            "id": rel.id,
            "source_id": key_to_id.get(json.dumps(rel.source), rel.source),
            "target_id": key_to_id.get(json.dumps(rel.target), rel.target),
            "type": rel.type,
            "weight": rel.weight if rel.weight is not None else 1,
            "metadata": _metadata_text(rel.metadata),
            "created_at": rel.created_at.raw if rel.created_at else None,
        }
    return {
        "id": rel.id,
        "memory_id": key_to_id.get(json.dumps(rel.source), rel.source),
        "code_node_id": rel.target,
        "relation_type": rel.type,
        "direction": rel.direction,
        "confidence": rel.confidence,
        "metadata": _metadata_text(rel.metadata),
        "created_at": rel.created_at.raw if rel.created_at else None,
    }


def _metadata_text(value: Any) -> Any:
    return None if value is None else dumps_js_compact(value)


def _millis(text: Any) -> int:
    if isinstance(text, str):
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return 0
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return epoch_milliseconds(dt)
    return 0


def _number(value: Any, default: float | int, kind: str, field_name: str, label: Any, report: ConversionReport) -> float | int:
    """A number as Doclea keeps it (JavaScript): integral floats as integers, the default where
    there is none. What it cannot hold is reported, with what was written instead: NaN and Infinity
    (JSON.stringify writes null, which Doclea's types reject) become the default; an integer beyond
    2**53 is read back by JavaScript as the nearest double."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        report.lose(
            kind, field_name, label, f"{value} has no JSON form Doclea reads back (JSON.stringify writes null): written as {default}"
        )
        return default
    if isinstance(value, int) and abs(value) > 2**53:
        report.lose(kind, field_name, label, f"an integer beyond 2**53: JavaScript reads {value} back as {float(value)!r}")
    return _js_number(value)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _js_number(value: float | int) -> float | int:
    return int(value) if isinstance(value, float) and value.is_integer() else value
