"""Kagura in conversions: its records as the canonical view, and a Kagura bundle built from one.

Kagura has no ids: a memory is its scope, user, agent and key, and a conversion to Kagura keys a
memory from another format by its id. What Kagura has no field for travels in a persistent memory's
``metadata`` (the canonical fields by name, the origin format's own fields under its name, and a
``memport`` entry naming the source format and id), and relations from other formats become graph
edges whose ``data.memport`` keeps the original; reading a bundle back restores both.
"""

from __future__ import annotations

import json
from typing import Any

from ...bundle import Bundle
from ...model import Relation, Timestamp
from ...timestamps import in_zone, sqlite_text, zone
from .. import family, relation_owner
from .._convert import (
    CARRIED,
    Canonical,
    ConversionReport,
    Link,
    Target,
    View,
    drop_all,
    lose_vectors,
    report_extras,
    required_times,
    utc,
)
from .codec import GRAPH, MEMORIES, METADATA
from .identity import derived_identity, upsert_identity
from .read import from_native

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


def to_canonical(bundle: Bundle, report: ConversionReport) -> Canonical:
    report_extras(bundle, report)
    memories = bundle.records.memories
    # MCP's "_meta_<key>" working records are the metadata of <key> (kagura.md §3.1)
    keys = {("working", json.dumps(m.key)) for m in memories if m.scope == "working"}
    companions: dict[Any, Any] = {}
    for m in memories:
        if m.scope == "working" and isinstance(m.key, str) and m.key.startswith("_meta_") and ("working", json.dumps(m.key[6:])) in keys:
            companions[m.key[6:]] = m.content
    views = []
    for m in memories:
        if m.scope == "working" and isinstance(m.key, str) and m.key[6:] in companions and m.key.startswith("_meta_"):
            report.merged += 1
            continue
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
        elif utc(bundle.meta.exported_at) is not None:
            v.fallback, v.fallback_from = utc(bundle.meta.exported_at), "the bundle's export time"
        if m.scope == "working" and m.key in companions:
            v.metadata = companions[m.key]
        _lift_metadata(v)
        views.append(v)
    links = [_link(rel) for rel in bundle.records.relations]
    return Canonical(NAME, bundle.meta, views, links, nodes=list(bundle.records.nodes))


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


def from_canonical(canonical: Canonical, target: Target, report: ConversionReport) -> Bundle:
    tz = zone(target.local_tz)
    now = target.now
    local_iso = in_zone(now, tz, "the export time").isoformat()
    views = canonical.memories
    lose_vectors(views, report, NAME)
    memories: list[dict[str, Any]] = []
    position: dict[str, int] = {}
    for v in views:
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
        # Kagura upserts on (key, user, agent): a repeated identity replaces the earlier record
        identity = upsert_identity(scope, record["key"], user_id, record["agent_name"])
        if identity in position:
            memories[position[identity]] = record
            report.merged += 1
            report.lose(
                "memories",
                "(record)",
                v.label,
                "same Kagura identity (scope, key, user, agent) as an earlier record: the later one wins, as in Kagura",
            )
        else:
            position[identity] = len(memories)
            memories.append(record)
    graph = _graph(canonical, report, local_iso)
    nodes = sum(1 for g in graph if g["type"] == "node")
    drop_all(canonical, ("documents", "chunks", "pending"), report, NAME)
    header = {
        "exported_at": local_iso,
        "user_id": (canonical.meta.user_id or target.user_id).lower(),
        "agent_name": canonical.meta.agent_name or target.agent_name,
        "stats": {"memories": len(memories), "graph_nodes": nodes, "graph_edges": len(graph) - nodes},
        "format_version": "1.0",
    }
    files = [MEMORIES] + ([GRAPH] if graph else []) + [METADATA]
    report.written += len(memories)
    return from_native(memories, graph, header, files=files, local_tz=target.local_tz)


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


def _graph(canonical: Canonical, report: ConversionReport, local_iso: str) -> list[dict[str, Any]]:
    """Relations as graph edges: nodes first, then edges, one edge per ordered pair."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    key_of = {v.own_id: (v.key if v.key is not None else v.source_id) for v in canonical.memories if v.own_id is not None}

    def node(node_id: Any, node_type: str, data: dict[str, Any]) -> None:
        if json.dumps(node_id) not in nodes:
            nodes[json.dumps(node_id)] = {"type": "node", "id": node_id, "node_type": node_type, "data": data, "exported_at": local_iso}
            report.created += 1

    for link in canonical.relations:
        rel = link.relation
        if rel.kind == "edge":
            # a Kagura edge that went through another format: its own ends, type and data
            src, dst, rel_type, data = rel.source, rel.target, rel.type, rel.data
            node(src, "memory", {})
            node(dst, "memory", {})
        else:
            src = key_of.get(rel.source, rel.source)
            node(src, "memory", {"memport": {"memory_id": rel.source}})
            if rel.kind == "memory":
                dst = key_of.get(rel.target, rel.target)
                node(dst, "memory", {"memport": {"memory_id": rel.target}})
            else:
                dst = rel.target
                node(dst, "file", {"memport": {"code_node_id": rel.target}})
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
            data = {"memport": {k: v for k, v in original.items() if v is not None}}
        pair = (json.dumps(src), json.dumps(dst))
        if pair in edges:
            report.merged += 1
            report.lose(
                "relations",
                "(record)",
                rel.id,
                "Kagura keeps one edge per ordered pair of nodes: a later relation between the same memories replaces it",
            )
        else:
            report.written += 1
        weight = rel.weight if rel.weight is not None else (rel.confidence if rel.confidence is not None else 1.0)
        edges[pair] = {
            "type": "edge",
            "src": src,
            "dst": dst,
            "rel_type": rel_type,
            "weight": weight,
            "data": data,
            "exported_at": local_iso,
        }
    return list(nodes.values()) + list(edges.values())
