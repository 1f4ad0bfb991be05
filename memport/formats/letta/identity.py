"""What makes a Letta record the same record in another file, and the context a file gives its records.

File ids (``block-3``, ``message-12``) link entities within one file only, and Letta's exporter
numbers them anew on every export (shared/formats/letta.md §3). A record's identity is therefore
what stays from one export to the next:

* a block: the agents listing it in their ``block_ids`` (their names, sorted) and its label;
* a message: its agent, its time, its role and a hash of what it says (its text parts, the ids of
  the tool calls it makes or answers), but for the system message: Letta renders it again, with the
  blocks' new values, whenever a block changes (§6), so a re-rendered one is that message, changed;
* a file: the name of its source and its ``file_name``.

Records of one file that would share an identity (two blocks nobody lists with one label, say)
are numbered in the file's order (``n``), so none replaces another.

A block does not say who lists it, and a message's ``agent_id`` and a file's ``source_id`` are file
ids: the file around them says. So the records memport hands to the store carry that *context*,
one member :data:`CONTEXT` added to the native object (:func:`attach`), which every writer takes
out again (:func:`detach`). The file ids themselves are ``volatile`` (see
``FormatPlugin.volatile``): a record exported again, renumbered, is unchanged.

Names as Letta changes them on import (§15, §8): an agent's name gains ``_copy`` (the REST
default), a source's ``_`` and 8 hex digits when one of that name exists. The context and the
identity use names without them (:func:`agent_key`, :func:`source_key`), so that a file exported
again after a round trip through Letta meets the records it came from; an agent really named
``notes_copy`` is taken for ``notes`` (a price memport pays knowingly: Letta adds the suffix to
every imported agent by default).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from ...timestamps import store_text
from .bundle import HELPER_TYPES
from .codec import in_context_positions, message_text, parse_time, sanitized_name

# the member of a stored native record that holds its context; a native object that had such a
# member itself keeps its value under KEPT, inside the context
CONTEXT = "$memport"
KEPT = "kept"
# the keys Letta's exporter numbers anew on every export (letta.md §3): the record's own file id,
# a message's agent and a file's source
VOLATILE = ("id", "agent_id", "source_id")

_COPY = "_copy"
_SOURCE_SUFFIX = re.compile(r"_[0-9a-f]{8}$")


def agent_key(name: Any) -> str | None:
    """An agent's name as Letta keeps it (see codec.sanitized_name: the upgrade of a legacy file
    names its agent so), without the ``_copy`` suffixes Letta's import adds (None: no name)."""
    if not isinstance(name, str):
        return None
    name = sanitized_name(name)
    while name.endswith(_COPY) and len(name) > len(_COPY):
        name = name[: -len(_COPY)]
    return name


def source_key(name: Any) -> str | None:
    """A source's name without the ``_`` + 8 hex digits Letta's import adds to a name it has."""
    if not isinstance(name, str):
        return None
    return _SOURCE_SUFFIX.sub("", name) if len(name) > 9 else name


def sorted_names(names: list[str | None]) -> list[str | None]:
    """Names in a fixed order (an unnamed agent last)."""
    return sorted(set(names), key=lambda n: (n is None, n or ""))


def attach(native: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The record as the store keeps it: the native object, then its context."""
    out = dict(native)
    if CONTEXT in out:
        context = {**context, KEPT: out.pop(CONTEXT)}
    out[CONTEXT] = context
    return out


def detach(value: Any) -> tuple[Any, dict[str, Any]]:
    """A stored record as (the native object, its context); a record without one has ``{}``."""
    if not isinstance(value, dict) or not isinstance(value.get(CONTEXT), dict):
        return value, {}
    native = {key: item for key, item in value.items() if key != CONTEXT}
    context = value[CONTEXT]
    if KEPT in context:
        native[CONTEXT] = context[KEPT]
    return native, context


def context_of(value: Any) -> dict[str, Any]:
    return value[CONTEXT] if isinstance(value, dict) and isinstance(value.get(CONTEXT), dict) else {}


def base_identity(kind: str, native: Any, context: dict[str, Any]) -> list[Any]:
    """The identity of a record without its number among equals."""
    if not isinstance(native, dict):
        return [native]
    if kind == "memories":
        owners = context.get("owners")
        return [owners if isinstance(owners, list) else [], native.get("label")]
    if kind == "messages":
        role = native.get("role")
        # the system message is rendered again whenever a block changes (§6): the same message, changed
        return [context.get("agent"), _time(native.get("created_at")), role, None if role == "system" else said(native)]
    return [context.get("source"), native.get("file_name")]


def identity(kind: str, value: Any) -> str:
    """A stored record's identity as text (a JSON array), from the record and its context."""
    native, context = detach(value)
    found = base_identity(kind, native, context)
    n = context.get("n")
    if isinstance(n, int) and n:
        found.append(n)
    return json.dumps(found, ensure_ascii=False, separators=(",", ":"))


def _time(raw: Any) -> Any:
    """A message's time as UTC text (the same instant however it is written: the legacy shape's
    naive times are UTC), else as it is."""
    utc, _ = parse_time(raw)
    return store_text(utc) if utc is not None else raw


def said(message: dict[str, Any]) -> str:
    """16 hex digits of a hash of what a message says: its text, and the tool calls it makes or
    answers (an assistant message that only calls a tool has no text)."""
    calls = message.get("tool_calls")
    ids = [c.get("id") for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    what = [message_text(message.get("content")), message.get("tool_call_id"), ids]
    text = json.dumps(what, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Numbering:
    """Numbers records of one file that share a base identity, in the file's order."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], int] = {}

    def __call__(self, kind: str, native: Any, context: dict[str, Any]) -> dict[str, Any]:
        key = (kind, json.dumps(base_identity(kind, native, context), ensure_ascii=False, sort_keys=True))
        n = self.seen.get(key, 0)
        self.seen[key] = n + 1
        return {**context, "n": n} if n else context


def document_records(doc: dict[str, Any]) -> Iterator[tuple[str, int, int, Any]]:
    """The records of an agent-file document with their context, in the file's order, as
    (kind, index of the array or agent holding it, position there, record): an agent's messages
    with the agent (its name, whether each is in its context window), blocks with the agents
    listing them, files with their source's name; a legacy file's blocks and messages with its one
    agent (``shape: legacy``). A value that is not an object is handed on as it is (the store names
    it as a record it cannot hold)."""
    number = Numbering()

    def record(kind: str, value: Any, context: dict[str, Any]) -> Any:
        return attach(value, number(kind, value, context)) if isinstance(value, dict) else value

    if "agents" not in doc:  # the legacy single-agent shape (letta.md §14)
        name = agent_key(doc.get("name"))
        window = in_context_positions(doc)
        for member, kind in (("core_memory", "memories"), ("messages", "messages")):
            items = doc.get(member)
            for position, item in enumerate(items if isinstance(items, list) else []):
                if kind == "memories":
                    context: dict[str, Any] = {"owners": [name], "agent": name, "shape": "legacy"}
                else:
                    context = {"agent": name, "in_context": None if window is None else position in window, "shape": "legacy"}
                yield kind, 0, position, record(kind, item, context)
        return
    agents = doc["agents"] if isinstance(doc.get("agents"), list) else []
    owners: dict[str, list[dict[str, Any]]] = {}
    for agent in agents:
        block_ids = agent.get("block_ids") if isinstance(agent, dict) else None
        for block_id in dict.fromkeys(block_ids) if isinstance(block_ids, list) else []:
            if isinstance(block_id, str):
                owners.setdefault(block_id, []).append(agent)
    sources = doc.get("sources")
    source_names = {s.get("id"): source_key(s.get("name")) for s in sources if isinstance(s, dict)} if isinstance(sources, list) else {}
    for member, value in doc.items():
        if not isinstance(value, list):
            continue
        if member == "agents":
            for index, agent in enumerate(value):
                messages = agent.get("messages") if isinstance(agent, dict) else None
                if not isinstance(messages, list):
                    continue
                name = agent_key(agent.get("name"))
                window = agent.get("in_context_message_ids")
                ids = {m for m in window if isinstance(m, str)} if isinstance(window, list) else None
                for position, message in enumerate(messages):
                    message_id = message.get("id") if isinstance(message, dict) else None
                    in_context = None if ids is None or not isinstance(message_id, str) else message_id in ids
                    yield "messages", index, position, record("messages", message, {"agent": name, "in_context": in_context})
        elif member == "blocks":
            for position, block in enumerate(value):
                block_id = block.get("id") if isinstance(block, dict) else None
                listed = owners.get(block_id, []) if isinstance(block_id, str) else []
                context = {"owners": sorted_names([agent_key(a.get("name")) for a in listed]), "agent": user_facing(listed)}
                yield "memories", 0, position, record("memories", block, context)
        elif member == "files":
            for position, file in enumerate(value):
                source_id = file.get("source_id") if isinstance(file, dict) else None
                source = source_names.get(source_id) if isinstance(source_id, str) else None
                yield "documents", 0, position, record("documents", file, {"source": source})


def user_facing(agents: list[dict[str, Any]]) -> str | None:
    """The agent a block belongs to (its name as :func:`agent_key` has it): its one owner, or its
    one user-facing owner when a helper (a sleeptime agent) shares it; None when several
    user-facing agents share it, or nobody lists it."""
    if len(agents) > 1:
        agents = [a for a in agents if a.get("agent_type") not in HELPER_TYPES]
    return agent_key(agents[0].get("name")) if len(agents) == 1 else None
