"""Writing a Kagura bundle: the directory as Kagura's exporter writes it, record by record, atomically."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from ...jsonio import atomic_output, dumps_python, write_synced
from ...timestamps import in_zone, zone
from .. import NativeBundle
from .codec import EDGE, GRAPH, MEMORIES, MEMORY, METADATA, NAME, NODE
from .read import from_native


def write_native(bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    """memories.jsonl, graph.jsonl (nodes, then edges) and metadata.json, as the layout says (each
    file is present or not as the bundle had it). A header's stats are what it says (a conversion
    makes them true)."""
    files = bundle.layout["files"] if isinstance(bundle.layout, dict) and "files" in bundle.layout else [MEMORIES, GRAPH, METADATA]
    with atomic_output(path, directory=True, overwrite=overwrite) as out:
        if MEMORIES in files:
            _write_lines(out.tmp / MEMORIES, bundle.records("memories"))
        if GRAPH in files:
            _write_lines(out.tmp / GRAPH, _chain(bundle.records("nodes"), bundle.records("relations")))
        if METADATA in files and bundle.header is not None:
            header = dict(bundle.header)
            if exported_at is not None:
                # naive local ISO, in the zone the bundle was read with
                header["exported_at"] = in_zone(exported_at, zone(bundle.local_tz), "the export time").isoformat()
            # json.dump(metadata, f, indent=2): no final newline
            write_synced(out.tmp / METADATA, dumps_python(header, indent=2).encode("ascii"))
    return out.backup


def native(bundle: Bundle) -> NativeBundle:
    meta = bundle.meta
    same = meta.format == NAME
    edges = [r for r in bundle.records.relations if r.kind == "edge"]
    if same and meta.files is not None:
        files = meta.files
    else:
        files = [MEMORIES] + ([GRAPH] if bundle.records.nodes or edges else []) + [METADATA]
    header = dict(meta.header) if same and meta.header is not None else fresh_header(bundle, len(edges))
    r = bundle.records
    encoded = {
        "memories": lambda: (MEMORY.encode(m) for m in r.memories),
        "nodes": lambda: (NODE.encode(n) for n in r.nodes),
        "relations": lambda: (EDGE.encode(e) for e in edges),
    }
    return NativeBundle(NAME, header, lambda kind: encoded[kind]() if kind in encoded else iter(()), {"files": files}, meta.local_tz)


def read_native(bundle: NativeBundle) -> Bundle:
    files = bundle.layout["files"] if isinstance(bundle.layout, dict) and "files" in bundle.layout else [MEMORIES, GRAPH, METADATA]
    graph = [*bundle.records("nodes"), *bundle.records("relations")]
    return from_native(list(bundle.records("memories")), graph, bundle.header, files=files, local_tz=bundle.local_tz)


def fresh_header(bundle: Bundle, edges: int) -> dict[str, Any]:
    """metadata.json for a bundle that brings none: what its meta says, stats counted."""
    meta = bundle.meta
    exported = meta.exported_at.raw if meta.exported_at is not None and isinstance(meta.exported_at.raw, str) else None
    return {
        "exported_at": exported,
        "user_id": meta.user_id,
        "agent_name": meta.agent_name,
        "stats": {"memories": len(bundle.records.memories), "graph_nodes": len(bundle.records.nodes), "graph_edges": edges},
        "format_version": "1.0",
    }


def _chain(*parts: Iterable[Any]) -> Iterable[Any]:
    for part in parts:
        yield from part


def _write_lines(file: Path, records: Iterable[Any]) -> None:
    with open(file, "w", encoding="ascii", newline="\n") as f:
        for record in records:
            f.write(dumps_python(record))
            f.write("\n")
