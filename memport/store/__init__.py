"""The memport store: one SQLite file, built with sqlite-utils, that merges bundles of any format.

Every record is kept as its exact native JSON (so an export to its own format gives it back), plus
the columns filters and full-text search use. A record's ``uid`` is ``<origin>:<kind>:<identity>``:
the same record from the same system always gets the same uid, whichever bundle brings it.
Plans compare records by 64-bit keys kept next to them (:mod:`memport.keys`): ``uid_key`` (the
uid), ``content_key`` (the native JSON, canonical) and ``line_key`` (the line of a JSON Lines
bundle it came from, if any).

This package is the only place that speaks SQL: the rest of memport calls :class:`Store`'s methods
and hands it named rows (:class:`MemoryRow`, :class:`RecordRow`, :class:`MessageRow`, :class:`VectorRow`). The tables are
in :mod:`memport.store.schema` (and docs/store.md, generated from it).

The file opens as-is in sqlite-utils and Datasette (``datasette memport.db``); ``memories_fts`` is
an FTS5 index on title and content kept current by triggers. The schema version is SQLite's
``user_version``; opening an older store migrates it in one transaction.

Writes happen in one transaction (WAL mode, so readers keep reading meanwhile); destructive
operations first copy the whole file with SQLite's backup API to ``<store>.bak-<UTC time>``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from ..errors import Location, MemportError
from ..jsonio import backup_name
from .schema import EMBEDDED, KINDS, MIGRATIONS, SCHEMA_VERSION

# content keys are summed modulo this prime (so that a sum of millions fits SQLite's integers)
CONTENTS_MODULUS = 4294967291


def contents_term(key: int) -> int:
    """A content key's term in :meth:`Store.contents`: its remainder as SQLite computes it (the
    sign of the dividend, unlike Python's %)."""
    return key % CONTENTS_MODULUS if key >= 0 else -(-key % CONTENTS_MODULUS)


def _json(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


class StoreError(MemportError):
    """The store file cannot be used (newer schema, not a memport store, locked, ...)."""


@dataclass(slots=True)
class MemoryRow:
    """A row of the memories table (docs/store.md says what each column holds)."""

    uid: str
    uid_key: int
    origin: str
    source_id: str | None
    user_id: str | None
    agent_name: str | None
    scope: str | None
    type: str | None
    title: str | None
    content: str | None
    tags: str | None  # a JSON array
    created_at: str | None
    updated_at: str | None
    native: str
    content_key: int
    run_id: int
    line_key: int | None
    problems: str | None = None  # a JSON array of codes


@dataclass(slots=True)
class RecordRow:
    """A row of the relations, nodes, documents, chunks or pending table."""

    uid: str
    uid_key: int
    origin: str
    source_id: str | None
    type: str | None
    source: str | None
    target: str | None
    native: str
    content_key: int
    run_id: int
    line_key: int | None
    problems: str | None = None  # a JSON array of codes


@dataclass(slots=True)
class MessageRow:
    """A row of the messages table: one message of an agent's conversation."""

    uid: str
    uid_key: int
    origin: str
    source_id: str | None
    agent_name: str | None
    type: str | None  # the role
    content: str | None
    created_at: str | None
    native: str
    content_key: int
    run_id: int
    line_key: int | None
    problems: str | None = None  # a JSON array of codes


@dataclass(slots=True)
class VectorRow:
    """A row of the embeddings table: one memory's vector under one fingerprint."""

    memory_uid: str
    fingerprint: str
    dimensions: int
    vector: bytes
    text_sha256: str


def _insert(table: str, row_type: type) -> tuple[str, Any]:
    """The INSERT statement of a named row type, and a function giving a row's values in order."""
    names = [f.name for f in fields(row_type)]
    return f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", attrgetter(*names)


_MEMORY_INSERT = _insert("memories", MemoryRow)
_VECTOR_INSERT = _insert("embeddings", VectorRow)
_RECORD_INSERTS = {kind: _insert(kind, MessageRow if kind == "messages" else RecordRow) for kind in KINDS[1:]}


def filter_sql(filters: Any) -> tuple[str, list[Any]]:
    """A :class:`memport.Filters` as a WHERE clause on the memories table."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (("user_id", filters.users), ("agent_name", filters.agents), ("scope", filters.scopes)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += values
    if filters.tags:
        clauses.append(f"EXISTS (SELECT 1 FROM json_each(memories.tags) WHERE value IN ({', '.join('?' * len(filters.tags))}))")
        params += filters.tags
    for column, (low, high) in filters.bounds.items():
        if low:
            clauses.append(f"{column} >= ?")
            params.append(low)
        if high:
            clauses.append(f"{column} < ?")
            params.append(high)
    return (" AND ".join(clauses) or "1"), params


class Store:
    """A memport store file; created (and migrated) on first open."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError("is a directory; expected a store file (e.g. memport.db)", Location(str(self.path)))
        try:
            # autocommit mode: memport opens its own transactions (BEGIN IMMEDIATE) around writes
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"not a SQLite database memport can open ({err})", Location(str(self.path))) from None
        conn.execute("PRAGMA synchronous=NORMAL")
        self.conn = conn
        self._db: Any = None
        self._migrate()

    @property
    def db(self) -> Any:
        """The store as a ``sqlite_utils.Database`` (imported on first use: sqlite-utils loads pandas,
        which a command-line import or dry run does not need)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store schema version {version} is newer than this memport understands ({SCHEMA_VERSION}); upgrade memport",
                Location(str(self.path)),
            )
        tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and tables and "memories" not in tables:
            raise StoreError("is a SQLite database, but not a memport store", Location(str(self.path)))
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[number](self.db)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none of it (also when the process is killed)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # reading -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {kind: self.conn.execute(f"SELECT count(*) FROM {kind}").fetchone()[0] for kind in KINDS}

    def generation(self) -> int:
        """Changes whenever memport writes to the store (each write records a run)."""
        return self.conn.execute("SELECT coalesce(max(run_id), 0) FROM import_runs").fetchone()[0]

    def state(self, kind: str) -> dict[int, int]:
        """uid_key -> content_key of every record of ``kind``: one index scan, so that a plan looks
        records up in a dict rather than with a query each (64-bit keys: a few dozen MB per million)."""
        return dict(self.conn.execute(f"SELECT uid_key, content_key FROM {kind}"))

    def key_columns(self, kind: str, first: str, second: str) -> tuple[Any, Any]:
        """Two integer key columns of ``kind`` (uid_key, content_key or line_key) as numpy int64
        arrays, for the records where both are set: what a large plan looks keys up in.

        Read as text (group_concat) over the covering index a sixteenth of the uid_key range at a
        time: a million rows measured 0.2-0.4 s this way against 0.7-0.9 s through the cursor, and
        the slices keep each text far below SQLite's 1 GB limit on a string."""
        import numpy as np

        sql = (
            f"SELECT count(*), group_concat({first}) || ',' || group_concat({second}) FROM {kind} "
            f"WHERE uid_key >= ? AND uid_key <= ? AND {first} IS NOT NULL AND {second} IS NOT NULL"
        )
        parts = []
        step = 1 << 60
        for low in range(-(1 << 63), 1 << 63, step):
            count, text = self.conn.execute(sql, [low, low + step - 1]).fetchone()
            if count:
                pair = np.fromstring(text, dtype=np.int64, sep=",").reshape(2, count)
                parts.append(pair)
        joined = np.concatenate(parts, axis=1) if parts else np.empty((2, 0), dtype=np.int64)
        return joined[0].copy(), joined[1].copy()

    def content_key(self, kind: str, key: int) -> int | None:
        """The content key stored under one uid key (None if there is none)."""
        row = self.conn.execute(f"SELECT content_key FROM {kind} WHERE uid_key = ?", [key]).fetchone()
        return row[0] if row else None

    def content_keys(self, kind: str, uid_keys: list[int]) -> dict[int, int]:
        """uid_key -> content_key of the stored records among ``uid_keys`` (one query)."""
        return dict(self._rows_where(kind, "uid_key, content_key", "uid_key", uid_keys))

    def natives_of(self, kind: str, uids: list[str]) -> dict[str, Any]:
        """uid -> native record of the stored records among ``uids``."""
        return {uid: json.loads(text) for uid, text in self._rows_where(kind, "uid, native", "uid", uids)}

    def stored_line_keys(self, kind: str, uid_keys: list[int]) -> dict[int, int | None]:
        """uid_key -> line_key of the stored records among ``uid_keys``."""
        return dict(self._rows_where(kind, "uid_key, line_key", "uid_key", uid_keys))

    def _rows_where(self, kind: str, wanted: str, column: str, values: list[Any]) -> Iterator[tuple[Any, ...]]:
        """The ``wanted`` columns of the records whose ``column`` is among ``values``: a JSON array
        parameter per thousand values rather than a placeholder each (no limit on the count)."""
        sql = f"SELECT {wanted} FROM {kind} WHERE {column} IN (SELECT value FROM json_each(?))"
        for start in range(0, len(values), 1000):
            yield from self.conn.execute(sql, [json.dumps(values[start : start + 1000])])

    def updated_at(self, kind: str, uid: str) -> str | None:
        if kind != "memories":
            return None
        row = self.conn.execute("SELECT updated_at FROM memories WHERE uid = ?", [uid]).fetchone()
        return row[0] if row else None

    def native(self, kind: str, uid: str) -> Any:
        row = self.conn.execute(f"SELECT native FROM {kind} WHERE uid = ?", [uid]).fetchone()
        return None if row is None else json.loads(row[0])

    def natives(self, kind: str, *, origin: str | None = None, filters: Any = None) -> Iterator[Any]:
        """The native records of ``kind`` in insertion order (optionally of one origin format, and
        for memories those that ``filters`` select)."""
        where, params = filter_sql(filters) if filters is not None and kind == "memories" else ("1", [])
        sql = f"SELECT native FROM {kind} WHERE ({where})" + (" AND origin = ?" if origin else "") + " ORDER BY rowid"
        for (text,) in self.conn.execute(sql, [*params, *([origin] if origin else [])]):
            yield json.loads(text)

    def touching(self, kind: str, origin: str, ends: list[str]) -> Iterator[Any]:
        """The native records of ``kind`` (relations) of ``origin`` with an end among ``ends``."""
        marks = "SELECT value FROM json_each(?)"
        sql = f"SELECT native FROM {kind} WHERE origin = ? AND (source IN ({marks}) OR target IN ({marks})) ORDER BY rowid"
        for (text,) in self.conn.execute(sql, [origin, json.dumps(ends), json.dumps(ends)]):
            yield json.loads(text)

    def memory_rows(self) -> Iterator[dict[str, Any]]:
        """Every memory with the columns an audit reads (native parsed, tags as a list)."""
        sql = "SELECT uid, origin, native, user_id, agent_name, scope, type, tags, created_at FROM memories ORDER BY rowid"
        for uid, origin, native, user, agent, scope, kind, tags, created in self.conn.execute(sql):
            yield {
                "uid": uid,
                "origin": origin,
                "native": json.loads(native),
                "user_id": user,
                "agent_name": agent,
                "scope": scope,
                "type": kind,
                "tags": json.loads(tags) if tags else [],
                "created_at": created,
            }

    def records_of(self, kind: str) -> Iterator[tuple[str, str, Any]]:
        """(uid, origin, native) of every record of ``kind``, in insertion order."""
        for uid, origin, native in self.conn.execute(f"SELECT uid, origin, native FROM {kind} ORDER BY rowid"):
            yield uid, origin, json.loads(native)

    def memory_text(self, uid: str) -> tuple[str | None, str | None]:
        """(title, content) of one memory, or (None, content) of one message."""
        row = self.conn.execute("SELECT title, content FROM memories WHERE uid = ?", [uid]).fetchone()
        if row is None:
            row = self.conn.execute("SELECT NULL, content FROM messages WHERE uid = ?", [uid]).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def embeddable(self) -> int:
        """How many records re-embedding reads: memories and messages (:data:`EMBEDDED`)."""
        return sum(self.conn.execute(f"SELECT count(*) FROM {kind}").fetchone()[0] for kind in EMBEDDED)

    def embedded_records(self) -> Iterator[tuple[str, str, Any]]:
        """(uid, origin, native) of every record re-embedding reads: memories, then messages."""
        for kind in EMBEDDED:
            yield from self.records_of(kind)

    def source_ids(self) -> dict[str, str | None]:
        """uid -> source id of every memory."""
        return dict(self.conn.execute("SELECT uid, source_id FROM memories"))

    def origins(self) -> list[str]:
        found: set[str] = set()
        for kind in KINDS:
            found.update(row[0] for row in self.conn.execute(f"SELECT DISTINCT origin FROM {kind}"))
        return sorted(found)

    def search(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Full-text search on memory titles and content (FTS5 query syntax)."""
        sql = (
            "SELECT m.uid, m.title, m.content FROM memories_fts f JOIN memories m ON m.rowid = f.rowid "
            "WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?"
        )
        return [dict(zip(("uid", "title", "content"), row)) for row in self.conn.execute(sql, [query, limit])]

    def latest_import(self, formats: list[str]) -> dict[str, Any] | None:
        """The header, layout and contents key (see :meth:`contents`) of the latest import of a
        bundle of one of ``formats`` (a family's): what an export needs that records do not carry,
        such as the embedding model of Tribal vectors or the files of a Kagura bundle."""
        row = self.conn.execute(
            "SELECT format, header, layout, contents FROM import_runs WHERE operation = 'import' "
            "AND format IN (SELECT value FROM json_each(?)) AND finished_at IS NOT NULL ORDER BY run_id DESC LIMIT 1",
            [json.dumps(formats)],
        ).fetchone()
        if row is None:
            return None
        fmt, header, layout, contents = row
        return {"format": fmt, "header": _json(header), "layout": _json(layout), "contents": _json(contents)}

    def contents(self, origin: str, kinds: Iterable[str], filters: Any = None) -> list[int]:
        """[records, a sum of their content keys] of the records of ``origin`` (memories: those
        ``filters`` select): equal to an import run's ``contents`` when the store holds exactly the
        records of its bundle, as they were. (SQLite's % keeps the sign, as :func:`contents_term` does.)"""
        total = [0, 0]
        for kind in kinds:
            where, params = filter_sql(filters) if filters is not None and kind == "memories" else ("1", [])
            count, summed = self.conn.execute(
                f"SELECT count(*), coalesce(sum(content_key % {CONTENTS_MODULUS}), 0) FROM {kind} WHERE origin = ? AND ({where})",
                [origin, *params],
            ).fetchone()
            total = [total[0] + count, total[1] + summed]
        return total

    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value])

    def fingerprint(self, fingerprint_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT details FROM fingerprints WHERE fingerprint = ?", [fingerprint_id]).fetchone()
        return json.loads(row[0]) if row else None

    def runs(self) -> list[dict[str, Any]]:
        return list(self.db["import_runs"].rows_where(order_by="run_id"))

    # vectors ----------------------------------------------------------------------------

    def register_fingerprint(self, fingerprint_id: str, model: Any, dimensions: Any, details: dict[str, Any]) -> None:
        """Record what makes the vectors of ``fingerprint_id`` (once)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO fingerprints (fingerprint, model, dimensions, details, created_at) VALUES (?, ?, ?, ?, datetime('now'))",
            [fingerprint_id, model, dimensions, json.dumps(details, sort_keys=True)],
        )

    def to_embed(self, fingerprint_id: str) -> Iterator[tuple[str, str, Any, str | None]]:
        """(uid, origin, native, sha256 of the text its vector of this fingerprint was made from, or
        None) for every memory, then every message, in insertion order."""
        for kind in EMBEDDED:
            rows = self.conn.execute(
                f"SELECT m.uid, m.origin, m.native, e.text_sha256 FROM {kind} m "
                "LEFT JOIN embeddings e ON e.memory_uid = m.uid AND e.fingerprint = ? ORDER BY m.rowid",
                [fingerprint_id],
            )
            for uid, origin, native, sha in rows:
                yield uid, origin, json.loads(native), sha

    def cached_vectors(self, fingerprint_id: str, shas: list[str]) -> dict[str, tuple[bytes, int | None]]:
        """sha256 -> (vector, tokens) of the texts among ``shas`` the cache holds for this fingerprint."""
        found: dict[str, tuple[bytes, int | None]] = {}
        for start in range(0, len(shas), 900):
            part = shas[start : start + 900]
            found.update(
                {
                    row[0]: (row[1], row[2])
                    for row in self.conn.execute(
                        f"SELECT text_sha256, vector, tokens FROM embedding_cache WHERE fingerprint = ? AND text_sha256 IN ({','.join('?' * len(part))})",
                        [fingerprint_id, *part],
                    )
                }
            )
        return found

    def cache_vectors(self, fingerprint_id: str, entries: Iterable[tuple[str, bytes, int | None]]) -> None:
        """Put (sha256, vector, tokens) into the cache of this fingerprint."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO embedding_cache (fingerprint, text_sha256, tokens, vector) VALUES (?, ?, ?, ?)",
            [(fingerprint_id, sha, tokens, vector) for sha, vector, tokens in entries],
        )

    def write_vectors(self, rows: list[VectorRow]) -> None:
        sql, values = _VECTOR_INSERT
        self.conn.executemany(sql, map(values, rows))

    def vectors(self, fingerprint_id: str) -> tuple[list[str], list[bytes]]:
        """The uids (sorted) and vectors of every memory with a vector of this fingerprint."""
        rows = self.conn.execute("SELECT memory_uid, vector FROM embeddings WHERE fingerprint = ? ORDER BY memory_uid", [fingerprint_id])
        uids, blobs = [], []
        for uid, blob in rows:
            uids.append(uid)
            blobs.append(blob)
        return uids, blobs

    # writing -----------------------------------------------------------------------------

    def backup(self, now: datetime | None = None) -> Path:
        """A consistent copy of the whole store next to it, made with SQLite's backup API."""
        target = backup_name(self.path, now)
        dest = sqlite3.connect(str(target))
        try:
            self.conn.backup(dest)
        finally:
            dest.close()
        return target

    def write_records(self, kind: str, rows: list[Any]) -> None:
        """Insert (or replace, by uid) rows of ``kind``: :class:`MemoryRow` for memories,
        :class:`MessageRow` for messages, else :class:`RecordRow`."""
        sql, values = _MEMORY_INSERT if kind == "memories" else _RECORD_INSERTS[kind]
        self.conn.executemany(sql, map(values, rows))

    def record_run(self, **values: Any) -> int:
        values.setdefault("started_at", datetime.now(UTC).isoformat())
        cursor = self.conn.execute(
            f"INSERT INTO import_runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            [json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for v in values.values()],
        )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, counts: dict[str, Any], header: Any = None, layout: Any = None, contents: Any = None) -> None:
        """Close a run with its counts and the bundle's header (its key order kept), layout and
        contents key, as reading completed them (a streamed document's members after its records
        are met last)."""

        def text(value: Any) -> str | None:
            return json.dumps(value) if value is not None else None

        self.conn.execute(
            "UPDATE import_runs SET finished_at = ?, counts = ?, header = ?, layout = ?, contents = ? WHERE run_id = ?",
            [datetime.now(UTC).isoformat(), json.dumps(counts, sort_keys=True), text(header), text(layout), text(contents), run_id],
        )

    @contextmanager
    def bulk_text_index(self) -> Iterator[None]:
        """Inside a transaction: leave the full-text index alone while rows are written, then
        rebuild it once. For large imports this is several times faster than the per-row triggers;
        the triggers are dropped and recreated in the same transaction, so a failure restores them."""
        triggers = self.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'memories'").fetchall()
        for name, _ in triggers:
            self.conn.execute(f"DROP TRIGGER [{name}]")
        yield
        for _, sql in triggers:
            self.conn.execute(sql)
        self.conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")

    def clear(self) -> None:
        for kind in (*KINDS, "embeddings"):
            self.conn.execute(f"DELETE FROM {kind}")

    # GDPR --------------------------------------------------------------------------------

    def user_selection(self, user_id: str) -> tuple[list[str], list[str]]:
        """The uids of a user's memories, and of the relations that touch them (or the user)."""
        memories = [r[0] for r in self.conn.execute("SELECT uid FROM memories WHERE user_id = ?", [user_id])]
        ends = {r[0] for r in self.conn.execute("SELECT source_id FROM memories WHERE user_id = ? AND source_id IS NOT NULL", [user_id])}
        ends |= {user_id, json.dumps(user_id)}
        relations = [
            r[0]
            for r in self.conn.execute(
                "SELECT uid FROM relations WHERE source IN (SELECT value FROM json_each(?)) OR target IN (SELECT value FROM json_each(?))",
                [json.dumps(sorted(ends)), json.dumps(sorted(ends))],
            )
        ]
        return memories, relations

    def erase_user(self, user_id: str) -> dict[str, Any]:
        """Delete everything of one user in one transaction, after a backup; returns what was removed."""
        memories, relations = self.user_selection(user_id)
        backup = self.backup()
        with self.transaction():
            for kind, uids in (("memories", memories), ("relations", relations)):
                for start in range(0, len(uids), 900):
                    chunk = uids[start : start + 900]
                    marks = ",".join("?" * len(chunk))
                    if kind == "memories":
                        self.conn.execute(f"DELETE FROM embeddings WHERE memory_uid IN ({marks})", chunk)
                    self.conn.execute(f"DELETE FROM {kind} WHERE uid IN ({marks})", chunk)
            removed = {"memories": len(memories), "relations": len(relations)}
            self.record_run(operation="erase", source=f"user:{user_id}", counts=removed, backup=str(backup), dry_run=0)
        return {"user": user_id, "removed": removed, "memories": memories, "relations": relations, "backup": str(backup)}
