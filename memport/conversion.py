"""Conversions between formats: one mapping, deterministic ids, closed accounting, a loss report.

A conversion never writes target bytes itself. It builds the *native* records of the target (the
dicts its exporter would write) and hands them to the target format's ``from_native``, so the
result is a normal bundle of that format: it validates, shows as DataFrames and is written by the
format's own writer.

Identity: target ids derive from the source identity, ``uuid5(NAMESPACE, "<format>:<identity>")``
(Kagura's identity is scope, user, agent and key; Tribal's and Doclea's their id), so converting
the same bundle twice gives the same bytes and a later import matches the earlier one. Doclea
keeps free-text ids as they are; Tribal keeps ids its LanceDB store accepts (``[A-Za-z0-9-]+``).

Provenance and fields a target has no column for travel where the target has room: Kagura's
persistent ``metadata`` object, Tribal's ``context`` (when the source has none: a line starting
with ``memport-provenance:`` and a JSON object), Doclea relation ``metadata`` and Kagura edge
``data``. Converting back reads them, so A -> B -> A restores what B could hold.

Accounting is closed: ``input == written + merged + dropped``; records a target needs but the
source did not have as records (Kagura nodes for relation endpoints, Doclea relations made from
Tribal's ``supersedes``) are counted as ``created``. Every field that could not be carried is in
``losses`` with a count and example ids.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .bundle import Bundle
from .errors import ConversionError
from .model import Embedding, EmbeddingModel, Memory, Relation, Timestamp
from .timestamps import zone

NAMESPACE = uuid.UUID("5b1f5f4e-8f1e-5c7a-9a55-6d656d706f72")  # fixed: changing it changes every derived id
TARGETS = ("kagura", "tribal", "tribal-jsonl", "doclea")
PROVENANCE_PREFIX = "memport-provenance: "
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DOCLEA_TYPES = ("decision", "solution", "pattern", "architecture", "note")
DOCLEA_DEFAULT_TYPE = "note"
TRIBAL_SOURCE_TYPES = ("user_explicit", "auto_capture", "correction", "cross_instance", "legacy", "unknown")
TRIBAL_ID = re.compile(r"^[A-Za-z0-9-]+$")
KAGURA_EDGE_TYPES = (
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
KAGURA_NODE_TYPES = (
    "memory",
    "user",
    "topic",
    "interaction",
    "file",
    "error",
    "decision",
    "session",
    "solution",
    "github_issue",
    "github_pr",
)
# Doclea memory relation type <-> Kagura edge type; the original type always travels in the
# edge data / relation metadata, so the way back restores it exactly
DOCLEA_TO_KAGURA_REL = {
    "references": "related_to",
    "implements": "implements",
    "extends": "includes",
    "related_to": "related_to",
    "supersedes": "related_to",
    "requires": "depends_on",
}
KAGURA_TO_DOCLEA_REL = {"related_to": "related_to", "implements": "implements", "includes": "extends", "depends_on": "requires"}
CROSS_LAYER_TO_KAGURA = {"documents": "related_to", "addresses": "addresses", "exemplifies": "similar_to"}
TITLE_LENGTH = 80

# The one mapping, per target: canonical field -> where it goes ("" = no home: reported as a loss).
# docs/mapping.md is generated from this table (tests/test_convert.py checks it is current, and
# that converting a bundle with every field set reports exactly the fields without a home).
MAPPING: dict[str, dict[str, str]] = {
    "kagura": {
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
    },
    "tribal": {
        "id": "id (kept when it matches [A-Za-z0-9-]+, else uuid5 of the source identity)",
        "key": "context (memport-provenance)",
        "scope": "context (memport-provenance)",
        "user_id": "context (memport-provenance)",
        "agent_name": "context (memport-provenance)",
        "content": "content (non-text values as JSON text)",
        "title": "context (memport-provenance)",
        "summary": "context (memport-provenance)",
        "type": "context (memport-provenance)",
        "source_type": "source_type (outside the enum: unknown)",
        "source_instance": "source_instance",
        "tags": "tags",
        "importance": "context (memport-provenance)",
        "confidence": "confidence",
        "context": "context",
        "supersedes": "supersedes",
        "related_to": "related_to",
        "metadata": "context (memport-provenance)",
        "created_at": "created_at (isoformat, +00:00)",
        "updated_at": "updated_at (isoformat, +00:00)",
        "accessed_at": "updated_at (Doclea's accessedAt stands for the last update)",
        "embedding": "embedding (when every vector shares one model and dimension; manifest.embedding names it)",
        "doclea fields (relatedFiles, experts, qdrantId, ...)": "context (memport-provenance)",
        "relations": "supersedes / related_to of the source memory (memory relations only)",
        "nodes": "",
        "documents": "",
        "chunks": "",
        "pending": "",
    },
    "doclea": {
        "id": "id (free text: kept; Kagura: the key when unique, else mem_ + uuid5)",
        "key": "id and title",
        "scope": "",
        "user_id": "",
        "agent_name": "",
        "content": "content (non-text values as JSON text)",
        "title": "title (missing: the first line of content, at most 80 characters)",
        "summary": "summary",
        "type": "type (outside the enum: note)",
        "source_type": "",
        "source_instance": "",
        "tags": "tags",
        "importance": "importance",
        "confidence": "",
        "context": "",
        "supersedes": "memoryRelations (type supersedes)",
        "related_to": "memoryRelations (type related_to)",
        "metadata": "",
        "created_at": "createdAt (Unix seconds)",
        "updated_at": "accessedAt (Unix seconds)",
        "accessed_at": "accessedAt (Unix seconds)",
        "embedding": "",
        "doclea fields (relatedFiles, experts, qdrantId, ...)": "the same fields",
        "relations": "memoryRelations / crossLayerRelations (original Kagura type and data in metadata)",
        "nodes": "",
        "documents": "documents",
        "chunks": "chunks",
        "pending": "pendingMemories",
    },
}
MAPPING["tribal-jsonl"] = {**MAPPING["tribal"], "embedding": "embedding (the stream has no manifest: the model identity is lost)"}


# ---------------------------------------------------------------------------------------------
# Accounting and the loss report


@dataclass
class Loss:
    kind: str
    field: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "field": self.field, "count": self.count, "examples": self.examples}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class ConversionReport:
    """What a conversion did: ``input == written + merged + sum(dropped)``, plus created records."""

    source: str
    target: str
    input: int = 0
    written: int = 0
    merged: int = 0
    created: int = 0
    dropped: Counter = field(default_factory=Counter)
    losses: dict[tuple[str, str], Loss] = field(default_factory=dict)

    def lose(self, kind: str, field_name: str, example: Any, note: str = "") -> None:
        loss = self.losses.setdefault((kind, field_name), Loss(kind, field_name, note=note))
        loss.count += 1
        if len(loss.examples) < 3:
            loss.examples.append(str(example))

    def drop(self, kind: str, reason: str, example: Any) -> None:
        self.dropped[reason] += 1
        self.lose(kind, "(record)", example, reason)

    @property
    def closed(self) -> bool:
        return self.input == self.written + self.merged + sum(self.dropped.values())

    @property
    def lossless(self) -> bool:
        return not self.losses

    def to_dict(self) -> dict[str, Any]:
        """The shape of ``memport convert --json``."""
        return {
            "from": self.source,
            "to": self.target,
            "input": self.input,
            "written": self.written,
            "merged": self.merged,
            "created": self.created,
            "dropped": dict(sorted(self.dropped.items())),
            "losses": [loss.to_dict() for _, loss in sorted(self.losses.items())],
        }

    def summary_line(self) -> str:
        dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items())) or "none"
        return (
            f"{self.source} -> {self.target}: input {self.input} = written {self.written} + merged {self.merged} "
            f"+ dropped {sum(self.dropped.values())} ({dropped}); created {self.created}"
        )

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [loss.to_dict() for _, loss in sorted(self.losses.items())], columns=["kind", "field", "count", "examples", "note"]
        )

    def _repr_html_(self) -> str:
        import html

        from .masking import frame_html

        # examples are record ids: escaped and masked like every display (memport.masking)
        return f"<p>{html.escape(self.summary_line())}</p>" + (
            frame_html(self.to_frame(), index=False) if self.losses else "<p>nothing lost</p>"
        )


# ---------------------------------------------------------------------------------------------
# Reading the source: one view per memory, whatever its format


@dataclass
class View:
    """A source memory as the conversion sees it: canonical values plus what only its format has."""

    record: Memory
    source_format: str
    identity: str  # stable text identity in the source, for derived ids
    source_id: str | None
    key: Any = None
    scope: str | None = None
    user_id: str | None = None
    agent_name: str | None = None
    content: Any = None
    title: str | None = None
    summary: str | None = None
    type: str | None = None
    source_type: str | None = None
    source_instance: str | None = None
    tags: list[str] | None = None
    importance: Any = None
    confidence: Any = None
    context: str | None = None
    supersedes: str | None = None
    related_to: list[str] | None = None
    metadata: Any = None
    created: datetime | None = None
    updated: datetime | None = None
    embedding: Embedding | None = None
    doclea: dict[str, Any] = field(default_factory=dict)  # Doclea-only memory fields, native keys
    label: str = ""  # for examples in the loss report
    origin: str = ""  # the format the record first came from (provenance), else its source format

    def __post_init__(self) -> None:
        self.origin = self.origin or self.source_format


DOCLEA_ONLY = (
    "relatedFiles",
    "gitCommit",
    "sourcePr",
    "experts",
    "qdrantId",
    "accessCount",
    "needsReview",
    "decayRate",
    "lastRefreshedAt",
    "confidenceFloor",
    "decayFunction",
)
CARRIED = (
    "title",
    "summary",
    "type",
    "source_type",
    "source_instance",
    "tags",
    "importance",
    "confidence",
    "context",
    "supersedes",
    "related_to",
)


def _utc(ts: Timestamp | None) -> datetime | None:
    return ts.utc if ts is not None else None


def _report_extras(bundle: Bundle, report: ConversionReport) -> None:
    """Native values the source format had but memport could not interpret (unknown fields,
    values of the wrong type) survive only in their own format: in a conversion they are lost."""
    for kind in ("memories", "relations", "nodes"):
        for record in getattr(bundle.records, kind):
            consumed = DOCLEA_ONLY if kind == "memories" and bundle.format == "doclea" else ()
            for key in record.extra:
                if key not in consumed:
                    report.lose(
                        kind,
                        key,
                        getattr(record, "id", None) or getattr(record, "key", None),
                        "a native value memport could not interpret (unknown field or wrong type) is carried only within its own format",
                    )


def _views(bundle: Bundle, report: ConversionReport) -> list[View]:
    fmt = "tribal" if bundle.format == "tribal-jsonl" else bundle.format
    _report_extras(bundle, report)
    memories = bundle.records.memories
    views: list[View] = []
    companions: dict[Any, Any] = {}
    if fmt == "kagura":
        # MCP's "_meta_<key>" working records are the metadata of <key> (kagura.md §3.1)
        keys = {("working", json.dumps(m.key)) for m in memories if m.scope == "working"}
        for m in memories:
            if (
                m.scope == "working"
                and isinstance(m.key, str)
                and m.key.startswith("_meta_")
                and ("working", json.dumps(m.key[6:])) in keys
            ):
                companions[m.key[6:]] = m.content
    for m in memories:
        if fmt == "kagura":
            if m.scope == "working" and isinstance(m.key, str) and m.key[6:] in companions and m.key.startswith("_meta_"):
                report.merged += 1
                continue
            identity = "\x1f".join([str(m.scope), str(m.user_id), str(m.agent_name), json.dumps(m.key)])
            v = View(
                m,
                fmt,
                identity,
                None,
                key=m.key,
                scope=m.scope,
                user_id=m.user_id,
                agent_name=m.agent_name,
                content=m.content,
                metadata=m.metadata,
                created=_utc(m.created_at),
                updated=_utc(m.updated_at) or _utc(m.created_at),
                label=json.dumps(m.key),
            )
            if m.scope == "working" and m.key in companions:
                v.metadata = companions[m.key]
            _lift_kagura_metadata(v)
        else:
            ident = m.id if isinstance(m.id, str) else json.dumps(m.extra.get("id"))
            v = View(
                m,
                fmt,
                ident,
                m.id,
                content=m.content,
                title=m.title,
                summary=m.summary,
                type=m.type,
                source_type=m.source_type,
                source_instance=m.source_instance,
                tags=m.tags,
                importance=m.importance,
                confidence=m.confidence,
                context=m.context,
                supersedes=m.supersedes,
                related_to=m.related_to,
                created=_utc(m.created_at),
                updated=_utc(m.updated_at) or _utc(m.accessed_at),
                embedding=m.embedding,
                label=str(m.id),
            )
            if fmt == "doclea":
                v.doclea = {k: m.extra[k] for k in DOCLEA_ONLY if k in m.extra}
            _restore_provenance(v)
        views.append(v)
    return views


def _lift_kagura_metadata(v: View) -> None:
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
        if isinstance(rest.get("doclea"), dict):
            v.doclea = rest.pop("doclea")
        v.metadata = rest.pop("metadata", None) if set(rest) <= {"metadata"} else rest
        if isinstance(provenance.get("source_id"), str):
            v.source_id = provenance["source_id"]
        if isinstance(provenance.get("source_format"), str):
            v.origin = provenance["source_format"]
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


def _restore_provenance(v: View) -> None:
    """A Tribal context written by a conversion carries the fields Tribal has no column for."""
    if not (isinstance(v.context, str) and v.context.startswith(PROVENANCE_PREFIX)):
        return
    try:
        data = json.loads(v.context[len(PROVENANCE_PREFIX) :])
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    v.context = None
    fields = data.get("fields", {})
    for name in ("key", "scope", "user_id", "agent_name", "metadata", "title", "summary", "type", "importance"):
        if name in fields:
            setattr(v, name, fields[name])
    if isinstance(fields.get("doclea"), dict):
        v.doclea = fields["doclea"]
    if fields.get("content_json") and isinstance(v.content, str):
        try:
            v.content = json.loads(v.content)
        except ValueError:
            pass
    if isinstance(data.get("source_id"), str):
        v.source_id = data["source_id"]
    if isinstance(data.get("source_format"), str):
        v.origin = data["source_format"]


# ---------------------------------------------------------------------------------------------
# Helpers shared by the targets


def derived_uuid(source_format: str, identity: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{source_format}:{identity}"))


def nanoid_like(*parts: str) -> str:
    """A deterministic 21-character id from Doclea's nanoid alphabet."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).decode()[:21]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str, v: View, field_name: str, report: ConversionReport, target: str) -> str:
    """Text with lone UTF-16 surrogates, which Tribal's store rejects and Doclea's text columns
    replace by U+FFFD: replaced the same way here, and reported."""
    if not _LONE_SURROGATE.search(text):
        return text
    report.lose("memories", field_name, v.label, f"lone UTF-16 surrogates replaced by U+FFFD ({target} cannot store them)")
    return _LONE_SURROGATE.sub("\ufffd", text)


def _text(v: View, report: ConversionReport, target: str) -> str:
    if isinstance(v.content, str):
        return _clean(v.content, v, "content", report, target)
    report.lose("memories", "content", v.label, f"a non-text value is written as JSON text ({target} content is text)")
    return _clean(json.dumps(v.content, ensure_ascii=False), v, "content", report, target)


def _export_time(bundle: Bundle, exported_at: datetime | None) -> datetime:
    if exported_at is not None:
        return exported_at.astimezone(UTC)
    if bundle.meta.exported_at is not None and bundle.meta.exported_at.utc is not None:
        return bundle.meta.exported_at.utc
    # no export time in the source (a crashed Kagura export): the latest record time, so that
    # the output still depends on the input only
    times = [t.utc for m in bundle.records.memories for t in (m.exported_at, m.updated_at, m.created_at) if t is not None and t.utc]
    return max(times, default=EPOCH)


def _first_line_title(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:TITLE_LENGTH] or "(untitled)"


def _vectors_for_tribal(views: list[View], report: ConversionReport) -> EmbeddingModel | None:
    """One model and one dimension for every vector, or none are carried."""
    for v in views:
        if v.embedding is not None and not all(math.isfinite(x) for x in v.embedding.vector):
            report.lose("memories", "embedding", v.label, "a vector with NaN or Infinity: Tribal's store rejects it, re-embed after import")
            v.embedding = None
    vectors = [v for v in views if v.embedding is not None and v.embedding.vector]
    identities = {(v.embedding.model, len(v.embedding.vector)) for v in vectors}
    if len(identities) == 1:
        name, dims = identities.pop()
        if name is not None:
            return EmbeddingModel(name=name, dimensions=dims)
        note = "the source does not name the vectors' model (a JSONL stream), so Tribal could not match it: re-embed after import"
    else:
        note = f"vectors come from {len(identities)} model/dimension combinations; a Tribal bundle holds one: re-embed after import"
    for v in vectors:
        report.lose("memories", "embedding", v.label, note)
    for v in views:
        v.embedding = None
    return None


def _lose_vectors(views: list[View], report: ConversionReport, target: str) -> None:
    for v in views:
        if v.embedding is not None and v.embedding.vector:
            report.lose("memories", "embedding", v.label, f"{target} holds no vectors: re-embed after import")


def _drop_all(bundle: Bundle, kinds: tuple[str, ...], report: ConversionReport, target: str) -> None:
    for kind in kinds:
        for record in getattr(bundle.records, kind):
            report.drop(kind, f"no {kind} in {target}", getattr(record, "id", None))


# ---------------------------------------------------------------------------------------------
# Targets


def _to_kagura(bundle: Bundle, views: list[View], report: ConversionReport, now: datetime, user: str, agent: str, local_tz: str) -> Bundle:
    from .formats import kagura

    tz = zone(local_tz)
    local_iso = now.astimezone(tz).replace(tzinfo=None).isoformat()
    _lose_vectors(views, report, "kagura")
    memories: list[dict[str, Any]] = []
    position: dict[str, int] = {}
    for v in views:
        scope = v.scope if v.scope in ("working", "persistent") else "persistent"
        key = v.key if v.key is not None else v.source_id
        if scope == "persistent" and not isinstance(key, str):
            key = json.dumps(key)
        user_id = (v.user_id if v.user_id is not None else user).lower()
        if v.user_id is not None and v.user_id != user_id:
            report.lose("memories", "user_id", v.label, "Kagura lower-cases user ids")
        record: dict[str, Any] = {
            "type": "memory",
            "scope": scope,
            "key": key,
            "value": v.content,
            "user_id": user_id,
            "agent_name": v.agent_name if v.scope is not None else agent,
        }
        if scope == "persistent":
            created = v.created or v.updated or now
            updated = v.updated or created
            if created.microsecond:
                report.lose("memories", "created_at", v.label, "Kagura's created_at has whole seconds (SQLite CURRENT_TIMESTAMP)")
            record["created_at"] = created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            record["updated_at"] = (
                updated.astimezone(tz).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
                if updated.microsecond
                else updated.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            )
            record["metadata"] = _kagura_metadata(v)
        elif _kagura_metadata(v) is not None:
            report.lose("memories", "metadata", v.label, "Kagura's working memories hold no metadata")
        record["exported_at"] = local_iso
        # Kagura upserts on (key, user, agent): a repeated identity replaces the earlier record
        identity = json.dumps([scope, record["key"] if scope == "working" else str(record["key"]), user_id, record["agent_name"]])
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
    graph = _kagura_graph(bundle, views, report, local_iso)
    nodes = sum(1 for g in graph if g["type"] == "node")
    _drop_all(bundle, ("documents", "chunks", "pending"), report, "kagura")
    header = {
        "exported_at": local_iso,
        "user_id": (bundle.meta.user_id or user).lower(),
        "agent_name": bundle.meta.agent_name or agent,
        "stats": {"memories": len(memories), "graph_nodes": nodes, "graph_edges": len(graph) - nodes},
        "format_version": "1.0",
    }
    files = ["memories.jsonl"] + (["graph.jsonl"] if graph else []) + ["metadata.json"]
    report.written += len(memories)
    return kagura.from_native(memories, graph, header, files=files, local_tz=local_tz)


def _kagura_metadata(v: View) -> Any:
    if v.origin == "kagura":
        return v.metadata  # a Kagura record coming home: its metadata as it was
    meta: dict[str, Any] = {}
    if v.metadata is not None:
        meta["metadata"] = v.metadata
    for name in CARRIED:
        value = getattr(v, name)
        if value is not None and value != []:
            meta[name] = value
    if v.doclea:
        meta["doclea"] = v.doclea
    meta["memport"] = {"source_format": v.source_format, "source_id": v.source_id}
    return meta


def _kagura_graph(bundle: Bundle, views: list[View], report: ConversionReport, local_iso: str) -> list[dict[str, Any]]:
    """Doclea relations as graph edges: nodes first, then edges, one edge per ordered pair."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    key_of = {_own_id(v): (v.key if v.key is not None else v.source_id) for v in views if _own_id(v) is not None}

    def node(node_id: Any, node_type: str, data: dict[str, Any]) -> None:
        if json.dumps(node_id) not in nodes:
            nodes[json.dumps(node_id)] = {"type": "node", "id": node_id, "node_type": node_type, "data": data, "exported_at": local_iso}
            report.created += 1

    for rel in bundle.records.relations:
        came_from_kagura = rel.metadata.get("memport") if isinstance(rel.metadata, dict) else None
        if isinstance(came_from_kagura, dict) and "rel_type" in came_from_kagura:
            # a Kagura edge that went through Doclea: its own ends, type and data
            src, dst = came_from_kagura.get("src"), came_from_kagura.get("dst")
            rel_type, data = came_from_kagura["rel_type"], came_from_kagura.get("data")
            node(src, "memory", {})
            node(dst, "memory", {})
        else:
            src = key_of.get(rel.source, rel.source)
            node(src, "memory", {"memport": {"memory_id": rel.source}})
            if rel.kind == "memory":
                dst = key_of.get(rel.target, rel.target)
                node(dst, "memory", {"memport": {"memory_id": rel.target}})
                rel_type = DOCLEA_TO_KAGURA_REL.get(rel.type or "", "related_to")
            else:
                dst = rel.target
                node(dst, "file", {"memport": {"code_node_id": rel.target}})
                rel_type = CROSS_LAYER_TO_KAGURA.get(rel.type or "", "related_to")
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


def _to_tribal(bundle: Bundle, views: list[View], report: ConversionReport, now: datetime, jsonl: bool) -> Bundle:
    from .formats import tribal

    target = "tribal-jsonl" if jsonl else "tribal"
    model = _vectors_for_tribal(views, report)
    if jsonl and model is not None:
        for v in views:
            if v.embedding is not None:
                report.lose("memories", "embedding model", v.label, "the JSONL stream has no manifest, so the vectors' model is not named")
    ids = _tribal_ids(views, report)
    relations = _relations_as_tribal_fields(bundle, views, ids, report)
    entries = []
    for v in views:
        vector = v.embedding.vector if v.embedding is not None and v.embedding.vector else None
        created = v.created or v.updated or now
        updated = v.updated or created
        if v.created is None or v.updated is None:
            report.lose(
                "memories",
                "created_at" if v.created is None else "updated_at",
                v.label,
                "missing in the source; Tribal requires both, so the other time (or the export time) stands in",
            )
        source_type = v.source_type if v.source_type in TRIBAL_SOURCE_TYPES else "unknown"
        if v.source_type is not None and v.source_type != source_type:
            report.lose("memories", "source_type", v.label, f"{v.source_type!r} is not a Tribal source_type: written as unknown")
        supersedes, related = relations.get(ids[id(v)], (None, []))
        entry = {
            "id": ids[id(v)],
            "content": _text(v, report, target),
            "embedding": vector,
            "source_instance": v.source_instance if v.source_instance is not None else "unknown",
            "source_type": source_type,
            "created_at": created.astimezone(UTC).isoformat(),
            "updated_at": updated.astimezone(UTC).isoformat(),
            "tags": [_clean(t, v, "tags", report, target) for t in v.tags or []],
            "context": _clean_optional(_tribal_context(v, report, ids[id(v)]), v, "context", report, target),
            "confidence": v.confidence if isinstance(v.confidence, (int, float)) and not isinstance(v.confidence, bool) else 1.0,
            "supersedes": supersedes if supersedes is not None else _mapped(v.supersedes, ids, views),
            "related_to": related
            + [r for r in (_mapped(x, ids, views) for x in (v.related_to or [])) if r is not None and r not in related],
        }
        entries.append(entry)
    report.written += len(entries)
    _drop_all(bundle, ("nodes", "documents", "chunks", "pending"), report, target)
    if jsonl:
        return tribal.jsonl_from_native(entries, model=model)
    manifest_model = model or bundle.meta.embedding_model or EmbeddingModel()
    embedding: dict[str, Any] = {"model_name": manifest_model.name or "unknown", "dimensions": manifest_model.dimensions or 384}
    if manifest_model.provider:
        embedding["provider"] = manifest_model.provider
    manifest = {"schema_version": "1.0", "embedding": embedding, "memory_count": len(entries), "exported_at": now.isoformat()}
    return tribal.from_native({"manifest": manifest, "entries": entries})


def _clean_optional(text: str | None, v: View, field_name: str, report: ConversionReport, target: str) -> str | None:
    return None if text is None else _clean(text, v, field_name, report, target)


def _tribal_ids(views: list[View], report: ConversionReport) -> dict[int, str]:
    ids: dict[int, str] = {}
    used: set[str] = set()
    for v in views:
        keep = isinstance(v.source_id, str) and TRIBAL_ID.match(v.source_id)
        new = v.source_id if keep else derived_uuid(v.source_format, v.identity)
        if new in used:
            new = derived_uuid(v.source_format, f"{v.identity}\x1f{len(used)}")  # a duplicate in the source stays separate
        used.add(new)
        ids[id(v)] = new
    return ids


def _own_id(v: View) -> Any:
    """The id other records of the *source* bundle use to point at this one."""
    return v.record.id if v.record.id is not None else v.source_id


def _mapped(reference: str | None, ids: dict[int, str], views: list[View]) -> str | None:
    """A reference of the source bundle, as the id its target record got (dangling ones derived too)."""
    if reference is None:
        return None
    for v in views:
        if _own_id(v) == reference:
            return ids[id(v)]
    return reference if TRIBAL_ID.match(reference) else derived_uuid(views[0].source_format if views else "", reference)


def _relations_as_tribal_fields(
    bundle: Bundle, views: list[View], ids: dict[int, str], report: ConversionReport
) -> dict[str, tuple[str | None, list[str]]]:
    out: dict[str, tuple[str | None, list[str]]] = {}
    by_source = {_own_id(v): ids[id(v)] for v in views if _own_id(v) is not None}
    for rel in bundle.records.relations:
        if rel.kind != "memory" or rel.source not in by_source:
            reason = (
                "no graph in tribal"
                if rel.kind == "edge"
                else "no code-graph links in tribal"
                if rel.kind == "cross_layer"
                else "relation from a memory not in the bundle"
            )
            report.drop("relations", reason, rel.id or f"{rel.source}->{rel.target}")
            continue
        entry_id = by_source[rel.source]
        target = by_source.get(rel.target) or _mapped(rel.target, ids, views)
        supersedes, related = out.get(entry_id, (None, []))
        if rel.type == "supersedes" and supersedes is None:
            supersedes = target
        elif target not in related:
            related = [*related, target]
            if rel.type not in ("related_to", None):
                report.lose("relations", "type", rel.id, "Tribal's related_to has no relation type")
        else:
            report.merged += 1
            out[entry_id] = (supersedes, related)
            continue
        for name in ("weight", "metadata", "created_at", "id"):
            if getattr(rel, name) is not None:
                report.lose("relations", name, rel.id, "Tribal keeps only the ids of related memories")
        out[entry_id] = (supersedes, related)
        report.merged += 1  # folded into the entry's supersedes / related_to
    return out


# values Doclea requires or fills in by itself: carrying them elsewhere would add nothing
DOCLEA_DEFAULTS = {"relatedFiles": [], "experts": [], "accessCount": 0, "needsReview": False}


def _informative(v: View) -> dict[str, Any]:
    """The fields of a view that Tribal has no column for, less Doclea's own defaults."""
    fields: dict[str, Any] = {}
    for name in ("key", "scope", "user_id", "agent_name", "metadata", "title", "summary", "type", "importance"):
        value = getattr(v, name)
        if value is not None:
            fields[name] = value
    if v.source_format == "doclea":
        if fields.get("type") == DOCLEA_DEFAULT_TYPE:
            del fields["type"]
        if fields.get("importance") == 0.5:
            del fields["importance"]
        if isinstance(v.content, str) and fields.get("title") == _first_line_title(v.content):
            del fields["title"]
    doclea = {k: value for k, value in v.doclea.items() if DOCLEA_DEFAULTS.get(k, object()) != value}
    if doclea:
        fields["doclea"] = doclea
    return fields


def _tribal_context(v: View, report: ConversionReport, entry_id: str) -> str | None:
    fields = _informative(v)
    if not isinstance(v.content, str) and v.content is not None:
        fields["content_json"] = True
    if v.origin == "tribal":
        # a Tribal record coming home: what other formats added has no column here
        for name in ("metadata", "title", "summary", "type", "importance"):
            if getattr(v, name) is not None:
                report.lose("memories", name, v.label, "Tribal has no column for it")
        return v.context
    if v.context is not None:
        for name in fields:
            report.lose("memories", name, v.label, "Tribal has no column for it, and context (where memport keeps such fields) is taken")
        return v.context
    if not fields and v.source_id == entry_id:
        return None  # nothing to carry: the id itself is the provenance
    payload = {"source_format": v.source_format, "source_id": v.source_id, "fields": fields}
    return PROVENANCE_PREFIX + json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _to_doclea(bundle: Bundle, views: list[View], report: ConversionReport, now: datetime) -> Bundle:
    from .formats import doclea

    _lose_vectors(views, report, "doclea")
    ids = _doclea_ids(views)
    memories = []
    for v in views:
        text = _text(v, report, "doclea")
        title = v.title if isinstance(v.title, str) else (v.key if isinstance(v.key, str) else None)
        if title is None:
            title = _first_line_title(text)
            report.lose("memories", "title", v.label, "Doclea requires a title: derived from the first line of content")
        # a Doclea record coming home keeps its own type, even one outside the enum ("knowledge")
        kind = v.type if v.type in DOCLEA_TYPES or (v.origin == "doclea" and isinstance(v.type, str)) else DOCLEA_DEFAULT_TYPE
        if v.type is not None and v.type != kind:
            report.lose("memories", "type", v.label, f"{v.type!r} is not a Doclea memory type: written as {DOCLEA_DEFAULT_TYPE}")
        created = v.created or v.updated or now
        accessed = v.updated or created
        for name, value in (("created_at", created), ("updated_at", accessed)):
            if value.microsecond:
                report.lose("memories", name, v.label, "Doclea keeps whole Unix seconds")
        record: dict[str, Any] = {"id": ids[id(v)], "type": kind, "title": _clean(title, v, "title", report, "doclea"), "content": text}
        if v.summary is not None:
            record["summary"] = _clean(v.summary, v, "summary", report, "doclea")
        importance = v.importance if isinstance(v.importance, (int, float)) and not isinstance(v.importance, bool) else 0.5
        record["importance"] = _js_number(importance)
        record["tags"] = list(v.tags or [])
        record.update({k: v.doclea[k] for k in ("relatedFiles",) if k in v.doclea} or {"relatedFiles": []})
        for k in ("gitCommit", "sourcePr"):
            if k in v.doclea:
                record[k] = v.doclea[k]
        record["experts"] = v.doclea.get("experts", [])
        if "qdrantId" in v.doclea:
            record["qdrantId"] = v.doclea["qdrantId"]
        record["createdAt"] = int(created.timestamp())
        record["accessedAt"] = int(accessed.timestamp())
        record["accessCount"] = v.doclea.get("accessCount", 0)
        record["needsReview"] = v.doclea.get("needsReview", False)
        for k in ("decayRate", "lastRefreshedAt", "confidenceFloor", "decayFunction"):
            if k in v.doclea:
                record[k] = v.doclea[k]
        for name in ("scope", "user_id", "agent_name", "source_type", "source_instance", "context"):
            if getattr(v, name) is not None:
                report.lose("memories", name, v.label, "Doclea has no place for it")
        if v.confidence is not None and v.confidence != 1.0:
            report.lose("memories", "confidence", v.label, "Doclea has no place for it")
        if v.metadata is not None:
            report.lose("memories", "metadata", v.label, "Doclea memories have no free metadata")
        if v.key is not None and v.key != record["id"] and v.key != title:
            report.lose("memories", "key", v.label, "the Kagura key is neither the id nor the title here (only unique text keys are)")
        memories.append(record)
    report.written += len(memories)
    memory_relations, cross = _doclea_relations(bundle, views, ids, report)
    for n in bundle.records.nodes:
        if isinstance(n.data, dict) and "memport" in n.data:
            report.merged += 1  # an endpoint a conversion to Kagura created: the relation carries it
        else:
            report.drop("nodes", "no graph nodes in doclea", n.id)
    # documents, chunks and pending memories exist only in Doclea bundles, which never get here
    doc = {
        "version": "1.0.0",
        "exportedAt": int(now.timestamp()),
        "backendType": "sqlite",
        "storageMode": "manual",
        "schemaVersion": "012",
        "data": {
            "memories": memories,
            "documents": [],
            "chunks": [],
            "memoryRelations": memory_relations,
            "crossLayerRelations": cross,
            "pendingMemories": [],
        },
        "metadata": {"totalMemories": len(memories)},
    }
    return doclea.from_native(doc)


def _js_number(value: float | int) -> float | int:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _doclea_ids(views: list[View]) -> dict[int, str]:
    """Free-text ids are kept; Kagura records use their key when it is a unique string."""
    keys = Counter(v.key for v in views if v.source_id is None and isinstance(v.key, str))
    ids: dict[int, str] = {}
    used: set[str] = set()
    for v in views:
        if isinstance(v.source_id, str):
            new = v.source_id
        elif isinstance(v.key, str) and keys[v.key] == 1:
            new = v.key
        else:
            new = "mem_" + derived_uuid(v.source_format, v.identity).replace("-", "")[:16]
        if new in used:
            new = "mem_" + derived_uuid(v.source_format, f"{v.identity}\x1f{len(used)}").replace("-", "")[:16]
        used.add(new)
        ids[id(v)] = new
    return ids


def _doclea_relations(
    bundle: Bundle, views: list[View], ids: dict[int, str], report: ConversionReport
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {"memory": [], "cross_layer": []}
    seen: set[Any] = set()

    def add(kind: str, row: dict[str, Any], from_record: Any) -> None:
        """Doclea keeps one row per id and per (source, target, type): a repeat is merged."""
        ends = (
            row.get("source_id", row.get("memory_id")),
            row.get("target_id", row.get("code_node_id")),
            row.get("type", row.get("relation_type")),
        )
        if row["id"] in seen or ends in seen:
            if from_record is not None:
                report.merged += 1
            report.lose("relations", "(record)", row["id"], "a repeated link between the same memories: Doclea keeps one")
            return
        seen.update((row["id"], ends))
        rows[kind].append(row)
        if from_record is not None:
            report.written += 1
        else:
            report.created += 1

    # relations a Tribal or Kagura source keeps as fields
    for v in views:
        for rel_type, targets in (("supersedes", [v.supersedes] if v.supersedes else []), ("related_to", v.related_to or [])):
            for target in targets:
                source_id = ids[id(v)]
                add(
                    "memory",
                    {
                        "id": nanoid_like("rel", source_id, target, rel_type),
                        "source_id": source_id,
                        "target_id": next((ids[id(w)] for w in views if _own_id(w) == target), target),
                        "type": rel_type,
                        "weight": 1,
                        "metadata": None,
                        "created_at": int((v.updated or v.created or EPOCH).timestamp() * 1000),
                    },
                    None,
                )
    key_to_id = {json.dumps(v.key): ids[id(v)] for v in views if v.key is not None}
    for rel in bundle.records.relations:
        # only Kagura edges get here: Doclea relations stay in Doclea, Tribal has none
        provenance = rel.data.get("memport") if isinstance(rel.data, dict) else None
        if isinstance(provenance, dict) and provenance.get("kind") in ("memory", "cross_layer"):
            add(provenance["kind"], _doclea_row_back(rel, provenance, key_to_id), rel)
            continue
        src = key_to_id.get(json.dumps(rel.source), rel.source if isinstance(rel.source, str) else json.dumps(rel.source))
        dst = key_to_id.get(json.dumps(rel.target), rel.target if isinstance(rel.target, str) else json.dumps(rel.target))
        created = rel.data.get("created_at") if isinstance(rel.data, dict) else None
        metadata = json.dumps(
            {"memport": {"rel_type": rel.type, "src": rel.source, "dst": rel.target, "data": rel.data}},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        weight = rel.weight if isinstance(rel.weight, (int, float)) and not isinstance(rel.weight, bool) else 1
        add(
            "memory",
            {
                "id": nanoid_like("edge", json.dumps(rel.source), json.dumps(rel.target)),
                "source_id": src,
                "target_id": dst,
                "type": KAGURA_TO_DOCLEA_REL.get(rel.type or "", "references"),
                "weight": _js_number(weight),
                "metadata": metadata,
                "created_at": _millis(created),
            },
            rel,
        )
    return rows["memory"], rows["cross_layer"]


def _doclea_row_back(rel: Relation, provenance: dict[str, Any], key_to_id: dict[str, str]) -> dict[str, Any]:
    """A Kagura edge that a conversion made from a Doclea relation: restore the original row."""
    if provenance["kind"] == "memory":
        return {
            "id": provenance.get("id"),
            "source_id": key_to_id.get(json.dumps(rel.source), rel.source),
            "target_id": key_to_id.get(json.dumps(rel.target), rel.target),
            "type": provenance.get("type"),
            "weight": provenance.get("weight", 1),
            "metadata": _metadata_text(provenance.get("metadata")),
            "created_at": provenance.get("created_at"),
        }
    return {
        "id": provenance.get("id"),
        "memory_id": key_to_id.get(json.dumps(rel.source), rel.source),
        "code_node_id": rel.target,
        "relation_type": provenance.get("type"),
        "direction": provenance.get("direction"),
        "confidence": provenance.get("confidence"),
        "metadata": _metadata_text(provenance.get("metadata")),
        "created_at": provenance.get("created_at"),
    }


def _metadata_text(value: Any) -> Any:
    from .jsonio import dumps_js_compact

    return None if value is None else dumps_js_compact(value)


def _millis(text: Any) -> int:
    if isinstance(text, str):
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return 0
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return int(dt.timestamp() * 1000)
    return 0


# ---------------------------------------------------------------------------------------------


def convert(
    bundle: Bundle,
    to: str,
    *,
    exported_at: datetime | None = None,
    user_id: str = "memport",
    agent_name: str = "global",
    local_tz: str | None = None,
) -> Bundle:
    """Convert ``bundle`` into format ``to``; the result's ``conversion`` attribute is the report.

    ``exported_at`` (aware datetime) is the export time written into the target; by default the
    source's own, so the output depends on the input only. ``user_id``/``agent_name`` own the
    memories when the target is Kagura and the source has no such identity.
    """
    if to not in TARGETS:
        raise ConversionError(f"unknown target format {to!r}; one of {', '.join(TARGETS)}")
    report = ConversionReport(bundle.format, to)
    report.input = sum(bundle.counts().values())
    if to == bundle.format:
        report.written = report.input
        bundle.conversion = report
        return bundle
    now = _export_time(bundle, exported_at)
    views = _views(bundle, report)
    tz = local_tz or bundle.meta.local_tz
    if to == "kagura":
        result = _to_kagura(bundle, views, report, now, user_id, agent_name, tz)
    elif to in ("tribal", "tribal-jsonl"):
        result = _to_tribal(bundle, views, report, now, jsonl=to == "tribal-jsonl")
    else:
        result = _to_doclea(bundle, views, report, now)
    result.conversion = report
    return result


def mapping_markdown() -> str:
    """docs/mapping.md, generated from MAPPING."""
    targets = list(MAPPING)
    lines = [
        "# Where each canonical field goes",
        "",
        "Generated from `memport/conversion.py` (`MAPPING`); `tests/test_convert.py` checks this file is current.",
        "An empty cell means the target has no home for the field: a conversion reports it in the loss report.",
        "",
        "| canonical field | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for name in MAPPING["kagura"]:
        cells = [MAPPING[t][name] or "**no home**" for t in targets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Identity: Kagura records are identified by scope, user, agent and key; Tribal and Doclea by id. Derived ids are "
        '`uuid5(5b1f5f4e-8f1e-5c7a-9a55-6d656d706f72, "<source format>:<identity>")` (Doclea: `mem_` and 16 hex digits of it), '
        "so the same input gives the same output.",
        "",
    ]
    return "\n".join(lines)
