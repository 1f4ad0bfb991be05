"""Erasure that erases: after ``memport erase --user U`` nothing in the store (its tables, its
file's bytes) holds U's data, the erase is recorded without it, and the pre-erase backup is gone
unless asked for; ``memport export --user U`` is the same selection the other way round."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from native import KAGURA_EDGE, KAGURA_NODES, KAGURA_PERSISTENT, write_kagura

import memport
from memport.cli import cli
from memport.userdata import select

# strings only user_alice's data holds
ALICE_SECRETS = ["user_alice", "xyzzy-alice-diary", "alice-only-topic", "plugh-converted"]


def run(*args, input=None):
    return CliRunner().invoke(cli, list(map(str, args)), input=input, catch_exceptions=False)


def memory(key, value, user):
    return dict(KAGURA_PERSISTENT, key=key, value=value, user_id=user)


def alice_and_bob(tmp_path: Path, stand_in) -> Path:
    """A store with two users: Alice's memories, user node, a topic only she reaches, an edge to a
    topic Bob shares, an entry converted from her Kagura memory to Tribal, vectors and cached
    vectors (one text shared with Bob); imported from a folder named after her."""
    graph = [
        *KAGURA_NODES,
        {**KAGURA_NODES[1], "id": "alice-only-topic", "data": {"name": "alice-only-topic"}},
        {**KAGURA_NODES[0], "id": "bob", "data": {"user_id": "bob"}},
        KAGURA_EDGE,
        {**KAGURA_EDGE, "dst": "alice-only-topic"},
        {**KAGURA_EDGE, "src": "bob", "dst": "topic_python"},
    ]
    memories = [
        memory("diary", "xyzzy-alice-diary: today I moved house", "user_alice"),
        memory("shared_fact", "The office opens at nine", "user_alice"),
        memory("bob_fact", "The office opens at nine", "bob"),
        memory("bob_pet", "Bob has a cat named Tofu", "bob"),
    ]
    bundle = write_kagura(tmp_path / "exports" / "user_alice" / "kagura", memories, graph)
    converted = memport.convert(
        memport.read(write_kagura(tmp_path / "k2", [memory("converted", "plugh-converted note", "user_alice")])), "tribal"
    )
    memport.write(converted, tmp_path / "converted.json")
    db = tmp_path / "memport.db"
    with memport.Store(db) as store:
        memport.import_bundle(bundle, store)
        memport.import_bundle(tmp_path / "converted.json", store)
        memport.reembed(store, stand_in, progress=False)
    return db


def everything_in(db: Path) -> str:
    """Every value of every row of every table (and view of the index), as text."""
    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = []
    for table in tables:
        for row in conn.execute(f"SELECT * FROM [{table}]"):
            found.extend(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
    conn.close()
    return "\n".join(found)


def file_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def test_erase_leaves_nothing_of_the_user_in_the_tables_or_the_file(tmp_path, stand_in):
    db = alice_and_bob(tmp_path, stand_in)
    before = everything_in(db)
    assert all(secret in before for secret in ALICE_SECRETS)  # the test is not vacuous
    with memport.Store(db) as store:
        bob_vectors = store.conn.execute("SELECT count(*) FROM embeddings WHERE memory_uid LIKE '%bob%'").fetchone()[0]

    result = run("erase", "--db", db, "--user", "user_alice", "--yes")

    assert result.exit_code == 0, result.output
    assert "erased 3 memories, 2 relations, 2 nodes of 'user_alice'" in result.output
    assert "the backup made before erasing was removed" in result.output
    after = everything_in(db)
    for secret in ALICE_SECRETS:
        assert secret not in after
        assert secret.encode() not in file_bytes(db)
    with memport.Store(db) as store:
        assert sorted(json.loads(n)["key"] for (n,) in store.conn.execute("SELECT native FROM memories")) == ["bob_fact", "bob_pet"]
        # Bob keeps his user node, the topic his edge names, his edge, his vectors and the cached
        # vector of the text he shared with Alice; Alice's own cached texts are gone
        assert sorted(json.loads(n)["id"] for (n,) in store.conn.execute("SELECT native FROM nodes")) == ["bob", "topic_python"]
        assert store.counts()["relations"] == 1
        assert store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == bob_vectors == 2
        cached = {r[0] for r in store.conn.execute("SELECT text_sha256 FROM embedding_cache")}
        assert cached == {r[0] for r in store.conn.execute("SELECT text_sha256 FROM embeddings")}
        assert store.search_text("xyzzy") == [] and [r.title for r in store.search_text("Tofu")] == ["bob_pet"]
        runs = store.conn.execute("SELECT operation, source, finished_at, counts, backup FROM import_runs ORDER BY run_id").fetchall()
    assert "[erased]" in runs[0][1]  # the import from Alice's folder: its source redacted, and says so
    operation, _, finished, counts, backup = runs[-1]
    assert operation == "erase" and finished is not None and backup is None and "user" not in json.loads(counts)
    assert json.loads(counts) == {
        "memories": 3,
        "relations": 2,
        "nodes": 2,
        "documents": 0,
        "chunks": 0,
        "pending": 0,
        "messages": 0,
        "embeddings": 3,
        "cached_vectors": 2,
        "runs_redacted": 1,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["converted.json", "exports", "k2", "memport.db"]


def test_keep_backup_says_the_backup_still_holds_the_erased_data(tmp_path, stand_in):
    db = alice_and_bob(tmp_path, stand_in)
    os.chmod(db, 0o600)
    result = run("erase", "--db", db, "--user", "user_alice", "--yes", "--keep-backup", "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    backup = Path(report["backup"])
    assert backup.name.startswith("memport.db.bak-") and oct(backup.stat().st_mode & 0o777) == "0o600"
    with memport.Store(backup, readonly=True) as old:
        assert old.counts()["memories"] == 5  # everything, Alice's included
    text = run("erase", "--db", db, "--user", "bob", "--yes", "--keep-backup")
    assert "still holds everything erased" in text.output


def test_erasing_a_user_with_no_data_does_nothing_and_says_so(tmp_path, stand_in):
    db = alice_and_bob(tmp_path, stand_in)
    before = db.read_bytes()
    runs = memport.Store(db, readonly=True).runs()
    result = run("erase", "--db", db, "--user", "nobody", "--yes")
    assert result.exit_code == 0 and "nothing of 'nobody'" in result.output and "no backup made" in result.output
    assert db.read_bytes() == before and memport.Store(db, readonly=True).runs() == runs
    assert not list(tmp_path.glob("*.bak-*"))


def test_erase_asks_first(tmp_path, stand_in):
    db = alice_and_bob(tmp_path, stand_in)
    before = db.read_bytes()
    refused = run("erase", "--db", db, "--user", "user_alice")  # stdin is not a terminal here
    assert refused.exit_code == 2 and "pass --yes" in refused.output and "3 memories" in refused.output
    assert db.read_bytes() == before and not list(tmp_path.glob("*.bak-*"))


def test_export_by_user_is_what_erase_removes_and_the_nodes_it_names(tmp_path, stand_in):
    db = alice_and_bob(tmp_path, stand_in)
    out = tmp_path / "alice"
    result = run("export", "--db", db, "--to", "kagura", "-o", out, "--user", "user_alice", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    exported = memport.read(out)
    # her three memories (the Tribal entry converted back), her node, her topic and the shared
    # topic her edge names, her two edges
    assert sorted(m.key for m in exported.records.memories) == ["converted", "diary", "shared_fact"]
    assert sorted(str(n.id) for n in exported.records.nodes) == ["alice-only-topic", "topic_python", "user_alice"]
    assert len(exported.records.relations) == 2
    assert [r["operation"] for r in report["runs"]] == ["import"]  # the run whose source and header name her
    assert report["runs"][0]["header"]["user_id"] == "user_alice"
    assert memport.validate(out).errors == []
    with memport.Store(db, readonly=True) as store:
        everything = select(store, ["user_alice"])
        erased = select(store, ["user_alice"], erasing=True)
    assert {k: v for k, v in everything.uids.items() if k != "nodes"} == {k: v for k, v in erased.uids.items() if k != "nodes"}
    assert set(everything.uids["nodes"]) - set(erased.uids["nodes"]) == {'kagura:nodes:["node","topic_python"]'}


def test_export_by_user_narrowed_by_the_other_filters(tmp_path, stand_in):
    db = alice_and_bob(tmp_path, stand_in)
    out = tmp_path / "alice.json"
    result = run("export", "--db", db, "--to", "tribal", "-o", out, "--user", "user_alice", "--tag", "nothing-has-this")
    assert result.exit_code == 0
    assert json.loads(out.read_text())["entries"] == []


def big_store(tmp_path: Path) -> Path:
    """A store of about 60 MB (graph nodes with large data): a backup of it takes a while."""
    graph = [*KAGURA_NODES, *({**KAGURA_NODES[1], "id": f"blob{i}", "data": {"blob": f"{i}" * 1_000_000}} for i in range(60))]
    bundle = write_kagura(tmp_path / "big", [KAGURA_PERSISTENT], graph)
    db = tmp_path / "memport.db"
    with memport.Store(db) as store:
        memport.import_bundle(bundle, store)
    return db


def litter(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".memport-" in p.name or ".bak-" in p.name)


def test_a_backup_killed_midway_leaves_no_backup_and_its_litter_is_swept_by_the_next_run(tmp_path):
    db = big_store(tmp_path)
    command = [sys.executable, "-m", "memport", "erase", "--db", str(db), "--user", "user_alice", "--yes"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not litter(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = litter(tmp_path)
    assert left and all(".memport-" in name for name in left), left  # killed inside the backup: no .bak-* was ever renamed into place
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("SELECT count(*) FROM memories WHERE user_id = 'user_alice'").fetchone()[0] == 1  # nothing erased yet
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert litter(tmp_path) == []


def test_disk_full_during_the_backup_of_import_clear_leaves_nothing(tmp_path, small_disk):
    made = tmp_path / "made.db"
    memories = [memory(f"k{i}", f"memory {i} " + "words " * 60, "user_alice") for i in range(1500)]
    with memport.Store(made) as store:
        memport.import_bundle(write_kagura(tmp_path / "k", memories), store)
    size = made.stat().st_size
    disk = small_disk(size * 3 // 2 // 1024)  # room for the store, not for its backup too
    db = disk / "memport.db"
    db.write_bytes(made.read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "memport", "import", str(write_kagura(tmp_path / "one", [KAGURA_PERSISTENT])), "--db", str(db), "--clear"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stderr.startswith("memport: disk full while writing ")
    assert "memport.db.bak-" in result.stderr and "internal error" not in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in disk.iterdir()) == ["memport.db"] and db.read_bytes() == made.read_bytes()


@pytest.mark.parametrize("keep", [False, True])
def test_the_library_erases_the_same_way(tmp_path, stand_in, keep):
    db = alice_and_bob(tmp_path, stand_in)
    with memport.Store(db) as store:
        report = store.erase_user("user_alice", keep_backup=keep)
    assert report["removed"]["memories"] == 3 and (report["backup"] is not None) == keep
    assert b"xyzzy-alice-diary" not in file_bytes(db)
