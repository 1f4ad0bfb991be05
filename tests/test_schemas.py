"""The schema files, and the two engines that must agree on them."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import jsonschema
import referencing
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

from memport.schemas import ERRORS_ONLY, SchemaSet, bundled, schema_set, schemas_root, standalone_documents, unbundled

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


@cache
def shipped(fmt: str, version: str, name: str, folder: str = "") -> jsonschema.Draft202012Validator:
    """python-jsonschema with a shipped file alone: an empty registry, so a fetch fails the test."""
    file = schemas_root() / fmt / version / folder / f"{name}.schema.json"
    return jsonschema.Draft202012Validator(json.loads(file.read_text()), registry=referencing.Registry())


def test_errors_only_schemas_pass_exactly_the_instances_without_errors():
    # a plan asks memport's (jsonschema-rs) whether a record is invalid: a pass must mean no error,
    # and a record with warnings only must pass too, or the plan pays for the full check again; the
    # shipped errors-only files answer "would the importer accept it?" the same way, and the full
    # files fail whatever memport reports, warnings included
    checked, warnings_only, errors = 0, 0, 0
    for fmt, version, name, instance in corpus():
        schemas = schema_set(fmt, version)
        severities = {c.severity for c in schemas.check(name, instance)}
        accepted = "error" not in severities
        assert schemas.errors_only(name).is_valid(instance) == accepted, (fmt, name, instance)
        assert shipped(fmt, version, name, ERRORS_ONLY).is_valid(instance) == accepted, (fmt, name, instance)
        assert shipped(fmt, version, name).is_valid(instance) == (not severities), (fmt, name, instance)
        checked += 1
        warnings_only += severities == {"warning"}
        errors += not accepted
    assert warnings_only > 300 and errors > checked // 3


def test_leaving_out_warnings_never_leaves_out_an_error():
    from memport.schemas import _without_warnings

    base = "https://example.test/t/1/t.schema.json"
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
    left = _without_warnings(schema, base)
    # the conjunctive places are followed; under anyOf or not, a warning's failure is the error of
    # the node holding it, so it stays
    assert left["properties"]["w"] is True and left["properties"]["e"] == error and left["properties"]["mixed"]["allOf"] == [True, error]
    assert left["properties"]["under_any"] == schema["properties"]["under_any"]
    assert left["properties"]["under_not"] == schema["properties"]["under_not"]
    # a reference stays relative (in a twin it leads to the twin) and definitions lose their warnings too
    assert left["properties"]["ref"] == schema["properties"]["ref"] and left["$defs"] == {"w": True}
    assert _without_warnings({"allOf": [warn, warn]}, base) is True
    # additionalProperties: false fails as a keyword of the node that holds it, with its severity
    closed = {"properties": {"w": warn}, "additionalProperties": False}
    assert _without_warnings(closed, base) == {"properties": {"w": True}, "additionalProperties": False}
    assert _without_warnings({**closed, "x-memport": warn["x-memport"]}, base) is True
    # a warning node loses its own rules and keeps its subschemas, whose rules without a note are errors
    stats = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}, "x-memport": warn["x-memport"]}
    assert _without_warnings(stats, base) == {"properties": {"n": {"type": "integer"}}, "x-memport": warn["x-memport"]}
    # where a reference is not conjunctive (it steers, or its failure is the holder's), it must keep
    # meaning the full schema: it is made absolute
    steering = {"if": {"$ref": "other.schema.json"}, "then": error, "anyOf": [{"$ref": "#/$defs/w"}, {"type": "null"}]}
    assert _without_warnings(steering, base) == {
        "if": {"$ref": "https://example.test/t/1/other.schema.json"},
        "then": error,
        "anyOf": [{"$ref": f"{base}#/$defs/w"}, {"type": "null"}],
    }


def test_an_errors_only_twin_refers_to_twins_and_to_full_schemas_where_it_must():
    # a bundle whose entries must each be an entry (conjunctive: the twin entry), and whose "first"
    # must match an entry or be null (anyOf: the full entry, warnings included, decides)
    entry = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.test/t/1/entry.schema.json",
        "x-memport-kind": "t.entry",
        "properties": {"id": {"type": "string", "x-memport": {"code": "t.id", "severity": "warning"}}},
    }
    bundle = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.test/t/1/bundle.schema.json",
        "x-memport-kind": "t.bundle",
        "properties": {
            "entries": {"items": {"$ref": "entry.schema.json"}},
            "first": {"anyOf": [{"$ref": "entry.schema.json"}, {"type": "null"}]},
        },
    }
    documents = standalone_documents([entry, bundle])
    twin = documents["https://example.test/t/1/errors-only/bundle.schema.json"]
    assert twin["properties"]["entries"]["items"] == {"$ref": "entry.schema.json"}
    assert twin["properties"]["first"]["anyOf"][0] == {"$ref": "https://example.test/t/1/entry.schema.json"}
    assert sorted(twin["$defs"]) == ["https://example.test/t/1/entry.schema.json", "https://example.test/t/1/errors-only/entry.schema.json"]
    validator = jsonschema.Draft202012Validator(twin, registry=referencing.Registry())
    assert validator.is_valid({"entries": [{"id": 1}]})  # a warning only
    assert not validator.is_valid({"first": {"id": 1}})  # anyOf fails: an error of the bundle
    assert documents["https://example.test/t/1/entry.schema.json"] == entry  # refers to nothing: nothing embedded
    assert [unbundled(doc) for doc in documents.values()] == [unbundled(bundled(doc, documents)) for doc in documents.values()]


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

    for file in schemas_root().glob("**/*.schema.json"):
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
    packaged = sorted(str(f.relative_to(root)) for f in Path(root).glob("**/*.schema.json"))
    assert packaged == sorted(str(f.relative_to(schemas_root())) for f in schemas_root().glob("**/*.schema.json"))
    assert f"tribal/1.0/{ERRORS_ONLY}/bundle.schema.json" in packaged
