"""Benchmark: a large Tribal bundle (one JSON document) imported into the store and planned
against it, read as a stream, next to a bare orjson parse of the whole document.

All in one run, each measurement in its own child process (peak RSS is that child's):
* bare parse: ``orjson.loads`` of the whole file (what reading the document whole costs);
* memport import: ``memport import BUNDLE --db STORE`` into an empty store;
* dry run: ``memport import BUNDLE --db STORE --dry-run`` with the bundle already stored
  (alternating with the bare parse, best of N each).
The bundle is written as Tribal writes it (``json.dump``: one line, ASCII, Python separators), with
``--dims``-dimensional embeddings. Prints ratios and peak RSS; asserts nothing.

    python benchmarks/store_tribal.py [--records 1000000] [--dims 16]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from validate_kagura import run

BARE = """
import sys, orjson
print(len(orjson.loads(open(sys.argv[1], "rb").read())["entries"]))
"""


def generate(path: Path, records: int, dims: int) -> None:
    """Written entry by entry, in the bytes ``json.dump(bundle, f, default=str)`` gives."""
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "coffee", "deploy", "Friday", "Alice", "Python", "review"]
    manifest = {
        "schema_version": "1.0",
        "embedding": {"model_name": "example/bench-embed", "dimensions": dims},
        "memory_count": records,
        "exported_at": "2026-01-02T00:00:00+00:00",
    }
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write('{"manifest": ' + json.dumps(manifest) + ', "entries": [')
        for i in range(records):
            entry = {
                "id": f"00000000-0000-4000-8000-{i:012d}",
                "content": " ".join(rng.choice(words) for _ in range(25)),
                "embedding": [rng.gauss(0, 0.05) for _ in range(dims)],
                "source_instance": "laptop-alice",
                "source_type": "user_explicit",
                "created_at": f"2026-01-{1 + i % 28:02d}T08:15:02.{i % 1000000:06d}",
                "updated_at": f"2026-01-{1 + i % 28:02d}T08:15:02.{i % 1000000:06d}",
                "tags": [rng.choice(words)],
                "context": None,
                "confidence": 1.0,
                "supersedes": None,
                "related_to": [],
            }
            f.write((", " if i else "") + json.dumps(entry))
        f.write("]}")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data" / "tribal")
    parser.add_argument("--repeat", type=int, default=3, help="alternate parse and dry run this often; best of each")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    bundle = args.dir / f"tribal-{args.records}-{args.dims}.json"
    if not bundle.exists():
        print(f"generating {args.records} entries in {bundle} ...", flush=True)
        generate(bundle, args.records, args.dims)
    db = args.dir / "memport.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    import_s, import_rss, out = run([sys.executable, "-m", "memport", "import", str(bundle), "--db", str(db), "--json"])
    imported = json.loads(out)
    parses, dries = [], []
    for _ in range(args.repeat):  # alternating, so both see the same machine state
        parses.append(run([sys.executable, "-c", BARE, str(bundle)]))
        dries.append(run([sys.executable, "-m", "memport", "import", str(bundle), "--db", str(db), "--json", "--dry-run"]))
    parse_s, parse_rss, _ = min(parses)
    dry_s, _, dry_out = min(dries)
    dry_rss = max(r[1] for r in dries)
    dry = json.loads(dry_out)
    size = bundle.stat().st_size / 1e6
    print(
        f"entries: {args.records} ({size:.0f} MB, {args.dims}-dimensional embeddings); imported {imported['inserted']}; "
        f"dry run: {dry['unchanged']} unchanged of {dry['total']}"
    )
    print(f"bare orjson parse (whole document): {parse_s:6.2f} s  peak RSS {parse_rss} MB")
    print(f"memport import:                     {import_s:6.2f} s  peak RSS {import_rss} MB")
    print(f"memport dry run:                    {dry_s:6.2f} s  peak RSS {dry_rss} MB")
    print(f"(parse and dry run: best of {args.repeat} alternating runs)")
    print(f"import time / bare parse time:  {import_s / parse_s:.2f}")
    print(f"dry run time / bare parse time: {dry_s / parse_s:.2f}  (peak RSS target <= 400 MB)")


if __name__ == "__main__":
    main()
