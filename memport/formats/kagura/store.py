"""What the store and the plans need of Kagura records: columns, references, text, bundles back.

The store keeps every record's exact native JSON; these functions say what its columns hold, how
Kagura's relations (graph edges) name the records they link, and how stored records become a
Kagura bundle again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any

import orjson

from ...bundle import Bundle
from ...jsonio import needs_reference
from ...timestamps import SQLITE_UTC, UTC, parse_text, store_text
from .. import Indexed, NativeBundle, NativeRecord, Reference, Split, render, spelled
from .codec import EDGE, FILES, GRAPH, MEMORIES, MEMORY, METADATA, NAME, NODE
from .identity import identity_bytes, node_identity, same_number
from .read import graph_records


def index(kind: str, rec: dict[str, Any], local_tz: tzinfo) -> Indexed:
    identity = identity_bytes(kind, rec).decode("utf-8", "surrogatepass")
    if kind == "memories":
        scope, key, user, agent = rec.get("scope"), rec.get("key"), rec.get("user_id"), rec.get("agent_name")
        value = rec.get("value")
        return Indexed(
            identity=identity,
            user_id=user if isinstance(user, str) else None,
            agent_name=agent if isinstance(agent, str) else None,
            scope=scope if isinstance(scope, str) else None,
            title=key if isinstance(key, str) else None,
            content=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
            tags=metadata_tags(rec.get("metadata")),
            created_at=_store_time(rec.get("created_at"), local_tz),
            updated_at=_store_time(rec.get("updated_at"), local_tz),
        )
    if kind == "nodes":
        node_type, data = rec.get("node_type"), rec.get("data")
        name = data.get("name") if isinstance(data, dict) else None  # a topic's name, say
        return Indexed(identity, type=node_type if isinstance(node_type, str) else None, title=name if isinstance(name, str) else None)
    rel_type = rec.get("rel_type")
    return Indexed(
        identity,
        type=rel_type if isinstance(rel_type, str) else None,
        source=_end(rec.get("src")),
        target=_end(rec.get("dst")),
    )


def _end(node_id: Any) -> str:
    """How edges name a node in the store: as its source id (a string id as it is, another as JSON,
    1.0 as 1: see ``spelled``), so that an edge's ends join the nodes, and the memories whose key
    a node's id is, by ``source_id``. (A string id that reads as a number, "42", is spelled as the
    number 42 is: Kagura tells them apart, the store's columns do not; identities do.)"""
    return spelled(same_number(node_id))


def source_id(rec: Any) -> str | None:
    """A memory's key, a node's id (spelled as edges name them: ``_end``)."""
    ident = rec.get("id") if isinstance(rec, dict) else None
    if ident is None and isinstance(rec, dict) and "key" in rec:
        ident = rec["key"]
    return _end(ident) if ident is not None else None


def end(kind: str, rec: Any) -> str | None:
    """Edges link graph nodes; a memory is named by a node whose id is its key."""
    if not isinstance(rec, dict):
        return None
    return _end(rec.get("key") if kind == "memories" else rec.get("id"))


def user_ends(user: str) -> list[str]:
    """A user's own node in the graph (node_type user, id the user id)."""
    return [_end(user)]


def names_user(kind: str, rec: Any, user: str) -> bool:
    """A memory of the user (its user_id, as the store's column also says), the user's own node
    (node_type user, id the user id: shared/formats/kagura.md §2.4), and a node or edge whose data
    names the user (``data.user_id``)."""
    if not isinstance(rec, dict):
        return False
    if kind == "memories":
        return rec.get("user_id") == user
    if kind == "nodes" and rec.get("node_type") == "user" and rec.get("id") == user:
        return True
    data = rec.get("data")
    return isinstance(data, dict) and data.get("user_id") == user


def references(kind: str, rec: Any) -> list[Reference]:
    """An edge names two nodes (which the store links it to by their identities)."""
    if kind != "relations" or not isinstance(rec, dict):
        return []
    src, dst = rec.get("src"), rec.get("dst")
    return [Reference("source", "nodes", _end(src), node_identity(src)), Reference("target", "nodes", _end(dst), node_identity(dst))]


def metadata_tags(metadata: Any) -> list[str] | None:
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    if isinstance(tags, str):  # MCP stores lists as JSON strings
        try:
            tags = orjson.loads(tags)
        except ValueError:
            return None
    return tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None


def _store_time(text: Any, local_tz: tzinfo) -> str | None:
    if not isinstance(text, str):
        return None
    if len(text) == 19 and text[10] == " ":  # SQLite UTC, the common case: no parsing needed
        return f"{text[:10]}T{text[11:]}.000000Z"
    if local_tz is UTC and len(text) == 26 and text[10] == " " and text[19] == "." and text[:4].isdigit():
        # local time with microseconds (an updated row) read in UTC: only the separators change
        return f"{text[:10]}T{text[11:]}Z"
    utc, _ = parse_text(text, naive=SQLITE_UTC, local_tz=local_tz)
    return store_text(utc)


def embed_text(rec: Any) -> str:
    """The value, as JSON text with sorted keys when it is not a string."""
    return render(rec.get("value") if isinstance(rec, dict) else rec)


def schema_for(kind: str) -> str:
    return "memory" if kind == "memories" else "graph"


def split(path: Path) -> Split | None:
    """memories.jsonl on two cores, then the graph."""
    return Split(path / MEMORIES, lambda: graph_records(path))


def bundle_records(bundle: Bundle) -> Iterator[NativeRecord]:
    """A Kagura bundle in memory as native records, through its codecs."""
    label = bundle.path or "<kagura bundle>"
    r = bundle.records
    for kind, codec, found in (("memories", MEMORY, r.memories), ("nodes", NODE, r.nodes), ("relations", EDGE, r.relations)):
        for position, record in enumerate(found):
            value = codec.encode(record)
            # the same test a file's parser makes: exact only for values orjson cannot write faithfully
            yield NativeRecord(kind, value, needs_reference(value), label, None, position)


def layout(path: Path) -> dict[str, Any]:
    """The files the bundle had (each may be missing, or empty: Kagura writes metadata.json last)."""
    return {"files": [name for name in FILES if (path / name).is_file()]}


def from_store(natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
    """Stored Kagura records as a bundle: the files the latest import had (plus any the records
    need), and its metadata.json, whose stats are made true unless the records are exactly that
    import's (a fresh one, the stats counted, when there is none)."""
    memories, nodes, edges = natives.get("memories", []), natives.get("nodes", []), natives.get("relations", [])
    had = layout.get("files") if isinstance(layout, dict) and isinstance(layout.get("files"), list) else [MEMORIES, METADATA]
    needed = {MEMORIES} if memories else set()
    needed |= {GRAPH} if nodes or edges else set()
    files = [name for name in FILES if name in had or name in needed]
    counts = {"memories": len(memories), "graph_nodes": len(nodes), "graph_edges": len(edges)}
    if not isinstance(header, dict):
        header = {"exported_at": None, "user_id": None, "agent_name": None, "stats": counts, "format_version": "1.0"}
    elif not as_read and isinstance(header.get("stats"), dict):
        stats = dict(header["stats"])
        for key, actual in counts.items():
            if isinstance(stats.get(key), int) and not isinstance(stats.get(key), bool):
                stats[key] = actual
        header = {**header, "stats": stats}
    return NativeBundle(NAME, header, lambda kind: natives.get(kind, []), {"files": files})
