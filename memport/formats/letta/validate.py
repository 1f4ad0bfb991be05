"""Validation of agent files: every record against its schema as it is read, then the checks across
records that Letta does not make before it starts writing (shared/formats/letta.md §3, §15).

Letta's own validation checks ids, duplicates and the file/source links, then imports without a
transaction: a dangling ``block_ids``, ``tool_ids``, ``source_ids``, ``in_context_message_ids``
(another agent's message included) or group reference passes it and fails the import half-way,
with what was created before it left in the database. Here those are errors, like everything
Letta rejects; warnings are what Letta takes but its own exporter never writes (a byte order
mark, double encoding, keys it silently drops, another layout).

A plain UTF-8 file is read as a stream: one top-level array element at a time (an agent with its
messages), keeping only what the cross-record checks need (ids, references, tool names). A
double-encoded or UTF-16/32 file is one JSON text that must be parsed whole first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ...errors import MalformedInputError
from ...jsonio import BOM, needs_reference
from ...problems import Problem, json_path, quote
from ...schemas import SchemaSet, schema_set
from .. import Detection
from .._document import Event, walk
from .codec import EXPORTED_TIME, NAME, NAME_RULE, parse_time, sanitized_name
from .container import EXPORTER, Container, EncodedThrice
from .ids import PREFIXES, id_problem
from .read import LEGACY, load

CURRENT_ARRAYS = ("agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers", "skills")
LEGACY_ARRAYS = ("core_memory", "messages", "tools")
# array -> (schema name, the kind in problem codes)
SCHEMA_OF = {
    "agents": ("agent", "agent"),
    "groups": ("group", "group"),
    "blocks": ("block", "block"),
    "files": ("file", "file"),
    "sources": ("source", "source"),
    "tools": ("tool", "tool"),
    "mcp_servers": ("mcp-server", "mcp-server"),
    "skills": ("skill", "skill"),
    "messages": ("message", "message"),
}
_WHOLE_NUMBER = re.compile(r"^\s*[+-]?[0-9]+\s*\Z")
_HEAD_OF_REST = 4096  # white space after the document read to tell a final newline from more data
HALF_WAY = "Letta's validation passes it, then its import fails half-way, with what it created before left in place"


def validate(path: Path, detection: Detection) -> list[Problem]:
    """Every problem of the file: its bytes', each record's, then those across records."""
    name = str(path)
    legacy = detection.version == LEGACY
    schemas = schema_set(NAME, detection.version)
    checks: _Checks = _LegacyChecks(schemas, name) if legacy else _CurrentChecks(schemas, name)
    spread = _spreader(LEGACY_ARRAYS if legacy else CURRENT_ARRAYS)
    if Container.from_dict(detection.details.get("container")).streamable:
        problems, verdict = _stream(path, spread, checks, layout=not legacy)
    else:
        problems, verdict = _whole(path, spread, checks)
    if verdict is None:
        return problems  # the JSON broke: what was read is reported, nothing across records
    if not legacy and verdict is not True:
        problems.append(
            Problem(
                "letta.bundle.layout",
                "warning",
                "ends with white space (a final newline); Letta's exporter writes none: a client wrote the file again, Letta reads it all the same"
                if verdict == "white space"
                else "not laid out as Letta's exporter writes it (orjson, 2-space indent, raw UTF-8, no final newline): a client wrote the file again; Letta reads it all the same",
                name,
            )
        )
    return problems + checks.finish()


def _stream(path: Path, spread: Any, checks: _Checks, *, layout: bool) -> tuple[list[Problem], bool | str | None]:
    """A plain UTF-8 file read as a stream: its problems so far, and whether it is laid out as the
    exporter writes it (True, "white space" after it, False; None when the JSON broke)."""
    name = str(path)
    problems: list[Problem] = []
    with open(path, "rb") as f:
        bom = f.read(len(BOM)) == BOM
    if bom:
        problems.append(_bom_problem(name))
    exporter = _ExporterLayout(path, len(BOM) if bom else 0) if layout else None
    try:
        for event in walk(path, spread, allow_bom=True):
            if exporter is not None:
                exporter.add(event)
            checks.feed(event)
        return problems, exporter.finish() if exporter is not None else True
    except MalformedInputError as err:
        # what the records before the break showed (their references are not judged: the rest is unread)
        problems.append(_malformed(name, err))
        return problems + checks.record_problems(), None
    finally:
        if exporter is not None:
            exporter.close()


def _whole(path: Path, spread: Any, checks: _Checks) -> tuple[list[Problem], bool | str | None]:
    """A double-encoded or UTF-16/32 file, parsed whole first (one JSON text): like _stream."""
    name = str(path)
    try:
        loaded = load(path)
    except EncodedThrice as err:
        return [Problem("letta.bundle.encoded-thrice", "error", err.message, name, None, None, "$")], None
    except MalformedInputError as err:
        return [_malformed(name, err)], None
    container = loaded.container
    problems: list[Problem] = []
    if container.bom and container.codec == "utf-8":
        problems.append(_bom_problem(name))
    if container.codec != "utf-8":
        problems.append(
            Problem(
                "letta.bundle.encoding",
                "warning",
                f"encoded as {container.codec.upper()}{' with a byte order mark' if container.bom else ''}; Letta reads it (json.loads detects the encoding), its exporter writes UTF-8",
                name,
            )
        )
    if container.double_encoded:
        problems.append(
            Problem(
                "letta.bundle.double-encoded",
                "warning",
                "double-encoded: the file is a JSON string holding the agent file (what json.dump of the SDK's export result writes); Letta decodes it once more, its exporter writes the object itself",
                name,
                None,
                None,
                "$",
            )
        )
    for event in events_of(loaded.doc, spread, loaded.exact):
        checks.feed(event)
    inner = container.layers[-1]
    if inner.layout != EXPORTER or inner.lead:
        return problems, False
    return problems, True if not inner.tail else "white space"


def _malformed(name: str, err: MalformedInputError) -> Problem:
    return Problem(
        "json.malformed",
        "error",
        f"{err.message}; Letta answers 'Corrupted agent file format.'",
        name,
        err.location.line,
        err.location.record,
        err.location.path,
    )


def _bom_problem(name: str) -> Problem:
    return Problem(
        "letta.bundle.bom", "warning", "starts with a UTF-8 byte order mark (BOM); Letta reads it, its exporter writes none", name, 1
    )


def _spreader(arrays: tuple[str, ...]) -> Any:
    def spread(member: tuple[str, ...]) -> str | None:
        return "array" if len(member) == 1 and member[0] in arrays else None

    return spread


def events_of(doc: Any, spread: Any, exact: bool) -> Iterator[Event]:
    """A parsed document as the events :func:`walk` gives for it read as a stream."""
    if not isinstance(doc, dict):
        yield Event("value", (), doc, exact)
        return
    for key, value in doc.items():
        if spread((key,)) == "array" and isinstance(value, list):
            yield Event("array", (key,))
            for index, item in enumerate(value):
                yield Event("item", (key,), item, exact and needs_reference(item), index)
            yield Event("end", (key,), index=len(value))
        else:
            yield Event("value", (key,), value, exact and needs_reference(value))


# -------------------------------------------------------------------------------------------


class _Checks:
    """Fed one event at a time; ``finish`` adds the checks across records."""

    arrays: tuple[str, ...] = ()
    top_schema = "bundle"

    def __init__(self, schemas: SchemaSet, file: str):
        self.schemas, self.file = schemas, file
        self.found: list[Problem] = []
        self.top: dict[str, Any] | None = {}
        self.top_exact = False
        self.not_object: Any = None
        self.counts: dict[str, int] = {}

    def feed(self, event: Event) -> None:
        if not event.path:
            self.top, self.not_object = None, event.value
            return
        assert self.top is not None
        key = event.path[0]
        if event.kind == "value":
            self.top[key] = event.value
            self.top_exact = self.top_exact or event.exact
        elif event.kind == "array":
            self.top[key] = []  # the top level's schema sees the arrays empty: their elements are checked one by one
        elif event.kind == "item":
            self.item(key, event.index or 0, event.value, event.exact)
        elif event.kind == "end":
            self.counts[key] = event.index or 0

    def item(self, section: str, index: int, value: Any, exact: bool) -> None:
        raise NotImplementedError

    def schema(self, name: str, value: Any, exact: bool, record: int, prefix: tuple[Any, ...]) -> None:
        self.found.extend(self.schemas.problems(name, value, exact=exact, file=self.file, record=record, prefix=prefix))

    def add(self, code: str, severity: str, message: str, record: int | None, path: tuple[Any, ...]) -> None:
        self.found.append(Problem(code, severity, message, self.file, None, record, json_path(path)))  # type: ignore[arg-type] (severity: "error" or "warning")

    def record_problems(self) -> list[Problem]:
        return list(self.found)

    def finish(self) -> list[Problem]:
        if self.top is None:
            return self.schemas.problems(self.top_schema, self.not_object, exact=needs_reference(self.not_object), file=self.file)
        out = self.schemas.problems(self.top_schema, self.top, exact=self.top_exact, file=self.file)
        self.cross()
        return out + self.found

    def cross(self) -> None:
        """The checks across records, once everything was read (they add to ``found``)."""


class _CurrentChecks(_Checks):
    """The current shape: each agent (with its messages and file views), block, tool, source,
    file, group, MCP server and skill checked as read; ids, references and tool names kept."""

    def __init__(self, schemas: SchemaSet, file: str):
        super().__init__(schemas, file)
        self.ids: dict[str, tuple[Any, ...]] = {}  # every file id -> the path where it first appeared
        self.kinds: dict[str, set[str]] = {section: set() for section in PREFIXES}
        self.message_owner: dict[str, int] = {}  # message id -> its agent's index
        self.agent_names: dict[int, str] = {}
        # (array, index, path, kind of what it names, the id named)
        self.references: list[tuple[int, tuple[Any, ...], str, str]] = []
        self.windows: list[tuple[int, tuple[Any, ...], str]] = []  # in-context ids that are not the agent's own
        self.file_views: list[tuple[int, tuple[Any, ...], Any, Any, Any, Any]] = []
        self.tool_names: dict[str, str] = {}

    # one record ---------------------------------------------------------------------------

    def item(self, section: str, index: int, value: Any, exact: bool) -> None:
        schema, _ = SCHEMA_OF[section]
        prefix = (section, index)
        self.schema(schema, value, exact, index, prefix)
        if not isinstance(value, dict):
            return
        self.own_id(section, value.get("id"), index, prefix)
        getattr(self, "_" + section)(index, value, exact, prefix)

    def own_id(self, section: str, ident: Any, record: int, prefix: tuple[Any, ...]) -> None:
        _, kind = SCHEMA_OF[section]
        if not isinstance(ident, str) or section not in PREFIXES:
            return  # skills have no file id: they are keyed by name
        problem = id_problem(ident, PREFIXES[section])
        if problem is not None:
            self.add(f"letta.{kind}.id", "error", f"file id {quote(ident)} {problem}; Letta refuses the file", record, (*prefix, "id"))
        if ident in self.ids:
            self.add(
                f"letta.{kind}.duplicate-id",
                "error",
                f"id {quote(ident)} is already used at {json_path(self.ids[ident])}; Letta refuses a file with duplicate ids",
                record,
                (*prefix, "id"),
            )
        else:
            self.ids[ident] = prefix
        self.kinds[section].add(ident)

    def refer(self, record: int, path: tuple[Any, ...], kind: str, value: Any) -> None:
        if isinstance(value, str):
            self.references.append((record, path, kind, value))

    def _agents(self, index: int, agent: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        name = agent.get("name")
        if isinstance(name, str):
            self.agent_names[index] = name
            if not NAME_RULE.match(name):
                self.add(
                    "letta.agent.name",
                    "error",
                    f"agent name {quote(name)} has characters outside letters, digits, _, space, ' and - (^[\\w '\\-]+$); Letta refuses the whole file (an upgrade would name it {quote(sanitized_name(name))})",
                    index,
                    (*prefix, "name"),
                )
        agent_id = agent.get("id")
        own: set[str] = set()
        messages = agent.get("messages")
        for position, message in enumerate(messages if isinstance(messages, list) else []):
            where = (*prefix, "messages", position)
            self.schema("message", message, exact and needs_reference(message), position, where)
            if not isinstance(message, dict):
                continue
            ident = message.get("id")
            self.own_id("messages", ident, position, where)
            if isinstance(ident, str):
                own.add(ident)
                self.message_owner.setdefault(ident, index)
            if "agent_id" in message and message["agent_id"] != agent_id:
                self.add(
                    "letta.message.agent-id",
                    "warning",
                    f"agent_id {quote(message['agent_id'])} is not its agent's id {quote(agent_id)}; Letta overwrites it (its exporter writes the agent's own)",
                    position,
                    (*where, "agent_id"),
                )
            if "created_at" in message:
                self.time(message["created_at"], position, (*where, "created_at"))
            else:
                self.add(
                    "letta.message.created-at",
                    "warning",
                    "no created_at: Letta stamps the message with the time of the import",
                    position,
                    where,
                )
        for key, kind in (("block_ids", "blocks"), ("tool_ids", "tools"), ("source_ids", "sources"), ("group_ids", "groups")):
            values = agent.get(key)
            for position, value in enumerate(values if isinstance(values, list) else []):
                self.refer(index, (*prefix, key, position), kind, value)
        window = agent.get("in_context_message_ids")
        for position, value in enumerate(window if isinstance(window, list) else []):
            if isinstance(value, str) and value not in own:
                self.windows.append((index, (*prefix, "in_context_message_ids", position), value))
        views = agent.get("files_agents")
        for position, view in enumerate(views if isinstance(views, list) else []):
            where = (*prefix, "files_agents", position)
            self.schema("files-agent", view, exact and needs_reference(view), position, where)
            if isinstance(view, dict):
                self.file_views.append((position, where, view.get("file_id"), view.get("source_id"), view.get("agent_id"), agent_id))
                if "last_accessed_at" in view and view["last_accessed_at"] is not None:
                    self.time(view["last_accessed_at"], position, (*where, "last_accessed_at"))
        for key in ("tool_exec_environment_variables", "secrets"):
            values = agent.get(key)
            for variable, value in values.items() if isinstance(values, dict) else ():
                if isinstance(value, str) and value:
                    self.add(
                        "letta.agent.secret-value",
                        "warning",
                        f'{key} {quote(variable)} holds a value; Letta\'s exporter blanks these to "" (anyone with this file has it)',
                        index,
                        (*prefix, key, variable),
                    )
        if agent.get("agent_type") == "voice_convo_agent" and agent.get("enable_sleeptime") is not True:
            self.add(
                "letta.agent.voice-needs-sleeptime",
                "error",
                "a voice_convo_agent needs enable_sleeptime true; Letta refuses to create it",
                index,
                (*prefix, "agent_type"),
            )
        missing = [key for key in ("llm_config", "embedding_config") if not isinstance(agent.get(key), dict)]
        if missing:
            self.add(
                "letta.agent.model-config",
                "warning",
                f"no {' or '.join(missing)}: Letta can create the agent only when the import names a model/embedding (its model and embedding options)",
                index,
                prefix,
            )

    def _blocks(self, index: int, block: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        limit = block.get("limit")
        if isinstance(limit, str):
            # pydantic takes a whole number written as text (Python's int() rules); nothing else
            if _WHOLE_NUMBER.match(limit):
                self.add(
                    "letta.block.limit-text",
                    "warning",
                    f"limit {quote(limit)} is text; Letta reads the number, its exporter writes one",
                    index,
                    (*prefix, "limit"),
                )
            else:
                self.add(
                    "letta.block.limit",
                    "error",
                    f"limit {quote(limit)} is no whole number; Letta refuses the file",
                    index,
                    (*prefix, "limit"),
                )
        value = block.get("value")
        if isinstance(value, str) and "\x00" in value:
            self.add("letta.block.nul", "warning", "value holds NUL characters, which Letta strips on import", index, (*prefix, "value"))

    def _tools(self, index: int, tool: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        name = tool.get("name")
        if not isinstance(name, str):
            return
        where = json_path((*prefix, "name"))
        if name in self.tool_names:
            self.add(
                "letta.tool.duplicate-name",
                "warning",
                f"another tool is named {quote(name)} ({self.tool_names[name]}); Letta upserts tools by name, so the two become one",
                index,
                (*prefix, "name"),
            )
        else:
            self.tool_names[name] = where

    def _sources(self, index: int, source: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        pass

    def _files(self, index: int, file: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        self.refer(index, (*prefix, "source_id"), "sources", file.get("source_id"))

    def _groups(self, index: int, group: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        members = group.get("agent_ids")
        for position, value in enumerate(members if isinstance(members, list) else []):
            self.refer(index, (*prefix, "agent_ids", position), "agents", value)
        config = group.get("manager_config")
        if isinstance(config, dict):
            self.refer(index, (*prefix, "manager_config", "manager_agent_id"), "agents", config.get("manager_agent_id"))
        shared = group.get("shared_block_ids")
        if isinstance(shared, list) and shared:
            self.add(
                "letta.group.shared-blocks",
                "error",
                "Letta 0.16.8 cannot import shared_block_ids (it does not remap them): the group fails after every agent was created; share a block by listing it in each agent's block_ids",
                index,
                (*prefix, "shared_block_ids"),
            )

    def _mcp_servers(self, index: int, server: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        from .bundle import url_has_credentials

        url = server.get("server_url")
        if isinstance(url, str) and url_has_credentials(url):
            self.add(
                "letta.mcp-server.url-credentials",
                "warning",
                "server_url appears to carry a credential (user info, a token parameter or a key-like path segment); Letta's exporter keeps it, so anyone with this file can use it",
                index,
                (*prefix, "server_url"),
            )

    def _skills(self, index: int, skill: dict[str, Any], exact: bool, prefix: tuple[Any, ...]) -> None:
        pass

    def time(self, value: Any, record: int | None, path: tuple[Any, ...]) -> None:
        moment, _ = parse_time(value)
        if moment is None:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                self.add(
                    "letta.timestamp.invalid", "error", f"{quote(value)} is no date and time Letta reads; it refuses the file", record, path
                )
        elif not (isinstance(value, str) and EXPORTED_TIME.match(value)):
            self.add(
                "letta.timestamp.format",
                "warning",
                f"{quote(value)} is read, but Letta's exporter writes UTC as 2026-01-22T02:06:35.101954+00:00",
                record,
                path,
            )

    # across records ----------------------------------------------------------------------

    def finish(self) -> list[Problem]:
        if self.top is not None and "created_at" in self.top and self.top["created_at"] is not None:
            self.time(self.top["created_at"], None, ("created_at",))
        return super().finish()

    def cross(self) -> None:
        for record, path, kind, value in self.references:
            if value in self.kinds[kind] or not isinstance(self.top.get(kind) if self.top else None, list):
                continue  # found, or its array is no array (reported as such): nothing to look it up in
            key = path[-1] if isinstance(path[-1], str) else path[-2]
            code, severity, tail = _DANGLING[(path[0], key)]
            self.add(code, severity, f"{key} names {quote(value)}, which is no {kind[:-1]} id in this file; {tail}", record, path)
        for record, path, value in self.windows:
            owner = self.message_owner.get(value)
            whose = (
                f"a message of {_agent_label(self.agent_names, owner)}, not of this agent"
                if owner is not None
                else "no message in this file"
            )
            self.add(
                "letta.agent.dangling-message", "error", f"in_context_message_ids names {quote(value)}, {whose}; {HALF_WAY}", record, path
            )
        for record, path, file_id, source_id, agent_id, own_id in self.file_views:
            if isinstance(file_id, str) and file_id not in self.kinds["files"]:
                self.add(
                    "letta.files-agent.dangling-file",
                    "error",
                    f"file_id {quote(file_id)} is no file in this file; Letta refuses it",
                    record,
                    (*path, "file_id"),
                )
            if isinstance(source_id, str) and source_id not in self.kinds["sources"]:
                self.add(
                    "letta.files-agent.dangling-source",
                    "error",
                    f"source_id {quote(source_id)} is no source in this file; Letta refuses it",
                    record,
                    (*path, "source_id"),
                )
            if isinstance(agent_id, str) and agent_id != own_id:
                self.add(
                    "letta.files-agent.agent-id",
                    "error",
                    f"agent_id {quote(agent_id)} is not the id of the agent holding it ({quote(own_id)}); Letta refuses it",
                    record,
                    (*path, "agent_id"),
                )


# (array, referring key) -> code, severity, what happens in Letta
_GROUP_LAST = "Letta creates groups last, so the import fails after every agent was created"
_DANGLING = {
    ("agents", "block_ids"): ("letta.agent.dangling-block", "error", HALF_WAY),
    ("agents", "tool_ids"): ("letta.agent.dangling-tool", "error", HALF_WAY),
    ("agents", "source_ids"): ("letta.agent.dangling-source", "error", HALF_WAY),
    ("agents", "group_ids"): (
        "letta.agent.dangling-group",
        "warning",
        "Letta ignores group_ids on import (its exporter writes the agent's own group)",
    ),
    ("groups", "agent_ids"): ("letta.group.dangling-agent", "error", _GROUP_LAST),
    ("groups", "manager_agent_id"): ("letta.group.dangling-manager", "error", _GROUP_LAST),
    ("files", "source_id"): ("letta.file.dangling-source", "error", "Letta refuses the file"),
}


def _agent_label(names: dict[int, str], index: int) -> str:
    return f"agent {quote(names[index])}" if index in names else f"agents[{index}]"


class _LegacyChecks(_Checks):
    """The legacy shape: the one error that Letta 0.16 refuses it, then what the upgrade will
    have to leave out or change (warnings)."""

    top_schema = "agent"

    def __init__(self, schemas: SchemaSet, file: str):
        super().__init__(schemas, file)
        self.tool_names: dict[str, int] = {}

    def item(self, section: str, index: int, value: Any, exact: bool) -> None:
        schema = {"core_memory": "block", "messages": "message", "tools": "tool"}[section]
        self.schema(schema, value, exact, index, (section, index))
        if section == "tools" and isinstance(value, dict) and isinstance(value.get("name"), str):
            if value["name"] in self.tool_names:
                self.add(
                    "letta.legacy.duplicate-tool",
                    "warning",
                    f"tools[{self.tool_names[value['name']]}] has the same name; Letta upserts tools by name, so the two become one",
                    index,
                    (section, index, "name"),
                )
            else:
                self.tool_names[value["name"]] = index

    def finish(self) -> list[Problem]:
        out = [
            Problem(
                "letta.bundle.legacy",
                "error",
                "the legacy single-agent agent file (Letta 0.6-0.7): Letta 0.16 refuses it ('Legacy AgentSchema format is deprecated'); "
                f"memport upgrades it: memport convert {self.file} --to letta -o NEW.af",
                self.file,
                None,
                None,
                "$",
            )
        ]
        top = self.top
        if isinstance(top, dict):
            name = top.get("name")
            if isinstance(name, str) and not NAME_RULE.match(name):
                self.add(
                    "letta.legacy.name",
                    "warning",
                    f"agent name {quote(name)} does not match ^[\\w '\\-]+$: the upgrade names it {quote(sanitized_name(name))}",
                    None,
                    ("name",),
                )
            indices = top.get("in_context_message_indices")
            total = self.counts.get("messages")
            seen: set[int] = set()
            for position, value in enumerate(indices if isinstance(indices, list) else []):
                if not isinstance(value, int) or isinstance(value, bool):
                    continue
                if total is not None and not 0 <= value < total:
                    self.add(
                        "letta.legacy.in-context",
                        "warning",
                        f"index {value} names no message (there are {total}); the upgrade leaves it out of the context window",
                        None,
                        ("in_context_message_indices", position),
                    )
                elif value in seen:
                    self.add(
                        "letta.legacy.in-context",
                        "warning",
                        f"index {value} is listed twice; the upgrade keeps the first",
                        None,
                        ("in_context_message_indices", position),
                    )
                seen.add(value)
        return out + super().finish()


class _ExporterLayout:
    """Whether a plain file is laid out as Letta's exporter writes it (``orjson.dumps(doc,
    option=OPT_INDENT_2)``, no final newline), judged piece by piece as :func:`walk` hands the
    document out, against the file's bytes (neither held whole)."""

    def __init__(self, path: Path, skip: int):
        self.file = open(path, "rb")  # closed by close(), after the walk
        self.file.seek(skip)
        self.same = True
        self.written = [0]  # members or elements written at each open level
        self._put("{")

    def close(self) -> None:
        self.file.close()

    def _put(self, text: str) -> None:
        if self.same:
            data = text.encode("utf-8")
            self.same = self.file.read(len(data)) == data

    def _next(self) -> str:
        separator = "," if self.written[-1] else ""
        self.written[-1] += 1
        return separator + "\n" + "  " * len(self.written)

    def _render(self, value: Any, exact: bool) -> str | None:
        if exact:
            return None  # NaN, lone surrogates, huge integers: orjson never writes them
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8").replace("\n", "\n" + "  " * len(self.written))
        except orjson.JSONEncodeError:
            return None

    def add(self, event: Event) -> None:
        if not self.same:
            return
        if not event.path:
            self.same = False  # not an object: not what the exporter writes
            return
        if event.kind == "end":
            count = self.written.pop()
            self._put(("\n" + "  " * len(self.written) if count else "") + "]")
            return
        if event.kind == "item":
            self._value(self._next(), event)
            return
        prefix = self._next() + orjson.dumps(event.path[-1]).decode("utf-8") + ": "
        if event.kind == "array":
            self._put(prefix + "[")
            self.written.append(0)
        else:
            self._value(prefix, event)

    def _value(self, prefix: str, event: Event) -> None:
        rendered = self._render(event.value, event.exact)
        if rendered is None:
            self.same = False
        else:
            self._put(prefix + rendered)

    def finish(self) -> bool | str:
        """True when the exporter would have written these very bytes; "white space" when only
        white space follows them; else False."""
        if self.same:
            self._put(("\n" if self.written[-1] else "") + "}")
        if not self.same:
            return False
        rest = self.file.read(_HEAD_OF_REST)
        return True if not rest else "white space" if not rest.strip() and len(rest) < _HEAD_OF_REST else False
