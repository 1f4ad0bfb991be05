"""Letta's Agent File (``.af``): the current shape, double-encoded files, and the legacy shape.

Reference: shared/formats/letta.md (letta 0.16.8, ``letta-ai/letta`` at 56ba9c25). One concern a
module: ``container`` (encodings, layers, layouts), ``codec`` (records), ``read``, ``write``,
``validate``, ``legacy`` (the legacy shape's upgrade), ``ids``, ``bundle`` (the audit views).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from .. import Detection, FormatPlugin, Indexed
from .bundle import LettaBundle
from .codec import NAME, message_text, parse_time
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

    def sniff(self, path: Path) -> Detection | None:
        return sniff(path)

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> LettaBundle:
        return read(path, detection, local_tz)

    def write(self, bundle: Any, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
        return write(bundle, path, overwrite=overwrite, exported_at=exported_at)

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

    def identity(self, kind: str, value: Any) -> str:
        """The record's file id (``block-3``, ``message-12``, ``file-0``). File ids are unique in
        one file only: Letta's exporter numbers them anew on every export."""
        ident = value.get("id") if isinstance(value, dict) else None
        if isinstance(ident, str):
            return ident
        if kind == "memories" and isinstance(value, dict) and isinstance(value.get("label"), str):
            return "label:" + value["label"]  # a legacy block: no id, one block per label
        import json

        return json.dumps(ident, ensure_ascii=False)

    def identity_bytes(self, kind: str, value: Any) -> bytes:
        return self.identity(kind, value).encode("utf-8", "surrogatepass")

    def index(self, kind: str, value: Any, local_tz: Any) -> Indexed:
        from ...timestamps import store_text

        identity = self.identity(kind, value)
        if not isinstance(value, dict):
            return Indexed(identity)
        if kind == "memories":
            tags = value.get("tags")
            return Indexed(
                identity,
                title=_str(value.get("label")),
                content=_str(value.get("value")),
                tags=tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None,
                created_at=store_text(parse_time(value.get("created_at"))[0]) if "created_at" in value else None,
            )
        if kind == "messages":
            return Indexed(
                identity,
                type=_str(value.get("role")),
                content=message_text(value.get("content")),
                created_at=store_text(parse_time(value.get("created_at"))[0]),
            )
        return Indexed(identity, title=_str(value.get("file_name")), content=_str(value.get("content")))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


PLUGIN = LettaFormat()
PLUGINS = [PLUGIN]
