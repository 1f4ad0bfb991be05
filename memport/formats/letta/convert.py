"""Letta in conversions: its blocks and files as the canonical view, and an agent file built from one.

Letta as the source (shared/formats/letta.md §19):

* a block is a memory: its label the key, its value the content, its description the summary, its
  metadata and tags as they are, its agent the user-facing agent listing it. Which agents list it,
  its limit and read_only are Letta's own fields (``native_only``): a target with room for them
  carries them (Kagura's metadata, Tribal's context), so a block comes back to its agents;
* a file is a document (Doclea has documents; the other targets report it dropped);
* messages have no home in another format (none holds a conversation): each is dropped, and said;
* agents, tools, groups, sources, MCP servers and skills are behaviour and configuration, not
  memory (§19): each is reported lost, by name.

Letta as the target: a block per memory, listed by the agent its ``agent_name`` names (one agent
per name; none: the conversion's agent), a block that came from Letta by its own agents. Its
label is the key, else the title, else ``memory``; labels are unique within an agent (a repeated
one gets ``-2``, ``-3``, ..., reported). What a block has no field for (times, type, importance,
the origin format's own fields, ...) travels in its ``metadata`` under ``memport``, which reading
it back restores. Documents become files of one source named after the source format. The file is
built as every file memport writes (build.py, §20): ids numbered as Letta's exporter numbers them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ...bundle import Bundle
from ...model import Document
from .. import family
from .._convert import CARRIED, Canonical, ConversionReport, Target, View, content_text, derived_uuid, lose_vectors, utc
from .build import build
from .codec import NAME, exported_time
from .identity import agent_key, attach, sorted_names
from .read import LEGACY, from_native
from .store import bundle_records

RENAMED = (
    "renamed: Letta accepts only names matching ^[\\w '\\-]+$, and memport reads a _copy suffix as Letta's "
    "(the name as it was is kept in the blocks' metadata.memport)"
)
PROVENANCE = "memport"  # the member of a block's metadata that carries what Letta has no field for
DEFAULT_LIMIT = 100000  # a block's character limit when Letta is told none (letta.md §5)
DEFAULT_LABEL = "memory"
# Letta's own fields of a block (native_only), and the values Letta gives them by itself
ONLY_HERE = ("owners", "limit", "read_only")
DEFAULTS = {"read_only": False}
# the exporter's bookkeeping of a block (§5), with the values it writes when a block has none
BOOKKEEPING = {
    "project_id": None,
    "template_name": None,
    "is_template": False,
    "template_id": None,
    "base_template_id": None,
    "deployment_id": None,
    "entity_id": None,
    "preserve_on_migration": False,
    "hidden": None,
}
# the canonical fields a block has no place for, carried in its metadata
CARRIED_HERE = tuple(name for name in ("key", "scope", "user_id", "agent_name", "title", *CARRIED) if name not in ("summary", "tags"))

# where each canonical field goes when Letta is the target (docs/mapping.md)
MAPPING = {
    "id": "metadata.memport.source_id (blocks get file ids, numbered on writing)",
    "key": "label (unique within each agent; a key that is not the label: metadata.memport)",
    "scope": "metadata.memport",
    "user_id": "metadata.memport",
    "agent_name": "the agent that lists the block (one agent per name; none: the conversion's agent)",
    "content": "value (non-text values as JSON text)",
    "title": "label when there is no key; else metadata.memport",
    "summary": "description",
    "type": "metadata.memport",
    "source_type": "metadata.memport",
    "source_instance": "metadata.memport",
    "tags": "tags",
    "importance": "metadata.memport",
    "confidence": "metadata.memport",
    "context": "metadata.memport",
    "supersedes": "metadata.memport",
    "related_to": "metadata.memport",
    "metadata": "metadata.memport",
    "created_at": "metadata.memport (blocks have no times)",
    "updated_at": "metadata.memport",
    "accessed_at": "metadata.memport (as updated_at)",
    "embedding": "",
    "doclea fields (relatedFiles, experts, qdrantId, ...)": "metadata.memport",
    "relations": "",
    "nodes": "",
    "documents": "files, in a source named after the source format",
    "chunks": "",
    "pending": "",
    "messages": "agents[].messages (Letta to Letta only: no other format holds a conversation)",
}


# ---------------------------------------------------------------------------------------------
# Letta as the source


def to_canonical(bundle: Bundle, report: ConversionReport) -> Canonical:
    target = report.target
    contexts: dict[str, list[Any]] = {"memories": [], "documents": []}
    for record in bundle_records(bundle):
        if record.kind in contexts:
            contexts[record.kind].append(record.value)
    _lose_native_data(bundle, report, target)
    exported = utc(bundle.meta.exported_at)
    views = []
    for m, stored in zip(bundle.records.memories, contexts["memories"]):
        context = stored.get("$memport", {}) if isinstance(stored, dict) else {}
        owners = context.get("owners") if isinstance(context.get("owners"), list) else []
        agent = context.get("agent") if isinstance(context.get("agent"), str) else None
        label = m.key if isinstance(m.key, str) else json.dumps(m.key)
        v = View(
            m,
            NAME,
            _identity(owners, label),
            None,  # file ids are numbered anew on every export: nothing to keep
            key=m.key,
            agent_name=agent,
            content=m.content,
            summary=m.summary,
            tags=m.tags,
            metadata=m.metadata,
            created=utc(m.created_at),
            updated=utc(m.updated_at),
            label=f"{agent or '(no agent)'}/{label}",
        )
        if exported is not None:
            v.fallback, v.fallback_from = exported, "the agent file's export time"
        v.native_only = {"owners": owners} | {key: m.extra[key] for key in ONLY_HERE[1:] if key in m.extra}
        v.native_defaults = native_defaults(v.native_only)
        _lose_extras(m, v, report)
        _restore(v)
        views.append(v)
    for message in bundle.records.messages:
        report.drop("messages", f"no conversations in {target}: only Letta holds an agent's messages", message.id or message.role)
    documents = [_document(d, stored) for d, stored in zip(bundle.records.documents, contexts["documents"])]
    return Canonical(NAME, bundle.meta, views, documents=documents)


def native_defaults(values: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k, value in values.items() if DEFAULTS.get(k, object()) == value)


def _identity(owners: list[Any], label: str) -> str:
    return json.dumps([owners, label], ensure_ascii=False, separators=(",", ":"))


def _lose_native_data(bundle: Any, report: ConversionReport, target: str) -> None:
    """What an agent file holds that is not memory (§19), by name: no other format has a home for it."""
    for agent in bundle.native_agents():
        name = agent.get("name") if isinstance(agent.get("name"), str) else agent.get("id")
        report.lose(
            "agents",
            "(native data)",
            name,
            f"an agent's system prompt, model, tool rules and secrets are configuration: no home in {target}",
        )
    tools = bundle.native("tools") if bundle.version != LEGACY else (bundle.meta.header or {}).get("tools") or []
    for section, items, note in (
        ("tools", tools, "behaviour, not memory"),
        ("groups", bundle.native("groups"), "how agents work together"),
        ("sources", bundle.native("sources"), "the folder its files were in"),
        ("mcp_servers", bundle.native("mcp_servers"), "a tool server"),
        ("skills", bundle.native("skills"), "behaviour, not memory"),
    ):
        for item in items:
            name = item.get("name", item.get("server_name", item.get("id"))) if isinstance(item, dict) else item
            report.lose(section, "(native data)", name, f"{note}: no home in {target}")


def _lose_extras(m: Any, v: View, report: ConversionReport) -> None:
    """A block's native keys the view does not carry: the exporter's bookkeeping when it holds
    other than what the exporter writes by itself, and values memport could not interpret."""
    for key, value in m.extra.items():
        if key in ONLY_HERE:
            continue
        if key in BOOKKEEPING:
            if value != BOOKKEEPING[key]:
                report.lose("memories", key, v.label, "Letta's template and deployment bookkeeping: no home in another format")
        else:
            report.lose(
                "memories",
                key,
                v.label,
                "a native value memport could not interpret (unknown field or wrong type) is carried only within its own format",
            )


def _restore(v: View) -> None:
    """A block an earlier conversion wrote: what its metadata carries back into the view."""
    meta = v.metadata
    carried = meta.get(PROVENANCE) if isinstance(meta, dict) else None
    if not isinstance(carried, dict):
        return
    fields = carried.get("fields") if isinstance(carried.get("fields"), dict) else {}
    rest = {key: value for key, value in meta.items() if key != PROVENANCE}
    v.metadata = fields.get("metadata") if "metadata" in fields else (rest or None)
    for name in CARRIED_HERE:
        if name in fields and name != "metadata":
            setattr(v, name, fields[name])
    for name, attr in (("created_at", "created"), ("updated_at", "updated")):
        if isinstance(fields.get(name), str):
            try:
                setattr(v, attr, datetime.fromisoformat(fields[name]))
            except ValueError:
                pass
    if fields.get("content_json") and isinstance(v.content, str):
        try:
            v.content = json.loads(v.content)
        except ValueError:
            pass
    origin = carried.get("source_format") if isinstance(carried.get("source_format"), str) else None
    if origin is not None and origin != NAME:
        v.native_only = fields.get(origin) if isinstance(fields.get(origin), dict) else {}
        v.native_defaults = family(origin).native_defaults(v.native_only)
        v.origin = origin
    if isinstance(carried.get("source_id"), str):
        v.source_id = carried["source_id"]


def _document(d: Document, stored: Any) -> Document:
    """A file as a canonical document, with an id that stays from one export to the next."""
    context = stored.get("$memport", {}) if isinstance(stored, dict) else {}
    ident = json.dumps([context.get("source"), d.title], ensure_ascii=False, separators=(",", ":"))
    copy = d.model_copy()
    copy.id = "file_" + derived_uuid(NAME, ident).replace("-", "")[:16]
    return copy


# ---------------------------------------------------------------------------------------------
# Letta as the target


def from_canonical(canonical: Canonical, target: Target, report: ConversionReport) -> Bundle:
    views = canonical.memories
    lose_vectors(views, report, NAME)
    used: dict[Any, set[str]] = {}
    blocks = []
    for v in views:
        own = v.native_only if v.origin == NAME else {}
        listed = own.get("owners")
        if isinstance(listed, list) and all(o is None or isinstance(o, str) for o in listed):
            owners = sorted_names(listed)
        else:
            name = v.agent_name if isinstance(v.agent_name, str) else target.agent_name
            owners = [agent_key(name)]
            if owners[0] != name:
                report.lose("agents", "name", f"{name!r} -> {owners[0]!r}", RENAMED)
        label = _label(v, owners, used, report)
        block: dict[str, Any] = {"value": content_text(v, report, NAME)}
        limit = own.get("limit")
        block["limit"] = limit if isinstance(limit, int) and not isinstance(limit, bool) else max(DEFAULT_LIMIT, len(block["value"]))
        block |= {key: value for key, value in BOOKKEEPING.items() if key != "hidden"}
        block |= {
            "label": label,
            "read_only": own.get("read_only") if isinstance(own.get("read_only"), bool) else False,
            "description": v.summary,
            "metadata": _metadata(v, label, owners),
            "hidden": None,
        }
        if v.tags:
            block["tags"] = list(v.tags)
        block["id"] = None
        agent = owners[0] if len(owners) == 1 else (v.agent_name if v.agent_name in owners else None)
        blocks.append(attach(block, {"owners": owners, "agent": agent}))
    report.written += len(blocks)
    files = [_file(d, canonical.format, report) for d in canonical.documents]
    report.written += len(files)
    for kind, reason in (
        ("relations", "no relations in letta: blocks do not link to each other"),
        ("nodes", "no graph nodes in letta"),
        ("chunks", "Letta splits a file into passages itself when it imports it: chunks are not carried"),
        ("pending", "no pending memories in letta"),
    ):
        for record in getattr(canonical, kind):
            item = record.relation if kind == "relations" else record
            report.drop(kind, reason, getattr(item, "id", None))
    notes: list[str] = []
    doc = build({"memories": blocks, "documents": files}, None, None, notes)
    doc["created_at"] = exported_time(target.now)
    for agent in doc["agents"]:
        report.lose(
            "agents",
            "llm_config",
            agent.get("name"),
            "the source names no model: Letta's import gives the agent one with its model and embedding options",
        )
    return from_native(doc, local_tz=target.local_tz)


def _label(v: View, owners: list[Any], used: dict[Any, set[str]], report: ConversionReport) -> str:
    """The block's label: the key, else the title, else ``memory``; unique within each agent."""
    base = v.key if isinstance(v.key, str) else v.title if isinstance(v.title, str) else None
    if base is None:
        base = json.dumps(v.key, ensure_ascii=False) if v.key is not None else DEFAULT_LABEL
    label, n = base, 1
    while any(label in used.get(owner, ()) for owner in owners):
        n += 1
        label = f"{base}-{n}"
    if label != base:
        report.lose("memories", "key", v.label, f"a label its agent already has: written as {label!r} (labels are unique within an agent)")
    for owner in owners:
        used.setdefault(owner, set()).add(label)
    return label


def _metadata(v: View, label: str, owners: list[Any]) -> Any:
    """A block's metadata: a Letta block's own coming home, else memport's provenance with what the
    block has no field for (the view's fields that do not hold their origin's defaults)."""
    if v.origin == NAME:
        return v.metadata if v.metadata is not None else {}
    fields: dict[str, Any] = {}
    for name in CARRIED_HERE:
        value = getattr(v, name)
        if name == "key" and value == label:
            continue
        if name == "agent_name" and value in owners:
            continue  # the agent that lists the block says it
        if value is not None and value != [] and name not in v.defaults:
            fields[name] = value
    if "key" not in fields and v.key != label:
        fields["key"] = v.key  # (None: the label came from the title, or is memport's)
    if v.metadata is not None:
        fields["metadata"] = v.metadata
    for name, moment in (("created_at", v.created), ("updated_at", v.updated)):
        if moment is not None:
            fields[name] = moment.isoformat()
    if v.content is not None and not isinstance(v.content, str):
        fields["content_json"] = True
    native = {key: value for key, value in v.native_only.items() if key not in v.native_defaults}
    if native:
        fields[v.origin] = native
    return {PROVENANCE: {"source_format": v.source_format, "source_id": v.source_id, "fields": fields}}


def _file(d: Document, source_format: str, report: ConversionReport) -> dict[str, Any]:
    """A document as a file of the source named after the source format."""
    content = d.content if isinstance(d.content, str) else ""
    name = d.title if isinstance(d.title, str) else str(d.id)
    if d.content_hash is not None:
        report.lose("documents", "content_hash", d.id, "Letta files have no content hash (Letta parses and hashes a file itself)")
    created, updated = utc(d.created_at), utc(d.updated_at)
    file = {
        "source_id": None,
        "file_name": name,
        "original_file_name": name,
        "file_path": None,
        "file_type": "text/plain",
        "file_size": len(content.encode("utf-8", "surrogatepass")),
        "file_creation_date": exported_time(created) if created is not None else None,
        "file_last_modified_date": exported_time(updated) if updated is not None else None,
        "processing_status": "completed",
        "error_message": None,
        "total_chunks": None,
        "chunks_embedded": None,
        "content": content,
        "id": None,
    }
    return attach(file, {"source": source_format})
