"""Tribal Memory 1.0: the portable bundle ``{"manifest", "entries"}`` and the JSONL entry stream.

Reference: shared/formats/tribal.md (tribalmemory 0.6.2). The bundle is one line of
``json.dump(..., default=str)``: ASCII escapes, Python separators, no final newline. The HTTP
export wraps it as ``{"success", "memory_count", "bundle", "error"}``; memport reads the bundle
inside and says so. The JSONL stream (one entry per line, no manifest) has no native reader; it
carries no model identity, so its vectors have no model. Both are the ``tribal`` family: their
records are one kind of entry, stored and identified alike.

The modules: ``codec`` (the entry table), ``read``, ``write``, ``validate``, ``store`` (columns,
references, vectors, bundles from stored entries) and ``convert`` (to and from the canonical view).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from .. import Detection, FormatPlugin, Indexed, NativeBundle, NativeRecord, Reference, Split
from . import convert, read, store, validate, write
from .codec import JSONL_NAME, NAME, VERSIONS


class Tribal(FormatPlugin):
    """The portable bundle."""

    name = family = NAME
    versions = VERSIONS
    looks_for = 'a JSON file {"manifest": {"schema_version": ...}, "entries": [...]} (or the HTTP envelope holding one)'
    mapping = convert.MAPPING
    carries_vectors = True

    def sniff(self, path: Path) -> Detection | None:
        return read.sniff_bundle(path)

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        return read.read_bundle(path, detection, local_tz)

    def write_native(self, bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None:
        return write.write_bundle(bundle, path, overwrite=overwrite, exported_at=exported_at)

    def native(self, bundle: Bundle) -> NativeBundle:
        return write.native(bundle)

    def read_native(self, bundle: NativeBundle) -> Bundle:
        return write.read_native(bundle)

    def native_of(self, path: Path, detection: Detection, local_tz: str = "UTC") -> NativeBundle:
        return read.native_of(path, detection, local_tz)

    def validate(self, path: Path, detection: Detection) -> list[Any]:
        return validate.validate_bundle(path, detection)

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        return read.count_bundle(path, detection)

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        return read.bundle_entries(path, detection)

    # what both variants share --------------------------------------------------------------

    def identity(self, kind: str, native: Any) -> str:
        return store.identity(native)

    def index(self, kind: str, native: Any, local_tz: Any) -> Indexed:
        return store.index(kind, native)

    def schema_for(self, kind: str, native: Any) -> str | None:
        return "entry"

    def names_user(self, kind: str, native: Any, user: str) -> bool:
        return store.names_user(native, user)

    def references(self, kind: str, native: Any) -> list[Reference]:
        return store.references(native)

    def vector(self, native: Any) -> list[float] | None:
        return store.vector(native)

    def vector_model(self, header: Any) -> tuple[Any, Any]:
        return store.vector_model(header)

    def came_from(self, native: Any) -> str | None:
        value = native.get("source_instance") if isinstance(native, dict) else None
        return value if isinstance(value, str) else None

    def bundle_records(self, bundle: Bundle) -> Iterator[NativeRecord]:
        return store.bundle_records(bundle)

    def from_store(self, natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
        return store.bundle_from_store(natives, header, as_read=as_read)

    def combine(self, parts: list[Bundle], notes: list[str], header: Any = None, layout: Any = None) -> Bundle:
        return (
            store.one_model(super().combine(parts, notes, header, layout), parts, notes)
            if len(parts) > 1
            else super().combine(parts, notes)
        )

    def to_canonical(self, source: Any, report: Any) -> Any:
        return convert.to_canonical(source, report)

    def from_canonical(self, canonical: Any, target: Any, report: Any) -> NativeBundle:
        return convert.from_canonical(canonical, target, report)


class TribalStream(Tribal):
    """The JSON Lines stream of entries: no manifest, so no model and no header."""

    name = JSONL_NAME
    looks_for = "a JSON Lines file of Tribal entries (id, content, source_type, created_at, ...)"
    mapping = convert.JSONL_MAPPING

    def sniff(self, path: Path) -> Detection | None:
        return read.sniff_stream(path)

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        return read.read_stream(path, detection, local_tz)

    def write_native(self, bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None:
        return write.write_stream(bundle, path, overwrite=overwrite, exported_at=exported_at)

    def validate(self, path: Path, detection: Detection) -> list[Any]:
        return validate.validate_stream(path, detection)

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        return read.count_stream(path, detection)

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        return read.stream_entries(path, detection)

    def header(self, path: Path, detection: Detection) -> Any:
        return None

    def split(self, path: Path, detection: Detection) -> Split | None:
        """The file is all memories: two byte ranges, and nothing else."""
        return Split(path, lambda: iter(()))

    def from_store(self, natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
        return store.stream_from_store(natives, header)


PLUGIN = Tribal()
JSONL_PLUGIN = TribalStream()
PLUGINS = [PLUGIN, JSONL_PLUGIN]
