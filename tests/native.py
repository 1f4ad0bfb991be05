"""Native bytes, written the way each system's exporter writes them (shared/formats), without
using memport's writers, so that tests compare memport against the reference and not itself."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

# shared/formats/kagura.md §10
KAGURA_WORKING = {
    "type": "memory",
    "scope": "working",
    "key": "draft_topic",
    "value": "quarterly report",
    "user_id": "user_alice",
    "agent_name": "global",
    "exported_at": "2025-06-01T12:00:00.123456",
}
KAGURA_PERSISTENT = {
    "type": "memory",
    "scope": "persistent",
    "key": "favourite_language",
    "value": "Python",
    "user_id": "user_alice",
    "agent_name": "global",
    "created_at": "2025-05-30 08:15:02",
    "updated_at": "2025-05-30 08:15:02",
    "metadata": {"source": "chat"},
    "exported_at": "2025-06-01T12:00:00.123789",
}
KAGURA_NODES = [
    {
        "type": "node",
        "id": "user_alice",
        "node_type": "user",
        "data": {"user_id": "user_alice", "created_at": "2025-06-01T11:59:58.000100"},
        "exported_at": "2025-06-01T12:00:00.124001",
    },
    {
        "type": "node",
        "id": "topic_python",
        "node_type": "topic",
        "data": {"name": "python", "created_at": "2025-06-01T11:59:58.000200"},
        "exported_at": "2025-06-01T12:00:00.124100",
    },
]
KAGURA_EDGE = {
    "type": "edge",
    "src": "user_alice",
    "dst": "topic_python",
    "rel_type": "works_on",
    "weight": 1.0,
    "data": {
        "created_at": "2025-06-01T11:59:58.000300",
        "valid_from": "2025-06-01T11:59:58.000301",
        "valid_until": None,
        "source": None,
        "confidence": 1.0,
    },
    "exported_at": "2025-06-01T12:00:00.124200",
}

# shared/formats/tribal.md §14
TRIBAL_ENTRY = {
    "id": "0b7c6a52-1111-4a2b-9c3d-000000000001",
    "content": "Alice prefers Python",
    "embedding": [0.1, -0.2, 0.3],
    "source_instance": "laptop-alice",
    "source_type": "user_explicit",
    "created_at": "2025-05-30T08:15:02.123456",
    "updated_at": "2025-05-30T08:15:02.123470",
    "tags": ["preferences"],
    "context": None,
    "confidence": 1.0,
    "supersedes": None,
    "related_to": [],
}
TRIBAL_MANIFEST = {
    "schema_version": "1.0",
    "embedding": {
        "model_name": "example/tiny-embed-3d",
        "dimensions": 3,
        "provider": "fastembed",
        "created_at": "2025-06-01T12:00:00.000100+00:00",
    },
    "memory_count": 1,
    "exported_at": "2025-06-01T12:00:00.000200+00:00",
}

# shared/formats/doclea.md §11
DOCLEA_MEMORY = {
    "id": "mem_AbCdEfGh12345678",
    "type": "decision",
    "title": "Use JWT for auth",
    "content": "We issue short-lived JWTs.",
    "importance": 0.8,
    "tags": ["auth"],
    "relatedFiles": ["src/auth/jwt.ts"],
    "experts": ["user_alice"],
    "qdrantId": "vec_ZyXwVuTs98765432",
    "createdAt": 1748700000,
    "accessedAt": 1748779000,
    "accessCount": 2,
    "needsReview": False,
}
DOCLEA_RELATION = {
    "id": "V1StGXR8_Z5jdHi6B-myT",
    "source_id": "mem_AbCdEfGh12345678",
    "target_id": "mem_QqQqQqQq00000000",
    "type": "supersedes",
    "weight": 1,
    "metadata": '{"reason":"newer decision"}',
    "created_at": 1748700123456,
}


def kagura_line(record: Any) -> str:
    return json.dumps(record) + "\n"


def write_kagura(
    path: Path,
    memories: list[Any] | None = None,
    graph: list[Any] | None = None,
    metadata: Any = "auto",
    raw: dict[str, bytes] | None = None,
) -> Path:
    """A Kagura bundle directory. metadata="auto" writes stats matching the records; None omits
    the file; raw overrides whole files with exact bytes."""
    path.mkdir(parents=True, exist_ok=True)
    if memories is not None:
        (path / "memories.jsonl").write_text("".join(kagura_line(r) for r in memories))
    if graph is not None:
        (path / "graph.jsonl").write_text("".join(kagura_line(r) for r in graph))
    if metadata == "auto":
        graph = graph or []
        metadata = {
            "exported_at": "2025-06-01T12:00:00.125000",
            "user_id": "user_alice",
            "agent_name": "global",
            "stats": {
                "memories": len(memories or []),
                "graph_nodes": sum(1 for g in graph if g.get("type") == "node"),
                "graph_edges": sum(1 for g in graph if g.get("type") == "edge"),
            },
            "format_version": "1.0",
        }
    if metadata is not None:
        (path / "metadata.json").write_text(json.dumps(metadata, indent=2))
    for name, data in (raw or {}).items():
        (path / name).write_bytes(data)
    return path


def reference_kagura(path: Path) -> Path:
    return write_kagura(path, [KAGURA_WORKING, KAGURA_PERSISTENT], [*KAGURA_NODES, KAGURA_EDGE])


def tribal_bundle(entries: list[Any] | None = None, **manifest: Any) -> dict[str, Any]:
    entries = [copy.deepcopy(TRIBAL_ENTRY)] if entries is None else entries
    m = {**copy.deepcopy(TRIBAL_MANIFEST), "memory_count": len(entries), **manifest}
    return {"manifest": m, "entries": entries}


def write_tribal(path: Path, bundle: Any) -> Path:
    """json.dump(bundle, f, default=str): ASCII escapes, one line, no final newline."""
    path.write_text(json.dumps(bundle, default=str))
    return path


def doclea_bundle(**data: Any) -> dict[str, Any]:
    sections = {
        "memories": [copy.deepcopy(DOCLEA_MEMORY)],
        "documents": [],
        "chunks": [],
        "memoryRelations": [],
        "crossLayerRelations": [],
        "pendingMemories": [],
    }
    sections.update(data)
    return {
        "version": "1.0.0",
        "exportedAt": 1748779200,
        "backendType": "sqlite",
        "storageMode": "automatic",
        "schemaVersion": "012",
        "data": sections,
        "metadata": {
            "totalMemories": len(sections["memories"]) if isinstance(sections["memories"], list) else 0,
            "embeddingProvider": "transformers",
            "embeddingModel": "mxbai-embed-xsmall-v1",
        },
    }


def write_doclea(path: Path, bundle: Any) -> Path:
    """JSON.stringify(bundle, null, 2) as UTF-8, no final newline: for data without lone
    surrogates and with integral numbers as ints, Python's json.dumps(ensure_ascii=False,
    indent=2) gives the same bytes (shared/formats/doclea.md §13)."""
    path.write_bytes(json.dumps(bundle, ensure_ascii=False, indent=2).encode("utf-8"))
    return path
