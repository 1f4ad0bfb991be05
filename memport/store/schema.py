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

SCHEMA_VERSION = 6
# the record tables of schema versions 1 to 5, which their migrations build; version 6 adds messages
FIRST_KINDS = ("memories", "relations", "nodes", "documents", "chunks", "pending")
KINDS = (*FIRST_KINDS, "messages")
# the record tables whose text re-embedding reads (the embeddings table names them by uid)
EMBEDDED = ("memories", "messages")

# What each column of each table holds (docs/store.md). Columns a migration added are listed
# with it, in the order the migrations add them.
TABLES: dict[str, dict[str, str]] = {
    "memories": {
        "uid": "`<origin>:memories:<identity>`: the same record from the same system always gets the same uid",
        "uid_key": "64-bit key of the uid (keys.uid_key)",
        "origin": "the format family the record came from (kagura, tribal, doclea, letta)",
        "source_id": "the record's id in its format (Kagura: its key; Letta: its file id, numbered anew on every export)",
        "user_id": "owner (Kagura)",
        "agent_name": "agent (Kagura; Letta: the user-facing agent listing the block, named without Letta's _copy)",
        "scope": "working or persistent (Kagura)",
        "type": "Doclea type / Tribal source_type",
        "title": "title (Kagura: a text key; Letta: a block's label)",
        "content": "the text (non-text values as JSON)",
        "tags": "tags as a JSON array",
        "created_at": "UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts",
        "updated_at": "UTC, as created_at",
        "native": "the record's exact native JSON",
        "content_key": "64-bit key of the native JSON, canonical (keys.content_key)",
        "run_id": "the import run that wrote it (import_runs)",
        "line_key": "64-bit key of the JSON Lines line it came from, if any (keys.line_key)",
        "problems": "the codes of the rules of its own system it breaks (a JSON array; NULL: none): memport keeps it, that system's importer would not",
    },
    "relations": {
        "uid": "`<origin>:relations:<identity>`",
        "uid_key": "as in memories",
        "origin": "as in memories",
        "source_id": "the relation's own id, if it has one",
        "type": "the relation's native type",
        "source": "the record its source end names, as the format's relations spell it",
        "target": "the record its target end names",
        "native": "the exact native JSON",
        "content_key": "as in memories",
        "run_id": "as in memories",
        "line_key": "as in memories",
        "problems": "as in memories",
    },
    "embeddings": {
        "memory_uid": "the memory (or message: re-embedding reads both)",
        "fingerprint": "what made the vector (fingerprints)",
        "dimensions": "vector length",
        "vector": "float32 little-endian BLOB",
        "text_sha256": "sha256 of the exact text embedded",
    },
    "fingerprints": {
        "fingerprint": "id: a hash of the details",
        "model": "model name",
        "dimensions": "vector length",
        "details": "JSON: model, weights sha256, dimension, max_seq_length, pooling, normalisation, dtype, library versions",
        "created_at": "when first recorded",
    },
    "embedding_cache": {
        "fingerprint": "what made the vector",
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
# nodes, documents, chunks and pending have the columns of relations
for _kind in ("nodes", "documents", "chunks", "pending"):
    TABLES[_kind] = {name: TABLES["relations"][name].replace("relations", _kind) for name in TABLES["relations"]}
# schema version 6: the conversation of an agent (Letta's agents[].messages[])
TABLES["messages"] = {
    "uid": "`<origin>:messages:<identity>` (Letta: the agent, the time, the role and a hash of the text)",
    "uid_key": "as in memories",
    "origin": "as in memories",
    "source_id": "the message's id in its file (Letta: message-N, numbered anew on every export)",
    "agent_name": "the agent whose conversation holds it (named without Letta's _copy)",
    "type": "its role (user, assistant, tool, system, ...)",
    "content": "its text (Letta: the text parts, joined by newlines)",
    "created_at": "UTC, as in memories",
    "native": "as in memories",
    "content_key": "as in memories",
    "run_id": "as in memories",
    "line_key": "as in memories",
    "problems": "as in memories",
}

# the columns of schema version 1; later migrations add to them
_LATER = ("line_key", "problems")
_MEMORY_COLUMNS_1 = tuple(name for name in TABLES["memories"] if name not in _LATER)
_OTHER_COLUMNS_1 = tuple(name for name in TABLES["relations"] if name not in _LATER)
INTEGER_COLUMNS = {"uid_key", "content_key", "run_id", "line_key"}


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
        db["messages"].create({c: (int if c in INTEGER_COLUMNS else str) for c in TABLES["messages"]}, pk="uid")
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


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3, _migrate_4, _migrate_5, _migrate_6]


def schema_markdown() -> str:
    """docs/store.md, generated from :data:`TABLES`."""
    lines = [
        "# The store's tables",
        "",
        "Generated from `memport/store/schema.py` (`TABLES`); `tests/test_store.py` checks this file is current.",
        f"Schema version {SCHEMA_VERSION} (SQLite's `user_version`; older stores are migrated on open).",
        "`memories_fts` is an FTS5 index on the title and content of `memories`.",
        "",
    ]
    for table, columns in TABLES.items():
        lines += [f"## {table}", "", "| column | holds |", "|---|---|"]
        lines += [f"| {name} | {what} |" for name, what in columns.items()]
        lines.append("")
    return "\n".join(lines)
