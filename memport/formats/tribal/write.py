"""Writing Tribal bundles and streams as Tribal writes them, atomically."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from ...jsonio import atomic_output, dumps_python, write_synced
from ...model import EmbeddingModel
from .codec import ENTRY, NAME


def write_bundle(bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    meta = bundle.meta
    if meta.format == NAME and meta.header is not None:
        header = dict(meta.header)
    else:
        header = {"manifest": _fresh_manifest(bundle), "entries": None}
    if exported_at is not None and isinstance(header.get("manifest"), dict):
        header["manifest"] = {**header["manifest"], "exported_at": exported_at.astimezone(UTC).isoformat()}
    entries = [ENTRY.encode(m) for m in bundle.records.memories]
    doc = {k: (entries if k == "entries" else v) for k, v in header.items()}
    with atomic_output(path, directory=False, overwrite=overwrite) as out:
        # json.dump(bundle, f, default=str): one line, no final newline
        write_synced(out.tmp, dumps_python(doc).encode("ascii"))
    return out.backup


def _fresh_manifest(bundle: Bundle) -> dict[str, Any]:
    model = bundle.meta.embedding_model or EmbeddingModel()
    embedding: dict[str, Any] = {"model_name": model.name or "unknown", "dimensions": model.dimensions}
    if model.provider is not None:
        embedding["provider"] = model.provider
    manifest: dict[str, Any] = {"schema_version": "1.0", "embedding": embedding, "memory_count": len(bundle.records.memories)}
    if bundle.meta.exported_at is not None and isinstance(bundle.meta.exported_at.raw, str):
        manifest["exported_at"] = bundle.meta.exported_at.raw
    return manifest


def write_stream(bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    with atomic_output(path, directory=False, overwrite=overwrite) as out:
        with open(out.tmp, "w", encoding="ascii", newline="\n") as f:
            for memory in bundle.records.memories:
                f.write(dumps_python(ENTRY.encode(memory)))
                f.write("\n")
    return out.backup
