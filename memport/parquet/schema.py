"""The Arrow schema of a memport Parquet dataset, one table per record kind, versioned.

A dataset is a directory: ``_memport.json`` (the manifest: schema version, tables, files, row
counts) and one folder per table. Record tables are Hive-partitioned by the origin format
(``format=<family>``), memories also by user (``user=<user_id>``, ``__HIVE_DEFAULT_PARTITION__``
for formats without users), embeddings by fingerprint (a vector column has one dimension per
file). Every file is complete on its own: the partition values are also columns (``origin``,
``user_id``, ``fingerprint``) with their exact types, so an engine that infers partition types
from paths (a user ``007`` read as the number 7) loses nothing; the directory keys are named apart
(``format``, ``user``) so that no engine sees one name twice.

Each record row carries its uid (``<origin>:<kind>:<identity>``), origin, source id, the columns
the store indexes (:class:`memport.formats.Indexed`: the canonical fields every format maps to)
with real Arrow types, and the exact native JSON, so nothing is lost: ``memport import DIR`` reads
the native JSON back, and the rest is there to query. ``position`` keeps the store's (or the
bundle's) order, which exports follow.

:data:`TABLES` says what each column holds; ``docs/parquet.md`` is generated from it (a test
checks it is current). :data:`SCHEMA_VERSION` changes whenever a column changes; a reader refuses
a dataset newer than it knows and reads older ones it lists in :data:`READABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1
READABLE = (1,)
MANIFEST = "_memport.json"
# the record tables, in the store's order of kinds
RECORD_TABLES = ("memories", "relations", "nodes", "documents", "chunks", "pending")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a null partition value (Spark, DuckDB and pyarrow read it as null)


@dataclass(frozen=True)
class Column:
    """One column: its name, its Arrow type (as text, for the docs and the builder) and what it holds."""

    name: str
    type: str  # string | dictionary | int64 | int32 | float32 | bool | timestamp | list<string> | vector | json
    holds: str


_IDENTITY = [
    Column("uid", "string", "`<origin>:<kind>:<identity>`: the same record from the same system always has the same uid"),
    Column("origin", "dictionary", "the format family the record came from (kagura, tribal, doclea)"),
    Column("source_id", "string", "the record's own id in its format (Kagura memories: the key)"),
]
_TAIL = [
    Column("native", "json", "the record's exact native JSON (as the store keeps it: see `memport.keys.native_text`)"),
    Column("run_id", "int64", "the import run that wrote it (`runs`); a dataset converted from a bundle has one run"),
    Column("position", "int64", "the record's place in the store's order (or the bundle's); exports follow it"),
]

TABLES: dict[str, list[Column]] = {
    "memories": [
        *_IDENTITY,
        Column("user_id", "string", "owner (Kagura); also the `user=` partition"),
        Column("agent_name", "string", "agent (Kagura)"),
        Column("scope", "dictionary", "working or persistent (Kagura)"),
        Column("type", "dictionary", "Doclea type / Tribal source_type"),
        Column("title", "string", "title (Kagura: a text key)"),
        Column("content", "string", "the text (non-text values as JSON)"),
        Column("tags", "list<string>", "tags"),
        Column("created_at", "timestamp", "creation time, UTC"),
        Column("updated_at", "timestamp", "last update, UTC"),
        *_TAIL,
    ],
    "relations": [
        *_IDENTITY,
        Column("type", "dictionary", "the relation's native type"),
        Column("source", "string", "the record its source end names, as the format's relations spell it"),
        Column("target", "string", "the record its target end names"),
        *_TAIL,
    ],
    "embeddings": [
        Column("memory_uid", "string", "the memory (`memories.uid`)"),
        Column("fingerprint", "dictionary", "what made the vector (`fingerprints`); also the `fingerprint=` partition"),
        Column("vector", "vector", "the vector: `fixed_size_list<float32>[dimensions]`, one dimension per fingerprint"),
        Column("text_sha256", "string", "sha256 of the exact text embedded"),
    ],
    "fingerprints": [
        Column("fingerprint", "string", "id: a hash of the details"),
        Column("model", "string", "model name"),
        Column("dimensions", "int32", "vector length"),
        Column("details", "json", "model, weights sha256, dimension, max_seq_length, pooling, normalisation, dtype, library versions"),
        Column("current", "bool", "the store's current model (what `memport search` uses)"),
    ],
    "runs": [
        Column("run_id", "int64", "the run (records' `run_id`)"),
        Column("operation", "dictionary", "import, erase, or convert (a dataset written from a bundle)"),
        Column("source", "string", "what was imported (a path) or erased"),
        Column("format", "dictionary", "the bundle's format"),
        Column("started_at", "timestamp", "UTC"),
        Column("finished_at", "timestamp", "UTC"),
        Column("strategy", "dictionary", "conflict strategy"),
        Column("counts", "json", "the run's accounting"),
        Column("decisions", "json", "the uids decided"),
        Column("backup", "string", "the store backup taken first, if any"),
        Column("header", "json", "the bundle's header (Kagura metadata.json, Tribal manifest, Doclea top level): what exports need"),
    ],
}
# nodes, documents, chunks and pending have the columns of relations
for _kind in ("nodes", "documents", "chunks", "pending"):
    TABLES[_kind] = TABLES["relations"]

# how each table is partitioned: (directory key, column) pairs
PARTITIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "memories": (("format", "origin"), ("user", "user_id")),
    **{kind: (("format", "origin"),) for kind in RECORD_TABLES[1:]},
    "embeddings": (("fingerprint", "fingerprint"),),
    "fingerprints": (),
    "runs": (),
}


def arrow_schema(table: str, dimensions: int | None = None) -> Any:
    """The pyarrow schema of ``table`` (embeddings: of one fingerprint's ``dimensions``)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "json": pa.string(),
        "dictionary": pa.dictionary(pa.int32(), pa.string()),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "list<string>": pa.list_(pa.string()),
    }
    fields = []
    for column in TABLES[table]:
        if column.type == "vector":
            fields.append(pa.field(column.name, pa.list_(pa.float32(), dimensions or 0)))
        else:
            fields.append(pa.field(column.name, types[column.type], metadata={"holds": column.holds}))
    return pa.schema(fields, metadata={"memport.schema_version": str(SCHEMA_VERSION), "memport.table": table})


_ARROW_NAMES = {
    "string": "string",
    "json": "string (JSON text)",
    "dictionary": "dictionary<int32, string>",
    "int64": "int64",
    "int32": "int32",
    "bool": "bool",
    "timestamp": "timestamp[us, tz=UTC]",
    "list<string>": "list<string>",
    "vector": "fixed_size_list<float32>[dimensions]",
}


def schema_markdown() -> str:
    """docs/parquet.md, generated from :data:`TABLES` and :data:`PARTITIONS`."""
    lines = [
        "# The Parquet dataset's tables",
        "",
        "Generated from `memport/parquet/schema.py` (`TABLES`); `tests/test_parquet.py` checks this file is current.",
        f"Schema version {SCHEMA_VERSION} (the manifest's `schema_version` and every file's `memport.schema_version` metadata).",
        "",
        f"A dataset is a directory: `{MANIFEST}` (schema version, tables, files and row counts) and one folder per table.",
        "Partition values are also columns of every file, with their exact types; the directory keys are named apart",
        f"from the columns. A null partition value is `{NULL_PARTITION}`. Values are percent-encoded in paths.",
        "",
    ]
    for table, columns in TABLES.items():
        keys = PARTITIONS[table]
        layout = "/".join(f"{key}=<{column}>" for key, column in keys) + "/" if keys else ""
        lines += [f"## {table}", "", f"`{table}/{layout}part-<n>.parquet`", "", "| column | Arrow type | holds |", "|---|---|---|"]
        lines += [f"| {c.name} | {_ARROW_NAMES[c.type]} | {c.holds} |" for c in columns]
        lines.append("")
    return "\n".join(lines)
