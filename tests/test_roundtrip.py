"""Property tests: for generated native exports of each format, reading then writing gives the very
same bytes, and reading those bytes again gives equal records."""

from __future__ import annotations

import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native import write_doclea

import memport

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# text as the exporters see it: astral characters, NUL, CRLF, line separators, lone surrogates
tricky_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\U0001f44b", "\ud83d", "a\u0000b", "x\r\ny", "\u2028\u2029", "caf\u00e9", "e\u0301"]
)
floats = st.floats() | st.sampled_from([-0.0, 1.0, 1e-300, 6.02214076e23])
ints = st.integers() | st.sampled_from([2**53 + 1, 2**64, -(2**70)])
json_any = st.recursive(
    st.none() | st.booleans() | ints | floats | tricky_text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(tricky_text, c, max_size=3),
    max_leaves=10,
)
iso = st.datetimes().map(lambda d: d.isoformat())
key_text = st.text(string.ascii_letters + string.digits + "_-:", min_size=1, max_size=12)


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


kagura_memory = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("memory"),
            "scope": st.just("working"),
            "key": key_text | st.integers(),
            "value": json_any,
            "user_id": key_text,
            "agent_name": key_text | st.none(),
            "exported_at": iso,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("memory"),
            "scope": st.just("persistent"),
            "key": key_text,
            "value": json_any,
            "user_id": key_text,
            "agent_name": key_text | st.none(),
            "created_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
            "updated_at": st.datetimes().map(lambda d: str(d.replace(tzinfo=None))),
            "metadata": json_any,
            "exported_at": iso,
        },
        optional={"tags": json_any},
    ),
)
node_ids = key_text | st.integers(-5, 5)
kagura_node = st.fixed_dictionaries(
    {
        "type": st.just("node"),
        "id": node_ids,
        "node_type": st.sampled_from(["user", "topic", "person"]),
        "data": st.dictionaries(key_text, json_any, max_size=3),
        "exported_at": iso,
    }
)
kagura_edge = st.fixed_dictionaries(
    {
        "type": st.just("edge"),
        "src": node_ids,
        "dst": node_ids,
        "rel_type": st.sampled_from(["related_to", "works_at"]),
        "weight": floats | st.integers(),
        "data": st.dictionaries(key_text, json_any, max_size=3),
        "exported_at": iso,
    }
)


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


tribal_entry = st.fixed_dictionaries(
    {
        "id": key_text,
        "content": tricky_text,
        "embedding": st.none() | st.lists(floats, max_size=4),
        "source_instance": key_text | st.none(),
        "source_type": st.sampled_from(["user_explicit", "unknown", "BOGUS"]),
        "created_at": iso,
        "updated_at": iso | st.sampled_from(["2026-01", "2025-01-01T00:00:00Z"]),
        "tags": st.lists(tricky_text, max_size=3) | tricky_text | st.none(),
        "context": tricky_text | st.none(),
        "confidence": floats | st.integers() | st.text(max_size=3),
        "supersedes": key_text | st.none(),
        "related_to": st.lists(key_text, max_size=2),
    },
    optional={"extra_key": json_any},
)


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


# Doclea: values as JSON.parse gives them; integral numbers are ints, as JavaScript writes them
# Python and JavaScript print floats alike between 1e-4 and 1e16 (outside it they differ in
# exponent notation, which test_doclea.py::test_js_number_formatting covers with known JS output)
js_number = st.integers(-(2**53), 2**53) | st.builds(
    lambda f, negative: -f if negative else f,
    st.floats(min_value=1e-4, max_value=1e15).map(lambda f: f + 0.5 if f.is_integer() else f),
    st.booleans(),
)
doclea_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
doclea_memory = st.fixed_dictionaries(
    {
        "id": key_text,
        "type": st.sampled_from(["decision", "note", "knowledge"]),
        "title": doclea_text,
        "content": doclea_text,
        "importance": js_number | doclea_text,
        "tags": st.lists(doclea_text, max_size=3),
        "relatedFiles": st.lists(doclea_text, max_size=2),
        "experts": st.lists(doclea_text, max_size=2),
        "createdAt": st.integers(0, 2**33),
        "accessedAt": st.integers(0, 2**33),
        "accessCount": st.integers(0, 9),
        "needsReview": st.booleans(),
    },
    optional={"summary": doclea_text, "qdrantId": key_text, "decayRate": js_number, "decayFunction": st.sampled_from(["linear", "none"])},
)
metadata_object = st.dictionaries(key_text, st.integers() | doclea_text | st.booleans(), max_size=3)
doclea_relation = st.fixed_dictionaries(
    {
        "id": key_text,
        "source_id": key_text,
        "target_id": key_text,
        "type": st.sampled_from(["references", "extends"]),
        "weight": js_number,
        "metadata": st.none() | metadata_object.map(lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":"))) | doclea_text,
        "created_at": st.integers(0, 2**45),
    }
)


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
