"""Importing a memport Parquet dataset into a store: the same merge as importing its bundles.

Each origin's records are a :class:`memport.planning.Source` (their native JSON, in the order
they were written, with the header of the latest run that brought a bundle of that origin), and the
planning evaluator decides and writes them as it does a bundle's: strategies, decisions, filters,
validation, dry runs. All origins and the vectors land in one transaction. Vectors come from the
dataset's embeddings table (under their own fingerprints, never mixed), for the memories this
import leaves as the dataset has them (inserted, updated or unchanged).

What comes back exactly: every record's native JSON and the stores' order, so a store exported to
Parquet and imported into an empty store exports every native format with the same bytes. What
does not: run ids and times (this import is a new run per origin) and line keys (a key of the JSON
Lines line a record came from: a dry run of that file against the new store reads its lines
instead of recognising them by key, with the same counts).
"""

from __future__ import annotations

import contextlib
import json
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import MemportError
from ..filters import Filters
from ..formats import NativeRecord, family
from ..keys import uid_key
from ..planning import ConflictError, Decision, load_decisions, plan
from ..planning.evaluate import VECTOR_STRATEGIES, Evaluator
from ..planning.plans import BULK_RECORDS, accounting
from ..planning.source import Source
from ..store import Store, VectorRow
from .extras import need
from .read import Manifest, latest_header, natives, open_dataset, read_table
from .schema import RECORD_TABLES

KEPT = ("insert", "update", "unchanged")  # what leaves a memory as the dataset has it


def sources(manifest: Manifest) -> list[Source]:
    """One source per origin of the dataset, records in the order they were written."""
    runs = read_table(manifest, "runs")
    found = []
    for origin in manifest.origins:
        fmt = family(origin)

        def records(origin: str = origin) -> Iterator[NativeRecord]:
            for kind in RECORD_TABLES:
                for position, value, exact in natives(manifest, kind, origin):
                    yield NativeRecord(kind, value, exact, str(manifest.path), None, position)

        found.append(Source(fmt.name, fmt.versions[-1], origin, records, str(manifest.path), latest_header(manifest, origin, runs)))
    return found


def import_parquet(
    path: str | Path,
    store: Store,
    *,
    strategy: str = "skip",
    decisions: dict[str, Decision] | str | Path | None = None,
    filters: Filters | None = None,
    local_tz: str = "UTC",
    clear: bool = False,
    dry_run: bool = False,
    vectors: str = "auto",
) -> dict[str, Any]:
    """Import the dataset at ``path`` into ``store`` in one transaction (``dry_run``: only count).

    Options as for :func:`memport.import_bundle`; ``vectors``: ``auto`` and ``keep`` take the
    dataset's vectors under their own fingerprints (never mixed with others), ``drop`` none.
    Returns its accounting (``memport import --json``) plus ``vectors`` (how many were written)
    and ``origins`` (each one's accounting).
    """
    if vectors not in VECTOR_STRATEGIES:
        raise MemportError(f"unknown vector strategy {vectors!r}; one of {', '.join(VECTOR_STRATEGIES)}")
    manifest = open_dataset(path)
    if isinstance(decisions, (str, Path)):
        decisions = load_decisions(decisions)
    options: dict[str, Any] = dict(strategy=strategy, decisions=decisions, filters=filters, local_tz=local_tz)
    found = sources(manifest)
    if dry_run:
        summaries = {s.origin: plan(s, store, clear=clear, vectors="drop", **options).summary() for s in found}
        # vectors are not planned: how many memories would lack one is only known once written
        return _total(summaries, dry_run=True, backup=None, vectors=None, needs=None)
    backup = store.backup() if clear or strategy == "overwrite" else None
    summaries: dict[str, dict[str, Any]] = {}
    kept, written = array("q"), array("q")
    with store.transaction():
        if clear:
            store.clear()
        large = manifest.rows("memories") >= BULK_RECORDS and manifest.rows("memories") >= store.counts()["memories"]
        with store.bulk_load() if large else contextlib.nullcontext():
            for source in found:
                summaries[source.origin] = _import_origin(source, store, options, backup, kept, written)
        conflicts = sum(s["conflicts"] for s in summaries.values())
        if strategy == "error" and conflicts:
            raise ConflictError(f"{conflicts} record(s) differ from the store and the strategy is error: nothing was written")
        written_vectors, covered = _vectors(manifest, store, kept) if vectors != "drop" else (0, [])
    import numpy as np

    needs = int(np.count_nonzero(~np.isin(np.frombuffer(written, dtype=np.int64), covered))) if len(written) else 0
    return _total(summaries, dry_run=False, backup=backup, vectors=written_vectors, needs=needs)


def _import_origin(source: Source, store: Store, options: dict[str, Any], backup: Any, kept: array, written: array) -> dict[str, Any]:
    """One origin's records through the evaluator, as one run; the keys of the memories it keeps."""
    decisions = options["decisions"]
    run = store.record_run(
        operation="import",
        source=source.label,
        format=source.format,
        strategy=options["strategy"],
        dry_run=0,
        decisions=sorted(decisions) if decisions else None,
        backup=str(backup) if backup else None,
    )
    evaluator = Evaluator(source, store, vectors="drop", write_run=run, **options)
    counts: Counter = Counter()
    rows: list[Any] = []
    current: list[str] = [""]

    def tracked() -> Iterator[NativeRecord]:
        for record in source.records():
            current[0] = record.kind
            yield record

    for action, row in evaluator.rows(tracked()):
        counts[action] += 1
        if row is not None and (action == "invalid" or row.problems):
            rows.append(row)
        if current[0] == "memories" and action in KEPT:
            kept.append(evaluator.last_key)
            if action != "unchanged":
                written.append(evaluator.last_key)
    evaluator.finish()
    result = accounting(counts, rows)
    store.finish_run(run, result, source.header, source.layout, evaluator.writer.contents)
    return result


def _vectors(manifest: Manifest, store: Store, kept: array) -> tuple[int, Any]:
    """Write the dataset's vectors of the memories kept; register their fingerprints, and make the
    dataset's current model the store's when the store has none. Returns the count written and the
    keys of the memories that now have a vector of the store's current model."""
    import numpy as np

    pq = need("pyarrow.parquet")
    keys = np.sort(np.frombuffer(kept, dtype=np.int64))
    prints = read_table(manifest, "fingerprints").to_pylist()
    for row in prints:
        details = json.loads(row["details"]) if row["details"] else {}
        store.register_fingerprint(row["fingerprint"], row["model"], row["dimensions"], details)
    current = next((row["fingerprint"] for row in prints if row["current"]), None)
    if current is not None and store.setting("embedding_fingerprint") is None:
        store.set_setting("embedding_fingerprint", current)
    current = store.setting("embedding_fingerprint")
    written = 0
    covered: list[Any] = []
    for file in manifest.files("embeddings"):
        for batch in pq.ParquetFile(str(file)).iter_batches(batch_size=8192):
            uids = batch.column("memory_uid").to_pylist()
            fingerprints = batch.column("fingerprint").to_pylist()
            shas = batch.column("text_sha256").to_pylist()
            vectors = batch.column("vector")
            dims = vectors.type.list_size
            flat = vectors.flatten().to_numpy(zero_copy_only=False).astype("<f4", copy=False).reshape(-1, dims)
            ukeys = np.fromiter((uid_key(u) for u in uids), dtype=np.int64, count=len(uids))
            chosen = np.flatnonzero(np.isin(ukeys, keys))
            store.write_vectors([VectorRow(uids[i], fingerprints[i], dims, flat[i].tobytes(), shas[i]) for i in chosen])
            written += len(chosen)
            covered.extend(int(ukeys[i]) for i in chosen if fingerprints[i] == current)
    return written, np.array(covered, dtype=np.int64)


def _total(summaries: dict[str, dict[str, Any]], *, dry_run: bool, backup: Any, vectors: int | None, needs: int | None) -> dict[str, Any]:
    names = ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid", "total", "problems")
    result: dict[str, Any] = {name: sum(s[name] for s in summaries.values()) for name in names}
    result["not_imported"] = [r for s in summaries.values() for r in s["not_imported"]]
    result.update(dry_run=dry_run, backup=str(backup) if backup else None)
    result["needs_reembedding"] = needs
    result["vectors"] = vectors
    result["origins"] = {origin: {name: s[name] for name in names} for origin, s in summaries.items()}
    return result
