"""Benchmark: memport.reembed against raw SentenceTransformer.encode on the same texts.

One process, one loaded model (loading is not timed for either): raw `encode(texts, batch_size)`
over all texts, then `memport.reembed` of a store holding the same texts as memories (reading
them, encoding, writing float32 vectors and cache entries, committing per batch), then a second
`reembed` over the unchanged store. Prints ratios; asserts nothing.

    python benchmarks/reembed.py [--texts 3000] [--batch-size 64] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import memport
from memport import embed

WORDS = (
    "memory agent user prefers python rust deploy database migration meeting notes project deadline coffee "
    "cat dog travel budget invoice report design review bug fix feature release schedule team lunch"
).split()


def texts(n: int) -> list[str]:
    rng = random.Random(7)  # deterministic: the same texts every run
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 120))) + f" #{i}" for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    corpus = texts(args.texts)
    model = embed.load_embedder(device=args.device)
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder) / "bundle"
        bundle.mkdir()
        with open(bundle / "memories.jsonl", "w") as f:
            for i, text in enumerate(corpus):
                f.write(
                    json.dumps(
                        {
                            "type": "memory",
                            "scope": "persistent",
                            "key": f"k{i}",
                            "value": text,
                            "user_id": "u",
                            "agent_name": "global",
                            "created_at": "2025-01-01 00:00:00",
                            "updated_at": "2025-01-01 00:00:00",
                            "metadata": None,
                            "exported_at": "2025-01-01T00:00:00",
                        }
                    )
                    + "\n"
                )
        store = memport.Store(Path(folder) / "memport.db")
        memport.import_bundle(bundle, store)
        model.encode(corpus[:64], args.batch_size)  # warm-up, for both
        start = time.perf_counter()
        model.model.encode(corpus, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)
        raw = time.perf_counter() - start
        first = memport.reembed(store, model, batch_size=args.batch_size, progress=False)
        second = memport.reembed(store, model, batch_size=args.batch_size, progress=False)
        store.close()
    print(f"texts: {len(corpus)}, batch size {args.batch_size}, device {model.device}")
    print(f"raw SentenceTransformer.encode: {raw:7.2f} s  {len(corpus) / raw:8.1f} texts/s")
    print(f"memport reembed (first run):    {first.seconds:7.2f} s  {len(corpus) / first.seconds:8.1f} texts/s  encoded {first.encoded}")
    print(f"memport reembed (second run):   {second.seconds:7.3f} s  encoded {second.encoded}")
    print(f"throughput ratio (memport / raw): {raw / first.seconds:.2f}  (target >= 0.90)")
    print(f"second run / first run:           {second.seconds / first.seconds:.3f}  (target < 0.05, and 0 texts encoded)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
