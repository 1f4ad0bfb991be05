"""The schema files, and the two engines that must agree on them."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st
from native import (
    DOCLEA_MEMORY,
    DOCLEA_RELATION,
    KAGURA_EDGE,
    KAGURA_NODES,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    TRIBAL_ENTRY,
    doclea_bundle,
    tribal_bundle,
)

from memport.schemas import SchemaSet, schema_set, schemas_root

ROOT = Path(__file__).parent.parent
WRONG_VALUES = [None, 0, -1, 1.5, True, "", "x", "2025-10-27T10:30:00Z", [], ["a", 1], {}, {"a": None}]

DOCUMENT = {
    "id": "doc_1",
    "title": "T",
    "content": "\U0001f4d8 Intro",
    "contentHash": "h",
    "createdAt": 1748600000,
    "updatedAt": 1748600000,
}
CHUNK = {"id": "c1", "documentId": "doc_1", "content": "Intro", "startOffset": 3, "endOffset": 8}
CROSS = {
    "id": "x1",
    "memory_id": "m",
    "code_node_id": "npm:x",
    "relation_type": "documents",
    "direction": "memory_to_code",
    "confidence": 0.9,
    "metadata": None,
    "created_at": 1748700200,
}
PENDING = {"id": "p1", "memoryData": {"id": "mem_x", "qdrantId": "vec_x"}, "suggestedAt": 1748779100, "source": "user_store", "reason": "r"}
METADATA = {
    "exported_at": "2025-06-01T12:00:00.125000",
    "user_id": "user_alice",
    "agent_name": "global",
    "stats": {"memories": 2, "graph_nodes": 2, "graph_edges": 1},
    "format_version": "1.0",
}

SEEDS = {
    ("kagura", "1.0"): {
        "memory": [KAGURA_WORKING, KAGURA_PERSISTENT],
        "graph": [*KAGURA_NODES, KAGURA_EDGE],
        "node": KAGURA_NODES,
        "edge": [KAGURA_EDGE],
        "metadata": [METADATA],
    },
    ("tribal", "1.0"): {"entry": [TRIBAL_ENTRY], "bundle": [tribal_bundle()]},
    ("doclea", "1.0.0"): {
        "memory": [DOCLEA_MEMORY],
        "document": [DOCUMENT],
        "chunk": [CHUNK],
        "memory-relation": [DOCLEA_RELATION],
        "cross-layer-relation": [CROSS],
        "pending-memory": [PENDING],
        "bundle": [doclea_bundle()],
    },
}


def mutations(record):
    """The record, then each key removed, each value replaced by wrong values, an unknown key."""
    yield record
    if not isinstance(record, dict):
        return
    for key in record:
        dropped = dict(record)
        del dropped[key]
        yield dropped
        for wrong in WRONG_VALUES:
            yield {**record, key: wrong}
        if isinstance(record[key], dict):
            for inner in mutations(record[key]):
                yield {**record, key: inner}
    yield {**record, "unexpected": 1}
    yield None
    yield [record]


def outcome(schemas: SchemaSet, name: str, instance, engine: str):
    return Counter((c.instance_path, c.code, c.severity, c.message) for c in schemas.check(name, instance, engine=engine))


def corpus():
    for (fmt, version), by_schema in SEEDS.items():
        for name, seeds in by_schema.items():
            for seed in seeds:
                for instance in mutations(copy.deepcopy(seed)):
                    yield fmt, version, name, instance


def test_engines_agree_on_the_corpus():
    checked = failing = 0
    for fmt, version, name, instance in corpus():
        schemas = schema_set(fmt, version)
        fast = outcome(schemas, name, instance, "fast")
        reference = outcome(schemas, name, instance, "reference")
        assert fast == reference, (fmt, name, instance)
        checked += 1
        failing += bool(reference)
    assert checked > 1000 and failing > checked // 2  # the corpus exercises the rules, not just valid records


def test_the_errors_only_validator_fails_exactly_the_instances_with_errors():
    # a plan asks it whether a record is invalid: a pass must mean no error; and a Kagura memory
    # or Tribal entry (a large plan's hot path) with warnings only must pass too, or the plan pays
    # for the full check again (elsewhere a warning may sit where it cannot be left out: under a
    # $ref, or above rules without a note, as Doclea's tags and Kagura metadata's stats)
    checked, warnings_only, errors = 0, 0, 0
    for fmt, version, name, instance in corpus():
        schemas = schema_set(fmt, version)
        severities = {c.severity for c in schemas.check(name, instance)}
        passes = schemas.errors_only(name).is_valid(instance)
        if (fmt, name) in (("kagura", "memory"), ("tribal", "entry")):
            assert passes == ("error" not in severities), (fmt, name, instance)
            warnings_only += severities == {"warning"}
        else:
            assert not passes or "error" not in severities, (fmt, name, instance)
        checked += 1
        errors += "error" in severities
    assert warnings_only > 100 and errors > checked // 3


def test_leaving_out_warnings_never_leaves_out_an_error():
    from memport.schemas import _without_warnings

    # the conjunctive places are followed; a warning under anyOf, not or $ref, or one that holds an
    # error, stays as it is
    warn = {"pattern": "^a", "x-memport": {"code": "t.w", "severity": "warning"}}
    error = {"type": "string"}
    schema = {
        "type": "object",
        "properties": {
            "w": warn,
            "e": error,
            "mixed": {"allOf": [warn, error]},
            "under_any": {"anyOf": [warn, {"type": "integer"}]},
            "under_not": {"not": warn},
            "ref": {"$ref": "#/$defs/w", "x-memport": {"code": "t.r", "severity": "warning"}},
        },
        "$defs": {"w": warn},
    }
    left = _without_warnings(schema)["properties"]
    assert left["w"] is True and left["e"] == error and left["mixed"]["allOf"] == [True, error]
    assert left["under_any"] == schema["properties"]["under_any"] and left["under_not"] == schema["properties"]["under_not"]
    assert left["ref"] == schema["properties"]["ref"]
    assert _without_warnings({"allOf": [warn, warn]}) is True
    # additionalProperties: false fails as a keyword of the node that holds it, with its severity
    closed = {"properties": {"w": warn}, "additionalProperties": False}
    assert _without_warnings(closed) == {"properties": {"w": True}, "additionalProperties": False}
    assert _without_warnings({**closed, "x-memport": warn["x-memport"]}) is True


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted((f, v, n) for (f, v), names in SEEDS.items() for n in names)), st.data())
def test_engines_agree_on_random_values(target, data):
    fmt, version, name = target
    seed = copy.deepcopy(SEEDS[(fmt, version)][name][0])
    key = data.draw(st.sampled_from(sorted(seed)))
    seed[key] = data.draw(json_values)
    schemas = schema_set(fmt, version)
    assert outcome(schemas, name, seed, "fast") == outcome(schemas, name, seed, "reference")


def test_every_schema_file_is_draft_2020_12_with_an_id():
    files = sorted(schemas_root().glob("*/*/*.schema.json"))
    assert len(files) >= 14
    ids = set()
    for file in files:
        doc = json.loads(file.read_text())
        jsonschema.Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        fmt, version = file.parent.parent.name, file.parent.name
        assert doc["$id"] == f"https://memport.dev/schemas/{fmt}/{version}/{file.name}"
        assert doc["$id"] not in ids
        ids.add(doc["$id"])
        assert "x-memport-kind" in doc


def test_annotations_are_well_formed():
    def walk(node):
        if isinstance(node, dict):
            if "x-memport" in node:
                note = node["x-memport"]
                assert set(note) <= {"code", "severity", "message"} and note.get("severity", "error") in ("error", "warning")
                assert note["code"].count(".") >= 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for file in schemas_root().glob("*/*/*.schema.json"):
        walk(json.loads(file.read_text()))


def test_schemas_work_from_an_installed_wheel(tmp_path):
    """Build the wheel, install it alone into a folder, and validate from there."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), *map(str, wheels.glob("*.whl"))],
        check=True,
        capture_output=True,
    )
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(tribal_bundle(schema_version="1.0")))
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import memport, memport.schemas as s;"
        "print(json.dumps([memport.__file__, str(s.schemas_root()), memport.validate(sys.argv[2]).valid]))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(target), str(bundle)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    module, root, valid = json.loads(done.stdout)
    assert module.startswith(str(target)) and root == str(target / "memport" / "schemas") and valid is True
