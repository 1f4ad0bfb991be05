"""Tribal's entry codec: the one table that reading and writing share.

Entries of the bundle and of the JSON Lines stream are the same object, so they share one codec.
Timestamps are Python ``isoformat()`` (naive ones meant as UTC); vectors carry the model the
manifest names (the stream names none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model import Codec, Embedding, EmbeddingModel, Field, Memory, Timestamp, Unfit, construct, number, raw_timestamp, text, text_list
from ...timestamps import ISO_NAIVE_UTC, parse_text

NAME = "tribal"


JSONL_NAME = "tribal-jsonl"


VERSIONS = ("1.0",)


ENTRY_KEYS = (
    "id",
    "content",
    "embedding",
    "source_instance",
    "source_type",
    "created_at",
    "updated_at",
    "tags",
    "context",
    "confidence",
    "supersedes",
    "related_to",
)


ENVELOPE_KEYS = {"success", "bundle"}


@dataclass(frozen=True, slots=True)
class Context:
    model: str | None
    dimensions: int | None


def timestamp(raw: Any, _ctx: Any = None) -> Timestamp:
    if not isinstance(raw, str):
        raise Unfit
    utc, dialect = parse_text(raw, naive=ISO_NAIVE_UTC)
    return construct(Timestamp, raw=raw, utc=utc, dialect=dialect)


def vector(raw: Any, ctx: Context) -> Embedding | None:
    if raw is None:
        return None
    if isinstance(raw, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw):
        return construct(Embedding, vector=raw, model=ctx.model, dimensions=ctx.dimensions)
    raise Unfit


# Entries from the bundle and from the stream are the same object, so they share one codec.
ENTRY = Codec(
    Memory,
    NAME,
    [
        Field("id", "id", text),
        Field("content", "content"),
        Field("embedding", "embedding", vector, lambda e: e.vector),
        Field("source_instance", "source_instance", text),
        Field("source_type", "source_type", text),
        Field("created_at", "created_at", timestamp, raw_timestamp),
        Field("updated_at", "updated_at", timestamp, raw_timestamp),
        Field("tags", "tags", text_list),
        Field("context", "context", text),
        Field("confidence", "confidence", number),
        Field("supersedes", "supersedes", text),
        Field("related_to", "related_to", text_list),
    ],
    lambda _: ENTRY_KEYS,
)


COLUMNS = {
    "memories": [
        "id",
        "content",
        "embedding",
        "source_instance",
        "source_type",
        "created_at",
        "updated_at",
        "tags",
        "context",
        "confidence",
        "supersedes",
        "related_to",
    ],
}


def embedding_model(raw: Any) -> EmbeddingModel | None:
    if not isinstance(raw, dict):
        return None
    name, dims, provider, created = (raw.get(k) for k in ("model_name", "dimensions", "provider", "created_at"))
    return EmbeddingModel(
        name=name if isinstance(name, str) else None,
        dimensions=dims if isinstance(dims, int) and not isinstance(dims, bool) else None,
        provider=provider if isinstance(provider, str) else None,
        created_at=timestamp(created) if isinstance(created, str) else None,
    )
