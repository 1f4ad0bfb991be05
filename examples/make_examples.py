"""Write the example bundles under examples/ from the format references' illustrative records.

    python examples/make_examples.py

Each bundle is written byte for byte the way its system's exporter writes it (Kagura: Python
json.dumps lines; Tribal: one json.dumps line; Doclea: JSON.stringify(..., null, 2)), so they are
also a fixture of what "native" means. Deterministic: running it twice gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def kagura(path: Path) -> None:
    path.mkdir(exist_ok=True)
    memories = [
        {
            "type": "memory",
            "scope": "working",
            "key": "draft_topic",
            "value": "quarterly report",
            "user_id": "user_alice",
            "agent_name": "global",
            "exported_at": "2025-06-01T12:00:00.123456",
        },
        {
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
        },
        {
            "type": "memory",
            "scope": "persistent",
            "key": "deploy_credentials",
            "value": "staging api_key=sk-test-4f9Qx2Lm8Rt5Vb7Nc1Zp; alerts to ops@example.com or +44 20 7946 0958",
            "user_id": "user_alice",
            "agent_name": "global",
            "created_at": "2025-05-31 08:00:00",
            "updated_at": "2025-05-31 08:00:00",
            "metadata": {"source": "chat"},
            "exported_at": "2025-06-01T12:00:00.123850",
        },
        {
            "type": "memory",
            "scope": "persistent",
            "key": "greeting",
            "value": "Gr\u00fc\u00df dich \U0001f44b",
            "user_id": "user_alice",
            "agent_name": "thread_7",
            "created_at": "2025-05-31 09:00:00",
            "updated_at": "2025-06-01 11:30:00.250000",
            "metadata": {
                "metadata": "{}",
                "tags": '["profile", "language"]',
                "importance": 0.8,
                "created_at": "2025-05-31T18:00:00.000001",
                "updated_at": "2025-06-01T11:30:00.250000",
            },
            "exported_at": "2025-06-01T12:00:00.123901",
        },
    ]
    nodes = [
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
    edges = [
        {
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
        },
    ]
    (path / "memories.jsonl").write_text("".join(json.dumps(r) + "\n" for r in memories))
    (path / "graph.jsonl").write_text("".join(json.dumps(r) + "\n" for r in nodes + edges))
    metadata = {
        "exported_at": "2025-06-01T12:00:00.125000",
        "user_id": "user_alice",
        "agent_name": "global",
        "stats": {"memories": len(memories), "graph_nodes": len(nodes), "graph_edges": len(edges)},
        "format_version": "1.0",
    }
    (path / "metadata.json").write_text(json.dumps(metadata, indent=2))


def tribal(path: Path) -> None:
    first = "0b7c6a52-1111-4a2b-9c3d-000000000001"
    bundle = {
        "manifest": {
            "schema_version": "1.0",
            "embedding": {
                "model_name": "example/tiny-embed-3d",
                "dimensions": 3,
                "provider": "fastembed",
                "created_at": "2025-06-01T12:00:00.000100+00:00",
            },
            "memory_count": 3,
            "exported_at": "2025-06-01T12:00:00.000200+00:00",
        },
        "entries": [
            {
                "id": first,
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
            },
            {
                "id": "0b7c6a52-1111-4a2b-9c3d-000000000002",
                "content": "Alice prefers Rust",
                "embedding": None,
                "source_instance": "laptop-alice",
                "source_type": "correction",
                "created_at": "2025-06-01T09:00:00+00:00",
                "updated_at": "2025-06-01T09:00:00+00:00",
                "tags": ["preferences"],
                "context": f"Correction of memory {first}",
                "confidence": 1.0,
                "supersedes": first,
                "related_to": [first],
            },
            {
                "id": "0b7c6a52-1111-4a2b-9c3d-000000000003",
                "content": "Party planning \U0001f389 for the caf\u00e9 team",
                "embedding": [0.25, 0.5, -0.125],
                "source_instance": "desktop-bob",
                "source_type": "auto_capture",
                "created_at": "2025-06-01T10:00:00",
                "updated_at": "2025-06-01T10:00:00.000001",
                "tags": ["events", "Work", "work"],
                "context": "calendar",
                "confidence": 0.75,
                "supersedes": None,
                "related_to": [],
            },
        ],
    }
    path.write_text(json.dumps(bundle))


def doclea(path: Path) -> None:
    bundle = {
        "version": "1.0.0",
        "exportedAt": 1748779200,
        "backendType": "sqlite",
        "storageMode": "automatic",
        "schemaVersion": "012",
        "data": {
            "memories": [
                {
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
                },
                {
                    "id": "mem-1",
                    "type": "knowledge",
                    "title": "Deploy checklist \U0001f680",
                    "content": "Run migrations first.\r\nThen restart.",
                    "summary": "",
                    "importance": 1,
                    "tags": ["Bug", "bug"],
                    "relatedFiles": ["docs\\deploy.md"],
                    "experts": [],
                    "createdAt": 1748600000,
                    "accessedAt": 1748600000,
                    "accessCount": 0,
                    "needsReview": True,
                    "decayRate": 0,
                },
            ],
            "documents": [
                {
                    "id": "doc_1",
                    "title": "Intro",
                    "content": "\U0001f4d8 Intro to auth",
                    "contentHash": "abc123",
                    "createdAt": 1748600000,
                    "updatedAt": 1748600000,
                }
            ],
            "chunks": [{"id": "chk_1", "documentId": "doc_1", "content": "Intro", "startOffset": 3, "endOffset": 8}],
            "memoryRelations": [
                {
                    "id": "V1StGXR8_Z5jdHi6B-myT",
                    "source_id": "mem_AbCdEfGh12345678",
                    "target_id": "mem-1",
                    "type": "supersedes",
                    "weight": 1,
                    "metadata": '{"reason":"newer decision"}',
                    "created_at": 1748700123456,
                }
            ],
            "crossLayerRelations": [
                {
                    "id": "x8Kd9aQ2mP4nR6tV1wY3z",
                    "memory_id": "mem_AbCdEfGh12345678",
                    "code_node_id": "src/auth/jwt.ts:function:issueToken",
                    "relation_type": "documents",
                    "direction": "memory_to_code",
                    "confidence": 0.9,
                    "metadata": '{"detectionMethod":"code_reference","reason":"mentions issueToken"}',
                    "created_at": 1748700200,
                }
            ],
            "pendingMemories": [
                {
                    "id": "pnd_QwErTyUiOpAsDfGh",
                    "memoryData": {
                        "id": "mem_ZzZzZzZzZzZzZzZz",
                        "qdrantId": "vec_YyYyYyYyYyYyYyYy",
                        "type": "note",
                        "title": "Maybe cache tokens",
                        "content": "Consider caching.",
                        "importance": 0.5,
                        "tags": [],
                        "relatedFiles": [],
                        "experts": [],
                        "needsReview": True,
                    },
                    "suggestedAt": 1748779100,
                    "source": "user_store",
                    "reason": "Auto-suggested for review before storage",
                }
            ],
        },
        "metadata": {"totalMemories": 2, "embeddingProvider": "transformers", "embeddingModel": "mxbai-embed-xsmall-v1"},
    }
    # JSON.stringify(data, null, 2) with raw UTF-8 and no final newline (shared/formats/doclea.md §13)
    path.write_bytes(json.dumps(bundle, ensure_ascii=False, indent=2).encode("utf-8"))


# the people and facts of the diverged examples: every fact of every person was edited on one
# machine or the other, so that a person merging them pages through more than 50 conflicts
PEOPLE = ("Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace")
FACTS = (
    ("birthday", "3 March", "4 March", ["family"]),
    ("phone", "Pixel 7", "Pixel 8", ["devices"]),
    ("allergy", "peanuts", "peanuts and sesame", ["health"]),
    ("team", "platform", "data", ["work"]),
    ("home town", "Leeds", "York", ["personal"]),
    ("favourite food", "ramen", "dumplings", ["personal"]),
    ("next trip", "Lisbon in May", "Porto in June", ["travel"]),
    ("desk", "3rd floor, window", "4th floor, corner", ["work"]),
)


def diverged(folder: Path) -> None:
    """Two exports of one Tribal memory that diverged on two machines (the laptop's and the
    desktop's), and the decisions a person made about their differences (replayed by
    notebooks/02-merge.ipynb when told to). 58 conflicts: most edited later on the desktop, some
    later on the laptop, some at the same second, some only in their tags or confidence."""
    import tempfile

    import memport

    folder.mkdir(exist_ok=True)

    def entry(n: int, content: str, updated: str, tags: list[str], instance: str, confidence: float = 1.0) -> dict:
        return {
            "id": f"7d3e2a10-0000-4000-8000-{n:012d}",
            "content": content,
            "embedding": None,
            "source_instance": instance,
            "source_type": "user_explicit",
            "created_at": "2025-06-01T09:00:00+00:00",
            "updated_at": updated,
            "tags": tags,
            "context": None,
            "confidence": confidence,
            "supersedes": None,
            "related_to": [],
        }

    def bundle(entries: list[dict]) -> dict:
        return {
            "manifest": {
                "schema_version": "1.0",
                "embedding": {"model_name": "sentence-transformers/all-MiniLM-L6-v2", "dimensions": 384},
                "memory_count": len(entries),
                "exported_at": "2025-07-01T12:00:00+00:00",
            },
            "entries": entries,
        }

    laptop = [
        entry(1, "Team standup is at 09:30", "2025-06-01T09:00:00+00:00", ["work"], "laptop"),
        entry(2, "Project deadline is 15 July", "2025-06-02T10:00:00+00:00", ["work"], "laptop"),
        entry(3, "Favourite coffee: flat white", "2025-06-05T08:00:00+00:00", ["personal"], "laptop"),
    ]
    desktop = [
        entry(1, "Team standup is at 09:30", "2025-06-01T09:00:00+00:00", ["work"], "laptop"),
        entry(2, "Project deadline moved to 22 July", "2025-06-10T16:00:00+00:00", ["work"], "desktop"),
        entry(3, "Favourite coffee: espresso", "2025-06-03T08:00:00+00:00", ["personal"], "desktop"),
        entry(4, "Dentist appointment on 3 July", "2025-06-11T12:00:00+00:00", ["personal"], "desktop"),
    ]
    n = 4
    for p, person in enumerate(PEOPLE):
        for f, (fact, old, new, tags) in enumerate(FACTS):
            n += 1
            day = 2 + (p * len(FACTS) + f) % 27
            first = f"2025-06-{day:02d}T{8 + f:02d}:{5 * p:02d}:00+00:00"
            later = f"2025-06-{day + 1:02d}T{8 + f:02d}:{5 * p:02d}:00+00:00"
            earlier = f"2025-06-{day:02d}T07:{5 * p:02d}:00+00:00"
            laptop.append(entry(n, f"{person}'s {fact}: {old}", first, tags, "laptop"))
            if (p + f) % 9 == 4:  # edited on the laptop after the desktop's copy was made
                desktop.append(entry(n, f"{person}'s {fact}: {new}", earlier, tags, "desktop"))
            elif (p + f) % 13 == 6:  # both edited within the same second: neither is newer
                desktop.append(entry(n, f"{person}'s {fact}: {new}", first, tags, "desktop"))
            elif (p + f) % 11 == 3:  # only tagged anew on the desktop
                desktop.append(entry(n, f"{person}'s {fact}: {old}", later, [*tags, "checked"], "laptop"))
            elif (p + f) % 7 == 5:  # only its confidence lowered on the desktop
                desktop.append(entry(n, f"{person}'s {fact}: {old}", later, tags, "laptop", confidence=0.5))
            else:  # edited later on the desktop
                desktop.append(entry(n, f"{person}'s {fact}: {new}", later, tags, "desktop"))
    (folder / "laptop.json").write_text(json.dumps(bundle(laptop)))
    (folder / "desktop.json").write_text(json.dumps(bundle(desktop)))
    with tempfile.TemporaryDirectory() as tmp:
        with memport.Store(Path(tmp) / "merge.db") as store:
            memport.import_bundle(folder / "laptop.json", store)
            plan = memport.plan(folder / "desktop.json", store, strategy="manual")
            # the person took the newer deadline and kept the laptop's coffee; for the rest, took
            # the newer side, and where neither is newer took the desktop's text with the laptop's
            # other fields
            made = {d.uid: d for d in plan.rule("take", newer=True)}
            for uid, choice in (
                ("tribal:memories:7d3e2a10-0000-4000-8000-000000000002", "take"),
                ("tribal:memories:7d3e2a10-0000-4000-8000-000000000003", "keep"),
            ):
                made[uid] = plan.decide(uid, choice)
            for detail in plan.details(plan.conflicts()):
                if detail["incoming_updated"] == detail["stored_updated"]:
                    picks = {key: "take" if key == "content" else "keep" for key in detail["diff"]}
                    made[detail["uid"]] = plan.decide(detail["uid"], "fields", picks)
            memport.save_decisions(made.values(), folder / "decisions.jsonl")


if __name__ == "__main__":
    kagura(HERE / "kagura")
    tribal(HERE / "tribal.json")
    doclea(HERE / "doclea.json")
    diverged(HERE / "diverged")
    print("wrote examples/kagura, examples/tribal.json, examples/doclea.json, examples/diverged/")
