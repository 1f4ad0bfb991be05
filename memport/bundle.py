"""A bundle in memory: its metadata, its records, and pandas views of them for inspection.

``bundle.records.memories`` (and relations, nodes, documents, chunks, pending, messages) are the canonical
records; ``bundle.memories`` and friends are DataFrames built from them on each access, with real
dtypes: UTC datetimes, categories for closed vocabularies, nullable integers and floats. Native
values that did not fit a canonical column appear in ``extra.<native key>`` columns.

The frames hold the raw values but show them masked (:class:`memport.masking.MaskedFrame`), as
does the bundle's own HTML: ``bundle.frame(kind, reveal=True)`` or ``frame.reveal()`` shows them
in clear.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .frames import python_strings
from .model import KINDS, BundleMeta, Chunk, Document, Memory, Message, Node, PendingMemory, Record, Relation, Timestamp

if TYPE_CHECKING:
    import pandas as pd

# canonical attributes whose values form a closed vocabulary in at least one format
CATEGORICAL = {"scope", "type", "source_type", "kind", "direction", "source", "role"}
INTEGER = {"start_offset", "end_offset"}
FLOAT = {"importance", "confidence", "weight"}
BOOLEAN = {"in_context"}
HIDDEN = {"extra", "layout", "origin"}
TIMESTAMPS = {"created_at", "updated_at", "accessed_at", "exported_at", "suggested_at"}


@dataclass
class Records:
    memories: list[Memory] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    pending: list[PendingMemory] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # conversations (Letta); the other formats have none


class Bundle:
    """An export of one memory system, read into the canonical model."""

    def __init__(
        self, meta: BundleMeta, records: Records | None = None, *, path: str | None = None, columns: dict[str, list[str]] | None = None
    ):
        self.meta = meta
        self.records = records or Records()
        self.path = path
        # the canonical columns this bundle's format has, per kind (set by the reader)
        self.columns = columns or {}
        # for a bundle made by memport.convert: what the conversion carried, merged and lost
        self.conversion: Any = None

    @property
    def format(self) -> str:
        return self.meta.format

    @property
    def version(self) -> str | None:
        return self.meta.version

    def counts(self) -> dict[str, int]:
        """Records per kind; the shape of ``memport inspect --json``'s ``counts``."""
        return {kind: len(getattr(self.records, kind)) for kind in KINDS}

    def summary(self) -> dict[str, Any]:
        """Format, version, counts and the bundle's own description of itself."""
        meta = self.meta
        model = meta.embedding_model
        return {
            "format": meta.format,
            "version": meta.version,
            "path": self.path,
            "counts": self.counts(),
            "exported_at": _iso(meta.exported_at),
            "user_id": meta.user_id,
            "agent_name": meta.agent_name,
            "embedding_model": model.name if model else None,
            "embedding_dimensions": model.dimensions if model else None,
            "storage_mode": meta.storage_mode,
            "backend_type": meta.backend_type,
            "schema_version": meta.schema_version,
            "vectors": sum(1 for m in self.records.memories if m.embedding is not None),
        }

    # DataFrame views -------------------------------------------------------------------------

    def frame(self, kind: str, *, reveal: bool = False) -> pd.DataFrame:
        """The records of ``kind`` as a DataFrame (see the module docstring for the dtypes), shown
        masked unless ``reveal``."""
        from .masking import masked

        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        frame = records_frame(getattr(self.records, kind), self.columns.get(kind) or _default_columns(kind))
        return frame if reveal else masked(frame)

    @property
    def memories(self) -> pd.DataFrame:
        return self.frame("memories")

    @property
    def relations(self) -> pd.DataFrame:
        return self.frame("relations")

    @property
    def nodes(self) -> pd.DataFrame:
        return self.frame("nodes")

    @property
    def documents(self) -> pd.DataFrame:
        return self.frame("documents")

    @property
    def chunks(self) -> pd.DataFrame:
        return self.frame("chunks")

    @property
    def pending(self) -> pd.DataFrame:
        return self.frame("pending")

    @property
    def messages(self) -> pd.DataFrame:
        return self.frame("messages")

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items() if v)
        return f"<Bundle {self.meta.format} {self.meta.version} {counts or 'empty'}>"

    def _repr_html_(self) -> str:
        from .explore import display_page, table_html
        from .masking import mask_text

        summary = self.summary()
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(mask_text(str(v)))}</td></tr>"
            for k, v in summary.items()
            if k != "counts" and v is not None
        )
        counts = "".join(f"<td>{n}</td>" for n in summary["counts"].values())
        heads = "".join(f"<th>{html.escape(k)}</th>" for k in summary["counts"])
        preview = ""
        if self.records.memories:
            first = display_page(self.frame("memories", reveal=True).head(5))
            preview = "<p>first memories:</p>" + table_html(first)
        return f"<table>{rows}</table><table><tr>{heads}</tr><tr>{counts}</tr></table>{preview}"


def _iso(ts: Timestamp | None) -> str | None:
    return ts.utc.isoformat() if ts is not None and ts.utc is not None else None


_MODELS: dict[str, type[Record]] = {
    "memories": Memory,
    "relations": Relation,
    "nodes": Node,
    "documents": Document,
    "chunks": Chunk,
    "pending": PendingMemory,
    "messages": Message,
}


def _default_columns(kind: str) -> list[str]:
    return [name for name in _MODELS[kind].model_fields if name not in HIDDEN]


@python_strings
def records_frame(records: list[Record], columns: list[str]) -> pd.DataFrame:
    """Build a typed DataFrame column by column (much faster than one dict per row)."""
    import pandas as pd

    data: dict[str, Any] = {}
    for name in columns:
        values = [getattr(r, name) for r in records]
        data[name] = _column(name, values, pd)
        if name == "embedding":
            data["embedding_model"] = pd.Series([e.model if e else None for e in values], dtype="string")
    extra_keys: dict[str, None] = {}
    for r in records:
        for key in r.extra:
            extra_keys.setdefault(key, None)
    for key in extra_keys:
        # infer a real dtype (Int64, boolean, string) where the native values allow one
        data[f"extra.{key}"] = pd.Series([r.extra.get(key) for r in records], dtype=object).convert_dtypes()
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


def _column(name: str, values: list[Any], pd: Any) -> Any:
    if name in TIMESTAMPS:
        return pd.Series([v.utc if isinstance(v, Timestamp) and v.utc is not None else None for v in values], dtype="datetime64[us, UTC]")
    if name == "embedding":
        return pd.Series([e.vector if e else None for e in values], dtype=object)
    if name in CATEGORICAL:
        return pd.Series(values, dtype="category")
    if name in INTEGER:
        return pd.Series(values, dtype="Int64")
    if name in FLOAT:
        return pd.Series([float(v) if v is not None else None for v in values], dtype="Float64")
    if name in BOOLEAN:
        return pd.Series(values, dtype="boolean")
    if name in (
        "user_id",
        "agent_name",
        "title",
        "content",
        "summary",
        "source_instance",
        "context",
        "supersedes",
        "id",
        "agent_id",
        "document_id",
        "content_hash",
        "reason",
    ) and all(v is None or isinstance(v, str) for v in values):
        return pd.Series(values, dtype="string")
    return pd.Series(values, dtype=object)
