"""What Datasette needs to show a memport store well: its metadata (descriptions of every table,
view and column, label columns for links, facets, hidden plumbing) and canned queries.

``memport datasette-metadata --db memport.db -o metadata.json`` writes it, and
``datasette memport.db --metadata metadata.json`` uses it. Datasette keys metadata by database
name, the store file's name without its extension (``memport`` for ``memport.db``).

Datasette itself finds the full-text index (a search box on memories) and the foreign keys (links
between rows, and on each record's row page the rows that refer to it); each record's row page
shows every column, its exact native JSON included. The views (:data:`memport.store.schema.VIEWS`)
leave out the native JSON and the 64-bit keys plans compare by; with memport installed beside
Datasette, its plugin (:mod:`memport.store.datasette_plugin`) links each uid they show to that
row. Everything here is read from the schema module, so the metadata says what the store has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .schema import FOREIGN_KEYS, KINDS, TABLES, VIEWS, built, columns_of

# what each table holds, for the index page
DESCRIPTIONS = {
    "memories": "Every memory, from every origin (Kagura, Tribal, Doclea, Letta): the columns filters and search use, then its exact native JSON and the keys plans compare by.",
    "messages": "The conversations agents had (Letta), a message per row.",
    "relations": "Relations between records: Kagura's graph edges (to nodes) and Doclea's memory and cross-layer relations (to memories).",
    "nodes": "Kagura's graph nodes: users, topics, memories, interactions ...",
    "documents": "Documents (Doclea) and files (Letta), with their text.",
    "chunks": "Parts of documents (Doclea).",
    "pending": "Memories waiting for approval (Doclea).",
    "embeddings": "A vector per memory or message and model (float32 BLOB).",
    "fingerprints": "The embedding models vectors come from, with what makes each (weights hash, dimension, ...).",
    "embedding_cache": "Vectors by model and text, so that a text is never encoded twice.",
    "settings": "The store's settings (its current embedding model).",
    "import_runs": "Every write to the store: imports (source, format, strategy, counts, decisions) and erasures.",
}
# what a link to a row of each table shows
LABELS = {
    "memories": "label",
    "messages": "label",
    "nodes": "source_id",
    "documents": "title",
    "import_runs": "source",
    "fingerprints": "model",
}
FACETS = {
    "memories": ["origin", "type", "user_id", "agent_name", "scope"],
    "messages": ["origin", "agent_name", "type"],
    "relations": ["origin", "type"],
    "nodes": ["origin", "type"],
    "documents": ["origin"],
    "chunks": ["origin"],
    "pending": ["origin", "type"],
    "embeddings": ["fingerprint"],
    "import_runs": ["operation", "format"],
    "memories_view": ["origin", "type", "user_id", "agent_name", "scope"],
    "messages_view": ["origin", "agent_name", "role"],
    "relations_view": ["origin", "type"],
    "nodes_view": ["origin", "type"],
    "documents_view": ["origin"],
    "chunks_view": ["origin"],
    "pending_view": ["origin", "type"],
}
HIDDEN = ("embedding_cache", "settings")  # plumbing: still there, listed under "hidden tables"

_KIND_UNION = " UNION ALL ".join(f"SELECT '{kind}' AS kind, uid, origin, native FROM {kind} WHERE uid = :uid" for kind in KINDS)
QUERIES = {
    "search": {
        "title": "Search memories by keyword",
        "description": "Memories whose title or content match, best first (bm25), with a snippet. FTS5 query syntax: words, "
        '"a phrase", OR, NOT, prefix*. (memport search --text quotes what is typed instead.)',
        "sql": "SELECT memories.uid, memories.origin, memories.title, snippet(memories_fts, -1, '[', ']', '…', 16) AS snippet, "
        "round(-bm25(memories_fts), 3) AS score FROM memories_fts JOIN memories ON memories.rowid = memories_fts.rowid "
        "WHERE memories_fts MATCH :query ORDER BY bm25(memories_fts), memories.rowid LIMIT 100",
    },
    "relations_and_memories": {
        "title": "Relations joined to the memories they name",
        "description": "Each relation's ends joined to the memories of its origin whose source_id they spell: the same join for every "
        "format (a Kagura edge names a node, and the memories keyed like it; a Doclea relation names memories by id).",
        "sql": "SELECT r.uid, r.origin, r.type, r.source, s.uid AS source_memory, s.label AS source_label, r.target, "
        "t.uid AS target_memory, t.label AS target_label FROM relations r "
        "LEFT JOIN memories s ON s.origin = r.origin AND s.source_id = r.source "
        "LEFT JOIN memories t ON t.origin = r.origin AND t.source_id = r.target ORDER BY r.rowid, s.rowid, t.rowid",
    },
    "record": {
        "title": "A record's native JSON",
        "description": "The exact native JSON of the record with this uid, whatever its kind.",
        "sql": f"SELECT kind, uid, origin, native FROM ({_KIND_UNION})",
    },
    "counts": {
        "title": "Records by kind and origin",
        "description": "How many records of each kind each origin brought.",
        "sql": " UNION ALL ".join(f"SELECT '{kind}' AS kind, origin, count(*) AS records FROM {kind} GROUP BY origin" for kind in KINDS),
    },
}


def metadata(name: str = "memport") -> dict[str, Any]:
    """Datasette's metadata for a store that Datasette names ``name`` (its file's name without the
    extension): descriptions of every table, view and column, label columns, facets, hidden
    plumbing and the canned queries."""
    conn = built()
    tables: dict[str, Any] = {}
    for table, columns in TABLES.items():
        entry: dict[str, Any] = {"description": DESCRIPTIONS[table], "columns": dict(columns)}
        for column, target in FOREIGN_KEYS.get(table, {}).items():
            entry["columns"][column] += f" (links to {target.split('(')[0]})"
        if table in LABELS:
            entry["label_column"] = LABELS[table]
        if table in FACETS:
            entry["facets"] = list(FACETS[table])
        if table in HIDDEN:
            entry["hidden"] = True
        tables[table] = entry
    for view, what in VIEWS.items():
        kind = view.removesuffix("_view")
        described = {**TABLES[kind], "role": TABLES["messages"]["type"], "vectors": "how many vectors it has (one per model)"}
        columns = {column: described.get(column, _VIEW_COLUMNS.get(column, "")) for column, *_ in columns_of(conn, view)}
        tables[view] = {
            "description": f"{what[0].upper()}{what[1:]}: no native JSON, no keys (the uid's row in {kind} has them).",
            "columns": {column: text for column, text in columns.items() if text},
            "facets": list(FACETS[view]),
        }
    conn.close()
    return {
        "title": "memport store",
        "description": "Agent memories merged by memport: every record with its exact native JSON, linked to what it names.",
        "databases": {name: {"tables": tables, "queries": {key: dict(query) for key, query in QUERIES.items()}}},
    }


_VIEW_COLUMNS = {
    "source_label": "what the source end names: a memory's label, a node's name or id",
    "target_label": "what the target end names",
    "source_uid": "the uid of the record the source end names",
    "target_uid": "the uid of the record the target end names",
    "relations": "how many relations touch it",
    "chunks": "how many chunks it has",
    "document_title": "the title of its document",
    "document_uid": "its document's uid",
}


def database_name(store: str | Path) -> str:
    """The name Datasette gives a store file: its name without the extension."""
    return Path(store).stem
