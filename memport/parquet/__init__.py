"""Memory as Parquet: a dataset DuckDB, Dask and Spark read, written from a store or a bundle and
imported back exactly.

A Parquet dataset is not a memory system's format (those are :mod:`memport.formats`' plugins): it
is memport's own interchange for engines that outgrow one SQLite file. :mod:`.schema` is the Arrow
schema (docs/parquet.md), :mod:`.write` writes a dataset, :mod:`.read` reads one, :mod:`.load`
imports one into a store. pyarrow, the ADBC SQLite driver and DuckDB come with ``memport[parquet]``;
without pyarrow or DuckDB these functions raise :class:`MissingExtraError` naming it (without the
driver a store is read through the sqlite3 module, at half the speed).
"""

from __future__ import annotations

from .extras import MissingExtraError
from .load import import_parquet
from .read import MemoryDataset, is_dataset, looks_like_parquet, open_dataset, read_parquet
from .schema import MANIFEST, SCHEMA_VERSION
from .write import to_parquet

__all__ = [
    "MANIFEST",
    "SCHEMA_VERSION",
    "MemoryDataset",
    "MissingExtraError",
    "import_parquet",
    "is_dataset",
    "looks_like_parquet",
    "open_dataset",
    "read_parquet",
    "to_parquet",
]
