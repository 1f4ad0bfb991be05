"""Tribal Memory 1.0: the bundle, the HTTP envelope and the JSONL stream (shared/formats/tribal.md)."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime

import pytest
from native import TRIBAL_ENTRY, tribal_bundle, write_tribal

import memport


def entry(**changes):
    e = copy.deepcopy(TRIBAL_ENTRY)
    e.update(changes)
    return e


def rewrite_bytes(src, tmp_path):
    out = tmp_path / ("out" + src.suffix)
    memport.write(memport.read(src), out)
    return out.read_bytes()


def problems_by_code(report):
    return {(p.code, p.severity) for p in report.problems}


def test_reference_bundle_round_trip_and_model(tmp_path):
    src = write_tribal(tmp_path / "b.json", tribal_bundle())
    bundle = memport.read(src)
    m = bundle.records.memories[0]
    assert m.embedding.vector == [0.1, -0.2, 0.3] and m.embedding.model == "example/tiny-embed-3d" and m.embedding.dimensions == 3
    assert m.created_at.dialect == "iso-naive-utc" and m.created_at.utc.tzinfo is not None
    assert bundle.meta.embedding_model.name == "example/tiny-embed-3d"
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()
    assert memport.validate(src).problems == []


def test_isoformat_quirks_are_read_as_instants(tmp_path):
    entries = [
        entry(id="a", created_at="2025-01-01T12:00:00+00:00", updated_at="2025-01-01T13:00:00+01:00"),
        entry(id="b", created_at="0001-01-01T00:00:00", updated_at="9999-12-31T23:59:59.999999+05:30:15"),
        entry(id="c", created_at="2026-01-15", updated_at="2026-01-15T10:30:00.001000"),
    ]
    src = write_tribal(tmp_path / "b.json", tribal_bundle(entries))
    ms = memport.read(src).records.memories
    assert ms[0].created_at.utc == ms[0].updated_at.utc  # 13:00+01:00 is 12:00Z
    assert ms[1].created_at.utc == datetime(1, 1, 1, tzinfo=UTC)
    assert ms[2].created_at.utc == datetime(2026, 1, 15, tzinfo=UTC)
    report = memport.validate(src)
    assert report.valid
    # a date-only value parses in Tribal, but is not what its exporter writes
    assert [(p.record, p.code) for p in report.warnings] == [(2, "tribal.timestamp.style")]
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_unparseable_and_z_timestamps(tmp_path):
    src = write_tribal(tmp_path / "b.json", tribal_bundle([entry(created_at="2026-01", updated_at="2026-01-15T10:30:00Z")]))
    report = memport.validate(src)
    assert [(p.code, p.path) for p in report.errors] == [("tribal.entry.timestamp", "$.entries[0].created_at")]
    assert [(p.code, p.path) for p in report.warnings] == [("tribal.timestamp.style", "$.entries[0].updated_at")]
    m = memport.read(src).records.memories[0]
    assert m.created_at.dialect == "iso-partial" and m.created_at.raw == "2026-01"


@pytest.mark.parametrize(
    "change, code",
    [
        ({"tags": None}, "tribal.entry.tags-type"),
        ({"tags": "work"}, "tribal.entry.tags-type"),
        ({"related_to": None}, "tribal.entry.related-to-type"),
        ({"source_type": "USER_EXPLICIT"}, "tribal.entry.source-type"),
        ({"id": "mem_1/x"}, "tribal.entry.id-charset"),
        ({"content": 42}, "tribal.entry.content-type"),
        ({"embedding": "0.1,0.2"}, "tribal.entry.embedding-type"),
        ({"embedding": [0.1, 0.2]}, "tribal.entry.dimensions"),
        ({"created_at": 1736933400}, "tribal.entry.timestamp-type"),
        ({"scope": "user"}, "tribal.entry.unknown-field"),
    ],
)
def test_entry_errors_are_lossless_on_read(tmp_path, change, code):
    src = write_tribal(tmp_path / "b.json", tribal_bundle([entry(**change)]))
    report = memport.validate(src)
    assert code in {p.code for p in report.errors}
    assert all(p.record == 0 for p in report.errors)
    # whatever the importer would choke on, memport keeps verbatim
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_missing_required_keys(tmp_path):
    e = entry()
    del e["updated_at"], e["content"]
    src = write_tribal(tmp_path / "b.json", tribal_bundle([e]))
    messages = [p.message for p in memport.validate(src).errors]
    assert messages == ["missing required field 'content'", "missing required field 'updated_at'"]


def test_manifest_rules(tmp_path):
    bundle = tribal_bundle(memory_count=99)
    bundle["manifest"]["embedding"]["dimensions"] = "3"
    del bundle["manifest"]["embedding"]["provider"]
    src = write_tribal(tmp_path / "b.json", bundle)
    report = memport.validate(src)
    assert ("tribal.embedding.dimensions", "error") in problems_by_code(report)
    assert ("tribal.manifest.count-mismatch", "warning") in problems_by_code(report)
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_unsupported_schema_version(tmp_path):
    src = write_tribal(tmp_path / "b.json", tribal_bundle(schema_version="2.0"))
    with pytest.raises(memport.UnsupportedVersionError, match=r"'2.0' is not supported; supported: 1.0"):
        memport.read(src)


def test_vectors_nan_and_lone_surrogates(tmp_path):
    entries = [entry(id="a", embedding=[math.nan, 0.1, 0.2]), entry(id="b", content="broken \ud83d half"), entry(id="c", embedding=[])]
    src = write_tribal(tmp_path / "b.json", tribal_bundle(entries))
    assert b"NaN" in src.read_bytes() and b"\\ud83d" in src.read_bytes()
    report = memport.validate(src)
    assert {(p.record, p.code) for p in report.errors} == {(0, "tribal.entry.non-finite"), (1, "tribal.entry.lone-surrogate")}
    assert (2, "tribal.entry.empty-embedding") in {(p.record, p.code) for p in report.warnings}
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_duplicates_and_dangling_references(tmp_path):
    a = entry(id="a")
    entries = [a, entry(id="b", supersedes="a", related_to=["a", "zzz"]), entry(id="a", content="again"), entry(id="d", supersedes="gone")]
    report = memport.validate(write_tribal(tmp_path / "b.json", tribal_bundle(entries)))
    assert [(p.record, p.code) for p in report.errors] == [(2, "tribal.entry.duplicate-id")]
    assert "entries[0]" in report.errors[0].message
    dangling = [(p.record, p.path) for p in report.warnings if p.code == "tribal.entry.dangling-reference"]
    assert dangling == [(1, "$.entries[1].related_to[1]"), (3, "$.entries[3].supersedes")]


def test_http_envelope_is_read_and_flagged(tmp_path):
    envelope = {"success": True, "memory_count": 1, "bundle": tribal_bundle(), "error": None}
    src = write_tribal(tmp_path / "e.json", envelope)
    found = memport.detect(src)
    assert found.format == "tribal" and "envelope" in found.evidence[0]
    assert memport.read(src).counts()["memories"] == 1
    report = memport.validate(src)
    assert [p.code for p in report.errors] == ["tribal.bundle.envelope"]


def test_mcp_inline_export_is_a_bundle_with_extra_keys(tmp_path):
    inline = {"success": True, "memory_count": 1, **tribal_bundle()}
    src = write_tribal(tmp_path / "i.json", inline)
    report = memport.validate(src)
    assert report.valid and [p.code for p in report.warnings] == ["tribal.bundle.unknown-field"]
    assert rewrite_bytes(src, tmp_path) == src.read_bytes()


def test_null_entries_and_missing_manifest(tmp_path):
    report = memport.validate(write_tribal(tmp_path / "n.json", {"manifest": tribal_bundle()["manifest"], "entries": None}))
    assert [p.code for p in report.errors] == ["tribal.bundle.entries-type"]
    with pytest.raises(memport.MalformedInputError, match="entries must be an array"):
        memport.read(tmp_path / "n.json")


def test_pretty_printed_or_raw_utf8_bundle_is_a_warning(tmp_path):
    src = tmp_path / "p.json"
    src.write_text(json.dumps(tribal_bundle([entry(content="café")]), indent=2, ensure_ascii=False), encoding="utf-8")
    report = memport.validate(src)
    assert report.valid and {"file.not-ascii", "tribal.bundle.layout"} <= {p.code for p in report.warnings}


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',
        b'{"a": 1}\n',
        b'\n\n {"a": 1}',
        b'{"a":\n 1}',
        b'{"a": 1}\n ',
        b'{"a": 1} \n',
        b'\xef\xbb\xbf{"a": "caf\xc3\xa9"}',
        b'{"a": 1}  \n  \n',
        b"  \n  ",
    ],
)
def test_the_layout_of_a_streamed_bundle_is_judged_as_of_the_whole_file(tmp_path, data):
    from memport.formats.tribal.validate import _layout

    path = tmp_path / "b.json"
    path.write_bytes(data)
    body = data.removeprefix(b"\xef\xbb\xbf")
    whole = (data.startswith(b"\xef\xbb\xbf"), not body.isascii(), body.endswith(b"\n") or b"\n" in body.strip())
    for chunk in (1, 2, 3, 5, 1 << 22):
        found = _layout(path, chunk)
        assert (found.bom, found.non_ascii, found.newline) == whole, chunk


def test_validation_reads_entries_up_to_where_the_json_breaks(tmp_path):
    """Streamed, a validation reports what it found in the entries before the JSON broke, and the
    break with its entry."""
    text = json.dumps(tribal_bundle([entry(id="a"), entry(id="a", tags=None), entry(id="b"), entry(id="c")]))
    cut = text.index('"id": "c"')
    src = tmp_path / "b.json"
    src.write_text(text[:cut] + '"id" "c"' + text[cut + 9 :])
    report = memport.validate(src)
    assert sorted((p.record, p.code) for p in report.errors) == [
        (1, "tribal.entry.duplicate-id"),
        (1, "tribal.entry.tags-type"),
        (3, "json.malformed"),
    ]
    broken = next(p for p in report.errors if p.code == "json.malformed")
    assert broken.path == "$.entries[3]" and "Expecting ':' delimiter" in broken.message


def test_jsonl_stream(tmp_path):
    src = tmp_path / "stream.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in [entry(id="a"), entry(id="b", supersedes="a")]))
    found = memport.detect(src)
    assert (found.format, found.version) == ("tribal-jsonl", "1.0")
    bundle = memport.read(src)
    assert bundle.counts()["memories"] == 2 and bundle.records.memories[0].embedding.model is None
    out = tmp_path / "out.jsonl"
    memport.write(bundle, out)
    assert out.read_bytes() == src.read_bytes()
    assert memport.validate(src).problems == []
    assert memport.inspect(src)["counts"]["memories"] == 2


def test_jsonl_stream_problems_have_line_numbers(tmp_path):
    src = tmp_path / "stream.jsonl"
    src.write_text(json.dumps(entry(id="a")) + "\n" + "{not json\n" + json.dumps(entry(id="a", tags=None)) + "\n")
    report = memport.validate(src)
    assert [(p.line, p.code) for p in report.errors] == [
        (2, "json.malformed"),
        (3, "tribal.entry.duplicate-id"),
        (3, "tribal.entry.tags-type"),
    ]


def test_exported_at_injection(tmp_path):
    src = write_tribal(tmp_path / "b.json", tribal_bundle())
    out = tmp_path / "o.json"
    memport.write(memport.read(src), out, exported_at=datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert json.loads(out.read_text())["manifest"]["exported_at"] == "2026-02-03T04:05:06+00:00"


def test_frames(tmp_path):
    bundle = memport.read(write_tribal(tmp_path / "b.json", tribal_bundle([entry(id="a"), entry(id="b", embedding=None, confidence=0.5)])))
    frame = bundle.memories
    assert str(frame["source_type"].dtype) == "category"
    assert str(frame["confidence"].dtype) == "Float64"
    assert frame["embedding_model"].tolist()[0] == "example/tiny-embed-3d"
    assert frame["embedding"].isna().tolist() == [False, True]
