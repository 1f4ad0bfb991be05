"""Property tests: for generated native exports of each format, reading then writing gives the very
same bytes, and reading those bytes again gives equal records."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native import write_doclea
from strategies import doclea_memory, doclea_relation, kagura_edge, kagura_memory, kagura_node, tribal_entry

import memport

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def records_equal(a: memport.Bundle, b: memport.Bundle) -> None:
    for kind in ("memories", "relations", "nodes", "documents", "chunks", "pending"):
        left = [r.model_dump() for r in getattr(a.records, kind)]
        right = [r.model_dump() for r in getattr(b.records, kind)]
        assert json.dumps(left, default=str, sort_keys=True) == json.dumps(right, default=str, sort_keys=True)


def check_round_trip(src: Path, out: Path) -> None:
    first = memport.read(src)
    memport.write(first, out, overwrite=True)
    if src.is_dir():
        for file in src.iterdir():
            assert (out / file.name).read_bytes() == file.read_bytes(), file.name
    else:
        assert out.read_bytes() == src.read_bytes()
    records_equal(first, memport.read(out))


@SETTINGS
@given(st.lists(kagura_memory, max_size=6), st.lists(kagura_node, max_size=4), st.lists(kagura_edge, max_size=4), st.booleans())
def test_kagura_round_trip(tmp_path_factory, memories, nodes, edges, with_metadata):
    src = tmp_path_factory.mktemp("k") / "bundle"
    src.mkdir()
    (src / "memories.jsonl").write_text("".join(json.dumps(m) + "\n" for m in memories))
    (src / "graph.jsonl").write_text("".join(json.dumps(r) + "\n" for r in nodes + edges))
    if with_metadata:
        (src / "metadata.json").write_text(
            json.dumps(
                {
                    "exported_at": "2025-06-01T12:00:00",
                    "user_id": "u",
                    "agent_name": None,
                    "stats": {"memories": len(memories), "graph_nodes": len(nodes), "graph_edges": len(edges)},
                    "format_version": "1.0",
                },
                indent=2,
            )
        )
    check_round_trip(src, src.parent / "out")


@SETTINGS
@given(st.lists(tribal_entry, max_size=6), st.sampled_from(["bundle", "envelope-free-keys", "jsonl"]))
def test_tribal_round_trip(tmp_path_factory, entries, shape):
    folder = tmp_path_factory.mktemp("t")
    manifest = {
        "schema_version": "1.0",
        "embedding": {"model_name": "m", "dimensions": 4},
        "memory_count": len(entries),
        "exported_at": "2025-06-01T12:00:00+00:00",
    }
    if shape == "jsonl":
        src = folder / "s.jsonl"
        src.write_text("".join(json.dumps(e) + "\n" for e in entries))
        if not entries:
            return  # an empty stream has nothing to detect
    else:
        src = folder / "b.json"
        doc = {"manifest": manifest, "entries": entries}
        if shape == "envelope-free-keys":
            doc = {"success": True, "memory_count": len(entries), **doc}
        src.write_text(json.dumps(doc))
    check_round_trip(src, folder / ("out" + src.suffix))


@SETTINGS
@given(st.lists(doclea_memory, max_size=4), st.lists(doclea_relation, max_size=3), st.sampled_from(["012", "006"]))
def test_doclea_round_trip(tmp_path_factory, memories, relations, schema_version):
    folder = tmp_path_factory.mktemp("d")
    doc = {
        "version": "1.0.0",
        "exportedAt": 1748779200,
        "backendType": "sqlite",
        "storageMode": "manual",
        "schemaVersion": schema_version,
        "data": {
            "memories": memories,
            "documents": [],
            "chunks": [],
            "memoryRelations": relations,
            "crossLayerRelations": [],
            "pendingMemories": [],
        },
        "metadata": {"totalMemories": len(memories)},
    }
    src = write_doclea(folder / "d.json", doc)
    check_round_trip(src, folder / "out.json")
