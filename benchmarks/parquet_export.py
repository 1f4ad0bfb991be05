"""Benchmark: a 1M-memory store exported as a Parquet dataset, next to pyarrow writing the same tables from memory.

All in one run, each measurement in its own child process (peak RSS is that child's, from the kernel):
* memport: ``memport.to_parquet(store, DIR)`` (time measured inside the child, around the call) and
  the CLI ``memport export --db STORE --to parquet -o DIR`` (wall time, interpreter start included);
* pyarrow: every file of that dataset read into memory first (not timed), then the very same tables
  written again with ``pyarrow.parquet.write_table`` (same files, compression and row groups): the
  raw baseline, timed around the writes only.
Alternating, best of N each. The store is a generated Kagura bundle of ``--users`` users, one
after another (``--interleaved``: record by record, so every partition is spread over the whole
table), imported once and kept under benchmarks/data/. Prints the figures and the ratio; asserts
nothing.

    python benchmarks/parquet_export.py [--records 1000000] [--users 1000] [--interleaved] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def run(cmd: list[str]) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS in MB and CPU seconds (user + system) of a child process, its stdout."""
    start = time.perf_counter()
    out = Path(tempfile.gettempdir()) / ".memport-bench-parquet-out"
    pid = os.fork()
    if pid == 0:  # child: exec the command with stdout to a file
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.execvp(cmd[0], cmd)
    _, _status, usage = os.wait4(pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss // 1024, out.read_text(), usage.ru_utime + usage.ru_stime


MEMPORT = """
import sys, time, memport
from memport.parquet import to_parquet
store = memport.Store(sys.argv[1])
start = time.perf_counter()
result = to_parquet(store, sys.argv[2])
print(time.perf_counter() - start, result["counts"]["memories"], result["files"])
"""

BASELINE = """
import json, sys, time
from pathlib import Path
import pyarrow.parquet as pq
from memport.parquet.write import COMPRESSION
source, target = Path(sys.argv[1]), Path(sys.argv[2])
manifest = json.loads((source / "_memport.json").read_text())
files = [f["path"] for table in manifest["tables"].values() for f in table["files"]]
# in memory first (not timed): every file as its row groups, so the writes make the same files
tables = {}
for name in files:
    found = pq.ParquetFile(source / name)
    tables[name] = (found.schema_arrow, [found.read_row_group(i) for i in range(found.num_row_groups)])
    (target / name).parent.mkdir(parents=True, exist_ok=True)
start, cpu = time.perf_counter(), time.process_time()
for name, (schema, groups) in tables.items():
    with pq.ParquetWriter(target / name, schema, compression=COMPRESSION) as writer:
        for group in groups:
            writer.write_table(group)
rows = sum(g.num_rows for _, groups in tables.values() for g in groups)
print(time.perf_counter() - start, rows, time.process_time() - cpu)
"""


def generate(path: Path, records: int, users: int, interleaved: bool) -> None:
    """Kagura memories of ``users`` users as Kagura writes them (no graph): one user after another
    (a store filled from per-user exports), or interleaved record by record (the worst case: every
    partition spread over the whole table)."""
    path.mkdir(parents=True, exist_ok=True)
    per_user = -(-records // users)
    with open(path / "memories.jsonl", "w") as f:
        for i in range(records):
            user = i % users if interleaved else i // per_user
            rec = {
                "type": "memory",
                "scope": "persistent",
                "key": f"fact_{i:07d}",
                "value": f"User {user} mentioned fact number {i}: prefers Python for data work \U0001f44b",
                "user_id": f"user_{user:05d}",
                "agent_name": "global" if i % 3 else f"thread_{i % 7}",
                "created_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 08:15:02",
                "updated_at": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 08:15:02",
                "metadata": {"tags": '["profile", "language"]', "importance": 0.5, "metadata": "{}"},
                "exported_at": "2025-06-01T12:00:00.123789",
            }
            f.write(json.dumps(rec) + "\n")
    meta = {
        "exported_at": "2025-06-01T12:00:00.125000",
        "stats": {"memories": records, "graph_nodes": 0, "graph_edges": 0},
        "format_version": "1.0",
    }
    (path / "metadata.json").write_text(json.dumps(meta, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--interleaved", action="store_true", help="users interleaved record by record (default: one after another)")
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data" / "parquet")
    parser.add_argument("--repeat", type=int, default=3, help="alternate memport and the baseline this often; best of each")
    args = parser.parse_args()
    layout = "interleaved" if args.interleaved else "contiguous"
    base = args.dir / f"{args.records}-{args.users}-{layout}"
    bundle, db = base / "kagura", base / "memport.db"
    if not db.exists():
        print(f"generating {args.records} memories of {args.users} users ({layout}) and importing them into {db} ...", flush=True)
        shutil.rmtree(bundle, ignore_errors=True)
        generate(bundle, args.records, args.users, args.interleaved)
        tmp = db.with_name("memport.db.tmp")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        seconds, _, out, _ = run([sys.executable, "-m", "memport", "import", str(bundle), "--db", str(tmp), "--json"])
        print(f"  imported in {seconds:.1f} s: {json.loads(out)['inserted']} inserted", flush=True)
        tmp.replace(db)
    size = db.stat().st_size / 1e6
    memport_runs, cli_runs, base_runs = [], [], []
    for _ in range(args.repeat):  # alternating, so both see the same machine state
        out = base / "out"
        shutil.rmtree(out, ignore_errors=True)
        _, rss, text, cpu = run([sys.executable, "-c", MEMPORT, str(db), str(out)])
        seconds, memories, files = text.split()
        memport_runs.append((float(seconds), rss, cpu, int(memories), int(files)))
        again = base / "baseline"
        shutil.rmtree(again, ignore_errors=True)
        again.mkdir()
        _, base_rss, text, _ = run([sys.executable, "-c", BASELINE, str(out), str(again)])
        seconds, rows, cpu = text.split()
        base_runs.append((float(seconds), base_rss, int(rows), float(cpu)))
        shutil.rmtree(out)
        wall, cli_rss, _, _ = run([sys.executable, "-m", "memport", "export", "--db", str(db), "--to", "parquet", "-o", str(out), "--json"])
        cli_runs.append((wall, cli_rss))
    dataset = sum(f.stat().st_size for f in (base / "out").rglob("*.parquet")) / 1e6
    mem_s, mem_rss, mem_cpu, memories, files = min(memport_runs)
    base_s, base_rss, rows, base_cpu = min(base_runs)
    cli_s, cli_rss = min(cli_runs)
    print(
        f"store: {memories} memories of {args.users} users ({layout}), {size:.0f} MB; dataset: {files} files, {rows} rows, {dataset:.0f} MB"
    )
    print(
        f"pyarrow writing them from memory: {base_s:6.2f} s  {rows / base_s:9.0f} rows/s  CPU {base_cpu:5.2f} s (the writes)  "
        f"peak RSS {base_rss} MB (the tables held in memory)"
    )
    print(
        f"memport to_parquet:               {mem_s:6.2f} s  {rows / mem_s:9.0f} rows/s  CPU {mem_cpu:5.2f} s (whole process)  peak RSS {mem_rss} MB"
    )
    print(f"memport export --to parquet:      {cli_s:6.2f} s  (CLI wall, interpreter start included)  peak RSS {cli_rss} MB")
    print(f"throughput ratio memport / pyarrow: {base_s / mem_s:.2f}  (target >= 0.5; peak RSS target <= 400 MB)")
    print(
        f"load average while measuring: {os.getloadavg()[0]:.1f} (other work on this machine slows both; CPU seconds do not depend on it)"
    )


if __name__ == "__main__":
    main()
