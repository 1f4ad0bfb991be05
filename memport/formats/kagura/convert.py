"""Kagura in conversions: its records as the canonical view, and a Kagura bundle built from one.

Kagura has no ids: a memory is its scope, user, agent and key, and a conversion to Kagura keys a
memory from another format by its id. What Kagura has no field for travels in a persistent memory's
``metadata`` (the canonical fields by name, the origin format's own fields under its name, and a
``memport`` entry naming the source format and id), and relations from other formats become graph
edges whose ``data.memport`` keeps the original; reading a bundle back restores both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ...keys import key64
from ...model import Node, Relation, Timestamp
from ...timestamps import in_zone, sqlite_text, zone
from .. import NativeBundle, family, relation_owner
from .._convert import (
    CARRIED,
    ConversionReport,
    Link,
    RecordSource,
    StreamedCanonical,
    Target,
    View,
    an_object,
    drop_item,
    lose_vector,
    record_extras,
    required_times,
    utc,
)
from .codec import EDGE, GRAPH, MEMORIES, MEMORY, METADATA, NODE, Context
from .identity import derived_identity, upsert_identity

NAME = "kagura"
EDGE_TYPES = (
    "related_to",
    "depends_on",
    "learned_from",
    "influences",
    "works_on",
    "solved_by",
    "similar_to",
    "caused_by",
    "implements",
    "imports",
    "affects",
    "blocks",
    "includes",
    "encountered",
    "made",
    "addresses",
    "closes",
    "mentioned_in",
)
NODE_TYPES = ("memory", "user", "topic", "interaction", "file", "error", "decision", "session", "solution", "github_issue", "github_pr")

# where each canonical field goes when Kagura is the target (docs/mapping.md)
MAPPING = {
    "id": "key (the source id is the key; provenance in metadata.memport)",
    "key": "key",
    "scope": "scope (non-Kagura sources: persistent)",
    "user_id": "user_id (lower-cased; non-Kagura sources: the conversion's user)",
    "agent_name": "agent_name (non-Kagura sources: the conversion's agent)",
    "content": "value",
    "title": "metadata.title",
    "summary": "metadata.summary",
    "type": "metadata.type",
    "source_type": "metadata.source_type",
    "source_instance": "metadata.source_instance",
    "tags": "metadata.tags",
    "importance": "metadata.importance",
    "confidence": "metadata.confidence",
    "context": "metadata.context",
    "supersedes": "metadata.supersedes",
    "related_to": "metadata.related_to",
    "metadata": "metadata",
    "created_at": "created_at (SQLite UTC, whole seconds)",
    "updated_at": "updated_at (SQLite UTC; with microseconds as local time)",
    "accessed_at": "updated_at (Doclea's accessedAt stands for the last update)",
    "embedding": "",
    "doclea fields (relatedFiles, experts, qdrantId, ...)": "metadata.doclea",
    "relations": "graph.jsonl edges between memory/file nodes (original type in data.memport)",
    "nodes": "graph.jsonl nodes",
    "documents": "",
    "chunks": "",
    "pending": "",
}


# ---------------------------------------------------------------------------------------------
# Kagura as the source


def to_canonical(source: RecordSource, report: ConversionReport) -> StreamedCanonical:
    """Memories as views, edges as links, nodes as they are, read as often as the target needs.
    MCP's ``_meta_<key>`` working records are the metadata of ``<key>`` (kagura.md §3.1): found by a
    first read of the memories, they merge into their record."""
    meta = source.meta
    ctx = Context(zone(meta.local_tz))
    exported = utc(meta.exported_at)
    found: list[dict[Any, Any]] = []

    def items(report: ConversionReport) -> Iterator[Any]:
        if not found:
            found.append(_companions(source, ctx))
        companions = found[0]
        for record in source.records():
            value = an_object(record)
            report.input += 1
            if record.kind == "relations":
                edge = EDGE.decode(value, ctx, kind="edge")
                record_extras("relations", edge, report)
                yield _link(edge)
                continue
            if record.kind != "memories":
                node = NODE.decode(value, ctx)
                record_extras("nodes", node, report)
                yield node
                continue
            m = MEMORY.decode(value, ctx)
            record_extras("memories", m, report)
            if m.scope == "working" and isinstance(m.key, str) and m.key.startswith("_meta_") and m.key[6:] in companions:
                report.merged += 1
                continue
            yield _view(m, companions, exported)

    return StreamedCanonical(NAME, source, items, report)


def _companions(source: RecordSource, ctx: Context) -> dict[Any, Any]:
    """The contents of the working records ``_meta_<key>`` of a working record ``<key>``, by key
    (a later one wins, as in Kagura's MCP server). A 64-bit key per working record is kept."""
    working: set[int] = set()
    candidates: list[tuple[str, Any]] = []
    for record in source.records():
        if record.kind != "memories":
            break  # the graph follows the memories
        value = record.value
        if type(value) is not dict or value.get("scope") != "working":
            continue
        m = MEMORY.decode(value, ctx)
        if m.scope != "working":
            continue
        working.add(key64(json.dumps(m.key).encode("utf-8", "surrogatepass")))
        if isinstance(m.key, str) and m.key.startswith("_meta_"):
            candidates.append((m.key[6:], m.content))
    return {base: content for base, content in candidates if key64(json.dumps(base).encode("utf-8", "surrogatepass")) in working}


def _view(m: Any, companions: dict[Any, Any], exported: Any) -> View:
    v = View(
        m,
        NAME,
        derived_identity(m),
        None,
        key=m.key,
        scope=m.scope,
        user_id=m.user_id,
        agent_name=m.agent_name,
        content=m.content,
        metadata=m.metadata,
        created=utc(m.created_at),
        updated=utc(m.updated_at) or utc(m.created_at),
        label=json.dumps(m.key),
    )
    if utc(m.exported_at) is not None:
        v.fallback, v.fallback_from = utc(m.exported_at), "the record's export time"
    elif exported is not None:
        v.fallback, v.fallback_from = exported, "the bundle's export time"
    if m.scope == "working" and m.key in companions:
        v.metadata = companions[m.key]
    _lift_metadata(v)
    return v


def _lift_metadata(v: View) -> None:
    """Kagura metadata that came from another format (or MCP's conventions) back into fields."""
    meta = v.metadata
    if not isinstance(meta, dict):
        return
    provenance = meta.get("memport")
    if isinstance(provenance, dict):
        # written by a conversion to Kagura: restore what it stashed
        rest = {k: val for k, val in meta.items() if k != "memport"}
        for name in CARRIED:
            if name in rest:
                setattr(v, name, rest.pop(name))
        origin = provenance.get("source_format") if isinstance(provenance.get("source_format"), str) else None
        if origin is not None and origin != NAME and isinstance(rest.get(origin), dict):
            v.native_only = rest.pop(origin)
            v.native_defaults = family(origin).native_defaults(v.native_only)
        v.metadata = rest.pop("metadata", None) if set(rest) <= {"metadata"} else rest
        if isinstance(provenance.get("source_id"), str):
            v.source_id = provenance["source_id"]
        if origin is not None:
            v.origin = origin
        return
    tags = meta.get("tags")
    if isinstance(tags, str):  # MCP stores lists as JSON strings
        try:
            tags = json.loads(tags)
        except ValueError:
            tags = None
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        v.tags = tags
    if isinstance(meta.get("importance"), (int, float)) and not isinstance(meta.get("importance"), bool):
        v.importance = meta["importance"]


def _link(edge: Relation) -> Link:
    """An edge as a link; an edge a conversion made from another format's relation (its
    ``data.memport`` names the relation's kind) is that relation again."""
    original = edge.data.get("memport") if isinstance(edge.data, dict) else None
    if isinstance(original, dict) and original.get("kind") in ("memory", "cross_layer"):
        created = original.get("created_at")
        relation = Relation.model_construct(
            kind=original["kind"],
            id=original.get("id"),
            source=edge.source,
            target=edge.target,
            type=original.get("type"),
            weight=original.get("weight"),
            confidence=original.get("confidence"),
            direction=original.get("direction"),
            metadata=original.get("metadata"),
            created_at=Timestamp.model_construct(raw=created) if created is not None else None,
            extra={},
            origin=None,
        )
        owner = relation_owner(relation.kind)
        return Link(relation, owner.meaning(relation), owner.family)
    return Link(edge, meaning(edge), NAME)


def meaning(edge: Relation) -> str:
    """An edge means its type; one outside Kagura's list only "refers to" its target."""
    return edge.type if edge.type in EDGE_TYPES else "references"


# ---------------------------------------------------------------------------------------------
# Kagura as the target


def from_canonical(canonical: Any, target: Target, report: ConversionReport) -> NativeBundle:
    """A Kagura bundle, record by record. Kagura upserts on (scope, key, user, agent) and keeps one
    edge per ordered pair of nodes: a repeated identity or pair is written once, the later record
    in its place (what Kagura's importer keeps); which ones repeat, and the counts metadata.json
    states, come from a first read of the source (:class:`_Facts`)."""
    tz = zone(target.local_tz)
    local_iso = in_zone(target.now, tz, "the export time").isoformat()
    facts = _Facts(canonical, target)
    header = {
        "exported_at": local_iso,
        "user_id": (canonical.meta.user_id or target.user_id).lower(),
        "agent_name": canonical.meta.agent_name or target.agent_name,
        "stats": {"memories": facts.memories, "graph_nodes": facts.nodes, "graph_edges": facts.edges},
        "format_version": "1.0",
    }
    files = [MEMORIES] + ([GRAPH] if facts.edges else []) + [METADATA]

    def records(kind: str) -> Iterator[dict[str, Any]]:
        if kind == "memories":
            return _memories(canonical, facts, target, tz, local_iso, report)
        if kind == "nodes":
            return _nodes(canonical, facts, local_iso, report)
        if kind == "relations":
            return _edges(canonical, facts, local_iso, report)
        return iter(())

    return NativeBundle(NAME, header, records, {"files": files}, target.local_tz)


def _record(v: View, target: Target, tz: Any, local_iso: str, report: ConversionReport) -> dict[str, Any]:
    """A memory as Kagura writes it (``report``: what it could not carry)."""
    scope = v.scope if v.scope in ("working", "persistent") else "persistent"
    key = v.key if v.key is not None else v.source_id
    if scope == "persistent" and not isinstance(key, str):
        key = json.dumps(key)
    user_id = (v.user_id if v.user_id is not None else target.user_id).lower()
    if v.user_id is not None and v.user_id != user_id:
        report.lose("memories", "user_id", v.label, "Kagura lower-cases user ids")
    record: dict[str, Any] = {
        "type": "memory",
        "scope": scope,
        "key": key,
        "value": v.content,
        "user_id": user_id,
        "agent_name": v.agent_name if v.scope is not None else target.agent_name,
    }
    if scope == "persistent":
        created, updated = required_times(v, report, NAME)
        if created.microsecond:
            report.lose("memories", "created_at", v.label, "Kagura's created_at has whole seconds (SQLite CURRENT_TIMESTAMP)")
        record["created_at"] = sqlite_text(created)
        record["updated_at"] = (
            in_zone(updated, tz, f"{v.label}: updated_at").isoformat(sep=" ", timespec="microseconds")
            if updated.microsecond
            else sqlite_text(updated)
        )
        record["metadata"] = _metadata(v)
    elif _metadata(v) is not None:
        report.lose("memories", "metadata", v.label, "Kagura's working memories hold no metadata")
    record["exported_at"] = local_iso
    return record


def _identity_key(record: dict[str, Any]) -> int:
    identity = upsert_identity(record["scope"], record["key"], record["user_id"], record["agent_name"])
    return key64(identity.encode("utf-8", "surrogatepass"))


def _memories(canonical: Any, facts: _Facts, target: Target, tz: Any, local_iso: str, report: ConversionReport) -> Iterator[dict[str, Any]]:
    seen: set[int] = set()
    for position, item in enumerate(i for i in canonical.items() if not isinstance(i, (Link, Node))):
        if not isinstance(item, View):
            drop_item(item, ("documents", "chunks", "pending"), report, NAME)
            continue
        lose_vector(item, report, NAME)
        record = _record(item, target, tz, local_iso, report)
        identity = _identity_key(record)
        if identity in seen:
            report.merged += 1
            report.lose(
                "memories",
                "(record)",
                item.label,
                "same Kagura identity (scope, key, user, agent) as an earlier record: the later one wins, as in Kagura",
            )
        seen.add(identity)
        if facts.last_memory.get(identity, position) == position:
            report.written += 1
            yield record


class _Facts:
    """What writing the bundle needs from all its records, read before the first is written: which
    memories and edges repeat an identity (the place of the last of each), the counts metadata.json
    states, and the keys of the memories relations name (where a key is not the source id).
    Memory: a 64-bit key per memory, node and edge; strings only for the ends of relations."""

    def __init__(self, canonical: Any, target: Target):
        tz = zone(target.local_tz)
        scratch = ConversionReport(canonical.format, "")
        seen: set[int] = set()
        self.last_memory: dict[int, int] = {}  # identity key -> place of its last record, for those that repeat
        ends: set[int] = set()
        any_links = False
        position = 0
        for item in canonical.items():
            if isinstance(item, Link):
                any_links = True
                rel = item.relation
                if rel.kind != "edge":
                    for end in (rel.source, rel.target):
                        ends.add(_key(end))
                continue
            if isinstance(item, Node):
                continue
            if isinstance(item, View):
                identity = _identity_key(_record(item, target, tz, "", scratch))
                if identity in seen:
                    self.last_memory[identity] = position
                seen.add(identity)
            position += 1
        self.memories = len(seen)
        # the key a relation's end names: the last memory with that id (its key, else its id)
        self.key_of: dict[Any, Any] = {}
        if ends:
            for item in canonical.items():
                if isinstance(item, View) and item.own_id is not None and _key(item.own_id) in ends:
                    key = item.key if item.key is not None else item.source_id
                    if key != item.own_id:
                        self.key_of[item.own_id] = key
                    else:
                        self.key_of.pop(item.own_id, None)
        nodes: set[int] = set()
        pairs: set[int] = set()
        self.last_edge: dict[int, int] = {}
        position = 0
        if any_links:
            for link in _links(canonical):
                src, dst, _, _ = self.edge(link)
                nodes.update((_key(src), _key(dst)))
                pair = _pair_key(src, dst)
                if pair in pairs:
                    self.last_edge[pair] = position
                pairs.add(pair)
                position += 1
        self.nodes, self.edges = len(nodes), len(pairs)

    def edge(self, link: Link) -> tuple[Any, Any, Any, dict[str, Any]]:
        """(src, dst, rel_type, data) of the edge a relation becomes, with the node types of its
        ends: a Kagura edge that went through another format has its own ends, type and data."""
        rel = link.relation
        if rel.kind == "edge":
            return rel.source, rel.target, rel.type, rel.data
        src = self.key_of.get(rel.source, rel.source)
        dst = self.key_of.get(rel.target, rel.target) if rel.kind == "memory" else rel.target
        rel_type = link.meaning if link.meaning in EDGE_TYPES else "related_to"
        original = {
            "kind": rel.kind,
            "id": rel.id,
            "type": rel.type,
            "weight": rel.weight,
            "confidence": rel.confidence,
            "direction": rel.direction,
            "metadata": rel.metadata,
            "created_at": rel.created_at.raw if rel.created_at else None,
        }
        return src, dst, rel_type, {"memport": {k: v for k, v in original.items() if v is not None}}


def _key(value: Any) -> int:
    return key64(json.dumps(value).encode("utf-8", "surrogatepass"))


def _pair_key(src: Any, dst: Any) -> int:
    return key64(json.dumps([src, dst]).encode("utf-8", "surrogatepass"))


def _links(canonical: Any) -> Iterator[Link]:
    return (item for item in canonical.items() if isinstance(item, Link))


def _nodes(canonical: Any, facts: _Facts, local_iso: str, report: ConversionReport) -> Iterator[dict[str, Any]]:
    """The nodes the relations' ends are, each once, in the order the relations name them."""
    seen: set[int] = set()
    for link in _links(canonical):
        rel = link.relation
        src, dst, _, _ = facts.edge(link)
        if rel.kind == "edge":
            ends = ((src, "memory", {}), (dst, "memory", {}))
        elif rel.kind == "memory":
            ends = ((src, "memory", {"memport": {"memory_id": rel.source}}), (dst, "memory", {"memport": {"memory_id": rel.target}}))
        else:
            ends = ((src, "memory", {"memport": {"memory_id": rel.source}}), (dst, "file", {"memport": {"code_node_id": rel.target}}))
        for node_id, node_type, data in ends:
            key = _key(node_id)
            if key not in seen:
                seen.add(key)
                report.created += 1
                yield {"type": "node", "id": node_id, "node_type": node_type, "data": data, "exported_at": local_iso}


def _edges(canonical: Any, facts: _Facts, local_iso: str, report: ConversionReport) -> Iterator[dict[str, Any]]:
    """One edge per ordered pair of nodes: a later relation between the same nodes replaces it."""
    seen: set[int] = set()
    for position, link in enumerate(_links(canonical)):
        rel = link.relation
        src, dst, rel_type, data = facts.edge(link)
        pair = _pair_key(src, dst)
        if pair in seen:
            report.merged += 1
            report.lose(
                "relations",
                "(record)",
                rel.id,
                "Kagura keeps one edge per ordered pair of nodes: a later relation between the same memories replaces it",
            )
        else:
            report.written += 1
        seen.add(pair)
        if facts.last_edge.get(pair, position) != position:
            continue
        weight = rel.weight if rel.weight is not None else (rel.confidence if rel.confidence is not None else 1.0)
        yield {"type": "edge", "src": src, "dst": dst, "rel_type": rel_type, "weight": weight, "data": data, "exported_at": local_iso}


def _metadata(v: View) -> Any:
    if v.origin == NAME:
        return v.metadata  # a Kagura record coming home: its metadata as it was
    meta: dict[str, Any] = {}
    if v.metadata is not None:
        meta["metadata"] = v.metadata
    for name in CARRIED:
        value = getattr(v, name)
        if value is not None and value != []:
            meta[name] = value
    if v.native_only:
        meta[v.origin] = v.native_only
    meta["memport"] = {"source_format": v.source_format, "source_id": v.source_id}
    return meta
