"""Memory as Parquet: the schema and its docs, datasets from stores and bundles, back again exactly,
queries with DuckDB and Dask, the CLI, and what a missing extra says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from native import KAGURA_PERSISTENT, KAGURA_WORKING, write_kagura

import memport
from memport.cli import cli
from memport.exporter import export
from memport.parquet import import_parquet, read_parquet, to_parquet
from memport.parquet.schema import SCHEMA_VERSION, TABLES, schema_markdown
from memport.store import TABLE_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
NATIVE_FORMATS = ("kagura", "tribal", "tribal-jsonl", "doclea")


def run(*args: object):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def filled_store(path: Path, src: dict[str, Path], embedder=None) -> memport.Store:
    """A store holding every sample bundle (and, given an embedder, a vector for every memory)."""
    store = memport.Store(path)
    for bundle in src.values():
        memport.import_bundle(bundle, store)
    if embedder is not None:
        memport.reembed(store, embedder, progress=False)
    return store


def exported_bytes(store: memport.Store, root: Path) -> dict[str, dict[str, bytes]]:
    """Every native format the store exports, as {format: {file: bytes}}."""
    found = {}
    root.mkdir()
    for fmt in NATIVE_FORMATS:
        out = root / fmt
        export(store, fmt, out, exported_at=WHEN)
        files = sorted(out.rglob("*")) if out.is_dir() else [out]
        found[fmt] = {str(f.relative_to(root)): f.read_bytes() for f in files if f.is_file()}
    assert all(found.values())
    return found


def test_schema_doc_is_generated_from_the_code():
    assert (ROOT / "docs" / "parquet.md").read_text() == schema_markdown()


def test_the_store_reads_what_the_schema_lists():
    """Store.table_rows gives the record tables' columns in order (its rowid is their position)."""
    for kind in ("memories", "relations", "nodes", "documents", "chunks", "pending"):
        assert [c.name for c in TABLES[kind]] == [*TABLE_COLUMNS[kind][:-1], "position"], kind


def test_a_store_as_parquet_has_real_types_partitions_and_a_manifest(tmp_path, src, stand_in):
    store = filled_store(tmp_path / "a.db", src, stand_in)
    result = to_parquet(store, tmp_path / "ds")
    assert result["counts"] == {
        "memories": 9,
        "relations": 4,
        "embeddings": 9,
        "fingerprints": 1,
        "runs": 4,
        "nodes": 2,
        "documents": 1,
        "chunks": 1,
        "pending": 1,
    }
    manifest = json.loads((tmp_path / "ds" / "_memport.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION and manifest["origins"] == ["doclea", "kagura", "tribal"]
    paths = sorted(f["path"] for f in manifest["tables"]["memories"]["files"])
    assert paths == [
        "memories/format=doclea/user=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
        "memories/format=kagura/user=user_alice/part-0.parquet",
        "memories/format=tribal/user=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
    ]
    schema = pq.read_schema(tmp_path / "ds" / paths[1])
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("origin").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("scope").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.metadata[b"memport.schema_version"] == str(SCHEMA_VERSION).encode()
    vectors = pq.read_table(tmp_path / "ds" / manifest["tables"]["embeddings"]["files"][0]["path"])
    assert vectors.schema.field("vector").type == pa.list_(pa.float32(), stand_in.dimension)
    kagura = pq.read_table(tmp_path / "ds" / paths[1]).to_pylist()
    profile = next(row for row in kagura if row["title"] == "profile")
    assert profile["tags"] == ["profile", "language"] and profile["created_at"].tzinfo is not None
    assert json.loads(profile["native"]) == store.native("memories", profile["uid"])
    # the same store gives the same bytes again (deterministic: no wall clock, sorted partitions)
    to_parquet(store, tmp_path / "again")
    for f in manifest["tables"]["memories"]["files"]:
        assert (tmp_path / "again" / f["path"]).read_bytes() == (tmp_path / "ds" / f["path"]).read_bytes()


def test_without_the_adbc_driver_a_store_gives_the_same_tables(tmp_path, src, stand_in):
    """A store in memory has no file for the driver: it is read through the sqlite3 module, which
    must give the very tables the driver gives."""
    on_disk = filled_store(tmp_path / "a.db", src, stand_in)
    in_memory = filled_store(Path(":memory:"), src, stand_in)
    assert on_disk.arrow_batches("memories") is not None and in_memory.arrow_batches("memories") is None
    to_parquet(on_disk, tmp_path / "driver")
    to_parquet(in_memory, tmp_path / "rows")
    for table in ("memories", "relations", "nodes", "documents", "chunks", "pending", "embeddings", "fingerprints"):
        left, right = read_parquet(tmp_path / "driver").manifest, read_parquet(tmp_path / "rows").manifest
        assert [f.relative_to(left.path) for f in left.files(table)] == [f.relative_to(right.path) for f in right.files(table)]
        for a, b in zip(left.files(table), right.files(table)):
            assert pq.read_table(a).equals(pq.read_table(b)), (table, a)


@pytest.mark.parametrize("bulk", [False, True], ids=["row-by-row", "bulk"])
def test_a_store_exported_to_parquet_and_imported_exports_the_same_bytes(tmp_path, src, stand_in, monkeypatch, bulk):
    """... as a small import, and as a large one (indexes built once at the end: Store.bulk_load)."""
    from memport.parquet import load

    original = filled_store(tmp_path / "a.db", src, stand_in)
    to_parquet(original, tmp_path / "ds")
    monkeypatch.setattr(load, "BULK_RECORDS", 0 if bulk else 10**9)
    copy = memport.Store(tmp_path / "b.db")
    result = import_parquet(tmp_path / "ds", copy)
    assert (result["inserted"], result["total"], result["vectors"], result["needs_reembedding"]) == (18, 18, 9, 0)
    assert result["origins"]["kagura"]["inserted"] == 8
    assert exported_bytes(copy, tmp_path / "from-copy") == exported_bytes(original, tmp_path / "from-original")
    assert copy.counts() == original.counts()
    fingerprint = original.setting("embedding_fingerprint")
    assert copy.setting("embedding_fingerprint") == fingerprint
    assert copy.vectors(fingerprint) == original.vectors(fingerprint)
    # without its vectors, every memory needs embedding
    bare = import_parquet(tmp_path / "ds", memport.Store(tmp_path / "c.db"), vectors="drop")
    assert (bare["vectors"], bare["needs_reembedding"]) == (0, 9)
    # importing it again changes nothing; a dry run says so first
    assert import_parquet(tmp_path / "ds", copy, dry_run=True)["unchanged"] == 18
    assert import_parquet(tmp_path / "ds", copy)["unchanged"] == 18


def test_a_dataset_merges_like_its_bundle(tmp_path):
    """Into a store that differs: strategies as for a bundle, all origins in one transaction."""
    store = memport.Store(tmp_path / "a.db")
    memport.import_bundle(write_kagura(tmp_path / "old", [dict(KAGURA_PERSISTENT, value="old")]), store)
    to_parquet(write_kagura(tmp_path / "new", [dict(KAGURA_PERSISTENT, value="new"), dict(KAGURA_WORKING)]), tmp_path / "ds")
    before = (store.generation(), store.counts())
    with pytest.raises(memport.ConflictError, match="1 record"):
        import_parquet(tmp_path / "ds", store, strategy="error")
    assert (store.generation(), store.counts()) == before  # nothing written, not even the new record
    assert import_parquet(tmp_path / "ds", store, dry_run=True)["skipped"] == 1
    result = import_parquet(tmp_path / "ds", store, strategy="overwrite")
    assert (result["updated"], result["inserted"]) == (1, 1) and Path(result["backup"]).exists()
    assert sorted(m["value"] for m in store.natives("memories")) == ["new", KAGURA_WORKING["value"]]


def test_the_store_order_comes_back_across_partitions(tmp_path):
    """Users interleaved record by record: one file per user, yet exports keep the store's order."""
    records = [dict(KAGURA_PERSISTENT, key=f"k{i}", user_id=f"user_{i % 3}", value=f"v{i}") for i in range(30)]
    store = memport.Store(tmp_path / "a.db")
    memport.import_bundle(write_kagura(tmp_path / "k", records), store)
    to_parquet(store, tmp_path / "ds")
    assert len(list((tmp_path / "ds" / "memories" / "format=kagura").iterdir())) == 3
    copy = memport.Store(tmp_path / "b.db")
    import_parquet(tmp_path / "ds", copy)
    assert exported_bytes(copy, tmp_path / "b") == exported_bytes(store, tmp_path / "a")


@pytest.mark.parametrize("fmt", ["kagura", "tribal", "tribal-jsonl", "doclea"])
def test_read_parquet_gives_the_dataframes_a_bundle_gives(tmp_path, src, fmt):
    to_parquet(src[fmt], tmp_path / "ds")
    dataset = memport.read_parquet(tmp_path / "ds")
    bundle = memport.read(src[fmt])
    (origin,) = dataset.origins
    for kind in ("memories", "relations", "nodes", "documents", "chunks", "pending"):
        pd.testing.assert_frame_equal(dataset.bundle(origin).frame(kind), bundle.frame(kind))
    joined = dataset.memories
    assert joined["origin"].tolist() == [origin] * len(bundle.memories)
    pd.testing.assert_frame_equal(joined.drop(columns="origin"), bundle.memories)
    assert dataset.counts()["memories"] == len(bundle.records.memories)


def test_a_converted_bundle_keeps_every_record_even_what_an_import_refuses(tmp_path):
    """Duplicates, an invalid record and a lone surrogate: all rows; the derived columns are UTF-8,
    the native JSON exact."""
    records = [
        dict(KAGURA_PERSISTENT, key="same", value="first"),
        dict(KAGURA_PERSISTENT, key="same", value="second"),
        dict(KAGURA_WORKING, key="odd\udc80", value="lone \ud800 surrogate"),
        dict(KAGURA_PERSISTENT, key="bad", scope="nowhere"),
    ]
    bundle = write_kagura(tmp_path / "k", records)
    assert to_parquet(bundle, tmp_path / "ds")["counts"]["memories"] == 4
    table = read_parquet(tmp_path / "ds").table("memories")
    assert [json.loads(text) for text in table.column("native").to_pylist()] == records
    assert table.column("title").to_pylist()[2] == "odd\ufffd"
    rebuilt = read_parquet(tmp_path / "ds").bundle("kagura").records.memories
    assert [m.model_dump() for m in rebuilt] == [m.model_dump() for m in memport.read(bundle).records.memories]
    store = memport.Store(tmp_path / "s.db")
    result = import_parquet(tmp_path / "ds", store, dry_run=True)
    # the scope Kagura refuses is kept with its problem; the second "same" is a duplicate key
    assert (result["inserted"], result["skipped"], result["invalid"], result["problems"]) == (3, 1, 0, 1)


def test_duckdb_counts_by_user_agent_type_and_month_match_the_audit(tmp_path, src):
    records = [
        dict(
            KAGURA_PERSISTENT,
            key=f"k{i}",
            user_id=f"user_{i % 4}",
            agent_name=f"agent_{i % 3}",
            created_at=f"2025-{1 + i % 5:02d}-0{1 + i % 9} 08:00:00",
        )
        for i in range(40)
    ]
    store = filled_store(tmp_path / "a.db", {**src, "more": write_kagura(tmp_path / "more", records)})
    to_parquet(store, tmp_path / "ds")
    audit = memport.audit(store)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    memories = f"read_parquet('{tmp_path}/ds/memories/**/*.parquet')"
    for name, column in (("user", "user_id"), ("agent", "agent_name"), ("type", "type")):
        rows = con.sql(f"SELECT coalesce({column}, '(none)') AS {name}, count(*) AS count FROM {memories} GROUP BY ALL").fetchall()
        assert dict(rows) == dict(zip(audit.by[name][name], audit.by[name]["count"])), name
    months = con.sql(
        f"SELECT strftime(created_at, '%Y-%m') AS month, count(*) FROM {memories} WHERE created_at IS NOT NULL GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert [list(row) for row in months] == [[month.strftime("%Y-%m"), n] for month, n in audit.timeline.values.tolist()]
    assert len(months) == 6


def test_the_readme_duckdb_and_dask_snippets_run(tmp_path, src):
    """What README shows for DuckDB and Dask, run as shown against a real dataset."""
    store = filled_store(tmp_path / "a.db", src)
    to_parquet(store, tmp_path / "memory")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Querying the dataset") :]
    snippets = [block.split("```", 1)[0] for block in section.split("```python\n")[1:3]]
    assert "duckdb" in snippets[0] and "dask.dataframe" in snippets[1]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for snippet in snippets:
            namespace: dict = {}
            exec(snippet, namespace)
    finally:
        os.chdir(cwd)
    by_user = dict(namespace["by_user"].items())
    assert by_user == {"user_alice": 5}


def test_cli_export_convert_and_import_a_dataset(tmp_path, src):
    store = filled_store(tmp_path / "a.db", src)
    store.close()
    done = run("export", "--db", tmp_path / "a.db", "--to", "parquet", "-o", tmp_path / "ds", "--json")
    assert done.exit_code == 0 and json.loads(done.output)["counts"]["memories"] == 9
    again = run("export", "--db", tmp_path / "a.db", "--to", "parquet", "-o", tmp_path / "ds")
    assert again.exit_code == 2 and "already exists" in again.output
    assert run("export", "--db", tmp_path / "a.db", "--to", "parquet", "-o", tmp_path / "ds", "--overwrite").exit_code == 0
    assert len(list(tmp_path.glob("ds.bak-*"))) == 1 and not list(tmp_path.glob(".ds.*"))
    filtered = run("export", "--db", tmp_path / "a.db", "--to", "parquet", "-o", tmp_path / "u", "--user", "user_alice")
    assert filtered.exit_code == 2 and "filters are not supported" in filtered.output
    converted = run("convert", src["doclea"], "--to", "parquet", "-o", tmp_path / "doclea-ds", "--loss-report", tmp_path / "loss.json")
    assert converted.exit_code == 0 and "wrote parquet dataset" in converted.output
    assert json.loads((tmp_path / "loss.json").read_text())["losses"] == []
    imported = run("import", tmp_path / "ds", "--db", tmp_path / "b.db", "--json")
    assert imported.exit_code == 0 and json.loads(imported.output)["inserted"] == 18
    assert run("import", src["kagura"], "--db", tmp_path / "c.db", "--json").exit_code == 0  # a Kagura directory is still one


def test_import_tells_a_dataset_from_anything_else(tmp_path, src):
    to_parquet(src["tribal"], tmp_path / "ds")
    manifest = json.loads((tmp_path / "ds" / "_memport.json").read_text())
    # Parquet files without memport's manifest
    (tmp_path / "ds" / "_memport.json").unlink()
    bare = run("import", tmp_path / "ds", "--db", tmp_path / "s.db")
    assert bare.exit_code == 2 and "has Parquet files but no _memport.json: not a memport Parquet dataset" in bare.output
    # a newer schema version
    (tmp_path / "ds" / "_memport.json").write_text(json.dumps(dict(manifest, schema_version=SCHEMA_VERSION + 1)))
    newer = run("import", tmp_path / "ds", "--db", tmp_path / "s.db")
    assert newer.exit_code == 2 and f"Parquet schema version {SCHEMA_VERSION + 1} is not supported (newer than this memport" in newer.output
    # a listed file gone
    (tmp_path / "ds" / "_memport.json").write_text(json.dumps(manifest))
    next((tmp_path / "ds" / "memories").rglob("*.parquet")).unlink()
    gone = run("import", tmp_path / "ds", "--db", tmp_path / "s.db")
    assert gone.exit_code == 2 and "the manifest lists memories/format=tribal/" in gone.output and "which is missing" in gone.output
    # an empty directory is neither
    (tmp_path / "empty").mkdir()
    empty = run("import", tmp_path / "empty", "--db", tmp_path / "s.db")
    assert empty.exit_code == 2 and "not a memory bundle memport knows" in empty.output


def test_user_ids_are_exact_whatever_the_path_makes_of_them(tmp_path):
    users = ["007", "a/b=c", "", "ünï"]
    records = [dict(KAGURA_PERSISTENT, key=f"k{i}", user_id=user) for i, user in enumerate(users)]
    to_parquet(write_kagura(tmp_path / "k", records), tmp_path / "ds")
    folders = sorted(p.name for p in (tmp_path / "ds" / "memories" / "format=kagura").iterdir())
    assert folders == ["user=", "user=%C3%BCn%C3%AF", "user=007", "user=a%2Fb%3Dc"]
    found = duckdb.sql(f"SELECT user_id FROM read_parquet('{tmp_path}/ds/memories/**/*.parquet') ORDER BY position").fetchall()
    assert [row[0] for row in found] == users


def test_a_failed_write_leaves_nothing(tmp_path):
    bundle = write_kagura(tmp_path / "k", [KAGURA_PERSISTENT], raw={"graph.jsonl": b'{"type": "node", "id": 1}\n{broken\n'})
    with pytest.raises(memport.MemportError, match=r"graph\.jsonl, line 2"):
        to_parquet(bundle, tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


def test_a_missing_extra_is_named(tmp_path, src):
    """Without pyarrow (blocked in a child interpreter), the library and the CLI name memport[parquet]."""
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import memport\n"
        "try:\n"
        f"    memport.to_parquet({str(src['tribal'])!r}, {str(tmp_path / 'ds')!r})\n"
        "except memport.MissingExtraError as err:\n"
        "    print(err)\n"
        "from memport.cli import cli\n"
        f"cli(['convert', {str(src['tribal'])!r}, '--to', 'parquet', '-o', {str(tmp_path / 'ds')!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.stdout.strip() == "this needs pyarrow, which memport[parquet] installs: pip install 'memport[parquet]'"
    assert done.returncode == 2 and "memport: this needs pyarrow, which memport[parquet] installs" in done.stderr
    assert not (tmp_path / "ds").exists()
