"""Doclea 1.0.0 (shared/formats/doclea.md): camelCase records, snake_case relation rows, seconds and
milliseconds, double-encoded metadata, UTF-16 chunk offsets, lone surrogates and JS numbers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from native import DOCLEA_MEMORY, DOCLEA_RELATION, doclea_bundle, write_doclea
from strategies import json_any

import memport
from memport.jsonio import dumps_js

DOCLEA_DOCUMENT = {
    "id": "doc_1",
    "title": "Intro",
    "content": "\U0001f4d8 Intro",
    "contentHash": "h",
    "createdAt": 1748600000,
    "updatedAt": 1748600000,
}
DOCLEA_CHUNK = {"id": "c1", "documentId": "doc_1", "content": "Intro", "startOffset": 3, "endOffset": 8}  # UTF-16 units


def memory(**changes):
    m = copy.deepcopy(DOCLEA_MEMORY)
    m.update(changes)
    return m


def rewrite_bytes(src, tmp_path):
    out = tmp_path / "out.json"
    memport.write(memport.read(src), out)
    return out.read_bytes()


def test_reference_bundle_round_trip(tmp_path):
    src = write_doclea(tmp_path / "d.json", doclea_bundle(memoryRelations=[DOCLEA_RELATION]))
    assert not src.read_bytes().endswith(b"\n")
    bundle = memport.read(src)
    assert bundle.counts() == {"memories": 1, "relations": 1, "nodes": 0, "documents": 0, "chunks": 0, "pending": 0, "messages": 0}
    relation = bundle.records.relations[0]
    assert relation.metadata == {"reason": "newer decision"}  # decoded for inspection
    assert relation.created_at.dialect == "epoch-ms"
    assert relation.created_at.utc == datetime(2025, 5, 31, 14, 2, 3, 456000, tzinfo=UTC)
    assert bundle.records.memories[0].created_at.utc == datetime(2025, 5, 31, 14, 0, tzinfo=UTC)
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()
    report = memport.validate(src)
    assert report.valid
    assert {p.code for p in report.warnings} == {"doclea.memory-relation.not-importable", "doclea.memory-relation.dangling"}


def test_real_data_oddities_round_trip(tmp_path):
    """knowledge type, mem-1 ids, no qdrantId, summary "" versus absent, decayRate 0, CRLF, NUL,
    case-variant tags, backslash paths, U+2028, emoji: all kept byte for byte."""
    odd = memory(
        id="mem-1",
        type="knowledge",
        summary="",
        decayRate=0,
        content="line one\r\nline two\u0000 \u2028 \U0001f680",
        tags=["Bug", "bug", "BUG"],
        relatedFiles=["src\\win\\path.ts", "src/**/*.ts"],
    )
    del odd["qdrantId"]
    src = write_doclea(tmp_path / "d.json", doclea_bundle(memories=[odd, memory(id="mem-2")]))
    bundle = memport.read(src)
    m = bundle.records.memories[0]
    assert m.summary == "" and m.extra["decayRate"] == 0 and "qdrantId" not in m.extra
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()
    report = memport.validate(src)
    assert report.valid and [p.code for p in report.warnings] == ["doclea.memory.type-enum"]


def test_lone_surrogates_in_json_text_columns_are_escaped_like_javascript(tmp_path):
    text = json.dumps(doclea_bundle(memories=[memory(tags=["x\ud83d"])]), ensure_ascii=False, indent=2)
    escaped = text.replace("\ud83d", "\\ud83d")  # what JSON.stringify writes
    src = tmp_path / "d.json"
    src.write_bytes(escaped.encode("utf-8"))
    assert memport.read(src).records.memories[0].tags == ["x\ud83d"]
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_js_number_formatting(tmp_path):
    bundle = doclea_bundle(memories=[memory(importance=1, decayRate=1e-7, confidenceFloor=0.00001)])
    text = json.dumps(bundle, ensure_ascii=False, indent=2).replace("1e-07", "1e-7").replace("1e-05", "0.00001")
    src = tmp_path / "d.json"
    src.write_bytes(text.encode())
    assert '"importance": 1,' in text
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_wrong_types_are_kept_verbatim(tmp_path):
    src = write_doclea(tmp_path / "d.json", doclea_bundle(memories=[memory(importance="high", tags="auth", createdAt="2025-01-01")]))
    m = memport.read(src).records.memories[0]
    assert m.importance is None and m.extra["importance"] == "high" and m.extra["tags"] == "auth"
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()
    report = memport.validate(src)
    assert report.valid  # Doclea stores them verbatim: warnings, not errors
    assert {"doclea.memory.importance", "doclea.memory.string-list", "doclea.timestamp.type"} <= {p.code for p in report.warnings}


def test_relations_and_chunks(tmp_path):
    document = dict(DOCLEA_DOCUMENT)
    chunks = [
        dict(DOCLEA_CHUNK),  # UTF-16 units: right
        dict(DOCLEA_CHUNK, id="c2", startOffset=2, endOffset=7),  # code points: wrong
        {"id": "c3", "documentId": "doc_gone", "content": "x", "startOffset": 0, "endOffset": 1},
    ]
    cross = {
        "id": "x1",
        "memory_id": "mem_missing",
        "code_node_id": "npm:left-pad",
        "relation_type": "documents",
        "direction": "memory_to_code",
        "confidence": 0.9,
        "metadata": None,
        "created_at": 1748700200,
    }
    bad_relation = {**DOCLEA_RELATION, "id": "r2", "metadata": {"reason": "object"}, "created_at": 1748700123}
    src = write_doclea(
        tmp_path / "d.json",
        doclea_bundle(documents=[document], chunks=chunks, crossLayerRelations=[cross], memoryRelations=[DOCLEA_RELATION, bad_relation]),
    )
    report = memport.validate(src)
    errors = {(p.record, p.code) for p in report.errors}
    assert errors == {(1, "doclea.relation.metadata")}
    warnings = {(p.path, p.code) for p in report.warnings}
    assert ("$.data.chunks[1]", "doclea.chunk.offsets") in warnings
    assert not any(path == "$.data.chunks[0]" for path, _ in warnings)
    assert ("$.data.chunks[2].documentId", "doclea.chunk.dangling") in warnings
    assert ("$.data.crossLayerRelations[0].memory_id", "doclea.cross-layer-relation.dangling") in warnings
    assert ("$.data.memoryRelations[1].created_at", "doclea.timestamp.milliseconds") in warnings
    offsets = next(p for p in report.warnings if p.code == "doclea.chunk.offsets")
    assert "code points" in offsets.message
    bundle = memport.read(src)
    assert [r.kind for r in bundle.records.relations] == ["memory", "memory", "cross_layer"]
    assert bundle.records.relations[1].extra == {"metadata": {"reason": "object"}}
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()
    frame = bundle.chunks
    assert str(frame["start_offset"].dtype) == "Int64"


def test_missing_arrays(tmp_path):
    bundle = doclea_bundle()
    del bundle["data"]["documents"], bundle["data"]["pendingMemories"]
    src = write_doclea(tmp_path / "d.json", bundle)
    report = memport.validate(src)
    assert [(p.code, p.message) for p in report.errors] == [
        (
            "doclea.data.missing-array",
            "Doclea's importer crashes part-way (no transaction) when one of these arrays is missing; missing required field 'documents'",
        )
    ]
    assert "doclea.data.missing-pending" in {p.code for p in report.warnings}
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_required_fields_and_duplicates(tmp_path):
    no_title = memory(id="m2")
    del no_title["title"]
    src = write_doclea(
        tmp_path / "d.json",
        doclea_bundle(
            memories=[memory(), no_title, memory()],
            pendingMemories=[{"id": "p1", "memoryData": {"id": "mem_x"}, "suggestedAt": 1, "source": "user_store", "reason": "r"}],
        ),
    )
    report = memport.validate(src)
    assert {(p.path, p.code) for p in report.errors} == {
        ("$.data.memories[1].title", "doclea.memory.required"),
        ("$.data.memories[2].id", "doclea.memory.duplicate-id"),
        ("$.data.pendingMemories[0].memoryData.qdrantId", "doclea.pending.memory-data"),
    }


def test_schema_versions(tmp_path):
    old = doclea_bundle()
    old["schemaVersion"] = "006"
    assert memport.validate(write_doclea(tmp_path / "a.json", old)).problems == []
    future = doclea_bundle()
    future["schemaVersion"] = "013"
    report = memport.validate(write_doclea(tmp_path / "b.json", future))
    assert report.valid and [p.code for p in report.warnings] == ["doclea.bundle.schema-version"]
    unknown = doclea_bundle()
    unknown["version"] = "2.0.0"
    with pytest.raises(memport.UnsupportedVersionError, match=r"doclea version '2.0.0' is not supported; supported: 1.0.0"):
        memport.validate(write_doclea(tmp_path / "c.json", unknown))


def test_total_memories_and_layout(tmp_path):
    bundle = doclea_bundle()
    bundle["metadata"]["totalMemories"] = 7
    src = tmp_path / "d.json"
    src.write_text(json.dumps(bundle))  # compact and ASCII-escaped: not Doclea's layout
    report = memport.validate(src)
    assert {"doclea.bundle.count-mismatch", "doclea.bundle.layout"} <= {p.code for p in report.warnings}


def test_exported_at_injection_and_frames(tmp_path):
    src = write_doclea(
        tmp_path / "d.json",
        doclea_bundle(
            pendingMemories=[
                {
                    "id": "p1",
                    "memoryData": {"id": "mem_x", "qdrantId": "vec_x"},
                    "suggestedAt": 1748779100,
                    "source": "user_store",
                    "reason": "r",
                }
            ]
        ),
    )
    out = tmp_path / "o.json"
    memport.write(memport.read(src), out, exported_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert json.loads(out.read_text())["exportedAt"] == 1767225600
    bundle = memport.read(src)
    assert str(bundle.memories["type"].dtype) == "category"
    assert str(bundle.memories["extra.accessCount"].dtype) == "Int64"
    assert str(bundle.memories["extra.needsReview"].dtype) == "boolean"
    assert str(bundle.pending["suggested_at"].dtype) == "datetime64[us, UTC]"
    assert bundle.summary()["schema_version"] == "012"


LAYOUTS = {
    "javascript": lambda b: dumps_js(b).encode("utf-8"),
    "python-indent-2": lambda b: json.dumps(b, ensure_ascii=False, indent=2).encode("utf-8"),
    "python-ascii-indent-2": lambda b: json.dumps(b, indent=2).encode("utf-8"),
    "compact": lambda b: json.dumps(b, ensure_ascii=False).encode("utf-8"),
    "indent-4": lambda b: json.dumps(b, indent=4, ensure_ascii=False).encode("utf-8"),
    "trailing-space": lambda b: dumps_js(b).encode("utf-8") + b" ",
    "missing-last-brace": lambda b: dumps_js(b).encode("utf-8")[:-1] + b" }",
}


def layout_cases():
    plain = doclea_bundle(documents=[dict(DOCLEA_DOCUMENT)], chunks=[dict(DOCLEA_CHUNK)])
    floats = copy.deepcopy(plain)
    floats["data"]["memories"][0].update(importance=1.5e-7, accessCount=1e21)  # JavaScript writes exponents its own way
    empty = copy.deepcopy(plain)
    empty["data"] = {}
    metadata_first = {"metadata": plain["metadata"], **{k: v for k, v in plain.items() if k != "metadata"}}
    return {"plain": plain, "floats": floats, "empty-data": empty, "metadata-first": metadata_first}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", layout_cases())
def test_the_layout_is_judged_piece_by_piece_as_of_the_whole_document(tmp_path, case, layout):
    """Validation streams the document and compares it with JSON.stringify's output as it goes;
    the verdict is the whole document's: dumps_js of all of it against all of its bytes."""
    data = LAYOUTS[layout](layout_cases()[case])
    src = tmp_path / "d.json"
    src.write_bytes(data)
    whole_verdict = dumps_js(json.loads(data)).encode("utf-8") == data
    report = memport.validate(src)
    assert ("doclea.bundle.layout" not in {p.code for p in report.warnings}) == whole_verdict
    if layout in ("javascript", "compact", "indent-4", "trailing-space", "missing-last-brace"):  # (Python's indent=2 may match)
        assert whole_verdict == (layout == "javascript")


def test_chunk_offsets_are_checked_whatever_the_order_of_the_arrays(tmp_path):
    bundle = doclea_bundle(documents=[dict(DOCLEA_DOCUMENT)], chunks=[dict(DOCLEA_CHUNK), dict(DOCLEA_CHUNK, id="c2", endOffset=10**6)])
    bundle["data"] = {"chunks": bundle["data"]["chunks"], **{k: v for k, v in bundle["data"].items() if k != "chunks"}}
    report = memport.validate(write_doclea(tmp_path / "d.json", bundle))
    assert [(p.code, p.record) for p in report.warnings if p.code.startswith("doclea.chunk")] == [("doclea.chunk.offsets", 1)]


def test_validation_reads_records_up_to_where_the_json_breaks(tmp_path):
    memories = [dict(DOCLEA_MEMORY, id="a"), dict(DOCLEA_MEMORY, id="a"), dict(DOCLEA_MEMORY, id="b")]
    text = dumps_js(doclea_bundle(memories=memories, memoryRelations=[DOCLEA_RELATION]))
    cut = text.index('"id": "b"')
    src = tmp_path / "d.json"
    src.write_text(text[:cut] + '"id" "b"' + text[cut + 9 :], encoding="utf-8")
    report = memport.validate(src)
    # the duplicate before the break; no dangling relation (the relations were never read)
    assert sorted((p.record, p.code) for p in report.errors) == [(1, "doclea.memory.duplicate-id"), (2, "json.malformed")]
    broken = next(p for p in report.errors if p.code == "json.malformed")
    assert broken.path == "$.data.memories[2]" and report.warnings == []


def test_a_non_string_tag_is_a_warning_as_a_non_list_is(tmp_path):
    """Doclea keeps tags, relatedFiles and experts as JSON text: its importer takes any JSON there."""
    for field in ("tags", "relatedFiles", "experts"):
        for odd in ([1, "x"], "x"):
            src = write_doclea(tmp_path / "d.json", doclea_bundle(memories=[dict(DOCLEA_MEMORY, **{field: odd})]))
            report = memport.validate(src)
            assert report.errors == [] and [p.code for p in report.warnings] == ["doclea.memory.string-list"], (field, odd)


@given(json_any | st.lists(st.floats(), max_size=4) | st.dictionaries(st.text(max_size=3), st.floats(), max_size=3))
@settings(max_examples=500, deadline=None)
def test_the_fast_json_stringify_is_the_exact_one(value):
    """dumps_js takes orjson's indented output where it is JSON.stringify's (no floats, no lone
    surrogates, integers within 64 bits) and the exact writer otherwise: the same text either way."""
    from memport.jsonio import _dumps_js

    assert dumps_js(value) == _dumps_js(value)
