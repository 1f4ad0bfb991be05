"""Kagura's record codecs: the one table per native record kind that reading and writing share.

Lines are ``json.dumps`` output with Python's defaults; timestamps come in Kagura's dialects
(shared/formats/kagura.md §2.3): naive local ISO for export times and graph records, SQLite UTC
``YYYY-MM-DD HH:MM:SS`` for ``created_at``, local time with microseconds after an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from ...model import Codec, Field, Memory, Node, Relation, Timestamp, Unfit, construct, raw_timestamp, text
from ...timestamps import KAGURA_LOCAL_ISO, SQLITE_UTC, is_sqlite_local, parse_text

NAME = "kagura"
VERSIONS = ("1.0",)
MEMORIES, GRAPH, METADATA = "memories.jsonl", "graph.jsonl", "metadata.json"
FILES = (MEMORIES, GRAPH, METADATA)


@dataclass(frozen=True, slots=True)
class Context:
    tz: tzinfo


def _timestamp(naive: str):
    def decode(raw: Any, ctx: Context) -> Timestamp:
        if not isinstance(raw, str):
            raise Unfit
        utc, dialect = parse_text(raw, naive=naive, local_tz=ctx.tz)
        return construct(Timestamp, raw=raw, utc=utc, dialect=dialect)

    return decode


local_time = _timestamp(KAGURA_LOCAL_ISO)
sqlite_time = _timestamp(SQLITE_UTC)

WORKING_LAYOUT = ("type", "scope", "key", "value", "user_id", "agent_name", "exported_at")


PERSISTENT_LAYOUT = ("type", "scope", "key", "value", "user_id", "agent_name", "created_at", "updated_at", "metadata", "exported_at")


NODE_LAYOUT = ("type", "id", "node_type", "data", "exported_at")


EDGE_LAYOUT = ("type", "src", "dst", "rel_type", "weight", "data", "exported_at")


METADATA_LAYOUT = ("exported_at", "user_id", "agent_name", "stats", "format_version")


MEMORY = Codec(
    Memory,
    NAME,
    [
        Field("type", None, const="memory"),
        Field("scope", "scope", text),
        Field("key", "key"),
        Field("value", "content"),
        Field("user_id", "user_id", text),
        Field("agent_name", "agent_name", text),
        Field("created_at", "created_at", sqlite_time, raw_timestamp),
        Field("updated_at", "updated_at", sqlite_time, raw_timestamp),
        Field("metadata", "metadata"),
        Field("exported_at", "exported_at", local_time, raw_timestamp),
    ],
    lambda m: WORKING_LAYOUT if m.scope == "working" else PERSISTENT_LAYOUT,
)


NODE = Codec(
    Node,
    NAME,
    [
        Field("type", None, const="node"),
        Field("id", "id"),
        Field("node_type", "type", text),
        Field("data", "data"),
        Field("exported_at", "exported_at", local_time, raw_timestamp),
    ],
    lambda _: NODE_LAYOUT,
)


EDGE = Codec(
    Relation,
    NAME,
    [
        Field("type", None, const="edge"),
        Field("src", "source"),
        Field("dst", "target"),
        Field("rel_type", "type", text),
        Field("weight", "weight"),
        Field("data", "data"),
        Field("exported_at", "exported_at", local_time, raw_timestamp),
    ],
    lambda _: EDGE_LAYOUT,
)


def naive_local_times(kind: str, native: Any) -> int:
    """How many times of a native record (``kind`` "header": metadata.json) memport reads as the
    exporting machine's local time: exported_at as naive ISO (every record and metadata.json), and
    a memory's created_at or updated_at with microseconds (a row updated through the local-time
    adapter). The very test the codecs' decoders make (:func:`memport.timestamps.parse_text`),
    written for validation's hot loop: 0.2 us a memory (a loop over the two names and helpers took
    0.36 us, a sixth of what validate spends on a line)."""
    if native.__class__ is not dict:
        return 0
    try:
        found = 0 if _from_iso(native["exported_at"]).tzinfo else 1
    except (KeyError, TypeError, ValueError):  # none, not text, or not ISO
        found = 0
    if kind == "memories":
        updated = native.get("updated_at")
        if updated.__class__ is str and len(updated) == 26 and is_sqlite_local(updated):
            found += 1
        created = native.get("created_at")
        if created.__class__ is str and len(created) == 26 and is_sqlite_local(created):
            found += 1
    return found


_from_iso = datetime.fromisoformat


COLUMNS = {
    "memories": ["scope", "key", "content", "user_id", "agent_name", "metadata", "created_at", "updated_at", "exported_at"],
    "relations": ["kind", "source", "target", "type", "weight", "data", "exported_at"],
    "nodes": ["id", "type", "data", "exported_at"],
}
