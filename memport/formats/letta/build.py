"""Agent files memport writes itself, from records and a header: shared/formats/letta.md §20 to the letter.

An export from the store (records of several imports, or a selection of them) and a conversion from
another format both end here. Records come with their context (identity.py): blocks with the
agents listing them, messages with their agent, files with their source. The builder starts from a
header (the latest import's: its agents, tools, groups, sources, MCP servers and skills are kept;
``layout`` says which of its file ids named which record) or from nothing, and

* puts each record with its agents and its source, making an agent or a source the header lacks
  (an agent made here has no model: Letta's import gives it one with its ``model`` and
  ``embedding`` options);
* orders an agent's messages by time (the windows of several exports make one conversation); the
  header's context window stays its agents' window, other agents' is their messages' own flags;
* writes a record of the legacy single-agent shape as the upgrade does (legacy.py);
* numbers every id as Letta's exporter does (§3): one counter per prefix from 0, MCP servers
  first, then each agent with its messages (one counter across agents), tools, sources, blocks,
  files and group, then what no agent names; blocks listed by label, tools by name;
* makes every reference resolvable (§20.4): one whose target is not in the file is left out;
* writes no ``shared_block_ids`` (§20.5: Letta 0.16.8 cannot import them): their blocks are listed
  in the block_ids of the group's agents instead;
* makes agent names match ``^[\\w '\\-]+$`` (§20.7; see legacy.sanitized_name).

What it changes on the way is said in ``notes``, one sentence each.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .._convert import ConversionReport
from .codec import parse_time
from .identity import agent_key, detach, identity, source_key
from .legacy import DEFAULT_AGENT_TYPE, current_block, current_message, sanitized_name, upgrade_document
from .write import TOP_KEYS

# the seven arrays Letta requires, then what its exporter always writes (§2, §20.2)
REQUIRED = TOP_KEYS[:7]
UNKNOWN_REVISION = "unknown"  # what Letta writes when its database has no revision (§2)


@dataclass(eq=False)
class Agent:
    """An agent of the file being built, with what it names (as objects, numbered at the end)."""

    obj: dict[str, Any]
    blocks: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    window: list[dict[str, Any]] | None = None  # None: the messages' own in_context flags say
    tools: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    # files_agents: (view, the file it shows, its source); the header's as (view, its source) first
    views: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    view_refs: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    # the header's references to records, as identities (layout)
    block_refs: list[str] = field(default_factory=list)
    message_refs: list[str] = field(default_factory=list)
    window_refs: list[str] | None = None


def new_agent(name: str | None) -> dict[str, Any]:
    """An agent as Letta's exporter writes one (§4), with the constant inputs §20.6 asks for and
    nothing to say: no model, no tools, no system prompt (Letta fills in its defaults)."""
    agent: dict[str, Any] = {} if name is None else {"name": name}
    return agent | {
        "memory_blocks": [],
        "tools": [],
        "tool_ids": [],
        "source_ids": [],
        "folder_ids": None,
        "block_ids": [],
        "tool_rules": [],
        "tags": [],
        "system": None,
        "agent_type": DEFAULT_AGENT_TYPE,
        "initial_message_sequence": None,
        "include_base_tools": False,
        "include_multi_agent_tools": False,
        "include_base_tool_rules": False,
        "include_default_source": False,
        "description": None,
        "metadata": None,
        "model": None,
        "embedding": None,
        "context_window_limit": None,
        "embedding_chunk_size": None,
        "max_tokens": None,
        "max_reasoning_tokens": None,
        "enable_reasoner": False,
        "from_template": None,
        "template": False,
        "project": None,
        "tool_exec_environment_variables": {},
        "memory_variables": None,
        "project_id": None,
        "template_id": None,
        "base_template_id": None,
        "identity_ids": None,
        "enable_sleeptime": False,
        "timezone": "UTC",
        "hidden": None,
        "parallel_tool_calls": None,
        "id": None,
        "in_context_message_ids": [],
        "messages": [],
        "files_agents": [],
        "group_ids": [],
    }


def new_source(name: str | None) -> dict[str, Any]:
    """A source (folder) as the exporter writes one (§8), for files whose source is not in the header."""
    return {
        "name": name if name is not None else "files",
        "description": None,
        "instructions": None,
        "metadata": None,
        "embedding": None,
        "embedding_chunk_size": None,
        "embedding_config": None,
        "id": None,
    }


def empty_document() -> dict[str, Any]:
    """What an agent file without agents holds (§20.2)."""
    return {key: [] for key in TOP_KEYS[:8]} | {"metadata": {"revision_id": UNKNOWN_REVISION}, "created_at": None}


def build(records: dict[str, list[Any]], header: Any, layout: Any, notes: list[str]) -> dict[str, Any]:
    """The document of an agent file holding ``records`` (each kind's stored values, context
    included, in the store's order), built on ``header`` (None: nothing)."""
    builder = Builder(notes)
    builder.start(header, layout)
    builder.place(records)
    return builder.document()


class Builder:
    def __init__(self, notes: list[str]):
        self.notes = notes
        self.top: dict[str, Any] = {}
        self.agents: list[Agent] = []
        self.by_key: dict[str | None, Agent] = {}
        self.tools: list[dict[str, Any]] = []
        self.sources: list[dict[str, Any]] = []
        self.source_by_key: dict[str | None, dict[str, Any]] = {}
        self.groups: list[dict[str, Any]] = []
        self.group_agents: dict[int, list[Agent]] = {}
        self.group_manager: dict[int, Agent | None] = {}
        self.group_blocks: dict[int, list[str]] = {}
        self.mcp_servers: list[dict[str, Any]] = []
        self.blocks: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []
        self.file_source: dict[int, dict[str, Any]] = {}
        self.view_files: dict[int, str] = {}  # id(view) -> the identity of the file it shows

    # the header ------------------------------------------------------------------------------

    def start(self, header: Any, layout: Any) -> None:
        if isinstance(header, dict) and "agents" not in header and any(k in header for k in ("core_memory", "agent_type")):
            header = self._upgraded(header)
            layout = None  # its records had no ids
        doc = copy.deepcopy(header) if isinstance(header, dict) else empty_document()
        refs = _references(layout)
        self.top = doc
        agents = doc.get("agents")
        if not isinstance(agents, list):
            if "agents" in doc:
                self.notes.append(f"the header's agents are not an array ({type(agents).__name__}): written as an empty one")
            agents = []
        self.tools = self._objects(doc.get("tools"), "tools")
        self.sources = self._objects(doc.get("sources"), "sources")
        self.groups = self._objects(doc.get("groups"), "groups")
        self.mcp_servers = self._objects(doc.get("mcp_servers"), "mcp_servers")
        tools = {t.get("id"): t for t in self.tools}
        sources = {s.get("id"): s for s in self.sources}
        groups = {g.get("id"): g for g in self.groups}
        for s in self.sources:
            self.source_by_key.setdefault(source_key(s.get("name")), s)
        counts = _message_counts(layout, len(agents))
        at = 0
        by_id: dict[Any, Agent] = {}
        for index, obj in enumerate(agents):
            own = refs["messages"][at : at + (counts[index] or 0)]
            at += counts[index] or 0
            if not isinstance(obj, dict):
                self.notes.append(f"agents[{index}] is not an object: left out")
                continue
            agent = Agent(obj)
            name = obj.get("name")
            label = name if isinstance(name, str) else f"agents[{index}]"
            agent.tools = self._named(obj.get("tool_ids"), tools, label, "tool_ids", "tool")
            agent.sources = self._named(obj.get("source_ids"), sources, label, "source_ids", "source")
            agent.groups = self._named(obj.get("group_ids"), groups, label, "group_ids", "group")
            by_message = {vol.get("id"): ident for ident, vol in own}
            agent.block_refs = [refs["memories_by_id"][b] for b in _list(obj.get("block_ids")) if b in refs["memories_by_id"]]
            agent.message_refs = [ident for ident, _ in own]
            window = obj.get("in_context_message_ids")
            agent.window_refs = [by_message[m] for m in window if m in by_message] if isinstance(window, list) and own else None
            for view in _list(obj.get("files_agents")):
                if isinstance(view, dict) and view.get("file_id") in refs["documents_by_id"]:
                    self.view_files[id(view)] = refs["documents_by_id"][view["file_id"]]
                    agent.view_refs.append((view, sources.get(view.get("source_id"))))
            self.agents.append(agent)
            by_id.setdefault(obj.get("id"), agent)
            self.by_key.setdefault(agent_key(name), agent)
        for group in self.groups:
            members = [by_id[a] for a in _list(group.get("agent_ids")) if a in by_id]
            config = group.get("manager_config")
            manager = config.get("manager_agent_id") if isinstance(config, dict) else None
            self.group_agents[id(group)] = members
            self.group_manager[id(group)] = by_id.get(manager) if manager is not None else None
            self.group_blocks[id(group)] = [
                refs["memories_by_id"][b] for b in _list(group.get("shared_block_ids")) if b in refs["memories_by_id"]
            ]

    def _upgraded(self, legacy: dict[str, Any]) -> dict[str, Any]:
        """A legacy header (its records taken out) in the current shape, by the upgrade."""
        skeleton = {**legacy, "core_memory": [], "messages": [], "in_context_message_indices": []}
        report = ConversionReport("letta legacy", "letta current")
        upgraded = upgrade_document(skeleton, report)
        for loss in sorted(report.losses.values(), key=lambda x: (x.kind, x.field)):
            self.notes.append(f"the legacy file's {loss.kind} {loss.field}: {loss.note}")
        return upgraded

    def _objects(self, value: Any, name: str) -> list[dict[str, Any]]:
        items = _list(value)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                self.notes.append(f"{name}[{index}] is not an object: left out")
        return [item for item in items if isinstance(item, dict)]

    def _named(self, refs: Any, known: dict[Any, dict[str, Any]], label: str, key: str, what: str) -> list[dict[str, Any]]:
        out = []
        for ref in _list(refs):
            if ref in known:
                if not _holds(out, known[ref]):
                    out.append(known[ref])
            else:
                self.notes.append(f"agent {label!r}: {key} names {ref!r}, no {what} of the file: left out")
        return out

    # the records -----------------------------------------------------------------------------

    def place(self, records: dict[str, list[Any]]) -> None:
        report = ConversionReport("letta legacy", "letta current")
        blocks = self._records("memories", records.get("memories", []), report)
        messages = self._records("messages", records.get("messages", []), report)
        files = self._records("documents", records.get("documents", []), report)
        for loss in sorted(report.losses.values(), key=lambda x: (x.kind, x.field)):
            self.notes.append(f"legacy {loss.kind} {loss.field} ({loss.count}): {loss.note}")
        by_ident = {ident: native for ident, native, _ in blocks}
        for agent in self.agents:
            agent.blocks = [by_ident[i] for i in dict.fromkeys(agent.block_refs) if i in by_ident]
        for group in self.groups:
            shared = [by_ident[i] for i in self.group_blocks[id(group)] if i in by_ident]
            for agent in self.group_agents[id(group)]:
                agent.blocks += [b for b in shared if not _holds(agent.blocks, b)]
        for _, block, context in blocks:
            self.blocks.append(block)
            # the agents of the header that list it already; then an agent of each other owner's name
            listed = {agent_key(a.obj.get("name")) for a in self.agents if _holds(a.blocks, block)}
            for owner in context.get("owners") or []:
                if owner not in listed:
                    self._agent(owner if isinstance(owner, str) else None).blocks.append(block)
        self._messages(messages)
        files_by_ident = {ident: native for ident, native, _ in files}
        for _, file, context in files:
            self.files.append(file)
            self.file_source[id(file)] = self._source(context.get("source"))
        for agent in self.agents:
            agent.views = [
                (view, files_by_ident[self.view_files[id(view)]], source)
                for view, source in agent.view_refs
                if self.view_files[id(view)] in files_by_ident
            ]

    def _records(self, kind: str, values: list[Any], report: ConversionReport) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        out = []
        for value in values:
            native, context = detach(value)
            if not isinstance(native, dict):
                continue  # the store holds objects only
            ident = identity(kind, value)
            if context.get("shape") == "legacy":
                agent = context.get("agent")
                native = (
                    current_block(native, "", report)
                    if kind == "memories"
                    else current_message(native, "", "", report, repr(agent))
                    if kind == "messages"
                    else native
                )
                if native is None:
                    continue
            out.append((ident, copy.deepcopy(native), context))
        return out

    def _agent(self, key: str | None) -> Agent:
        """The agent of this name, made when the header has none."""
        agent = self.by_key.get(key)
        if agent is None:
            agent = self.by_key[key] = Agent(new_agent(key))
            self.agents.append(agent)
            self.notes.append(
                f"agent {key!r} is not in the latest import's file: written without a model "
                "(Letta's import gives it one with its model and embedding options)"
            )
        return agent

    def _source(self, key: str | None) -> dict[str, Any]:
        source = self.source_by_key.get(key)
        if source is None:
            source = self.source_by_key[key] = new_source(key)
            self.sources.append(source)
            self.notes.append(f"source {source['name']!r} is not in the latest import's file: made for its files, attached to no agent")
        return source

    def _messages(self, messages: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        """Each agent's conversation: the header's messages in its order, then the others, all by
        time when every one has one; the window the header's, else the messages' own flags."""
        by_ident = {ident: native for ident, native, _ in messages}
        flagged: dict[int, bool] = {}
        for agent in self.agents:
            agent.messages = [by_ident[i] for i in dict.fromkeys(agent.message_refs) if i in by_ident]
        placed = {id(m) for agent in self.agents for m in agent.messages}
        for _, message, context in messages:
            if id(message) not in placed:
                self._agent(context.get("agent") if isinstance(context.get("agent"), str) else None).messages.append(message)
            flagged[id(message)] = context.get("in_context") is True
        for agent in self.agents:
            times = [parse_time(m.get("created_at"))[0] for m in agent.messages]
            if all(t is not None for t in times):
                order = sorted(range(len(times)), key=lambda i: times[i])  # stable: ties keep their order
                agent.messages = [agent.messages[i] for i in order]
            if agent.window_refs is not None:
                agent.window = [by_ident[i] for i in dict.fromkeys(agent.window_refs) if i in by_ident]
            else:
                agent.window = [m for m in agent.messages if flagged.get(id(m))]

    # the document ----------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        self._groups()
        ids = self._numbered()
        agents = []
        for agent in self.agents:
            obj = agent.obj
            name = obj.get("name")
            if isinstance(name, str) and sanitized_name(name) != name:
                self.notes.append(
                    f"agent name {name!r} written as {sanitized_name(name)!r}: Letta accepts only names matching ^[\\w '\\-]+$"
                )
                obj["name"] = sanitized_name(name)
            own = ids[id(obj)]
            for message in agent.messages:
                message["id"] = ids[id(message)]
                message["agent_id"] = own
            views = []
            for view, file, source in agent.views:
                view["agent_id"] = own
                view["file_id"] = ids[id(file)]
                view["source_id"] = ids[id(source if source is not None else self.file_source[id(file)])]
                views.append(view)
            obj["tool_ids"] = [ids[id(t)] for t in agent.tools]
            obj["source_ids"] = [ids[id(s)] for s in agent.sources]
            obj["block_ids"] = [ids[id(b)] for b in agent.blocks]
            obj["id"] = own
            obj["in_context_message_ids"] = [ids[id(m)] for m in agent.window or []]
            obj["messages"] = agent.messages
            obj["files_agents"] = views
            if "group_ids" in obj or agent.groups:
                obj["group_ids"] = [ids[id(g)] for g in agent.groups]
            agents.append(obj)
        for block in self.blocks:
            block["id"] = ids[id(block)]
        for file in self.files:
            file["source_id"] = ids[id(self.file_source[id(file)])]
            file["id"] = ids[id(file)]
        for obj in (*self.tools, *self.sources, *self.mcp_servers):
            obj["id"] = ids[id(obj)]
        for group in self.groups:
            self._group(group, ids)
        arrays = {
            "agents": agents,
            "groups": self.groups,
            "blocks": sorted(self.blocks, key=lambda b: _sort_key(b.get("label"))),
            "files": self.files,
            "sources": self.sources,
            "tools": sorted(self.tools, key=lambda t: _sort_key(t.get("name"))),
            "mcp_servers": self.mcp_servers,
        }
        doc: dict[str, Any] = {}
        for key, value in self.top.items():
            doc[key] = arrays.pop(key, value)
        for key in TOP_KEYS:
            if key in arrays:
                doc[key] = arrays.pop(key)
            elif key not in doc:
                doc[key] = empty_document()[key]
        if not isinstance(doc.get("skills"), list):
            self.notes.append("skills is not an array: written as an empty one")
            doc["skills"] = []
        metadata = doc.get("metadata")
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            self.notes.append("metadata holds values that are not text (Letta takes text only): they are left out")
            doc["metadata"] = {k: v for k, v in metadata.items() if isinstance(v, str)} if isinstance(metadata, dict) else {}
        return doc

    def _groups(self) -> None:
        """Leave out (noted) a group whose agents or manager are not in the file: Letta would fail
        to import it half-way."""
        kept = []
        for group in self.groups:
            config = group.get("manager_config")
            if self.group_agents[id(group)] and not (
                isinstance(config, dict) and "manager_agent_id" in config and self.group_manager[id(group)] is None
            ):
                kept.append(group)
                continue
            self.notes.append(f"group {_label(group)!r}: its agents are not in the file: left out (Letta would fail to import it)")
            for agent in self.agents:
                agent.groups = [g for g in agent.groups if g is not group]
        self.groups = kept

    def _group(self, group: dict[str, Any], ids: dict[int, str]) -> None:
        """A group's references as the file numbers them; its shared blocks are its agents' now."""
        group["id"] = ids[id(group)]
        group["agent_ids"] = [ids[id(a.obj)] for a in self.group_agents[id(group)]]
        config = group.get("manager_config")
        manager = self.group_manager[id(group)]
        if isinstance(config, dict) and manager is not None:
            config["manager_agent_id"] = ids[id(manager.obj)]
        if group.get("shared_block_ids"):
            self.notes.append(
                f"group {_label(group)!r}: its shared blocks are listed in its agents' block_ids "
                "(Letta 0.16.8 cannot import shared_block_ids)"
            )
            group["shared_block_ids"] = []

    def _numbered(self) -> dict[int, str]:
        """Every entity's new file id, as Letta's exporter numbers them (§3)."""
        ids: dict[int, str] = {}
        counters: dict[str, int] = {}

        def number(prefix: str, obj: Any) -> None:
            if id(obj) not in ids:
                ids[id(obj)] = f"{prefix}-{counters.get(prefix, 0)}"
                counters[prefix] = counters.get(prefix, 0) + 1

        for server in self.mcp_servers:
            number("mcp_server", server)
        for agent in self.agents:
            number("agent", agent.obj)
            for message in agent.messages:
                number("message", message)
            for tool in agent.tools:
                number("tool", tool)
            for source in agent.sources:
                number("source", source)
            for block in agent.blocks:
                number("block", block)
            for _, file, source in agent.views:
                number("file", file)
                number("source", source if source is not None else self.file_source[id(file)])
            for group in agent.groups:
                number("group", group)
        for prefix, objs in (
            ("block", self.blocks),
            ("file", self.files),
            ("source", [*self.sources, *(self.file_source[id(f)] for f in self.files)]),
            ("tool", self.tools),
            ("group", self.groups),
        ):
            for obj in objs:
                number(prefix, obj)
        return ids


def _references(layout: Any) -> dict[str, Any]:
    """What an import's file ids named (its layout): file id -> identity, per kind, and the
    messages as (identity, file ids) in the file's order."""
    records = layout.get("records") if isinstance(layout, dict) else None
    records = records if isinstance(records, dict) else {}
    out: dict[str, Any] = {"messages": [(p[0], p[1]) for p in records.get("messages", []) if isinstance(p, list) and len(p) == 2]}
    for kind in ("memories", "documents"):
        out[f"{kind}_by_id"] = {p[1].get("id"): p[0] for p in records.get(kind, []) if isinstance(p, list) and len(p) == 2}
    return out


def _message_counts(layout: Any, agents: int) -> list[int | None]:
    taken = layout.get("taken") if isinstance(layout, dict) else None
    counts = taken.get("messages") if isinstance(taken, dict) else None
    return counts if isinstance(counts, list) and len(counts) == agents else [None] * agents


def _label(group: dict[str, Any]) -> Any:
    return group.get("description") if isinstance(group.get("description"), str) else group.get("id")


def _holds(items: list[Any], obj: Any) -> bool:
    """Whether ``obj`` itself is among ``items`` (two records may be equal, and both be there)."""
    return any(item is obj for item in items)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _sort_key(value: Any) -> tuple[bool, str]:
    return (not isinstance(value, str), value if isinstance(value, str) else repr(value))


__all__ = ["build", "empty_document", "new_agent", "new_source"]
