"""Export from the store: every record back to its own format as it came, or converted.

Records keep their exact native JSON in the store, so exporting to their own format gives them
back unchanged; records of another origin go through :func:`memport.convert`, whose reports are
returned so that an export says what it could not carry, like a conversion.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .bundle import Bundle, Records
from .conversion import ConversionReport, convert
from .filters import Filters
from .formats import doclea, kagura, tribal
from .model import EmbeddingModel
from .store import Store


def store_bundle(store: Store, origin: str, filters: Filters | None = None) -> Bundle | None:
    """The records of one origin format (those the filters select) as a bundle of that format."""
    filters = filters or Filters()
    where, params = filters.sql()
    memories = list(store.natives("memories", origin=origin, where=where, params=params))
    if filters.active:
        # the relations that touch the selected memories (GDPR: "everything one user has")
        ends = [json.dumps(m.get("id", m.get("key"))) if origin == "kagura" else m.get("id") for m in memories]
        ends = [e for e in ends if e is not None] + filters.users + [json.dumps(u) for u in filters.users]
        marks = "SELECT value FROM json_each(?)"
        relations = list(
            store.natives(
                "relations", origin=origin, where=f"source IN ({marks}) OR target IN ({marks})", params=[json.dumps(ends), json.dumps(ends)]
            )
        )
        others: dict[str, list[Any]] = {"nodes": [], "documents": [], "chunks": [], "pending": []}
        if origin == "kagura" and relations:
            # Kagura edges need their nodes: take the ones the selected edges name
            named = {json.dumps(kagura.same_number(r.get(end))) for r in relations for end in ("src", "dst")}
            others["nodes"] = [n for n in store.natives("nodes", origin=origin) if json.dumps(kagura.same_number(n.get("id"))) in named]
    else:
        relations = list(store.natives("relations", origin=origin))
        others = {kind: list(store.natives(kind, origin=origin)) for kind in ("nodes", "documents", "chunks", "pending")}
    if not memories and not relations and not any(others.values()):
        return None
    header = store.latest_header(origin)
    if origin == "kagura":
        graph = others["nodes"] + relations
        files = ["memories.jsonl"] + (["graph.jsonl"] if graph else []) + ["metadata.json"]
        bundle = kagura.from_native(memories, graph, None, files=files)
        if isinstance(header, dict):
            bundle.meta.user_id = header.get("user_id") if isinstance(header.get("user_id"), str) else None
            bundle.meta.agent_name = header.get("agent_name") if isinstance(header.get("agent_name"), str) else None
        return bundle
    if origin == "tribal":
        manifest = header.get("manifest") if isinstance(header, dict) else None
        bundle = tribal.from_native({"manifest": manifest if isinstance(manifest, dict) else {}, "entries": memories})
        bundle.meta.header = None  # the writer makes a manifest that counts these entries
        return bundle
    memory_rows = [r for r in relations if "memory_id" not in r]
    cross_rows = [r for r in relations if "memory_id" in r]
    doc = {
        "version": "1.0.0",
        "data": {
            "memories": memories,
            "documents": others["documents"],
            "chunks": others["chunks"],
            "memoryRelations": memory_rows,
            "crossLayerRelations": cross_rows,
            "pendingMemories": others["pending"],
        },
    }
    bundle = doclea.from_native(doc)
    if isinstance(header, dict):
        for attr, key in (("backend_type", "backendType"), ("storage_mode", "storageMode"), ("schema_version", "schemaVersion")):
            setattr(bundle.meta, attr, header.get(key) if isinstance(header.get(key), str) else None)
        metadata = header.get("metadata") if isinstance(header.get("metadata"), dict) else {}
        if isinstance(metadata.get("embeddingModel"), str) or isinstance(metadata.get("embeddingProvider"), str):
            bundle.meta.embedding_model = EmbeddingModel(name=metadata.get("embeddingModel"), provider=metadata.get("embeddingProvider"))
    bundle.meta.header = None
    return bundle


def export(
    store: Store, to: str, path: str | Path, *, filters: Filters | None = None, overwrite: bool = False, exported_at: datetime | None = None
) -> dict[str, Any]:
    """Write the store's records (those the filters select) as one ``to`` bundle at ``path``.

    Returns ``{"path", "counts", "backup", "conversions": [report, ...]}``.
    """
    from .api import write

    now = exported_at or datetime.now(UTC)
    parts: list[Bundle] = []
    reports: list[ConversionReport] = []
    for origin in store.origins():
        bundle = store_bundle(store, origin, filters)
        if bundle is None:
            continue
        same = origin == to or (origin == "tribal" and to == "tribal-jsonl")
        if same and to == "tribal-jsonl":
            bundle = tribal.jsonl_from_native([tribal.ENTRY.encode(m) for m in bundle.records.memories], model=bundle.meta.embedding_model)
        if not same:
            bundle = convert(bundle, to, exported_at=now)
            reports.append(bundle.conversion)
            bundle.meta.header = None
        parts.append(bundle)
    notes: list[str] = []
    result = _concat(parts, to, notes)
    backup = write(result, Path(path), overwrite=overwrite, exported_at=now)
    return {
        "path": str(path),
        "counts": result.counts(),
        "backup": str(backup) if backup else None,
        "conversions": [r.to_dict() for r in reports],
        "notes": notes,
    }


def _concat(parts: list[Bundle], to: str, notes: list[str]) -> Bundle:
    """Bundles of one format as one (an empty one when there are none)."""
    if not parts:
        empty = {
            "kagura": lambda: kagura.from_native([], [], None, files=["memories.jsonl", "metadata.json"]),
            "tribal": lambda: _headerless(tribal.from_native({"manifest": {}, "entries": []})),
            "tribal-jsonl": lambda: tribal.jsonl_from_native([]),
            "doclea": lambda: _headerless(doclea.from_native({"data": {}})),
        }
        return empty[to]()
    first = parts[0]
    records = Records()
    for part in parts:
        for kind in ("memories", "relations", "nodes", "documents", "chunks", "pending"):
            getattr(records, kind).extend(getattr(part.records, kind))
    result = Bundle(first.meta, records, columns=first.columns)
    result.meta.header = None
    if to in ("tribal", "tribal-jsonl"):
        # one manifest model for all vectors: the model of the parts that carry vectors
        models = {
            (p.meta.embedding_model.name, p.meta.embedding_model.dimensions)
            for p in parts
            if p.meta.embedding_model and any(m.embedding and m.embedding.vector for m in p.records.memories)
        }
        if len(models) == 1:
            name, dims = models.pop()
            result.meta.embedding_model = EmbeddingModel(name=name, dimensions=dims)
        elif models:
            dropped = sum(1 for m in records.memories if m.embedding and m.embedding.vector)
            for m in records.memories:
                m.embedding = None
            notes.append(
                f"{dropped} vectors from {len(models)} different models were dropped: a Tribal bundle holds one model; re-embed after import"
            )
    if to == "kagura":
        has_graph = bool(records.nodes or records.relations)
        result.meta.files = ["memories.jsonl"] + (["graph.jsonl"] if has_graph else []) + ["metadata.json"]
    return result


def _headerless(bundle: Bundle) -> Bundle:
    bundle.meta.header = None
    return bundle
