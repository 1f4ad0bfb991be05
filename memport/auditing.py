"""Audits of a bundle or a store: who and what is in it, when, duplicated, dangling, and sensitive.

``memport.audit(bundle_or_store)`` returns an :class:`Audit` of DataFrames: counts by user, agent,
scope, type, source and tag, a monthly timeline (every month from the first to the last, empty ones
included; memories without a creation time counted apart), duplicate texts, dangling references,
secrets and personal data found anywhere in a memory (its text, key, ids, tags and metadata), and
texts longer than the embedding model reads. Displayed, it is charts and tables (:meth:`Audit.charts`).

What is secret and how it is shown is :mod:`memport.masking`'s policy: findings hold only the kind,
where and the masked value, and every frame here shows its cells masked.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .bundle import Bundle
from .formats import family, plugin
from .frames import python_strings
from .masking import find_sensitive, frame_html, is_secret_key, mask, mask_text, masked, may_hold_secret, shorten
from .timestamps import UTC

# how many bars a chart of counts shows; the rest are summed into one "other" bar
TOP = 12


@dataclass
class Item:
    """One memory as the audit sees it, whatever it came from."""

    uid: str
    user: str | None
    agent: str | None
    scope: str | None
    type: str | None
    source: str | None
    tags: list[str]
    text: str
    created: Any  # pandas-compatible datetime or None
    findings: list[tuple[str, str, str]]  # (field, kind, masked value)


@dataclass
class Audit:
    """Everything found, as DataFrames; displayed, charts and tables (``_repr_html_``)."""

    total: int
    by: dict[str, Any] = field(default_factory=dict)  # user, agent, scope, type, source, tag -> frame
    timeline: Any = None  # month (first instant, UTC), count: every month from the first to the last
    undated: int = 0  # memories without a creation time (not in the timeline)
    duplicates: Any = None
    dangling: Any = None
    sensitive: Any = None
    too_long: Any = None

    def summary(self) -> dict[str, int]:
        return {
            "memories": self.total,
            "undated": self.undated,
            "duplicate_groups": len(self.duplicates),
            "dangling": len(self.dangling),
            "sensitive": len(self.sensitive),
            "too_long": len(self.too_long),
        }

    def __repr__(self) -> str:
        return "<Audit " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.summary().items()) + ">"

    def charts(self) -> dict[str, str]:
        """The audit's charts as inline SVG, by name: ``timeline``, ``user``, ``agent``, ``source``,
        ``type``, ``duplicates``, ``dangling``, ``sensitive`` (only those with something to show)."""
        from . import charts

        out: dict[str, str] = {}
        if self.timeline is not None and len(self.timeline):
            note = f"{_memories(self.undated)} of {self.total} without a creation time: not in this chart" if self.undated else None
            out["timeline"] = charts.timeline(
                list(self.timeline["month"]), list(self.timeline["count"]), "Memories created per month", note=note
            )
        elif self.total:
            out["timeline"] = charts.bars(["no creation time"], [self.undated], "Memories created per month")
        for name in ("user", "agent", "source", "type"):
            frame = self.by.get(name)
            if frame is not None and len(frame) and not (len(frame) == 1 and frame[name].iloc[0] == NONE):
                labels, counts = _top(frame[name], frame["count"])
                out[name] = charts.bars(labels, counts, f"Memories by {name}", note=_more(len(frame)))
        if len(self.duplicates):
            labels, counts = _top(self.duplicates["text"], self.duplicates["count"])
            out["duplicates"] = charts.bars(labels, counts, "Duplicate texts (copies)", note=_more(len(self.duplicates)))
        if len(self.dangling):
            kinds = self.dangling["end"].value_counts()
            out["dangling"] = charts.bars(list(kinds.index), list(kinds), "Dangling references (by end)")
        if len(self.sensitive):
            kinds = self.sensitive["kind"].value_counts()
            out["sensitive"] = charts.bars(list(kinds.index), list(kinds), "Secrets and personal data found (masked)")
        return out

    def _repr_html_(self) -> str:
        summary = ", ".join(f"{html.escape(k.replace('_', ' '))}: {v}" for k, v in self.summary().items())
        parts = [f"<h4>Audit of {self.total} memories</h4><p>{summary}</p>"]
        if self.undated:
            parts.append(f"<p>{_memories(self.undated)} without a creation time: counted, but not in the timeline.</p>")
        charts = self.charts()
        if charts:
            cells = "".join(f"<div style='flex:0 0 auto'>{svg}</div>" for svg in charts.values())
            parts.append(f"<div class='memport-charts' style='display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start'>{cells}</div>")
        empty = []
        for title, frame in (
            ("Secrets and personal data (masked)", self.sensitive),
            ("Duplicate texts", self.duplicates),
            ("Dangling references", self.dangling),
            ("Longer than the embedding model reads", self.too_long),
        ):
            if frame is None or not len(frame):
                empty.append(title.split(" (")[0].lower())
                continue
            shown = f" (the first 50 of {len(frame)})" if len(frame) > 50 else ""
            table = frame_html(frame.head(50), index=False, na_rep="")
            parts.append(f"<h5>{html.escape(title)}{shown}</h5><div style='overflow-x:auto'>{table}</div>")
        if empty:
            parts.append(f"<p>None found: {html.escape(', '.join(empty))}.</p>")
        return "".join(parts)


NONE = "(none)"


def _memories(n: int) -> str:
    return f"{n} memory" if n == 1 else f"{n} memories"


def _top(labels: Any, counts: Any) -> tuple[list[str], list[int]]:
    """The first ``TOP`` bars (labels masked and shortened), the rest summed into one."""
    labels, counts = list(labels), [int(n) for n in counts]
    shown = [shorten(mask_text(str(label)), 40) for label in labels[:TOP]]
    rest = counts[TOP:]
    if rest:
        return [*shown, f"{len(rest)} others"], [*counts[:TOP], sum(rest)]
    return shown, counts[:TOP]


def _more(values: int) -> str | None:
    return f"{values} values: the {TOP} largest shown, the rest summed" if values > TOP else None


@python_strings
def audit(target: Any, *, max_tokens: int = 256, count_tokens: Any = None) -> Audit:
    """Audit a Bundle or a Store.

    ``max_tokens`` is what the embedding model reads (all-MiniLM-L6-v2: 256); ``count_tokens``
    (a function of a list of texts) counts exactly, for instance ``memport.embed.load_embedder().count_tokens``;
    without it tokens are estimated as characters / 4, and the column says so.
    """
    import pandas as pd

    items, dangling = _bundle_items(target) if isinstance(target, Bundle) else _store_items(target)
    frame = pd.DataFrame(
        [vars(i) for i in items], columns=["uid", "user", "agent", "scope", "type", "source", "tags", "text", "created", "findings"]
    )
    result = Audit(total=len(items))
    for name in ("user", "agent", "scope", "type", "source"):
        counts = frame[name].fillna(NONE).value_counts()
        # most first, ties in name order: the same audit every time
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        result.by[name] = masked(pd.DataFrame(ordered, columns=[name, "count"]))
    tags = Counter(t for ts in frame["tags"] for t in ts)
    result.by["tag"] = masked(pd.DataFrame(sorted(tags.items(), key=lambda kv: (-kv[1], kv[0])), columns=["tag", "count"]))
    result.timeline, result.undated = _timeline(frame["created"], pd)
    groups = frame.groupby("text", sort=True)["uid"].apply(list)
    duplicates = [{"text": shorten(mask_text(t), 120), "count": len(u), "uids": u} for t, u in groups.items() if len(u) > 1]
    duplicates.sort(key=lambda d: -d["count"])
    result.duplicates = masked(pd.DataFrame(duplicates, columns=["text", "count", "uids"]))
    result.dangling = masked(pd.DataFrame(dangling, columns=["relation", "end", "missing"]))
    findings = [{"uid": i.uid, "field": where, "kind": kind, "masked": shown} for i in items for where, kind, shown in i.findings]
    result.sensitive = masked(pd.DataFrame(findings, columns=["uid", "field", "kind", "masked"]))
    texts = [i.text for i in items]
    if count_tokens is not None:
        tokens, how = (count_tokens(texts) if texts else []), "counted"
    else:
        tokens, how = [len(t) // 4 for t in texts], "estimated (characters / 4)"
    long_rows = [{"uid": i.uid, "tokens": n, "max_tokens": max_tokens, "how": how} for i, n in zip(items, tokens) if n > max_tokens]
    result.too_long = masked(pd.DataFrame(long_rows, columns=["uid", "tokens", "max_tokens", "how"]))
    return result


@python_strings
def _timeline(created: Any, pd: Any) -> tuple[Any, int]:
    """Memories created per month, every month from the first to the last (empty ones as 0), and
    how many have no creation time."""
    when = pd.to_datetime(created, utc=True, errors="coerce")
    undated = int(when.isna().sum())
    when = when.dropna()
    if not len(when):
        return pd.DataFrame({"month": pd.Series([], dtype="datetime64[us, UTC]"), "count": pd.Series([], dtype="int64")}), undated
    keys = when.dt.strftime("%Y-%m")
    counts = keys.value_counts()
    months = pd.date_range(pd.Timestamp(keys.min() + "-01", tz="UTC"), pd.Timestamp(keys.max() + "-01", tz="UTC"), freq="MS")
    frame = pd.DataFrame(
        {"month": months.astype("datetime64[us, UTC]"), "count": [int(counts.get(m.strftime("%Y-%m"), 0)) for m in months]}
    )
    return frame, undated


def sensitive_fields(value: Any, path: str = "") -> list[tuple[str, str, str]]:
    """(field, kind, masked value) for every secret in a native record: in its text, keys, ids,
    tags and metadata, recursively; a field named like a secret counts whole."""
    if not path and not may_hold_secret(json.dumps(value, ensure_ascii=False, default=str)):
        return []  # most records: one look at the whole instead of one per string
    found: list[tuple[str, str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += [(f"{path or '$'} (a key)", kind, shown) for kind, shown in find_sensitive(str(key))]
            if is_secret_key(key) and item not in (None, "", [], {}):
                text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, default=str)
                found.append((mask_text(where), "secret", mask(text, "secret")))
            else:
                found += sensitive_fields(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += sensitive_fields(item, f"{path}[{index}]")
    elif isinstance(value, str):
        found += [(mask_text(path), kind, shown) for kind, shown in find_sensitive(value)]
    return found


def _bundle_items(bundle: Any) -> tuple[list[Item], list[tuple[str, str, str]]]:
    fmt = plugin(bundle.format)
    items = []
    for record in fmt.bundle_records(bundle):
        if record.kind == "memories":
            # the same index the store keeps: Kagura's tags live in its metadata, for instance
            i = fmt.index("memories", record.value, UTC)
            items.append(
                Item(
                    i.identity,
                    i.user_id,
                    i.agent_name,
                    i.scope,
                    i.type,
                    fmt.came_from(record.value),
                    list(i.tags or []),
                    fmt.embed_text(record.value),
                    i.created_at,
                    sensitive_fields(record.value),
                )
            )

    def records() -> Iterator[tuple[str, str, Any]]:
        return ((fmt.family, r.kind, r.value) for r in fmt.bundle_records(bundle))

    return items, _dangling(records)


def _store_items(store: Any) -> tuple[list[Item], list[tuple[str, str, str]]]:
    items = []
    for row in store.memory_rows():
        fmt, value = family(row["origin"]), row["native"]
        items.append(
            Item(
                row["uid"],
                row["user_id"],
                row["agent_name"],
                row["scope"],
                row["type"],
                fmt.came_from(value),
                row["tags"],
                fmt.embed_text(value),
                row["created_at"],
                sensitive_fields(value),
            )
        )

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
