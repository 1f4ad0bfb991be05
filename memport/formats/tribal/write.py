"""Writing Tribal bundles and streams as Tribal writes them, entry by entry, atomically.

The bundle is ``json.dump(bundle, f, default=str)``: one line, Python's separators, ASCII escapes,
no final newline; written here a member and an entry at a time, with the bytes ``json.dumps`` of
the whole would give.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from ...jsonio import atomic_output, dumps_python
from ...model import EmbeddingModel
from .. import NativeBundle
from .codec import ENTRY, JSONL_NAME, NAME, embedding_model
from .read import from_native, jsonl_from_native


def write_bundle(bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    header = dict(bundle.header)
    if exported_at is not None and isinstance(header.get("manifest"), dict):
        header["manifest"] = {**header["manifest"], "exported_at": exported_at.astimezone(UTC).isoformat()}
    with atomic_output(path, directory=False, overwrite=overwrite) as out, open(out.tmp, "w", encoding="ascii") as f:
        f.write("{")
        for position, (key, value) in enumerate(header.items()):
            f.write(f"{', ' if position else ''}{json.dumps(key)}: ")
            if key == "entries":
                f.write("[")
                for index, entry in enumerate(bundle.records("memories")):
                    if index:
                        f.write(", ")
                    f.write(dumps_python(entry))
                f.write("]")
            else:
                f.write(dumps_python(value))
        f.write("}")
        f.flush()
        os.fsync(f.fileno())
    return out.backup


def write_stream(bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    with atomic_output(path, directory=False, overwrite=overwrite) as out, open(out.tmp, "w", encoding="ascii", newline="\n") as f:
        for entry in bundle.records("memories"):
            f.write(dumps_python(entry))
            f.write("\n")
    return out.backup


def native(bundle: Bundle) -> NativeBundle:
    """A bundle's entries and its top level: its own (the manifest and the keys it had) or a fresh
    manifest counting the entries. The stream has no top level."""
    meta = bundle.meta
    if bundle.format == JSONL_NAME:
        header = None
    elif meta.format == NAME and meta.header is not None:
        header = dict(meta.header)
    else:
        header = {"manifest": fresh_manifest(bundle), "entries": None}
    model = meta.embedding_model.model_dump() if meta.embedding_model is not None else None
    memories = bundle.records.memories
    return NativeBundle(
        bundle.format,
        header,
        lambda kind: (ENTRY.encode(m) for m in memories) if kind == "memories" else iter(()),
        {"model": model},
        meta.local_tz,
    )


def read_native(bundle: NativeBundle) -> Bundle:
    entries = list(bundle.records("memories"))
    if bundle.format == JSONL_NAME:
        model = bundle.layout.get("model") if isinstance(bundle.layout, dict) else None
        return jsonl_from_native(entries, model=EmbeddingModel(**model) if model else None, local_tz=bundle.local_tz)
    header = bundle.header if isinstance(bundle.header, dict) else {"manifest": {}, "entries": None}
    result = from_native({key: (entries if key == "entries" else value) for key, value in header.items()}, local_tz=bundle.local_tz)
    if bundle.header is None:
        result.meta.header = None
    return result


def fresh_manifest(bundle: Bundle) -> dict[str, Any]:
    model = bundle.meta.embedding_model or EmbeddingModel()
    embedding: dict[str, Any] = {"model_name": model.name or "unknown", "dimensions": model.dimensions}
    if model.provider is not None:
        embedding["provider"] = model.provider
    manifest: dict[str, Any] = {"schema_version": "1.0", "embedding": embedding, "memory_count": len(bundle.records.memories)}
    if bundle.meta.exported_at is not None and isinstance(bundle.meta.exported_at.raw, str):
        manifest["exported_at"] = bundle.meta.exported_at.raw
    return manifest


def stream_model(header: Any) -> EmbeddingModel | None:
    """The model a stream's vectors came from, kept beside it (the stream names none)."""
    manifest = header.get("manifest") if isinstance(header, dict) else None
    return embedding_model(manifest.get("embedding")) if isinstance(manifest, dict) else None
