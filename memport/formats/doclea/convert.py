"""Doclea in conversions: its records as the canonical view, and a Doclea export built from one.

Doclea keeps free-text ids, a closed memory ``type`` enum (else ``note``), a required title, whole
Unix seconds, and its own fields (relatedFiles, experts, qdrantId, ...), which other targets carry
as the origin's fields. Relations from other formats become memory relations whose ``metadata``
(a JSON string) keeps the original; reading an export back restores them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ...bundle import Bundle
from ...jsonio import dumps_js_compact
from ...model import Relation
from ...timestamps import epoch_milliseconds, epoch_seconds
from .. import relation_owner
from .._convert import (
    EPOCH,
    Canonical,
    ConversionReport,
    Link,
    Target,
    View,
    clean,
    content_text,
    derived_uuid,
    id_views,
    lose_vectors,
    nanoid_like,
    report_extras,
    required_times,
)
from .codec import NAME
from .read import from_native

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


def to_canonical(bundle: Bundle, report: ConversionReport) -> Canonical:
    report_extras(bundle, report, consumed=ONLY_HERE)
    views = id_views(bundle, NAME)
    for v in views:
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
    links = [_link(rel) for rel in bundle.records.relations]
    r = bundle.records
    return Canonical(NAME, bundle.meta, views, links, documents=list(r.documents), chunks=list(r.chunks), pending=list(r.pending))


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


def from_canonical(canonical: Canonical, target: Target, report: ConversionReport) -> Bundle:
    views, now = canonical.memories, target.now
    lose_vectors(views, report, NAME)
    ids = _ids(views)
    memories = []
    for v in views:
        own = v.native_only if v.origin == NAME else {}
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
        record: dict[str, Any] = {"id": ids[id(v)], "type": kind, "title": clean(title, v, "title", report, NAME), "content": text}
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
        memories.append(record)
    report.written += len(memories)
    memory_relations, cross = _relations(canonical, ids, report)
    for n in canonical.nodes:
        if isinstance(n.data, dict) and "memport" in n.data:
            report.merged += 1  # an endpoint a conversion to Kagura created: the relation carries it
        else:
            report.drop("nodes", "no graph nodes in doclea", n.id)
    # documents, chunks and pending memories exist only in Doclea bundles, which never get here
    doc = {
        "version": "1.0.0",
        "exportedAt": epoch_seconds(now),
        "backendType": "sqlite",
        "storageMode": "manual",
        "schemaVersion": "012",
        "data": {
            "memories": memories,
            "documents": [],
            "chunks": [],
            "memoryRelations": memory_relations,
            "crossLayerRelations": cross,
            "pendingMemories": [],
        },
        "metadata": {"totalMemories": len(memories)},
    }
    return from_native(doc)


def _ids(views: list[View]) -> dict[int, str]:
    """Free-text ids are kept; Kagura records use their key when it is a unique string."""
    keys = Counter(v.key for v in views if v.source_id is None and isinstance(v.key, str))
    ids: dict[int, str] = {}
    used: set[str] = set()
    for v in views:
        if isinstance(v.source_id, str):
            new = v.source_id
        elif isinstance(v.key, str) and keys[v.key] == 1:
            new = v.key
        else:
            new = "mem_" + derived_uuid(v.source_format, v.identity).replace("-", "")[:16]
        if new in used:
            new = "mem_" + derived_uuid(v.source_format, f"{v.identity}\x1f{len(used)}").replace("-", "")[:16]
        used.add(new)
        ids[id(v)] = new
    return ids


def _relations(canonical: Canonical, ids: dict[int, str], report: ConversionReport) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Memory and cross-layer rows: from the fields a Tribal or Kagura source keeps relations in,
    from other formats' relations (Kagura's edges), and restored ones."""
    views = canonical.memories
    rows: dict[str, list[dict[str, Any]]] = {"memory": [], "cross_layer": []}
    seen: set[Any] = set()

    def add(kind: str, row: dict[str, Any], from_record: Any) -> None:
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
            return
        seen.update((row["id"], ends))
        rows[kind].append(row)
        if from_record is not None:
            report.written += 1
        else:
            report.created += 1

    # relations a Tribal or Kagura source keeps as fields
    for v in views:
        for rel_type, targets in (("supersedes", [v.supersedes] if v.supersedes else []), ("related_to", v.related_to or [])):
            for target in targets:
                source_id = ids[id(v)]
                add(
                    "memory",
                    {
                        "id": nanoid_like("rel", source_id, target, rel_type),
                        "source_id": source_id,
                        "target_id": next((ids[id(w)] for w in views if w.own_id == target), target),
                        "type": rel_type,
                        "weight": 1,
                        "metadata": None,
                        "created_at": epoch_milliseconds(v.updated or v.created or EPOCH),
                    },
                    None,
                )
    key_to_id = {json.dumps(v.key): ids[id(v)] for v in views if v.key is not None}
    for link in canonical.relations:
        rel = link.relation
        if rel.kind in ("memory", "cross_layer"):  # one of ours, which a conversion kept
            add(rel.kind, _row_back(rel, key_to_id), rel)
            continue
        src = key_to_id.get(json.dumps(rel.source), rel.source if isinstance(rel.source, str) else json.dumps(rel.source))
        dst = key_to_id.get(json.dumps(rel.target), rel.target if isinstance(rel.target, str) else json.dumps(rel.target))
        created = rel.data.get("created_at") if isinstance(rel.data, dict) else None
        kept = {"memport": {"rel_type": rel.type, "src": rel.source, "dst": rel.target, "data": rel.data}}
        if _has_non_finite(kept):  # JSON.parse reads no NaN: JSON.stringify's null stands in, reported
            report.lose(
                "relations", "data", rel.id, "NaN or Infinity in the edge's data has no JSON form Doclea reads back: written as null"
            )
            metadata = dumps_js_compact(kept)
        else:
            metadata = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
        add(
            "memory",
            {
                "id": nanoid_like("edge", json.dumps(rel.source), json.dumps(rel.target)),
                "source_id": src,
                "target_id": dst,
                "type": TYPE_FOR.get(link.meaning, "references"),
                "weight": _number(rel.weight, 1, "relations", "weight", rel.id, report),
                "metadata": metadata,
                "created_at": _millis(created),
            },
            rel,
        )
    return rows["memory"], rows["cross_layer"]


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
