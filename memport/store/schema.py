"""The store's tables, and the migrations that build them, one schema version at a time.

The schema version is SQLite's ``user_version``; opening an older store runs the missing migrations,
each in its own transaction. ``docs/store.md`` is generated from :data:`TABLES` (a test checks it is
current), so what the documentation says is what the code creates.
"""

from __future__ import annotations

import json
from typing import Any

from ..formats import plugins
from ..jsonio import needs_reference
from ..keys import content_key, storable, uid_key
from ..timestamps import UTC

SCHEMA_VERSION = 7
# the record tables of schema versions 1 to 5, which their migrations build; version 6 adds messages
FIRST_KINDS = ("memories", "relations", "nodes", "documents", "chunks", "pending")
KINDS = (*FIRST_KINDS, "messages")
# the record tables whose text re-embedding reads (the embeddings table names them by uid)
EMBEDDED = ("memories", "messages")
# Links (since schema version 7): columns that hold the uid of the record a reference names (a
# FOREIGN KEY), by table: column -> (the referring end, as ``Reference.end`` says, and the table
# of the record it names). Each format says which records its references name
# (``FormatPlugin.references``); a reference that names no stored record keeps its link all the
# same (memport never enforces foreign keys: nothing is lost, and ``PRAGMA foreign_key_check``
# lists what does not resolve, as an audit's dangling references do).
LINKS: dict[str, dict[str, tuple[str, str]]] = {
    "relations": {
        "source_memory": ("source", "memories"),
        "target_memory": ("target", "memories"),
        "source_node": ("source", "nodes"),
        "target_node": ("target", "nodes"),
    },
    "chunks": {"document": ("document", "documents")},
}

# What each column of each table holds (docs/store.md), in the table's order: what a reader wants
# first, the exact native JSON and the keys plans compare by last.
_KEYS = {
    "native": "the record's exact native JSON",
    "uid_key": "64-bit key of the uid (keys.uid_key): what plans look records up by",
    "content_key": "64-bit key of the native JSON, canonical (keys.content_key): what plans compare records by",
    "line_key": "64-bit key of the JSON Lines line it came from, if any (keys.line_key)",
}
_RUN = {
    "run_id": "the import run that wrote it (import_runs)",
    "problems": "the codes of the rules of its own system it breaks (a JSON array; NULL: none): memport keeps it, that system's importer would not",
}
_RECORD = {
    "origin": "the format family the record came from (kagura, tribal, doclea, letta)",
    "source_id": "the record's own id in its format, spelled as relation ends spell it (a string as it is, another value as compact JSON): Kagura: a memory's key, a node's id; Letta: its file id, numbered anew on every export",
}
TABLES: dict[str, dict[str, str]] = {
    "memories": {
        "uid": "`<origin>:memories:<identity>`: the same record from the same system always gets the same uid (composite identities are compact JSON arrays, alike for every format)",
        **_RECORD,
        "user_id": "owner (Kagura)",
        "agent_name": "agent (Kagura; Letta: the user-facing agent listing the block, named without Letta's _copy)",
        "scope": "working or persistent (Kagura)",
        "type": "Doclea type / Tribal source_type",
        "title": "title (Kagura: a text key; Letta: a block's label)",
        "content": "the text (non-text values as JSON)",
        "tags": "tags as a JSON array",
        "created_at": "UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts",
        "updated_at": "UTC, as created_at",
        **_RUN,
        **_KEYS,
        "label": "its title, else the first 60 characters of its text (generated: what links to it show)",
    },
    "messages": {
        "uid": "`<origin>:messages:<identity>` (Letta: the agent, the time, the role and a hash of the text)",
        **_RECORD,
        "agent_name": "the agent whose conversation holds it (named without Letta's _copy)",
        "type": "its role (user, assistant, tool, system, ...)",
        "content": "its text (Letta: the text parts, joined by newlines)",
        "created_at": "UTC, as in memories",
        **_RUN,
        **_KEYS,
        "label": "the first 60 characters of its text (generated: what links to it show)",
    },
    "relations": {
        "uid": "`<origin>:relations:<identity>`",
        **_RECORD,
        "type": "the relation's native type",
        "title": "(none of the formats' relations has one)",
        "content": "(none of the formats' relations has one)",
        "source": "the record its source end names, spelled as that record's source_id (join on origin and source_id)",
        "target": "the record its target end names, spelled alike",
        "source_memory": "the memory the source end names (its uid; Doclea)",
        "target_memory": "the memory the target end names (its uid; Doclea's memory relations)",
        "source_node": "the node the source end names (its uid; Kagura's edges)",
        "target_node": "the node the target end names (its uid; Kagura's edges)",
        "created_at": "UTC (Doclea)",
        "updated_at": "UTC",
        **_RUN,
        **_KEYS,
    },
    "nodes": {
        "uid": "`<origin>:nodes:<identity>` (Kagura's graph)",
        **_RECORD,
        "type": "the node's type (Kagura's node_type: user, topic, memory, ...)",
        "title": "its name, if it has one (Kagura: data.name)",
        "content": "(none)",
        "source": "(none: relations name nodes, not nodes relations)",
        "target": "(none)",
        "created_at": "(none)",
        "updated_at": "(none)",
        **_RUN,
        **_KEYS,
    },
    "documents": {
        "uid": "`<origin>:documents:<identity>` (Doclea documents, Letta files)",
        **_RECORD,
        "type": "(none)",
        "title": "the document's title (Letta: the file's name)",
        "content": "its text",
        "source": "(none)",
        "target": "(none)",
        "created_at": "UTC",
        "updated_at": "UTC",
        **_RUN,
        **_KEYS,
    },
    "chunks": {
        "uid": "`<origin>:chunks:<identity>` (Doclea)",
        **_RECORD,
        "type": "(none)",
        "title": "(none)",
        "content": "its text",
        "source": "(none)",
        "target": "(none)",
        "document": "the document it is a part of (its uid)",
        "created_at": "(none)",
        "updated_at": "(none)",
        **_RUN,
        **_KEYS,
    },
    "pending": {
        "uid": "`<origin>:pending:<identity>` (Doclea's memories waiting for approval)",
        **_RECORD,
        "type": "the type of the memory it would become",
        "title": "its title",
        "content": "its text",
        "source": "(none)",
        "target": "(none)",
        "created_at": "UTC: when it was suggested",
        "updated_at": "(none)",
        **_RUN,
        **_KEYS,
    },
    "embeddings": {
        "memory_uid": "the memory or message the vector is of (re-embedding reads both)",
        "fingerprint": "what made the vector (fingerprints)",
        "dimensions": "vector length",
        "vector": "float32 little-endian BLOB",
        "text_sha256": "sha256 of the exact text embedded",
        "memory": "memory_uid when it names a memory (generated: the link to memories)",
        "message": "memory_uid when it names a message (generated: the link to messages)",
    },
    "fingerprints": {
        "fingerprint": "id: a hash of the details",
        "model": "model name",
        "dimensions": "vector length",
        "details": "JSON: model, weights sha256, dimension, max_seq_length, pooling, normalisation, dtype, library versions",
        "created_at": "when first recorded",
    },
    "embedding_cache": {
        "fingerprint": "what made the vector (fingerprints)",
        "text_sha256": "sha256 of the text",
        "tokens": "the text's token count under that model",
        "vector": "float32 BLOB",
    },
    "settings": {"key": "name (embedding_fingerprint: the store's current model)", "value": "value"},
    "import_runs": {
        "run_id": "increasing: the store's generation",
        "source": "what was imported (a path) or erased",
        "format": "the bundle's format",
        "started_at": "UTC ISO time",
        "finished_at": "UTC ISO time",
        "strategy": "conflict strategy",
        "dry_run": "0",
        "counts": "JSON accounting",
        "decisions": "JSON list of the uids decided",
        "backup": "path of the backup taken first, if any",
        "operation": "import or erase",
        "header": "the bundle's header (Kagura metadata.json, Tribal manifest, Doclea top level) as JSON, its key order kept",
        "layout": "what else the bundle's shape was, as its format says (Kagura: the files it had; Doclea: the data object's members)",
        "contents": "[records, a sum of their content keys]: an export holding exactly these gives the header back as read",
    },
}
# the foreign keys (column -> referenced table and column), by table
FOREIGN_KEYS: dict[str, dict[str, str]] = {
    **{kind: {"run_id": "import_runs(run_id)"} for kind in KINDS},
    "embeddings": {"fingerprint": "fingerprints(fingerprint)", "memory": "memories(uid)", "message": "messages(uid)"},
    "embedding_cache": {"fingerprint": "fingerprints(fingerprint)"},
}
for _table, _links in LINKS.items():
    FOREIGN_KEYS[_table].update({column: f"{table}(uid)" for column, (_, table) in _links.items()})
INTEGER_COLUMNS = {"uid_key", "content_key", "run_id", "line_key"}

# The views (since schema version 7; migration 7 holds their SQL): each record kind with the columns
# a reader wants, relation ends named by what they link to, and neither native JSON nor keys (the
# record's row in its table has them: one click away in Datasette). name -> what it shows.
VIEWS: dict[str, str] = {
    "memories_view": "every memory: whose, what, its tags and times, how many vectors it has, the run that wrote it",
    "messages_view": "every message of an agent's conversation (type as role)",
    "relations_view": "every relation, with the records at its ends named (a memory's label, a node's name or id) and their uids",
    "nodes_view": "every node of a graph, with how many relations touch it",
    "documents_view": "every document, with how many chunks it has",
    "chunks_view": "every chunk, with the title and uid of its document",
    "pending_view": "every memory waiting for approval (Doclea), as it would be stored",
}

# the columns of schema versions 1 and 6: those migrations build exactly these, whatever the
# tables are today
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
_MESSAGE_COLUMNS_6 = (
    "uid",
    "uid_key",
    "origin",
    "source_id",
    "agent_name",
    "type",
    "content",
    "created_at",
    "native",
    "content_key",
    "run_id",
    "line_key",
    "problems",
)


def _migrate_1(db: Any) -> None:
    text = str
    db["memories"].create({c: (int if c in INTEGER_COLUMNS else text) for c in _MEMORY_COLUMNS_1}, pk="uid")
    # (uid_key, content_key) covers the one scan a plan makes to preload the store's state
    db["memories"].create_index(["uid_key", "content_key"])
    for column in ("user_id", "agent_name", "created_at", "updated_at", "origin"):
        db["memories"].create_index([column])
    db["memories"].enable_fts(["title", "content"], fts_version="FTS5", create_triggers=True)
    for kind in FIRST_KINDS[1:]:
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
    for kind in FIRST_KINDS:
        db[kind].add_column("line_key", int)
    # the index a plan scans to preload the state covers the line keys too (one more random-order
    # index would slow imports down by a third)
    db.execute("DROP INDEX idx_memories_uid_key_content_key")
    db["memories"].create_index(["uid_key", "content_key", "line_key"])
    _rekey(db, {p.family: p.volatile for p in plugins() if p.volatile})


def _migrate_4(db: Any) -> None:
    """Whether a record needs exact JSON (see ``jsonio.needs_reference``) is decided by its value
    since schema version 4, no longer by the parser that read it: Tribal and Doclea documents are
    read as a stream, record by record, where one NaN used to make the whole document exact, and
    a Kagura line went to the standard library for any 19-digit run, fraction digits included.
    Recompute the keys of the records stored as exact: their native text was written by the
    standard library, the only writer that puts a space after a colon."""
    _rekey(db, {p.family: p.volatile for p in plugins()}, "AND native LIKE '%\": %'")


def _rekey(db: Any, origins: dict[str, tuple[str, ...]], where: str = "", kinds: tuple[str, ...] = FIRST_KINDS) -> None:
    """Recompute the content keys of the stored records of these origins (each with its format's
    volatile keys), in batches."""
    for origin, volatile in origins.items():
        for kind in kinds:
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


def _migrate_5(db: Any) -> None:
    """The store keeps every record it can read (since schema version 5), also those its own
    system's importer would reject, with the codes of the rules they break (records stored before
    passed validation: they have none); and an import run keeps what an export needs to give its
    bundle back byte for byte: the bundle's layout and a key of its contents."""
    for kind in FIRST_KINDS:
        if "problems" not in db[kind].columns_dict:  # a store put back to an older version by hand
            db[kind].add_column("problems", str)
    for column in ("layout", "contents"):
        if column not in db["import_runs"].columns_dict:
            db["import_runs"].add_column(column, str)


def _migrate_6(db: Any) -> None:
    """Messages, the conversation an agent file holds (Letta's), get a table of their own. A format
    with messages could store its other records before (a file holding no message): their uids and
    content keys are recomputed under the identity and volatile keys it has now."""
    if not db["messages"].exists():  # (a store put back to an older version by hand has it)
        db["messages"].create({c: (int if c in INTEGER_COLUMNS else str) for c in _MESSAGE_COLUMNS_6}, pk="uid")
        db["messages"].create_index(["uid_key", "content_key"])
        for column in ("agent_name", "created_at"):
            db["messages"].create_index([column])
    for found in plugins():
        if "messages" in found.kinds and found.name == found.family:
            _reidentify(db, found)


def _reidentify(db: Any, found: Any) -> None:
    """The uids, uid keys and content keys of the stored records of one format family, computed
    again by its plugin (a vector follows its memory); a record whose new uid another record
    already has keeps its old one."""
    for kind in FIRST_KINDS:
        rows = db.execute(f"SELECT rowid, uid, native FROM {kind} WHERE origin = ? ORDER BY rowid", [found.family]).fetchall()
        for rowid, old, text in rows:
            value = json.loads(text)
            raw = f"{found.family}:{kind}:{found.identity(kind, value)}"
            uid, ukey = storable(raw), uid_key(raw)
            if uid != old and db.execute(f"SELECT 1 FROM {kind} WHERE uid = ?", [uid]).fetchone():
                uid, ukey = old, uid_key(old)
            key = content_key(value, needs_reference(value), found.volatile)
            db.execute(f"UPDATE {kind} SET uid = ?, uid_key = ?, content_key = ? WHERE rowid = ?", [uid, ukey, key, rowid])
            if kind == "memories" and uid != old:
                db.execute("UPDATE embeddings SET memory_uid = ? WHERE memory_uid = ?", [uid, old])


def _migrate_7(db: Any) -> None:
    """One spelling across origins, links, views (schema version 7).

    * Identities, source ids and relation ends are spelled alike by every format (see
      ``formats.spelled``): composite identities as compact JSON (Doclea's relations were
      ``["memory", "V1St..."]``, Kagura's edges ``["edge","user_alice",...]``), a relation's ends
      as the source ids of the records they name (Kagura's were JSON text, ``"user_alice"``). Every
      record's uid, uid key and source id is computed again by its format, and so are the other
      columns of the kinds other than memories and messages (``again``: those of memories may
      depend on the zone an import read naive local times in, which a store does not record, and
      their columns did not change); what is keyed by a uid follows it: vectors, and the uids
      decided in import runs. Content keys, line keys, the runs'
      contents and layouts do not depend on a uid (Letta's layouts hold identities, whose spelling
      is unchanged), nor does the embedding cache (keyed by text). A record whose new uid another
      record keeps, or would get too, keeps its own.
    * Foreign keys where rows refer to rows: records to their import run, relation ends and chunks to
      the records they name (:data:`LINKS`: new columns, filled from ``FormatPlugin.references``),
      vectors to their memory or message (generated columns) and to their fingerprint. SQLite adds
      them only to a new table: each table is built anew, its rows copied with their rowids (the
      store's order, and the full-text index's keys), its indexes and triggers made again.
    * A view of each record kind (:data:`VIEWS`).

    The tables and views it builds are written out here, as version 7 has them."""
    conn = db.conn
    record = "uid TEXT PRIMARY KEY, origin TEXT, source_id TEXT"
    tail = (
        "run_id INTEGER REFERENCES import_runs(run_id), problems TEXT, native TEXT, uid_key INTEGER, content_key INTEGER, line_key INTEGER"
    )
    generic = "type TEXT, title TEXT, content TEXT, source TEXT, target TEXT"
    times = "created_at TEXT, updated_at TEXT"
    kind_of = "substr(memory_uid, instr(memory_uid, ':'), 10)"  # ':<kind>:' (an origin holds no colon)
    tables = {
        "memories": f"{record}, user_id TEXT, agent_name TEXT, scope TEXT, type TEXT, title TEXT, content TEXT, tags TEXT, {times}, {tail}, "
        "label TEXT GENERATED ALWAYS AS (coalesce(title, substr(content, 1, 60))) VIRTUAL",
        "messages": f"{record}, agent_name TEXT, type TEXT, content TEXT, created_at TEXT, {tail}, "
        "label TEXT GENERATED ALWAYS AS (substr(content, 1, 60)) VIRTUAL",
        "relations": f"{record}, {generic}, source_memory TEXT REFERENCES memories(uid), target_memory TEXT REFERENCES memories(uid), "
        f"source_node TEXT REFERENCES nodes(uid), target_node TEXT REFERENCES nodes(uid), {times}, {tail}",
        "nodes": f"{record}, {generic}, {times}, {tail}",
        "documents": f"{record}, {generic}, {times}, {tail}",
        "chunks": f"{record}, {generic}, document TEXT REFERENCES documents(uid), {times}, {tail}",
        "pending": f"{record}, {generic}, {times}, {tail}",
        "embeddings": "memory_uid TEXT, fingerprint TEXT REFERENCES fingerprints(fingerprint), dimensions INTEGER, vector BLOB, "
        f"text_sha256 TEXT, memory TEXT GENERATED ALWAYS AS (CASE WHEN {kind_of} = ':memories:' THEN memory_uid END) VIRTUAL "
        f"REFERENCES memories(uid), message TEXT GENERATED ALWAYS AS (CASE WHEN {kind_of} = ':messages:' THEN memory_uid END) "
        "VIRTUAL REFERENCES messages(uid), PRIMARY KEY (memory_uid, fingerprint)",
        "embedding_cache": "fingerprint TEXT REFERENCES fingerprints(fingerprint), text_sha256 TEXT, tokens INTEGER, vector BLOB, "
        "PRIMARY KEY (fingerprint, text_sha256)",
    }
    links = {
        "relations": {
            "source_memory": ("source", "memories"),
            "target_memory": ("target", "memories"),
            "source_node": ("source", "nodes"),
            "target_node": ("target", "nodes"),
        },
        "chunks": {"document": ("document", "documents")},
    }
    indexes = {
        "idx_relations_source_memory": "relations(source_memory)",
        "idx_relations_target_memory": "relations(target_memory)",
        "idx_relations_source_node": "relations(source_node)",
        "idx_relations_target_node": "relations(target_node)",
        "idx_chunks_document": "chunks(document)",
        "idx_embeddings_memory": "embeddings(memory) WHERE memory IS NOT NULL",
        "idx_embeddings_message": "embeddings(message) WHERE message IS NOT NULL",
    }
    views = {
        "memories_view": "SELECT uid, origin, source_id, user_id, agent_name, scope, type, title, content, tags, created_at, updated_at, "
        "(SELECT count(*) FROM embeddings e WHERE e.memory = memories.uid) AS vectors, run_id, problems FROM memories",
        "messages_view": "SELECT uid, origin, source_id, agent_name, type AS role, content, created_at, "
        "(SELECT count(*) FROM embeddings e WHERE e.message = messages.uid) AS vectors, run_id, problems FROM messages",
        "relations_view": "SELECT r.uid, r.origin, r.type, r.source, coalesce(sm.label, sn.title, sn.source_id) AS source_label, "
        "r.target, coalesce(tm.label, tn.title, tn.source_id) AS target_label, "
        "coalesce(r.source_memory, r.source_node) AS source_uid, coalesce(r.target_memory, r.target_node) AS target_uid, "
        "r.created_at, r.run_id, r.problems FROM relations r "
        "LEFT JOIN memories sm ON sm.uid = r.source_memory LEFT JOIN memories tm ON tm.uid = r.target_memory "
        "LEFT JOIN nodes sn ON sn.uid = r.source_node LEFT JOIN nodes tn ON tn.uid = r.target_node",
        "nodes_view": "SELECT uid, origin, source_id, type, title, (SELECT count(*) FROM relations r WHERE r.source_node = nodes.uid) "
        "+ (SELECT count(*) FROM relations r WHERE r.target_node = nodes.uid) AS relations, run_id, problems FROM nodes",
        "documents_view": "SELECT uid, origin, source_id, title, content, created_at, updated_at, "
        "(SELECT count(*) FROM chunks c WHERE c.document = documents.uid) AS chunks, run_id, problems FROM documents",
        "chunks_view": "SELECT c.uid, c.origin, c.source_id, d.title AS document_title, c.content, c.document AS document_uid, c.run_id, "
        "c.problems FROM chunks c LEFT JOIN documents d ON d.uid = c.document",
        "pending_view": "SELECT uid, origin, source_id, type, title, content, created_at, run_id, problems FROM pending",
    }
    again = ("relations", "nodes", "documents", "chunks", "pending")

    # the schema's other objects on these tables (indexes, full-text triggers) and the views go, and come back
    kept = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND (type = 'view' OR (type IN ('index', 'trigger') "
        "AND tbl_name IN (SELECT value FROM json_each(?)))) ORDER BY rowid",
        [json.dumps(list(tables))],
    ).fetchall()
    for what, name, _ in kept:
        if what == "view":
            conn.execute(f"DROP VIEW [{name}]")
    for table, columns in tables.items():
        old = [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]
        conn.execute(f"CREATE TEMP TABLE memport_columns ({columns})")
        known = {row[1] for row in conn.execute("PRAGMA temp.table_xinfo(memport_columns)")}
        conn.execute("DROP TABLE temp.memport_columns")
        # a column someone added by hand stays, after memport's (before a table's key constraint)
        extra = "".join(f"[{name}], " for name in old if name not in known)
        definition = columns.replace(", PRIMARY KEY", f", {extra}PRIMARY KEY") if ", PRIMARY KEY (" in columns else columns + ", " + extra
        conn.execute(f"CREATE TABLE memport_new ({definition.rstrip(', ')})")
        names = ", ".join(row[1] for row in conn.execute("PRAGMA table_info(memport_new)") if row[1] in old)  # (not the generated)
        conn.execute(f"INSERT INTO memport_new (rowid, {names}) SELECT rowid, {names} FROM [{table}] ORDER BY rowid")
        conn.execute(f"DROP TABLE [{table}]")
        conn.execute(f"ALTER TABLE memport_new RENAME TO [{table}]")

    formats = {p.family: p for p in plugins() if p.name == p.family}
    renamed: dict[str, str] = {}
    for kind in ("memories", "messages", *again):
        changes: dict[str, dict[str, Any]] = {}  # uid -> the columns that change
        rows = conn.execute(f"SELECT * FROM {kind} ORDER BY rowid")
        names = [d[0] for d in rows.description]
        for values in rows:
            row = dict(zip(names, values))
            found = formats.get(row["origin"])
            if found is None:
                continue
            value = json.loads(row["native"])
            raw = f"{found.family}:{kind}:{found.identity(kind, value)}"
            new = {"uid": storable(raw), "uid_key": uid_key(raw), "source_id": storable(found.source_id(kind, value))}
            if kind in again:
                item = found.index(kind, value, UTC)
                for name in ("type", "title", "content", "source", "target", "created_at", "updated_at"):
                    new[name] = storable(getattr(item, name))
                named = {(ref.end, ref.kind): ref.identity for ref in found.references(kind, value) if ref.identity is not None}
                for column, (end, table) in links.get(kind, {}).items():
                    identity = named.get((end, table))
                    new[column] = storable(f"{found.family}:{table}:{identity}") if identity is not None else None
            changed = {name: item for name, item in new.items() if row[name] != item}
            if changed:
                changes[row["uid"]] = changed
        # new uids; one another record keeps, or that two would get, is not taken (both keep theirs)
        moving = {old: change["uid"] for old, change in changes.items() if "uid" in change}
        kept_uids = {row[0] for row in conn.execute(f"SELECT uid FROM {kind}")}
        while True:
            claims: dict[str, int] = {}
            for uid in moving.values():
                claims[uid] = claims.get(uid, 0) + 1
            clash = [old for old, uid in moving.items() if claims[uid] > 1 or (uid in kept_uids and uid not in moving)]
            if not clash:
                break
            for old in clash:
                del moving[old]
                changes[old].pop("uid")
                changes[old].pop("uid_key", None)
        # through a name of their own first, out of one another's way (records, then their vectors)
        aside = {old: f"\x00memport-7:{kind}:{number}" for number, old in enumerate(moving)}
        for old, temporary in aside.items():
            conn.execute(f"UPDATE {kind} SET uid = ? WHERE uid = ?", [temporary, old])
            conn.execute("UPDATE embeddings SET memory_uid = ? WHERE memory_uid = ?", [temporary, old])
        for old, change in changes.items():
            if change:
                where = aside.get(old, old)
                conn.execute(f"UPDATE {kind} SET {', '.join(f'{name} = ?' for name in change)} WHERE uid = ?", [*change.values(), where])
                if old in moving:
                    conn.execute("UPDATE OR REPLACE embeddings SET memory_uid = ? WHERE memory_uid = ?", [moving[old], where])
        renamed.update(moving)
    for run_id, text in conn.execute("SELECT run_id, decisions FROM import_runs WHERE decisions IS NOT NULL").fetchall() if renamed else ():
        decided = json.loads(text)
        if isinstance(decided, list) and any(isinstance(uid, str) and uid in renamed for uid in decided):
            decided = [renamed.get(uid, uid) if isinstance(uid, str) else uid for uid in decided]
            conn.execute("UPDATE import_runs SET decisions = ? WHERE run_id = ?", [json.dumps(decided, sort_keys=True), run_id])

    for what, _, sql in kept:
        if what != "view":
            conn.execute(sql)
    for name, index in indexes.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {index}")
    theirs = {name for what, name, _ in kept if what == "view"}  # a view of that name someone made stays theirs
    for name, sql in views.items():
        if name not in theirs:
            conn.execute(f"CREATE VIEW {name} AS {sql}")
    for what, _, sql in kept:
        if what == "view":
            conn.execute(sql)


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3, _migrate_4, _migrate_5, _migrate_6, _migrate_7]


def built() -> Any:
    """A new, empty store's schema in memory (a sqlite3 connection), as the migrations build it:
    what the documentation and Datasette's metadata describe."""
    import sqlite_utils

    db = sqlite_utils.Database(memory=True)
    for migrate in MIGRATIONS:
        migrate(db)
    return db.conn


def columns_of(conn: Any, name: str) -> list[tuple[str, str, bool, bool]]:
    """(column, declared type, primary key, generated) of a table or view, in order."""
    return [(row[1], row[2], bool(row[5]), row[6] in (2, 3)) for row in conn.execute(f"PRAGMA table_xinfo([{name}])")]


def schema_markdown() -> str:
    """docs/store.md, generated from :data:`TABLES`, :data:`FOREIGN_KEYS` and
    :data:`VIEWS`, with the types and view columns of a store the migrations build."""
    conn = built()
    lines = [
        "# The store's tables",
        "",
        "Generated from `memport/store/schema.py` (`TABLES`, `FOREIGN_KEYS`, `VIEWS`); `tests/test_store.py` checks this file is current.",
        f"Schema version {SCHEMA_VERSION} (SQLite's `user_version`; older stores are migrated on open). SQLite 3.31 or newer reads it",
        "(the vectors' links are generated columns).",
        "",
        "`memories_fts` is an FTS5 index on the title and content of `memories` (`memport search --text`).",
        "Foreign keys say which rows a row refers to (Datasette links them); memport never enforces them, so that a",
        "reference naming no stored record is kept as it came: `PRAGMA foreign_key_check` lists those.",
        "Relation ends are spelled as the `source_id` of the records they name, in every format: within an origin,",
        "`relations.target = memories.source_id` joins a relation to the memory it names.",
        "",
    ]
    for table, columns in TABLES.items():
        declared = {name: (kind, key, generated) for name, kind, key, generated in columns_of(conn, table)}
        lines += [f"## {table}", "", "| column | type | holds |", "|---|---|---|"]
        for name, what in columns.items():
            kind, key, generated = declared[name]
            notes = [kind or "any"]
            if key:
                notes.append("primary key")
            if name in FOREIGN_KEYS.get(table, {}):
                notes.append(f"→ {FOREIGN_KEYS[table][name]}")
            if generated:
                notes.append("generated")
            lines.append(f"| {name} | {', '.join(notes)} | {what} |")
        lines.append("")
    lines += ["# Views", "", "Each record kind as a reader wants it: no native JSON, no keys (its table's row has them).", ""]
    for view, what in VIEWS.items():
        lines += [
            f"## {view}",
            "",
            f"{what[0].upper()}{what[1:]}.",
            "",
            "Columns: " + ", ".join(f"`{c[0]}`" for c in columns_of(conn, view)) + ".",
            "",
        ]
    conn.close()
    return "\n".join(lines)
