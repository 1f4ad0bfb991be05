"""memport.model.construct: the same instance pydantic's model_construct makes, faster."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memport import model
from memport.model import construct

MODELS = [
    getattr(model, name)
    for name in ("Timestamp", "EmbeddingModel", "Embedding", "Memory", "Relation", "Node", "Document", "Chunk", "PendingMemory", "Message")
]
SOME = {
    "Timestamp": {"raw": "2025-06-01 12:00:00", "utc": datetime(2025, 6, 1, 12, tzinfo=UTC), "dialect": "sqlite-utc"},
    "Embedding": {"vector": [0.5, -1.0], "model": "m"},
    "Memory": {"key": 7, "content": {"a": [1, 2]}, "tags": ["x"], "extra": {"odd": True}},
}


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_construct_is_model_construct(cls):
    for values in ({}, SOME.get(cls.__name__, {})):
        if cls.__name__ == "Embedding" and not values:
            values = {"vector": []}
        fast, slow = construct(cls, **values), cls.model_construct(**values)
        assert type(fast) is type(slow)
        assert fast.__dict__ == slow.__dict__ and list(fast.__dict__) == list(slow.__dict__)
        assert fast.model_fields_set == slow.model_fields_set
        assert fast == slow and fast.model_dump() == slow.model_dump()
    # a default that is a fresh object each time is not shared between instances
    if "extra" in cls.__pydantic_fields__:
        first, second = construct(cls), construct(cls)
        first.extra["k"] = 1
        assert second.extra == {}
