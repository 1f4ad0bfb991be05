"""The memport store: one SQLite file, built with sqlite-utils, that merges bundles of any format.

Every record is kept as its exact native JSON (so an export to its own format gives it back), plus
the columns filters and full-text search use. A record's ``uid`` is ``<origin>:<kind>:<identity>``:
the same record from the same system always gets the same uid, whichever bundle brings it.
Plans compare records by 64-bit keys kept next to them: ``uid_key`` (the uid), ``content_key``
(the native JSON, canonical) and ``line_key`` (the line of a JSON Lines bundle it came from, if
any; see ``diff.line_key``).

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import Location, MemportError
from .jsonio import backup_name

SCHEMA_VERSION = 4
KINDS = ("memories", "relations", "nodes", "documents", "chunks", "pending")
# the columns of schema version 1; later migrations add to them
_MEMORY_COLUMNS_1 = (
    "uid",
    "uid_key",
    "origin",
    "source_id",
    "user_id",
    "agent_name",
    "scope",
    "type",
    "title",
    "content",
    "tags",
    "created_at",
    "updated_at",
    "native",
    "content_key",
    "run_id",
)
_OTHER_COLUMNS_1 = ("uid", "uid_key", "origin", "source_id", "type", "source", "target", "native", "content_key", "run_id")
MEMORY_COLUMNS = (*_MEMORY_COLUMNS_1, "line_key")
OTHER_COLUMNS = (*_OTHER_COLUMNS_1, "line_key")
INTEGER_COLUMNS = {"uid_key", "content_key", "run_id", "line_key"}


class StoreError(MemportError):
    """The store file cannot be used (newer schema, not a memport store, locked, ...)."""


def columns(kind: str) -> tuple[str, ...]:
    return MEMORY_COLUMNS if kind == "memories" else OTHER_COLUMNS


def _migrate_1(db: Any) -> None:
    text = str
    db["memories"].create({c: (int if c in INTEGER_COLUMNS else text) for c in _MEMORY_COLUMNS_1}, pk="uid")
    # (uid_key, content_key) covers the one scan a plan makes to preload the store's state
    db["memories"].create_index(["uid_key", "content_key"])
    for column in ("user_id", "agent_name", "created_at", "updated_at", "origin"):
        db["memories"].create_index([column])
    db["memories"].enable_fts(["title", "content"], fts_version="FTS5", create_triggers=True)
    for kind in KINDS[1:]:
        db[kind].create({c: (int if c in INTEGER_COLUMNS else text) for c in _OTHER_COLUMNS_1}, pk="uid")
        db[kind].create_index(["uid_key", "content_key"])
    db["relations"].create_index(["source"])
    db["relations"].create_index(["target"])
    db["embeddings"].create({"memory_uid": text, "fingerprint": text, "dimensions": int, "vector": bytes}, pk=("memory_uid", "fingerprint"))
    db["import_runs"].create(
        {
            "run_id": int,
            "source": text,
            "format": text,
            "started_at": text,
            "finished_at": text,
            "strategy": text,
            "dry_run": int,
            "counts": text,
            "decisions": text,
            "backup": text,
            "operation": text,
            "header": text,
        },
        pk="run_id",
    )


def _migrate_2(db: Any) -> None:
    """Re-embedding: fingerprints of models, the (fingerprint, text) cache, the store's own model."""
    text = str
    db["embeddings"].add_column("text_sha256", text)
    db["fingerprints"].create(
        {"fingerprint": text, "model": text, "dimensions": int, "details": text, "created_at": text}, pk="fingerprint"
    )
    db["embedding_cache"].create(
        {"fingerprint": text, "text_sha256": text, "tokens": int, "vector": bytes}, pk=("fingerprint", "text_sha256")
    )
    db["settings"].create({"key": text, "value": text}, pk="key")


def _migrate_3(db: Any) -> None:
    """Line keys: a key of each record's line as a JSON Lines bundle held it (NULL for records
    from other files), so that a dry run recognises lines the store holds without parsing them."""
    from .formats import plugins

    for kind in KINDS:
        db[kind].add_column("line_key", int)
    # the index a plan scans to preload the state covers the line keys too (one more random-order
    # index would slow imports down by a third)
    db.execute("DROP INDEX idx_memories_uid_key_content_key")
    db["memories"].create_index(["uid_key", "content_key", "line_key"])
    _rekey(db, {p.name: p.volatile for p in plugins() if p.volatile})


def _migrate_4(db: Any) -> None:
    """Whether a record needs exact JSON (see ``jsonio.needs_reference``) is decided by its value
    since schema version 4, no longer by the parser that read it: Tribal and Doclea documents are
    read as a stream, record by record, where one NaN used to make the whole document exact, and
    a Kagura line went to the standard library for any 19-digit run, fraction digits included.
    Recompute the keys of the records stored as exact: their native text was written by the
    standard library, the only writer that puts a space after a colon."""
    from .formats import plugins

    _rekey(db, {p.name: p.volatile for p in plugins() if p.name != "tribal-jsonl"}, "AND native LIKE '%\": %'")


def _rekey(db: Any, origins: dict[str, tuple[str, ...]], where: str = "") -> None:
    """Recompute the content keys of the stored records of these origins (each with its format's
    volatile keys; a format's records carry its name as their origin), in batches."""
    from .diff import content_key
    from .jsonio import needs_reference

    for origin, volatile in origins.items():
        for kind in KINDS:
            last = 0
            while True:
                rows = db.execute(
                    f"SELECT rowid, native FROM {kind} WHERE origin = ? AND rowid > ? {where} ORDER BY rowid LIMIT 10000", [origin, last]
                ).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                keys = []
                for rowid, text in rows:
                    value = json.loads(text)
                    keys.append((content_key(value, needs_reference(value), volatile), rowid))
                db.conn.executemany(f"UPDATE {kind} SET content_key = ? WHERE rowid = ?", keys)


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3, _migrate_4]


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

    def natives(self, kind: str, *, origin: str | None = None, where: str = "1", params: Iterable[Any] = ()) -> Iterator[Any]:
        """The native records of ``kind`` in insertion order (optionally of one origin format)."""
        sql = f"SELECT native FROM {kind} WHERE ({where})" + (" AND origin = ?" if origin else "") + " ORDER BY rowid"
        for (text,) in self.conn.execute(sql, [*params, *([origin] if origin else [])]):
            yield json.loads(text)

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

    def latest_header(self, origin: str) -> dict[str, Any] | None:
        """The header (manifest, metadata) of the latest import from ``origin``: what an export needs
        that records do not carry, such as the embedding model of Tribal vectors."""
        row = self.conn.execute(
            "SELECT header FROM import_runs WHERE format IN (?, ?) AND header IS NOT NULL ORDER BY run_id DESC LIMIT 1",
            [origin, f"{origin}-jsonl"],
        ).fetchone()
        return json.loads(row[0]) if row else None

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

    def record_run(self, **values: Any) -> int:
        values.setdefault("started_at", datetime.now(UTC).isoformat())
        cursor = self.conn.execute(
            f"INSERT INTO import_runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            [json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for v in values.values()],
        )
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, counts: dict[str, Any], header: Any = None) -> None:
        """Close a run with its counts and the bundle's header, as reading completed it (a streamed
        document's members after its records are met last)."""
        self.conn.execute(
            "UPDATE import_runs SET finished_at = ?, counts = ?, header = ? WHERE run_id = ?",
            [
                datetime.now(UTC).isoformat(),
                json.dumps(counts, sort_keys=True),
                json.dumps(header, sort_keys=True) if header is not None else None,
                run_id,
            ],
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
