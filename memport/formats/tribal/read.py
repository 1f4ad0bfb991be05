"""Reading Tribal bundles and streams: detection, the whole bundle, counts, the entries as a stream.

The bundle is one JSON document; detection reads it only up to its entries when the manifest comes
first (as Tribal writes it), and records and counts walk it entry by entry (``_document.walk``). The
HTTP export wraps the bundle as ``{"success", "memory_count", "bundle", "error"}``; memport reads the
bundle inside and says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ...bundle import Bundle, Records
from ...errors import Location, MalformedInputError
from ...jsonio import BOM, json_kind, loads, read_document
from ...model import BundleMeta, EmbeddingModel
from ...problems import quote
from ...schemas import refusal
from .. import Detection, NativeBundle, NativeRecord
from .._convert import an_object
from .._document import head_of, header_of, walk
from .._jsonl import scan
from .codec import COLUMNS, ENTRY, ENTRY_KEYS, ENVELOPE_KEYS, JSONL_NAME, NAME, Context, embedding_model, timestamp


def _unwrap(doc: Any) -> tuple[Any, bool]:
    """The bundle inside an HTTP export envelope, or the document itself."""
    if isinstance(doc, dict) and "manifest" not in doc and ENVELOPE_KEYS <= doc.keys() and isinstance(doc.get("bundle"), dict):
        return doc["bundle"], True
    return doc, False


def _spread(wrapped: bool) -> Any:
    """How :func:`walk` reads a Tribal document: entries one by one, the envelope's bundle (if
    it is one) member by member, the rest whole."""
    entries = ("bundle", "entries") if wrapped else ("entries",)
    return lambda member: "array" if member == entries else "object" if wrapped and member == ("bundle",) else None


def _outline(path: Path) -> dict[str, Any]:
    """The document with its entries left out (an empty list stands for them), read only as far
    as detection needs: up to the entries when what comes before says what the file is (the
    manifest first, as Tribal writes it), else to the end, entries skipped one by one."""
    top: dict[str, Any] = {}

    def spread(member: tuple[str, ...]) -> str | None:
        if member == ("entries",):
            return "array"
        return None if "manifest" in top else _spread(True)(member)  # an envelope has no manifest of its own

    events = walk(path, spread, allow_bom=True)
    with contextlib.closing(events):
        for event in events:
            holder = top if len(event.path) == 1 else top.get("bundle")
            if not isinstance(holder, dict):
                continue
            if event.kind == "object":
                top["bundle"] = {}
            elif event.kind == "value":
                holder[event.path[-1]] = event.value
            elif event.kind == "array":
                holder[event.path[-1]] = []
                settled = "manifest" in top if len(event.path) == 1 else "success" in top and "manifest" in holder
                if settled:
                    break
    return top


# the bundle -------------------------------------------------------------------------------------


def sniff_bundle(path: Path) -> Detection | None:
    if not path.is_file():
        return None
    head = head_of(path)
    if not head.startswith(b"{") or (b'"manifest"' not in head and b'"bundle"' not in head):
        return None
    try:
        # detection looks through a BOM, so that validation can report it as a problem
        doc = _outline(path)
    except MalformedInputError:
        if head.startswith(b'{"manifest"') or (b'"manifest"' in head and b'"entries"' in head):
            raise  # clearly Tribal, but broken: say so rather than "not a bundle"
        return None
    bundle, wrapped = _unwrap(doc)
    if not isinstance(bundle, dict) or "manifest" not in bundle:
        return None
    manifest = bundle["manifest"]
    at = "$.bundle.manifest" if wrapped else "$.manifest"
    if not isinstance(manifest, dict):
        raise MalformedInputError(f"manifest must be an object, got {json_kind(manifest)}", Location(str(path), path=at))
    version = manifest.get("schema_version")
    if not isinstance(version, str):
        found = "it is missing" if "schema_version" not in manifest else f"got {json_kind(version)}"
        raise MalformedInputError(
            f'schema_version must be a string such as "1.0" (the only one Tribal imports); {found}',
            Location(str(path), path=at + ".schema_version"),
        )
    evidence = ["HTTP export envelope: the bundle is under .bundle"] if wrapped else []
    evidence += ["top-level manifest object", f"manifest.schema_version {version!r}"]
    if "entries" in bundle:
        evidence.append("top-level entries array")
    return Detection(NAME, version, evidence, {"wrapped": wrapped, "header": header_of(bundle)})


def read_bundle(path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
    bundle, _ = _unwrap(read_document(path).value)
    result = from_native(bundle, version=detection.version, local_tz=local_tz, source=str(path))
    result.path = str(path)
    return result


def bundle_entries(path: Path, detection: Detection) -> Iterator[NativeRecord]:
    """The entries one by one, read as a stream (memory: one entry). Detection may have stopped
    reading at the entries, so the members met after them complete its header (Tribal's
    exporter writes none)."""
    wrapped = bool(detection.details.get("wrapped"))
    bundle = ("bundle",) if wrapped else ()
    header = detection.details.get("header")
    name = str(path)
    for event in walk(path, _spread(wrapped)):
        if event.kind == "item" and event.path == (*bundle, "entries"):
            # anything but an object is handed on: the store names it as a record it cannot hold
            yield NativeRecord("memories", event.value, event.exact, name, None, event.index)
        elif event.kind == "value" and event.path == (*bundle, "entries"):
            raise refusal(NAME, detection.version, "bundle", {"entries": event.value}, "$.entries", name)
        elif event.kind == "value" and event.path[:-1] == bundle and isinstance(header, dict):
            header[event.path[-1]] = event.value


def count_bundle(path: Path, detection: Detection) -> dict[str, int]:
    wrapped = bool(detection.details.get("wrapped"))
    entries = ("bundle", "entries") if wrapped else ("entries",)
    return {"memories": sum(1 for event in walk(path, _spread(wrapped)) if event.kind == "item" and event.path == entries)}


def from_native(bundle: dict[str, Any], *, version: str = "1.0", local_tz: str = "UTC", source: str | None = None) -> Bundle:
    """A bundle from a native Tribal document (what the reader parsed, or what a conversion built)."""
    manifest = bundle.get("manifest")
    model = embedding_model(manifest.get("embedding")) if isinstance(manifest, dict) else None
    ctx = Context(model.name if model else None, model.dimensions if model else None)
    entries = bundle.get("entries", [])
    if not isinstance(entries, list):
        raise MalformedInputError(f"entries must be an array, got {quote(entries)}", Location(source, path="$.entries"))
    records = Records()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedInputError(
                f"expected an entry object, got {quote(entry)}", Location(source, record=index, path=f"$.entries[{index}]")
            )
        records.memories.append(ENTRY.decode(entry, ctx))
    header = {k: (None if k == "entries" else v) for k, v in bundle.items()}
    meta = BundleMeta(format=NAME, version=version, embedding_model=model, header=header, local_tz=local_tz)
    if isinstance(manifest, dict):
        exported = manifest.get("exported_at")
        meta.exported_at = timestamp(exported) if isinstance(exported, str) else None
        meta.declared_counts = {"memories": manifest.get("memory_count")}
        meta.schema_version = manifest.get("schema_version") if isinstance(manifest.get("schema_version"), str) else None
    return Bundle(meta, records, columns=COLUMNS)


# the JSON Lines stream -------------------------------------------------------------------------


def sniff_stream(path: Path) -> Detection | None:
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        for raw in f:
            if raw.strip():
                first = raw.lstrip(BOM).strip()
                break
        else:
            if path.suffix.lower() != ".jsonl":
                return None
            # what ``convert --to tribal-jsonl`` writes for a bundle without memories: the stream
            # is the only JSON Lines format that is a single file
            return Detection(JSONL_NAME, "1.0", ["an empty JSON Lines file (*.jsonl): a stream of no Tribal entries"])
    if not first.startswith(b"{"):
        return None
    try:
        obj = loads(first).value
    except MalformedInputError:
        return None
    if (
        not isinstance(obj, dict)
        or not {"id", "content"} <= obj.keys()
        or not obj.keys() & {"source_type", "created_at", "source_instance"}
    ):
        return None
    shown = ", ".join(k for k in ENTRY_KEYS if k in obj)
    return Detection(JSONL_NAME, "1.0", [f"first line is a Tribal entry object ({shown})", "no manifest: the stream format of Tribal 1.0"])


def read_stream(path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
    def entries() -> Iterator[dict[str, Any]]:
        for line, value, _, _ in scan(path, None, ascii_expected=True):
            if not isinstance(value, dict):
                raise MalformedInputError(f"expected an entry object, got {quote(value)}", Location(str(path), line=line))
            yield value

    bundle = jsonl_from_native(entries(), local_tz=local_tz)
    bundle.path = str(path)
    return bundle


def stream_entries(path: Path, detection: Detection) -> Iterator[NativeRecord]:
    for line, value, exact, raw in scan(path, None, ascii_expected=True):
        yield NativeRecord("memories", value, exact, str(path), line, raw=raw)


def count_stream(path: Path, detection: Detection) -> dict[str, int]:
    return {"memories": sum(1 for _ in scan(path, None, ascii_expected=True, exact_integers=False))}


def jsonl_from_native(entries: Iterable[dict[str, Any]], *, local_tz: str = "UTC", model: EmbeddingModel | None = None) -> Bundle:
    """A JSONL-stream bundle from native entries; the stream itself carries no model identity."""
    ctx = Context(model.name if model else None, model.dimensions if model else None)
    records = Records(memories=[ENTRY.decode(e, ctx) for e in entries])
    return Bundle(BundleMeta(format=JSONL_NAME, version="1.0", local_tz=local_tz, embedding_model=model), records, columns=COLUMNS)


def native_of(path: Path, detection: Detection, local_tz: str) -> NativeBundle:
    """The entries read from the file as the writer asks for them. A first read completes the top
    level (members after the entries, which the writer writes after them) and refuses what is no
    entry before anything is written."""
    stream = detection.format == JSONL_NAME
    read = stream_entries if stream else bundle_entries
    if not stream:
        for record in read(path, detection):
            an_object(record)

    def records(kind: str) -> Iterator[dict[str, Any]]:
        return (an_object(r) for r in read(path, detection)) if kind == "memories" else iter(())

    return NativeBundle(detection.format, None if stream else detection.details.get("header"), records, {"model": None}, local_tz)
