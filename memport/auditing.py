"""Audits of a bundle or a store: who and what is in it, when, duplicated, dangling, and sensitive.

``memport.audit(bundle_or_store)`` returns an :class:`Audit` of DataFrames: counts by user, agent,
scope, type and tag, a monthly timeline, duplicate texts, dangling references, secrets and personal
data found (API keys, tokens, passwords, e-mail addresses, phone numbers), and texts longer than the
embedding model reads. Findings are **always masked** when shown: only a prefix and the length of
a secret leave this module.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .bundle import Bundle
from .formats import family, plugin
from .timestamps import UTC

# (kind, pattern): ordered from specific to generic; a span matched once is not reported again
SENSITIVE = [
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("api key", re.compile(r"\b(?:sk|pk|rk)-(?:live-|test-|proj-)?[A-Za-z0-9_-]{16,}\b")),
    ("api key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("api key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("token", re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}\b")),
    ("token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")),
    ("password", re.compile(r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|token)\s*[:=]\s*\S{4,}")),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    ("phone", re.compile(r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}[ .-]\d{3,4}[ .-]\d{3,4}(?![\w.])")),
]


def mask(value: str) -> str:
    """A finding as it may be shown: its first characters, then its length."""
    keep = 2 if len(value) < 12 else 4
    return f"{value[:keep]}{'*' * 6}({len(value)} chars)"


def find_sensitive(text: str) -> list[tuple[str, str]]:
    """(kind, masked value) for every secret or personal datum in ``text``."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in SENSITIVE:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((kind, mask(m.group())))
    return found


@dataclass
class Item:
    """One memory as the audit sees it, whatever it came from."""

    uid: str
    user: str | None
    agent: str | None
    scope: str | None
    type: str | None
    tags: list[str]
    text: str
    created: Any  # pandas-compatible datetime or None


@dataclass
class Audit:
    """Everything found, as DataFrames; ``_repr_html_`` shows it with small bar charts."""

    total: int
    by: dict[str, Any] = field(default_factory=dict)  # user, agent, scope, type, tag -> frame
    timeline: Any = None
    duplicates: Any = None
    dangling: Any = None
    sensitive: Any = None
    too_long: Any = None

    def summary(self) -> dict[str, int]:
        return {
            "memories": self.total,
            "duplicate_groups": len(self.duplicates),
            "dangling": len(self.dangling),
            "sensitive": len(self.sensitive),
            "too_long": len(self.too_long),
        }

    def _repr_html_(self) -> str:
        parts = [f"<h4>Audit of {self.total} memories</h4>", "<p>" + ", ".join(f"{k}: {v}" for k, v in self.summary().items()) + "</p>"]
        for name, frame in self.by.items():
            if len(frame):
                parts.append(f"<b>by {html.escape(name)}</b>" + _bars(frame.head(15), "count"))
        if self.timeline is not None and len(self.timeline):
            parts.append("<b>timeline (memories created per month)</b>" + _bars(self.timeline, "count"))
        for title, frame in (
            ("secrets and personal data (masked)", self.sensitive),
            ("duplicate texts", self.duplicates),
            ("dangling references", self.dangling),
            ("longer than the embedding model reads", self.too_long),
        ):
            if frame is not None and len(frame):
                parts.append(f"<b>{title}</b>" + frame.head(50).to_html(index=False))
        return "".join(parts)


def _bars(frame: Any, column: str) -> str:
    return frame.style.bar(subset=[column], color="#8fb3de").hide(axis="index").to_html()


def audit(target: Any, *, max_tokens: int = 256, count_tokens: Any = None) -> Audit:
    """Audit a Bundle or a Store.

    ``max_tokens`` is what the embedding model reads (all-MiniLM-L6-v2: 256); ``count_tokens``
    (a function of a list of texts) counts exactly, for instance ``memport.embed.load_embedder().count_tokens``;
    without it tokens are estimated as characters / 4, and the column says so.
    """
    import pandas as pd

    items, dangling = _bundle_items(target) if isinstance(target, Bundle) else _store_items(target)
    frame = pd.DataFrame([vars(i) for i in items], columns=["uid", "user", "agent", "scope", "type", "tags", "text", "created"])
    result = Audit(total=len(items))
    for name in ("user", "agent", "scope", "type"):
        counts = frame[name].fillna("(none)").value_counts()
        result.by[name] = counts.rename_axis(name).reset_index(name="count")
    tags = Counter(t for ts in frame["tags"] for t in ts)
    result.by["tag"] = pd.DataFrame(tags.most_common(), columns=["tag", "count"])
    created = pd.to_datetime(frame["created"], utc=True, errors="coerce").dropna()
    months = created.dt.strftime("%Y-%m").value_counts().sort_index()
    result.timeline = months.rename_axis("month").reset_index(name="count")
    groups = frame.groupby("text")["uid"].apply(list)
    result.duplicates = pd.DataFrame(
        [{"text": mask_text(t), "count": len(u), "uids": u} for t, u in groups.items() if len(u) > 1], columns=["text", "count", "uids"]
    )
    result.dangling = pd.DataFrame(dangling, columns=["relation", "end", "missing"])
    findings = [{"uid": i.uid, "kind": kind, "masked": masked} for i in items for kind, masked in find_sensitive(i.text)]
    result.sensitive = pd.DataFrame(findings, columns=["uid", "kind", "masked"])
    texts = [i.text for i in items]
    if count_tokens is not None:
        tokens, how = (count_tokens(texts) if texts else []), "counted"
    else:
        tokens, how = [len(t) // 4 for t in texts], "estimated (characters / 4)"
    long_rows = [{"uid": i.uid, "tokens": n, "max_tokens": max_tokens, "how": how} for i, n in zip(items, tokens) if n > max_tokens]
    result.too_long = pd.DataFrame(long_rows, columns=["uid", "tokens", "max_tokens", "how"])
    return result


def mask_text(text: str) -> str:
    """A text with every secret and personal datum in it masked (for display)."""
    for _kind, pattern in SENSITIVE:
        text = pattern.sub(lambda m: mask(m.group()), text)
    return text if len(text) <= 120 else text[:120] + "..."


def _bundle_items(bundle: Any) -> tuple[list[Item], list[tuple[str, str, str]]]:
    fmt = plugin(bundle.format)
    items = []
    for record in fmt.bundle_records(bundle):
        if record.kind == "memories":
            # the same index the store keeps: Kagura's tags live in its metadata, for instance
            i = fmt.index("memories", record.value, UTC)
            items.append(
                Item(i.identity, i.user_id, i.agent_name, i.scope, i.type, list(i.tags or []), fmt.embed_text(record.value), i.created_at)
            )

    def records() -> Iterator[tuple[str, str, Any]]:
        return ((fmt.family, r.kind, r.value) for r in fmt.bundle_records(bundle))

    return items, _dangling(records)


def _store_items(store: Any) -> tuple[list[Item], list[tuple[str, str, str]]]:
    items = []
    for row in store.memory_rows():
        text = family(row["origin"]).embed_text(row["native"])
        items.append(Item(row["uid"], row["user_id"], row["agent_name"], row["scope"], row["type"], row["tags"], text, row["created_at"]))

    def records() -> Iterator[tuple[str, str, Any]]:
        for kind in ("memories", "relations", "nodes", "documents", "chunks"):
            for _, origin, native in store.records_of(kind):
                yield origin, kind, native

    return items, _dangling(records)


def _dangling(records: Any) -> list[tuple[str, str, str]]:
    """(record, end, missing) for every reference a record makes (its format's ``references``)
    that names no record of the kind it should, within its origin format. ``records()`` yields
    (origin, kind, native) and is read twice: the names first, then the references."""
    known: dict[tuple[str, str], set[str]] = {}
    for origin, kind, native in records():
        end = family(origin).end(kind, native)
        if end is not None:
            known.setdefault((origin, kind), set()).add(end)
    dangling = []
    for origin, kind, native in records():
        fmt = family(origin)
        for ref in fmt.references(kind, native):
            if ref.ref not in known.get((origin, ref.kind), ()):
                dangling.append((fmt.identity(kind, native), ref.end, ref.ref))
    return dangling
