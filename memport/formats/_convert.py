"""Conversions between formats: the canonical view, deterministic ids, closed accounting, a loss report.

A conversion runs through one canonical view of the source: the source format's plugin gives it
(``to_canonical``: one :class:`View` per memory, the relations with the provenance earlier
conversions stored restored, and the records of the other kinds), and the target's plugin builds
its *native* records from it (``from_canonical``: the dicts its exporter would write), handed to its
own ``from_native``. So the result is a normal bundle of the target format: it validates, shows as
DataFrames and is written by the format's own writer. Neither side knows the other's format.

Identity: target ids derive from the source identity, ``uuid5(NAMESPACE, "<format>:<identity>")``
(Kagura's identity is scope, user, agent and key; Tribal's and Doclea's their id), so converting
the same bundle twice gives the same bytes and a later import matches the earlier one.

Provenance and fields a target has no column for travel where the target has room (Kagura's
persistent ``metadata``, Tribal's ``context``, Doclea relation ``metadata``, Kagura edge ``data``);
the format that stored them reads them back in its ``to_canonical``, so A -> B -> A restores what
B could hold.

Accounting is closed: ``input == written + merged + dropped``; records a target needs but the
source did not have as records (Kagura nodes for relation endpoints, Doclea relations made from
Tribal's ``supersedes``) are counted as ``created``. Every field that could not be carried is in
``losses`` with a count and example ids.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..bundle import TIMESTAMPS, Bundle
from ..errors import ConversionError
from ..frames import python_strings
from ..model import KINDS, BundleMeta, Chunk, Document, Embedding, Memory, Node, PendingMemory, Relation, Timestamp
from ..timestamps import NAIVE_LOCAL, naive_local_note
from . import Detection, NativeBundle, NativeRecord, plugin, plugins

NAMESPACE = uuid.UUID("5b1f5f4e-8f1e-5c7a-9a55-6d656d706f72")  # fixed: changing it changes every derived id
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# the canonical fields a target without a column for them may carry as provenance
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
# the rows of docs/mapping.md: canonical fields, then what travels as a whole
CANONICAL_FIELDS = (
    "id",
    "key",
    "scope",
    "user_id",
    "agent_name",
    "content",
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
    "metadata",
    "created_at",
    "updated_at",
    "accessed_at",
    "embedding",
    "doclea fields (relatedFiles, experts, qdrantId, ...)",
    "relations",
    "nodes",
    "documents",
    "chunks",
    "pending",
    "messages",
)


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
    # what the reader should know about how the source was read: naive local times read as UTC
    # because no zone was given (timestamps.naive_local_note); no loss, it changes nothing here
    notes: list[dict[str, Any]] = field(default_factory=list)

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
            "notes": list(self.notes),
        }

    def summary_line(self) -> str:
        dropped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items())) or "none"
        return (
            f"{self.source} -> {self.target}: input {self.input} = written {self.written} + merged {self.merged} "
            f"+ dropped {sum(self.dropped.values())} ({dropped}); created {self.created}"
        )

    @python_strings
    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [loss.to_dict() for _, loss in sorted(self.losses.items())], columns=["kind", "field", "count", "examples", "note"]
        )

    def _repr_html_(self) -> str:
        from ..masking import frame_html

        notes = "".join(f"<p>note: {html.escape(note['message'])}</p>" for note in self.notes)
        return (
            f"<p>{html.escape(self.summary_line())}</p>" + notes + (frame_html(self.to_frame()) if self.losses else "<p>nothing lost</p>")
        )


# ---------------------------------------------------------------------------------------------
# The canonical view


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
    # fields only the origin format has, by native key (Doclea's relatedFiles, experts, ...), and
    # which of them (native keys) and of the canonical fields (names) hold that format's own
    # defaults: a target short of room carries nothing for those
    native_only: dict[str, Any] = field(default_factory=dict)
    native_defaults: frozenset[str] = frozenset()
    defaults: frozenset[str] = frozenset()
    label: str = ""  # for examples in the loss report
    origin: str = ""  # the format the record first came from (provenance), else its source format
    # the time a target that requires one writes when the record has none: a time of the source
    # (never the clock), and where it came from, for the loss report
    fallback: datetime = EPOCH
    fallback_from: str = "1970-01-01, the source having no time"

    def __post_init__(self) -> None:
        self.origin = self.origin or self.source_format

    @property
    def own_id(self) -> Any:
        """The id other records of the *source* bundle use to point at this one."""
        return self.record.id if self.record.id is not None else self.source_id


# What a relation means, whatever its format: Kagura's closed list of edge types (the richest of
# the formats), plus Doclea's "supersedes" and "references", which Kagura has no type for. A source
# says what each of its relations means in these words, a target writes its own type for them.
MEANINGS = (
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
    "supersedes",
    "references",
)


@dataclass
class Link:
    """A relation as a conversion sees it: the canonical record (its ``kind``, Kagura ``edge`` or
    Doclea ``memory``/``cross_layer``, and its native ``type``), what it means (one of
    :data:`MEANINGS`), and the format it first came from (a relation an earlier conversion stored
    in this bundle is restored to what it was there)."""

    relation: Relation
    meaning: str
    origin: str


@dataclass
class Canonical:
    """A source bundle as a conversion sees it: a view per memory, a link per relation, and its
    records of the other kinds as they are."""

    format: str
    meta: BundleMeta
    memories: list[View]
    relations: list[Link] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    pending: list[PendingMemory] = field(default_factory=list)

    naive: int = 0  # naive local times of the bundle it was made of (see convert_native)

    def items(self) -> Iterator[Any]:
        """Its views, links and other records, in that order (what a target reads, as often as it needs)."""
        for kind in ("memories", "relations", "nodes", "documents", "chunks", "pending"):
            yield from getattr(self, kind)

    def naive_local_times(self) -> int:
        return self.naive


@dataclass
class RecordSource:
    """The native records of one bundle, read again at every call of ``records()``: a file, the
    store's records of one origin, or a bundle in memory; ``meta`` is what its top level says
    (export time, owner, vector model). A conversion reads its source as often as the target needs
    (a target with rules across records reads it once for the facts, once more to write), so
    nothing holds all records. ``load()`` gives the whole bundle, for a format whose conversion
    reads it whole (Letta: its records live inside its agents)."""

    format: str
    describe: Callable[[], BundleMeta]  # what the top level says now (a streamed document completes it as it is read)
    records: Callable[[], Iterator[NativeRecord]]
    load: Callable[[], Bundle]
    label: str = ""

    @property
    def meta(self) -> BundleMeta:
        return self.describe()

    @classmethod
    def of_bundle(cls, bundle: Bundle) -> RecordSource:
        fmt = plugin(bundle.format)
        label = bundle.path or f"<{bundle.format} bundle>"
        return cls(bundle.format, lambda: bundle.meta, lambda: fmt.bundle_records(bundle), lambda: bundle, label)


def file_source(path: Path, detection: Detection, local_tz: str | None = None) -> RecordSource:
    """A bundle on disk as a conversion's source: its records read from the file at every read
    (a format read whole, Letta, once). Its top level as detection read it, completed as the
    records are read (a document's members after its records)."""
    fmt = plugin(detection.format)
    if not fmt.streams:
        return RecordSource.of_bundle(fmt.read(path, detection, local_tz))
    header, layout = fmt.header(path, detection), fmt.layout(path, detection)

    def describe() -> BundleMeta:
        meta = fmt.read_native(NativeBundle(fmt.name, header, lambda kind: iter(()), layout, local_tz)).meta
        meta.version = detection.version
        return meta

    return RecordSource(fmt.name, describe, lambda: fmt.records(path, detection), lambda: fmt.read(path, detection, local_tz), str(path))


class StreamedCanonical:
    """A source read record by record as the canonical view: ``items()`` reads the source again
    and gives a :class:`View` per memory, a :class:`Link` per relation and the records of the other
    kinds, in the source's order. What the source side reports (fields it could not interpret,
    records it merges, the input count) goes into the conversion's report on the first read only."""

    def __init__(self, format: str, source: RecordSource, make: Callable[[ConversionReport], Iterator[Any]], report: ConversionReport):
        self.format, self.source = format, source
        self._make, self._report, self._reported = make, report, False
        self._naive = 0

    @property
    def meta(self) -> BundleMeta:
        return self.source.meta

    def items(self) -> Iterator[Any]:
        if self._reported:
            return self._make(ConversionReport(self._report.source, self._report.target))
        self._reported = True
        return self._first(self._make(self._report))

    def _first(self, items: Iterator[Any]) -> Iterator[Any]:
        """The first read, which also counts the naive local times (see convert_native)."""
        for item in items:
            self._naive += _naive_in(item)
            yield item

    def naive_local_times(self) -> int:
        return _naive(self.meta.exported_at) + self._naive


def listed(canonical: Any) -> Canonical:
    """A canonical view as lists (for a target that builds its file whole: Letta)."""
    if isinstance(canonical, Canonical):
        return canonical
    found = Canonical(canonical.format, canonical.meta, [])
    lists = {View: found.memories, Link: found.relations, Node: found.nodes, Document: found.documents, Chunk: found.chunks}
    for item in canonical.items():
        lists.get(type(item), found.pending).append(item)
    return found


def whole(source: RecordSource, report: ConversionReport, to_canonical: Callable[[Bundle, ConversionReport], Canonical]) -> Canonical:
    """The canonical view of a source read whole (Letta), its input counted."""
    bundle = source.load()
    report.input = sum(bundle.counts().values())
    canonical = to_canonical(bundle, report)
    canonical.naive = naive_local_times(bundle)
    return canonical


@dataclass(frozen=True)
class Target:
    """What a conversion is asked to produce: the format, the export time written into it, the
    owner of memories that have none (Kagura), and the zone of naive local times."""

    format: str
    now: datetime
    user_id: str = "memport"
    agent_name: str = "global"
    local_tz: str = "UTC"


def utc(ts: Timestamp | None) -> datetime | None:
    return ts.utc if ts is not None else None


def report_extras(bundle: Bundle, report: ConversionReport, consumed: tuple[str, ...] = ()) -> None:
    """:func:`record_extras` of every memory, relation and node of a bundle."""
    for kind in ("memories", "relations", "nodes"):
        for record in getattr(bundle.records, kind):
            record_extras(kind, record, report, consumed)


def record_extras(kind: str, record: Any, report: ConversionReport, consumed: tuple[str, ...] = ()) -> None:
    """Native values the source format had but memport could not interpret (unknown fields,
    values of the wrong type) survive only in their own format: in a conversion they are lost.
    ``consumed`` names the memories' extra keys the source's view carries after all."""
    for key in record.extra:
        if not (kind == "memories" and key in consumed):
            report.lose(
                kind,
                key,
                getattr(record, "id", None) or getattr(record, "key", None),
                "a native value memport could not interpret (unknown field or wrong type) is carried only within its own format",
            )


def id_views(bundle: Bundle, family: str) -> list[View]:
    """The views of a format whose memories have ids (Tribal, Doclea); ``family`` is the source
    format as provenance and derived ids name it (Tribal's stream is ``tribal``)."""
    exported = utc(bundle.meta.exported_at)
    return [id_view(m, family, exported) for m in bundle.records.memories]


def id_view(m: Memory, family: str, exported: datetime | None) -> View:
    """The view of one memory of a format whose memories have ids; ``exported``: the bundle's
    export time (what a target that requires times falls back to)."""
    ident = m.id if isinstance(m.id, str) else json.dumps(m.extra.get("id"))
    v = View(
        m,
        family,
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
        created=utc(m.created_at),
        updated=utc(m.updated_at) or utc(m.accessed_at),
        embedding=m.embedding,
        label=str(m.id),
    )
    if exported is not None:
        v.fallback, v.fallback_from = exported, "the bundle's export time"
    return v


def an_object(record: NativeRecord) -> Any:
    """A record's value, which must be a JSON object (a conversion refuses others, as reading does)."""
    if type(record.value) is not dict:
        from ..errors import Location, MalformedInputError

        where = Location(record.file, line=record.line, record=record.record)
        raise MalformedInputError(f"expected a JSON object, got {type(record.value).__name__}", where)
    return record.value


def required_times(v: View, report: ConversionReport, target: str) -> tuple[datetime, datetime]:
    """(created, updated) for a target that requires both: the source's; the other one where one
    is missing; where both are, the view's fallback (a time of the source, never the clock). What
    was filled, and from what, goes into the loss report."""
    if v.created is not None and v.updated is not None:
        return v.created, v.updated
    if v.created is None and v.updated is None:
        note = f"missing in the source; {target} requires it: filled with {v.fallback_from} ({v.fallback.isoformat()})"
        report.lose("memories", "created_at", v.label, note)
        report.lose("memories", "updated_at", v.label, note)
        return v.fallback, v.fallback
    if v.created is None:
        report.lose("memories", "created_at", v.label, f"missing in the source; {target} requires it: filled with the update time")
        return v.updated, v.updated  # type: ignore[return-value]
    report.lose("memories", "updated_at", v.label, f"missing in the source; {target} requires it: filled with the creation time")
    return v.created, v.created


# ---------------------------------------------------------------------------------------------
# Helpers shared by the targets


def derived_uuid(source_format: str, identity: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{source_format}:{identity}"))


def nanoid_like(*parts: str) -> str:
    """A deterministic 21-character id from Doclea's nanoid alphabet."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).decode()[:21]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str, v: View, field_name: str, report: ConversionReport, target: str) -> str:
    """Text with lone UTF-16 surrogates, which Tribal's store rejects and Doclea's text columns
    replace by U+FFFD: replaced the same way here, and reported."""
    if not _LONE_SURROGATE.search(text):
        return text
    report.lose("memories", field_name, v.label, f"lone UTF-16 surrogates replaced by U+FFFD ({target} cannot store them)")
    return _LONE_SURROGATE.sub("\ufffd", text)


def clean_optional(text: str | None, v: View, field_name: str, report: ConversionReport, target: str) -> str | None:
    return None if text is None else clean(text, v, field_name, report, target)


def content_text(v: View, report: ConversionReport, target: str) -> str:
    """The content as text, for a target whose content is text."""
    if isinstance(v.content, str):
        return clean(v.content, v, "content", report, target)
    report.lose("memories", "content", v.label, f"a non-text value is written as JSON text ({target} content is text)")
    return clean(json.dumps(v.content, ensure_ascii=False), v, "content", report, target)


def export_time(canonical: Any, exported_at: datetime | None) -> datetime:
    if exported_at is not None:
        return exported_at.astimezone(UTC)
    if canonical.meta.exported_at is not None and canonical.meta.exported_at.utc is not None:
        return canonical.meta.exported_at.utc
    # no export time in the source (a crashed Kagura export): the latest record time, so that
    # the output still depends on the input only
    latest = EPOCH
    for item in canonical.items():
        if isinstance(item, View):
            m = item.record
            for t in (m.exported_at, m.updated_at, m.created_at):
                if t is not None and t.utc and t.utc > latest:
                    latest = t.utc
    return latest


def lose_vectors(views: list[View], report: ConversionReport, target: str) -> None:
    for v in views:
        lose_vector(v, report, target)


def lose_vector(v: View, report: ConversionReport, target: str) -> None:
    if v.embedding is not None and v.embedding.vector:
        report.lose("memories", "embedding", v.label, f"{target} holds no vectors: re-embed after import")


def drop_all(canonical: Canonical, kinds: tuple[str, ...], report: ConversionReport, target: str) -> None:
    for kind in kinds:
        for record in getattr(canonical, kind):
            report.drop(kind, f"no {kind} in {target}", getattr(record, "id", None))


KIND_OF_ITEM = {Node: "nodes", Document: "documents", Chunk: "chunks", PendingMemory: "pending"}


def drop_item(item: Any, kinds: tuple[str, ...], report: ConversionReport, target: str) -> bool:
    """Report a record of one of ``kinds`` (a target has no place for) dropped; whether it was one."""
    kind = KIND_OF_ITEM.get(type(item))
    if kind is None or kind not in kinds:
        return False
    report.drop(kind, f"no {kind} in {target}", getattr(item, "id", None))
    return True


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
    _known(to)
    if to == bundle.format:
        result = plugin(to).rewrite(bundle, exported_at)
        if result is bundle:  # written back as read: everything carried
            total = sum(bundle.counts().values())
            result.conversion = ConversionReport(bundle.format, to, input=total, written=total)
        return result
    native, report = convert_native(
        RecordSource.of_bundle(bundle), to, exported_at=exported_at, user_id=user_id, agent_name=agent_name, local_tz=local_tz
    )
    result = plugin(to).read_native(native)  # reading the records completes the report
    result.conversion = report
    return result


def convert_native(
    source: RecordSource,
    to: str,
    *,
    exported_at: datetime | None = None,
    user_id: str = "memport",
    agent_name: str = "global",
    local_tz: str | None = None,
) -> tuple[NativeBundle, ConversionReport]:
    """Convert the records of ``source`` (another format than ``to``) as native records of ``to``,
    read and written record by record (see :class:`RecordSource`). The report is complete once the
    records have all been read (written, or read into a bundle); naive local times read without a
    zone are said in its notes."""
    _known(to)
    report = ConversionReport(source.format, to)
    canonical = plugin(source.format).to_canonical(source, report)
    target = Target(to, export_time(canonical, exported_at), user_id, agent_name, local_tz or source.meta.local_tz)
    built = plugin(to).from_canonical(canonical, target, report)
    if source.meta.local_tz is None and local_tz is None:  # the source was read by now (the target's first read)
        report.notes = naive_local_note(canonical.naive_local_times())
    return (built if isinstance(built, NativeBundle) else plugin(to).native(built)), report


def _known(to: str) -> None:
    targets = [p.name for p in plugins()]
    if to not in targets:
        raise ConversionError(f"unknown target format {to!r}; one of {', '.join(targets)}")


def naive_local_times(bundle: Bundle) -> int:
    """How many of a bundle's times were read as naive local time (in the dialects that mean the
    exporting machine's zone, and parsed): what ``naive_local_times`` of its format's plugin counts
    in the native records and header, counted here on the canonical ones."""
    return _naive(bundle.meta.exported_at) + sum(_naive_in(record) for kind in KINDS for record in getattr(bundle.records, kind))


def _naive(stamp: Any) -> int:
    return 1 if isinstance(stamp, Timestamp) and stamp.dialect in NAIVE_LOCAL and stamp.utc is not None else 0


def _naive_in(item: Any) -> int:
    """Naive local times of one record (of a view, its memory; of a link, its relation)."""
    record = item.record if isinstance(item, View) else item.relation if isinstance(item, Link) else item
    return sum(_naive(getattr(record, name, None)) for name in TIMESTAMPS)


def mapping_markdown() -> str:
    """docs/mapping.md, generated from each format's ``mapping``."""
    found = {p.name: p.mapping for p in plugins() if p.mapping}  # the formats a conversion can write
    targets = list(found)
    lines = [
        "# Where each canonical field goes",
        "",
        "Generated from each format's `mapping` (`memport/formats/<format>/convert.py`); `tests/test_convert.py` checks this file is current.",
        "An empty cell means the target has no home for the field: a conversion reports it in the loss report.",
        "",
        "| canonical field | " + " | ".join(targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for name in CANONICAL_FIELDS:
        cells = [found[t].get(name) or "**no home**" for t in targets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Identity: Kagura records are identified by scope, user, agent and key; Tribal and Doclea by id; Letta blocks by the "
        "agents listing them and their label. Derived ids are "
        '`uuid5(5b1f5f4e-8f1e-5c7a-9a55-6d656d706f72, "<source format>:<identity>")` (Doclea: `mem_` and 16 hex digits of it), '
        "so the same input gives the same output.",
        "",
    ]
    return "\n".join(lines)
