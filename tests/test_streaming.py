"""Single-document bundles (Tribal, Doclea) read as a stream: every element exactly as the
standard library reads the whole document, whatever the chunk edges cut, and bad input located."""

from __future__ import annotations

import json
import random

import pytest
from native import TRIBAL_ENTRY, tribal_bundle, write_tribal

import memport
from memport.formats._document import walk
from memport.jsonio import dumps_js, needs_reference

ENTRIES = lambda member: "array" if member == ("entries",) else None  # noqa: E731


def odd_entries(count=300):
    """Entries holding what chunk edges and exactness can get wrong: multi-byte characters,
    NaN and Infinity, integers beyond 64 bits, lone surrogates, long fractions (not integers)."""
    rng = random.Random(5)
    out = []
    for i in range(count):
        entry = dict(
            TRIBAL_ENTRY,
            id=f"e{i}",
            content="café \U0001f600 " * rng.randint(0, 40),
            embedding=[rng.gauss(0, 0.05) for _ in range(6)] + [0.00012345678901234567],
        )
        if i % 7 == 0:
            entry["confidence"] = float("nan") if i % 14 else float("-inf")
        if i % 11 == 0:
            entry["context"] = rng.choice([2**64, -(2**63) - 1, 12345678901234567890123])
        if i % 13 == 0:
            entry["tags"] = ["lone \ud800 high", "lone \udc00 low"]
        out.append(entry)
    return out


@pytest.mark.parametrize("dump", [json.dumps, dumps_js], ids=["python-ascii", "javascript-utf8"])
def test_elements_and_members_are_what_the_whole_document_holds(tmp_path, dump):
    doc = {"manifest": {"schema_version": "1.0"}, "entries": odd_entries(), "after": {"x": [1, 2]}}
    path = tmp_path / "b.json"
    path.write_text(dump(doc), encoding="utf-8")
    whole = json.loads(path.read_text(encoding="utf-8"))
    for chunk in (1, 5, 64, 4096, 1 << 22):
        items, members = [], {}
        for event in walk(path, ENTRIES, chunk=chunk):
            if event.kind == "item":
                items.append(event)
            elif event.kind == "value":
                members[event.path] = event.value
        assert [json.dumps(e.value) for e in items] == [json.dumps(e) for e in whole["entries"]], chunk
        assert [e.index for e in items] == list(range(len(whole["entries"])))
        assert [e.exact for e in items] == [needs_reference(e) for e in whole["entries"]], chunk
        assert members == {("manifest",): whole["manifest"], ("after",): whole["after"]}
    assert sum(needs_reference(e) for e in whole["entries"]) > 40  # the test means something


@pytest.mark.parametrize("special", [float("nan"), float("-inf"), 2**64, -(2**63) - 1, "lone \udc00"])
def test_exactness_and_numbers_survive_every_chunk_edge(tmp_path, special):
    """Chunk edges fall at every place of a value orjson cannot write, and of bare numbers."""
    doc = {
        "manifest": {},
        "entries": [dict(TRIBAL_ENTRY, id="a"), dict(TRIBAL_ENTRY, id="b", context=special)],
        "sizes": 123456789,
        "numbers": [1234567, 0.000123456789012345678, 10**25],
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    spread = lambda member: "array" if member in (("entries",), ("numbers",)) else None  # noqa: E731
    for chunk in range(1, 120):
        events = [e for e in walk(path, spread, chunk=chunk) if e.kind in ("item", "value")]
        assert [(e.path, e.index, json.dumps(e.value), e.exact) for e in events] == [
            (("manifest",), None, "{}", False),
            (("entries",), 0, json.dumps(doc["entries"][0]), False),
            (("entries",), 1, json.dumps(doc["entries"][1]), True),
            (("sizes",), None, "123456789", False),
            (("numbers",), 0, "1234567", False),
            (("numbers",), 1, json.dumps(0.000123456789012345678), False),
            (("numbers",), 2, str(10**25), True),
        ], chunk


def test_a_cut_anywhere_is_a_located_error(tmp_path):
    data = json.dumps(tribal_bundle(odd_entries(20))).encode()
    cut_file = tmp_path / "cut.json"
    for cut in range(1, len(data), 97):
        cut_file.write_bytes(data[:cut])
        with pytest.raises(memport.MalformedInputError) as err:
            for _ in walk(cut_file, ENTRIES, chunk=64):
                pass
        assert "cut.json" in str(err.value)
        if data.index(b'"entries": [') + 13 < cut:
            assert "truncated" in err.value.message and err.value.location.record is not None, (cut, str(err.value))


def test_bad_input_is_located_as_the_whole_document_parser_locates_it(tmp_path):
    entries = ",\n".join(json.dumps(dict(TRIBAL_ENTRY, id=f"e{i}")) for i in range(50))
    bad = entries.replace('"id": "e31", ', '"id": "e31" ', 1)  # a comma missing inside entry 31
    path = tmp_path / "b.json"
    path.write_text('{"manifest": {},\n"entries": [\n' + bad + "\n]}")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(path.read_text())
    with pytest.raises(memport.MalformedInputError) as err:
        list(walk(path, ENTRIES, chunk=1000))
    assert err.value.location.line == expected.value.lineno
    assert err.value.location.record == 31 and err.value.location.path == "$.entries[31]"
    assert f"(column {expected.value.colno})" in err.value.message
    assert "truncated" not in err.value.message


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"manifest": {}, "entries": [], "entries": [{}]}', r"\$\.entries appears twice"),
        ('{"manifest": {}, "entries": []} []', "Extra data"),
        ("", "file is empty"),
        ('\ufeff{"entries": []}', "byte order mark"),
        ('{"entries": [' + "[" * 5000 + "]" * 5000 + "]}", "nested too deeply"),
    ],
)
def test_what_a_json_reader_would_refuse_or_resolve_silently_is_refused(tmp_path, text, message):
    path = tmp_path / "b.json"
    path.write_text(text, encoding="utf-8")
    for chunk in (1, 16):
        with pytest.raises(memport.MalformedInputError, match=message):
            list(walk(path, ENTRIES, chunk=chunk))


def test_invalid_utf8_names_its_byte(tmp_path):
    path = tmp_path / "b.json"
    data = json.dumps(tribal_bundle()).encode()
    at = data.index(b"Alice")
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    with pytest.raises(memport.MalformedInputError, match=f"not valid UTF-8 at byte {at}"):
        list(walk(path, ENTRIES, chunk=7))


def test_members_after_the_entries_complete_the_header_detection_read(tmp_path):
    bundle = tribal_bundle()
    bundle["note"] = "written after the entries"
    src = write_tribal(tmp_path / "t.json", bundle)
    found = memport.detect(src)
    assert "note" not in found.details["header"]  # detection stopped at the entries
    assert [r.value["id"] for r in memport.formats.plugin("tribal").records(src, found)] == [TRIBAL_ENTRY["id"]]
    # the header keeps the entries' place (None), so that the key order comes back
    assert list(found.details["header"].items()) == [
        ("manifest", bundle["manifest"]),
        ("entries", None),
        ("note", "written after the entries"),
    ]


def test_detection_looks_through_a_byte_order_mark(tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(tribal_bundle()).encode())
    for chunk in (1, 2, 4096):
        items = [e.value["id"] for e in walk(path, ENTRIES, allow_bom=True, chunk=chunk) if e.kind == "item"]
        assert items == [TRIBAL_ENTRY["id"]]
    assert memport.detect(path).format == "tribal"
    assert [p.code for p in memport.validate(path).errors] == ["file.bom"]


def test_only_integer_digit_runs_send_input_to_the_standard_library():
    """orjson misreads integers beyond 64 bits (as floats) but reads long fractions exactly: only
    19-digit runs that are not a fraction's may be such integers."""
    from memport.jsonio import loads, may_hold_huge_integer

    for text in (b"18446744073709551616", b'{"n": -9223372036854775809}', b"[1,12345678901234567890123]"):
        assert may_hold_huge_integer(text)
        assert loads(text).exact and "e" not in json.dumps(loads(text).value)  # read as the integer it is
    for text in (b'{"x": 0.0012345678901234567}', b'{"x": 123456789012345678}', b'{"x": 1.5e-123456789012345678}'):
        assert not may_hold_huge_integer(text)


def test_a_record_that_is_not_an_object_is_named_with_its_path_and_not_imported(tmp_path):
    from native import doclea_bundle, write_doclea

    tribal = write_tribal(tmp_path / "t.json", tribal_bundle([dict(TRIBAL_ENTRY), 7]))
    envelope = tmp_path / "e.json"
    envelope.write_text(json.dumps({"success": True, "memory_count": 1, "bundle": tribal_bundle(["x"]), "error": None}))
    doclea = write_doclea(tmp_path / "d.json", doclea_bundle(chunks=[None]))
    with memport.Store(tmp_path / "s.db") as store:
        for src, record, code in (
            (tribal, 1, "tribal.entry.type"),
            (envelope, 0, "tribal.entry.type"),
            (doclea, 0, "doclea.chunk.required"),
        ):
            summary = memport.import_bundle(src, store)
            assert summary["invalid"] == 1 and summary["inserted"] == summary["total"] - 1
            assert [(n["record"], n["code"]) for n in summary["not_imported"]] == [(record, code)]


def test_doclea_detection_stops_at_the_first_record_array_when_the_version_came_first(tmp_path):
    from native import doclea_bundle, write_doclea

    bundle = doclea_bundle()
    early = memport.detect(write_doclea(tmp_path / "d.json", bundle))
    assert "data arrays: memories, ..." in early.evidence and "metadata" not in early.details["header"]
    version_last = {**{k: v for k, v in bundle.items() if k != "version"}, "version": bundle["version"]}
    whole = memport.detect(write_doclea(tmp_path / "v.json", version_last))  # read to the end
    assert any(e.startswith("data arrays: memories, documents, chunks,") and not e.endswith("...") for e in whole.evidence)
    assert whole.details["header"]["metadata"] == bundle["metadata"]
