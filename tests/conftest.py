"""Fixtures shared by the test modules: sample bundles of every format, a deterministic embedder.

``native`` (next to this file) builds native records and files as each system writes them, from
shared/formats/; tests import it as a plain module.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from native import (
    DOCLEA_MEMORY,
    DOCLEA_RELATION,
    KAGURA_EDGE,
    KAGURA_NODES,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    TRIBAL_ENTRY,
    doclea_bundle,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)


def sources(root: Path) -> dict[str, Path]:
    """One rich bundle per format, written from the references."""
    root.mkdir(parents=True, exist_ok=True)
    mcp = dict(
        KAGURA_PERSISTENT,
        key="profile",
        agent_name="thread_7",
        metadata={"metadata": "{}", "tags": '["profile", "language"]', "importance": 0.8},
    )
    working = [
        KAGURA_WORKING,
        dict(KAGURA_WORKING, key="_meta_draft_topic", value={"tags": ["q3"], "importance": 0.4}),
        dict(KAGURA_WORKING, key=5, value={"nested": [1, 2.5, None]}),
    ]
    k = write_kagura(root / "kagura", [*working, KAGURA_PERSISTENT, mcp], [*KAGURA_NODES, KAGURA_EDGE])
    first = TRIBAL_ENTRY["id"]
    entries = [
        copy.deepcopy(TRIBAL_ENTRY),
        dict(
            TRIBAL_ENTRY,
            id="0b7c6a52-1111-4a2b-9c3d-000000000002",
            content="Alice prefers Rust",
            embedding=[0.3, 0.2, 0.1],
            source_type="correction",
            context=f"Correction of memory {first}",
            supersedes=first,
            related_to=[first],
            created_at="2025-06-01T09:00:00+00:00",
            updated_at="2025-06-01T09:00:00+00:00",
            confidence=0.75,
            tags=["Work", "work"],
        ),
    ]
    t = write_tribal(root / "tribal.json", tribal_bundle(entries))
    s = root / "stream.jsonl"
    s.write_text("".join(json.dumps(e) + "\n" for e in entries))
    odd = dict(
        DOCLEA_MEMORY,
        id="mem-1",
        type="knowledge",
        title="Deploy \U0001f680",
        content="Run migrations.\r\nThen restart.",
        summary="",
        importance=1,
        decayRate=0,
        tags=["Bug", "bug"],
    )
    doc = {
        "id": "doc_1",
        "title": "Intro",
        "content": "\U0001f4d8 Intro",
        "contentHash": "h",
        "createdAt": 1748600000,
        "updatedAt": 1748600000,
    }
    chunk = {"id": "c1", "documentId": "doc_1", "content": "Intro", "startOffset": 3, "endOffset": 8}
    cross = {
        "id": "x1",
        "memory_id": DOCLEA_MEMORY["id"],
        "code_node_id": "src/auth/jwt.ts:function:issueToken",
        "relation_type": "documents",
        "direction": "memory_to_code",
        "confidence": 0.9,
        "metadata": '{"detectionMethod":"code_reference"}',
        "created_at": 1748700200,
    }
    relation = dict(DOCLEA_RELATION, target_id="mem-1")
    second = dict(DOCLEA_RELATION, id="r2", source_id="mem-1", target_id=DOCLEA_MEMORY["id"], type="requires", weight=0.5, metadata=None)
    pending = {
        "id": "pnd_1",
        "memoryData": {"id": "mem_future", "qdrantId": "vec_1"},
        "suggestedAt": 1748779100,
        "source": "user_store",
        "reason": "r",
    }
    d = write_doclea(
        root / "doclea.json",
        doclea_bundle(
            memories=[copy.deepcopy(DOCLEA_MEMORY), odd],
            documents=[doc],
            chunks=[chunk],
            memoryRelations=[relation, second],
            crossLayerRelations=[cross],
            pendingMemories=[pending],
        ),
    )
    return {"kagura": k, "tribal": t, "tribal-jsonl": s, "doclea": d}


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """One rich bundle per format (see :func:`sources`); tests write elsewhere, never into them."""
    return sources(tmp_path_factory.mktemp("sources"))


class StandIn:
    """A deterministic embedder for mechanics: vectors from the text's hash; records every call."""

    max_seq_length = 8

    def __init__(self, name: str = "stand-in", dimension: int = 4):
        self.name, self.dimension = name, dimension
        self.calls: list[list[str]] = []

    @property
    def fingerprint(self) -> dict:
        return {"model": self.name, "dimension": self.dimension, "kind": "stand-in"}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.calls.append(list(texts))
        out = [
            np.frombuffer(hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[: 4 * self.dimension], dtype=np.uint32).astype(
                np.float32
            )
            / 2**32
            for t in texts
        ]
        return np.vstack(out) if out else np.zeros((0, self.dimension), np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    @property
    def encoded(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def stand_in() -> StandIn:
    """A fresh deterministic embedder (records its calls)."""
    return StandIn()


@pytest.fixture
def make_stand_in() -> type[StandIn]:
    """Deterministic embedders of a given model name and dimension: ``make_stand_in("m", 3)``."""
    return StandIn


def _mount(args: list[str], where: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a file system (this test runs where it is root, e.g. CI containers)")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *args, str(where)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(kib)``: a tmpfs of that size (a real full disk for the tests that need one),
    unmounted afterwards; skipped where this process may not mount."""
    mounted: list[Path] = []

    def mount(kib: int) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        _mount(["-t", "tmpfs", "-o", f"size={kib}k", "tmpfs"], where)
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only(tmp_path):
    """``read_only(folder)``: the folder seen through a read-only bind mount (read-only media,
    even for root), unmounted afterwards; skipped where this process may not mount."""
    mounted: list[Path] = []

    def mount(folder: Path) -> Path:
        where = tmp_path / f"ro{len(mounted)}"
        _mount(["--bind", str(folder)], where)
        mounted.append(where)
        done = subprocess.run(["mount", "-o", "remount,bind,ro", str(where)], capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


# screenshots of the real-browser tests: kept (not committed: .gitignore), and named at the end of
# the run so that a person can look at them
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
_artifacts_used: list[str] = []


@pytest.fixture
def artifacts(request) -> Path:
    """The folder a test keeps its screenshots in (test-artifacts/ at the top of the checkout)."""
    ARTIFACTS.mkdir(exist_ok=True)
    _artifacts_used.append(request.node.name)
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter) -> None:
    if _artifacts_used:
        shots = sorted(p.name for p in ARTIFACTS.glob("*.png"))
        terminalreporter.write_line(f"screenshots of {', '.join(_artifacts_used)} kept in {ARTIFACTS}: {', '.join(shots)}")
