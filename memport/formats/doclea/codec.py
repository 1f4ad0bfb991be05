"""Doclea's record codecs: the one table per data array that reading and writing share.

Memories, documents, chunks and pending memories are camelCase objects; ``memoryRelations`` and
``crossLayerRelations`` are raw snake_case SQLite rows whose ``metadata`` is a JSON-encoded string.
Times are integer Unix seconds, except memory relations' ``created_at``, in milliseconds.
"""

from __future__ import annotations

import json
from typing import Any

from ...jsonio import dumps_js_compact
from ...model import (
    Chunk,
    Codec,
    Document,
    Field,
    Memory,
    PendingMemory,
    Relation,
    Timestamp,
    Unfit,
    construct,
    integer,
    number,
    raw_timestamp,
    text,
    text_list,
)
from ...timestamps import parse_epoch

NAME = "doclea"
VERSIONS = ("1.0.0",)


SCHEMA_VERSIONS = tuple(f"{n:03d}" for n in range(5, 13))


SECTIONS = ("memories", "documents", "chunks", "memoryRelations", "crossLayerRelations", "pendingMemories")


SCHEMA_OF = {
    "memories": "memory",
    "documents": "document",
    "chunks": "chunk",
    "memoryRelations": "memory-relation",
    "crossLayerRelations": "cross-layer-relation",
    "pendingMemories": "pending-memory",
}


def _epoch(milliseconds: bool):
    def decode(raw: Any, _ctx: Any = None) -> Timestamp:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise Unfit
        utc, dialect = parse_epoch(raw, milliseconds=milliseconds)
        return construct(Timestamp, raw=raw, utc=utc, dialect=dialect)

    return decode


seconds = _epoch(False)
millis = _epoch(True)


def _json_string(raw: Any, _ctx: Any = None) -> Any:
    """Relation metadata is a JSON-encoded string: decode it for inspection when re-encoding gives
    the very same string back; otherwise it stays verbatim in ``extra``."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Unfit
    try:
        value = json.loads(raw)
    except ValueError:
        raise Unfit from None
    if value is None or dumps_js_compact(value) != raw:
        raise Unfit
    return value


MEMORY_KEYS = (
    "id",
    "type",
    "title",
    "content",
    "summary",
    "importance",
    "tags",
    "relatedFiles",
    "gitCommit",
    "sourcePr",
    "experts",
    "qdrantId",
    "createdAt",
    "accessedAt",
    "accessCount",
    "needsReview",
    "decayRate",
    "lastRefreshedAt",
    "confidenceFloor",
    "decayFunction",
)


MEMORY = Codec(
    Memory,
    NAME,
    [
        Field("id", "id", text),
        Field("type", "type", text),
        Field("title", "title", text),
        Field("content", "content", text),
        Field("summary", "summary", text, omit_none=True),
        Field("importance", "importance", number),
        Field("tags", "tags", text_list),
        Field("createdAt", "created_at", seconds, raw_timestamp),
        Field("accessedAt", "accessed_at", seconds, raw_timestamp),
    ],
    lambda _: MEMORY_KEYS,
)


DOCUMENT = Codec(
    Document,
    NAME,
    [
        Field("id", "id", text),
        Field("title", "title", text),
        Field("content", "content", text),
        Field("contentHash", "content_hash", text, omit_none=True),
        Field("createdAt", "created_at", seconds, raw_timestamp),
        Field("updatedAt", "updated_at", seconds, raw_timestamp),
    ],
    lambda _: ("id", "title", "content", "contentHash", "createdAt", "updatedAt"),
)


CHUNK = Codec(
    Chunk,
    NAME,
    [
        Field("id", "id", text),
        Field("documentId", "document_id", text),
        Field("content", "content", text),
        Field("startOffset", "start_offset", integer),
        Field("endOffset", "end_offset", integer),
    ],
    lambda _: ("id", "documentId", "content", "qdrantId", "startOffset", "endOffset"),
)


MEMORY_RELATION = Codec(
    Relation,
    NAME,
    [
        Field("id", "id", text),
        Field("source_id", "source", text),
        Field("target_id", "target", text),
        Field("type", "type", text),
        Field("weight", "weight", number),
        Field("metadata", "metadata", _json_string, dumps_js_compact),
        Field("created_at", "created_at", millis, raw_timestamp),
    ],
    lambda _: ("id", "source_id", "target_id", "type", "weight", "metadata", "created_at"),
)


CROSS_LAYER = Codec(
    Relation,
    NAME,
    [
        Field("id", "id", text),
        Field("memory_id", "source", text),
        Field("code_node_id", "target", text),
        Field("relation_type", "type", text),
        Field("direction", "direction", text),
        Field("confidence", "confidence", number),
        Field("metadata", "metadata", _json_string, dumps_js_compact),
        Field("created_at", "created_at", seconds, raw_timestamp),
    ],
    lambda _: ("id", "memory_id", "code_node_id", "relation_type", "direction", "confidence", "metadata", "created_at"),
)


PENDING = Codec(
    PendingMemory,
    NAME,
    [
        Field("id", "id", text),
        Field("memoryData", "memory"),
        Field("suggestedAt", "suggested_at", seconds, raw_timestamp),
        Field("source", "source", text),
        Field("reason", "reason", text),
    ],
    lambda _: ("id", "memoryData", "suggestedAt", "source", "reason"),
)


# section name -> (codec, records attribute, fixed canonical values)
READERS = {
    "memories": (MEMORY, "memories", {}),
    "documents": (DOCUMENT, "documents", {}),
    "chunks": (CHUNK, "chunks", {}),
    "memoryRelations": (MEMORY_RELATION, "relations", {"kind": "memory"}),
    "crossLayerRelations": (CROSS_LAYER, "relations", {"kind": "cross_layer"}),
    "pendingMemories": (PENDING, "pending", {}),
}


COLUMNS = {
    "memories": ["id", "type", "title", "content", "summary", "importance", "tags", "created_at", "accessed_at"],
    "relations": ["kind", "id", "source", "target", "type", "weight", "confidence", "direction", "metadata", "created_at"],
    "documents": ["id", "title", "content", "content_hash", "created_at", "updated_at"],
    "chunks": ["id", "document_id", "content", "start_offset", "end_offset"],
    "pending": ["id", "memory", "suggested_at", "source", "reason"],
}
