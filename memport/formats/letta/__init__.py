"""Letta's Agent File (``.af``): the current shape, double-encoded files, and the legacy shape.

Reference: shared/formats/letta.md (letta 0.16.8, ``letta-ai/letta`` at 56ba9c25). One concern a
module: ``container`` (encodings, layers, layouts), ``codec`` (records), ``read``, ``write``,
``validate``, ``legacy`` (the legacy shape's upgrade), ``ids`` (file ids), ``bundle`` (the audit
views), ``identity`` (what a record is across files, the context a file gives it), ``store``
(columns, text, bundles from stored records), ``build`` (files memport writes itself, §20),
``convert`` (to and from the canonical view).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import Detection, FormatPlugin, Indexed, NativeBundle, NativeRecord
from .._convert import listed, whole
from . import convert, store
from .bundle import LettaBundle
from .codec import NAME
from .identity import VOLATILE, detach, identity
from .legacy import upgrade, upgrade_document
from .read import VERSIONS, count, from_native, read, records, sniff
from .validate import validate
from .write import to_document, write

__all__ = ["PLUGIN", "LettaBundle", "from_native", "to_document", "upgrade", "upgrade_document"]


class LettaFormat(FormatPlugin):
    name = family = NAME
    versions = VERSIONS
    looks_for = 'a JSON file {"agents": [...], "blocks": [...], ...} (Letta agent file, also double-encoded or the legacy single agent)'
    kinds = ("memories", "messages", "documents")
    volatile = VOLATILE  # file ids, numbered anew on every export
    streams = False  # one document whose agents hold the records: read and built whole
    mapping = convert.MAPPING

    def sniff(self, path: Path) -> Detection | None:
        return sniff(path)

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> LettaBundle:
        return read(path, detection, local_tz)

    def write(self, bundle: Any, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
        return write(bundle, path, overwrite=overwrite, exported_at=exported_at)

    # A Letta file is one document whose agents hold the records, built whole (build.py), so its
    # native form carries the built bundle rather than a stream of records.

    def native(self, bundle: Any) -> NativeBundle:
        return NativeBundle(NAME, None, lambda kind: iter(()), {"bundle": bundle}, notes=tuple(getattr(bundle, "notes", ())))

    def read_native(self, bundle: NativeBundle) -> LettaBundle:
        return bundle.layout["bundle"]

    def native_counts(self, bundle: NativeBundle) -> dict[str, int] | None:
        return bundle.layout["bundle"].counts()

    def write_native(self, bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None:
        return self.write(bundle.layout["bundle"], path, overwrite=overwrite, exported_at=exported_at)

    def validate(self, path: Path, detection: Detection) -> list[Any]:
        return validate(path, detection)

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        return count(path, detection)

    def records(self, path: Path, detection: Detection) -> Any:
        return records(path, detection)

    def rewrite(self, bundle: Any, exported_at: datetime | None = None) -> LettaBundle:
        """``memport convert FILE --to letta``: a legacy file in the current shape (which Letta
        opens), a current one as it is (see legacy.upgrade)."""
        return upgrade(bundle, exported_at=exported_at)

    def header(self, path: Path, detection: Detection) -> Any:
        return detection.details.setdefault("header", {})  # completed by records()

    def layout(self, path: Path, detection: Detection) -> Any:
        return detection.details.setdefault("layout", {})  # completed by records()

    def identity(self, kind: str, value: Any) -> str:
        """What stays from one export to the next (file ids do not): see identity.py."""
        return identity(kind, value)

    def index(self, kind: str, value: Any, local_tz: Any) -> Indexed:
        return store.index(kind, value)

    def schema_for(self, kind: str, value: Any) -> str | None:
        return store.SCHEMAS.get(kind)

    def schema_value(self, kind: str, value: Any) -> Any:
        return detach(value)[0]

    def embed_text(self, value: Any) -> str:
        return store.embed_text(value)

    def bundle_records(self, bundle: Any) -> Iterator[NativeRecord]:
        return store.bundle_records(bundle)

    def from_store(self, natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
        return self.native(store.from_store(natives, header, layout, as_read=as_read))

    def combine(self, parts: list[Any], notes: list[str], header: Any = None, layout: Any = None) -> Any:
        """The parts of an export as one file (built on the latest import's header), with the notes
        of what building them changed."""
        if len(parts) == 1:
            notes.extend(getattr(parts[0], "notes", []))
            return parts[0]
        natives: dict[str, list[Any]] = {}
        for part in parts:
            for record in self.bundle_records(part):
                natives.setdefault(record.kind, []).append(record.value)
        combined = store.from_store(natives, header, layout)
        notes.extend(combined.notes)
        return combined

    def to_canonical(self, source: Any, report: Any) -> Any:
        return whole(source, report, convert.to_canonical)  # its records live inside its agents: read whole

    def from_canonical(self, canonical: Any, target: Any, report: Any) -> Any:
        return convert.from_canonical(listed(canonical), target, report)  # built whole (build.py)

    def native_defaults(self, native_only: dict[str, Any]) -> frozenset[str]:
        return convert.native_defaults(native_only)


PLUGIN = LettaFormat()
PLUGINS = [PLUGIN]
