"""Tribal in conversions: its entries as the canonical view, and a Tribal bundle or stream built from one.

Tribal keeps ids its LanceDB store accepts (``[A-Za-z0-9-]+``; others are derived), one model for
all vectors, its ``source_type`` enum, and no relations but ``supersedes``/``related_to``. What it
has no column for travels in ``context`` when the source has none: a line starting with
``memport-provenance:`` and a JSON object, which reading the bundle back restores.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC
from typing import Any

from ...bundle import Bundle
from ...model import EmbeddingModel
from .. import family
from .._convert import (
    Canonical,
    ConversionReport,
    Link,
    Target,
    View,
    clean,
    clean_optional,
    content_text,
    derived_uuid,
    drop_all,
    id_views,
    report_extras,
    required_times,
)
from .codec import JSONL_NAME, NAME
from .read import from_native, jsonl_from_native

PROVENANCE_PREFIX = "memport-provenance: "
SOURCE_TYPES = ("user_explicit", "auto_capture", "correction", "cross_instance", "legacy", "unknown")
ID = re.compile(r"^[A-Za-z0-9-]+$")

# where each canonical field goes when Tribal is the target (docs/mapping.md)
MAPPING = {
    "id": "id (kept when it matches [A-Za-z0-9-]+, else uuid5 of the source identity)",
    "key": "context (memport-provenance)",
    "scope": "context (memport-provenance)",
    "user_id": "context (memport-provenance)",
    "agent_name": "context (memport-provenance)",
    "content": "content (non-text values as JSON text)",
    "title": "context (memport-provenance)",
    "summary": "context (memport-provenance)",
    "type": "context (memport-provenance)",
    "source_type": "source_type (outside the enum: unknown)",
    "source_instance": "source_instance",
    "tags": "tags",
    "importance": "context (memport-provenance)",
    "confidence": "confidence",
    "context": "context",
    "supersedes": "supersedes",
    "related_to": "related_to",
    "metadata": "context (memport-provenance)",
    "created_at": "created_at (isoformat, +00:00)",
    "updated_at": "updated_at (isoformat, +00:00)",
    "accessed_at": "updated_at (Doclea's accessedAt stands for the last update)",
    "embedding": "embedding (when every vector shares one model and dimension; manifest.embedding names it)",
    "doclea fields (relatedFiles, experts, qdrantId, ...)": "context (memport-provenance)",
    "relations": "supersedes / related_to of the source memory (memory relations only)",
    "nodes": "",
    "documents": "",
    "chunks": "",
    "pending": "",
}
JSONL_MAPPING = {**MAPPING, "embedding": "embedding (the stream has no manifest: the model identity is lost)"}


# ---------------------------------------------------------------------------------------------
# Tribal as the source


def to_canonical(bundle: Bundle, report: ConversionReport) -> Canonical:
    report_extras(bundle, report)
    views = id_views(bundle, NAME)
    for v in views:
        _restore_provenance(v)
    return Canonical(NAME, bundle.meta, views)


def _restore_provenance(v: View) -> None:
    """A context written by a conversion carries the fields Tribal has no column for."""
    if not (isinstance(v.context, str) and v.context.startswith(PROVENANCE_PREFIX)):
        return
    try:
        data = json.loads(v.context[len(PROVENANCE_PREFIX) :])
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    v.context = None
    fields = data.get("fields", {})
    for name in ("key", "scope", "user_id", "agent_name", "metadata", "title", "summary", "type", "importance"):
        if name in fields:
            setattr(v, name, fields[name])
    origin = data.get("source_format") if isinstance(data.get("source_format"), str) else None
    if origin is not None and isinstance(fields.get(origin), dict):
        v.native_only = fields[origin]
        v.native_defaults = family(origin).native_defaults(v.native_only)
    if fields.get("content_json") and isinstance(v.content, str):
        try:
            v.content = json.loads(v.content)
        except ValueError:
            pass
    if isinstance(data.get("source_id"), str):
        v.source_id = data["source_id"]
    if origin is not None:
        v.origin = origin


# ---------------------------------------------------------------------------------------------
# Tribal as the target


def from_canonical(canonical: Canonical, target: Target, report: ConversionReport) -> Bundle:
    """The entries of a Tribal bundle (or, for ``tribal-jsonl``, of its stream)."""
    jsonl = target.format == JSONL_NAME
    views, now, name = canonical.memories, target.now, target.format
    model = _one_model(views, report)
    if jsonl and model is not None:
        for v in views:
            if v.embedding is not None:
                report.lose("memories", "embedding model", v.label, "the JSONL stream has no manifest, so the vectors' model is not named")
    ids = _ids(views)
    relations = _relations_as_fields(canonical.relations, views, ids, report)
    entries = []
    for v in views:
        vector = v.embedding.vector if v.embedding is not None and v.embedding.vector else None
        created, updated = required_times(v, report, NAME)
        source_type = v.source_type if v.source_type in SOURCE_TYPES else "unknown"
        if v.source_type is not None and v.source_type != source_type:
            report.lose("memories", "source_type", v.label, f"{v.source_type!r} is not a Tribal source_type: written as unknown")
        supersedes, related = relations.get(ids[id(v)], (None, []))
        entry = {
            "id": ids[id(v)],
            "content": content_text(v, report, name),
            "embedding": vector,
            "source_instance": v.source_instance if v.source_instance is not None else "unknown",
            "source_type": source_type,
            "created_at": created.astimezone(UTC).isoformat(),
            "updated_at": updated.astimezone(UTC).isoformat(),
            "tags": [clean(t, v, "tags", report, name) for t in v.tags or []],
            "context": clean_optional(_context(v, report, ids[id(v)]), v, "context", report, name),
            "confidence": v.confidence if isinstance(v.confidence, (int, float)) and not isinstance(v.confidence, bool) else 1.0,
            "supersedes": supersedes if supersedes is not None else _mapped(v.supersedes, ids, views),
            "related_to": related
            + [r for r in (_mapped(x, ids, views) for x in (v.related_to or [])) if r is not None and r not in related],
        }
        entries.append(entry)
    report.written += len(entries)
    drop_all(canonical, ("nodes", "documents", "chunks", "pending"), report, name)
    if jsonl:
        return jsonl_from_native(entries, model=model)
    manifest_model = model or canonical.meta.embedding_model or EmbeddingModel()
    embedding: dict[str, Any] = {"model_name": manifest_model.name or "unknown", "dimensions": manifest_model.dimensions or 384}
    if manifest_model.provider:
        embedding["provider"] = manifest_model.provider
    manifest = {"schema_version": "1.0", "embedding": embedding, "memory_count": len(entries), "exported_at": now.isoformat()}
    return from_native({"manifest": manifest, "entries": entries})


def _ids(views: list[View]) -> dict[int, str]:
    ids: dict[int, str] = {}
    used: set[str] = set()
    for v in views:
        keep = isinstance(v.source_id, str) and ID.match(v.source_id)
        new = v.source_id if keep else derived_uuid(v.source_format, v.identity)
        if new in used:
            new = derived_uuid(v.source_format, f"{v.identity}\x1f{len(used)}")  # a duplicate in the source stays separate
        used.add(new)
        ids[id(v)] = new
    return ids


def _mapped(reference: str | None, ids: dict[int, str], views: list[View]) -> str | None:
    """A reference of the source bundle, as the id its target record got (dangling ones derived too)."""
    if reference is None:
        return None
    for v in views:
        if v.own_id == reference:
            return ids[id(v)]
    return reference if ID.match(reference) else derived_uuid(views[0].source_format if views else "", reference)


def _relations_as_fields(
    links: list[Link], views: list[View], ids: dict[int, str], report: ConversionReport
) -> dict[str, tuple[str | None, list[str]]]:
    """Relations between memories, folded into the source entry's supersedes / related_to."""
    out: dict[str, tuple[str | None, list[str]]] = {}
    by_source = {v.own_id: ids[id(v)] for v in views if v.own_id is not None}
    for link in links:
        rel = link.relation
        if rel.kind != "memory" or rel.source not in by_source:
            reason = (
                "no graph in tribal"
                if rel.kind == "edge"
                else "no code-graph links in tribal"
                if rel.kind == "cross_layer"
                else "relation from a memory not in the bundle"
            )
            report.drop("relations", reason, rel.id or f"{rel.source}->{rel.target}")
            continue
        entry_id = by_source[rel.source]
        target = by_source.get(rel.target) or _mapped(rel.target, ids, views)
        supersedes, related = out.get(entry_id, (None, []))
        if link.meaning == "supersedes" and supersedes is None:
            supersedes = target
        elif target not in related:
            related = [*related, target]
            if rel.type not in ("related_to", None):
                report.lose("relations", "type", rel.id, "Tribal's related_to has no relation type")
        else:
            report.merged += 1
            out[entry_id] = (supersedes, related)
            continue
        for name in ("weight", "metadata", "created_at", "id"):
            if getattr(rel, name) is not None:
                report.lose("relations", name, rel.id, "Tribal keeps only the ids of related memories")
        out[entry_id] = (supersedes, related)
        report.merged += 1  # folded into the entry's supersedes / related_to
    return out


def _informative(v: View) -> dict[str, Any]:
    """The fields of a view that Tribal has no column for, less what holds its origin's defaults."""
    fields: dict[str, Any] = {}
    for name in ("key", "scope", "user_id", "agent_name", "metadata", "title", "summary", "type", "importance"):
        value = getattr(v, name)
        if value is not None and name not in v.defaults:
            fields[name] = value
    native = {k: value for k, value in v.native_only.items() if k not in v.native_defaults}
    if native:
        fields[v.origin] = native
    return fields


def _context(v: View, report: ConversionReport, entry_id: str) -> str | None:
    fields = _informative(v)
    if not isinstance(v.content, str) and v.content is not None:
        fields["content_json"] = True
    if v.origin == NAME:
        # a Tribal record coming home: what other formats added has no column here
        for name in ("metadata", "title", "summary", "type", "importance"):
            if getattr(v, name) is not None:
                report.lose("memories", name, v.label, "Tribal has no column for it")
        return v.context
    if v.context is not None:
        for name in fields:
            report.lose("memories", name, v.label, "Tribal has no column for it, and context (where memport keeps such fields) is taken")
        return v.context
    if not fields and v.source_id == entry_id:
        return None  # nothing to carry: the id itself is the provenance
    payload = {"source_format": v.source_format, "source_id": v.source_id, "fields": fields}
    return PROVENANCE_PREFIX + json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _one_model(views: list[View], report: ConversionReport) -> EmbeddingModel | None:
    """One model and one dimension for every vector, or none are carried."""
    for v in views:
        if v.embedding is not None and not all(math.isfinite(x) for x in v.embedding.vector):
            report.lose("memories", "embedding", v.label, "a vector with NaN or Infinity: Tribal's store rejects it, re-embed after import")
            v.embedding = None
    vectors = [v for v in views if v.embedding is not None and v.embedding.vector]
    identities = {(v.embedding.model, len(v.embedding.vector)) for v in vectors}
    if len(identities) == 1:
        name, dims = identities.pop()
        if name is not None:
            return EmbeddingModel(name=name, dimensions=dims)
        note = "the source does not name the vectors' model (a JSONL stream), so Tribal could not match it: re-embed after import"
    else:
        note = f"vectors come from {len(identities)} model/dimension combinations; a Tribal bundle holds one: re-embed after import"
    for v in vectors:
        report.lose("memories", "embedding", v.label, note)
    for v in views:
        v.embedding = None
    return None
