"""The evaluator: one decision per incoming record, in bundle order, against the store.

The dry run (:func:`memport.plan`) and the real import (:func:`memport.import_bundle`,
:meth:`memport.Plan.apply`) run this same code, so a dry run reports exactly the counts the real run
will produce, including for duplicate ids inside one bundle (the second copy meets the first, as it
would in the store): the store's state is loaded as 64-bit keys and updated as records are decided.

Actions: ``insert`` (new), ``update`` (replaces the stored record), ``unchanged`` (same content),
``conflict`` (differs and nothing resolved it: not written), ``skip`` (differs, kept as stored, or
filtered out), ``invalid`` (the record has schema errors: not written).

Strategies for a record that differs from the stored one: ``skip`` (default: keep the stored
one), ``overwrite``, ``newer`` (the incoming one wins only if its ``updated_at`` is strictly later,
as instants; a tie keeps the stored one; a missing time is a conflict), ``error`` (any conflict
fails the whole import; nothing is written), ``manual`` (per-record decisions; without one, a
conflict).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import MemportError
from ..filters import Filters
from ..formats import Indexed, NativeRecord
from ..jsonio import needs_reference
from ..keys import content_key, fingerprint_id, hex_key, storable, uid_key, volatile_member
from ..schemas import schema_set
from ..store.schema import EMBEDDED, LINKS
from ..timestamps import zone
from .decisions import Decision, StaleDecisionError, merge_fields, refusal, unknown_fields
from .source import Source
from .writer import StoreWriter

ACTIONS = ("insert", "update", "unchanged", "conflict", "skip", "invalid")
CODE = {action: number for number, action in enumerate(ACTIONS)}
VECTOR_STRATEGIES = ("auto", "keep", "drop")
STRATEGIES = ("skip", "overwrite", "newer", "error", "manual")


@dataclass(slots=True)
class Row:
    """One incoming record as evaluated."""

    position: int
    kind: str
    uid: str
    action: str
    reason: str
    incoming_hash: str
    existing_hash: str | None = None
    # the native keys that differ from the stored record; None until a Plan computes them on first
    # use (see Plan.notable): a dry run's counts need none, and they cost a read of the stored side
    fields: list[str] | None = field(default_factory=list)
    file: str | None = None
    line: int | None = None
    record: int | None = None
    # the rules of its own system the record breaks (codes): it is written all the same
    problems: list[str] = field(default_factory=list)


_LOOK_UP = object()  # decide(): the caller has not looked the stored state up


class Evaluator:
    """Decides each incoming record in bundle order; writes it too when given a run (one
    transaction). The store's state is preloaded as 64-bit keys and updated as records are
    decided, so later records of the bundle meet earlier ones exactly as they will in the store."""

    def __init__(
        self,
        source: Source,
        store: Any,
        *,
        strategy: str = "skip",
        decisions: dict[str, Decision] | None = None,
        filters: Filters | None = None,
        local_tz: str | None = None,
        vectors: str = "auto",
        write_run: int | None = None,
    ):
        if strategy not in STRATEGIES:
            raise MemportError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        if vectors not in VECTOR_STRATEGIES:
            raise MemportError(f"unknown vector strategy {vectors!r}; one of {', '.join(VECTOR_STRATEGIES)}")
        self.source, self.store, self.strategy = source, store, strategy
        self.decisions = decisions or {}
        self.filters = filters = filters or Filters()
        self.tz = zone(local_tz)
        self.plugin = source.plugin
        self.volatile = self.plugin.volatile
        self.volatile_member = volatile_member(self.volatile)
        self.schemas = schema_set(source.origin, source.version)
        self.run = write_run
        self.writer = StoreWriter(store, write_run, source.origin, self.volatile_member) if write_run is not None else None
        self._is_valid: dict[str, Any] = {}
        self.state: dict[str, dict[int, int]] = {}
        self.lines: Any = None  # KeyIndex: line_key -> uid_key of stored memories (see use_indexes)
        self.stored: Any = None  # KeyIndex: uid_key -> content_key of stored memories
        self.updated: dict[int, str | None] = {}  # updated_at of records decided in this run ("newer" only)
        self.from_run: set[int] = set()  # keys whose stored state comes from this run, not the store
        self.filtering = filters.active
        self.needs_index = self.filtering or strategy == "newer" or write_run is not None
        self.stale: list[str] = []
        self.refused: list[Any] = []  # (message, location) of decisions naming fields the records lack

        self.decided: set[str] = set()
        self.unused_decisions: list[str] = []
        # naive local times in the records written, read as UTC for want of a zone (the note said)
        self.counting_local = local_tz is None and self.plugin.naive_local
        self.local_times = 0
        self.last_key = 0
        self._vectors_for(vectors)

    def _vectors_for(self, strategy: str) -> None:
        """Where incoming vectors go (Tribal entries carry them), like Tribal's own import: ``auto``
        keeps them when their model (name and dimension) is the store's, else drops them; ``keep``
        keeps them always, under the store's fingerprint when compatible and under a fingerprint of
        their own otherwise (never mixed); ``drop`` never keeps them. Memories written without a
        vector of the store's model count as needing re-embedding."""
        self.needs_reembedding = 0
        self.store_fingerprint = self.store.setting("embedding_fingerprint")
        store_model = (self.store.fingerprint(self.store_fingerprint) or {}) if self.store_fingerprint else {}
        name, dims = self.plugin.vector_model(self.source.header)
        compatible = bool(store_model) and same_model(name, store_model.get("model")) and dims == store_model.get("dimension")
        if strategy == "drop" or not self.plugin.carries_vectors or (strategy == "auto" and not compatible):
            self.vector_fingerprint = None
        elif compatible:
            self.vector_fingerprint = self.store_fingerprint
        else:
            details = {"model": name, "dimension": dims, "imported": True}
            self.vector_fingerprint = fingerprint_id(details)
            if self.writer is not None:
                self.writer.fingerprint = (self.vector_fingerprint, name, dims, details)

    def count_vector(self, uid: str, value: Any) -> None:
        """An inserted or updated memory: keep its vector where the strategy says, and count it."""
        vector = self.plugin.vector(value)
        usable = (
            self.vector_fingerprint is not None
            and isinstance(vector, list)
            and vector
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector)
        )
        if not (usable and self.vector_fingerprint == self.store_fingerprint):
            self.needs_reembedding += 1
        if usable and self.writer is not None:
            self.writer.vector(uid, self.vector_fingerprint, vector, self.plugin.embed_text(value))

    def state_of(self, kind: str) -> dict[int, int]:
        state = self.state.get(kind)
        if state is None:
            state = self.state[kind] = self.store.state(kind)
        return state

    def rows(self, records: Iterable[NativeRecord] | None = None, start: int = 0) -> Iterator[tuple[str, Row | None]]:
        """(action, row) per record; row only for notable records (not plain inserts or unchanged)."""
        for position, record in enumerate(self.source.records() if records is None else records, start):
            yield self.decide(position, record)
        if self.writer is not None:
            self.writer.flush()

    def finish(self) -> None:
        """After the last record: refuse decisions that cannot be applied or are stale, and note the
        decisions nothing needed."""
        if self.refused:
            raise refusal(self.refused)
        if self.stale:
            shown = ", ".join(self.stale[:5]) + (f" and {len(self.stale) - 5} more" if len(self.stale) > 5 else "")
            raise StaleDecisionError(f"{len(self.stale)} decision(s) were made about records that changed since ({shown}); decide again")
        self.unused_decisions = sorted(set(self.decisions) - self.decided)

    def decide(
        self, position: int, record: NativeRecord, ckey: int | None = None, stored: int | object | None = _LOOK_UP
    ) -> tuple[str, Row | None]:
        """The action for one record, and its row if notable; a real run writes what it accepts.
        ``ckey`` and ``stored``: its content key and the one the state holds under its uid key
        (None: none), if the caller has them already."""
        kind, value = record.kind, record.value
        if type(value) is not dict:
            return "invalid", self._unreadable(position, record)
        uid = f"{self.source.origin}:{kind}:{self.plugin.identity(kind, value)}"
        ukey = self.last_key = uid_key(uid)  # for rows() callers that record each record's key
        if record.exact:  # may hold a lone surrogate, which the uid's text cannot (its key keeps it)
            uid = storable(uid)
        if ckey is None:
            ckey = content_key(value, record.exact, self.volatile)
        if self.writer is not None:
            self.writer.seen(ckey)
        item = self.plugin.index(kind, value, self.tz) if self.needs_index else None

        problems: list[str] = []

        def row(action: str, reason: str, fields: list[str] | None = None, existing: int | None = None) -> Row:
            # only built for notable records: a plain insert or unchanged record gets none (one
            # that breaks its system's rules is notable)
            return Row(
                position,
                kind,
                uid,
                action,
                reason,
                hex_key(ckey),
                hex_key(existing) if existing is not None else None,
                fields if existing is not None else [],
                record.file,
                record.line,
                record.record,
                problems,
            )

        if self.filtering and (kind != "memories" or not self.filters.matches(item)):
            return "skip", row("skip", "filtered")
        if stored is _LOOK_UP:
            stored = self.state_of(kind).get(ukey)
        if stored == ckey:
            # the store holds only records that passed validation: the same content passes again
            return "unchanged", None
        problems.extend(self.problems(kind, value, record.exact))
        if stored is None:
            self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw, problems)
            return "insert", row("insert", "new") if problems else None
        in_run = ukey in self.from_run
        # against the stored record, the fields that differ are found when asked (see Plan.notable)
        fields = ["(an earlier record of this bundle)"] if in_run else None
        decision = self.decisions.get(uid)
        if decision is not None:
            self.decided.add(uid)
            if decision.existing_hash != hex_key(stored) or decision.incoming_hash != hex_key(ckey):
                self.stale.append(uid)
                return "conflict", row("conflict", "stale-decision", fields, stored)
            if decision.choice == "take":
                self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw, problems)
                return "update", row("update", "decision-take", fields, stored)
            if decision.choice == "fields":
                old = None if in_run else self.store.native(kind, uid)
                wrong = unknown_fields(decision, old, value)
                if wrong is not None:  # refused when the plan is complete (finish), with the others
                    self.refused.append(wrong)
                    return "conflict", row("conflict", "unknown-field", fields, stored)
                merged = merge_fields(old, value, decision.fields or {})
                exact = needs_reference(merged)
                merged_key = content_key(merged, exact, self.volatile)
                if merged_key == stored:  # every pick kept the stored value: nothing changes
                    return "skip", row("skip", "decision-fields-keep", fields, stored)
                merged_item = self.plugin.index(kind, merged, self.tz) if self.needs_index else None
                problems[:] = self.problems(kind, merged, exact)  # the record written is the merged one
                self._accept(kind, uid, ukey, merged_key, merged, exact, merged_item, None, problems)
                return "update", row("update", "decision-fields", fields, stored)
            return "skip", row("skip", f"decision-{decision.choice}", fields, stored)
        if self.strategy == "skip":
            return "skip", row("skip", "exists", fields, stored)
        if self.strategy == "overwrite":
            self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw, problems)
            return "update", row("update", "overwrite", fields, stored)
        if self.strategy == "newer":
            stored_updated = self.updated.get(ukey) if in_run else self.store.updated_at(kind, uid)
            incoming_updated = item.updated_at if item is not None else None
            if incoming_updated is None or stored_updated is None:
                return "conflict", row("conflict", "missing-updated_at", fields, stored)
            if incoming_updated > stored_updated:
                self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw, problems)
                return "update", row("update", "newer", fields, stored)
            return "skip", row("skip", "not-newer", fields, stored)
        return "conflict", row("conflict", "differs" if self.strategy == "error" else "no-decision", fields, stored)

    def fetch_state(self, state: dict[int, int | None], keys: list[int]) -> None:
        """Put the stored content keys of ``keys`` (None where there is none) into ``state``,
        with one query for those it lacks."""
        wanted = [key for key in keys if key not in state]
        if wanted:
            found = self.store.content_keys("memories", wanted)
            for key in wanted:
                state[key] = found.get(key)

    def problems(self, kind: str, value: Any, exact: bool) -> list[str]:
        """The codes of the errors of a record under its format's schema (sorted, each once): the
        rules of its own system it breaks. memport keeps such a record all the same."""
        schema = self.plugin.schema_for(kind, value)
        if schema is None:
            return []
        value = self.plugin.schema_value(kind, value)
        is_valid = self._is_valid.get(schema)
        if is_valid is None:
            is_valid = self._is_valid[schema] = self.schemas.errors_only(schema).is_valid
        if not exact and is_valid(value):
            return []
        return sorted({c.code for c in self.schemas.check(schema, value, exact=exact) if c.severity == "error"})

    def _unreadable(self, position: int, record: NativeRecord) -> Row:
        """A record memport cannot hold at all (not a JSON object: no identity, no fields), named by
        where it is and the code validation gives it; it is not imported."""
        schema = self.plugin.schema_for(record.kind, record.value)
        found = self.schemas.check(schema, record.value, exact=record.exact) if schema is not None else []
        code = next((c.code for c in found if c.severity == "error"), f"{self.source.origin}.record.not-an-object")
        if self.writer is not None:
            self.writer.seen(None)
        return Row(position, record.kind, "", "invalid", code, "", None, [], record.file, record.line, record.record)

    def common_case(
        self, state: dict[int, int], kind: str, value: Any, exact: bool, ukey: int, stored: int | None, ckey: int | None = None
    ) -> str | None:
        """The two cases most records of a dry run are: "unchanged" (the store has this content)
        and "insert" (new, valid). None for anything else, which decide() handles. ``stored``: the
        content key the state holds under ``ukey``; ``ckey``: the record's, if the caller has it."""
        if ckey is None and (stored is not None or ukey not in self.from_run):
            ckey = content_key(value, exact, self.volatile)
        if stored is not None:
            return "unchanged" if stored == ckey else None
        if ukey in self.from_run or self.problems(kind, value, exact):
            return None
        return self._insert(state, kind, ukey, ckey, value)

    def _insert(self, state: dict[int, int], kind: str, ukey: int, ckey: int, value: Any) -> str:
        """A valid new record of a dry run: its state from now on, and whether it needs embedding."""
        state[ukey] = ckey
        self.from_run.add(ukey)
        if kind in EMBEDDED:
            self.count_vector("", value)
        if self.counting_local:
            self.local_times += self.plugin.naive_local_times(kind, value)
        return "insert"

    def lean_rows(self, records: Iterable[NativeRecord], start: int = 0) -> Iterator[tuple[str, Row | None]]:
        """rows() for a dry run without filters, with the two common cases inline: a record the store
        has unchanged, and a valid new one. Everything else goes through decide()."""
        if self.run is not None or self.filtering or self.strategy == "newer":
            yield from self.rows(records, start)
            return
        origin, identity = self.source.origin, self.plugin.identity
        for position, record in enumerate(records, start):
            kind, value = record.kind, record.value
            if type(value) is not dict:
                yield self.decide(position, record)
                continue
            ukey = uid_key(f"{origin}:{kind}:{identity(kind, value)}")
            state = self.state.get(kind) or self.state_of(kind)
            action = self.common_case(state, kind, value, record.exact, ukey, state.get(ukey))
            if action is not None:
                yield action, None
            else:
                yield self.decide(position, record)

    def _accept(
        self,
        kind: str,
        uid: str,
        ukey: int,
        ckey: int,
        value: Any,
        exact: bool,
        item: Indexed | None,
        raw: bytes | None,
        problems: list[str],
    ) -> None:
        """Record the new state; in a real run, also write the record (with the rules it breaks)."""
        self.state_of(kind)[ukey] = ckey
        self.from_run.add(ukey)
        if kind in EMBEDDED:
            self.count_vector(uid, value)
        if self.counting_local:
            self.local_times += self.plugin.naive_local_times(kind, value)
        if self.strategy == "newer":
            self.updated[ukey] = item.updated_at if item is not None else None
        if self.writer is not None:
            references = self.plugin.references(kind, value) if kind in LINKS else None
            self.writer.record(kind, uid, ukey, ckey, value, exact, item, raw, self.plugin.source_id(kind, value), problems, references)


class EmptyStore:
    """A view of a store as if cleared: for planning an import with ``clear``."""

    def __init__(self, store: Any):
        self.conn = store.conn
        self.setting, self.fingerprint = store.setting, store.fingerprint

    def state(self, kind: str) -> dict[int, int]:
        return {}

    def native(self, kind: str, uid: str) -> Any:
        return None

    def updated_at(self, kind: str, uid: str) -> str | None:
        return None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """A plan allocates millions of short-lived objects and makes no reference cycles: the cyclic
    collector would only scan them again and again (measured: 16 full collections in half a million
    records, with batches of records alive at once)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def same_model(incoming: Any, stored: Any) -> bool:
    """Model names compared exactly, as Tribal does, except for the sentence-transformers/ prefix."""

    def bare(name: Any) -> Any:
        return name.removeprefix("sentence-transformers/") if isinstance(name, str) else name

    return incoming is not None and bare(incoming) == bare(stored)
