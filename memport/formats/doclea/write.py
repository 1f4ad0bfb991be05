"""Writing a Doclea export as Doclea writes it (``JSON.stringify(doc, null, 2)``), record by record,
atomically: each member and each record is stringified on its own and indented to its depth, which
gives the bytes of stringifying the whole (2 spaces a level, ``[]`` for an empty array)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from ...bundle import Bundle
from ...jsonio import atomic_output, dumps_js
from ...timestamps import epoch_seconds
from .. import NativeBundle
from .codec import CHUNK, CROSS_LAYER, DOCUMENT, MEMORY, MEMORY_RELATION, NAME, PENDING, SECTIONS
from .read import from_native

# the data object's arrays, and the store's kind of record each holds
KIND_OF = {
    "memories": "memories",
    "documents": "documents",
    "chunks": "chunks",
    "memoryRelations": "memoryRelations",
    "crossLayerRelations": "crossLayerRelations",
    "pendingMemories": "pending",
}


def write_native(bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    """The header's members in order, the data object as the layout has it (its members in order,
    those that hold no records as they were), each array's records as ``records`` gives them (the
    relations by their table: ``memoryRelations``, ``crossLayerRelations``)."""
    header = dict(bundle.header)
    if exported_at is not None:
        header["exportedAt"] = epoch_seconds(exported_at)
    container = bundle.layout if isinstance(bundle.layout, dict) and "keys" in bundle.layout else {"keys": list(SECTIONS), "raw": {}}
    with atomic_output(path, directory=False, overwrite=overwrite) as out, open(out.tmp, "w", encoding="utf-8") as f:
        _members(f, header, 1, lambda key, value: _data(f, container, bundle) if key == "data" else _value(f, value, 1))
        f.flush()
        os.fsync(f.fileno())
    return out.backup


def _members(f: TextIO, members: dict[str, Any], depth: int, put: Any) -> None:
    """An object's members at ``depth``, each value written by ``put(key, value)``."""
    if not members:
        f.write("{}")
        return
    f.write("{")
    for position, (key, value) in enumerate(members.items()):
        f.write(("," if position else "") + "\n" + "  " * depth + dumps_js(key) + ": ")
        put(key, value)
    f.write("\n" + "  " * (depth - 1) + "}")


def _value(f: TextIO, value: Any, depth: int) -> None:
    f.write(dumps_js(value).replace("\n", "\n" + "  " * depth))


def _data(f: TextIO, container: dict[str, Any], bundle: NativeBundle) -> None:
    raw = container.get("raw", {})

    def put(key: str, value: Any) -> None:
        if key in raw or key not in KIND_OF:
            _value(f, raw.get(key, []), 2)
            return
        empty = True
        for record in bundle.records(KIND_OF[key]):
            f.write(("[" if empty else ",") + "\n" + "      " + dumps_js(record).replace("\n", "\n      "))
            empty = False
        f.write("[]" if empty else "\n    ]")

    _members(f, dict.fromkeys(container["keys"]), 2, put)


def native(bundle: Bundle) -> NativeBundle:
    meta = bundle.meta
    same = meta.format == NAME and meta.header is not None
    header = dict(meta.header) if same else fresh_header(bundle)
    container = meta.container if same and meta.container is not None else {"keys": list(SECTIONS), "raw": {}}
    r = bundle.records
    encoded = {
        "memories": lambda: (MEMORY.encode(m) for m in r.memories),
        "documents": lambda: (DOCUMENT.encode(d) for d in r.documents),
        "chunks": lambda: (CHUNK.encode(c) for c in r.chunks),
        "memoryRelations": lambda: (MEMORY_RELATION.encode(x) for x in r.relations if x.kind == "memory"),
        "crossLayerRelations": lambda: (CROSS_LAYER.encode(x) for x in r.relations if x.kind == "cross_layer"),
        "pending": lambda: (PENDING.encode(p) for p in r.pending),
    }
    return NativeBundle(NAME, header, lambda kind: encoded[kind]() if kind in encoded else iter(()), container, meta.local_tz)


def read_native(bundle: NativeBundle) -> Bundle:
    container = bundle.layout if isinstance(bundle.layout, dict) and "keys" in bundle.layout else {"keys": list(SECTIONS), "raw": {}}
    raw = container.get("raw", {})
    data = {key: raw[key] if key in raw or key not in KIND_OF else list(bundle.records(KIND_OF[key])) for key in container["keys"]}
    doc = {key: (data if key == "data" else value) for key, value in bundle.header.items()}
    doc.setdefault("data", data)
    version = doc["version"] if isinstance(doc.get("version"), str) else "1.0.0"
    return from_native(doc, version=version, local_tz=bundle.local_tz)


def fresh_header(bundle: Bundle) -> dict[str, Any]:
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
