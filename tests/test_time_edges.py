"""Time at the edges: integer arithmetic for Unix times (the last microsecond of 9999 stays in
9999), years below 1000 written as the native writers write them, and one note, with its count and
the flag to use, when Kagura's naive local times are read without a zone."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from native import (
    KAGURA_EDGE,
    KAGURA_NODES,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    TRIBAL_ENTRY,
    doclea_bundle,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport.cli import cli
from memport.formats.letta.codec import parse_time
from memport.timestamps import parse_epoch, store_text


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


LAST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
FIRST = datetime(1, 1, 1, tzinfo=UTC)


def tribal_with_times(path, created, updated, **extra):
    entry = dict(copy.deepcopy(TRIBAL_ENTRY), created_at=created, updated_at=updated, **extra)
    return write_tribal(path, tribal_bundle([entry]))


# Unix times: integers, floored ------------------------------------------------------------------


def test_the_last_microsecond_of_9999_stays_in_9999(tmp_path):
    src = tribal_with_times(tmp_path / "t.json", LAST.isoformat(), LAST.isoformat())
    out = tmp_path / "d.json"
    memport.write(memport.convert(memport.read(src), "doclea"), out)
    memory = json.loads(out.read_text())["data"]["memories"][0]
    assert memory["createdAt"] == memory["accessedAt"] == 253402300799  # float arithmetic made it 253402300800: year 10000
    back = memport.read(out).records.memories[0]
    assert back.created_at.utc == LAST.replace(microsecond=0)
    assert memport.validate(out).valid


def test_a_relation_of_the_last_millisecond_keeps_it(tmp_path):
    supersedes = dict(copy.deepcopy(TRIBAL_ENTRY), id="0b7c6a52-1111-4a2b-9c3d-000000000002", supersedes=TRIBAL_ENTRY["id"])
    supersedes.update(created_at=LAST.isoformat(), updated_at=LAST.isoformat())
    src = write_tribal(tmp_path / "t.json", tribal_bundle([copy.deepcopy(TRIBAL_ENTRY), supersedes]))
    out = tmp_path / "d.json"
    memport.write(memport.convert(memport.read(src), "doclea"), out)
    relation = json.loads(out.read_text())["data"]["memoryRelations"][0]
    assert relation["created_at"] == 253402300799999
    assert memport.read(out).records.relations[0].created_at.utc == LAST.replace(microsecond=999000)


def test_epoch_values_are_read_with_integer_arithmetic():
    assert parse_epoch(253402300799999, milliseconds=True) == (LAST.replace(microsecond=999000), "epoch-ms")
    assert parse_epoch(253402300799, milliseconds=False) == (LAST.replace(microsecond=0), "epoch-s")
    assert parse_epoch(-62135596800, milliseconds=False) == (FIRST, "epoch-s")
    assert parse_epoch(253402300800, milliseconds=False) == (None, "unparsed")  # year 10000: no datetime holds it
    assert parse_epoch(1.5, milliseconds=False)[0] == datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)
    # Letta reads a number as seconds, or milliseconds beyond 2e10 (pydantic's rule), numeric text alike
    assert parse_time(253402300799999)[0] == LAST.replace(microsecond=999000)
    assert parse_time("253402300799999")[0] == LAST.replace(microsecond=999000)


def test_times_before_1970_are_floored_as_javascript_floors_them(tmp_path):
    half = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    src = tribal_with_times(tmp_path / "t.json", half.isoformat(), half.isoformat())
    out = tmp_path / "d.json"
    memport.write(memport.convert(memport.read(src), "doclea"), out)
    assert json.loads(out.read_text())["data"]["memories"][0]["createdAt"] == -1  # Math.floor(-0.5); int() gave 0


def test_export_times_are_whole_seconds_floored(tmp_path):
    src = write_doclea(tmp_path / "d.json", doclea_bundle())
    out = tmp_path / "o.json"
    memport.write(memport.read(src), out, exported_at=LAST)
    assert json.loads(out.read_text())["exportedAt"] == 253402300799


# years below 1000 -----------------------------------------------------------------------------


def test_year_one_is_written_as_sqlite_and_isoformat_write_it(tmp_path):
    src = tribal_with_times(tmp_path / "t.json", FIRST.isoformat(), FIRST.isoformat())
    kagura = tmp_path / "k"
    memport.write(memport.convert(memport.read(src), "kagura"), kagura)
    record = json.loads((kagura / "memories.jsonl").read_text())
    assert (record["created_at"], record["updated_at"]) == ("0001-01-01 00:00:00", "0001-01-01 00:00:00")
    assert memport.validate(kagura).valid
    assert memport.read(kagura).records.memories[0].created_at.utc == FIRST
    doclea = tmp_path / "d.json"
    memport.write(memport.convert(memport.read(src), "doclea"), doclea)
    assert json.loads(doclea.read_text())["data"]["memories"][0]["createdAt"] == -62135596800
    tribal = tmp_path / "back.json"
    memport.write(memport.convert(memport.read(doclea), "tribal"), tribal)
    assert json.loads(tribal.read_text())["entries"][0]["created_at"] == "0001-01-01T00:00:00+00:00"


def test_the_store_time_text_is_fixed_width_so_that_it_sorts():
    texts = [store_text(FIRST), store_text(datetime(999, 5, 1, tzinfo=UTC)), store_text(datetime(2025, 1, 1, tzinfo=UTC)), store_text(LAST)]
    assert texts[0] == "0001-01-01T00:00:00.000000Z"
    assert {len(t) for t in texts} == {27}
    assert texts == sorted(texts)


@pytest.mark.parametrize("zone, edge", [("America/New_York", FIRST.replace(microsecond=1)), ("Asia/Tokyo", LAST)])
def test_a_time_that_leaves_the_calendar_in_the_local_zone_is_a_clear_error(tmp_path, zone, edge):
    """Kagura writes an updated row's time in local time: the first microseconds of year 1 are
    year 0 in New York, the last of 9999 are year 10000 in Tokyo; neither can be written."""
    src = tribal_with_times(tmp_path / "t.json", edge.isoformat(), edge.isoformat())
    with pytest.raises(memport.ConversionError) as err:
        memport.convert(memport.read(src, local_tz=zone), "kagura")
    assert str(err.value) == (
        f"{TRIBAL_ENTRY['id']}: updated_at {edge.isoformat()} cannot be written in {zone}, where it falls outside the years 1 to 9999"
    )


# naive local times: said once, with the count and the flag ---------------------------------------

UPDATED_IN_TOKYO = dict(KAGURA_PERSISTENT, updated_at="2025-06-01 12:00:01.250000")  # kagura.md §2.3's illustration


def updated_tokyo(path):
    """One persistent memory updated on a machine in Tokyo, a working one, two nodes and an edge:
    seven naive local times (every record's exported_at, the updated row's updated_at, and
    metadata.json's exported_at); the persistent created_at is SQLite's UTC."""
    return write_kagura(path, [UPDATED_IN_TOKYO, KAGURA_WORKING], [*KAGURA_NODES, KAGURA_EDGE])


def the_note(notes, count):
    assert len(notes) == 1, notes
    note = notes[0]
    assert (note["code"], note["count"]) == ("time.naive-local", count)
    assert f"{count} naive local time" in note["message"] and "--local-tz ZONE" in note["message"]
    return note


def test_the_library_notes_naive_local_times_read_without_a_zone(tmp_path):
    src = updated_tokyo(tmp_path / "k")
    report = memport.validate(src)
    the_note(report.notes, 7)
    assert report.valid and not report.problems  # a note, not a problem: the exporter writes exactly this
    assert report.to_dict()["notes"] == report.notes
    the_note(memport.inspect(src)["notes"], 7)
    the_note(memport.convert(memport.read(src), "doclea").conversion.notes, 7)
    the_note(memport.convert(memport.read(src), "tribal").conversion.to_dict()["notes"], 7)
    for given in ("Asia/Tokyo", "UTC"):  # a zone given, even UTC, is not assumed
        assert memport.convert(memport.read(src, local_tz=given), "doclea").conversion.notes == []
    # an import: the records it writes (metadata.json is no record), the dry run as the real run
    with memport.Store(tmp_path / "s.db") as store:
        dry = memport.plan(src, store).summary()
        the_note(dry["notes"], 6)
        real = memport.import_bundle(src, store)
        assert real["notes"] == dry["notes"]
        assert memport.import_bundle(src, store)["notes"] == []  # nothing written
    with memport.Store(tmp_path / "t.db") as store:
        assert memport.import_bundle(src, store, local_tz="Asia/Tokyo")["notes"] == []


def test_the_zone_changes_the_stored_time_and_the_note_says_so(tmp_path):
    src = write_kagura(tmp_path / "k", [UPDATED_IN_TOKYO], metadata=None)
    with memport.Store(tmp_path / "utc.db") as store:
        result = memport.import_bundle(src, store)
        the_note(result["notes"], 2)
        assert store.updated_at("memories", store_uid(store)) == "2025-06-01T12:00:01.250000Z"  # 9 h late, said
    with memport.Store(tmp_path / "tokyo.db") as store:
        memport.import_bundle(src, store, local_tz="Asia/Tokyo")
        assert store.updated_at("memories", store_uid(store)) == "2025-06-01T03:00:01.250000Z"


def store_uid(store):
    return next(uid for uid, _, _ in store.records_of("memories"))


def test_other_formats_and_utc_only_bundles_get_no_note(tmp_path):
    tribal = write_tribal(tmp_path / "t.json", tribal_bundle())
    doclea = write_doclea(tmp_path / "d.json", doclea_bundle())
    utc_only = write_kagura(tmp_path / "k", [{k: v for k, v in KAGURA_PERSISTENT.items() if k != "exported_at"}], metadata=None)
    for src in (tribal, doclea, utc_only):
        assert memport.validate(src).notes == []
        assert memport.inspect(src)["notes"] == []
        assert memport.import_bundle(src, memport.Store(":memory:"))["notes"] == []


@pytest.mark.parametrize("name", ["inspect", "validate", "import", "convert", "diff"])
def test_the_cli_says_it_once(tmp_path, name):
    src = updated_tokyo(tmp_path / "k")

    def once(n, *extra):
        """The command with a fresh store or output of its own (diff: an empty store, in which
        everything is new: exit 1, as diff(1))."""
        if name == "diff":
            memport.Store(tmp_path / f"s{n}.db").close()
        more = {
            "import": ("--db", tmp_path / f"s{n}.db"),
            "diff": ("--db", tmp_path / f"s{n}.db"),
            "convert": ("--to", "doclea", "-o", tmp_path / f"d{n}.json"),
        }.get(name, ())
        result = run(name, src, *more, *extra)
        assert result.exit_code == (1 if name == "diff" else 0), result.output
        return result.output

    notes = [line for line in once(1).splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "naive local time" in notes[0] and "--local-tz ZONE" in notes[0], notes
    assert notes[0].startswith(
        "note: 7 " if name in ("inspect", "validate", "convert") else "note: 6 naive local times in the records written"
    )
    assert json.loads(once(2, "--json"))["notes"][0]["code"] == "time.naive-local"
    if name in ("import", "convert", "diff"):
        assert "note:" not in once(3, "--local-tz", "Asia/Tokyo")


@pytest.mark.parametrize("cores", [1, 2])
def test_every_verb_counts_the_same_naive_local_times(tmp_path, monkeypatch, cores):
    """Validation counts valid records inline (their shapes are the schema's) and others through
    the format's hook; inspect, imports and conversions count on their own: all agree, whatever
    form the times take, on one core or two."""
    from memport import parallel

    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 10**12 if cores == 1 else 1)
    exported = [
        "2025-06-01T12:00:00.123456",
        "2025-06-01T12:00:00",
        "2025-06-01T12:00:00+09:00",
        "2025-06-01T12:00:00Z",
        "2025-06-01",
        "2025-13-45T12:00:00",
        5,
        None,
    ]
    updated = ["2025-06-01 12:00:01.250000", "2025-05-30 08:15:02", "2025-02-30 12:00:01.250000", "2025-06-01T12:00:01.250000"]
    created = ["2025-05-30 08:15:02", "2025-05-30 08:15:02.500000"]
    records = []
    for i, when in enumerate(exported):
        for j, update in enumerate(updated):
            record = dict(KAGURA_PERSISTENT, key=f"k{i}-{j}", updated_at=update, created_at=created[(i + j) % 2], exported_at=when)
            records.append({k: v for k, v in record.items() if v is not None})
        records.append({k: v for k, v in dict(KAGURA_WORKING, key=f"w{i}", exported_at=when).items() if v is not None})
    src = write_kagura(tmp_path / "k", records, [*KAGURA_NODES, dict(KAGURA_EDGE, exported_at="2025-06-01T12:00:00+00:00")])
    kagura = memport.formats.plugin("kagura")
    natives = [*(json.loads(line) for line in (src / "memories.jsonl").read_text().splitlines())]
    expected = sum(kagura.naive_local_times("memories", n) for n in natives)
    expected += sum(kagura.naive_local_times("nodes", n) for n in KAGURA_NODES) + 1  # metadata.json's exported_at
    assert expected > 20
    assert memport.validate(src).notes[0]["count"] == expected
    assert memport.inspect(src)["notes"][0]["count"] == expected
    assert memport.convert(memport.read(src), "tribal").conversion.notes[0]["count"] == expected
    # an import: the records written (metadata.json is none), dry run (two cores want a store file) and real run
    with memport.Store(tmp_path / "s.db") as store:
        assert memport.plan(src, store).summary()["notes"][0]["count"] == expected - 1
        assert memport.import_bundle(src, store)["notes"][0]["count"] == expected - 1
