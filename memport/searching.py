"""Search a store both ways: by keyword (SQLite's FTS5 index) and by meaning (the store's vectors).

* :func:`search_text`: the memories whose title or content hold every word of the query (a word
  ending in ``*`` as a prefix; ``syntax=True`` takes FTS5's query syntax), best first by bm25,
  each with a snippet of its text around the first match.
* :func:`search`: the memories and messages closest in meaning to the query, under the store's
  current embedding model (cosine similarity; ``min_score`` leaves out weaker ones). The model is
  loaded once per process and name and device (:func:`memport.embed.load_embedder`): the first
  query of a session loads it, the next ones only encode the query.

Both take :class:`memport.Filters` (``--user``, ``--agent``, ``--tag``, dates: a message has an
agent and a time, no user or tags) and give a DataFrame, one row per result: uid, kind, origin,
score (higher is better), title, content (and ``snippet``), user_id, agent_name, created_at (UTC).
It holds the raw values and shows them masked, as every frame does (:mod:`memport.masking`); a
snippet is never cut inside a secret (or away from what makes it one), so that it shows masked
whatever the whole text hides.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import MemportError
from .filters import Filters
from .frames import python_strings
from .masking import masked, sensitive_spans
from .store import Found, Store

SNIPPET = 160  # characters of text around a match, about two lines
COLUMNS = ["uid", "kind", "origin", "score", "title", "content", "user_id", "agent_name", "created_at"]


@contextmanager
def _opened(store: Store | str | Path) -> Iterator[Store]:
    """A store given as a path is opened read-only (and closed after)."""
    if isinstance(store, Store):
        yield store
        return
    with Store(store, readonly=True) as opened:
        yield opened


@python_strings
def search_text(store: Store | str | Path, query: str, k: int = 10, *, filters: Filters | None = None, syntax: bool = False) -> Any:
    """The ``k`` memories (of those ``filters`` select) whose title or content best match
    ``query`` (FTS5, bm25): a DataFrame of :data:`COLUMNS` and ``snippet``, best first (ties in the
    store's order). ``query`` is taken as typed: every word must match, in any order, and a word
    ending in ``*`` is a prefix; nothing in it is an operator, so no query is an error.
    ``syntax=True`` takes FTS5's query syntax instead (``"a phrase"``, ``OR``, ``NOT``, ``NEAR``,
    ``title:word``), and an error in it is a :class:`memport.store.SearchSyntaxError`."""
    _positive(k)
    with _opened(store) as opened:
        found = opened.search_text(query, k, filters if filters is not None and filters.active else None, syntax=syntax)
    return _frame(found, snippets=True)


@python_strings
def search(
    store: Store | str | Path,
    query: str,
    k: int = 5,
    *,
    filters: Filters | None = None,
    min_score: float | None = None,
    model: Any = None,
    device: str | None = None,
) -> Any:
    """The ``k`` memories and messages (of those ``filters`` select) closest in meaning to
    ``query`` under the store's current embedding model, with a cosine similarity of at least
    ``min_score``: a DataFrame of :data:`COLUMNS`, best first (ties in the order of uids).

    ``model``: the model to encode the query with (an embedder object, or a name), by default the
    one the store's vectors come from; ``device``: where to run it. Its fingerprint must be the
    store's (vectors of different models never mix)."""
    from .embed import EmbeddingError, load_embedder, loadable_name, nearest

    _positive(k)
    with _opened(store) as opened:
        fid = opened.setting("embedding_fingerprint")
        if fid is None:
            raise EmbeddingError("the store has no vectors yet; run memport reembed first")
        details = opened.fingerprint(fid) or {}
        embedder = model if model is not None and not isinstance(model, str) else load_embedder(model or loadable_name(details), device)
        allowed = opened.embedded_uids(filters) if filters is not None and filters.active else None
        hits = nearest(opened, fid, embedder, query, k, allowed=allowed, min_score=min_score)
        found = opened.found([uid for uid, _ in hits])
    for uid, score in hits:
        found[uid].score = score
    return _frame([found[uid] for uid, _ in hits if uid in found], snippets=False)


def _positive(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise MemportError(f"k must be a whole number of results, 1 or more (got {k!r})")


def _frame(found: list[Found], *, snippets: bool) -> Any:
    import pandas as pd

    rows = []
    for hit in found:
        row = {name: getattr(hit, name) for name in COLUMNS}
        if snippets:
            row["snippet"] = snippet(hit.content, [(start, end) for column, start, end in hit.matches or () if column == "content"])
        rows.append(row)
    names = [*COLUMNS[:5], "snippet", *COLUMNS[5:]] if snippets else COLUMNS
    frame = pd.DataFrame(rows, columns=names).astype({"score": "float64"})
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return masked(frame)


def records(found: Any) -> list[dict[str, Any]]:
    """A search's results as plain values (``memport search --json``): raw, times as UTC text."""
    import pandas as pd

    rows = pd.DataFrame(found).astype({"created_at": object}).to_dict("records")
    for row in rows:
        when = row["created_at"]
        row["created_at"] = None if when is None or pd.isna(when) else when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return rows


def snippet(text: str | None, matches: list[tuple[int, int]], width: int = SNIPPET) -> str | None:
    """About ``width`` characters of ``text`` around its first match (its start without one),
    ``…`` where it was cut; never cut inside what masking hides (:func:`memport.masking.sensitive_spans`),
    so that the snippet, shown masked, hides what the whole text hides."""
    if text is None or len(text) <= width:
        return text
    first = min(matches)[0] if matches else 0
    start = max(0, first - width // 4)
    end = min(len(text), start + width)
    start = max(0, end - width)
    for low, high in sensitive_spans(text):
        if low < start < high:
            start = low
        if low < end < high:
            end = high
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
