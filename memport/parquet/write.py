"""Writing a memport Parquet dataset from a store or a bundle, streamed in record batches.

From a store, each table is scanned once in the store's order, as Arrow batches where the ADBC
SQLite driver is installed (:meth:`memport.Store.arrow_batches`, read on a thread of its own), else
as rows. From a bundle (a path or a Bundle in memory), records come in the bundle's order through
the format's plugin (``identity``, ``index``, ``source_id``: the very columns an import would
store). Either way a batch is converted to the table's Arrow types column by column (vectorized),
split by partition, and the parts wait until they make row groups worth writing; a second thread
writes them (see :class:`TableWriter`).

The dataset is staged next to the output and renamed into place when complete, manifest included
(:func:`memport.jsonio.atomic_output`): a failed write leaves nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from .. import __version__
from ..bundle import Bundle
from ..formats import detect, plugin
from ..jsonio import atomic_output, write_synced
from ..keys import native_text
from ..store import Store
from ..timestamps import zone
from .extras import need
from .schema import MANIFEST, NULL_PARTITION, PARTITIONS, RECORD_TABLES, SCHEMA_VERSION, TABLES, arrow_schema

BATCH = 16384  # rows read and built at once: about 20 MB of Kagura memories as Python values
ROW_GROUP = 65536  # rows per row group at most
COMPRESSION = "zstd"  # native JSON text compresses 5-10x; zstd level 1 costs little more time than snappy
PENDING_BYTES = 32 << 20  # Arrow data waiting for its partitions' row groups (twice this at most: one lot being written)
# partition files open at once, least recently used closed first (a partition met again after its
# file was closed gets another part). An open file keeps its row groups' metadata in memory until it
# closes: a thousand users interleaved record by record (16 row groups each) measured 589 MB peak
# with all files open against 369 MB with 256 (and 16 parts of each user instead of one)
MAX_OPEN = 256
_SQLITE = b"SQLite format 3\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")


def to_parquet(source: Any, path: str | Path, *, overwrite: bool = False, local_tz: str = "UTC") -> dict[str, Any]:
    """Write ``source`` (a :class:`memport.Store`, a store file, a :class:`memport.Bundle` or a
    bundle path) as a Parquet dataset in the directory ``path``, atomically.

    An existing ``path`` is only replaced with ``overwrite=True`` (kept beside it as a backup).
    ``local_tz`` is the zone of a Kagura bundle's naive local times (as for an import). Returns
    ``{"path", "schema_version", "counts": {table: rows}, "files", "backup"}``.
    """
    need("pyarrow.parquet")
    path = Path(path)
    with atomic_output(path, directory=True, overwrite=overwrite) as out:
        dataset = _Dataset(out.tmp)
        try:
            described = _write(source, dataset, local_tz)
        except BaseException:
            dataset.queue.put(None)  # the writing thread stops; the staged output is removed
            dataset.thread.join()
            raise
        dataset.close()
        manifest = dataset.manifest(described)
        write_synced(out.tmp / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())
    return {
        "path": str(path),
        "schema_version": SCHEMA_VERSION,
        "counts": {name: table["rows"] for name, table in manifest["tables"].items()},
        "files": sum(len(table["files"]) for table in manifest["tables"].values()),
        "backup": str(out.backup) if out.backup else None,
    }


def _write(source: Any, dataset: _Dataset, local_tz: str) -> dict[str, Any]:
    if isinstance(source, Store):
        return _from_store(source, dataset)
    if isinstance(source, Bundle):
        return _from_bundle(source, None, dataset, local_tz)
    if _is_store_file(Path(source)):
        with Store(source) as store:
            return _from_store(store, dataset)
    return _from_bundle(None, Path(source), dataset, local_tz)


def _is_store_file(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(16) == _SQLITE


# ---------------------------------------------------------------------------------------------
# Sources


def _from_store(store: Store, dataset: _Dataset) -> dict[str, Any]:
    """Each table read once in the store's order (a scan: grouping by user in SQL would read a
    user's records one page each, measured 10 us a record against 6 us in a scan), as Arrow
    batches where the ADBC driver is installed, else as rows."""
    for kind in RECORD_TABLES:
        writer = dataset.table(kind)
        batches = store.arrow_batches(kind, BATCH)
        for rows in _prefetched(batches) if batches is not None else store.table_rows(kind, BATCH):
            writer.write(rows)
        writer.finish()
    current = store.setting("embedding_fingerprint")
    prints = store.fingerprints()
    dataset.table("fingerprints").write_all(
        [(p["fingerprint"], p["model"], p["dimensions"], _json(p["details"]), p["fingerprint"] == current) for p in prints]
    )
    for fingerprint, dimensions, _ in store.vector_sets():
        writer = dataset.table("embeddings", dimensions)
        for rows in store.vector_rows(fingerprint, BATCH):
            writer.write([(uid, fingerprint, blob, sha) for uid, blob, sha in rows])
        writer.finish()
    runs = [
        (
            r["run_id"],
            r.get("operation"),
            r.get("source"),
            r.get("format"),
            r.get("started_at"),
            r.get("finished_at"),
            r.get("strategy"),
            r.get("counts"),
            r.get("decisions"),
            r.get("backup"),
            r.get("header"),
        )
        for r in store.runs()
    ]
    dataset.table("runs").write_all(runs)
    return {"kind": "store", "path": str(store.path)}


def _from_bundle(bundle: Bundle | None, path: Path | None, dataset: _Dataset, local_tz: str) -> dict[str, Any]:
    """Every record of the bundle, in its order, through its format's plugin; one run describes it."""
    if bundle is not None:
        fmt = plugin(bundle.format)
        records: Iterable[Any] = fmt.bundle_records(bundle)
        header, label = bundle.meta.header, bundle.path or f"<{fmt.name} bundle>"
    else:
        assert path is not None
        detection = detect(path)
        fmt = plugin(detection.format)
        records = fmt.records(path, detection)
        header, label = fmt.header(path, detection), str(path)
    origin, tz = fmt.family, zone(local_tz)
    writers = {kind: dataset.table(kind) for kind in RECORD_TABLES}
    buffers: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in RECORD_TABLES}
    for record in records:
        kind, value = record.kind, record.value
        buffer = buffers[kind]
        item = fmt.index(kind, value, tz)
        uid = f"{origin}:{kind}:{fmt.identity(kind, value)}"
        text = native_text(value, record.exact)
        source_id = fmt.source_id(kind, value)
        position = writers[kind].rows + len(buffer) + 1
        if kind == "memories":
            buffer.append(
                (
                    uid,
                    origin,
                    source_id,
                    item.user_id,
                    item.agent_name,
                    item.scope,
                    item.type,
                    item.title,
                    item.content,
                    item.tags,
                    item.created_at,
                    item.updated_at,
                    text,
                    1,
                    position,
                )
            )
        else:
            buffer.append((uid, origin, source_id, item.type, item.source, item.target, text, 1, position))
        if len(buffer) >= BATCH:
            writers[kind].write(buffer)
            buffers[kind] = []
    for kind, writer in writers.items():
        writer.write(buffers[kind])
        writer.finish()
    run = (1, "convert", label, fmt.name, None, None, None, None, None, None, _json(header) if header is not None else None)
    dataset.table("runs").write_all([run])
    dataset.table("fingerprints").write_all([])
    return {"kind": "bundle", "path": label, "format": fmt.name}


def _prefetched(batches: Iterator[Any]) -> Iterator[Any]:
    """``batches`` read on a thread of their own, two ahead: the driver reads SQLite without the
    GIL, so reading, building and writing (on the writing thread) share both cores (a million
    memories on the shared 2-core machine: 5.5 -> 5.1 s)."""
    ahead: queue.Queue = queue.Queue(maxsize=2)
    done, stop = object(), threading.Event()

    def read() -> None:
        try:
            for batch in batches:
                if stop.is_set():  # the consumer failed: stop reading (closing the connection)
                    break
                ahead.put(batch)
            ahead.put(done)
        except BaseException as err:
            ahead.put(err)

    thread = threading.Thread(target=read, name="memport-parquet-reader", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # free its slot in the queue until it sees the stop
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)
        thread.join()


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((value is not None, value or "") for value in key)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Files


class _Dataset:
    """The staged dataset directory, its tables' writers (what the manifest lists), and the one
    thread that writes their files: Parquet encoding and compression release the GIL, so they run
    on the second core while the next batch is read and built."""

    def __init__(self, root: Path):
        self.root = root
        self.writers: dict[str, list[TableWriter]] = {}
        self.queue: queue.Queue = queue.Queue(maxsize=2)  # batches in flight: bounded memory
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="memport-parquet-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            task = self.queue.get()
            if task is None:
                return
            if self.failure is None:
                try:
                    task()
                except BaseException as err:  # handed to the reading thread at its next submit
                    self.failure = err

    def submit(self, task: Any) -> None:
        if self.failure is not None:
            raise self.failure
        self.queue.put(task)

    def close(self) -> None:
        """Wait for every write; re-raise the first failure."""
        self.queue.put(None)
        self.thread.join()
        if self.failure is not None:
            raise self.failure

    def table(self, name: str, dimensions: int | None = None) -> TableWriter:
        writer = TableWriter(self, name, dimensions)
        self.writers.setdefault(name, []).append(writer)
        return writer

    def manifest(self, source: dict[str, Any]) -> dict[str, Any]:
        tables = {}
        for name in TABLES:
            files = sorted((f for w in self.writers.get(name, []) for f in w.files), key=lambda f: f["path"])
            tables[name] = {"rows": sum(f["rows"] for f in files), "files": files}
        origins = sorted({f["partition"]["origin"] for name in RECORD_TABLES for f in tables[name]["files"]})
        return {
            "memport_dataset": "memory as Parquet: one table per record kind (docs/parquet.md)",
            "schema_version": SCHEMA_VERSION,
            "written_by": f"memport {__version__}",
            "source": source,
            "origins": origins,
            "tables": tables,
        }


class TableWriter:
    """One table's files. A batch of rows (in the table's order) becomes one record batch, built
    column by column, and is split by partition (a stable sort on the partition columns, so each
    partition keeps the order). Parts wait in memory until together they pass :data:`PENDING_BYTES`
    (or the table ends); then every partition's parts become one row group of its file, written
    on the writing thread. So a partition spread thinly over the table (a user among a thousand,
    interleaved) still gets row groups of hundreds of rows, not of a few dozen, and memory stays
    bounded whatever the number of partitions."""

    def __init__(self, dataset: _Dataset, table: str, dimensions: int | None = None):
        self.pa = need("pyarrow")
        self.pq = need("pyarrow.parquet")
        self.pc = need("pyarrow.compute")
        self.dataset, self.root, self.table = dataset, dataset.root, table
        self.schema = arrow_schema(table, dimensions)
        self.dimensions = dimensions
        self.columns = [(c.name, c.type) for c in TABLES[table]]
        self.keys = [column for _, column in PARTITIONS[table]]
        # min/max statistics let engines skip row groups by id, user, type or time; for long texts
        # (native JSON, content) they would only fill the footer, and the writer's memory until it
        # closes (a thousand open files measured 140 MB, mostly those)
        self.statistics = [c.name for c in TABLES[table] if c.type not in ("json", "vector") and c.name != "content"]
        self.pending: dict[tuple[Any, ...], list[Any]] = {}
        self.pending_bytes = 0
        self.open: dict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = {}
        self.parts: dict[tuple[Any, ...], int] = {}
        self.files: list[dict[str, Any]] = []
        self.rows = 0  # rows submitted so far

    def write(self, rows: list[tuple[Any, ...]] | Any) -> None:
        """Append rows in the table's order: tuples in the table's column order, or an Arrow
        record batch of those columns as the store holds them (:meth:`Store.arrow_batches`)."""
        pa = self.pa
        if isinstance(rows, list):
            if not rows:
                return
            raw = [self._raw(kind, list(values)) for (_, kind), values in zip(self.columns, zip(*rows))]
        else:
            raw = rows.columns
        batch = pa.record_batch([self._convert(kind, array) for (_, kind), array in zip(self.columns, raw)], schema=self.schema)
        self.rows += batch.num_rows
        names = [name for name, _ in self.columns]
        for key, part in self._partitions(batch, [raw[names.index(column)] for column in self.keys]):
            self._pend(key, part)
        if self.pending_bytes >= PENDING_BYTES:
            self._flush()

    def _partitions(self, batch: Any, keys: list[Any]) -> Iterator[tuple[tuple[Any, ...], Any]]:
        """(partition key, rows) of a batch, each partition's rows in the batch's order. Vectorized:
        the key columns as one integer code per row (dictionary indices), runs where it changes;
        a partition in several runs (users interleaved) is gathered by a stable sort first."""
        import numpy as np

        if not keys:
            yield (), batch
            return
        code = np.zeros(batch.num_rows, dtype=np.int64)
        values = []
        for column in keys:
            encoded = _strings(self.pa, column.to_pylist()) if column.type != self.pa.string() else column
            encoded = encoded.dictionary_encode()
            indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
            code = code * (len(encoded.dictionary) + 1) + indices
            values.append([None, *encoded.dictionary.to_pylist()])
        starts = np.flatnonzero(np.diff(code)) + 1
        if len(np.unique(code[np.concatenate(([0], starts))])) != len(starts) + 1:
            order = np.argsort(code, kind="stable")
            batch, code = batch.take(self.pa.array(order)), code[order]
            starts = np.flatnonzero(np.diff(code)) + 1
        bounds = [0, *starts.tolist(), batch.num_rows]
        for start, end in itertools.pairwise(bounds):
            rest, key = int(code[start]), []
            for found in reversed(values):
                rest, index = divmod(rest, len(found))
                key.append(found[index])
            yield tuple(reversed(key)), batch.slice(start, end - start)

    def _pend(self, key: tuple[Any, ...], part: Any) -> None:
        self.pending.setdefault(key, []).append(part)
        self.pending_bytes += part.nbytes

    def _flush(self) -> None:
        """Every pending partition as one row group of its file (in key order: deterministic)."""
        for key in sorted(self.pending, key=_sort_key):
            parts = self.pending[key]
            self.dataset.submit(lambda key=key, parts=parts: self._append(key, parts))
        self.pending = {}
        self.pending_bytes = 0

    def write_all(self, rows: list[tuple[Any, ...]]) -> None:
        """A small table in one file (runs, fingerprints); an empty one too, so readers find its schema."""
        self.dataset.submit(lambda: self._writer(()))
        self.write(rows)
        self.finish()

    def finish(self) -> None:
        self._flush()
        self.dataset.submit(self._close_all)

    # on the writing thread ---------------------------------------------------------------

    def _append(self, key: tuple[Any, ...], parts: list[Any]) -> None:
        writer, entry = self._writer(key)
        table = self.pa.Table.from_batches(parts, schema=self.schema).combine_chunks()
        writer.write_table(table, row_group_size=ROW_GROUP)
        entry["rows"] += table.num_rows

    def _writer(self, key: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
        found = self.open.get(key)
        if found is not None:
            self.open[key] = self.open.pop(key)  # most recently used last
            return found
        if len(self.open) >= MAX_OPEN:
            self._close(next(iter(self.open)))
        number = self.parts.get(key, 0)
        self.parts[key] = number + 1
        folder = "/".join(_segment(dir_key, value) for (dir_key, _), value in zip(PARTITIONS[self.table], key))
        relative = f"{self.table}/{folder + '/' if folder else ''}part-{number}.parquet"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        writer = self.pq.ParquetWriter(str(target), self.schema, compression=COMPRESSION, write_statistics=self.statistics)
        partition = {column: value for (_, column), value in zip(PARTITIONS[self.table], key)}
        entry = {"path": relative, "rows": 0, "partition": partition}
        self.files.append(entry)
        self.open[key] = (writer, entry)
        return writer, entry

    def _close(self, key: tuple[Any, ...]) -> None:
        found = self.open.pop(key, None)
        if found is not None:
            found[0].close()

    def _close_all(self) -> None:
        for key in list(self.open):
            self._close(key)

    # building ----------------------------------------------------------------------------

    def _raw(self, kind: str, values: list[Any]) -> Any:
        """A column of Python values as Arrow, as the store would give it (text for times and enums)."""
        pa = self.pa
        if kind in ("int64", "int32", "bool"):
            return pa.array(values, {"int64": pa.int64(), "int32": pa.int32(), "bool": pa.bool_()}[kind])
        if kind == "list<string>" and any(isinstance(v, list) for v in values):
            try:
                return pa.array(values, pa.list_(pa.string()))
            except (UnicodeEncodeError, pa.ArrowInvalid):
                return pa.array([[_valid(t) for t in v] if v is not None else None for v in values], pa.list_(pa.string()))
        if kind == "vector":
            import numpy as np

            flat = np.frombuffer(b"".join(values), dtype="<f4")
            return pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), self.dimensions)
        return _strings(pa, values)

    def _convert(self, kind: str, array: Any) -> Any:
        """A raw column (text as the store holds it) in the table's Arrow type, vectorized."""
        pa = self.pa
        if kind in ("string", "json"):
            return array if array.type == pa.string() else array.cast(pa.string())
        if kind == "dictionary":
            return (array if array.type == pa.string() else array.cast(pa.string())).dictionary_encode()
        if kind in ("int64", "int32", "bool"):
            target = {"int64": pa.int64(), "int32": pa.int32(), "bool": pa.bool_()}[kind]
            return array if array.type == target else array.cast(target)
        if kind == "timestamp":
            return _timestamps(pa, array)
        if kind == "list<string>":
            return array if pa.types.is_list(array.type) else _lists(pa, array)
        return array


def _strings(pa: Any, values: tuple[Any, ...]) -> Any:
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowInvalid):
        # a lone surrogate (a Kagura key, say) is no UTF-8: the derived columns carry U+FFFD in its
        # place, the native JSON keeps it exactly (as an ASCII escape)
        return pa.array([_valid(v) if isinstance(v, str) else v for v in values], pa.string())


def _lists(pa: Any, texts: Any) -> Any:
    """Lists of strings from the store's JSON arrays. Tags repeat (a few dozen distinct arrays in a
    million memories, typically): each distinct text is parsed once and the lists taken from those
    (orjson on every row measured 2.4 s a million)."""
    encoded = texts.cast(pa.string()).dictionary_encode()
    parsed = [orjson.loads(text) for text in encoded.dictionary.to_pylist()]
    try:
        lists = pa.array(parsed, pa.list_(pa.string()))
    except (UnicodeEncodeError, pa.ArrowInvalid):
        lists = pa.array([[_valid(t) for t in v] if v is not None else None for v in parsed], pa.list_(pa.string()))
    return lists.take(encoded.indices)


def _valid(text: str) -> str:
    """U+FFFD for each lone surrogate (a str read from JSON holds a surrogate only when it is lone)."""
    return _SURROGATE.sub("\ufffd", text)


def _timestamps(pa: Any, texts: Any) -> Any:
    """UTC times from the store's text (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) or an ISO time with an
    offset (runs), cast by Arrow; a text Arrow cannot read (a year before 1000, say) is parsed alone."""
    target = pa.timestamp("us", tz="UTC")
    try:
        return texts.cast(pa.string()).cast(target)
    except pa.ArrowInvalid:
        return pa.array([_instant(v) for v in texts.to_pylist()], target)


def _instant(text: Any) -> Any:
    from datetime import UTC, datetime

    if not isinstance(text, str):
        return None
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found.astimezone(UTC) if found.tzinfo else found.replace(tzinfo=UTC)


def _segment(key: str, value: Any) -> str:
    """``key=value`` as a directory name: percent-encoded (any character may be in a user id),
    Hive's null name for None, and a long value shortened with a hash (the column holds it whole)."""
    if value is None:
        return f"{key}={NULL_PARTITION}"
    text = quote(str(value).encode("utf-8", "surrogatepass"), safe="")
    if len(text) > 120:
        text = text[:96] + "~" + sha256(text.encode()).hexdigest()[:16]
    return f"{key}={text}"
