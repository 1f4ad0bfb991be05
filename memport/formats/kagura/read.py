"""Reading a Kagura bundle: detection, the whole bundle, counts, and the records as a stream.

Every file may be missing or empty; metadata.json is written last and is missing after an
exporter crash; the importer never reads it (shared/formats/kagura.md §1).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ...bundle import Bundle, Records
from ...errors import Location, MalformedInputError, NotABundleError
from ...jsonio import read_document
from ...model import BundleMeta
from ...schemas import refusal
from ...timestamps import zone
from .. import Detection, NativeBundle, NativeRecord, followed
from .._convert import an_object
from .._jsonl import records as jsonl_records
from .._jsonl import scan
from .codec import COLUMNS, EDGE, FILES, GRAPH, MEMORIES, MEMORY, METADATA, NAME, NODE, Context, local_time, naive_local_times


def sniff(path: Path) -> Detection | None:
    if path.is_file():
        if path.name in FILES:
            raise NotABundleError(
                f"this is one file of a Kagura bundle; pass the bundle directory ({path.parent}) instead",
                Location(str(path)),
            )
        return None
    if not path.is_dir():
        return None
    present = [name for name in FILES if os.path.lexists(path / name)]
    for name in present:
        followed(path / name)  # a broken link or a loop is said, not skipped as a missing file
        if not (path / name).is_file():
            raise MalformedInputError(f"{name} is not a regular file", Location(str(path / name)))
    lookalikes = _lookalikes(path)
    if lookalikes and not {MEMORIES, GRAPH} & set(present):
        raise NotABundleError(
            f"holds {', '.join(lookalikes)}, which Kagura does not read: Kagura's importer reads memories.jsonl and graph.jsonl "
            "by these exact names (and never metadata.json), so it would import nothing from this directory; rename the files "
            "(or, for a bundle of another format among them, pass that file itself)",
            Location(str(path)),
        )
    if not present:
        return None
    evidence = [f"{name} present" for name in present]
    evidence += [f"{name} ignored: Kagura reads memories.jsonl and graph.jsonl only" for name in lookalikes]
    version = "1.0"
    if METADATA in present:
        try:
            header = read_document(path / METADATA).value
        except MalformedInputError:
            evidence.append("metadata.json unreadable; assuming format_version 1.0")
        else:
            found = header.get("format_version") if isinstance(header, dict) else None
            if found is None:
                evidence.append("metadata.json has no format_version; assuming 1.0")
            else:
                version = str(found)
                evidence.append(f"metadata.json format_version {found!r}")
    else:
        evidence.append("no metadata.json (the exporter writes it last; a crashed export lacks it); assuming 1.0")
    return Detection(NAME, version, evidence)


def _lookalikes(path: Path) -> list[str]:
    """Names in the directory that look like Kagura's files but are not them (memories.json,
    Graph.jsonl, metadata.jsonl, memories.jsonl.gz, ...): the importer opens its files by their
    exact names only. A JSON-like name is asked for, so that a graph.png is not taken for one."""
    stems = {name.split(".")[0] for name in FILES}
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if e.name not in FILES and e.name.split(".")[0].lower() in stems and "json" in e.name.lower())


def read(path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
    files = [name for name in FILES if (path / name).is_file()]
    memories = graph = ()
    if MEMORIES in files:
        memories = (_object(value, path / MEMORIES, line) for line, value, _, _ in scan(path / MEMORIES, None, ascii_expected=True))
    if GRAPH in files:
        graph = (_object(value, path / GRAPH, line) for line, value, _, _ in scan(path / GRAPH, None, ascii_expected=True))
    header = None
    if METADATA in files:
        header = read_document(path / METADATA).value
        if not isinstance(header, dict):
            raise MalformedInputError("expected a JSON object", Location(str(path / METADATA)))
    bundle = from_native(memories, graph, header, files=files, local_tz=local_tz, version=detection.version)
    bundle.path = str(path)
    return bundle


def header(path: Path, version: str) -> Any:
    """metadata.json (small: read for the import run's record), or None; one that is not an
    object is refused, as validation reports it (memport would lose it)."""
    meta = path / METADATA
    if not meta.is_file():
        return None
    value = read_document(meta).value
    if not isinstance(value, dict):
        raise refusal(NAME, version, "metadata", value, "$", str(meta))
    return value


def count(path: Path, detection: Detection) -> dict[str, int]:
    """Records per kind, streaming; the naive local times met go to the detection's details."""
    counts = {"memories": 0, "relations": 0, "nodes": 0}
    local = 0
    if (path / MEMORIES).is_file():
        for _, value, _, _ in scan(path / MEMORIES, None, ascii_expected=True, exact_integers=False):
            counts["memories"] += 1
            local += naive_local_times("memories", value)
    if (path / GRAPH).is_file():
        for _, value, _, _ in scan(path / GRAPH, None, ascii_expected=True, exact_integers=False):
            kind = graph_kind(value) if isinstance(value, dict) else "nodes"
            counts[kind] += 1
            local += naive_local_times(kind, value)
    if (path / METADATA).is_file():
        local += naive_local_times("header", header(path, detection.version))
    detection.details["naive_local_times"] = local
    return counts


def graph_kind(value: dict[str, Any]) -> str:
    return "relations" if value.get("type") == "edge" else "nodes"


def records(path: Path) -> Iterator[NativeRecord]:
    if (path / MEMORIES).is_file():
        yield from jsonl_records(path / MEMORIES, lambda value: "memories")
    yield from graph_records(path)


def graph_records(path: Path) -> Iterator[NativeRecord]:
    if (path / GRAPH).is_file():
        yield from jsonl_records(path / GRAPH, graph_kind, default="nodes")


def from_native(
    memories: Iterable[dict[str, Any]],
    graph: Iterable[dict[str, Any]],
    header: dict[str, Any] | None,
    *,
    files: list[str],
    local_tz: str = "UTC",
    version: str = "1.0",
) -> Bundle:
    """A bundle from native Kagura records (what the reader parsed, or what a conversion built)."""
    ctx = Context(zone(local_tz))
    found = Records()
    found.memories.extend(MEMORY.decode(obj, ctx) for obj in memories)
    for obj in graph:
        if obj.get("type") == "edge":
            found.relations.append(EDGE.decode(obj, ctx, kind="edge"))
        else:
            # nodes, and records of unknown type (kept verbatim so nothing is lost)
            found.nodes.append(NODE.decode(obj, ctx))
    meta = BundleMeta(format=NAME, version=version, local_tz=local_tz, header=header, files=files)
    if header is not None:
        exported = header.get("exported_at")
        meta.exported_at = local_time(exported, ctx) if isinstance(exported, str) else None
        meta.user_id = header.get("user_id") if isinstance(header.get("user_id"), str) else None
        meta.agent_name = header.get("agent_name") if isinstance(header.get("agent_name"), str) else None
        stats = header.get("stats")
        meta.declared_counts = dict(stats) if isinstance(stats, dict) else {}
    return Bundle(meta, found, columns=COLUMNS)


def _object(value: Any, file: Path, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedInputError(f"expected a JSON object, got {type(value).__name__}", Location(str(file), line=line))
    return value


def native_of(path: Path, detection: Detection, local_tz: str, header: Any, layout: Any) -> NativeBundle:
    """The bundle's records read from its files as the writer asks for them: memories.jsonl, then
    graph.jsonl's nodes and its edges (a read each); metadata.json as it is."""
    graph = path / GRAPH

    def records(kind: str) -> Iterator[dict[str, Any]]:
        if kind == "memories" and (path / MEMORIES).is_file():
            yield from (an_object(r) for r in jsonl_records(path / MEMORIES, lambda value: "memories"))
        elif kind in ("nodes", "relations") and graph.is_file():
            yield from (an_object(r) for r in jsonl_records(graph, graph_kind, default="nodes") if r.kind == kind)

    return NativeBundle(NAME, header, records, layout, local_tz)
