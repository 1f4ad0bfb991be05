"""Reading a memport Parquet dataset: its manifest, its tables, and bundles rebuilt from it.

:func:`open_dataset` checks the manifest (``_memport.json``: memport's own mark, with the schema
version) and that every file it lists is there. :func:`read_parquet` gives a
:class:`MemoryDataset`: each origin's records as the :class:`memport.Bundle` its format builds from
them (the DataFrames a bundle gives), and each table as Arrow or pandas for queries.
:func:`natives` streams one origin's native records of one kind in the order they were written,
with DuckDB sorting out of core, for imports of datasets larger than memory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..bundle import CATEGORICAL, Bundle
from ..errors import BundleNotFoundError, Location, MalformedInputError, NotABundleError, UnsupportedVersionError
from ..formats import FormatPlugin, family, plugin, plugins
from ..frames import python_strings
from ..jsonio import loads
from .extras import need
from .schema import MANIFEST, READABLE, RECORD_TABLES, SCHEMA_VERSION, TABLES, arrow_schema


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a directory memport wrote as Parquet (it holds ``_memport.json``)."""
    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


def looks_like_parquet(path: str | Path) -> bool:
    """A directory with Parquet files but maybe no manifest (someone else's dataset, or a copy of
    part of ours): worth a clear word rather than "not a bundle"."""
    path = Path(path)
    return path.is_dir() and (is_dataset(path) or next(path.rglob("*.parquet"), None) is not None)


@dataclass
class Manifest:
    """What ``_memport.json`` says: the schema version, the source, the tables' files and rows."""

    path: Path
    schema_version: int
    source: dict[str, Any]
    origins: list[str]
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def files(self, table: str, origin: str | None = None) -> list[Path]:
        """The files of ``table`` (of one origin), in the manifest's (sorted) order."""
        return [
            self.path / f["path"]
            for f in self.tables.get(table, {}).get("files", [])
            if origin is None or f.get("partition", {}).get("origin") == origin
        ]

    def rows(self, table: str, origin: str | None = None) -> int:
        return sum(
            f["rows"]
            for f in self.tables.get(table, {}).get("files", [])
            if origin is None or f.get("partition", {}).get("origin") == origin
        )


def open_dataset(path: str | Path) -> Manifest:
    """The manifest of the dataset at ``path``, checked: memport's, a version this memport reads,
    every listed file present. Errors say what was expected."""
    path = Path(path)
    if not path.exists():
        raise BundleNotFoundError("no such file or directory", Location(str(path)))
    where = Location(str(path / MANIFEST))
    if not is_dataset(path):
        what = "has Parquet files but no" if looks_like_parquet(path) else "has no"
        raise NotABundleError(
            f"{what} {MANIFEST}: not a memport Parquet dataset (one is written by `memport export --to parquet` or `memport convert --to parquet`)",
            Location(str(path)),
        )
    try:
        found = json.loads((path / MANIFEST).read_bytes())
    except ValueError as err:
        raise MalformedInputError(f"is not JSON ({err}); expected memport's dataset manifest", where) from None
    version = found.get("schema_version") if isinstance(found, dict) else None
    if not isinstance(version, int) or not isinstance(found.get("tables"), dict):
        raise MalformedInputError("expected an object with an integer schema_version and tables (memport's dataset manifest)", where)
    if version not in READABLE:
        newer = " (newer than this memport: upgrade memport)" if version > SCHEMA_VERSION else ""
        raise UnsupportedVersionError(
            f"Parquet schema version {version} is not supported{newer}; supported: {', '.join(map(str, READABLE))}", where
        )
    manifest = Manifest(path, version, found.get("source") or {}, list(found.get("origins") or []), found["tables"])
    for table in TABLES:
        for file in manifest.files(table):
            if not file.is_file():
                raise BundleNotFoundError(f"the manifest lists {file.relative_to(path)}, which is missing", Location(str(path)))
    return manifest


def latest_header(manifest: Manifest, origin: str, runs: Any = None) -> Any:
    """The header of the latest run that brought a bundle of the origin's family (what the store's
    ``latest_header`` gives an export), parsed; None when no run recorded one."""
    formats = {p.name for p in plugins() if p.family == origin}
    table = runs if runs is not None else read_table(manifest, "runs")
    best: tuple[int, str] | None = None
    for run_id, fmt, header in zip(*(table.column(name).to_pylist() for name in ("run_id", "format", "header"))):
        if fmt in formats and header is not None and (best is None or run_id > best[0]):
            best = (run_id, header)
    return json.loads(best[1]) if best else None


def latest_format(manifest: Manifest, origin: str, runs: Any = None) -> FormatPlugin:
    """The plugin of the latest run that brought records of the origin's family (the family's own
    when no run says)."""
    formats = {p.name for p in plugins() if p.family == origin}
    table = runs if runs is not None else read_table(manifest, "runs")
    found = [(run_id, fmt) for run_id, fmt in zip(*(table.column(name).to_pylist() for name in ("run_id", "format"))) if fmt in formats]
    return plugin(max(found)[1]) if found else family(origin)


def read_table(manifest: Manifest, table: str, origin: str | None = None, columns: list[str] | None = None) -> Any:
    """A whole table (of one origin) as one pyarrow Table, in memory. Embeddings: of one dimension
    per fingerprint, so read them per fingerprint (``origin`` is not a column of theirs)."""
    pa = need("pyarrow")
    pq = need("pyarrow.parquet")
    files = manifest.files(table, origin)
    if not files:
        schema = arrow_schema(table, 0)
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    parts = [pq.read_table(str(f), columns=columns) for f in files]
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def natives(manifest: Manifest, kind: str, origin: str, size: int = 8192) -> Iterator[tuple[int, Any, bool]]:
    """(position, value, exact) of one origin's records of ``kind``, in the order they were
    written. DuckDB reads only the two columns and sorts out of core within 128 MB (spilling to a
    temporary directory), so a dataset larger than memory still streams in order."""
    files = manifest.files(kind, origin)
    if not files:
        return
    duckdb = need("duckdb")
    with tempfile.TemporaryDirectory(prefix="memport-duckdb-") as spill:
        con = duckdb.connect(config={"memory_limit": "128MB", "temp_directory": spill, "threads": 2})
        try:
            relation = con.sql(
                "SELECT position, native FROM read_parquet($files, hive_partitioning = false) ORDER BY position",
                params={"files": [str(f) for f in files]},
            )
            # to_arrow_reader since DuckDB 2.0 (fetch_arrow_reader before, deprecated now)
            reader = relation.to_arrow_reader(size) if hasattr(relation, "to_arrow_reader") else relation.fetch_arrow_reader(size)
            for batch in reader:
                for position, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                    parsed = loads(text.encode("utf-8"), Location(str(manifest.path), record=position))
                    yield position, parsed.value, parsed.exact
        finally:
            con.close()


class MemoryDataset:
    """A memport Parquet dataset, read: per origin the bundle its records make, per table a frame.

    ``bundle(origin)`` is the :class:`memport.Bundle` the origin's format builds from the records
    (as an export from a store would), so ``.memories``, ``.relations``, ... are the DataFrames a
    bundle gives; the properties of the same names join every origin's, with an ``origin`` column
    first. ``table(name)`` and ``frame(name)`` give a table as stored (Arrow, pandas) for queries.
    Everything here is read into memory: for datasets larger than memory, query them with DuckDB,
    Dask or Spark (README).
    """

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        self.path = manifest.path
        self.schema_version = manifest.schema_version
        self.origins = manifest.origins

    def __repr__(self) -> str:
        counts = ", ".join(f"{t}={self.manifest.rows(t)}" for t in RECORD_TABLES if self.manifest.rows(t))
        return f"<MemoryDataset {self.path} schema {self.schema_version}: {counts or 'empty'}>"

    def counts(self) -> dict[str, int]:
        return {table: self.manifest.rows(table) for table in TABLES}

    def table(self, name: str) -> Any:
        """The table ``name`` as one pyarrow Table (embeddings: ask per fingerprint with DuckDB or
        pyarrow, since their vectors differ in dimension)."""
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; one of {', '.join(TABLES)}")
        return read_table(self.manifest, name)

    @python_strings
    def frame(self, name: str) -> Any:
        """The table ``name`` as a pandas DataFrame: dictionaries as categories, UTC datetimes,
        nullable integers, text as ``string``."""
        import pandas as pd

        pa = need("pyarrow")

        def types(arrow_type: Any) -> Any:
            if pa.types.is_string(arrow_type):
                return pd.StringDtype()
            if pa.types.is_int64(arrow_type) or pa.types.is_int32(arrow_type):
                return pd.Int64Dtype()
            return None

        return self.table(name).to_pandas(types_mapper=types)

    @cached_property
    def _runs(self) -> Any:
        return read_table(self.manifest, "runs")

    def bundle(self, origin: str) -> Bundle:
        """The records of ``origin`` as a bundle of the format the latest run of that family read
        (Tribal's stream or bundle), built by its plugin from the native records with the header of
        the latest run that brought one, as a store export does."""
        if origin not in self.origins:
            raise ValueError(f"no records of {origin!r} in this dataset; origins: {', '.join(self.origins) or 'none'}")
        fmt = latest_format(self.manifest, origin, self._runs)
        found: dict[str, list[Any]] = {}
        for kind in RECORD_TABLES:
            table = read_table(self.manifest, kind, origin, ["position", "native"])
            if table.num_rows:
                table = table.sort_by("position")
                found[kind] = [loads(text.encode("utf-8")).value for text in table.column("native").to_pylist()]
        return fmt.read_native(fmt.from_store(found, latest_header(self.manifest, origin, self._runs)))

    @cached_property
    def bundles(self) -> dict[str, Bundle]:
        """origin -> :meth:`bundle`."""
        return {origin: self.bundle(origin) for origin in self.origins}

    @python_strings
    def records(self, kind: str) -> Any:
        """Every origin's bundle frame of ``kind``, one after another, with ``origin`` first;
        categories stay categories (their union)."""
        import pandas as pd

        frames = []
        for origin, bundle in self.bundles.items():
            frame = bundle.frame(kind)
            frame.insert(0, "origin", pd.Series([origin] * len(frame), dtype="string", index=frame.index))
            frames.append(frame)
        if not frames:
            return pd.DataFrame({"origin": pd.Series([], dtype="string")})
        joined = pd.concat(frames, ignore_index=True)
        for name in joined.columns:
            if name in CATEGORICAL and joined[name].dtype == object:
                joined[name] = joined[name].astype("category")
        return joined

    @property
    def memories(self) -> Any:
        return self.records("memories")

    @property
    def relations(self) -> Any:
        return self.records("relations")

    @property
    def nodes(self) -> Any:
        return self.records("nodes")

    @property
    def documents(self) -> Any:
        return self.records("documents")

    @property
    def chunks(self) -> Any:
        return self.records("chunks")

    @property
    def pending(self) -> Any:
        return self.records("pending")


def read_parquet(path: str | Path) -> MemoryDataset:
    """Open the memport Parquet dataset at ``path`` (see :class:`MemoryDataset`)."""
    return MemoryDataset(open_dataset(path))
