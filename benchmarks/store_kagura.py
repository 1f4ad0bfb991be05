"""Benchmark: importing a 1M-record Kagura bundle into the store, and a dry run against it.

All in one run, each measurement in its own child process (peak RSS is that child's):
* bare parse: a loop that only parses each line of memories.jsonl with orjson;
* raw executemany: the very rows memport stored, inserted with sqlite3 executemany into a fresh
  store of the same schema in one transaction, the fastest way SQLite allows (the secondary indexes
  and the full-text index, external content, built once at the end: `rebuild`); and once more
  without any full-text index, for comparison;
* memport import: `memport import BUNDLE --db STORE` into an empty store;
* dry run: `memport import BUNDLE --db STORE --dry-run` with the 1M records already stored, for
  four incoming bundles of 1M memories each, each against its own bare parse:
  - the same bundle again (re-importing an export: every line is one the store holds);
  - a diverged copy, as a later export of an instance that went its own way writes it: every
    record with a new exported_at (Kagura writes the export time into each one), 5% of them edited
    (new value and updated_at), 5% with new keys;
  - a reformatted copy: every record the same, written compactly by another serializer, so that
    no line is byte for byte one the store holds (the dry run then parses every line);
  - another instance's export: 1M memories the store does not hold (other keys), every one of
    them parsed, validated and planned as an insert.
Prints ratios; asserts nothing.

    python benchmarks/store_kagura.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from validate_kagura import generate, run

BARE = """
import sys, orjson
n = 0
with open(sys.argv[1] + "/memories.jsonl", "rb") as f:
    for line in f:
        orjson.loads(line)
        n += 1
print(n)
"""

RAW = """
import sqlite3, sys, time
from memport.store import Store
from memport.store.schema import TABLES
MEMORY_COLUMNS = tuple(TABLES['memories'])
source, target = sys.argv[1], sys.argv[2]
rows = sqlite3.connect(source).execute(f"SELECT {', '.join(MEMORY_COLUMNS)} FROM memories ORDER BY rowid").fetchall()
store = Store(target)
conn = store.conn
start = time.perf_counter()
conn.execute("BEGIN IMMEDIATE")
# the fastest way SQLite allows: the rows in one transaction, the secondary indexes and the
# full-text index (external content) built once at the end; without it (argv[3]) no full-text index
dropped = conn.execute(
    "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'memories' AND type IN ('trigger', 'index') AND sql IS NOT NULL"
).fetchall()
for kind, name, _ in dropped:
    conn.execute(f"DROP {kind.upper()} [{name}]")
conn.executemany(f"INSERT INTO memories ({', '.join(MEMORY_COLUMNS)}) VALUES ({', '.join('?' * len(MEMORY_COLUMNS))})", rows)
for kind, _, sql in dropped:
    if kind == "index" or len(sys.argv) == 3:
        conn.execute(sql)
if len(sys.argv) == 3:
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
conn.execute("COMMIT")
print(time.perf_counter() - start)
"""


def derive(bundle: Path, target: Path, kind: str) -> Path:
    """A copy of ``bundle`` whose memories are diverged, reformatted or new (see the module docstring)."""
    import orjson

    if (target / "metadata.json").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(bundle / "memories.jsonl", "rb") as source, open(target / "memories.jsonl", "wb") as out:
        for i, line in enumerate(source):
            record = json.loads(line)
            if kind == "reformatted":
                out.write(orjson.dumps(record) + b"\n")
                continue
            if kind == "new":
                record["key"] = f"{record['key']}_elsewhere"
            else:
                record["exported_at"] = "2025-07-01T09:30:00.000001"
                if i % 20 == 7:
                    record["value"] = f"{record['value']} (edited)"
                    record["updated_at"] = "2025-06-02 09:00:00"
                elif i % 20 == 13:
                    record["key"] = f"{record['key']}_new"
            out.write((json.dumps(record) + "\n").encode())
    (target / "metadata.json").write_bytes((bundle / "metadata.json").read_bytes())
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data" / "store")
    parser.add_argument("--repeat", type=int, default=3, help="alternate parse and dry run this often; best of each")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    bundle = args.dir / f"kagura-{args.records}"
    if not (bundle / "metadata.json").exists():
        print(f"generating {args.records} memories in {bundle} ...", flush=True)
        generate(bundle, args.records + 2 * (args.records // 98))  # memories.jsonl gets --records lines
        (bundle / "graph.jsonl").unlink()
    n = sum(1 for _ in open(bundle / "memories.jsonl", "rb"))
    db, raw_db = args.dir / "memport.db", args.dir / "raw.db"
    for path in (db, raw_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    import_s, import_rss, out = run([sys.executable, "-m", "memport", "import", str(bundle), "--db", str(db), "--json"])
    result = json.loads(out)
    _, _raw_rss, raw_out = run([sys.executable, "-c", RAW, str(db), str(raw_db)])
    raw_s = float(raw_out)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{raw_db}{suffix}").unlink(missing_ok=True)
    _, _, plain_out = run([sys.executable, "-c", RAW, str(db), str(raw_db), "no-fts"])
    plain_s = float(plain_out)
    incoming = {
        "same": bundle,
        "diverged": derive(bundle, args.dir / f"diverged-{args.records}", "diverged"),
        "reformatted": derive(bundle, args.dir / f"reformatted-{args.records}", "reformatted"),
        "new": derive(bundle, args.dir / f"new-{args.records}", "new"),
    }
    dry_runs = {name: dry_run(path, db, args.repeat) for name, path in incoming.items()}
    parse_s, parse_rss, dry_s, dry_rss, dry = dry_runs["same"]
    print(f"memories: {n}; imported {result['inserted']} (accounting total {result['total']}); dry run: {dry['unchanged']} unchanged")
    print(f"bare orjson parse:     {parse_s:6.2f} s  {n / parse_s:9.0f} records/s  peak RSS {parse_rss} MB")
    print(
        f"raw executemany:       {raw_s:6.2f} s  {n / raw_s:9.0f} records/s  (the same rows into the same tables, prepared in memory; "
        "indexes and the full-text index built once at the end)"
    )
    print(f"  without FTS triggers:{plain_s:6.2f} s  {n / plain_s:9.0f} records/s  (no full-text index at all)")
    print(f"memport import:        {import_s:6.2f} s  {n / import_s:9.0f} records/s  peak RSS {import_rss} MB")
    print(f"memport dry run:       {dry_s:6.2f} s  {n / dry_s:9.0f} records/s  peak RSS {dry_rss} MB")
    print(f"(parse and dry run: best of {args.repeat} alternating runs; RSS is per process, the dry run's worker is a fork of it)")
    print(
        f"import throughput / raw executemany: {raw_s / import_s:.2f}  (target >= 0.50; "
        f"{plain_s / import_s:.2f} against the insert that builds no full-text index)"
    )
    print(f"dry run time / bare parse time:      {dry_s / parse_s:.2f}  (target <= 3.0; peak RSS target <= 400 MB)")
    for name in ("diverged", "reformatted", "new"):
        parse_s, _, dry_s, dry_rss, dry = dry_runs[name]
        counts = ", ".join(f"{dry[k]} {k}" for k in ("unchanged", "inserted", "skipped") if dry[k])
        print(
            f"  {name + ':':13} dry run {dry_s:5.2f} s / parse {parse_s:5.2f} s = {dry_s / parse_s:.2f}  peak RSS {dry_rss} MB  ({counts})"
        )


def dry_run(bundle: Path, db: Path, repeat: int) -> tuple[float, int, float, int, dict]:
    """Bare parse and dry run of one incoming bundle, alternating, best of ``repeat`` each."""
    # one untimed dry run first: the parse baseline re-reads a file the page cache holds, so the
    # dry run gets the store's key index cached too (writing two 1 GB stores evicts it)
    run([sys.executable, "-m", "memport", "import", str(bundle), "--db", str(db), "--json", "--dry-run"])
    parses, dries = [], []
    for _ in range(repeat):  # alternating, so both see the same machine state
        parses.append(run([sys.executable, "-c", BARE, str(bundle)]))
        dries.append(run([sys.executable, "-m", "memport", "import", str(bundle), "--db", str(db), "--json", "--dry-run"]))
    parse_s, parse_rss, _ = min(parses)
    dry_s, _, dry_out = min(dries)
    return parse_s, parse_rss, dry_s, max(r[1] for r in dries), json.loads(dry_out)


if __name__ == "__main__":
    main()
