"""What the store and the plans need of Tribal entries: columns, references, vectors, bundles back.

Entries of the bundle and of the stream are one object, identified and indexed alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...bundle import Bundle
from ...jsonio import needs_reference
from ...model import EmbeddingModel
from ...timestamps import ISO_NAIVE_UTC, parse_text, store_text
from .. import Indexed, NativeBundle, NativeRecord, Reference, spelled
from .codec import ENTRY, JSONL_NAME, NAME
from .convert import PROVENANCE_PREFIX
from .write import stream_model


def identity(entry: dict[str, Any]) -> str:
    return spelled(entry.get("id"))


def index(kind: str, entry: dict[str, Any]) -> Indexed:
    content, tags = entry.get("content"), entry.get("tags")
    return Indexed(
        identity=identity(entry),
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


def names_user(entry: Any, user: str) -> bool:
    """Tribal has no users; an entry converted from a format with users names its user in the
    provenance its context carries (``memport-provenance: {"fields": {"user_id": ...}}``)."""
    context = entry.get("context") if isinstance(entry, dict) else None
    if not (isinstance(context, str) and context.startswith(PROVENANCE_PREFIX)):
        return False
    try:
        provenance = json.loads(context[len(PROVENANCE_PREFIX) :])
    except ValueError:
        return False
    fields = provenance.get("fields") if isinstance(provenance, dict) else None
    return isinstance(fields, dict) and fields.get("user_id") == user


def references(entry: Any) -> list[Reference]:
    """``supersedes`` and ``related_to`` name other entries by id."""
    if not isinstance(entry, dict):
        return []
    supersedes = entry.get("supersedes")
    found = [Reference("supersedes", "memories", supersedes, supersedes)] if isinstance(supersedes, str) else []
    related = entry.get("related_to")
    if isinstance(related, list):
        found += [Reference("related_to", "memories", ref, ref) for ref in related if isinstance(ref, str)]
    return found


def vector(entry: Any) -> list[float] | None:
    found = entry.get("embedding") if isinstance(entry, dict) else None
    return found if isinstance(found, list) and found else None


def vector_model(header: Any) -> tuple[Any, Any]:
    """(model_name, dimensions) the manifest names for the entries' vectors."""
    manifest = header.get("manifest") if isinstance(header, dict) else None
    model = manifest.get("embedding") if isinstance(manifest, dict) else None
    if not isinstance(model, dict):
        return None, None  # the stream names no model
    return model.get("model_name"), model.get("dimensions")


def bundle_records(bundle: Bundle) -> Iterator[NativeRecord]:
    label = bundle.path or f"<{bundle.format} bundle>"
    for position, memory in enumerate(bundle.records.memories):
        value = ENTRY.encode(memory)
        yield NativeRecord("memories", value, needs_reference(value), label, None, position)


def bundle_from_store(natives: dict[str, list[Any]], header: Any, *, as_read: bool = False) -> NativeBundle:
    """Stored entries as a bundle with the latest import's top level (its manifest, and the keys an
    inline MCP export adds), whose memory_count is made true unless the entries are exactly that
    import's; without one, a manifest that counts these entries."""
    entries = natives.get("memories", [])
    if not isinstance(header, dict) or not isinstance(header.get("manifest"), dict):
        manifest = {"schema_version": "1.0", "embedding": {"model_name": "unknown", "dimensions": None}, "memory_count": len(entries)}
        top: dict[str, Any] = {"manifest": manifest, "entries": None}
    else:
        top = dict(header)
        count = top["manifest"].get("memory_count")
        if not as_read and isinstance(count, int) and not isinstance(count, bool):
            top["manifest"] = {**top["manifest"], "memory_count": len(entries)}
        top.setdefault("entries", None)
    return NativeBundle(NAME, top, lambda kind: entries if kind == "memories" else [])


def stream_from_store(natives: dict[str, list[Any]], header: Any) -> NativeBundle:
    """Stored entries as a JSON Lines stream (which names no model: the manifest's is kept beside)."""
    entries = natives.get("memories", [])
    model = stream_model(header)
    return NativeBundle(
        JSONL_NAME, None, lambda kind: entries if kind == "memories" else [], {"model": model.model_dump() if model else None}
    )


def one_model(bundle: Bundle, parts: list[Bundle], notes: list[str]) -> Bundle:
    """An export's parts as one bundle: a Tribal bundle holds one vector model, the one of the parts
    that carry vectors; vectors of several models are dropped (re-embed after import)."""
    models = {
        (p.meta.embedding_model.name, p.meta.embedding_model.dimensions)
        for p in parts
        if p.meta.embedding_model and any(m.embedding and m.embedding.vector for m in p.records.memories)
    }
    if len(models) == 1:
        name, dims = models.pop()
        bundle.meta.embedding_model = EmbeddingModel(name=name, dimensions=dims)
    elif models:
        dropped = sum(1 for m in bundle.records.memories if m.embedding and m.embedding.vector)
        for m in bundle.records.memories:
            m.embedding = None
        notes.append(
            f"{dropped} vectors from {len(models)} different models were dropped: a Tribal bundle holds one model; re-embed after import"
        )
    return bundle
