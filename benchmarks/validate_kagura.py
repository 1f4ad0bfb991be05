"""Benchmark: `memport validate` on a generated 1M-record Kagura bundle vs a bare orjson loop.

Both run as separate processes in the same invocation, so the ratio compares like with like on
this machine; peak RSS is each child's own (ru_maxrss). Prints figures, asserts nothing.

    python benchmarks/validate_kagura.py [--records 1000000] [--dir benchmarks/data/kagura-1m]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

BARE = """
import sys, orjson
n = 0
for name in ("memories.jsonl", "graph.jsonl"):
    with open(sys.argv[1] + "/" + name, "rb") as f:
        for line in f:
            orjson.loads(line)
            n += 1
print(n)
"""


def generate(path: Path, records: int) -> None:
    """Memories as Kagura writes them (mostly persistent, some working, unicode escapes,
    MCP-style metadata), plus a graph with one node and one edge per 100 memories."""
    path.mkdir(parents=True, exist_ok=True)
    graph_n = records // 100
    memories = records - 2 * graph_n
    with open(path / "memories.jsonl", "w") as f:
        for i in range(memories):
            if i % 20 == 0:
                rec = {
                    "type": "memory",
                    "scope": "working",
                    "key": f"draft_{i}",
                    "value": f"working note {i} \u2014 caf\u00e9",
                    "user_id": "user_alice",
                    "agent_name": "global",
                    "exported_at": "2025-06-01T12:00:00.123456",
                }
            else:
                rec = {
                    "type": "memory",
                    "scope": "persistent",
                    "key": f"fact_{i:07d}",
                    "value": f"Alice mentioned fact number {i}: she prefers Python for data work \U0001f44b",
                    "user_id": "user_alice",
                    "agent_name": "global" if i % 3 else f"thread_{i % 7}",
                    "created_at": "2025-05-30 08:15:02",
                    "updated_at": "2025-05-30 08:15:02" if i % 5 else "2025-06-01 12:00:01.250000",
                    "metadata": {"tags": '["profile", "language"]', "importance": 0.5, "metadata": "{}"},
                    "exported_at": "2025-06-01T12:00:00.123789",
                }
            f.write(json.dumps(rec) + "\n")
    with open(path / "graph.jsonl", "w") as f:
        for i in range(graph_n):
            f.write(
                json.dumps(
                    {
                        "type": "node",
                        "id": f"topic_{i}",
                        "node_type": "topic",
                        "data": {"name": f"t{i}", "created_at": "2025-06-01T11:59:58.000200"},
                        "exported_at": "2025-06-01T12:00:00.124100",
                    }
                )
                + "\n"
            )
        for i in range(graph_n):
            f.write(
                json.dumps(
                    {
                        "type": "edge",
                        "src": f"topic_{i}",
                        "dst": f"topic_{(i + 1) % graph_n}",
                        "rel_type": "related_to",
                        "weight": 1.0,
                        "data": {
                            "created_at": "2025-06-01T11:59:58.000300",
                            "valid_from": "2025-06-01T11:59:58.000301",
                            "valid_until": None,
                            "source": None,
                            "confidence": 1.0,
                        },
                        "exported_at": "2025-06-01T12:00:00.124200",
                    }
                )
                + "\n"
            )
    meta = {
        "exported_at": "2025-06-01T12:00:00.125000",
        "user_id": "user_alice",
        "agent_name": "global",
        "stats": {"memories": memories, "graph_nodes": graph_n, "graph_edges": graph_n},
        "format_version": "1.0",
    }
    (path / "metadata.json").write_text(json.dumps(meta, indent=2))


def run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in MB of the child process (its worker is a fork of about the same size), stdout."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: exec the command with stdout to a pipe file
        out = os.open("/tmp/.memport-bench-out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.execvp(cmd[0], cmd)
    _, _status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss // 1024, Path("/tmp/.memport-bench-out").read_text()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data" / "kagura-1m")
    parser.add_argument("--repeat", type=int, default=3, help="alternate the two commands this often; best of each")
    args = parser.parse_args()
    if (
        not (args.dir / "metadata.json").exists()
        or json.loads((args.dir / "metadata.json").read_text())["stats"]["memories"] + 2 * (args.records // 100) != args.records
    ):
        print(f"generating {args.records} records in {args.dir} ...", flush=True)
        generate(args.dir, args.records)
    size = sum(f.stat().st_size for f in args.dir.iterdir()) / 1e6
    bare_runs, memport_runs = [], []
    for _ in range(args.repeat):  # alternating, so both see the same machine state
        bare_runs.append(run([sys.executable, "-c", BARE, str(args.dir)]))
        memport_runs.append(run([sys.executable, "-m", "memport", "validate", "--json", str(args.dir)]))
    bare_s, bare_rss, bare_out = min(bare_runs)
    memport_s, memport_rss, out = min(memport_runs)
    memport_rss = max(r[1] for r in memport_runs)
    report = json.loads(out)
    n = int(bare_out)
    print(f"records: {n} ({size:.0f} MB); validate found {len(report['errors'])} errors, {len(report['warnings'])} warnings")
    print(f"bare orjson loop: {bare_s:6.2f} s  {n / bare_s:10.0f} records/s  peak RSS {bare_rss} MB")
    print(f"memport validate: {memport_s:6.2f} s  {n / memport_s:10.0f} records/s  peak RSS {memport_rss} MB")
    print(f"(best of {args.repeat} alternating runs each; RSS is per process: memport's forked worker is about the same size)")
    print(f"throughput ratio (memport / bare): {bare_s / memport_s:.2f}  (target >= 0.50; peak RSS target <= 400 MB)")


if __name__ == "__main__":
    main()
