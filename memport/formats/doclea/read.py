"""Reading a Doclea export: detection, the whole bundle, counts, the records as a stream.

The document is read as a stream (``_document.walk``): detection stops at the first data array when
the version came before it (as Doclea writes it); records and counts walk the arrays record by record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...bundle import Bundle, Records
from ...errors import Location, MalformedInputError
from ...jsonio import json_kind, read_document
from ...model import BundleMeta, EmbeddingModel
from ...problems import json_path, quote
from ...schemas import refusal
from .. import Detection, NativeBundle, NativeRecord
from .._convert import an_object
from .._document import head_of, header_of, walk
from .codec import COLUMNS, NAME, READERS, SECTIONS, seconds


def _spread(member: tuple[str, ...]) -> str | None:
    """How :func:`walk` reads a Doclea document: the data object member by member, its record
    arrays one record at a time, the rest whole."""
    if member == ("data",):
        return "object"
    return "array" if len(member) == 2 and member[0] == "data" and member[1] in SECTIONS else None


def _outline(path: Path) -> tuple[dict[str, Any], bool]:
    """The document with its record arrays left out (an empty list stands for them), read only
    as far as detection needs: up to the first record array when the version came before it (as
    Doclea writes it), else to the end, records skipped one by one. True when it stopped early."""
    top: dict[str, Any] = {}
    events = walk(path, _spread, allow_bom=True)
    with contextlib.closing(events):
        for event in events:
            if event.kind == "object":
                top["data"] = {}
            elif event.kind in ("value", "array"):
                holder = top if len(event.path) == 1 else top["data"]
                holder[event.path[-1]] = event.value if event.kind == "value" else []
                if event.kind == "array" and "version" in top:
                    return top, True
    return top, False


def sniff(path: Path) -> Detection | None:
    if not path.is_file():
        return None
    head = head_of(path)
    if not head.startswith(b"{") or (b'"data"' not in head and b'"schemaVersion"' not in head):
        return None
    try:
        # detection looks through a BOM, so that validation can report it as a problem
        doc, partial = _outline(path)
    except MalformedInputError:
        if b'"schemaVersion"' in head or b'"memoryRelations"' in head:
            raise  # clearly Doclea, but broken: say so rather than "not a bundle"
        return None
    if not isinstance(doc, dict) or "version" not in doc or "data" not in doc or "manifest" in doc:
        return None
    version = doc["version"]
    if not isinstance(version, str):
        raise MalformedInputError(
            f'version must be a string such as "1.0.0", got {json_kind(version)}', Location(str(path), path="$.version")
        )
    evidence = [f"top-level version {version!r}", "top-level data object"]
    if "schemaVersion" in doc:
        evidence.append(f"schemaVersion {doc['schemaVersion']!r}")
    data = doc["data"]
    if isinstance(data, dict) and data:
        evidence.append("data arrays: " + ", ".join(k for k in SECTIONS if k in data) + (", ..." if partial else ""))
    details = {"header": header_of(doc), "layout": {"keys": [], "raw": {}}}
    return Detection(NAME, version, evidence, details)


def read(path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
    bundle = from_native(read_document(path).value, version=detection.version, local_tz=local_tz, source=str(path))
    bundle.path = str(path)
    return bundle


def records(path: Path, detection: Detection) -> Iterator[NativeRecord]:
    """The records of each data array one by one, in the file's order, read as a stream
    (memory: one record). Detection stopped reading at the first array, so the members met
    after the data object (Doclea writes ``metadata`` there) complete its header."""
    header = detection.details.get("header")
    # the data object's members in order, and those that are no record array, as they were
    layout = detection.details.setdefault("layout", {"keys": [], "raw": {}})
    layout["keys"], layout["raw"] = [], {}
    name = str(path)
    for event in walk(path, _spread):
        if event.kind == "array" and len(event.path) == 2:
            layout["keys"].append(event.path[1])
        elif event.kind == "item":
            # anything but an object is handed on: the store names it as a record it cannot hold
            yield NativeRecord(READERS[event.path[1]][1], event.value, event.exact, name, None, event.index, section=event.path[1])
        elif event.kind == "value" and (event.path == ("data",) or (len(event.path) == 2 and event.path[1] in SECTIONS)):
            # a record container memport cannot read: refused, as validation reports it
            skeleton = {"data": event.value} if event.path == ("data",) else {"data": {event.path[1]: event.value}}
            raise refusal(NAME, detection.version, "bundle", skeleton, json_path(event.path), name)
        elif event.kind == "value" and len(event.path) == 2:
            layout["keys"].append(event.path[1])
            layout["raw"][event.path[1]] = event.value
        elif event.kind == "value" and len(event.path) == 1 and isinstance(header, dict):
            header[event.path[0]] = event.value


def count(path: Path, detection: Detection) -> dict[str, int]:
    """Records per kind, streaming; a record container memport cannot read is refused, as
    ``records`` refuses it (inspect says what import would say)."""
    found = dict.fromkeys(SECTIONS, 0)
    for event in walk(path, _spread):
        if event.kind == "end":
            found[event.path[1]] = event.index
        elif event.kind == "value" and (event.path == ("data",) or (len(event.path) == 2 and event.path[1] in SECTIONS)):
            skeleton = {"data": event.value} if event.path == ("data",) else {"data": {event.path[1]: event.value}}
            raise refusal(NAME, detection.version, "bundle", skeleton, json_path(event.path), str(path))
    return {
        "memories": found["memories"],
        "relations": found["memoryRelations"] + found["crossLayerRelations"],
        "documents": found["documents"],
        "chunks": found["chunks"],
        "pending": found["pendingMemories"],
    }


def from_native(doc: dict[str, Any], *, version: str = "1.0.0", local_tz: str = "UTC", source: str | None = None) -> Bundle:
    """A bundle from a native Doclea document (what the reader parsed, or what a conversion built)."""
    data = doc.get("data")
    if not isinstance(data, dict):
        raise MalformedInputError(f"data must be an object, got {quote(data)}", Location(source, path="$.data"))
    records = Records()
    raw_sections: dict[str, Any] = {}
    for key, value in data.items():
        reader = READERS.get(key)
        if reader is None or not isinstance(value, list):
            raw_sections[key] = value  # kept verbatim: not records memport understands
            continue
        codec, attr, fixed = reader
        target = getattr(records, attr)
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise MalformedInputError(
                    f"expected an object, got {quote(item)}", Location(source, record=index, path=f"$.data.{key}[{index}]")
                )
            target.append(codec.decode(item, None, **fixed))
    header = {k: (None if k == "data" else v) for k, v in doc.items()}
    meta = BundleMeta(format=NAME, version=version, header=header, local_tz=local_tz, container={"keys": list(data), "raw": raw_sections})
    exported = doc.get("exportedAt")
    meta.exported_at = seconds(exported) if isinstance(exported, (int, float)) and not isinstance(exported, bool) else None
    for attr, key in (("backend_type", "backendType"), ("storage_mode", "storageMode"), ("schema_version", "schemaVersion")):
        if isinstance(doc.get(key), str):
            setattr(meta, attr, doc[key])
    metadata = doc.get("metadata")
    if isinstance(metadata, dict):
        meta.declared_counts = {"memories": metadata.get("totalMemories")}
        if isinstance(metadata.get("embeddingModel"), str) or isinstance(metadata.get("embeddingProvider"), str):
            meta.embedding_model = EmbeddingModel(
                name=metadata.get("embeddingModel") if isinstance(metadata.get("embeddingModel"), str) else None,
                provider=metadata.get("embeddingProvider") if isinstance(metadata.get("embeddingProvider"), str) else None,
            )
    return Bundle(meta, records, columns=COLUMNS)


def native_of(path: Path, detection: Detection, local_tz: str) -> NativeBundle:
    """The records read from the file as the writer asks for them: a first read completes the top
    level (``metadata`` follows the data) and the data object's members, and refuses what is no
    record before anything is written; then one more read gives each array's records in turn, as
    the writer writes the arrays in the file's order."""
    for record in records(path, detection):
        an_object(record)
    sections = _Sections(records(path, detection))
    return NativeBundle(NAME, detection.details.get("header"), sections.take, detection.details.get("layout"), local_tz)


class _Sections:
    """One read of the file, handed out array by array: ``take(section)`` gives the records of that
    array (the next one in the file: the writer asks for them in the file's order)."""

    def __init__(self, stream: Iterator[NativeRecord]):
        self.stream, self.ahead = stream, None

    def take(self, section: str) -> Iterator[dict[str, Any]]:
        wanted = "pendingMemories" if section == "pending" else section
        while True:
            record = self.ahead if self.ahead is not None else next(self.stream, None)
            self.ahead = None
            if record is None:
                return
            if record.section != wanted:
                self.ahead = record
                return
            yield an_object(record)
