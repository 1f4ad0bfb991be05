"""Doclea 1.0.0: one pretty-printed JSON document with six arrays under ``data``.

Reference: shared/formats/doclea.md (docleaai/doclea-mcp ``exportData``/``importData``).
``JSON.stringify(…, null, 2)``, raw UTF-8, no final newline. Memories, documents, chunks and
pending memories are camelCase objects; ``memoryRelations`` and ``crossLayerRelations`` are raw
snake_case SQLite rows whose ``metadata`` is a JSON-encoded string. Times are integer Unix seconds,
except memory relations' ``created_at``, which is in milliseconds. Chunk offsets count UTF-16
code units.

The modules: ``codec`` (record tables), ``read``, ``write``, ``validate``, ``store`` (identity,
columns, references, bundles from stored records) and ``convert`` (to and from the canonical view).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from .. import Detection, FormatPlugin, Indexed, NativeBundle, NativeRecord, Reference
from . import convert, read, store, validate, write
from .codec import NAME, VERSIONS


class Doclea(FormatPlugin):
    name = family = NAME
    versions = VERSIONS
    looks_for = 'a JSON file {"version": "1.0.0", "schemaVersion": ..., "data": {"memories": [...], ...}}'
    kinds = ("memories", "documents", "chunks", "relations", "pending")
    relation_kinds = ("memory", "cross_layer")
    native_kinds = ("memories", "documents", "chunks", "memoryRelations", "crossLayerRelations", "pending")
    mapping = convert.MAPPING

    def sniff(self, path: Path) -> Detection | None:
        return read.sniff(path)

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        return read.read(path, detection, local_tz)

    def write_native(self, bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None:
        return write.write_native(bundle, path, overwrite=overwrite, exported_at=exported_at)

    def native(self, bundle: Bundle) -> NativeBundle:
        return write.native(bundle)

    def read_native(self, bundle: NativeBundle) -> Bundle:
        return write.read_native(bundle)

    def validate(self, path: Path, detection: Detection) -> list[Any]:
        return validate.validate(path, detection)

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        return read.count(path, detection)

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        return read.records(path, detection)

    def native_of(self, path: Path, detection: Detection, local_tz: str = "UTC") -> NativeBundle:
        return read.native_of(path, detection, local_tz)

    def identity(self, kind: str, native: Any) -> str:
        return store.identity(kind, native)

    def index(self, kind: str, native: Any, local_tz: Any) -> Indexed:
        return store.index(kind, native)

    def schema_for(self, kind: str, native: Any) -> str | None:
        return store.schema_for(kind, native)

    def references(self, kind: str, native: Any) -> list[Reference]:
        return store.references(kind, native)

    def embed_text(self, native: Any) -> str:
        return store.embed_text(native)

    def bundle_records(self, bundle: Bundle) -> Iterator[NativeRecord]:
        return store.bundle_records(bundle)

    def layout(self, path: Path, detection: Detection) -> Any:
        return detection.details.get("layout")

    def kind_of(self, native_kind: str) -> str:
        return "relations" if native_kind in ("memoryRelations", "crossLayerRelations") else native_kind

    def from_store(self, natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
        return store.from_store(natives, header, layout, as_read=as_read)

    def to_canonical(self, source: Any, report: Any) -> Any:
        return convert.to_canonical(source, report)

    def from_canonical(self, canonical: Any, target: Any, report: Any) -> NativeBundle:
        return convert.from_canonical(canonical, target, report)

    def meaning(self, relation: Any) -> str:
        return convert.meaning(relation)

    def native_defaults(self, native_only: dict[str, Any]) -> frozenset[str]:
        return convert.native_defaults(native_only)


PLUGIN = Doclea()
PLUGINS = [PLUGIN]
