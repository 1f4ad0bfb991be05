"""The store: identity, plans, strategies, decisions, filters, safety, GDPR, and crash safety with a
real SQLite file and real killed processes."""

from __future__ import annotations

import copy
import json
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from native import (
    DOCLEA_MEMORY,
    DOCLEA_RELATION,
    KAGURA_EDGE,
    KAGURA_NODES,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    TRIBAL_ENTRY,
    doclea_bundle,
    kagura_line,
    reference_kagura,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport.cli import cli
from memport.planning import ConflictError, StaleDecisionError, StalePlanError
from memport.store import StoreError
from memport.store.schema import SCHEMA_VERSION

ACCOUNT = ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid")


def entry(**changes):
    e = copy.deepcopy(TRIBAL_ENTRY)
    e.update(changes)
    return e


def accounting_closes(result: dict) -> bool:
    return result["total"] == sum(result[k] for k in ACCOUNT)


@pytest.fixture
def store(tmp_path):
    with memport.Store(tmp_path / "memport.db") as s:
        yield s


def test_store_file_schema_and_sqlite_utils(tmp_path, store):
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    memport.import_bundle(reference_kagura(tmp_path / "k"), store)
    db = sqlite_utils.Database(tmp_path / "memport.db")  # opens as-is in sqlite-utils
    assert {"memories", "relations", "nodes", "embeddings", "import_runs", "memories_fts"} <= set(db.table_names())
    assert db["memories"].count == 2
    assert [r.title for r in store.search_text("Python")] == ["favourite_language"]


def test_refuses_what_is_not_a_memport_store(tmp_path):
    newer = tmp_path / "newer.db"
    with memport.Store(newer) as s:
        s.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this memport"):
        memport.Store(newer)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a memport store"):
        memport.Store(other)
    with pytest.raises(StoreError, match="is a directory"):
        memport.Store(tmp_path)


def test_an_older_store_is_migrated_and_its_records_still_recognised(tmp_path):
    from memport.keys import content_key
    from memport.store import schema as store_module

    with memport.Store(tmp_path / "now.db") as s:
        memport.import_bundle(reference_kagura(tmp_path / "k"), s)
    path = tmp_path / "v2.db"
    db = sqlite_utils.Database(path)
    for migrate in store_module.MIGRATIONS[:2]:
        migrate(db)
    db.execute("PRAGMA user_version = 2")
    db.execute("ATTACH DATABASE ? AS now", [str(tmp_path / "now.db")])
    for kind in store_module.FIRST_KINDS:  # the same records in a store of schema version 2
        names = ", ".join(db[kind].columns_dict)  # the columns of version 2
        db.execute(f"INSERT INTO main.{kind} ({names}) SELECT {names} FROM now.{kind}")
        # with the content keys of version 2, which still covered Kagura's exported_at
        for rowid, native in db.execute(f"SELECT rowid, native FROM main.{kind}").fetchall():
            db.execute(f"UPDATE main.{kind} SET content_key = ? WHERE rowid = ?", [content_key(json.loads(native), False), rowid])
    db.conn.commit()
    db.close()
    with memport.Store(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert s.counts()["memories"] == 2 and held_lines(s) == {}  # unknown for records stored before
        assert memport.plan(tmp_path / "k", s).summary()["unchanged"] == 5
        memport.import_bundle(write_kagura(tmp_path / "more", [dict(KAGURA_PERSISTENT, key="new")], metadata=None), s)
        assert len(held_lines(s)) == 1


def held_lines(store):
    """line_key -> uid_key of the stored memories that came from a JSON Lines line, as a large plan loads them."""
    lines, uids = store.key_columns("memories", "line_key", "uid_key")
    return dict(zip(lines.tolist(), uids.tolist()))


def test_records_from_json_lines_keep_the_key_of_their_line(tmp_path, store):
    from memport.keys import line_key, line_seed

    kagura = reference_kagura(tmp_path / "k")
    memport.import_bundle(kagura, store)
    memport.import_bundle(write_doclea(tmp_path / "d.json", doclea_bundle()), store)
    seed, member = line_seed("kagura", "memories"), b', "exported_at": "'
    lines = (kagura / "memories.jsonl").read_bytes().splitlines(keepends=True)
    assert sorted(held_lines(store)) == sorted(line_key(line, seed, member) for line in lines)
    assert store.conn.execute("SELECT count(*) FROM memories WHERE origin = 'doclea' AND line_key IS NULL").fetchone()[0] == 1
    first = lines[0]
    for volatile in (b"", member):  # the line end aside (an LF line takes a shorter way than others)
        assert line_key(first, seed, volatile) == line_key(first.rstrip(b"\n") + b"\r\n", seed, volatile)
        assert line_key(first, seed, volatile) == line_key(first.rstrip(b"\n"), seed, volatile)
    assert line_key(first, seed) != line_key(first, line_seed("tribal", "memories"))
    # a later export of the same record differs only in its exported_at: the same key
    later = first.replace(b'"exported_at": "2025-06-01T12:00:00.123456"', b'"exported_at": "2026-01-02T03:04:05"')
    assert later != first and line_key(later, seed, member) == line_key(first, seed, member)
    for other in (
        first.replace(b"quarterly", b"yearly"),  # other content
        first.replace(b'"}', b'", "x": 1}'),  # exported_at is not the last member
        first.replace(b'"2025-06-01T12:00:00.123456"', b'"a\\"b"'),
    ):  # not a plain string
        assert line_key(other, seed, member) != line_key(first, seed, member)


def test_lookups_by_many_keys_find_every_stored_record(tmp_path, store):
    memport.import_bundle(reference_kagura(tmp_path / "k"), store)
    uids, keys = zip(*store.conn.execute("SELECT uid, uid_key FROM memories").fetchall())
    # past the first thousands of keys the store lacks: every batch of the lookup is asked
    assert set(store.natives_of("memories", [f"kagura:memories:none{i}" for i in range(2500)] + list(uids))) == set(uids)
    assert set(store.content_keys("memories", list(range(2500)) + list(keys))) == set(keys)


def test_a_later_export_of_the_same_memories_is_unchanged(tmp_path, store):
    first = write_kagura(tmp_path / "first", [KAGURA_WORKING, KAGURA_PERSISTENT], [*KAGURA_NODES, KAGURA_EDGE])
    later = [
        dict(record, exported_at="2026-02-03T04:05:06.000001") for record in (KAGURA_WORKING, KAGURA_PERSISTENT, *KAGURA_NODES, KAGURA_EDGE)
    ]
    edited = dict(later[1], value="Rust")
    memport.import_bundle(first, store)
    plan = memport.plan(write_kagura(tmp_path / "later", [later[0], edited], later[2:]), store)
    assert plan.summary()["unchanged"] == 4 and plan.summary()["skipped"] == 1
    assert plan.diff(plan.notable[0].uid) == {
        "value": ("Python", "Rust"),
        "exported_at": (KAGURA_PERSISTENT["exported_at"], edited["exported_at"]),
    }


def test_identity_is_stable_across_bundles_and_imports(tmp_path, store):
    first = memport.import_bundle(reference_kagura(tmp_path / "a"), store)
    assert first["inserted"] == 5 and accounting_closes(first)
    again = memport.import_bundle(reference_kagura(tmp_path / "b"), store)
    assert again["unchanged"] == 5 and again["inserted"] == 0
    # the same persistent row under key 5 and "5" is one Kagura identity (TEXT key)
    five = write_kagura(tmp_path / "c", [dict(KAGURA_PERSISTENT, key=5)], metadata=None)
    five_text = write_kagura(tmp_path / "d", [dict(KAGURA_PERSISTENT, key="5")], metadata=None)
    memport.import_bundle(five, store)
    assert memport.plan(five_text, store).summary()["skipped"] == 1


def test_plan_rows_field_diff_and_frames(tmp_path, store):
    src = write_tribal(tmp_path / "t.json", tribal_bundle([entry(id="a"), entry(id="b")]))
    memport.import_bundle(src, store)
    changed = write_tribal(
        tmp_path / "t2.json", tribal_bundle([entry(id="a", content="changed", tags=["x"]), entry(id="b"), entry(id="c")])
    )
    plan = memport.plan(changed, store)
    assert plan.summary() == {
        "inserted": 1,
        "updated": 0,
        "unchanged": 1,
        "skipped": 1,
        "conflicts": 0,
        "invalid": 0,
        "total": 3,
        "dry_run": True,
        "backup": None,
        "needs_reembedding": 1,
        "problems": 0,
        "not_imported": [],
        "unused_decisions": [],
        "notes": [],
    }
    frame = plan.to_frame()
    assert frame[["uid", "action", "reason"]].values.tolist() == [["tribal:memories:a", "skip", "exists"]]
    assert frame["fields"][0] == ["content", "tags"]
    assert plan.diff("tribal:memories:a") == {"content": ("Alice prefers Python", "changed"), "tags": (["preferences"], ["x"])}
    assert "strategy <b>skip</b>" in plan._repr_html_()


def test_field_diffs_are_found_when_rows_are_read_and_only_while_both_sides_are_as_planned(tmp_path, store):
    memport.import_bundle(write_tribal(tmp_path / "t.json", tribal_bundle([entry(id="a"), entry(id="b")])), store)
    changed = write_tribal(tmp_path / "t2.json", tribal_bundle([entry(id="a", content="changed"), entry(id="b", tags=["y"])]))
    plan = memport.plan(changed, store)
    assert [(r.uid, r.fields) for r in plan.notable] == [("tribal:memories:a", ["content"]), ("tribal:memories:b", ["tags"])]
    # the bundle edited after planning: its rows no longer say what it holds
    plan = memport.plan(changed, store)
    write_tribal(changed, tribal_bundle([entry(id="a", content="edited again"), entry(id="b", tags=["y"])]))
    with pytest.raises(StalePlanError, match="changed since this plan was made"):
        plan.to_frame()
    # the store written to after planning: the stored sides are no longer those planned against
    plan = memport.plan(changed, store)
    memport.import_bundle(write_tribal(tmp_path / "t3.json", tribal_bundle([entry(id="c")])), store)
    with pytest.raises(StalePlanError, match="the store changed"):
        _ = plan.notable
    assert plan.summary()["skipped"] == 2  # the counts stand as planned
    assert "tribal:memories:a" in plan._repr_html_() and "fields that differ not shown" in plan._repr_html_()
    # applying finds them first: the applied plan still shows them; a bundle changed since is refused unwritten
    plan = memport.plan(changed, store, strategy="overwrite")
    plan.apply()
    assert [r.fields for r in plan.to_frame().itertuples()] == [["content"], ["tags"]] and "not shown" not in plan._repr_html_()
    plan = memport.plan(write_tribal(tmp_path / "t4.json", tribal_bundle([entry(id="a", content="4")])), store, strategy="overwrite")
    write_tribal(tmp_path / "t4.json", tribal_bundle([entry(id="a", content="5")]))
    before = store.generation()
    with pytest.raises(StalePlanError, match="changed since this plan was made"):
        plan.apply()
    assert store.generation() == before


def test_a_plan_counts_without_reading_the_stored_side_of_differing_records(tmp_path, store):
    memport.import_bundle(write_tribal(tmp_path / "t.json", tribal_bundle([entry(id=f"e{i}") for i in range(20)])), store)
    changed = write_tribal(tmp_path / "t2.json", tribal_bundle([entry(id=f"e{i}", content=f"changed {i}") for i in range(20)]))
    statements = []
    store.conn.set_trace_callback(statements.append)
    try:
        plan = memport.plan(changed, store)
        planning = list(statements)
        assert plan.summary()["skipped"] == 20
        plan.to_frame()  # the rows read: now the stored records are
    finally:
        store.conn.set_trace_callback(None)
    assert planning and not any("native" in sql for sql in planning)
    assert any("native" in sql for sql in statements[len(planning) :])


def test_strategies(tmp_path, store):
    memport.import_bundle(write_tribal(tmp_path / "t.json", tribal_bundle([entry(id="a", updated_at="2025-01-01T12:00:00+00:00")])), store)

    def incoming(**changes):
        return write_tribal(tmp_path / f"in-{len(list(tmp_path.iterdir()))}.json", tribal_bundle([entry(id="a", content="new", **changes)]))

    assert memport.plan(incoming(), store).summary()["skipped"] == 1
    assert memport.plan(incoming(), store, strategy="overwrite").summary()["updated"] == 1
    with memport.Store(tmp_path / "copy.db") as copy:
        memport.import_bundle(write_tribal(tmp_path / "c.json", tribal_bundle([entry(id="a")])), copy)
        replaced = memport.import_bundle(incoming(), copy, strategy="overwrite")
        assert replaced["updated"] == 1 and Path(replaced["backup"]).exists()  # overwriting keeps a backup first
    # newer compares instants: 13:00+01:00 is the same instant (a tie keeps the stored one)
    assert memport.plan(incoming(updated_at="2025-01-01T13:00:00+01:00"), store, strategy="newer").summary()["skipped"] == 1
    assert memport.plan(incoming(updated_at="2025-01-01T12:00:00.000001"), store, strategy="newer").summary()["updated"] == 1
    assert memport.plan(incoming(updated_at="2025-01-01T17:00:00+05:30"), store, strategy="newer").summary()["skipped"] == 1
    assert memport.plan(incoming(updated_at="2025"), store, strategy="newer").summary()["skipped"] == 1
    # not even a string: kept with the rule it breaks, and with no time to compare, a conflict
    breaking = memport.plan(incoming(updated_at=12), store, strategy="newer")
    assert breaking.summary()["conflicts"] == 1 and breaking.conflicts()[0].problems == ["tribal.entry.timestamp-type"]
    missing = memport.plan(incoming(updated_at="not a date"), store, strategy="newer")
    assert missing.summary()["conflicts"] == 1 and missing.conflicts()[0].reason == "missing-updated_at"
    conflict = memport.plan(incoming(), store, strategy="error")
    assert not conflict.ok and conflict.summary()["conflicts"] == 1
    before = store.counts()
    with pytest.raises(ConflictError, match="nothing was written"):
        memport.import_bundle(incoming(), store, strategy="error")
    assert store.counts() == before and store.native("memories", "tribal:memories:a")["content"] == "Alice prefers Python"


def test_dry_run_counts_equal_the_real_run_with_duplicates_inside_the_bundle(tmp_path):
    three = tribal_bundle([entry(id="a"), entry(id="b"), entry(id="a", content="again", updated_at="2026-01-01T00:00:00")])
    src = write_tribal(tmp_path / "t.json", three)
    for strategy in ("skip", "overwrite", "newer", "manual"):
        with memport.Store(tmp_path / f"{strategy}.db") as s:
            planned = memport.plan(src, s, strategy=strategy).summary()
            real = memport.import_bundle(src, s, strategy=strategy)
            assert {k: planned[k] for k in ACCOUNT} == {k: real[k] for k in ACCOUNT}, strategy
            assert accounting_closes(real)
            assert real["inserted"] == 2 and s.counts()["memories"] == 2
    with memport.Store(tmp_path / "error.db") as s:
        assert memport.plan(src, s, strategy="error").summary()["conflicts"] == 1
        with pytest.raises(ConflictError):
            memport.import_bundle(src, s, strategy="error")
        assert s.counts()["memories"] == 0


def test_records_that_break_their_systems_rules_are_kept_with_the_codes(tmp_path, store):
    entries = [entry(id="a"), entry(id="b", tags=None), entry(id="c", source_type="BOGUS"), entry(id="mem_001"), entry(id="日本-1")]
    src = write_tribal(tmp_path / "t.json", tribal_bundle(entries))
    result = memport.import_bundle(src, store)
    assert (result["inserted"], result["problems"], result["invalid"]) == (5, 4, 0) and accounting_closes(result)
    kept = dict(store.conn.execute("SELECT uid, problems FROM memories"))
    assert kept == {
        "tribal:memories:a": None,
        "tribal:memories:b": '["tribal.entry.tags-type"]',
        "tribal:memories:c": '["tribal.entry.source-type"]',
        "tribal:memories:mem_001": '["tribal.entry.id-charset"]',
        "tribal:memories:日本-1": '["tribal.entry.id-charset"]',
    }
    assert memport.plan(src, store).summary()["unchanged"] == 5  # and recognised as what they are


def test_decisions_replay_stale_and_field_picks(tmp_path, store):
    memport.import_bundle(write_doclea(tmp_path / "d.json", doclea_bundle()), store)
    changed = write_doclea(tmp_path / "d2.json", doclea_bundle(memories=[dict(DOCLEA_MEMORY, content="new text", title="New title")]))
    plan = memport.plan(changed, store, strategy="manual")
    uid = "doclea:memories:mem_AbCdEfGh12345678"
    assert plan.summary()["conflicts"] == 1 and plan.conflicts()[0].fields == ["title", "content"]
    decisions = tmp_path / "decisions.jsonl"
    memport.save_decisions([plan.decide(uid, "fields", {"content": "take", "title": "keep"})], decisions)
    assert json.loads(decisions.read_text())["choice"] == "fields"
    replay = memport.plan(changed, store, strategy="manual", decisions=decisions)
    assert replay.summary()["updated"] == 1
    replay.apply()
    merged = store.native("memories", uid)
    assert (merged["content"], merged["title"]) == ("new text", "Use JWT for auth")
    # the stored record changed since the decision: replaying it is refused
    with pytest.raises(StaleDecisionError, match="changed since"):
        memport.plan(changed, store, strategy="manual", decisions=decisions)
    runner = CliRunner().invoke(
        cli, ["import", str(changed), "--db", str(store.path), "--strategy", "manual", "--decisions", str(decisions)]
    )
    assert runner.exit_code == 2 and "decide again" in runner.output


def test_a_plan_refuses_to_apply_after_the_store_changed(tmp_path, store):
    plan = memport.plan(reference_kagura(tmp_path / "k"), store)
    memport.import_bundle(write_tribal(tmp_path / "t.json", tribal_bundle()), store)
    with pytest.raises(StalePlanError):
        plan.apply()


def test_filters_on_import_and_export(tmp_path, store):
    records = [
        dict(KAGURA_PERSISTENT, key="old", created_at="2025-12-31 23:59:59", metadata={"tags": ["a"]}),
        dict(KAGURA_PERSISTENT, key="jan", created_at="2026-01-15 10:00:00", metadata={"tags": ["b"]}),
        dict(KAGURA_PERSISTENT, key="feb", created_at="2026-02-01 00:00:00", agent_name="thread_1", metadata=None),
        dict(KAGURA_WORKING, key="w", user_id="bob"),
    ]
    src = write_kagura(tmp_path / "k", records, metadata=None)

    def keys(**filters):
        with memport.Store(tmp_path / f"f{len(list(tmp_path.iterdir()))}.db") as s:
            memport.import_bundle(src, s, filters=memport.Filters(**filters))
            return sorted(json.loads(m["native"])["key"] for m in s.db["memories"].rows)

    assert keys(created_since="2026-01", created_until="2026-01") == ["jan"]
    assert keys(created_since="2026-01-15T11:00:00+01:00") == ["feb", "jan"]  # 10:00Z is 11:00+01:00
    assert keys(created_until="2025") == ["old"]
    assert keys(tags=["a", "b"]) == ["jan", "old"]
    assert keys(agents=["thread_1"]) == ["feb"]
    assert keys(users=["bob"], scopes=["working"]) == ["w"]
    with pytest.raises(memport.MemportError, match="not an ISO 8601 date"):
        memport.Filters(created_since="Jan 2026")
    memport.import_bundle(src, store)
    out = tmp_path / "jan.json"
    memport.export(store, "tribal", out, filters=memport.Filters(created_since="2026-01", created_until="2026-01"))
    assert [json.loads(e["context"][len("memport-provenance: ") :])["fields"]["key"] for e in json.loads(out.read_text())["entries"]] == [
        "jan"
    ]


def test_clear_keeps_a_backup(tmp_path, store):
    memport.import_bundle(reference_kagura(tmp_path / "k"), store)
    result = memport.import_bundle(write_tribal(tmp_path / "t.json", tribal_bundle()), store, clear=True)
    backup = Path(result["backup"])
    assert backup.exists() and backup.name.startswith("memport.db.bak-")
    assert store.counts()["memories"] == 1
    with memport.Store(backup) as old:
        assert old.counts()["memories"] == 2


def test_export_own_format_gives_the_records_back_exactly(tmp_path, store):
    doclea_src = write_doclea(tmp_path / "d.json", doclea_bundle(memoryRelations=[DOCLEA_RELATION]))
    memport.import_bundle(doclea_src, store)
    out = tmp_path / "out.json"
    memport.export(store, "doclea", out, exported_at=datetime.fromtimestamp(1748779200, UTC))
    assert out.read_bytes() == doclea_src.read_bytes()
    kagura_src = reference_kagura(tmp_path / "k")
    with memport.Store(tmp_path / "k.db") as s:
        memport.import_bundle(kagura_src, s)
        memport.export(s, "kagura", tmp_path / "kout", exported_at=datetime(2025, 6, 1, 12, 0, 0, 125000, tzinfo=UTC))
    for name in ("memories.jsonl", "graph.jsonl", "metadata.json"):
        assert (tmp_path / "kout" / name).read_bytes() == (kagura_src / name).read_bytes()


def test_export_of_a_mixed_store_validates_in_every_format(tmp_path, store):
    for src in (
        reference_kagura(tmp_path / "k"),
        write_tribal(tmp_path / "t.json", tribal_bundle()),
        write_doclea(tmp_path / "d.json", doclea_bundle()),
    ):
        memport.import_bundle(src, store)
    for target, suffix in (("kagura", ""), ("tribal", ".json"), ("tribal-jsonl", ".jsonl"), ("doclea", ".json")):
        result = memport.export(store, target, tmp_path / f"all-{target}{suffix}")
        assert memport.validate(tmp_path / f"all-{target}{suffix}").errors == []
        assert sum(result["counts"].values()) > 0


def test_gdpr_export_and_erase(tmp_path, store):
    bob = [dict(KAGURA_PERSISTENT, key="bob_fact", user_id="bob")]
    graph = [
        *KAGURA_NODES,
        {**KAGURA_NODES[0], "id": "bob", "data": {"user_id": "bob"}},
        KAGURA_EDGE,
        {**KAGURA_EDGE, "src": "bob", "dst": "topic_python"},
    ]
    memport.import_bundle(write_kagura(tmp_path / "k", [KAGURA_WORKING, KAGURA_PERSISTENT, *bob], graph), store)
    out = tmp_path / "alice"
    memport.export(store, "kagura", out, filters=memport.Filters(users=["user_alice"]))
    exported = memport.read(out)
    assert sorted(m.key for m in exported.records.memories) == ["draft_topic", "favourite_language"]
    assert [(e.source, e.target) for e in exported.records.relations] == [("user_alice", "topic_python")]
    assert memport.validate(out).errors == []
    report = store.erase_user("user_alice")
    removed = {k: v for k, v in report["removed"].items() if v}
    assert removed == {"memories": 2, "relations": 1, "nodes": 1, "runs_redacted": 1} and report["backup"] is None
    assert [json.loads(m["native"])["key"] for m in store.db["memories"].rows] == ["bob_fact"]
    assert store.counts()["relations"] == 1 and store.counts()["nodes"] == 2  # topic_python: bob's edge still names it
    assert store.runs()[-1]["operation"] == "erase"


def test_cli_import_diff_export_erase(tmp_path):
    runner = CliRunner()
    db = tmp_path / "memport.db"
    src = write_tribal(tmp_path / "t.json", tribal_bundle([entry(id="a"), entry(id="b")]))
    dry = runner.invoke(cli, ["import", str(src), "--db", str(db), "--json", "--dry-run"], catch_exceptions=False)
    assert json.loads(dry.output) == {
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "conflicts": 0,
        "invalid": 0,
        "total": 2,
        "dry_run": True,
        "backup": None,
        "needs_reembedding": 2,
        "problems": 0,
        "not_imported": [],
        "unused_decisions": [],
        "notes": [],
    }
    real = runner.invoke(cli, ["import", str(src), "--db", str(db), "--json"], catch_exceptions=False)
    assert json.loads(real.output)["inserted"] == 2 and json.loads(real.output)["dry_run"] is False
    other = write_tribal(tmp_path / "o.json", tribal_bundle([entry(id="a", content="x"), entry(id="c")]))
    diff = json.loads(runner.invoke(cli, ["diff", str(other), "--db", str(db), "--json"], catch_exceptions=False).output)
    assert diff["summary"] == {"new": 1, "same": 0, "differs": 1, "skipped": 0, "invalid": 0, "total": 2}
    assert diff["records"][0]["fields"] == ["content"]
    against = json.loads(runner.invoke(cli, ["diff", str(other), "--against", str(src), "--json"], catch_exceptions=False).output)
    assert against["summary"] == diff["summary"]
    assert runner.invoke(cli, ["diff", str(other)]).exit_code == 2
    conflict = runner.invoke(cli, ["import", str(other), "--db", str(db), "--strategy", "error"], catch_exceptions=False)
    assert conflict.exit_code == 1 and "nothing was written" in conflict.output  # the data says no
    exported = runner.invoke(cli, ["export", "--db", str(db), "--to", "doclea", "-o", str(tmp_path / "x.json")], catch_exceptions=False)
    assert exported.exit_code == 0 and memport.validate(tmp_path / "x.json").errors == []
    nobody = runner.invoke(cli, ["erase", "--db", str(db), "--user", "nobody"])
    assert nobody.exit_code == 0 and "nothing of 'nobody'" in nobody.output and not list(tmp_path.glob("*.bak-*"))


def test_readers_keep_reading_during_a_write(tmp_path, store):
    memport.import_bundle(reference_kagura(tmp_path / "k"), store)
    reader = sqlite3.connect(store.path)
    with store.transaction():
        store.clear()
        # WAL: another connection still sees the last committed state, without waiting
        assert reader.execute("SELECT count(*) FROM memories").fetchone()[0] == 2
    assert reader.execute("SELECT count(*) FROM memories").fetchone()[0] == 0


def big_kagura(path: Path, n: int) -> Path:
    path.mkdir()
    with open(path / "memories.jsonl", "w") as f:
        for i in range(n):
            f.write(kagura_line(dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"memory number {i} " * 5)))
    return path


def test_killed_imports_leave_the_store_before_or_after(tmp_path):
    """SIGKILL at random moments: the store is always its before or its after state."""
    src = big_kagura(tmp_path / "big", 40_000)
    template = tmp_path / "template.db"
    with memport.Store(template) as s:
        memport.import_bundle(reference_kagura(tmp_path / "small"), s)
    before = 2
    outcomes = set()
    rng = random.Random(20261120)
    for attempt in range(6):
        db = tmp_path / f"run{attempt}.db"
        shutil.copy(template, db)
        proc = subprocess.Popen(
            [sys.executable, "-m", "memport", "import", str(src), "--db", str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check = sqlite3.connect(db)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = check.execute("SELECT count(*) FROM memories").fetchone()[0]
        fts = check.execute("SELECT count(*) FROM memories_fts").fetchone()[0]
        check.close()
        assert count in (before, before + 40_000) and fts == count
        outcomes.add(count)
    assert before in outcomes  # at least one kill landed mid-import (the test would be vacuous otherwise)


def test_a_bulk_import_rebuilds_the_text_index_and_keeps_its_triggers(tmp_path, monkeypatch):
    from memport.planning import plans as planning

    monkeypatch.setattr(planning, "BULK_RECORDS", 1)
    with memport.Store(tmp_path / "bulk.db") as s:
        memport.import_bundle(big_kagura(tmp_path / "big", 500), s)
        assert s.conn.execute("SELECT count(*) FROM memories_fts").fetchone()[0] == 500
        assert [r.title for r in s.search_text("k42")] == ["k42"]
        triggers = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert len(triggers) == 3  # recreated: later small imports keep the index current row by row
        monkeypatch.setattr(planning, "BULK_RECORDS", 10**9)
        memport.import_bundle(
            write_kagura(tmp_path / "one", [dict(KAGURA_PERSISTENT, key="zebra", value="unique words here")], metadata=None), s
        )
        assert [r.title for r in s.search_text("zebra")] == ["zebra"]


@pytest.mark.parametrize("method", ["preloaded state", "line keys", "line keys and preloaded state"])
@pytest.mark.parametrize("threads", [1, 2], ids=["fork", "spawn"])
@pytest.mark.parametrize("strategy", ["skip", "overwrite", "newer", "manual"])
def test_a_dry_run_on_two_cores_equals_the_single_process_one(tmp_path, monkeypatch, strategy, threads, method):
    from memport import parallel
    from memport.planning import large

    monkeypatch.setattr(parallel.threading, "active_count", lambda: threads)
    monkeypatch.setattr(large, "LINE_KEY_SHARE", 2 if method == "preloaded state" else 0)
    monkeypatch.setattr(large, "LOOKUP_SHARE", 0 if method == "line keys" else 2)
    # batches of a few lines: some mostly unchanged, some mostly not (which keep their records)
    monkeypatch.setattr(large, "LOOKUP_BYTES", 2048)
    stored = [dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"v{i}") for i in range(300)]
    incoming = [dict(KAGURA_PERSISTENT, key=f"k{i % 250}", value=f"v{i}" if i % 7 else f"changed {i}") for i in range(600)]
    incoming[10] = dict(incoming[10], scope="episodic")  # invalid
    # lines the store holds as they are, after earlier lines changed their records (with overwrite):
    # in the same half, in the second half (the worker's), and across the halves
    incoming[261:261] = stored[:5]
    incoming[580:580] = stored[150:155]
    incoming += stored[:30]
    # new records, some twice (the same or other content), in both halves and across them
    # (some with a 19-digit integer within 64 bits, which the standard library parses)
    fresh = [
        dict(KAGURA_PERSISTENT, key=f"new{i % 25}", value="n" if i % 3 else f"n{i}", metadata={"count": 1234567890123456789 + i % 4})
        for i in range(60)
    ]
    incoming[100:100], incoming[400:400], incoming[620:620] = fresh[:20], fresh[20:40], fresh[40:]
    src = write_kagura(tmp_path / "in", incoming, [*KAGURA_NODES, KAGURA_EDGE])
    with memport.Store(tmp_path / "s.db") as s:
        memport.import_bundle(write_kagura(tmp_path / "old", stored, metadata=None), s)
        monkeypatch.setattr(parallel, "PARALLEL_BYTES", 10**12)
        single = memport.plan(src, s, strategy=strategy)
        monkeypatch.setattr(parallel, "PARALLEL_BYTES", 1)
        parallel = memport.plan(src, s, strategy=strategy)
        assert (single.method, parallel.method) == ("one process", method)
        assert parallel.summary() == single.summary()
        assert list(parallel.actions) == list(single.actions)
        assert [(r.position, r.uid, r.action, r.reason, r.fields, r.line) for r in parallel.notable] == [
            (r.position, r.uid, r.action, r.reason, r.fields, r.line) for r in single.notable
        ]
        # and both equal what the real import does
        real = memport.import_bundle(src, s, strategy=strategy)
        assert {k: real[k] for k in ACCOUNT} == {k: single.summary()[k] for k in ACCOUNT}


def _rows(store: memport.Store) -> dict[str, list]:
    """Every table a real import writes, row for row in the store's order (run times aside)."""
    tables = {
        t: store.conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in ("memories", "relations", "nodes", "embeddings")
    }
    tables["runs"] = store.conn.execute("SELECT counts, contents, header, layout FROM import_runs ORDER BY run_id").fetchall()
    return tables


@pytest.mark.parametrize("threads", [1, 2], ids=["fork", "spawn"])
@pytest.mark.parametrize("strategy", ["skip", "overwrite", "newer", "manual", "clear"])
def test_a_real_import_on_two_cores_writes_what_one_process_writes(tmp_path, monkeypatch, strategy, threads):
    """Inserts, updates, records the store holds, duplicates within and across the halves, a record
    breaking Kagura's rules, a line that is no object, a merge of fields: the same rows in the same
    order, the same accounting and the same contents key."""
    from memport import parallel

    monkeypatch.setattr(parallel.threading, "active_count", lambda: threads)
    stored = [dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"v{i}") for i in range(200)]
    incoming = [dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"v{i}" if i % 7 else f"changed {i}") for i in range(400)]
    incoming[10] = dict(incoming[10], scope="episodic")  # kept, with its problem
    incoming[300:300] = [dict(KAGURA_PERSISTENT, key=f"new{i % 9}", value=f"n{i}") for i in range(40)]  # duplicates in the second half
    incoming[50:50] = [dict(KAGURA_PERSISTENT, key=f"new{i}", value="first half") for i in range(5)]  # ... and across the halves
    src = write_kagura(tmp_path / "in", incoming, [*KAGURA_NODES, KAGURA_EDGE])
    lines = (src / "memories.jsonl").read_bytes().splitlines(keepends=True)
    lines[320:320] = [b"[1, 2]\n"]  # not an object: named, not imported
    (src / "memories.jsonl").write_bytes(b"".join(lines))
    decisions = {}
    if strategy == "manual":
        with memport.Store(tmp_path / "probe.db") as probe:
            memport.import_bundle(write_kagura(tmp_path / "old0", stored, metadata=None), probe)
            plan = memport.plan(src, probe, strategy="manual")
            for i, row in enumerate(r for r in plan.conflicts() if '"k' in r.uid):  # those met once: not stale when met
                decisions[row.uid] = plan.decide(row.uid, ("take", "keep", "fields")[i % 3], {"value": "take"} if i % 3 == 2 else None)
    results, tables = [], []
    for size in (10**12, 1):  # one process, then two
        monkeypatch.setattr(parallel, "PARALLEL_BYTES", size)
        with memport.Store(tmp_path / f"s{size}.db") as s:
            memport.import_bundle(write_kagura(tmp_path / f"old{size}", stored, metadata=None), s)
            options = {"clear": True} if strategy == "clear" else {"strategy": strategy, "decisions": decisions}
            result = memport.import_bundle(src, s, **options)
            result.pop("backup")
            results.append(result)
            tables.append(_rows(s))
    assert results[1] == results[0]
    assert results[0]["invalid"] == 1 and results[0]["problems"] >= 1 and results[0]["inserted"] >= 9
    assert tables[1] == tables[0]


def test_a_real_import_on_two_cores_keeps_the_vectors_one_process_keeps(tmp_path, monkeypatch):
    from memport import parallel

    entries = [entry(id=f"e{i % 280}", content=f"text {i}", embedding=[i / 10, 1.0, -1.0]) for i in range(300)]
    stream = tmp_path / "entries.jsonl"
    stream.write_text("".join(json.dumps(e) + "\n" for e in entries))
    results, tables = [], []
    for size in (10**12, 1):
        monkeypatch.setattr(parallel, "PARALLEL_BYTES", size)
        with memport.Store(tmp_path / f"s{size}.db") as s:
            result = memport.import_bundle(stream, s, vectors="keep", strategy="overwrite")
            result.pop("backup")
            results.append(result)
            tables.append(_rows(s))
            assert s.conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0] == 1
    assert results[1] == results[0] and (results[0]["inserted"], results[0]["updated"]) == (280, 20)
    assert len(tables[0]["embeddings"]) == 280 and tables[1] == tables[0]


def test_a_key_index_finds_every_key_sorted_or_not():
    import numpy as np

    from memport.planning.large import KeyIndex

    rng = np.random.default_rng(7)
    keys = rng.integers(-(2**63), 2**63 - 1, 5000, dtype=np.int64)
    values = rng.integers(-(2**63), 2**63 - 1, 5000, dtype=np.int64)
    order = np.argsort(keys)
    absent = [int(k) for k in rng.integers(-(2**63), 2**63 - 1, 100, dtype=np.int64) if k not in set(keys.tolist())]
    # the store gives uid keys sorted (no sort needed) and line keys in uid-key order (sorted here)
    # the smallest and largest keys, and keys beyond them (the largest possible one too: the last
    # block is padded with it)
    edges = [int(keys.min()), int(keys.max())]
    beyond = [-(2**63), 2**63 - 1]
    for index in (KeyIndex(keys[order], values[order]), KeyIndex(keys, values)):
        wanted = [*keys[::7].tolist(), *absent, int(keys[0]), *edges, *beyond]
        assert index.many(wanted) == [
            *values[::7].tolist(),
            *[None] * len(absent),
            int(values[0]),
            *(int(values[keys == k][0]) for k in edges),
            None,
            None,
        ]
    assert all(KeyIndex(keys[:n], values[:n]).many(keys[:n].tolist()) == values[:n].tolist() for n in (1, 31, 32, 33, 64))
    assert KeyIndex(keys[:0], values[:0]).many([1, 2]) == [None, None]


def test_a_large_dry_run_reads_integers_beyond_64_bits_exactly(tmp_path, monkeypatch):
    from memport import parallel
    from memport.planning import large

    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(large, "LOOKUP_BYTES", 2048)  # batches of a few lines, some with such an integer
    records = [dict(KAGURA_PERSISTENT, key=f"k{i}", metadata={"n": 2**64 + i if i % 40 == 3 else i}) for i in range(300)]
    with memport.Store(tmp_path / "s.db") as s:
        memport.import_bundle(write_kagura(tmp_path / "stored", records), s)
        # written compactly: no line is one the store holds, each is parsed (orjson would read
        # 2**64 + i as a float, and the record would not be the stored one)
        compact = tmp_path / "compact"
        compact.mkdir()
        (compact / "memories.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
        plan = memport.plan(compact, s)
        assert plan.method == "preloaded state" and plan.summary()["unchanged"] == 300


@pytest.mark.parametrize("at", [20, 350], ids=["first-half", "second-half"])
def test_a_large_dry_run_names_the_line_of_bad_input_in_either_half(tmp_path, monkeypatch, at):
    from memport import parallel

    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 1)
    bundle = big_kagura(tmp_path / "big", 400)
    lines = (bundle / "memories.jsonl").read_bytes().splitlines(keepends=True)
    malformed = list(lines)
    malformed[at:at] = [b"\n", b'{"type": "memory", "scope": \n']  # a blank line (skipped), then the bad one
    (bundle / "memories.jsonl").write_bytes(b"".join(malformed))
    with memport.Store(tmp_path / "s.db") as s:
        memport.import_bundle(big_kagura(tmp_path / "stored", 400), s)
        with pytest.raises(memport.MalformedInputError) as caught:
            memport.plan(bundle, s)
        assert "malformed JSON" in str(caught.value) and caught.value.location.line == at + 2
        assert caught.value.location.file.endswith("memories.jsonl")
        # a line that is JSON but no object is a record memport cannot hold: named, not imported
        lines[at:at] = [b"\n", b"[1, 2]\n"]
        (bundle / "memories.jsonl").write_bytes(b"".join(lines))
        summary = memport.plan(bundle, s).summary()
    assert summary["invalid"] == 1 and summary["total"] == 401
    (named,) = summary["not_imported"]
    assert (named["line"], named["code"], Path(named["file"]).name) == (at + 2, "kagura.memory.type", "memories.jsonl")


def test_a_large_dry_run_recognises_the_lines_the_store_holds(tmp_path, monkeypatch):
    from memport import parallel

    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 1)
    bundle = big_kagura(tmp_path / "big", 400)
    reformatted = tmp_path / "reformatted"
    reformatted.mkdir()
    lines = (bundle / "memories.jsonl").read_text().splitlines()
    (reformatted / "memories.jsonl").write_text("".join(json.dumps(json.loads(line), separators=(",", ":")) + "\n" for line in lines))
    with memport.Store(tmp_path / "s.db") as s:
        memport.import_bundle(bundle, s)
        same, other = memport.plan(bundle, s), memport.plan(reformatted, s)
        # the same lines: found by their line keys; the same records written otherwise: by content
        assert (same.method, other.method) == ("line keys", "preloaded state")
        assert same.summary()["unchanged"] == other.summary()["unchanged"] == 400
        # two records edited, one in each half: their field diffs are found from their lines alone
        edited = tmp_path / "edited"
        edited.mkdir()
        records = [json.loads(line) for line in lines]
        for i in (10, 350):
            records[i]["value"], records[i]["metadata"] = f"edited {i}", {"note": float("nan")}  # NaN: read exactly
        (edited / "memories.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
        plan = memport.plan(edited, s)
        assert [(r.position, r.line, r.fields) for r in plan.notable] == [
            (10, 11, ["value", "metadata"]),
            (350, 351, ["value", "metadata"]),
        ]
        # the file edited again after planning: refused, not diffed against what is there now
        plan = memport.plan(edited, s)
        records[350]["value"] = "edited again"
        (edited / "memories.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
        with pytest.raises(StalePlanError, match="changed since this plan was made"):
            plan.to_frame()
        plan = memport.plan(edited, s)
        (edited / "memories.jsonl").write_text("not json\n" * 400)  # or is no longer JSON at all
        with pytest.raises(StalePlanError, match="changed since this plan was made"):
            plan.to_frame()


def tribal_with_one_exact_entry():
    """Three entries, one of which holds NaN (which only the standard library writes back), and
    one a 19-digit integer within 64 bits (read by the standard library in a JSON Lines stream)."""
    return [
        entry(id="plain", content="plain"),
        entry(id="nan", content="not a number", confidence=float("nan")),
        entry(id="wide", content="wide integer", embedding=[1234567890123456789, 0.2, 0.3]),
    ]


def test_one_exact_entry_leaves_the_keys_of_the_others_alone(tmp_path, store):
    """Whether a record needs exact JSON is its own business: the same entries planned from the
    file, from the bundle in memory and from Tribal's JSON Lines stream are all unchanged."""
    entries = tribal_with_one_exact_entry()
    src = write_tribal(tmp_path / "t.json", tribal_bundle(entries))
    assert memport.import_bundle(src, store)["inserted"] == 3
    stream = tmp_path / "t.jsonl"
    stream.write_text("".join(json.dumps(e) + "\n" for e in entries))
    for incoming in (src, memport.read(src), stream):
        summary = memport.plan(incoming, store).summary()
        assert summary["unchanged"] == 3, (incoming, summary)
    # a field diff reads the line again and must find the record the plan keyed
    entries[2]["content"] = "a wider integer"
    stream.write_text("".join(json.dumps(e) + "\n" for e in entries))
    frame = memport.plan(stream, store).to_frame()
    assert frame.loc[frame.action == "skip", "fields"].tolist() == [["content"]]


def test_a_kagura_record_read_by_the_standard_library_has_one_key(tmp_path, store):
    """A line with a 19-digit integer (within 64 bits) is parsed by the standard library; its
    record is still not exact, and so has the key it has from a bundle in memory."""
    from memport.jsonio import may_hold_huge_integer

    records = [dict(KAGURA_PERSISTENT, key=f"k{i}", metadata={"count": 1234567890123456789 + i}) for i in range(1, 6)]
    assert all(may_hold_huge_integer(kagura_line(r).encode()) for r in records)
    src = write_kagura(tmp_path / "k", records, metadata=None)
    memport.import_bundle(src, store)
    for incoming in (src, memport.read(src)):
        assert memport.plan(incoming, store).summary()["unchanged"] == 5


def test_a_version_3_store_keyed_by_parser_is_rekeyed(tmp_path):
    """Before version 4 one NaN in a Tribal bundle gave every entry of it an exact content key, and
    a Kagura line with a 19-digit run of fraction digits its record."""
    from memport.keys import content_key

    tribal = write_tribal(tmp_path / "t.json", tribal_bundle(tribal_with_one_exact_entry()))
    kagura = write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, metadata={"score": 0.0012345678901234567})], metadata=None)
    path = tmp_path / "v3.db"
    with memport.Store(path) as s:
        memport.import_bundle(tribal, s)
        memport.import_bundle(kagura, s)
        with s.transaction():
            for rowid, origin, native in s.conn.execute("SELECT rowid, origin, native FROM memories").fetchall():
                volatile = ("exported_at",) if origin == "kagura" else ()
                s.conn.execute(
                    "UPDATE memories SET native = ?, content_key = ? WHERE rowid = ?",
                    [json.dumps(json.loads(native)), content_key(json.loads(native), True, volatile), rowid],
                )
            s.conn.execute("PRAGMA user_version = 3")
        # version 3 keys, as version 4 sees them: differing
        assert memport.plan(tribal, s).summary()["skipped"] == 2 and memport.plan(kagura, s).summary()["skipped"] == 1
    with memport.Store(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert memport.plan(tribal, s).summary()["unchanged"] == 3 and memport.plan(kagura, s).summary()["unchanged"] == 1


def test_the_store_schema_documentation_is_generated_from_the_code():
    from memport.store.schema import TABLES, schema_markdown

    assert (Path(__file__).parent.parent / "docs" / "store.md").read_text() == schema_markdown()
    with memport.Store(":memory:") as store:  # and says what a store really has (generated columns too)
        for table, columns in TABLES.items():
            assert [row[1] for row in store.conn.execute(f"PRAGMA table_xinfo({table})")] == list(columns), table
