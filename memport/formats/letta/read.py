"""Recognising and reading agent files: the current shape (also double-encoded) and the legacy one.

Detection looks at the start of the file and, for a plain UTF-8 file, reads its top-level members
as a stream until the shape is clear (the exporter writes ``agents`` first, so usually one step).
Reading parses the whole document (agent files are small: at most a few MB in the wild) and keeps
everything: blocks, messages and files become records, the rest of the document is the bundle's
header, with the places of the records kept so that a write puts them back where they were.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...bundle import Records
from ...errors import Location, MalformedInputError
from ...jsonio import needs_reference
from ...model import BundleMeta, EmbeddingModel, Unfit
from ...problems import json_path, quote
from .. import Detection, NativeRecord
from .._document import walk
from .bundle import HELPER_TYPES, LettaBundle
from .codec import BLOCK, FILE, LEGACY_BLOCK, LEGACY_MESSAGE, MESSAGE, NAME, in_context_positions, message_text, timestamp
from .container import BOMS, Container, EncodedThrice, Layer, Loaded, decode_text, encoding_of, parse
from .identity import VOLATILE, document_records, identity

CURRENT, LEGACY = "current", "legacy"
VERSIONS = (CURRENT, LEGACY)
# top-level members whose presence (without ``agents``) marks the legacy single-agent shape
LEGACY_KEYS = ("core_memory", "in_context_message_indices")
_MARKERS = ('"agents"', '"core_memory"', '"agent_type"')
_HEAD = 65536


def shape_of(doc: Any) -> str | None:
    """``current`` for a document with ``agents`` (Letta's own test: a list there; anything else
    it rejects as legacy, which validation reports), ``legacy`` for the single-agent shape, None
    for anything else."""
    if not isinstance(doc, dict):
        return None
    if "agents" in doc:
        return CURRENT
    if any(key in doc for key in LEGACY_KEYS) or ("agent_type" in doc and ("messages" in doc or "llm_config" in doc)):
        return LEGACY
    return None


def _head(path: Path) -> tuple[str, str]:
    """The start of the file as text (without byte order mark and leading white space), and its codec."""
    with open(path, "rb") as f:
        raw = f.read(_HEAD)
    codec, bom = encoding_of(raw)
    if bom:
        raw = raw[len(BOMS[codec]) :]
    return raw.decode(codec, "ignore").lstrip(" \t\r\n"), codec


def _evidence(shape: str, doc_or_keys: Any, container: Container | None) -> list[str]:
    out = []
    if container is not None and len(container.layers) > 2:
        out.append("a JSON string holding a JSON string holding the agent file (encoded three times)")
    elif container is not None and container.double_encoded:
        out.append("double-encoded: the file is a JSON string holding the agent file (Letta decodes it once more)")
    if container is not None and container.codec != "utf-8":
        out.append(f"text encoded as {container.codec.upper()}")
    if shape == CURRENT:
        out.append("top-level agents: the current agent-file shape (Letta 0.16)")
    else:
        version = doc_or_keys.get("version") if isinstance(doc_or_keys, dict) else None
        written = f", written by Letta {version}" if isinstance(version, str) else ""
        out.append(f"one agent object with agent_type and core_memory: the legacy single-agent shape{written} (Letta 0.16 rejects it)")
    return out


def sniff(path: Path) -> Detection | None:
    """The shape and the evidence, or None when the file is no agent file."""
    if not path.is_file():
        return None
    head, codec = _head(path)
    if head.startswith('"'):
        # a JSON string: the agent file inside has its quotes escaped once per layer
        unescaped = head.replace("\\", "")
        if not any(marker in unescaped for marker in _MARKERS):
            return None
        return _sniff_whole(path, head=unescaped, codec=codec, strong=path.suffix == ".af" or '"agents"' in unescaped[:64])
    if not head.startswith("{") or not any(marker in head for marker in _MARKERS):
        return None
    strong = path.suffix == ".af" or head[1:].lstrip().startswith('"agents"')
    if codec != "utf-8":
        return _sniff_whole(path, head=head, codec=codec, strong=strong)
    keys: dict[str, Any] = {}
    try:
        events = walk(path, lambda member: "array" if len(member) == 1 else None, allow_bom=True)
        with contextlib.closing(events):
            for event in events:
                if not event.path:
                    return None  # not an object
                member = event.path[0]
                if event.kind in ("value", "array"):
                    keys[member] = event.value
                if member == "agents":
                    break  # Letta's test: agents present means the current shape
    except MalformedInputError as err:
        if strong:  # clearly an agent file, but broken: validation says where
            return _broken(head, err, Container())
        return None
    shape = shape_of(keys)
    if shape is None:
        return None
    return Detection(NAME, shape, _evidence(shape, keys, None), {"container": Container().to_dict(), "header": {}})


def _sniff_whole(path: Path, *, head: str, codec: str, strong: bool) -> Detection | None:
    """Detection of what cannot be read as a stream (double-encoded, UTF-16/32): parsed whole. A
    file that is clearly an agent file but does not parse is still one (validation says where it
    breaks), its shape told by its start."""
    try:
        loaded = parse(path.read_bytes(), str(path))
        doc, container = loaded.doc, loaded.container
    except EncodedThrice:
        doc, container = _innermost(path)
    except MalformedInputError as err:
        if not strong:
            return None
        return _broken(head, err, Container(codec, layers=[Layer(), Layer()] if head.startswith('"') else [Layer()]))
    shape = shape_of(doc)
    if shape is None:
        return None
    return Detection(NAME, shape, _evidence(shape, doc, container), {"container": container.to_dict()})


def _broken(head: str, err: MalformedInputError, container: Container) -> Detection:
    """An agent file that does not parse, its shape told by its start."""
    shape = CURRENT if '"agents"' in head else LEGACY
    evidence = [f"starts as an agent file ({shape} shape) but cannot be parsed: {err.message}"]
    return Detection(NAME, shape, evidence, {"container": container.to_dict()})


def _innermost(path: Path) -> tuple[Any, Container]:
    """What a file encoded three times holds (for detection only: reading refuses it)."""
    text, codec, bom = decode_text(path.read_bytes(), str(path))
    value: Any = text
    layers = 0
    while isinstance(value, str) and layers < 4:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None, Container(codec, bom)
        layers += 1
    container = Container(codec, bom)
    container.layers = container.layers * layers
    return value, container


def load(path: Path) -> Loaded:
    """The whole file, decoded and parsed (a third encoding layer is refused)."""
    return parse(path.read_bytes(), str(path))


def read(path: Path, detection: Detection, local_tz: str = "UTC") -> LettaBundle:
    loaded = load(path)
    bundle = from_native(loaded.doc, container=loaded.container, local_tz=local_tz, source=str(path))
    bundle.path = str(path)
    return bundle


# -------------------------------------------------------------------------------------------


def from_native(
    doc: dict[str, Any], *, container: Container | None = None, local_tz: str = "UTC", source: str | None = None
) -> LettaBundle:
    """A bundle from a native agent-file document (what the reader parsed, or what the upgrade or
    a conversion built): current shape when it has ``agents``, else the legacy shape."""
    container = container or Container()
    shape = shape_of(doc)
    if shape == CURRENT:
        return _current(doc, container, local_tz, source)
    if shape == LEGACY:
        return _legacy(doc, container, local_tz, source)
    raise MalformedInputError("expected an agent file: a JSON object with agents (or the legacy single-agent object)", Location(source))


def _objects(items: list[Any], source: str | None, path: tuple[Any, ...], what: str) -> list[dict[str, Any]]:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedInputError(
                f"expected {what} object, got {quote(item)}", Location(source, record=index, path=json_path((*path, index)))
            )
    return items


def _current(doc: dict[str, Any], container: Container, local_tz: str, source: str | None) -> LettaBundle:
    agents = doc["agents"]
    if not isinstance(agents, list):
        raise MalformedInputError(
            f"agents must be an array, got {quote(agents)} (Letta rejects such a file as the legacy shape)",
            Location(source, path="$.agents"),
        )
    records = Records()
    header: dict[str, Any] = {}
    taken: dict[str, Any] = {"messages": []}
    owners: dict[str, list[dict[str, Any]]] = {}
    for agent in agents:
        block_ids = agent.get("block_ids") if isinstance(agent, dict) else None
        for block_id in dict.fromkeys(b for b in block_ids if isinstance(b, str)) if isinstance(block_ids, list) else ():
            owners.setdefault(block_id, []).append(agent)
    for key, value in doc.items():
        if key == "agents":
            header[key] = [_agent(i, agent, records, taken, source) for i, agent in enumerate(agents)]
        elif key == "blocks" and isinstance(value, list):
            for item in _objects(value, source, ("blocks",), "a block"):
                block_id = item.get("id")
                records.memories.append(
                    BLOCK.decode(item, None, agent_name=_owner_name(owners.get(block_id, []) if isinstance(block_id, str) else []))
                )
            header[key], taken[key] = None, True
        elif key == "files" and isinstance(value, list):
            records.documents = [FILE.decode(item) for item in _objects(value, source, ("files",), "a file")]
            header[key], taken[key] = None, True
        else:
            header[key] = value
    meta = BundleMeta(format=NAME, version=CURRENT, header=header, local_tz=local_tz, container={**container.to_dict(), "records": taken})
    created = doc.get("created_at")
    try:
        meta.exported_at = timestamp(created)
    except Unfit:  # a value of the wrong type: no export time
        meta.exported_at = None
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("revision_id"), str):
        meta.schema_version = metadata["revision_id"]  # the exporting database's Alembic revision
    first = next((a for a in agents if isinstance(a, dict)), None)
    if first is not None:
        _describe(meta, first)
    return LettaBundle(meta, records, columns=COLUMNS)


def _agent(index: int, agent: Any, records: Records, taken: dict[str, Any], source: str | None) -> Any:
    """An agent as the header keeps it: its messages become records (their place kept as null)."""
    if not isinstance(agent, dict) or not isinstance(agent.get("messages"), list):
        taken["messages"].append(None)
        return agent
    messages = _objects(agent["messages"], source, ("agents", index, "messages"), "a message")
    agent_id = agent.get("id") if isinstance(agent.get("id"), str) else None
    name = agent.get("name") if isinstance(agent.get("name"), str) else None
    window = agent.get("in_context_message_ids")
    in_context = {m for m in window if isinstance(m, str)} if isinstance(window, list) else None
    for message in messages:
        message_id = message.get("id")
        records.messages.append(
            MESSAGE.decode(
                message,
                None,
                agent_id=agent_id,
                agent_name=name,
                in_context=(message_id in in_context) if in_context is not None and isinstance(message_id, str) else None,
                content=message_text(message.get("content")),
            )
        )
    taken["messages"].append(len(messages))
    return {key: (None if key == "messages" else value) for key, value in agent.items()}


def _owner_name(agents: list[dict[str, Any]]) -> str | None:
    """The agent a block belongs to: its one owner, or its one user-facing owner when a helper
    (a sleeptime agent) shares it; None when several user-facing agents share it."""
    if len(agents) > 1:
        agents = [a for a in agents if a.get("agent_type") not in HELPER_TYPES]
    if len(agents) != 1:
        return None
    name = agents[0].get("name")
    return name if isinstance(name, str) else None


def _describe(meta: BundleMeta, agent: dict[str, Any]) -> None:
    """What the (first) agent says about the bundle: its name and embedding model."""
    if isinstance(agent.get("name"), str):
        meta.agent_name = agent["name"]
    config = agent.get("embedding_config")
    if isinstance(config, dict):
        name, dims, provider = config.get("embedding_model"), config.get("embedding_dim"), config.get("embedding_endpoint_type")
        meta.embedding_model = EmbeddingModel(
            name=name if isinstance(name, str) else None,
            dimensions=dims if isinstance(dims, int) and not isinstance(dims, bool) else None,
            provider=provider if isinstance(provider, str) else None,
        )


def _legacy(doc: dict[str, Any], container: Container, local_tz: str, source: str | None) -> LettaBundle:
    records = Records()
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    header: dict[str, Any] = {}
    taken: dict[str, Any] = {}
    window = in_context_positions(doc)
    for key, value in doc.items():
        if key == "core_memory" and isinstance(value, list):
            records.memories = [
                LEGACY_BLOCK.decode(item, None, agent_name=name) for item in _objects(value, source, ("core_memory",), "a block")
            ]
            header[key], taken[key] = None, True
        elif key == "messages" and isinstance(value, list):
            for position, message in enumerate(_objects(value, source, ("messages",), "a message")):
                records.messages.append(
                    LEGACY_MESSAGE.decode(
                        message,
                        None,
                        agent_name=name,
                        in_context=(position in window) if window is not None else None,
                        content=message_text(message.get("content")),
                    )
                )
            header[key], taken[key] = None, True
        else:
            header[key] = value
    meta = BundleMeta(format=NAME, version=LEGACY, header=header, local_tz=local_tz, container={**container.to_dict(), "records": taken})
    _describe(meta, doc)
    return LettaBundle(meta, records, columns=COLUMNS)


COLUMNS = {
    "memories": ["id", "key", "agent_name", "content", "summary", "metadata", "tags", "created_at", "updated_at"],
    "messages": ["id", "agent_id", "agent_name", "role", "content", "in_context", "created_at"],
    "documents": ["id", "title", "content", "created_at", "updated_at"],
}


# -------------------------------------------------------------------------------------------
# Streaming, for the store and for counting


def _spread(member: tuple[str, ...]) -> str | None:
    return "array" if len(member) == 1 and member[0] in _STREAMED else None


_STREAMED = ("agents", "blocks", "files", "core_memory", "messages")


def _events(path: Path, detection: Detection) -> Iterator[tuple[str, int | None, Any, bool]]:
    """The document's top level as (member, index, value, exact): index None for a member read
    whole, -1 where a streamed array begins, then 0, 1, ... for its elements. Read as a stream from
    a plain UTF-8 file, else from the parsed whole."""
    container = Container.from_dict(detection.details.get("container"))
    if container.streamable:
        for event in walk(path, _spread, allow_bom=True):
            if event.kind == "item":
                yield event.path[0], event.index, event.value, event.exact
            elif event.kind == "array":
                yield event.path[0], -1, None, False
            elif event.kind == "value" and event.path:
                yield event.path[0], None, event.value, event.exact
        return
    loaded = load(path)
    if not isinstance(loaded.doc, dict):
        return
    for key, value in loaded.doc.items():
        if key in _STREAMED and isinstance(value, list):
            yield key, -1, None, False
            for index, item in enumerate(value):
                yield key, index, item, loaded.exact and needs_reference(item)
        else:
            yield key, None, value, loaded.exact and needs_reference(value)


def _record_kind(member: str, legacy: bool) -> str | None:
    """The record kind of a top-level array's elements (agents: their messages)."""
    if legacy:
        return {"core_memory": "memories", "messages": "messages"}.get(member)
    return {"blocks": "memories", "files": "documents", "agents": "messages"}.get(member)


def records(path: Path, detection: Detection) -> Iterator[NativeRecord]:
    """Blocks (memories), messages and files (documents) with the context their file gives them
    (see identity.py), in the file's order. The file is parsed whole: what its records need (a
    block's owners, a file's source) may come after them (the exporter writes sources after
    files), and the serialiser that wrote it is only known from the whole (agent files are small:
    the largest of the real ones is under 3 MB).

    Reading fills ``detection.details``: ``header``, the document without its records as
    :func:`from_native` keeps it (record arrays as null, agents without their messages), and
    ``layout``, what else an export needs to give the file back byte for byte: its container, where
    its records were, and each record's identity and file ids in the file's order."""
    name = str(path)
    header = detection.details.setdefault("header", {})
    layout = detection.details.setdefault("layout", {})
    header.clear()
    layout.clear()
    loaded = load(path)
    if not isinstance(loaded.doc, dict):
        return
    found, taken = header_of(loaded.doc)
    header.update(found)
    places: dict[str, list[Any]] = {"memories": [], "messages": [], "documents": []}
    layout |= {"container": loaded.container.to_dict(), "taken": taken, "records": places}
    for kind, _, position, value in document_records(loaded.doc):
        if isinstance(value, dict):
            places[kind].append([identity(kind, value), {key: value[key] for key in VOLATILE if key in value}])
        yield NativeRecord(kind, value, loaded.exact and needs_reference(value), name, None, position)


def header_of(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document without its records, and where they were: the header a bundle keeps (record
    arrays as null, agents with their messages as null) and ``taken`` (which arrays were records;
    each agent's message count, None for an agent without a list of messages)."""
    header: dict[str, Any] = {}
    legacy = shape_of(doc) == LEGACY
    arrays = ("core_memory", "messages") if legacy else ("blocks", "files")
    taken: dict[str, Any] = {} if legacy else {"messages": []}
    for key, value in doc.items():
        if key in arrays and isinstance(value, list):
            header[key], taken[key] = None, True
        elif key == "agents" and not legacy and isinstance(value, list):
            header[key] = []
            for agent in value:
                messages = agent.get("messages") if isinstance(agent, dict) else None
                if isinstance(messages, list):
                    header[key].append({k: (None if k == "messages" else v) for k, v in agent.items()})
                    taken["messages"].append(len(messages))
                else:
                    header[key].append(agent)
                    taken["messages"].append(None)
        else:
            header[key] = value
    return header, taken


def count(path: Path, detection: Detection) -> dict[str, int]:
    """Blocks, messages and files, read as a stream where the file allows."""
    found = {"memories": 0, "messages": 0, "documents": 0}
    legacy = detection.version == LEGACY
    for member, index, value, _ in _events(path, detection):
        kind = _record_kind(member, legacy)
        if kind is None or index is None or index < 0:
            continue
        if member == "agents":
            found["messages"] += len(value["messages"]) if isinstance(value, dict) and isinstance(value.get("messages"), list) else 0
        else:
            found[kind] += 1
    return found
