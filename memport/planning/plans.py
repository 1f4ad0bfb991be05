"""Plans: what an import would do, shown and decided before anything is written, and done.

:func:`plan` is a dry run: it reads the bundle, decides every record against the store
(:mod:`memport.planning.evaluate`) and keeps the accounting and the rows worth showing. A
:class:`Plan` shows them (``summary``, ``to_frame``, ``details``, ``diff``, HTML), previews decisions
(``preview``), makes them (``decide``, ``rule``) and applies itself (``apply``, the one way a plan
is applied: the same evaluator writes, in one transaction, refusing if the store changed since).
:func:`import_bundle` is the import without a plan first.
"""

from __future__ import annotations

import contextlib
import html
import itertools
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..bundle import Bundle
from ..errors import Location, MemportError
from ..filters import Filters
from ..formats._jsonl import lines_at
from ..frames import python_strings
from ..jsonio import loads
from ..keys import content_key, hex_key
from ..masking import frame_html, masked
from ..parallel import context as process_context
from ..parallel import worth_two
from ..store import Store
from ..timestamps import naive_local_note, zone
from .decisions import Decision, field_diff, load_decisions
from .evaluate import ACTIONS, CODE, EmptyStore, Evaluator, Row, gc_paused
from .large import import_in_two, plan_in_two
from .source import Source, source_of


class ConflictError(MemportError):
    """The ``error`` strategy met a conflict: nothing was written."""


class StalePlanError(MemportError):
    """The store changed between the dry run and its application."""


class Plan:
    """What an import would do, one row per incoming record, and the means to do it."""

    def __init__(
        self,
        source: Source,
        store: Store,
        strategy: str,
        decisions: dict[str, Decision],
        filters: Filters,
        local_tz: str | None,
        clear: bool,
        vectors: str = "auto",
    ):
        self.source, self.store, self.strategy, self.decisions, self.filters = source, store, strategy, decisions, filters
        self.local_tz, self.clear, self.vectors = local_tz, clear, vectors
        self.generation = store.generation()
        self.actions = array("b")
        self.counts: Counter = Counter()
        # the rows worth showing one by one: everything but plain inserts and unchanged records
        self._notable: list[Row] = []
        options = dict(strategy=strategy, decisions=decisions, filters=filters, local_tz=local_tz, vectors=vectors)
        evaluator = Evaluator(source, EmptyStore(store) if clear else store, **options)
        split = None if clear else _splittable(source, store)
        # how the plan was computed (for benchmarks and the curious): "one process", or two
        # processes with the store's "preloaded state" or its "line keys"
        self.method = "one process"
        with gc_paused():
            if split is None:
                self._collect(evaluator.lean_rows(source.records()))
            else:
                self.method = plan_in_two(evaluator, source, store, split.memories, options, self.actions, self._notable)
                self._collect(evaluator.lean_rows(split.rest(), start=len(self.actions)))
        evaluator.finish()
        self.counts = Counter({ACTIONS[number]: n for number, n in enumerate(_tally(self.actions)) if n})
        self.unused_decisions = evaluator.unused_decisions
        self.needs_reembedding = evaluator.needs_reembedding
        self.local_times = evaluator.local_times

    def _collect(self, rows: Iterable[tuple[str, Row | None]]) -> None:
        code = CODE
        append, notable = self.actions.append, self._notable
        for action, row in rows:
            append(code[action])
            if row is not None:
                notable.append(row)

    @property
    def notable(self) -> list[Row]:
        """The rows worth showing one by one: all but plain inserts and unchanged records, in bundle
        order, each with the native fields that differ from the stored record (found on first use:
        a dry run's counts need none of them, and they cost a read of both sides)."""
        if any(row.fields is None for row in self._notable):
            self._find_fields([row for row in self._notable if row.fields is None])
        return self._notable

    def _find_fields(self, rows: list[Row]) -> None:
        """Fill in ``fields`` of rows that differ from a stored record: the incoming records are read
        again (and must still be those planned), the stored ones a batch at a time."""
        if self.store.generation() != self.generation:
            raise StalePlanError("the store changed since this plan was made; make a new plan")
        try:
            incoming = self._incoming(rows)
        except (OSError, MemportError) as err:  # gone, or no longer what was planned
            raise StalePlanError(f"{self.source.label} changed since this plan was made ({err}); make a new plan") from None
        volatile = self.source.plugin.volatile
        stored: dict[str, Any] = {}
        for kind in {row.kind for row in rows}:
            stored.update(self.store.natives_of(kind, [row.uid for row in rows if row.kind == kind]))
        for row in rows:
            value, exact = incoming.get(row.position, (None, False))
            if row.position not in incoming or hex_key(content_key(value, exact, volatile)) != row.incoming_hash:
                raise StalePlanError(f"{self.source.label} changed since this plan was made; make a new plan")
            old = stored.get(row.uid)
            row.fields = list(field_diff(old, value)) if old is not None else []

    def _incoming(self, rows: list[Row]) -> dict[int, tuple[Any, bool]]:
        """position -> (value, exact) of the incoming records of ``rows``. A JSON Lines record is
        read from its line alone, as the plan parsed it (orjson where that is exact, else the
        standard library); the others by reading the bundle's records again."""
        incoming: dict[int, tuple[Any, bool]] = {}
        for name in {row.file for row in rows if row.line is not None and row.file is not None}:
            lined = [row for row in rows if row.file == name and row.line is not None]
            found = lines_at(Path(name), {row.line for row in lined})
            for row in lined:
                if row.line in found:
                    parsed = loads(found[row.line].rstrip(b"\r\n"), Location(name, line=row.line))
                    incoming[row.position] = (parsed.value, parsed.exact)
        positions = {row.position for row in rows} - incoming.keys()
        if positions:
            incoming.update((i, (record.value, record.exact)) for i, record in enumerate(self.source.records()) if i in positions)
        return incoming

    @property
    def total(self) -> int:
        return len(self.actions)

    @property
    def ok(self) -> bool:
        """False when the ``error`` strategy met a conflict: applying would write nothing."""
        return not (self.strategy == "error" and self.counts["conflict"])

    def summary(self) -> dict[str, Any]:
        """The accounting: total = inserted + updated + unchanged + skipped + conflicts + invalid
        (see :func:`accounting`)."""
        return {
            **accounting(self.counts, self._notable),
            "dry_run": True,
            "backup": None,
            "needs_reembedding": self.needs_reembedding,
            "unused_decisions": self.unused_decisions,
            "notes": naive_local_note(self.local_times, WRITTEN),
        }

    def conflicts(self) -> list[Row]:
        return [r for r in self.notable if r.action == "conflict"]

    def decide(self, uid: str, choice: str, fields: dict[str, str] | None = None) -> Decision:
        """A decision about one differing record, bound to both sides as they are now."""
        row = next((r for r in self._notable if r.uid == uid and r.existing_hash is not None), None)
        if row is None:
            raise MemportError(f"{uid} is not a record that differs from the store in this plan")
        return Decision(uid, choice, row.existing_hash, row.incoming_hash, fields)

    def details(self, rows: list[Row] | None = None) -> list[dict[str, Any]]:
        """For records that differ from the store: both sides, the native fields that differ, the
        incoming record's tags, user and agent (None where its format has none) and both update
        times (what a merge decision is made on)."""
        chosen = [r for r in (self._notable if rows is None else rows) if r.existing_hash is not None]
        incoming = {position: value for position, (value, _) in self._incoming(chosen).items()}
        tz = zone(self.local_tz)
        fmt = self.source.plugin
        out = []
        for r in chosen:
            new = incoming.get(r.position)
            old = self.store.native(r.kind, r.uid)
            item = fmt.index(r.kind, new, tz) if isinstance(new, dict) else None
            out.append(
                {
                    "uid": r.uid,
                    "kind": r.kind,
                    "action": r.action,
                    "reason": r.reason,
                    "stored": old,
                    "incoming": new,
                    "diff": field_diff(old, new) if old is not None else {},
                    "tags": (item.tags or []) if item else [],
                    "user_id": item.user_id if item else None,
                    "agent_name": item.agent_name if item else None,
                    "incoming_updated": item.updated_at if item else None,
                    "stored_updated": self.store.updated_at(r.kind, r.uid),
                }
            )
        return out

    def rule(
        self, choice: str, *, tag: str | None = None, newer: bool = False, details: list[dict[str, Any]] | None = None
    ) -> list[Decision]:
        """Decisions for many records at once: every differing record (tagged ``tag``, if given)
        gets ``choice``; with ``newer``, the incoming record is taken only where its updated_at is
        strictly later, and the stored one kept otherwise ("take newer for everything tagged X")."""
        decisions = []
        for d in details if details is not None else self.details():
            if tag is not None and tag not in d["tags"]:
                continue
            pick = choice
            if newer:
                later = (
                    d["incoming_updated"] is not None and d["stored_updated"] is not None and d["incoming_updated"] > d["stored_updated"]
                )
                pick = "take" if later else "keep"
            decisions.append(self.decide(d["uid"], pick))
        return decisions

    def preview(self, decisions: dict[str, Decision]) -> dict[str, Any]:
        """The accounting applying ``decisions`` (on top of this plan's strategy) would give: the
        same dry run again (:meth:`replan`), so that duplicates inside the bundle, merged fields and
        every other case count as the real run counts them (a tally of the decisions alone said
        "updated 2" where the import updated one record and found its duplicate unchanged)."""
        return self.replan(decisions, strategy=self.strategy).summary()

    def to_frame(self) -> Any:
        """The notable rows (all but plain inserts and unchanged records) with their field diffs and
        the rules of their own system they break; shown masked (``.reveal()`` for the raw uids)."""
        return masked(self._frame(self.notable))

    @python_strings
    def _frame(self, rows: list[Row]) -> Any:
        import pandas as pd

        frame = pd.DataFrame(
            [
                {
                    "position": r.position,
                    "kind": r.kind,
                    "uid": r.uid,
                    "action": r.action,
                    "reason": r.reason,
                    "fields": r.fields,
                    "problems": r.problems,
                    "file": r.file,
                    "line": r.line,
                    "record": r.record,
                }
                for r in rows
            ],
            columns=["position", "kind", "uid", "action", "reason", "fields", "problems", "file", "line", "record"],
        )
        frame["action"] = pd.Categorical(frame["action"], categories=list(ACTIONS))
        frame["line"] = frame["line"].astype("Int64")
        frame["record"] = frame["record"].astype("Int64")
        return frame

    def diff(self, uid: str) -> dict[str, tuple[Any, Any]]:
        """Field-level diff of one differing record: native key -> (stored, incoming)."""
        row = next((r for r in self._notable if r.uid == uid), None)
        if row is None:
            raise MemportError(f"{uid} does not differ from the store in this plan")
        incoming = self._incoming([row])
        if row.position not in incoming:
            raise StalePlanError(f"{self.source.label} changed since this plan was made; make a new plan")
        return field_diff(self.store.native(row.kind, uid), incoming[row.position][0])

    def _repr_html_(self) -> str:
        heads = "".join(f"<th>{k}</th>" for k, v in self.summary().items() if isinstance(v, int) and not isinstance(v, bool))
        counts = "".join(f"<td>{v}</td>" for v in self.summary().values() if isinstance(v, int) and not isinstance(v, bool))
        head = f"<p>plan for <b>{html.escape(self.source.label)}</b> with strategy <b>{html.escape(self.strategy)}</b></p>"
        table = f"<table><tr>{heads}</tr><tr>{counts}</tr></table>"
        try:
            rows = self.notable
        except StalePlanError as err:  # shown after apply(), say: the rows stand, their field diffs cannot be found now
            rows, head = self._notable, head + f"<p>{html.escape(str(err))} (fields that differ not shown)</p>"
        # uids carry identities (a Kagura key, say), which may hold secrets: shown masked
        return head + table + (frame_html(self._frame(rows[:200]), index=False) if rows else "")

    def replan(self, decisions: dict[str, Decision] | None = None, *, strategy: str | None = None) -> Plan:
        """The same dry run again with other decisions (and strategy, ``manual`` when decisions are
        given): exactly what applying them would do. A merge UI previews a person's choices with it
        and applies the result (:meth:`apply`), so what is applied is what was shown."""
        chosen = strategy or ("manual" if decisions is not None else self.strategy)
        return Plan(
            self.source,
            self.store,
            chosen,
            self.decisions if decisions is None else dict(decisions),
            self.filters,
            self.local_tz,
            self.clear,
            self.vectors,
        )

    def apply(self) -> dict[str, Any]:
        """Do what the plan says, in one transaction; refuses if the store changed since."""
        if self.store.generation() != self.generation:
            raise StalePlanError("the store changed since this plan was made; make a new plan")
        # the field diffs, found while the store is as planned: the plan still shows them afterwards
        # (and a bundle whose differing records changed since is refused before anything is written)
        _ = self.notable
        result = import_bundle(
            self.source,
            self.store,
            strategy=self.strategy,
            decisions=self.decisions,
            filters=self.filters,
            local_tz=self.local_tz,
            clear=self.clear,
            vectors=self.vectors,
        )
        expected = {k: v for k, v in self.summary().items() if k not in ("dry_run", "backup")}
        got = {k: v for k, v in result.items() if k in expected}
        if got != expected:  # cannot happen while the store is unchanged: the same code decided both
            raise StalePlanError(f"the import did not match its plan ({got} versus {expected})")
        return result


def accounting(counts: Counter, rows: list[Row]) -> dict[str, Any]:
    """What an import does, closed: total = inserted + updated + unchanged + skipped + conflicts +
    invalid. ``problems`` counts the records written that their own system's importer would
    reject (memport keeps them, with the codes of the rules they break); ``not_imported`` names the
    records memport cannot hold at all (not a JSON object), which are the ``invalid`` ones."""
    return {
        "inserted": counts["insert"],
        "updated": counts["update"],
        "unchanged": counts["unchanged"],
        "skipped": counts["skip"],
        "conflicts": counts["conflict"],
        "invalid": counts["invalid"],
        "total": sum(counts.values()),
        "problems": sum(1 for r in rows if r.problems and r.action in ("insert", "update")),
        "not_imported": [
            {"kind": r.kind, "code": r.reason, "file": r.file, "line": r.line, "record": r.record} for r in rows if r.action == "invalid"
        ],
    }


def _tally(actions: array) -> list[int]:
    import numpy as np

    return np.bincount(np.frombuffer(actions, dtype=np.int8), minlength=len(ACTIONS)).tolist() if actions else [0] * len(ACTIONS)


def plan(
    bundle: str | Path | Bundle,
    store: Store,
    *,
    strategy: str = "skip",
    decisions: dict[str, Decision] | str | Path | None = None,
    filters: Filters | None = None,
    local_tz: str | None = None,
    clear: bool = False,
    vectors: str = "auto",
    format: str | None = None,
) -> Plan:
    """A dry run: what importing ``bundle`` into ``store`` would do, without writing anything.
    ``vectors`` (auto, keep, drop) says what becomes of vectors a bundle carries; ``format`` names
    the bundle's format (only that one is tried, see :func:`memport.detect`)."""
    if isinstance(decisions, (str, Path)):
        decisions = load_decisions(decisions)
    return Plan(
        source_of(bundle, format) if not isinstance(bundle, Source) else bundle,
        store,
        strategy,
        decisions or {},
        filters or Filters(),
        local_tz,
        clear,
        vectors,
    )


# what an import's note on naive local times counts: the records it writes take their times in
WRITTEN = "in the records written"


# an import this many records or more (and at least as many as the store holds) rebuilds the
# full-text index once instead of updating it row by row
BULK_RECORDS = 20_000


_BYTES_PER_RECORD = 300  # what one memory takes in a bundle, roughly: only used to estimate


def _large(source: Source, store: Store) -> bool:
    if source.path is None:
        return False
    size = sum(f.stat().st_size for f in source.path.iterdir()) if source.path.is_dir() else source.path.stat().st_size
    estimate = size // _BYTES_PER_RECORD
    return estimate >= BULK_RECORDS and estimate >= store.counts()["memories"]


def import_bundle(
    bundle: str | Path | Bundle | Source,
    store: Store,
    *,
    strategy: str = "skip",
    decisions: dict[str, Decision] | str | Path | None = None,
    filters: Filters | None = None,
    local_tz: str | None = None,
    clear: bool = False,
    vectors: str = "auto",
    format: str | None = None,
) -> dict[str, Any]:
    """Import in one transaction: all of it lands or none of it. ``clear`` empties the store first;
    it and the ``overwrite`` strategy, which replace stored data, take a backup first (its path is
    in the result). Returns the accounting (the shape of ``memport import --json``). ``format``
    names the bundle's format (only that one is tried, see :func:`memport.detect`)."""
    source = bundle if isinstance(bundle, Source) else source_of(bundle, format)
    if isinstance(decisions, (str, Path)):
        decisions = load_decisions(decisions)
    backup = store.backup() if clear or strategy == "overwrite" else None
    counts: Counter = Counter()
    rows: list[Row] = []
    split = _splittable(source, store)
    # the worker is forked before the transaction takes the store's write lock (see import_in_two)
    with process_context().Pool(1) if split is not None else contextlib.nullcontext() as pool, store.transaction(), gc_paused():
        if clear:
            store.clear()
        run = store.record_run(
            operation="import",
            source=source.label,
            format=source.format,
            strategy=strategy,
            dry_run=0,
            decisions=sorted(decisions) if decisions else None,
            backup=str(backup) if backup else None,
        )
        options = dict(strategy=strategy, decisions=decisions, filters=filters, local_tz=local_tz, vectors=vectors)
        evaluator = Evaluator(source, store, write_run=run, **options)
        bulk = _large(source, store)
        with store.bulk_load() if bulk else contextlib.nullcontext():
            if split is None:
                decided = evaluator.rows()
            else:
                memories = import_in_two(evaluator, source, store, split.memories, options, clear, pool)
                decided = itertools.chain(memories, _after(evaluator, split, counts))
            for action, row in decided:
                counts[action] += 1
                if row is not None and (action == "invalid" or row.problems):
                    rows.append(row)
            evaluator.finish()
        if strategy == "error" and counts["conflict"]:
            raise ConflictError(f"{counts['conflict']} record(s) differ from the store and the strategy is error: nothing was written")
        result = {
            **accounting(counts, rows),
            "dry_run": False,
            "backup": str(backup) if backup else None,
            "needs_reembedding": evaluator.needs_reembedding,
            "unused_decisions": evaluator.unused_decisions,
            "notes": naive_local_note(evaluator.local_times, WRITTEN),
        }
        recorded = {k: v for k, v in result.items() if k not in ("dry_run", "backup")}
        store.finish_run(run, recorded, source.header, source.layout, evaluator.writer.contents)
    return result


def _after(evaluator: Evaluator, split: Any, counts: Counter) -> Iterator[tuple[str, Row | None]]:
    """The records after a split memories file (Kagura's graph), numbered after its records."""
    yield from evaluator.rows(split.rest(), start=sum(counts.values()))


def _splittable(source: Source, store: Any) -> Any:
    """A bundle on disk whose memories are one JSON Lines file large enough for two cores (see
    :mod:`memport.parallel`), planned against a store file (a worker opens it too)."""
    if source.split is None or str(getattr(store, "path", ":memory:")) == ":memory:":
        return None
    return source.split if worth_two(source.split.memories) else None


def compare(
    bundle: str | Path | Bundle,
    other: str | Path | Bundle,
    *,
    filters: Filters | None = None,
    local_tz: str | None = None,
    format: str | None = None,
) -> Plan:
    """What differs between two bundles: ``bundle`` planned (``manual``: nothing resolved) against a
    store in memory that holds ``other``. Rows say which records are new, the same, or differ.
    ``format`` names the format of ``bundle`` (only that one is tried)."""
    source = source_of(bundle, format) if not isinstance(bundle, Source) else bundle
    store = Store(":memory:")
    import_bundle(other, store, local_tz=local_tz)
    return plan(source, store, strategy="manual", filters=filters, local_tz=local_tz)
