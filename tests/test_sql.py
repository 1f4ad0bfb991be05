"""The store as SQL and Datasette read it (schema version 7): one spelling of identities and
relation ends across origins, foreign keys, views, Datasette with memport's metadata and plugin,
the migration of a store written at version 6, and search both ways."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from native import DOCLEA_MEMORY, DOCLEA_RELATION, KAGURA_EDGE, KAGURA_NODES, KAGURA_PERSISTENT, doclea_bundle, write_doclea, write_kagura

import memport
from memport.cli import cli
from memport.exporter import export
from memport.keys import uid_key
from memport.store import SearchSyntaxError
from memport.store.datasette import metadata
from memport.store.schema import KINDS, SCHEMA_VERSION, VIEWS

FIXTURE = Path(__file__).parent / "fixtures" / "store-v6"  # see its README.md
BUNDLES = {"kagura": "kagura", "tribal": "tribal.json", "doclea": "doclea.json", "letta": "companion.af"}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def rows(store, sql, *params):
    return store.conn.execute(sql, params).fetchall()


def two_origins(tmp_path: Path) -> tuple[Path, Path]:
    """A Kagura bundle whose edge names a node keyed like a memory, and a Doclea bundle whose
    relation names two memories."""
    node = {"type": "node", "id": "favourite_language", "node_type": "memory", "data": {}, "exported_at": "2025-06-01T12:00:00.124200"}
    edge = dict(KAGURA_EDGE, dst="favourite_language", rel_type="related_to")
    kagura = write_kagura(tmp_path / "kagura", [KAGURA_PERSISTENT], [*KAGURA_NODES, node, KAGURA_EDGE, edge])
    other = dict(DOCLEA_MEMORY, id="mem_QqQqQqQq00000000", title="Rotate the signing keys", content="Every quarter.")
    doclea = write_doclea(tmp_path / "doclea.json", doclea_bundle(memories=[DOCLEA_MEMORY, other], memoryRelations=[DOCLEA_RELATION]))
    return kagura, doclea


# ---------------------------------------------------------------------------------------------
# One spelling, links, views


def test_a_kagura_edge_and_a_doclea_relation_join_their_memories_alike(tmp_path):
    kagura, doclea = two_origins(tmp_path)
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(kagura, store)
        memport.import_bundle(doclea, store)
        joined = rows(
            store,
            "SELECT r.origin, r.source, r.target, m.title FROM relations r "
            "JOIN memories m ON m.origin = r.origin AND m.source_id = r.target ORDER BY r.rowid",
        )
        assert joined == [
            ("kagura", "user_alice", "favourite_language", "favourite_language"),
            ("doclea", "mem_AbCdEfGh12345678", "mem_QqQqQqQq00000000", "Rotate the signing keys"),
        ]
        # composite identities are compact JSON in every format
        assert [uid for (uid,) in rows(store, "SELECT uid FROM relations ORDER BY rowid")] == [
            'kagura:relations:["edge","user_alice","topic_python"]',
            'kagura:relations:["edge","user_alice","favourite_language"]',
            'doclea:relations:["memory","V1StGXR8_Z5jdHi6B-myT"]',
        ]
        # the ends link to the rows they name, by uid
        links = rows(store, "SELECT source_node, target_node, source_memory, target_memory FROM relations ORDER BY rowid")
        assert links[1] == ('kagura:nodes:["node","user_alice"]', 'kagura:nodes:["node","favourite_language"]', None, None)
        assert links[2] == (None, None, "doclea:memories:mem_AbCdEfGh12345678", "doclea:memories:mem_QqQqQqQq00000000")
        assert rows(store, "PRAGMA foreign_key_check") == []
        assert {(row[2], row[3]) for row in rows(store, "PRAGMA foreign_key_list(relations)")} == {
            ("import_runs", "run_id"),
            ("memories", "source_memory"),
            ("memories", "target_memory"),
            ("nodes", "source_node"),
            ("nodes", "target_node"),
        }
        labels = rows(store, "SELECT source_label, target_label FROM relations_view ORDER BY source_label, target_label")
        assert labels == [("Use JWT for auth", "Rotate the signing keys"), ("user_alice", "favourite_language"), ("user_alice", "python")]


def test_a_reference_that_names_nothing_is_kept_and_foreign_key_check_lists_it(tmp_path):
    dangling = dict(DOCLEA_RELATION, target_id="mem_gone")
    bundle = write_doclea(tmp_path / "d.json", doclea_bundle(memoryRelations=[dangling]))
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(bundle, store)
        assert rows(store, "SELECT target, target_memory FROM relations") == [("mem_gone", "doclea:memories:mem_gone")]
        assert [(table, parent) for table, _, parent, _ in rows(store, "PRAGMA foreign_key_check")] == [("relations", "memories")]
        audit = memport.audit(store)
    assert audit.dangling.reveal()[["end", "missing"]].values.tolist() == [["target", "mem_gone"]]


def test_every_table_and_view_a_new_store_has_is_documented():
    from memport.store.schema import schema_markdown

    with memport.Store(":memory:") as store:
        views = {name for (name,) in rows(store, "SELECT name FROM sqlite_master WHERE type = 'view'")}
        tables = {name for (name,) in rows(store, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'memories_fts%'")}
    assert views == set(VIEWS)
    document = schema_markdown()
    assert all(f"## {name}\n" in document for name in tables | views)


# ---------------------------------------------------------------------------------------------
# A store of version 6, migrated


@pytest.fixture
def v6(tmp_path) -> Path:
    """A copy of the store written at schema version 6 (tests/fixtures/store-v6)."""
    path = tmp_path / "memport.db"
    shutil.copy(FIXTURE / "memport.db", path)
    return path


def test_a_version_6_store_is_spelled_anew_and_linked(v6):
    old = sqlite3.connect(v6)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 6
    kept_before = {
        kind: old.execute(f"SELECT rowid, native, content_key, line_key FROM {kind} ORDER BY rowid").fetchall() for kind in KINDS
    }
    vectors_before = sorted(old.execute("SELECT vector FROM embeddings").fetchall())
    assert ('"user_alice"', '"topic_python"') in old.execute("SELECT source, target FROM relations").fetchall()
    old.close()
    with memport.Store(v6) as store:
        assert rows(store, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert rows(store, "SELECT uid, source, target, source_memory, target_memory, source_node, target_node FROM relations ORDER BY rowid") == [
            ('kagura:relations:["edge","user_alice","topic_python"]', "user_alice", "topic_python", None, None, 'kagura:nodes:["node","user_alice"]', 'kagura:nodes:["node","topic_python"]'),
            ('kagura:relations:["edge","user_alice","favourite_language"]', "user_alice", "favourite_language", None, None, 'kagura:nodes:["node","user_alice"]', 'kagura:nodes:["node","favourite_language"]'),
            ('kagura:relations:["edge","user_alice",42]', "user_alice", "42", None, None, 'kagura:nodes:["node","user_alice"]', 'kagura:nodes:["node",42]'),
            ('doclea:relations:["memory","V1StGXR8_Z5jdHi6B-myT"]', "mem_AbCdEfGh12345678", "mem-1", "doclea:memories:mem_AbCdEfGh12345678", "doclea:memories:mem-1", None, None),
            ('doclea:relations:["memory","r2"]', "mem-1", "mem_AbCdEfGh12345678", "doclea:memories:mem-1", "doclea:memories:mem_AbCdEfGh12345678", None, None),
            ('doclea:relations:["cross","x1"]', "mem_AbCdEfGh12345678", "src/auth/jwt.ts:function:issueToken", "doclea:memories:mem_AbCdEfGh12345678", None, None, None),
        ]  # fmt: skip
        for kind in KINDS:  # each row in its place, its native JSON and content keys as they were; uid keys of the new uids
            assert rows(store, f"SELECT rowid, native, content_key, line_key FROM {kind} ORDER BY rowid") == kept_before[kind], kind
            assert all(key == uid_key(uid) for uid, key in rows(store, f"SELECT uid, uid_key FROM {kind}")), kind
        assert rows(store, "SELECT uid, document FROM chunks") == [("doclea:chunks:c1", "doclea:documents:doc_1")]
        assert rows(store, "SELECT title, content, created_at FROM pending") == [(None, None, "2025-06-01T11:58:20.000000Z")]
        assert rows(store, "SELECT source_id, title FROM nodes ORDER BY rowid")[-1] == ("42", "the answer")
        # the vectors follow their records; the uid a decision named is the new one
        assert sorted(rows(store, "SELECT vector FROM embeddings")) == vectors_before
        assert rows(store, "SELECT count(memory), count(message), count(*) FROM embeddings") == [(12, 6, 18)]
        assert json.loads(rows(store, "SELECT decisions FROM import_runs WHERE format = 'doclea'")[0][0]) == [
            'doclea:relations:["memory","V1StGXR8_Z5jdHi6B-myT"]'
        ]
        assert rows(store, "PRAGMA foreign_key_check") == [] and rows(store, "PRAGMA integrity_check") == [("ok",)]
        # the full-text index still finds what it found, and is kept current by its triggers again
        assert [hit.title for hit in store.search_text("Python")][:2] == ["profile", "favourite_language"]
        assert len(rows(store, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'memories'")) == 3
        assert rows(store, "SELECT count(*) FROM memories_fts") == rows(store, "SELECT count(*) FROM memories")


@pytest.mark.parametrize("origin", list(BUNDLES))
def test_a_migrated_store_plans_and_exports_its_bundles_as_before(v6, tmp_path, origin):
    name = BUNDLES[origin]
    with memport.Store(v6) as store:
        summary = memport.plan(FIXTURE / name, store).summary()  # the same records, recognised by their new uid keys
        assert summary["unchanged"] == summary["total"] > 0
        with store.transaction():  # this origin's records alone: an export of exactly what its import brought
            for kind in KINDS:
                store.conn.execute(f"DELETE FROM {kind} WHERE origin <> ?", [origin])
        fmt = memport.formats.family(origin).name
        export(store, fmt, tmp_path / name, exported_at="keep")
    back, original = tmp_path / name, FIXTURE / name
    if original.is_dir():
        assert {p.name: p.read_bytes() for p in back.iterdir()} == {p.name: p.read_bytes() for p in original.iterdir()}
    else:
        assert back.read_bytes() == original.read_bytes()


def test_a_migrated_store_erases_a_user_with_the_relations_that_name_them(v6):
    with memport.Store(v6) as store:
        removed = store.erase_user("user_alice")["removed"]
        # her Kagura memories and vectors, her three edges (found by their ends, spelled anew) and the
        # four nodes only they name
        assert (removed["memories"], removed["embeddings"], removed["relations"], removed["nodes"]) == (5, 5, 3, 4)
        assert rows(store, "SELECT origin, count(*) FROM relations GROUP BY origin") == [("doclea", 3)]
        assert rows(store, "SELECT count(*) FROM nodes") == [(0,)]


def test_what_someone_added_to_a_version_6_store_by_hand_survives_its_migration(v6):
    added = sqlite3.connect(v6)
    added.execute("ALTER TABLE memories ADD COLUMN my_note TEXT")
    added.execute("UPDATE memories SET my_note = 'mine' WHERE origin = 'tribal'")
    added.execute("CREATE INDEX my_index ON memories(my_note)")
    added.execute("CREATE VIEW my_view AS SELECT uid, my_note FROM memories WHERE my_note IS NOT NULL")
    added.commit()
    added.close()
    with memport.Store(v6) as store:
        assert [note for _, note in rows(store, "SELECT * FROM my_view")] == ["mine", "mine"]
        assert rows(store, "SELECT type FROM sqlite_master WHERE name = 'my_index'") == [("index",)]


def test_a_version_6_store_opened_read_only_is_migrated_in_memory_only(v6):
    with memport.Store(v6, readonly=True) as store:
        assert rows(store, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert rows(store, "SELECT count(*) FROM relations_view") == [(6,)]
    assert sqlite3.connect(v6).execute("PRAGMA user_version").fetchone()[0] == 6


# ---------------------------------------------------------------------------------------------
# Datasette


def datasette(path: Path):
    """Datasette on the store file with memport's metadata and plugin (which Datasette loads by
    itself where memport is installed beside it)."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    import memport.store.datasette_plugin as plugin

    if not pm.is_registered(plugin):
        pm.register(plugin, name="memport")
    return Datasette([str(path)], metadata=metadata(path.stem))


def get(ds, path: str):
    response = asyncio.run(ds.client.get(path))
    assert response.status_code == 200, (path, response.text[:500])
    return response


def test_datasette_shows_tables_views_facets_and_links(v6):
    with memport.Store(v6) as store:
        by_origin = dict(rows(store, "SELECT origin, count(*) FROM memories GROUP BY origin"))
    ds = datasette(v6)
    index = get(ds, "/memport.json").json()
    tables = {t["name"]: t for t in index["tables"]}
    assert {v["name"] for v in index["views"]} == set(VIEWS)
    assert tables["embedding_cache"]["hidden"] and tables["settings"]["hidden"] and not tables["memories"]["hidden"]
    assert tables["memories"]["fts_table"] == "memories_fts"  # a search box
    # facets from the metadata, on a table and on a view
    facets = get(ds, "/memport/memories.json?_size=0").json()["facet_results"]
    assert {f["value"]: f["count"] for f in facets["origin"]["results"]} == by_origin
    view = get(ds, "/memport/relations_view.json?_size=0").json()["facet_results"]
    assert {f["value"]: f["count"] for f in view["origin"]["results"]} == {"kagura": 3, "doclea": 3}
    # foreign keys render as links to the rows they name, labelled
    page = get(ds, "/memport/relations").text
    assert '<a href="/memport/nodes/kagura~3Anodes~3A~5B~22node~22~2C42~5D">42</a>' in page
    assert '<a href="/memport/memories/doclea~3Amemories~3Amem-1">Deploy \U0001f680</a>' in page
    labelled = get(ds, "/memport/chunks.json?_labels=on&_shape=array").json()
    assert labelled[0]["document"] == {"value": "doclea:documents:doc_1", "label": "Intro"}
    # a record's row: every column, its native JSON included, and the rows that link to it
    row = get(ds, "/memport/memories/doclea~3Amemories~3Amem-1.json?_shape=objects&_extras=foreign_key_tables").json()
    assert json.loads(row["rows"][0]["native"])["id"] == "mem-1"
    incoming = {(t["other_table"], t["other_column"]): t["count"] for t in row["foreign_key_tables"]}
    assert incoming[("relations", "source_memory")] == 1 and incoming[("embeddings", "memory")] == 1
    # memport's plugin links the uids of a view to their rows
    links = re.findall(r'<td class="col-uid type-str"><a href="([^"]+)">', get(ds, "/memport/memories_view").text)
    assert len(links) == sum(by_origin.values()) and links[0].startswith("/memport/memories/")
    assert get(ds, links[0]).status_code == 200


def test_datasette_runs_the_canned_queries(v6):
    memport.Store(v6).close()  # migrated
    ds = datasette(v6)
    found = get(ds, "/memport/search.json?_shape=array&query=python").json()
    assert [r["title"] for r in found][:2] == ["profile", "favourite_language"] and "[Python]" in found[1]["snippet"]
    joined = get(ds, "/memport/relations_and_memories.json?_shape=array").json()
    assert {(r["origin"], r["target"], r["target_label"]) for r in joined if r["target_memory"]} == {
        ("kagura", "favourite_language", "favourite_language"),
        ("doclea", "mem-1", "Deploy \U0001f680"),
        ("doclea", "mem_AbCdEfGh12345678", "Use JWT for auth"),
    }
    record = get(ds, '/memport/record.json?_shape=array&uid=kagura:nodes:["node",42]').json()
    assert [(r["kind"], json.loads(r["native"])["id"]) for r in record] == [("nodes", 42)]
    counts = get(ds, "/memport/counts.json?_shape=array").json()
    assert {(r["kind"], r["origin"]): r["records"] for r in counts}[("messages", "letta")] == 6


def test_the_metadata_file_from_the_command_line(tmp_path):
    out = tmp_path / "metadata.json"
    result = run("datasette-metadata", "--db", tmp_path / "team.db", "-o", out)
    assert result.exit_code == 0 and f"datasette {tmp_path / 'team.db'} --metadata {out}" in result.output
    written = json.loads(out.read_text())
    assert written == metadata("team")  # keyed by the name Datasette gives team.db
    assert written["databases"]["team"]["tables"]["relations"]["columns"]["source_node"].endswith("(links to nodes)")
    assert run("datasette-metadata", "--db", tmp_path / "team.db", "-o", out).exit_code == 2  # no overwrite unless asked
    assert json.loads(run("datasette-metadata", "--db", "memport.db").output)["databases"].keys() == {"memport"}


# ---------------------------------------------------------------------------------------------
# Search both ways


@pytest.fixture
def people(tmp_path) -> memport.Store:
    """Memories of two users with tags and times, and a long one with a secret in it."""
    long_text = "Notes. " + "Nothing to see here. " * 20 + "my password is hunter2 and the Python build needs it. " + "More. " * 30
    memories = [
        dict(KAGURA_PERSISTENT, key="lang", value="Alice prefers Python for data work", metadata={"tags": ["work"]}),
        dict(KAGURA_PERSISTENT, key="pet", value="Bob has a cat named Tofu", user_id="user_bob", created_at="2024-01-05 10:00:00"),
        dict(KAGURA_PERSISTENT, key="py", value="Bob writes Python scripts", user_id="user_bob", metadata={"tags": ["hobby"]}),
        dict(KAGURA_PERSISTENT, key="ops", value=long_text, user_id="user_carol"),
        dict(KAGURA_PERSISTENT, key="odd", value='C++ (advanced) "quoted" - NOT AND OR: a*b', user_id="user_carol"),
        dict(KAGURA_PERSISTENT, key="deploy", value="Run migrations.\r\nThen restart.\u2028Done.", user_id="user_carol"),
    ]
    store = memport.Store(tmp_path / "people.db")
    memport.import_bundle(write_kagura(tmp_path / "k", memories, metadata=None), store)
    yield store
    store.close()


def titles(frame) -> list[str]:
    return frame["title"].tolist()


def test_keyword_search_with_filters_snippets_and_any_query(people):
    found = memport.search_text(people, "python")  # bm25: the shorter text first
    assert titles(found) == ["py", "lang", "ops"] and found["score"].is_monotonic_decreasing
    assert list(found.columns) == ["uid", "kind", "origin", "score", "title", "snippet", "content", "user_id", "agent_name", "created_at"]
    assert set(found["kind"]) == {"memories"} and str(found["created_at"].dtype) == "datetime64[us, UTC]"
    assert titles(memport.search_text(people, "pyth*")) == ["py", "lang", "ops"]  # a prefix
    assert titles(memport.search_text(people, "python", filters=memport.Filters(users=["user_bob"]))) == ["py"]
    assert titles(memport.search_text(people, "python", filters=memport.Filters(tags=["work", "hobby"]))) == ["py", "lang"]
    assert titles(memport.search_text(people, "bob", filters=memport.Filters(created_until="2024"))) == ["pet"]
    assert titles(memport.search_text(people, "python", k=1)) == ["py"]
    # what is typed is words, never FTS5 syntax: no query is an error
    for query in ['"quoted', "NOT", "AND OR", "C++ (advanced)", "a*b", "-", ":", "(", "*"]:
        memport.search_text(people, query)
    assert titles(memport.search_text(people, 'NOT AND OR "quoted"')) == ["odd"]
    with pytest.raises(memport.MemportError, match="the query is empty"):
        memport.search_text(people, "  ")
    # FTS5 syntax when asked, and a clear error when it is wrong
    assert sorted(titles(memport.search_text(people, "tofu OR scripts", syntax=True))) == ["pet", "py"]
    with pytest.raises(SearchSyntaxError, match="not a query in FTS5 syntax"):
        memport.search_text(people, '"unbalanced', syntax=True)


def test_a_snippet_is_around_the_match_and_never_shows_a_secret(people):
    (hit,) = memport.search_text(people, "build").reveal().to_dict("records")
    assert hit["snippet"].startswith("…") and hit["snippet"].endswith("…") and "Python build" in hit["snippet"]
    # the cut would have left the password without "my password is": the snippet keeps them together
    assert "my password is hunter2" in hit["snippet"]
    shown = repr(memport.search_text(people, "build")) + memport.search_text(people, "build")._repr_html_()
    assert "hunter2" not in shown and "[masked: password, 7 chars]" in shown


def test_search_by_meaning_with_filters_and_a_minimum_score(people, stand_in):
    memport.reembed(people, stand_in, progress=False)
    everything = memport.search(people, "python", k=10, model=stand_in)
    assert len(everything) == 6 and everything["score"].is_monotonic_decreasing
    bob = memport.search(people, "python", k=10, model=stand_in, filters=memport.Filters(users=["user_bob"]))
    assert sorted(titles(bob)) == ["pet", "py"]
    assert bob["score"].tolist() == everything[everything["user_id"] == "user_bob"]["score"].tolist()
    floor = everything["score"].iloc[2]
    assert titles(memport.search(people, "python", k=10, model=stand_in, min_score=floor)) == titles(everything)[:3]
    assert memport.search(people, "python", model=stand_in, filters=memport.Filters(tags=["nothing"])).empty


def test_a_search_sees_what_was_written_since_by_this_store_or_another(people, stand_in, tmp_path):
    memport.reembed(people, stand_in, progress=False)
    before = memport.search(people, "tofu", k=10, model=stand_in)
    with memport.Store(people.path) as other:  # another connection to the same file
        memport.import_bundle(write_kagura(tmp_path / "more", [dict(KAGURA_PERSISTENT, key="new", value="tofu")], metadata=None), other)
        memport.reembed(other, stand_in, progress=False)
    after = memport.search(people, "tofu", k=10, model=stand_in)
    assert len(after) == len(before) + 1 and titles(after)[0] == "new"  # the same text as the query: similarity 1
    with people.transaction():
        people.conn.execute("DELETE FROM embeddings WHERE memory_uid LIKE '%\"new\"]'")
    assert titles(memport.search(people, "tofu", k=10, model=stand_in)) == titles(before)


def test_messages_are_found_by_meaning_and_filtered_by_agent(tmp_path, stand_in):
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(FIXTURE / "companion.af", store)
        memport.import_bundle(FIXTURE / "kagura", store)
        memport.reembed(store, stand_in, progress=False)
        agents = {name for (name,) in rows(store, "SELECT DISTINCT agent_name FROM messages")}
        found = memport.search(store, "hello", k=100, model=stand_in, filters=memport.Filters(agents=sorted(agents)))
        assert set(found["kind"]) == {"memories", "messages"} and set(found["agent_name"]) == agents
        alice = memport.search(store, "hello", k=100, model=stand_in, filters=memport.Filters(users=["user_alice"]))
        assert set(alice["kind"]) == {"memories"}  # a message has no user


def test_the_model_stays_loaded_per_name_and_device():
    from memport import embed

    assert embed.load_embedder("all-MiniLM-L6-v2") is embed.load_embedder("sentence-transformers/all-MiniLM-L6-v2")
    assert embed.load_embedder("all-MiniLM-L6-v2", "cpu") is embed.load_embedder("all-MiniLM-L6-v2", "cpu")


def test_search_from_the_command_line(people, tmp_path):
    db = people.path
    people.close()
    lines = run("search", "python", "--db", db, "--text", "-k", "3").output.splitlines()
    assert len(lines) == 3 and lines[0].endswith('kagura:memories:["persistent","user_bob","global","py"]  py: Bob writes Python scripts')
    assert "hunter2" not in lines[2] and "[masked: password, 7 chars]" in lines[2]  # shown masked, on one line
    as_json = json.loads(run("search", "python", "--db", db, "--text", "--user", "user_bob", "--json").output)
    assert [(r["title"], r["kind"], r["user_id"]) for r in as_json] == [("py", "memories", "user_bob")]
    assert as_json[0]["created_at"] == "2025-05-30T08:15:02.000000Z"
    assert run("search", '"broken', "--db", db, "--text", "--fts").exit_code == 2
    assert "not a query in FTS5 syntax" in run("search", '"broken', "--db", db, "--text", "--fts").output
    assert run("search", "x", "--db", db, "--text", "--min-score", "0.5").exit_code == 2
    assert run("search", "x", "--db", db, "--fts").exit_code == 2
    assert run("search", "zebra", "--db", db, "--text").output == "no results\n"
    (line,) = run("search", "restart", "--db", db, "--text").output.splitlines()  # content never breaks a line
    assert line.endswith("deploy: Run migrations.\\r\\nThen restart.\\u2028Done.")


def test_the_readme_sql_and_search_snippets_run(tmp_path, monkeypatch):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    searching = readme[readme.index("### Searching the store") : readme.index("### The store in SQL and Datasette")]
    in_sql = readme[readme.index("### The store in SQL and Datasette") : readme.index("## Memory as Parquet")]
    (python,) = re.findall(r"```python\n(.*?)```", searching, re.S)
    (sql,) = re.findall(r"```sql\n(.*?)```", in_sql, re.S)
    monkeypatch.chdir(tmp_path)
    kagura, doclea = two_origins(tmp_path)
    with memport.Store("memport.db") as store:
        memport.import_bundle(kagura, store)
        memport.import_bundle(doclea, store)
        memport.reembed(store, progress=False)  # the packaged model, as the snippet's search uses
        assert rows(store, sql) == [
            ("kagura", "related_to", "user_alice", "favourite_language"),
            ("doclea", "supersedes", "mem_AbCdEfGh12345678", "Rotate the signing keys"),
        ]
    exec(python, {"memport": memport})
