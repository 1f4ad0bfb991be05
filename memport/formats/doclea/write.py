"""Writing a Doclea export as Doclea writes it (``JSON.stringify(doc, null, 2)``), atomically."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from ...jsonio import atomic_output, dumps_js, write_synced
from ...timestamps import epoch_seconds
from .codec import CHUNK, CROSS_LAYER, DOCUMENT, MEMORY, MEMORY_RELATION, NAME, PENDING, SECTIONS


def write(bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    meta = bundle.meta
    same = meta.format == NAME and meta.header is not None
    header = dict(meta.header) if same else _fresh_header(bundle)
    container = meta.container if same and meta.container is not None else {"keys": list(SECTIONS), "raw": {}}
    if exported_at is not None:
        header["exportedAt"] = epoch_seconds(exported_at)
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


def _fresh_header(bundle: Bundle) -> dict[str, Any]:
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
        "exportedAt": epoch_seconds(exported),
        "backendType": meta.backend_type or "sqlite",
        "storageMode": meta.storage_mode or "manual",
        "schemaVersion": meta.schema_version or "012",
        "data": None,
        "metadata": metadata,
    }
