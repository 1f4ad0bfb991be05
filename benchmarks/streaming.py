"""Benchmark: every path streams. A million records of each format validated, converted to every
format (its own included) and exported from the store, with each command's peak RSS.

Bundles are generated as each system writes them (Kagura's JSON Lines, Tribal's one-line
``json.dump``, its JSON Lines stream, Doclea's ``JSON.stringify(doc, null, 2)``); with ``--huge``
(default 100 MB) one memory of each holds a string that long. Every measurement is a child process
(``run``: wall seconds and the kernel's peak RSS of that process, ru_maxrss), and each baseline is
measured in the same run:

* validate: ``memport validate`` against a bare parse of the same file (orjson, line by line for
  JSON Lines, the whole document for a JSON file); target >= 0.5 of the bare parse's throughput
  and <= 400 MB;
* convert: ``memport convert`` for every ordered pair, and export: ``memport export`` of a store
  holding the Kagura bundle to every format; target <= 400 MB each.

Prints figures, asserts nothing.

    python benchmarks/streaming.py [--records 1000000] [--huge 100] [--only validate|convert|export]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from validate_kagura import generate as generate_kagura

FORMATS = ("kagura", "tribal", "tribal-jsonl", "doclea")
SUFFIX = {"kagura": "", "tribal": ".json", "tribal-jsonl": ".jsonl", "doclea": ".json"}

BARE_LINES = """
import sys, orjson
from pathlib import Path
n = 0
path = Path(sys.argv[1])
for file in ([path / "memories.jsonl", path / "graph.jsonl"] if path.is_dir() else [path]):
    if file.exists():
        with open(file, "rb") as f:
            for line in f:
                orjson.loads(line)
                n += 1
print(n)
"""

BARE_DOCUMENT = """
import sys, orjson
with open(sys.argv[1], "rb") as f:
    orjson.loads(f.read())
print(0)
"""


def entry(i: int, huge: str | None = None) -> dict:
    return {
        "id": f"0b7c6a52-{i:04x}-4a2b-9c3d-{i:012d}"[-36:],
        "content": huge if huge is not None else f"Alice prefers Python for data work, fact {i} \u2014 caf\u00e9",
        "embedding": None,
        "source_instance": "laptop",
        "source_type": "user_explicit",
        "created_at": "2025-05-30T08:15:02+00:00",
        "updated_at": "2025-06-01T12:00:00+00:00",
        "tags": ["profile", "language"],
        "context": None,
        "confidence": 0.9,
        "supersedes": None,
        "related_to": [],
    }


def generate_tribal(path: Path, records: int, huge: str | None, stream: bool) -> None:
    """Entries as Tribal writes them: json.dump of the whole bundle on one line (ASCII escapes), or
    one entry per line for the stream; the huge string in the middle one."""
    middle = records // 2
    with open(path, "w") as f:
        if not stream:
            manifest = {
                "schema_version": "1.0",
                "embedding": {"model_name": "all-MiniLM-L6-v2", "dimensions": 384},
                "memory_count": records,
                "exported_at": "2025-06-01T12:00:00+00:00",
            }
            f.write('{"manifest": ' + json.dumps(manifest) + ', "entries": [')
        for i in range(records):
            text = json.dumps(entry(i, huge if i == middle else None))
            if stream:
                f.write(text + "\n")
            else:
                f.write((", " if i else "") + text)
        if not stream:
            f.write("]}")


def generate_doclea(path: Path, records: int, huge: str | None) -> None:
    """Memories (and a relation per 100) as Doclea writes them: JSON.stringify(doc, null, 2)."""
    middle = records // 2
    relations = records // 100

    def memory(i: int) -> dict:
        return {
            "id": f"mem_{i:016d}",
            "type": "decision" if i % 3 else "note",
            "title": f"Fact {i}",
            "content": huge if i == middle else f"We decided fact {i} \u2014 caf\u00e9",
            "importance": 0.5,
            "tags": ["auth"],
            "relatedFiles": [],
            "experts": [],
            "createdAt": 1748700000,
            "accessedAt": 1748786400,
            "accessCount": 0,
            "needsReview": False,
        }

    def indented(value: dict) -> str:
        return "\n".join("      " + line for line in json.dumps(value, indent=2, ensure_ascii=False).split("\n"))[6:]

    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n  "version": "1.0.0",\n  "exportedAt": 1748786400,\n  "backendType": "sqlite",\n')
        f.write('  "storageMode": "manual",\n  "schemaVersion": "012",\n  "data": {\n    "memories": [')
        for i in range(records - relations):
            f.write(("," if i else "") + "\n      " + indented(memory(i)))
        f.write('\n    ],\n    "documents": [],\n    "chunks": [],\n    "memoryRelations": [')
        for i in range(relations):
            relation = {
                "id": f"rel_{i:016d}",
                "source_id": f"mem_{i:016d}",
                "target_id": f"mem_{i + 1:016d}",
                "type": "related_to",
                "weight": 1,
                "metadata": None,
                "created_at": 1748700123456,
            }
            f.write(("," if i else "") + "\n      " + indented(relation))
        f.write('\n    ],\n    "crossLayerRelations": [],\n    "pendingMemories": []\n  },\n')
        f.write(f'  "metadata": {{\n    "totalMemories": {records - relations}\n  }}\n}}')


def bundles(folder: Path, records: int, huge_mb: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    huge = ("x" * 1023 + "\u00e9") * (huge_mb * 1024) if huge_mb else None
    made = {fmt: folder / f"{fmt}-{records}-{huge_mb}{SUFFIX[fmt]}" for fmt in FORMATS}
    if not made["kagura"].exists():
        print(f"generating {records} Kagura records in {made['kagura']} ...", flush=True)
        generate_kagura(made["kagura"], records)
        if huge:  # the huge string in one more persistent memory
            with open(made["kagura"] / "memories.jsonl", "a") as f:
                record = {"type": "memory", "scope": "persistent", "key": "huge", "value": huge, "user_id": "user_alice"}
                record.update(agent_name="global", created_at="2025-05-30 08:15:02", updated_at="2025-05-30 08:15:02")
                record.update(metadata={}, exported_at="2025-06-01T12:00:00.123789")
                f.write(json.dumps(record) + "\n")
    for fmt, generator in (
        ("tribal", lambda p: generate_tribal(p, records, huge, stream=False)),
        ("tribal-jsonl", lambda p: generate_tribal(p, records, huge, stream=True)),
        ("doclea", lambda p: generate_doclea(p, records, huge)),
    ):
        if not made[fmt].exists():
            print(f"generating {records} {fmt} records in {made[fmt]} ...", flush=True)
            generator(made[fmt])
    return made


def run(cmd: list[str]) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS in MB (the kernel's, of the child alone), stdout, and CPU seconds
    (user + system of the child and its workers: steadier than wall time on a shared machine)."""
    import os
    import time

    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        out = os.open("/tmp/.memport-bench-out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.execvp(cmd[0], cmd)
    _, _status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss // 1024, Path("/tmp/.memport-bench-out").read_text(), usage.ru_utime + usage.ru_stime


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--huge", type=int, default=100, help="MB of the one huge string in each bundle (0: none)")
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data" / "streaming")
    parser.add_argument("--only", choices=["validate", "convert", "export"])
    args = parser.parse_args()
    made = bundles(args.dir, args.records, args.huge)
    out = args.dir / "out"
    out.mkdir(exist_ok=True)
    memport = [sys.executable, "-m", "memport"]
    print(f"{args.records} records per bundle, one string of {args.huge} MB in each")
    if args.only in (None, "validate"):
        print("validate: memport / bare parse (throughput ratio, target >= 0.50), peak RSS (target <= 400 MB)")
        for fmt, path in made.items():
            bare = BARE_DOCUMENT if fmt in ("tribal", "doclea") else BARE_LINES
            bare_s, bare_rss, _, bare_cpu = run([sys.executable, "-c", bare, str(path)])
            seconds, rss, _, cpu = run([*memport, "validate", "--json", "--max-problems", "1", str(path)])
            print(
                f"  {fmt:13} {seconds:7.2f} s vs {bare_s:6.2f} s: {bare_s / seconds:.2f}   "
                f"(CPU {cpu:6.2f} s vs {bare_cpu:5.2f} s)   peak RSS {rss:4d} MB (bare {bare_rss} MB)"
            )
    if args.only in (None, "convert"):
        print("convert: every ordered pair, peak RSS (target <= 400 MB)")
        for source in FORMATS:
            for target in FORMATS:
                dest = out / f"{source}-to-{target}{SUFFIX[target]}"
                remove(dest)
                seconds, rss, _, cpu = run([*memport, "convert", str(made[source]), "--to", target, "-o", str(dest), "-q", "--json"])
                remove(dest)
                print(f"  {source:13} -> {target:13} {seconds:7.2f} s (CPU {cpu:6.2f} s)   peak RSS {rss:4d} MB")
    if args.only in (None, "export"):
        db = out / "store.db"
        for suffix in ("", "-wal", "-shm"):
            remove(Path(f"{db}{suffix}"))
        seconds, rss, _, _ = run([*memport, "import", str(made["kagura"]), "--db", str(db), "-q", "--json"])
        print(f"export: a store of the Kagura bundle (imported in {seconds:.2f} s, peak RSS {rss} MB) to every format")
        for target in FORMATS:
            dest = out / f"store-to-{target}{SUFFIX[target]}"
            remove(dest)
            seconds, rss, _, cpu = run([*memport, "export", "--db", str(db), "--to", target, "-o", str(dest), "-q", "--json"])
            remove(dest)
            print(f"  store -> {target:13} {seconds:7.2f} s (CPU {cpu:6.2f} s)   peak RSS {rss:4d} MB")


if __name__ == "__main__":
    main()
