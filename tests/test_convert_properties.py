"""Property: any bundle memport can read converts to every other format with output that validates
without errors, and with closed accounting."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native import write_doclea
from strategies import doclea_memory, doclea_relation, kagura_edge, kagura_memory, kagura_node, tribal_entry

import memport

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SUFFIX = {"kagura": "", "tribal": ".json", "tribal-jsonl": ".jsonl", "doclea": ".json"}


def check_all_targets(path, folder):
    bundle = memport.read(path)
    for target in ("kagura", "tribal", "tribal-jsonl", "doclea"):
        if target == bundle.format:
            continue
        result = memport.convert(bundle, target)
        assert result.conversion.closed, result.conversion.to_dict()
        out = folder / f"out-{target}{SUFFIX[target]}"
        memport.write(result, out, overwrite=True)
        if target == "tribal-jsonl" and not result.records.memories:
            continue  # an empty stream is an empty file: nothing to detect
        errors = memport.validate(out).errors
        assert errors == [], [str(e) for e in errors]


@SETTINGS
@given(st.lists(kagura_memory, max_size=5), st.lists(kagura_node, max_size=3), st.lists(kagura_edge, max_size=3))
def test_any_kagura_bundle(tmp_path_factory, memories, nodes, edges):
    folder = tmp_path_factory.mktemp("k")
    src = folder / "bundle"
    src.mkdir()
    (src / "memories.jsonl").write_text("".join(json.dumps(m) + "\n" for m in memories))
    (src / "graph.jsonl").write_text("".join(json.dumps(r) + "\n" for r in nodes + edges))
    check_all_targets(src, folder)


@SETTINGS
@given(st.lists(tribal_entry, max_size=5))
def test_any_tribal_bundle(tmp_path_factory, entries):
    folder = tmp_path_factory.mktemp("t")
    src = folder / "b.json"
    src.write_text(
        json.dumps(
            {
                "manifest": {"schema_version": "1.0", "embedding": {"model_name": "m", "dimensions": 4}, "memory_count": len(entries)},
                "entries": entries,
            }
        )
    )
    check_all_targets(src, folder)


@SETTINGS
@given(st.lists(doclea_memory, max_size=4), st.lists(doclea_relation, max_size=3))
def test_any_doclea_bundle(tmp_path_factory, memories, relations):
    folder = tmp_path_factory.mktemp("d")
    doc = {
        "version": "1.0.0",
        "exportedAt": 1748779200,
        "backendType": "sqlite",
        "storageMode": "manual",
        "schemaVersion": "012",
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
    check_all_targets(write_doclea(folder / "d.json", doc), folder)
