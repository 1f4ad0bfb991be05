"""Tribal in conversions: its entries as the canonical view, and a Tribal bundle or stream built from one.

Tribal keeps ids its LanceDB store accepts (``[A-Za-z0-9-]+``; others are derived), one model for
all vectors, its ``source_type`` enum, and no relations but ``supersedes``/``related_to``. What it
has no column for travels in ``context`` when the source has none: a line starting with
``memport-provenance:`` and a JSON object, which reading the bundle back restores.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from ...keys import key64
from ...model import EmbeddingModel
from .. import NativeBundle, family
from .._convert import (
    ConversionReport,
    Link,
    RecordSource,
    StreamedCanonical,
    Target,
    View,
    an_object,
    clean,
    clean_optional,
    content_text,
    derived_uuid,
    drop_item,
    id_view,
    record_extras,
    required_times,
    utc,
)
from .codec import ENTRY, JSONL_NAME, NAME, Context

PROVENANCE_PREFIX = "memport-provenance: "
SOURCE_TYPES = ("user_explicit", "auto_capture", "correction", "cross_instance", "legacy", "unknown")
ID = re.compile(r"^[A-Za-z0-9-]+$")

# where each canonical field goes when Tribal is the target (docs/mapping.md)
MAPPING = {
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
}
JSONL_MAPPING = {**MAPPING, "embedding": "embedding (the stream has no manifest: the model identity is lost)"}


# ---------------------------------------------------------------------------------------------
# Tribal as the source


def to_canonical(source: RecordSource, report: ConversionReport) -> StreamedCanonical:
    """The entries of a bundle or stream, one view each, read as often as the target needs."""
    meta = source.meta
    model = meta.embedding_model
    ctx = Context(model.name if model else None, model.dimensions if model else None)
    exported = utc(meta.exported_at)

    def items(report: ConversionReport) -> Iterator[View]:
        for record in source.records():
            report.input += 1
            m = ENTRY.decode(an_object(record), ctx)
            record_extras("memories", m, report)
            v = id_view(m, NAME, exported)
            _restore_provenance(v)
            yield v

    return StreamedCanonical(NAME, source, items, report)


def _restore_provenance(v: View) -> None:
    """A context written by a conversion carries the fields Tribal has no column for."""
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
    origin = data.get("source_format") if isinstance(data.get("source_format"), str) else None
    if origin is not None and isinstance(fields.get(origin), dict):
        v.native_only = fields[origin]
        v.native_defaults = family(origin).native_defaults(v.native_only)
    if fields.get("content_json") and isinstance(v.content, str):
        try:
            v.content = json.loads(v.content)
        except ValueError:
            pass
    if isinstance(data.get("source_id"), str):
        v.source_id = data["source_id"]
    if origin is not None:
        v.origin = origin


# ---------------------------------------------------------------------------------------------
# Tribal as the target


def from_canonical(canonical: Any, target: Target, report: ConversionReport) -> NativeBundle:
    """A Tribal bundle (or, for ``tribal-jsonl``, its stream), entry by entry. The facts a Tribal
    bundle needs from all of them come first, from one or two reads of the source: how many entries
    (the manifest counts them, before them), the one vector model, and where the relations (as
    entry fields) and references lead (see :class:`_Facts`); then the entries are written from
    another read."""
    jsonl = target.format == JSONL_NAME
    facts = _Facts(canonical)
    model = facts.model
    if jsonl:
        header = None
    else:
        manifest_model = model or canonical.meta.embedding_model or EmbeddingModel()
        embedding: dict[str, Any] = {"model_name": manifest_model.name or "unknown", "dimensions": manifest_model.dimensions or 384}
        if manifest_model.provider:
            embedding["provider"] = manifest_model.provider
        manifest = {"schema_version": "1.0", "embedding": embedding, "memory_count": facts.count, "exported_at": target.now.isoformat()}
        header = {"manifest": manifest, "entries": None}

    def records(kind: str) -> Iterator[dict[str, Any]]:
        return _entries(canonical, facts, target, report) if kind == "memories" else iter(())

    layout = {"model": model.model_dump() if model else None} if jsonl else None
    return NativeBundle(target.format, header, records, layout, target.local_tz)


def _entries(canonical: Any, facts: _Facts, target: Target, report: ConversionReport) -> Iterator[dict[str, Any]]:
    name = target.format
    ids = _Ids()
    for item in canonical.items():
        if isinstance(item, Link):
            facts.fold(item, report)
            continue
        if not isinstance(item, View):
            drop_item(item, ("nodes", "documents", "chunks", "pending"), report, name)
            continue
        v = item
        facts.vector_of(v, report, name)
        entry_id = ids.assign(v)
        vector = v.embedding.vector if v.embedding is not None and v.embedding.vector else None
        created, updated = required_times(v, report, NAME)
        source_type = v.source_type if v.source_type in SOURCE_TYPES else "unknown"
        if v.source_type is not None and v.source_type != source_type:
            report.lose("memories", "source_type", v.label, f"{v.source_type!r} is not a Tribal source_type: written as unknown")
        supersedes, related = facts.folds.get(entry_id, (None, []))
        report.written += 1
        yield {
            "id": entry_id,
            "content": content_text(v, report, name),
            "embedding": vector,
            "source_instance": v.source_instance if v.source_instance is not None else "unknown",
            "source_type": source_type,
            "created_at": created.astimezone(UTC).isoformat(),
            "updated_at": updated.astimezone(UTC).isoformat(),
            "tags": [clean(t, v, "tags", report, name) for t in v.tags or []],
            "context": clean_optional(_context(v, report, entry_id), v, "context", report, name),
            "confidence": v.confidence if isinstance(v.confidence, (int, float)) and not isinstance(v.confidence, bool) else 1.0,
            "supersedes": supersedes if supersedes is not None else facts.mapped(v.supersedes),
            "related_to": related + [r for r in (facts.mapped(x) for x in (v.related_to or [])) if r is not None and r not in related],
        }


def _natural(reference: str, source_format: str) -> str:
    """The id a reference of the source leads to when its entry kept its id (or had it derived)."""
    return reference if ID.match(reference) else derived_uuid(source_format, reference)


class _Ids:
    """Entry ids in source order: the source id where Tribal's store accepts it, else derived from
    the source identity; a duplicate in the source stays separate (its id derived with its place)."""

    def __init__(self) -> None:
        self.used: set[int] = set()  # 64-bit keys of the ids given so far

    def assign(self, v: View) -> str:
        keep = isinstance(v.source_id, str) and ID.match(v.source_id)
        new = v.source_id if keep else derived_uuid(v.source_format, v.identity)
        if key64(new.encode("utf-8", "surrogatepass")) in self.used:
            new = derived_uuid(v.source_format, f"{v.identity}\x1f{len(self.used)}")
        self.used.add(key64(new.encode("utf-8", "surrogatepass")))
        return new  # type: ignore[return-value]


class _Facts:
    """What writing the entries needs from all of them, read before the first is written: their
    number, the one vector model (or none), the ids references lead to where that is not the id
    the reference names (or derives), and the relations folded into the entries' supersedes /
    related_to. Memory: a 64-bit key per entry; strings only for references and relations."""

    def __init__(self, canonical: Any):
        self.count = 0
        self.source_format = canonical.format
        identities: set[tuple[Any, int]] = set()
        self.own: set[int] = set()  # keys of the ids the source's entries are referred to by
        referenced: set[int] = set()
        for item in canonical.items():
            if isinstance(item, View):
                self.count += 1
                e = item.embedding
                if e is not None and e.vector and all(math.isfinite(x) for x in e.vector):
                    identities.add((e.model, len(e.vector)))
                if isinstance(item.own_id, str):
                    self.own.add(_key(item.own_id))
                for ref in [item.supersedes, *(item.related_to or [])]:
                    if isinstance(ref, str):
                        referenced.add(_key(ref))
            elif isinstance(item, Link):
                for end in (item.relation.source, item.relation.target):
                    if isinstance(end, str):
                        referenced.add(_key(end))
        self.model, self.vector_note = _one_model(identities)
        # the ids the first and the last entry with a referenced source id got, where not the natural one
        self.first: dict[str, str] = {}
        self.last: dict[str, str] = {}
        # the relations as entry fields: entry id -> (supersedes, related_to)
        self.folds: dict[str, tuple[str | None, list[str]]] = {}
        self._reported: dict[str, tuple[str | None, list[str]]] = {}  # the same, made again while writing (for the report)
        if referenced:
            ids, met = _Ids(), set()
            scratch = ConversionReport(canonical.format, "")
            for item in canonical.items():
                if isinstance(item, Link):
                    self._fold(item, scratch, self.folds)
                if not isinstance(item, View):
                    continue
                assigned, own = ids.assign(item), item.own_id
                if isinstance(own, str) and _key(own) in referenced:
                    natural = _natural(own, self.source_format)
                    if own not in met:
                        met.add(own)
                        if assigned != natural:
                            self.first[own] = assigned
                    if assigned != natural:
                        self.last[own] = assigned
                    else:
                        self.last.pop(own, None)

    def vector_of(self, v: View, report: ConversionReport, target: str) -> None:
        """One model and one dimension for every vector, or none are carried."""
        if v.embedding is None:
            return
        if not all(math.isfinite(x) for x in v.embedding.vector):
            report.lose("memories", "embedding", v.label, "a vector with NaN or Infinity: Tribal's store rejects it, re-embed after import")
            v.embedding = None
        elif self.model is None:
            if v.embedding.vector:
                report.lose("memories", "embedding", v.label, self.vector_note)
            v.embedding = None
        elif target == JSONL_NAME:
            report.lose("memories", "embedding model", v.label, "the JSONL stream has no manifest, so the vectors' model is not named")

    def mapped(self, reference: str | None) -> str | None:
        """A reference of the source, as the id its entry got (the first entry with that id;
        dangling ones derived too)."""
        if reference is None:
            return None
        return self.first.get(reference) or _natural(reference, self.source_format)

    def by_source(self, reference: Any) -> str | None:
        """The id the last entry with this source id got, if an entry has it."""
        if not isinstance(reference, str) or _key(reference) not in self.own:
            return None
        return self.last.get(reference) or _natural(reference, self.source_format)

    def fold(self, link: Link, report: ConversionReport) -> None:
        """A relation met while writing: reported as folding it did (the folds are made already)."""
        self._fold(link, report, self._reported)

    def _fold(self, link: Link, report: ConversionReport, folds: dict[str, tuple[str | None, list[str]]]) -> None:
        """A relation between memories, folded into the source entry's supersedes / related_to."""
        rel = link.relation
        entry_id = self.by_source(rel.source) if rel.kind == "memory" else None
        if entry_id is None:
            reason = (
                "no graph in tribal"
                if rel.kind == "edge"
                else "no code-graph links in tribal"
                if rel.kind == "cross_layer"
                else "relation from a memory not in the bundle"
            )
            report.drop("relations", reason, rel.id or f"{rel.source}->{rel.target}")
            return
        target = self.by_source(rel.target) or self.mapped(rel.target)
        supersedes, related = folds.get(entry_id, (None, []))
        if link.meaning == "supersedes" and supersedes is None:
            supersedes = target
        elif target not in related:
            related = [*related, target]
            if rel.type not in ("related_to", None):
                report.lose("relations", "type", rel.id, "Tribal's related_to has no relation type")
        else:
            report.merged += 1
            folds[entry_id] = (supersedes, related)
            return
        for name in ("weight", "metadata", "created_at", "id"):
            if getattr(rel, name) is not None:
                report.lose("relations", name, rel.id, "Tribal keeps only the ids of related memories")
        folds[entry_id] = (supersedes, related)
        report.merged += 1  # folded into the entry's supersedes / related_to


def _key(text: str) -> int:
    return key64(text.encode("utf-8", "surrogatepass"))


def _informative(v: View) -> dict[str, Any]:
    """The fields of a view that Tribal has no column for, less what holds its origin's defaults."""
    fields: dict[str, Any] = {}
    for name in ("key", "scope", "user_id", "agent_name", "metadata", "title", "summary", "type", "importance"):
        value = getattr(v, name)
        if value is not None and name not in v.defaults:
            fields[name] = value
    native = {k: value for k, value in v.native_only.items() if k not in v.native_defaults}
    if native:
        fields[v.origin] = native
    return fields


def _context(v: View, report: ConversionReport, entry_id: str) -> str | None:
    fields = _informative(v)
    if not isinstance(v.content, str) and v.content is not None:
        fields["content_json"] = True
    if v.origin == NAME:
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


def _one_model(identities: set[tuple[Any, int]]) -> tuple[EmbeddingModel | None, str]:
    """The model of every (finite) vector when they share one model and dimension, else None and
    why none are carried."""
    if len(identities) == 1:
        name, dims = next(iter(identities))
        if name is not None:
            return EmbeddingModel(name=name, dimensions=dims), ""
        return None, "the source does not name the vectors' model (a JSONL stream), so Tribal could not match it: re-embed after import"
    return None, f"vectors come from {len(identities)} model/dimension combinations; a Tribal bundle holds one: re-embed after import"
