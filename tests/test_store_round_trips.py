"""Through the store and back: an import then an export to the same format gives the bundle's
bytes, headers included, also for records their own system would reject (the store keeps them);
exports are deterministic; nothing is filled from the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from native import KAGURA_PERSISTENT, KAGURA_WORKING, tribal_bundle, write_kagura, write_tribal
from strategies import doclea_memory, doclea_relation, kagura_edge, kagura_memory, kagura_node, tribal_entry

import memport
from memport.exporter import export

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def distinct(fmt: str, kind_records: list[tuple[str, dict]]) -> bool:
    """Whether no two records share an identity: the store holds one record per identity, so a
    bundle with duplicates cannot come back as it was (validation reports them)."""
    plugin = memport.formats.plugin(fmt)
    seen = [(kind, plugin.identity(kind, record)) for kind, record in kind_records]
    return len(seen) == len(set(seen))


def snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.is_dir() else {path.name: path.read_bytes()}


def through_the_store(src: Path, to: str, out: Path) -> dict[str, bytes]:
    with memport.Store(out.parent / f"{out.name}.db") as store:
        memport.import_bundle(src, store)
        export(store, to, out, exported_at="keep")
    return snapshot(out)


@pytest.mark.parametrize("name", ["kagura", "tribal", "tribal-jsonl", "doclea"])
def test_a_bundle_comes_back_byte_for_byte(src, tmp_path, name):
    back = through_the_store(src[name], name, tmp_path / "out")
    original = snapshot(src[name])
    # the same files (a directory keeps its names; a single file is the one file)
    assert (sorted(back) if src[name].is_dir() else list(back.values())) == (
        sorted(original) if src[name].is_dir() else list(original.values())
    )
    assert list(back.values()) == list(original.values())


def test_the_examples_come_back_byte_for_byte(tmp_path):
    examples = Path(__file__).parent.parent / "examples"
    for name, to in (("kagura", "kagura"), ("tribal.json", "tribal"), ("doclea.json", "doclea")):
        assert list(through_the_store(examples / name, to, tmp_path / name).values()) == list(snapshot(examples / name).values()), name


@SETTINGS
@given(st.lists(kagura_memory, max_size=6), st.lists(kagura_node, max_size=4), st.lists(kagura_edge, max_size=4), st.booleans())
def test_any_kagura_bundle_comes_back(tmp_path_factory, memories, nodes, edges, with_metadata):
    src = tmp_path_factory.mktemp("k") / "bundle"
    src.mkdir()
    (src / "memories.jsonl").write_text("".join(json.dumps(m) + "\n" for m in memories))
    if nodes or edges:
        (src / "graph.jsonl").write_text("".join(json.dumps(r) + "\n" for r in nodes + edges))
    if with_metadata:
        stats = {"memories": len(memories), "graph_nodes": len(nodes), "graph_edges": len(edges)}
        header = {"exported_at": "2025-06-01T12:00:00", "user_id": "u", "agent_name": None, "stats": stats, "format_version": "1.0"}
        (src / "metadata.json").write_text(json.dumps(header, indent=2))
    assume(distinct("kagura", [("memories", m) for m in memories] + [("nodes", n) for n in nodes] + [("relations", e) for e in edges]))
    assert through_the_store(src, "kagura", src.parent / "out") == snapshot(src)


@SETTINGS
@given(st.lists(tribal_entry, max_size=6), st.booleans())
def test_any_tribal_bundle_comes_back(tmp_path_factory, entries, inline):
    src = tmp_path_factory.mktemp("t") / "b.json"
    manifest = {
        "schema_version": "1.0",
        "embedding": {"model_name": "m", "dimensions": 4, "provider": "fastembed", "created_at": "2025-06-01T12:00:00.000100+00:00"},
        "memory_count": len(entries),
        "exported_at": "2025-06-01T12:00:00+00:00",
    }
    doc = {"manifest": manifest, "entries": entries}
    if inline:  # the MCP tool's inline export: two keys more, which Tribal's importer ignores
        doc = {"success": True, "memory_count": len(entries), **doc}
    src.write_text(json.dumps(doc))
    assume(distinct("tribal", [("memories", e) for e in entries]))
    assert list(through_the_store(src, "tribal", src.parent / "out.json").values()) == [src.read_bytes()]


@SETTINGS
@given(st.lists(doclea_memory, max_size=4), st.lists(doclea_relation, max_size=3), st.sampled_from(["012", "005"]))
def test_any_doclea_bundle_comes_back(tmp_path_factory, memories, relations, schema_version):
    src = tmp_path_factory.mktemp("d") / "d.json"
    data = {
        "memories": memories,
        "documents": [],
        "chunks": [],
        "memoryRelations": relations,
        "crossLayerRelations": [],
        "pendingMemories": [],
    }
    doc = {
        "version": "1.0.0",
        "exportedAt": 1748779200,
        "backendType": "sqlite",
        "storageMode": "hybrid",
        "schemaVersion": schema_version,
        "data": data,
        "metadata": {"totalMemories": len(memories)},
    }
    from memport.jsonio import dumps_js

    src.write_bytes(dumps_js(doc).encode("utf-8"))
    assume(distinct("doclea", [("memories", m) for m in memories] + [("relations", r) for r in relations]))
    assert list(through_the_store(src, "doclea", src.parent / "out.json").values()) == [src.read_bytes()]


def test_a_merged_store_exports_the_latest_header_with_true_counts(tmp_path):
    first = write_tribal(tmp_path / "a.json", tribal_bundle())
    other = dict(json.loads(first.read_text())["entries"][0], id="0b7c6a52-1111-4a2b-9c3d-0000000000ff")
    second = write_tribal(tmp_path / "b.json", tribal_bundle([other]))
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(first, store)
        memport.import_bundle(second, store)
        export(store, "tribal", tmp_path / "out.json", exported_at="keep")
    manifest = json.loads((tmp_path / "out.json").read_text())["manifest"]
    assert manifest == dict(json.loads(second.read_text())["manifest"], memory_count=2)


def test_exports_do_not_depend_on_the_clock(tmp_path):
    # a Kagura working memory has no times: a Doclea export fills them from the record's own export
    # time, and two exports with the same export time are the same bytes
    bundle = write_kagura(tmp_path / "k", [KAGURA_WORKING, KAGURA_PERSISTENT])
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(bundle, store)
        first = export(store, "doclea", tmp_path / "one.json", exported_at=when)
        export(store, "doclea", tmp_path / "two.json", exported_at=when)
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    working = next(m for m in json.loads((tmp_path / "one.json").read_text())["data"]["memories"] if m["title"] == KAGURA_WORKING["key"])
    filled = int(datetime.fromisoformat(KAGURA_WORKING["exported_at"]).replace(tzinfo=UTC).timestamp())
    assert (working["createdAt"], working["accessedAt"]) == (filled, filled)
    (losses,) = first["conversions"]
    notes = {(loss["field"], loss["note"]) for loss in losses["losses"] if loss["field"] in ("created_at", "updated_at")}
    assert (
        "created_at",
        f"missing in the source; doclea requires it: filled with the record's export time ({datetime.fromisoformat(KAGURA_WORKING['exported_at']).replace(tzinfo=UTC).isoformat()})",
    ) in notes
