"""Writing agent files: the document put back together from header and records, in its container.

A bundle read from a file keeps that file's header (everything but blocks, messages and files),
where its records sat, and its container (encoding, layers, layout), so writing it unchanged gives
the same bytes. Records are encoded by their own codecs; messages go back to the agent they belong
to (by the counts read, else by their ``agent_id``). A bundle made by memport (the upgrade, later
conversions) has a fresh container: the exporter's layout, plain UTF-8, no final newline.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ...bundle import Bundle
from ...errors import ConversionError
from ...jsonio import atomic_output, write_synced
from ...model import Message
from .codec import BLOCK, FILE, LEGACY_BLOCK, LEGACY_MESSAGE, MESSAGE, NAME, exported_time
from .container import Container

# the top level as the exporter orders it (letta.md §2)
TOP_KEYS = ("agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers", "skills", "metadata", "created_at")


def to_document(bundle: Bundle, exported_at: datetime | None = None) -> dict[str, Any]:
    """The native document of a Letta bundle (``exported_at`` replaces the current shape's
    ``created_at``, the export time)."""
    meta = bundle.meta
    if meta.format != NAME or meta.header is None:
        if bundle.records.messages:
            raise ConversionError("messages need the agents they belong to: build a Letta bundle with memport.formats.letta.from_native")
        header: dict[str, Any] = {key: [] for key in TOP_KEYS[:8]} | {"metadata": {}, "created_at": None}
        taken: dict[str, Any] = {"blocks": True, "files": True, "messages": []}
        legacy = False
    else:
        header = meta.header
        taken = (meta.container or {}).get("records", {})
        legacy = meta.version == "legacy"
    records = bundle.records
    if legacy:
        doc = {
            key: [LEGACY_BLOCK.encode(m) for m in records.memories]
            if key == "core_memory" and taken.get(key)
            else [LEGACY_MESSAGE.encode(m) for m in records.messages]
            if key == "messages" and taken.get(key)
            else value
            for key, value in header.items()
        }
        return doc
    doc = {}
    for key, value in header.items():
        if key == "blocks" and taken.get(key):
            doc[key] = [BLOCK.encode(m) for m in records.memories]
        elif key == "files" and taken.get(key):
            doc[key] = [FILE.encode(d) for d in records.documents]
        elif key == "agents" and isinstance(value, list):
            doc[key] = _agents(value, taken.get("messages") or [], records.messages)
        else:
            doc[key] = value
    if exported_at is not None:
        doc["created_at"] = exported_time(exported_at)
    return doc


def _agents(agents: list[Any], counts: list[int | None], messages: list[Message]) -> list[Any]:
    """The agents with their messages back in place: sliced by the counts read when they still
    fit (same total, each slice the agent's own), else grouped by ``agent_id``."""
    slices = _slices(agents, counts, messages)
    out = []
    for index, agent in enumerate(agents):
        if slices is not None:
            own = slices[index]
        elif index < len(counts) and counts[index] is not None and isinstance(agent, dict):
            agent_id = agent.get("id") if isinstance(agent.get("id"), str) else None
            own = [m for m in messages if m.agent_id == agent_id]
        else:
            own = None
        if own is None:
            out.append(agent)
            continue
        out.append({key: ([MESSAGE.encode(m) for m in own] if key == "messages" else value) for key, value in agent.items()})
    return out


def _slices(agents: list[Any], counts: list[int | None], messages: list[Message]) -> list[list[Message] | None] | None:
    if len(counts) != len(agents) or sum(n or 0 for n in counts) != len(messages):
        return None
    out: list[list[Message] | None] = []
    start = 0
    for agent, n in zip(agents, counts):
        if n is None:
            out.append(None)
            continue
        own = messages[start : start + n]
        agent_id = agent.get("id") if isinstance(agent, dict) and isinstance(agent.get("id"), str) else None
        if any(m.agent_id != agent_id for m in own):
            return None
        out.append(own)
        start += n
    return out


def write(bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
    """Write atomically; the bundle's own container when it was read from a file."""
    doc = to_document(bundle, exported_at)
    container = Container.from_dict(bundle.meta.container if bundle.meta.format == NAME else None)
    data = container.render(doc)
    with atomic_output(path, directory=False, overwrite=overwrite) as out:
        write_synced(out.tmp, data)
    return out.backup
