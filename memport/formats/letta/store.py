"""What the store and the plans need of Letta records: columns, schemas, text, bundles back.

Stored Letta records carry their context (identity.py). An export of exactly what one import
brought (``as_read``) is that file again, byte for byte: the import's header and layout (the
file's container, where its records were, their file ids) put the stored records back in place; a
legacy file comes back as its upgrade, what ``memport convert --to letta`` writes (Letta 0.16 opens
no legacy file). Any other export is built anew (build.py), with notes on what it changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...errors import MalformedInputError
from ...jsonio import needs_reference
from ...timestamps import store_text
from .. import Indexed, NativeRecord, render
from .build import build
from .bundle import LettaBundle
from .codec import message_text, parse_time
from .container import Container
from .identity import VOLATILE, detach, document_records, identity
from .legacy import upgrade
from .read import LEGACY, from_native, shape_of
from .write import to_document

SCHEMAS = {"memories": "block", "messages": "message", "documents": "file"}


def index(kind: str, value: Any) -> Indexed:
    """The store's columns: a block's label, text and (user-facing) agent; a message's agent,
    role, text and time; a file's name, text and dates."""
    native, context = detach(value)
    found = identity(kind, value)
    if not isinstance(native, dict):
        return Indexed(found)
    if kind == "memories":
        tags = native.get("tags")
        return Indexed(
            found,
            agent_name=_text(context.get("agent")),
            title=_text(native.get("label")),
            content=_text(native.get("value")),
            tags=tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None,
            created_at=_time(native.get("created_at")),  # legacy blocks have times; current ones none
            updated_at=_time(native.get("updated_at")),
        )
    if kind == "messages":
        return Indexed(
            found,
            agent_name=_text(context.get("agent")),
            type=_text(native.get("role")),
            content=message_text(native.get("content")),
            created_at=_time(native.get("created_at")),
        )
    return Indexed(
        found,
        title=_text(native.get("file_name")),
        content=_text(native.get("content")),
        created_at=_time(native.get("file_creation_date")),
        updated_at=_time(native.get("file_last_modified_date")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _time(raw: Any) -> str | None:
    return store_text(parse_time(raw)[0]) if raw is not None else None


def embed_text(value: Any) -> str:
    """A block's text (its value; the label names a place, not a memory), a message's text (its
    text parts; an assistant message that only calls a tool, the calls), a file's content."""
    native, context = detach(value)
    if not isinstance(native, dict):
        return render(native)
    kind = "memories" if "owners" in context else "documents" if "source" in context else "messages" if "agent" in context else None
    if kind is None:  # a record without its context: its keys say
        kind = "messages" if "role" in native else "documents" if "file_name" in native else "memories"
    if kind == "messages":
        return message_embed_text(native)
    return render(native.get("content" if kind == "documents" else "value"))


def message_embed_text(message: dict[str, Any]) -> str:
    """What a message says: its text parts (the model's private reasoning is no part of it), else
    the tool calls it makes (``name(arguments)``, one a line: the reply of a memgpt-style agent is
    the argument of its send_message call)."""
    text = message_text(message.get("content"))
    if text:
        return text
    calls = message.get("tool_calls")
    lines = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            lines.append(f"{render(function.get('name'))}({render(function.get('arguments'))})")
    return "\n".join(lines)


def bundle_records(bundle: Any) -> Iterator[NativeRecord]:
    """A bundle's records with the context its document gives them, as a file's records come."""
    label = bundle.path or "<letta bundle>"
    for kind, _, position, value in document_records(to_document(bundle)):
        yield NativeRecord(kind, value, needs_reference(value), label, None, position)


def from_store(natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> LettaBundle:
    """Stored records as an agent file: the latest import's file when they are exactly its records
    (``as_read``), else built on its header (see build.py; ``bundle.notes`` says what changed)."""
    if as_read:
        found = _as_read(natives, header, layout)
        if found is not None:
            return found
    notes: list[str] = []
    bundle = from_native(build(natives, header, layout, notes))
    bundle.notes = notes
    return bundle


def _as_read(natives: dict[str, list[Any]], header: Any, layout: Any) -> LettaBundle | None:
    """The imported file again (None when the records or the layout do not fit it): each record
    in its place with the file ids it had there, in the file's container."""
    if not isinstance(header, dict) or not isinstance(layout, dict) or not isinstance(layout.get("records"), dict):
        return None
    placed: dict[str, list[Any]] = {}
    for kind in ("memories", "messages", "documents"):
        values = natives.get(kind, [])
        order = layout["records"].get(kind, [])
        by_identity = {identity(kind, value): value for value in values}
        if len(by_identity) != len(values) or len(order) != len(values) or any(ident not in by_identity for ident, _ in order):
            return None
        placed[kind] = [_with_file_ids(detach(by_identity[ident])[0], ids) for ident, ids in order]
    taken = layout.get("taken") if isinstance(layout.get("taken"), dict) else {}
    legacy = shape_of(header) == LEGACY
    doc: dict[str, Any] = {}
    for key, value in header.items():
        if key in ("blocks", "core_memory") and taken.get(key):
            doc[key] = placed["memories"]
        elif key == "files" and taken.get(key):
            doc[key] = placed["documents"]
        elif key == "messages" and legacy and taken.get(key):
            doc[key] = placed["messages"]
        elif key == "agents" and not legacy and isinstance(value, list):
            doc[key] = _agents(value, taken.get("messages"), placed["messages"])
            if doc[key] is None:
                return None
        else:
            doc[key] = value
    try:
        bundle = from_native(doc, container=Container.from_dict(layout.get("container")))
    except MalformedInputError:
        return None
    return upgrade(bundle) if legacy else bundle


def _with_file_ids(native: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    """A stored record with the file ids it had in the file (the store may hold it as an earlier
    export numbered it: file ids are volatile)."""
    out = dict(native)
    for key in VOLATILE:
        if key in ids:
            out[key] = ids[key]
        else:
            out.pop(key, None)
    return out


def _agents(agents: list[Any], counts: Any, messages: list[Any]) -> list[Any] | None:
    if not isinstance(counts, list) or len(counts) != len(agents) or sum(n or 0 for n in counts) != len(messages):
        return None
    out, at = [], 0
    for agent, count in zip(agents, counts):
        if count is None or not isinstance(agent, dict):
            out.append(agent)
            continue
        out.append({key: (messages[at : at + count] if key == "messages" else value) for key, value in agent.items()})
        at += count
    return out
