"""Kagura AI 1.0: a directory of memories.jsonl, graph.jsonl and metadata.json.

Reference: shared/formats/kagura.md (kagura-ai 4.3.1, ``MemoryExporter``/``MemoryImporter``).
Every file may be missing or empty; metadata.json is written last and is missing after an
exporter crash; the importer never reads it. Lines are ``json.dumps`` with Python's defaults.

The modules: ``codec`` (record tables), ``identity`` (every spelling of identity), ``read``,
``write``, ``validate``, ``store`` (columns, references, text, bundles from stored records) and
``convert`` (to and from the canonical view).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from .. import Detection, FormatPlugin, Indexed, NativeBundle, NativeRecord, Reference, Split
from . import convert, read, store, validate, write
from .codec import NAME, VERSIONS, naive_local_times
from .identity import identity_bytes


class Kagura(FormatPlugin):
    name = family = NAME
    versions = VERSIONS
    looks_for = "a directory with memories.jsonl, graph.jsonl or metadata.json"
    volatile = ("exported_at",)  # every record carries the time of its export (shared/formats/kagura.md §2.3)
    kinds = ("memories", "nodes", "relations")
    relation_kinds = ("edge",)
    native_kinds = ("memories", "nodes", "relations")
    directory = True
    naive_local = True  # exported_at everywhere, updated rows' updated_at (shared/formats/kagura.md §2.3)
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
        return read.records(path)

    def header(self, path: Path, detection: Detection) -> Any:
        return read.header(path, detection.version)

    def native_of(self, path: Path, detection: Detection, local_tz: str = "UTC") -> NativeBundle:
        return read.native_of(path, detection, local_tz, self.header(path, detection), self.layout(path, detection))

    def split(self, path: Path, detection: Detection) -> Split | None:
        return store.split(path)

    def identity(self, kind: str, native: Any) -> str:
        return identity_bytes(kind, native).decode("utf-8", "surrogatepass")

    def identity_bytes(self, kind: str, native: Any) -> bytes:
        return identity_bytes(kind, native)

    def index(self, kind: str, native: Any, local_tz: tzinfo) -> Indexed:
        return store.index(kind, native, local_tz)

    def source_id(self, kind: str, native: Any) -> str | None:
        """A memory's key (Kagura memories have no id), a node's id."""
        return store.source_id(native)

    def schema_for(self, kind: str, native: Any) -> str | None:
        return store.schema_for(kind)

    def end(self, kind: str, native: Any) -> str | None:
        return store.end(kind, native)

    def user_ends(self, user: str) -> list[str]:
        return store.user_ends(user)

    def names_user(self, kind: str, native: Any, user: str) -> bool:
        return store.names_user(kind, native, user)

    def references(self, kind: str, native: Any) -> list[Reference]:
        return store.references(kind, native)

    # the codec's function itself: plans call it for every record they write (one call, not two)
    naive_local_times = staticmethod(naive_local_times)

    def came_from(self, native: Any) -> str | None:
        metadata = native.get("metadata") if isinstance(native, dict) else None
        value = metadata.get("source") if isinstance(metadata, dict) else None
        return value if isinstance(value, str) else None

    def embed_text(self, native: Any) -> str:
        return store.embed_text(native)

    def bundle_records(self, bundle: Bundle) -> Iterator[NativeRecord]:
        return store.bundle_records(bundle)

    def layout(self, path: Path, detection: Detection) -> Any:
        return store.layout(path)

    def from_store(self, natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
        return store.from_store(natives, header, layout, as_read=as_read)

    def to_canonical(self, source: Any, report: Any) -> Any:
        return convert.to_canonical(source, report)

    def from_canonical(self, canonical: Any, target: Any, report: Any) -> NativeBundle:
        return convert.from_canonical(canonical, target, report)

    def meaning(self, relation: Any) -> str:
        return convert.meaning(relation)


PLUGIN = Kagura()
PLUGINS = [PLUGIN]
