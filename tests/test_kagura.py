"""Kagura 1.0: every tricky case of shared/formats/kagura.md, read, validated and written back."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from native import KAGURA_EDGE, KAGURA_NODES, KAGURA_PERSISTENT, KAGURA_WORKING, kagura_line, reference_kagura, write_kagura

import memport


def same_bytes(src: Path, out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in src.iterdir())
    for file in src.iterdir():
        assert (out / file.name).read_bytes() == file.read_bytes(), file.name


def rewrite(src: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    memport.write(memport.read(src), out)
    return out


def codes(report: memport.Report) -> set[str]:
    return {p.code for p in report.problems}


def persistent(**changes):
    record = copy.deepcopy(KAGURA_PERSISTENT)
    record.update(changes)
    return record


def test_reference_bundle_reads_validates_and_rewrites_byte_for_byte(tmp_path):
    src = reference_kagura(tmp_path / "src")
    bundle = memport.read(src)
    assert bundle.counts() == {"memories": 2, "relations": 1, "nodes": 2, "documents": 0, "chunks": 0, "pending": 0, "messages": 0}
    report = memport.validate(src)
    assert report.valid and report.problems == []
    same_bytes(src, rewrite(src, tmp_path))


def test_detect_gives_version_and_evidence(tmp_path):
    found = memport.detect(reference_kagura(tmp_path / "b"))
    assert (found.format, found.version) == ("kagura", "1.0")
    assert any("format_version" in e for e in found.evidence)


def test_non_json_numbers_and_escapes_survive(tmp_path):
    """NaN/Infinity tokens, surrogate pairs, lone surrogates, huge ints, -0.0 and 1.0 vs 1 (§13.7)."""
    value = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "big": 2**70,
        "neg_zero": -0.0,
        "one_float": 1.0,
        "one_int": 1,
        "emoji": "\U0001f44b",
        "lone": "\ud83d",
        "tiny": 1e-300,
    }
    src = write_kagura(tmp_path / "src", [persistent(value=value)])
    text = (src / "memories.jsonl").read_text()
    assert "NaN" in text and "\\ud83d\\udc4b" in text and '"lone": "\\ud83d"' in text and str(2**70) in text
    bundle = memport.read(src)
    got = bundle.records.memories[0].content
    assert math.isnan(got["nan"]) and got["big"] == 2**70 and isinstance(got["one_float"], float)
    assert math.copysign(1, got["neg_zero"]) == -1 and got["lone"] == "\ud83d"
    same_bytes(src, rewrite(src, tmp_path))
    report = memport.validate(src)
    assert report.valid, report.problems


def test_four_timestamp_dialects_and_local_zone(tmp_path):
    updated = persistent(updated_at="2025-06-01 12:00:01.250000")
    src = write_kagura(
        tmp_path / "src",
        [updated],
        [
            KAGURA_NODES[0],
            {**KAGURA_NODES[1]},
            {**KAGURA_EDGE, "data": {**KAGURA_EDGE["data"], "valid_until": "2030-03-31T12:00:00+00:00"}},
        ],
    )
    tokyo = memport.read(src, local_tz="Asia/Tokyo")
    m = tokyo.records.memories[0]
    assert m.created_at.dialect == "sqlite-utc"
    assert m.created_at.utc == datetime(2025, 5, 30, 8, 15, 2, tzinfo=UTC)
    assert m.updated_at.dialect == "sqlite-local"  # local time with microseconds after an update
    assert m.updated_at.utc == datetime(2025, 6, 1, 3, 0, 1, 250000, tzinfo=UTC)
    assert m.exported_at.dialect == "kagura-local-iso"
    assert m.exported_at.utc == datetime(2025, 6, 1, 3, 0, 0, 123789, tzinfo=UTC)
    assert m.updated_at.raw == "2025-06-01 12:00:01.250000"
    utc = memport.read(src).records.memories[0]
    assert utc.exported_at.utc == datetime(2025, 6, 1, 12, 0, 0, 123789, tzinfo=UTC)
    frame = tokyo.memories
    assert str(frame["updated_at"].dtype) == "datetime64[us, UTC]"
    assert memport.validate(src).valid


def test_iso_z_timestamp_is_a_warning_not_an_error(tmp_path):
    src = write_kagura(tmp_path / "src", [persistent(created_at="2025-10-27T10:30:00Z")])
    report = memport.validate(src)
    assert report.valid
    assert [p.code for p in report.warnings] == ["kagura.timestamp.created-at"]
    assert report.warnings[0].line == 1 and report.warnings[0].path == "$.created_at"


def test_int_keys_tuple_keys_and_meta_companions_round_trip(tmp_path):
    records = [
        {**KAGURA_WORKING, "key": 5},
        {**KAGURA_WORKING, "key": "5"},
        {**KAGURA_WORKING, "key": "_meta_draft_topic", "value": {"metadata": {}, "tags": ["a"], "importance": 0.5}},
        persistent(key=7),
    ]
    src = write_kagura(tmp_path / "src", records)
    bundle = memport.read(src)
    assert [m.key for m in bundle.records.memories] == [5, "5", "_meta_draft_topic", 7]
    report = memport.validate(src)
    assert report.valid  # 5 and "5" are different working keys
    assert codes(report) == {"kagura.memory.persistent-key-type"}
    same_bytes(src, rewrite(src, tmp_path))


def test_array_key_is_an_error(tmp_path):
    src = write_kagura(tmp_path / "src", [{**KAGURA_WORKING, "key": [1, 2]}, persistent(key=None)])
    report = memport.validate(src)
    assert [(p.line, p.code) for p in report.errors] == [(1, "kagura.memory.key-type"), (2, "kagura.memory.key-type")]


@pytest.mark.parametrize(
    "files",
    [
        ("memories.jsonl", "metadata.json"),
        ("graph.jsonl", "metadata.json"),
        ("memories.jsonl",),
    ],
)
def test_genuine_file_combinations(tmp_path, files):
    full = reference_kagura(tmp_path / "full")
    src = tmp_path / "src"
    src.mkdir()
    for name in files:
        (src / name).write_bytes((full / name).read_bytes())
    bundle = memport.read(src)
    assert bundle.meta.files == list(files)
    same_bytes(src, rewrite(src, tmp_path))
    report = memport.validate(src)
    assert report.valid
    if "metadata.json" not in files:
        assert "kagura.bundle.no-metadata" in codes(report)


def test_zero_byte_data_files(tmp_path):
    src = write_kagura(tmp_path / "src", [], [], metadata="auto")
    assert (src / "memories.jsonl").stat().st_size == 0
    assert memport.read(src).counts()["memories"] == 0
    assert memport.validate(src).problems == []
    same_bytes(src, rewrite(src, tmp_path))


def test_crash_truncated_bundle_without_metadata(tmp_path):
    src = write_kagura(
        tmp_path / "src",
        [KAGURA_WORKING],
        metadata=None,
        raw={"graph.jsonl": kagura_line(KAGURA_NODES[0]).encode() + b'{"type": "node", "id": "topic_py'},
    )
    report = memport.validate(src)
    malformed = [p for p in report.errors if p.code == "json.malformed"]
    assert malformed and malformed[0].line == 2 and "truncated" in malformed[0].message
    assert {"kagura.bundle.no-metadata", "file.no-final-newline"} <= codes(report)
    with pytest.raises(memport.MalformedInputError) as err:
        memport.read(src)
    assert "graph.jsonl" in str(err.value) and "line 2" in str(err.value)


def test_stale_graph_is_flagged_by_stats(tmp_path):
    meta = {
        "exported_at": "2025-06-01T12:00:00.125000",
        "user_id": "user_alice",
        "agent_name": "global",
        "stats": {"memories": 1, "graph_nodes": 0, "graph_edges": 0},
        "format_version": "1.0",
    }
    src = write_kagura(tmp_path / "src", [KAGURA_WORKING], KAGURA_NODES, metadata=meta)
    report = memport.validate(src)
    stale = [p for p in report.warnings if p.code == "kagura.metadata.stats-mismatch"]
    assert len(stale) == 1 and "stale graph.jsonl" in stale[0].message


def test_graph_rules(tmp_path):
    graph = [
        {**KAGURA_EDGE, "src": "user_alice", "dst": "topic_python"},  # before its nodes
        *KAGURA_NODES,
        {**KAGURA_NODES[0], "id": 42},
        {**KAGURA_EDGE, "src": "42", "dst": "topic_python"},  # "42" is not 42
        {**KAGURA_EDGE, "src": "user_alice", "dst": "topic_python", "rel_type": "related_to"},  # same pair again
        {**KAGURA_EDGE, "src": "topic_python", "dst": "user_alice", "rel_type": "works_at"},  # docstring's invalid type
        {**KAGURA_NODES[0], "node_type": "person"},
        {"type": "hyperedge", "id": "x"},
    ]
    src = write_kagura(tmp_path / "src", [], graph)
    report = memport.validate(src)
    found = {(p.line, p.code) for p in report.errors}
    assert (1, "kagura.edge.before-node") in found
    assert (5, "kagura.edge.dangling") in found
    assert any("ids are type-sensitive" in p.message for p in report.errors if p.line == 5)
    assert (6, "kagura.edge.duplicate") in found
    assert (7, "kagura.edge.rel-type") in found
    assert (8, "kagura.node.node-type") in found
    assert (9, "kagura.graph.record-type") in found
    assert (8, "kagura.node.duplicate") in {(p.line, p.code) for p in report.warnings}
    # unknown record types are kept verbatim, so nothing is lost on a rewrite
    bundle = memport.read(src)
    assert (bundle.records.nodes[-1].id, bundle.records.nodes[-1].extra) == ("x", {"type": "hyperedge"})
    out = rewrite(src, tmp_path)
    assert sorted((out / "graph.jsonl").read_text().splitlines()) == sorted((src / "graph.jsonl").read_text().splitlines())


def test_duplicate_memories_are_errors_with_both_lines(tmp_path):
    src = write_kagura(
        tmp_path / "src", [KAGURA_WORKING, persistent(), KAGURA_WORKING, persistent(agent_name="thread_1"), persistent(value="changed")]
    )
    report = memport.validate(src)
    dups = [(p.line, p.message) for p in report.errors if p.code == "kagura.memory.duplicate"]
    assert [line for line, _ in dups] == [3, 5]
    assert "line 1" in dups[0][1] and "line 2" in dups[1][1]


def test_unknown_fields_and_working_metadata_would_be_lost(tmp_path):
    src = write_kagura(tmp_path / "src", [persistent(tags=["config"], importance=0.9), {**KAGURA_WORKING, "metadata": {"a": 1}}])
    report = memport.validate(src)
    assert {(p.line, p.code) for p in report.errors} == {(1, "kagura.memory.unknown-field"), (2, "kagura.memory.working-metadata")}
    unknown = report.errors[0]
    assert "'importance', 'tags'" in unknown.message
    bundle = memport.read(src)
    assert bundle.records.memories[0].extra == {"tags": ["config"], "importance": 0.9}
    same_bytes(src, rewrite(src, tmp_path))


def test_wrong_type_and_scope_are_errors(tmp_path):
    src = write_kagura(
        tmp_path / "src",
        [{**KAGURA_WORKING, "type": "note"}, {**KAGURA_WORKING, "scope": "episodic"}, {"type": "memory", "scope": "working"}],
    )
    report = memport.validate(src)
    assert [(p.line, p.code) for p in report.errors] == [
        (1, "kagura.memory.record-type"),
        (2, "kagura.memory.scope"),
        (3, "kagura.memory.required"),
        (3, "kagura.memory.required"),
    ]
    assert "missing required field 'key'" in report.errors[2].message


def test_falsy_metadata_and_mcp_string_metadata(tmp_path):
    mcp = persistent(key="mcp", metadata={"metadata": "{}", "tags": '["profile", "language"]', "importance": 0.7})
    src = write_kagura(
        tmp_path / "src", [persistent(metadata={}), mcp, persistent(key="k", metadata=["a"]), persistent(key="n", metadata=None)]
    )
    report = memport.validate(src)
    assert [(p.line, p.code) for p in report.warnings] == [(1, "kagura.memory.falsy-metadata")]
    assert report.valid
    same_bytes(src, rewrite(src, tmp_path))


def test_crlf_and_blank_lines_are_accepted_with_warnings(tmp_path):
    raw = (kagura_line(KAGURA_WORKING).replace("\n", "\r\n") + "\n" + kagura_line(KAGURA_PERSISTENT)).encode()
    src = write_kagura(tmp_path / "src", metadata=None, raw={"memories.jsonl": raw})
    assert memport.read(src).counts()["memories"] == 2
    report = memport.validate(src)
    assert report.valid and {"file.crlf", "file.blank-lines"} <= codes(report)


def test_raw_utf8_and_compact_json_are_warnings(tmp_path):
    raw = '{"type":"memory","scope":"working","key":"k","value":"café","user_id":"u","agent_name":"global","exported_at":"2025-06-01T12:00:00"}\n'
    src = write_kagura(tmp_path / "src", metadata=None, raw={"memories.jsonl": raw.encode()})
    report = memport.validate(src)
    assert report.valid and "file.not-ascii" in codes(report)
    assert memport.read(src).records.memories[0].content == "café"


def test_metadata_json_rules(tmp_path):
    meta = {
        "exported_at": "2025-06-01T12:00:00.125000",
        "user_id": "User_Alice",
        "agent_name": "global",
        "stats": {"memories": 5, "graph_nodes": 0, "graph_edges": 0},
        "format_version": "1.0",
    }
    src = write_kagura(tmp_path / "src", [KAGURA_WORKING], metadata=meta)
    (src / "metadata.json").write_text((src / "metadata.json").read_text() + "\n")
    report = memport.validate(src)
    assert report.valid
    assert {"kagura.metadata.user-id", "kagura.metadata.stats-mismatch", "file.final-newline"} <= codes(report)


def test_unknown_format_version_names_supported_versions(tmp_path):
    meta = {
        "exported_at": "2025-06-01T12:00:00",
        "user_id": "u",
        "agent_name": None,
        "stats": {"memories": 0, "graph_nodes": 0, "graph_edges": 0},
        "format_version": "2.0",
    }
    src = write_kagura(tmp_path / "src", [], metadata=meta)
    with pytest.raises(memport.UnsupportedVersionError) as err:
        memport.validate(src)
    assert "'2.0'" in str(err.value) and "supported: 1.0" in str(err.value)


def test_write_refuses_to_overwrite_then_keeps_a_backup(tmp_path):
    src = reference_kagura(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    bundle = memport.read(src)
    with pytest.raises(memport.OutputExistsError):
        memport.write(bundle, out)
    assert (out / "precious.txt").read_text() == "keep me"
    backup = memport.write(bundle, out, overwrite=True)
    assert (backup / "precious.txt").read_text() == "keep me"
    same_bytes(src, out)


def test_failed_write_leaves_nothing_behind(tmp_path):
    src = reference_kagura(tmp_path / "src")
    bundle = memport.read(src)
    bundle.records.memories[1].content = {1, 2}  # not JSON: json.dumps fails half-way through
    with pytest.raises(TypeError):
        memport.write(bundle, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_exported_at_is_injectable_and_written_in_kagura_dialect(tmp_path):
    src = reference_kagura(tmp_path / "src")
    out = tmp_path / "out"
    memport.write(memport.read(src, local_tz="Asia/Tokyo"), out, exported_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert '"exported_at": "2026-01-02T12:04:05"' in (out / "metadata.json").read_text()


def test_frames_have_real_dtypes(tmp_path):
    bundle = memport.read(reference_kagura(tmp_path / "src"))
    memories = bundle.memories
    assert str(memories["scope"].dtype) == "category"
    assert str(memories["created_at"].dtype) == "datetime64[us, UTC]"
    assert memories["created_at"].isna().tolist() == [True, False]
    assert list(bundle.relations["type"]) == ["works_on"]
    assert str(bundle.nodes["type"].dtype) == "category"
    html = bundle._repr_html_()
    assert "kagura" in html and "<table>" in html
    assert bundle.summary()["counts"]["nodes"] == 2


@pytest.mark.parametrize("threads", [1, 2], ids=["fork", "spawn"])
def test_parallel_validation_gives_the_same_report_as_one_process(tmp_path, monkeypatch, threads):
    from memport import parallel

    # a process with other threads (a Jupyter kernel, tqdm's monitor) spawns instead of forking
    monkeypatch.setattr(parallel.threading, "active_count", lambda: threads)
    records = []
    for i in range(400):
        records.append(persistent(key=f"k{i % 350}", value=i))  # keys repeat across the two halves
    records[10] = dict(records[10], scope="episodic")
    records[390] = dict(records[390], tags=["x"])
    raw = "".join(kagura_line(r) for r in records).replace(kagura_line(records[300]), kagura_line(records[300]).replace("\n", "\r\n"))
    src = write_kagura(tmp_path / "src", metadata=None, raw={"memories.jsonl": raw.encode() + b"{broken"})
    single = memport.validate(src).problems
    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 1)
    parallel = memport.validate(src).problems
    assert parallel == single
    lines = {(p.line, p.code) for p in single}
    assert {(11, "kagura.memory.scope"), (391, "kagura.memory.unknown-field"), (401, "json.malformed")} <= lines
    # keys k0..k49 repeat, except k10, whose first record has an unknown scope and so no identity
    assert sum(1 for p in single if p.code == "kagura.memory.duplicate") == 49
    assert {"file.crlf", "file.no-final-newline"} <= {p.code for p in single}


def test_report_frame_and_html(tmp_path):
    src = write_kagura(tmp_path / "src", [dict(KAGURA_WORKING, scope="episodic"), dict(KAGURA_WORKING, key="b", exported_at="x")])
    report = memport.validate(src)
    frame = report.to_frame()
    assert list(frame.columns) == ["severity", "code", "file", "line", "record", "path", "message"]
    assert str(frame["severity"].dtype) == "category" and str(frame["line"].dtype) == "Int64"
    assert frame["severity"].tolist() == ["error", "warning"]
    assert report.summary() == {"kagura.memory.scope": 1, "kagura.timestamp.exported-at": 1}
    html = report._repr_html_()
    assert "invalid" in html and "kagura.memory.scope" in html


@pytest.mark.parametrize("number", [2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30])
def test_integers_at_the_64_bit_edges_stay_exact(tmp_path, number):
    src = write_kagura(tmp_path / "src", [persistent(value=number)])
    assert memport.read(src).records.memories[0].content == number
    same_bytes(src, rewrite(src, tmp_path))


def test_working_keys_1_and_1_0_are_one_key(tmp_path):
    src = write_kagura(tmp_path / "src", [dict(KAGURA_WORKING, key=1), dict(KAGURA_WORKING, key=1.0), dict(KAGURA_WORKING, key="1")])
    assert [p.line for p in memport.validate(src).errors if p.code == "kagura.memory.duplicate"] == [2]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""], ids=["lf", "crlf", "no-final-newline"])
def test_line_batches_cover_each_byte_range_exactly_once(tmp_path, ending):
    from memport.formats._jsonl import FileFacts, line_batches, line_ranges

    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 37)) for i in range(500)]
    file = tmp_path / "memories.jsonl"
    file.write_bytes(b"".join(line + b"\n" for line in lines[:-1]) + lines[-1] + ending)
    expected = file.read_bytes().splitlines(keepends=True)
    for parts in (1, 2, 3, 7):
        flat = []
        for byte_range in line_ranges(file, parts):
            facts, in_range = FileFacts(), 0
            for first, offset, batch in line_batches(file, *byte_range, facts, size=256):
                assert first == in_range + 1  # line numbers count from the range's first line
                assert offset == len(b"".join(flat))  # and offsets from the file's start
                in_range += len(batch)
                flat += batch
            assert facts.lines == in_range
        assert flat == expected


def test_identities_are_the_exact_writers_bytes_whichever_writer_makes_them():
    from memport.formats.kagura.identity import _exact_json as _exact_identity
    from memport.formats.kagura.identity import _json as _identity

    # stored uids were made by either writer: a null part (common: agent_name) must not change them
    for parts in (
        ["persistent", "user_a", None, "k"],
        ["working", None, None, 5],
        [None, True, 2**64 - 1, -(2**63)],
        ["persistent", 'caf\u00e9 \u2028\x7f\x00"\\', None, "\U0001f600"],
        ["working", None, None, float("nan")],
        ["working", None, None, 1.5],
        ["working", None, None, 2**70],
    ):
        assert _identity(parts) == _exact_identity(parts)


def test_outputs_get_the_permissions_of_an_ordinary_write(tmp_path):
    """Atomic writes stage in private temporary files (0600, 0700); what lands must read like a
    file written in place: the umask's defaults, or the mode of what it replaces."""
    import os
    import stat

    umask = os.umask(0o022)
    os.umask(umask)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    bundle = memport.read(reference_kagura(tmp_path / "src"))
    memport.write(bundle, tmp_path / "k")
    assert mode(tmp_path / "k") == 0o777 & ~umask and mode(tmp_path / "k" / "memories.jsonl") == 0o666 & ~umask
    tribal = tmp_path / "t.json"
    memport.write(memport.convert(bundle, "tribal"), tribal)
    assert mode(tribal) == 0o666 & ~umask
    tribal.chmod(0o640)
    memport.write(memport.convert(bundle, "tribal"), tribal, overwrite=True)
    assert mode(tribal) == 0o640
    memport.save_decisions([], tmp_path / "decisions.jsonl")  # a plain atomic file write
    assert mode(tmp_path / "decisions.jsonl") == 0o666 & ~umask
