"""What the store and the plans need of Doclea records: identity, columns, references, bundles back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...bundle import Bundle
from ...jsonio import needs_reference
from ...timestamps import parse_epoch, store_text
from .. import Indexed, NativeBundle, NativeRecord, Reference, Reread, render, spelled
from .codec import CHUNK, CROSS_LAYER, DOCUMENT, MEMORY, MEMORY_RELATION, NAME, PENDING, SECTIONS
from .write import KIND_OF


def identity(kind: str, rec: dict[str, Any]) -> str:
    """The id (as ``spelled``); a relation's with the table it is a row of."""
    found = spelled(rec.get("id"))
    if kind == "relations":  # the two relation tables have separate id spaces
        return spelled(["cross" if _cross(rec) else "memory", found])
    return found


def _cross(rec: Any) -> bool:
    """A crossLayerRelations row (its memory end is ``memory_id``), not a memoryRelations one."""
    return isinstance(rec, dict) and "memory_id" in rec


def index(kind: str, rec: dict[str, Any]) -> Indexed:
    found = identity(kind, rec)
    if kind == "memories":
        tags = rec.get("tags")
        return Indexed(
            found,
            type=_str(rec.get("type")),
            title=_str(rec.get("title")),
            content=_str(rec.get("content")),
            tags=tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None,
            created_at=_epoch_text(rec.get("createdAt"), False),
            updated_at=_epoch_text(rec.get("accessedAt"), False),
        )
    if kind == "relations":
        cross = _cross(rec)
        return Indexed(
            found,
            type=_str(rec.get("relation_type" if cross else "type")),
            source=_str(rec.get("memory_id" if cross else "source_id")),
            target=_str(rec.get("code_node_id" if cross else "target_id")),
            created_at=_epoch_text(rec.get("created_at"), not cross),
        )
    if kind == "documents":
        return Indexed(
            found,
            title=_str(rec.get("title")),
            content=_str(rec.get("content")),
            created_at=_epoch_text(rec.get("createdAt"), False),
            updated_at=_epoch_text(rec.get("updatedAt"), False),
        )
    if kind == "pending":  # the memory it would become, and when that was suggested
        data = rec.get("memoryData")
        data = data if isinstance(data, dict) else {}
        return Indexed(
            found,
            type=_str(data.get("type")),
            title=_str(data.get("title")),
            content=_str(data.get("content")),
            created_at=_epoch_text(rec.get("suggestedAt"), False),
        )
    return Indexed(found, title=_str(rec.get("title")), content=_str(rec.get("content")))


def schema_for(kind: str, rec: Any) -> str | None:
    if kind == "relations":
        return "cross-layer-relation" if _cross(rec) else "memory-relation"
    return {"memories": "memory", "documents": "document", "chunks": "chunk", "pending": "pending-memory"}.get(kind)


def references(kind: str, rec: Any) -> list[Reference]:
    """Relations name memories at both ends (a cross-layer one at its memory end only: the other
    is a code-graph node Doclea does not export); chunks name their document."""
    if not isinstance(rec, dict):
        return []
    if kind == "relations":
        ends = [("source", rec.get("memory_id"))] if _cross(rec) else [("source", rec.get("source_id")), ("target", rec.get("target_id"))]
        return [Reference(end, "memories", ref, ref) for end, ref in ends if isinstance(ref, str)]
    if kind == "chunks" and isinstance(rec.get("documentId"), str):
        return [Reference("document", "documents", rec["documentId"], rec["documentId"])]
    return []


def embed_text(rec: Any) -> str:
    """``title + "\\n\\n" + content``, as Doclea itself embeds a memory."""
    if not isinstance(rec, dict):
        return render(rec)
    return f"{render(rec.get('title'))}\n\n{render(rec.get('content'))}"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _epoch_text(value: Any, milliseconds: bool) -> str | None:
    utc, _ = parse_epoch(value, milliseconds=milliseconds)
    return store_text(utc)


def bundle_records(bundle: Bundle) -> Iterator[NativeRecord]:
    label = bundle.path or "<doclea bundle>"
    r = bundle.records
    for kind, records in (
        ("memories", r.memories),
        ("documents", r.documents),
        ("chunks", r.chunks),
        ("relations", r.relations),
        ("pending", r.pending),
    ):
        for position, record in enumerate(records):
            if kind == "relations":
                value = (MEMORY_RELATION if record.kind == "memory" else CROSS_LAYER).encode(record)
            else:
                value = {"memories": MEMORY, "documents": DOCUMENT, "chunks": CHUNK, "pending": PENDING}[kind].encode(record)
            yield NativeRecord(kind, value, needs_reference(value), label, None, position)


def from_store(natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
    """Stored Doclea records as an export with the latest import's top level and data object (its
    members in order, those that hold no records as they were); metadata.totalMemories is made true
    unless the records are exactly that import's. Without a header, a fresh one."""
    relations = natives.get("relations", [])
    crossed = Reread(lambda: (r for r in relations if _cross(r)), lambda: sum(1 for r in relations if _cross(r)) if relations else 0)
    records = {
        "memories": natives.get("memories", []),
        "documents": natives.get("documents", []),
        "chunks": natives.get("chunks", []),
        "memoryRelations": Reread(lambda: (r for r in relations if not _cross(r)), lambda: len(relations) - len(crossed)),
        "crossLayerRelations": crossed,
        "pending": natives.get("pending", []),
    }
    keys = list(layout.get("keys", [])) if isinstance(layout, dict) else []
    raw = layout.get("raw", {}) if isinstance(layout, dict) else {}
    keys += [key for key in SECTIONS if key not in keys and (records[KIND_OF[key]] or not isinstance(layout, dict))]
    if not isinstance(header, dict):
        top: dict[str, Any] = {
            "version": "1.0.0",
            "exportedAt": 0,
            "backendType": "sqlite",
            "storageMode": "manual",
            "schemaVersion": "012",
            "data": None,
            "metadata": {"totalMemories": len(records["memories"])},
        }
    else:
        top = dict(header)
        metadata = top.get("metadata")
        if not as_read and isinstance(metadata, dict) and isinstance(metadata.get("totalMemories"), int):
            top["metadata"] = {**metadata, "totalMemories": len(records["memories"])}
        top.setdefault("data", None)
    return NativeBundle(NAME, top, lambda kind: records.get(kind, []), {"keys": keys, "raw": raw})
