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

The file opens as-is in sqlite-utils and Datasette (``datasette memport.db``, with the metadata of
:mod:`memport.store.datasette`): rows refer to rows by foreign keys (never enforced: a reference
that names nothing stored is kept), and a view of each record kind leaves out the native JSON and
the keys. ``memories_fts`` is an FTS5 index on title and content kept current by triggers
(:meth:`Store.search_text`). The schema version is SQLite's ``user_version``; opening an older
store migrates it, one transaction per version.

Writes happen in one transaction (WAL mode, so readers keep reading meanwhile); destructive
operations first copy the whole file with SQLite's backup API to ``<store>.bak-<UTC time>``: under a
temporary name, checked, then renamed, with the store's own permissions. A store opened
``readonly`` is never written (not even created or migrated; it also opens on read-only media), and
a disk that fills up is :class:`memport.outputs.DiskFullError` with nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import Location, MemportError
from ..outputs import backup_name, disk_full, is_disk_full, output_mode, remove_temporary, staged_file, sweep_stale
from .schema import EMBEDDED, INTEGER_COLUMNS, KINDS, LINKS, MIGRATIONS, SCHEMA_VERSION

# the page cache of a bulk load, in KiB (negative: SQLite's unit for it): the indexes built at the
# end sort their keys in it rather than in temporary files
BULK_CACHE_KIB = -65536
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
    title: str | None = None
    content: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    # the uids of the records its references name, by link column (schema.LINKS: which of them its
    # table has); None: none
    links: dict[str, str] | None = None


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
    """The INSERT statement of a named row type, and a function giving a row's values in order
    (a record row's links: those of the link columns its table has, in order)."""
    names = [f.name for f in fields(row_type) if f.name != "links"]
    linked = list(LINKS.get(table, {}))
    statement = f"INSERT OR REPLACE INTO {table} ({', '.join(names + linked)}) VALUES ({', '.join('?' * len(names + linked))})"
    values = attrgetter(*names)
    if not linked:
        return statement, values

    def with_links(row: Any) -> tuple[Any, ...]:
        links = row.links or {}
        return (*values(row), *(links.get(column) for column in linked))

    return statement, with_links


# what Store.table_rows reads of each kind, in order (rowid last: the store's order)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "memories": (
        "uid",
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
        "run_id",
        "rowid",
    ),
    **{kind: ("uid", "origin", "source_id", "type", "source", "target", "native", "run_id", "rowid") for kind in KINDS[1:]},
}

_MEMORY_INSERT = _insert("memories", MemoryRow)
_VECTOR_INSERT = _insert("embeddings", VectorRow)
_RECORD_INSERTS = {kind: _insert(kind, MessageRow if kind == "messages" else RecordRow) for kind in KINDS[1:]}


def filter_sql(filters: Any, table: str = "memories") -> tuple[str, list[Any]]:
    """A :class:`memport.Filters` as a WHERE clause on the memories table (or messages: a message
    has an agent and a creation time, and no user, scope, tags or update time, so a filter on those
    selects none)."""
    clauses: list[str] = []
    params: list[Any] = []
    columns = TABLE_FILTERS[table]
    for column, values in (("user_id", filters.users), ("agent_name", filters.agents), ("scope", filters.scopes)):
        if values:
            if column not in columns:
                return "0", []
            clauses.append(f"{table}.{column} IN ({', '.join('?' * len(values))})")
            params += values
    if filters.tags:
        if "tags" not in columns:
            return "0", []
        clauses.append(f"EXISTS (SELECT 1 FROM json_each({table}.tags) WHERE value IN ({', '.join('?' * len(filters.tags))}))")
        params += filters.tags
    for column, (low, high) in filters.bounds.items():
        if (low or high) and column not in columns:
            return "0", []
        if low:
            clauses.append(f"{table}.{column} >= ?")
            params.append(low)
        if high:
            clauses.append(f"{table}.{column} < ?")
            params.append(high)
    return (" AND ".join(clauses) or "1"), params


# the columns filters read, by table
TABLE_FILTERS = {
    "memories": frozenset({"user_id", "agent_name", "scope", "tags", "created_at", "updated_at"}),
    "messages": frozenset({"agent_name", "created_at"}),
}


@dataclass(slots=True)
class Found:
    """A memory or message a search found: what a result shows of it. ``matches`` (keyword search):
    where the query's terms are in its title and content, as (column, start, end) character spans."""

    uid: str
    kind: str  # memories | messages
    origin: str
    title: str | None
    content: str | None
    user_id: str | None
    agent_name: str | None
    created_at: str | None
    score: float | None = None
    matches: list[tuple[str, int, int]] | None = None


class SearchSyntaxError(MemportError):
    """A keyword search in FTS5 query syntax that SQLite cannot parse."""


# what FTS5's highlight() puts around a match: private-use characters (a text that holds them
# itself gets no spans rather than wrong ones)
_OPEN, _CLOSE = "\ue000", "\ue001"


def fts_query(text: str) -> str:
    """What a person typed, as an FTS5 query that cannot be a syntax error: each word a quoted
    phrase (all of them must match, in any order); a word ending in ``*`` matches as a prefix."""
    words = text.split()
    if not words:
        raise MemportError("nothing to search for: the query is empty")
    terms = []
    for word in words:
        prefix = word.endswith("*") and len(word) > 1
        body = word[:-1] if prefix else word
        terms.append('"' + body.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def _spans(marked: str | None, text: str | None, column: str) -> list[tuple[str, int, int]]:
    """The matches FTS5's highlight() marked in a column's text, as (column, start, end) in ``text``."""
    if marked is None or text is None:
        return []
    spans, plain, start = [], [], None
    for char in marked:
        if char == _OPEN:
            start = len(plain)
        elif char == _CLOSE and start is not None:
            spans.append((column, start, len(plain)))
            start = None
        else:
            plain.append(char)
    return spans if "".join(plain) == text else []


@contextmanager
def opened_for_writing(path: str | Path) -> Iterator[Store]:
    """A store to write to (see :class:`Store`), closed at the end; one this creates is removed
    again, with its -wal and -shm files, when what runs inside fails: a failed import leaves no new
    store file behind."""
    path = Path(path)
    created = str(path) != ":memory:" and not path.exists()
    store = Store(path, readonly=False)
    try:
        yield store
    except BaseException:
        store.close()
        if created:
            for name in (
                path,
                path.with_name(path.name + "-wal"),
                path.with_name(path.name + "-shm"),
                path.with_name(path.name + "-journal"),
            ):
                name.unlink(missing_ok=True)
        raise
    store.close()


def _writable(path: Path) -> bool:
    """Whether a store file, and the folder SQLite puts its -wal and -shm files in, can be written."""
    return os.access(path, os.W_OK) and os.access(path.parent if str(path.parent) else Path("."), os.W_OK)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes the store. Where the store can be written, an ordinary one
    made query-only (which, closed last, still tidies up the -wal and -shm files it needed, as a
    read-only connection cannot); elsewhere SQLite's read-only mode, or, on read-only media without
    a -wal file (so nobody is writing it), an immutable open."""
    uri = "file:" + quote(str(path.absolute()))
    if _writable(path):
        conn = sqlite3.connect(uri + "?mode=rw", uri=True, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        return conn
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None, timeout=30, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            raise
    return sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None, check_same_thread=False)


def _prepare_file(path: Path) -> None:
    """Create a missing store file with the permissions outputs get here (see
    :func:`memport.outputs.modes_like`); take from an existing one what those do not allow (SQLite
    gives its -wal and -shm files the store's permissions)."""
    mode = output_mode(None, False)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        current = stat.S_IMODE(path.stat().st_mode)
        allowed = output_mode(path, False)
        if current & ~allowed:
            for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(name, stat.S_IMODE(name.stat().st_mode) & allowed)
        return
    except OSError as err:
        if is_disk_full(err):
            raise disk_full(path) from None
        raise
    os.fchmod(fd, mode)  # open() applied the umask once more
    os.close(fd)


class Store:
    """A memport store file; created (and migrated) on first open.

    ``readonly=True`` reads without ever writing: a missing store is an error (nothing is created),
    an older schema is migrated in memory only, and a store on read-only media opens as it is.
    ``readonly=None`` (the default) opens for writing, or read-only where the file cannot be
    written. A store memport creates gets the permissions :func:`memport.outputs.modes_like` allows;
    an existing one opened for writing inside it is made no more readable than that.
    """

    def __init__(self, path: str | Path, *, readonly: bool | None = None):
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if self.path.is_dir():
            raise StoreError("is a directory; expected a store file (e.g. memport.db)", Location(str(self.path)))
        if readonly is None:
            readonly = not memory and self.path.exists() and not _writable(self.path)
        self.readonly = readonly
        if readonly and not memory and not self.path.exists():
            raise StoreError("no such store (reading creates none)", Location(str(self.path)))
        try:
            if readonly and not memory:
                conn = _open_readonly(self.path)
            else:
                if not memory:
                    _prepare_file(self.path)
                # autocommit mode: memport opens its own transactions (BEGIN IMMEDIATE) around writes.
                # Any thread may use the connection (one at a time): ipykernel 7 runs a notebook
                # widget's callbacks on a thread other than the cell's that opened the store
                conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            if is_disk_full(err):
                raise disk_full(self.path) from None
            raise StoreError(f"not a SQLite database memport can open ({err})", Location(str(self.path))) from None
        if not readonly:
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
        try:
            tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:
            raise StoreError(f"not a SQLite database memport can open ({err})", Location(str(self.path))) from None
        if version == 0 and tables and "memories" not in tables:
            raise StoreError("is a SQLite database, but not a memport store", Location(str(self.path)))
        if self.readonly and version < SCHEMA_VERSION:
            # migrated in memory: the file stays as it is
            copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self.conn.backup(copy)
            self.conn.close()
            self.conn, self.readonly = copy, False
            self._migrate()
            self.readonly = True
            self.conn.execute("PRAGMA query_only=1")
            return
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                MIGRATIONS[number](self.db)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none of it (also when the process is killed,
        or the disk fills up: :class:`memport.outputs.DiskFullError`)."""
        if self.readonly:
            raise StoreError("is open read-only; nothing can be written to it", Location(str(self.path)))
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as err:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if is_disk_full(err):
                raise disk_full(self.path) from None
            raise

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

    def changes(self) -> tuple[int, int]:
        """Changes whenever anything is written to the store, by this store object or by anyone else
        (re-embedding records no run): what is read from it may be kept until then."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0], self.conn.total_changes

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

    def count(self, kind: str, *, origin: str | None = None, filters: Any = None) -> int:
        """How many records :meth:`natives` gives for the same arguments."""
        where, params = filter_sql(filters) if filters is not None and kind == "memories" else ("1", [])
        sql = f"SELECT count(*) FROM {kind} WHERE ({where})" + (" AND origin = ?" if origin else "")
        return int(self.conn.execute(sql, [*params, *([origin] if origin else [])]).fetchone()[0])

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

    def records_of(self, kind: str, origin: str | None = None) -> Iterator[tuple[str, str, Any]]:
        """(uid, origin, native) of every record of ``kind`` (of one origin format), in insertion order."""
        where, params = ("WHERE origin = ?", [origin]) if origin is not None else ("", [])
        for uid, found, native in self.conn.execute(f"SELECT uid, origin, native FROM {kind} {where} ORDER BY rowid", params):
            yield uid, found, json.loads(native)

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

    def search_text(self, query: str, limit: int = 10, filters: Any = None, *, syntax: bool = False) -> list[Found]:
        """Keyword search (FTS5) on the title and content of the memories that ``filters``
        select, best first (bm25; ties in the store's order): ``query`` as a person types it (see
        :func:`fts_query`), or in FTS5's query syntax with ``syntax=True`` (an error in it is a
        :class:`SearchSyntaxError`). Each result's score is minus its bm25 rank: higher is better."""
        where, params = filter_sql(filters) if filters is not None else ("1", [])
        sql = (
            "SELECT memories.uid, memories.origin, memories.title, memories.content, memories.user_id, memories.agent_name, "
            f"memories.created_at, -bm25(memories_fts), highlight(memories_fts, 0, '{_OPEN}', '{_CLOSE}'), "
            f"highlight(memories_fts, 1, '{_OPEN}', '{_CLOSE}') "
            f"FROM memories_fts JOIN memories ON memories.rowid = memories_fts.rowid WHERE memories_fts MATCH ? AND ({where}) "
            "ORDER BY bm25(memories_fts), memories.rowid LIMIT ?"
        )
        try:
            rows = self.conn.execute(sql, [query if syntax else fts_query(query), *params, limit]).fetchall()
        except sqlite3.OperationalError as err:
            if not syntax:
                raise
            raise SearchSyntaxError(f"not a query in FTS5 syntax: {query!r} ({err})") from None
        return [
            Found(
                uid,
                "memories",
                origin,
                title,
                content,
                user,
                agent,
                created,
                score,
                _spans(marked_title, title, "title") + _spans(marked_content, content, "content"),
            )
            for uid, origin, title, content, user, agent, created, score, marked_title, marked_content in rows
        ]

    def found(self, uids: list[str]) -> dict[str, Found]:
        """uid -> what a search result shows of each memory or message among ``uids``."""
        found: dict[str, Found] = {}
        columns = {
            "memories": "uid, origin, title, content, user_id, agent_name, created_at",
            "messages": "uid, origin, NULL, content, NULL, agent_name, created_at",
        }
        for kind in EMBEDDED:
            for uid, origin, title, content, user, agent, created in self._rows_where(kind, columns[kind], "uid", uids):
                found[uid] = Found(uid, kind, origin, title, content, user, agent, created)
        return found

    def embedded_uids(self, filters: Any) -> set[str]:
        """The uids of the memories and messages that ``filters`` select."""
        chosen: set[str] = set()
        for kind in EMBEDDED:
            where, params = filter_sql(filters, kind)
            chosen.update(row[0] for row in self.conn.execute(f"SELECT uid FROM {kind} WHERE ({where})", params))
        return chosen

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

    # reading whole tables for other engines (memport.parquet) ----------------------------

    def table_rows(self, kind: str, size: int = 65536) -> Iterator[list[tuple[Any, ...]]]:
        """Every record of ``kind`` in the store's order, ``size`` at a time, as tuples of
        :data:`TABLE_COLUMNS` (text as stored: native JSON, tags as a JSON array, UTC times)."""
        cursor = self.conn.execute(f"SELECT {', '.join(TABLE_COLUMNS[kind])} FROM {kind} ORDER BY rowid")
        while rows := cursor.fetchmany(size):
            yield rows

    def arrow_batches(self, kind: str, size: int = 65536) -> Iterator[Any] | None:
        """:meth:`table_rows` as Arrow record batches, read by the ADBC SQLite driver (the
        ``parquet`` extra) without a Python object per value: a million memories measured 2.7 s
        against 5.5 s through the sqlite3 module, before any conversion. None when the driver is
        not installed or the store is not a file. Text columns are strings, integers int64."""
        try:
            from adbc_driver_sqlite import dbapi
        except ImportError:
            return None
        if str(self.path) == ":memory:" or not self.path.is_file():
            return None
        return self._arrow_batches(dbapi, kind, size)

    def _arrow_batches(self, dbapi: Any, kind: str, size: int) -> Iterator[Any]:
        names = TABLE_COLUMNS[kind]
        # The driver infers each column's type from the first batch (a column of NULLs there
        # becomes int64, and a later text is an error): a first row of the right types fixes
        # them, and is dropped. UNION ALL gives its left side first, then the table in rowid order.
        first = ", ".join(f"0 AS {name}" if name in INTEGER_COLUMNS or name == "rowid" else f"'' AS {name}" for name in names)
        sql = f"SELECT {first} UNION ALL SELECT * FROM (SELECT {', '.join(names)} FROM {kind} ORDER BY rowid)"
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with dbapi.connect(uri) as conn, conn.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(size)})
            cursor.execute(sql)
            for number, batch in enumerate(cursor.fetch_record_batch()):
                if number == 0:
                    batch = batch.slice(1)
                if batch.num_rows:
                    yield batch

    def vector_sets(self) -> list[tuple[str, int, int]]:
        """(fingerprint, dimensions, count) of the stored vectors, by fingerprint."""
        return list(
            self.conn.execute("SELECT fingerprint, dimensions, count(*) FROM embeddings GROUP BY fingerprint, dimensions ORDER BY 1, 2")
        )

    def vector_rows(self, fingerprint: str, size: int = 65536) -> Iterator[list[tuple[str, bytes, str | None]]]:
        """(memory_uid, float32 vector BLOB, text_sha256) of the vectors of one fingerprint, by
        memory uid, ``size`` at a time."""
        cursor = self.conn.execute(
            "SELECT memory_uid, vector, text_sha256 FROM embeddings WHERE fingerprint = ? ORDER BY memory_uid", [fingerprint]
        )
        while rows := cursor.fetchmany(size):
            yield rows

    def fingerprints(self) -> list[dict[str, Any]]:
        """Every registered fingerprint: fingerprint, model, dimensions, details (parsed)."""
        rows = self.conn.execute("SELECT fingerprint, model, dimensions, details FROM fingerprints ORDER BY fingerprint")
        return [{"fingerprint": f, "model": m, "dimensions": d, "details": json.loads(x) if x else None} for f, m, d, x in rows]

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
        """A consistent copy of the whole store next to it, made with SQLite's backup API under a
        temporary name (memport's pattern: a killed backup is swept away by the next write into
        the folder), checked, fsynced and only then renamed to ``<store>.bak-<UTC time>``. It has
        the store's permissions. A full disk leaves nothing and raises DiskFullError."""
        target = backup_name(self.path, now)
        sweep_stale(self.path.parent)
        try:
            tmp = staged_file(target)
        except OSError as err:
            raise (disk_full(target) if is_disk_full(err) else err) from None
        try:
            os.chmod(tmp, stat.S_IMODE(self.path.stat().st_mode))
            dest = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                self.conn.backup(dest)
                check = dest.execute("PRAGMA quick_check").fetchone()[0]
                copied = dest.execute("SELECT count(*) FROM memories").fetchone()[0]
            finally:
                dest.close()
            if check != "ok" or copied != self.conn.execute("SELECT count(*) FROM memories").fetchone()[0]:
                raise StoreError(f"the backup did not check out ({check}); nothing was changed", Location(str(target)))
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as err:
            remove_temporary(tmp)
            if is_disk_full(err):
                raise disk_full(target) from None
            raise
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
    def bulk_load(self) -> Iterator[None]:
        """Inside a transaction, for an import at least as large as the store: leave the secondary
        indexes and the full-text index alone while rows are written, then build each once, sorted
        (the primary keys stay: replacing a record by its uid needs them). Inserting 200k memories
        measured 7.2 s with the six secondary indexes kept, 3.4 s + 1.9 s to build them after; the
        full-text index 8 s with its per-row triggers against 1.2 s rebuilt once. Everything is
        dropped and recreated in the same transaction, so a failure restores it all."""
        kinds = json.dumps(list(KINDS))
        dropped = self.conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN (SELECT value FROM json_each(?)) "
            "AND type IN ('trigger', 'index') AND sql IS NOT NULL",
            [kinds],
        ).fetchall()
        for kind, name, _ in dropped:
            self.conn.execute(f"DROP {kind.upper()} [{name}]")
        (cache,) = self.conn.execute("PRAGMA cache_size").fetchone()
        self.conn.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
        try:
            yield
            for _, _, sql in dropped:
                self.conn.execute(sql)
            self.conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
        finally:
            self.conn.execute(f"PRAGMA cache_size = {cache}")

    def clear(self) -> None:
        for kind in (*KINDS, "embeddings"):
            self.conn.execute(f"DELETE FROM {kind}")

    # GDPR --------------------------------------------------------------------------------

    def memory_uids(self, filters: Any) -> set[str]:
        """The uids of the memories that ``filters`` select."""
        where, params = filter_sql(filters)
        return {row[0] for row in self.conn.execute(f"SELECT uid FROM memories WHERE ({where})", params)}

    def uids_of_users(self, origin: str, users: list[str]) -> list[str]:
        """The uids of the memories of ``origin`` whose user_id column is one of ``users``."""
        sql = "SELECT uid FROM memories WHERE origin = ? AND user_id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
        return [row[0] for row in self.conn.execute(sql, [origin, json.dumps(users)])]

    def records_touching(self, kind: str, origin: str, ends: Iterable[str]) -> Iterator[tuple[str, Any]]:
        """(uid, native) of the records of ``kind`` (relations) of ``origin`` with an end among ``ends``."""
        marks = "SELECT value FROM json_each(?)"
        sql = f"SELECT uid, native FROM {kind} WHERE origin = ? AND (source IN ({marks}) OR target IN ({marks})) ORDER BY rowid"
        ends = json.dumps(sorted(set(ends)))
        for uid, text in self.conn.execute(sql, [origin, ends, ends]):
            yield uid, json.loads(text)

    def erase(
        self,
        uids: dict[str, Iterable[str]],
        texts: Iterable[str],
        redact: Callable[[str], str],
        *,
        keep_backup: bool = False,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Erase records for good: the records of each kind in ``uids``, the vectors of those
        memories, the cached vectors of ``texts`` (sha256 of texts embedded) and of those memories'
        texts that no other memory's vector was made from, their entries in the full-text index;
        every import run's text columns go through ``redact``. The erase is recorded as a run with
        its counts and nothing else. Then the freed pages are wiped from the file (secure delete,
        the WAL checkpointed and truncated, VACUUM), so that the file's bytes no longer hold what
        was erased.

        A checked backup of the store is made first and removed at the end, unless
        ``keep_backup`` (it then still holds everything erased). Returns ``{"removed": counts,
        "backup": path or None}``."""
        chosen = {kind: sorted(set(found)) for kind, found in uids.items() if kind in KINDS}
        backup = self.backup(now)
        try:
            self.conn.execute("PRAGMA secure_delete = ON")  # freed space is overwritten with zeros
            with self.transaction():
                removed = {kind: 0 for kind in KINDS}
                memories = chosen.get("memories", [])
                shas = set(texts)
                vectors = 0
                for part in _parts(memories):
                    shas.update(
                        row[0]
                        for row in self.conn.execute(
                            "SELECT text_sha256 FROM embeddings WHERE memory_uid IN (SELECT value FROM json_each(?))", [part]
                        )
                        if row[0]
                    )
                    vectors += self.conn.execute(
                        "DELETE FROM embeddings WHERE memory_uid IN (SELECT value FROM json_each(?))", [part]
                    ).rowcount
                for kind, found in chosen.items():
                    for part in _parts(found):
                        removed[kind] += self.conn.execute(
                            f"DELETE FROM {kind} WHERE uid IN (SELECT value FROM json_each(?))", [part]
                        ).rowcount
                kept = {row[0] for row in self.conn.execute("SELECT DISTINCT text_sha256 FROM embeddings")}
                cached = 0
                for part in _parts(sorted(shas - kept)):
                    cached += self.conn.execute(
                        "DELETE FROM embedding_cache WHERE text_sha256 IN (SELECT value FROM json_each(?))", [part]
                    ).rowcount
                # the index's segments still hold the deleted rows' terms until they are merged
                self.conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
                redacted = self._redact_runs(redact)
                counts = {**removed, "embeddings": vectors, "cached_vectors": cached, "runs_redacted": redacted}
                kept_at = str(backup) if keep_backup else None
                run = self.record_run(operation="erase", source="one user's data (the user is not recorded)", dry_run=0, backup=kept_at)
                self.finish_run(run, counts)
            self._wipe()
        finally:
            if not keep_backup:
                backup.unlink(missing_ok=True)
        return {"removed": counts, "backup": kept_at}

    _RUN_TEXTS = ("source", "format", "strategy", "counts", "decisions", "backup", "header")
    _RUN_JSON = frozenset({"counts", "decisions", "header"})

    def _run_texts(self) -> Iterator[tuple[int, str | None, str | None, dict[str, Any]]]:
        """(run_id, operation, started_at, {column: value}) of every import run, the JSON columns parsed."""
        rows = self.conn.execute(f"SELECT run_id, operation, started_at, {', '.join(self._RUN_TEXTS)} FROM import_runs ORDER BY run_id")
        for run_id, operation, started, *values in rows:
            texts = {c: json.loads(v) if c in self._RUN_JSON and v is not None else v for c, v in zip(self._RUN_TEXTS, values)}
            yield run_id, operation, started, texts

    def runs_naming(self, test: Callable[[str], bool]) -> list[dict[str, Any]]:
        """The import runs with a text (in any column, inside JSON too) for which ``test`` is true:
        run_id, operation, source, started_at and the header, by run_id."""
        found = []
        for run_id, operation, started, texts in self._run_texts():
            if any(test(text) for value in texts.values() for text in _strings(value)):
                found.append(
                    {"run_id": run_id, "operation": operation, "source": texts["source"], "started_at": started, "header": texts["header"]}
                )
        return found

    def _redact_runs(self, redact: Callable[[str], str]) -> int:
        """Every text of every import run (inside JSON too) through ``redact``; returns how many runs changed."""
        changed = 0
        for run_id, _, _, texts in list(self._run_texts()):
            new = {c: _map_strings(v, redact) for c, v in texts.items()}
            if new != texts:
                changed += 1
                values = [json.dumps(v, sort_keys=True) if c in self._RUN_JSON and v is not None else v for c, v in new.items()]
                self.conn.execute(f"UPDATE import_runs SET {', '.join(f'{c} = ?' for c in new)} WHERE run_id = ?", [*values, run_id])
        return changed

    def _wipe(self) -> None:
        """Rewrite the file without its free pages: the WAL checkpointed into it and truncated,
        then VACUUM (through the WAL, checkpointed and truncated again)."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as err:
            if is_disk_full(err):
                raise disk_full(self.path) from None
            raise

    def erase_user(self, user: str, *, keep_backup: bool = False) -> dict[str, Any]:
        """Erase everything this store holds of ``user`` (see :func:`memport.userdata.erase`)."""
        from ..userdata import erase

        return erase(self, user, keep_backup=keep_backup)


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A JSON value with every string (keys included) passed through ``change``."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(key): _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def _parts(values: list[str], size: int = 5000) -> Iterator[str]:
    """``values`` as JSON arrays of up to ``size`` items (one query parameter each)."""
    for start in range(0, len(values), size):
        yield json.dumps(values[start : start + size])
