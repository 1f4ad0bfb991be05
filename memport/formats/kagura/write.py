"""Writing a Kagura bundle: the directory as Kagura's exporter writes it, atomically."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from ...jsonio import atomic_output, dumps_python, write_synced
from ...model import Relation
from ...timestamps import in_zone, zone
from .codec import EDGE, GRAPH, MEMORIES, MEMORY, METADATA, NAME, NODE


def write(bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    meta = bundle.meta
    same = meta.format == NAME
    edges = [r for r in bundle.records.relations if r.kind == "edge"]
    if same and meta.files is not None:
        files = meta.files
    else:
        files = [MEMORIES] + ([GRAPH] if bundle.records.nodes or edges else []) + [METADATA]
    with atomic_output(path, directory=True, overwrite=overwrite) as out:
        if MEMORIES in files:
            _write_lines(out.tmp / MEMORIES, (MEMORY.encode(m) for m in bundle.records.memories))
        if GRAPH in files:
            lines = [NODE.encode(n) for n in bundle.records.nodes] + [EDGE.encode(e) for e in edges]
            _write_lines(out.tmp / GRAPH, lines)
        if METADATA in files:
            header = dict(meta.header) if same and meta.header is not None else _fresh_header(bundle, edges)
            if exported_at is not None:
                # naive local ISO, in the zone the bundle was read with
                header["exported_at"] = in_zone(exported_at, zone(meta.local_tz), "the export time").isoformat()
            # json.dump(metadata, f, indent=2): no final newline
            write_synced(out.tmp / METADATA, dumps_python(header, indent=2).encode("ascii"))
    return out.backup


def _fresh_header(bundle: Bundle, edges: list[Relation]) -> dict[str, Any]:
    meta = bundle.meta
    exported = meta.exported_at.raw if meta.exported_at is not None and isinstance(meta.exported_at.raw, str) else None
    return {
        "exported_at": exported,
        "user_id": meta.user_id,
        "agent_name": meta.agent_name,
        "stats": {"memories": len(bundle.records.memories), "graph_nodes": len(bundle.records.nodes), "graph_edges": len(edges)},
        "format_version": "1.0",
    }


def _write_lines(file: Path, records: Any) -> None:
    with open(file, "w", encoding="ascii", newline="\n") as f:
        for record in records:
            f.write(dumps_python(record))
            f.write("\n")
