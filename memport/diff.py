"""Dry-run plans, conflict strategies, replayable decisions, and the import that applies them.

One streaming evaluator decides every incoming record, in bundle order, against the store: the
dry run (:func:`plan`) and the real import (:func:`import_bundle`, :meth:`Plan.apply`) run the
same code, so a dry run reports exactly the counts the real run will produce, including for
duplicate ids inside one bundle (the second copy meets the first, as it would in the store).

Actions: ``insert`` (new), ``update`` (replaces the stored record), ``unchanged`` (same content),
``conflict`` (differs and nothing resolved it: not written), ``skip`` (differs, kept as stored, or
filtered out), ``invalid`` (the record has schema errors: not written).

Strategies for a record that differs from the stored one: ``skip`` (default: keep the stored
one), ``overwrite``, ``newer`` (the incoming one wins only if its ``updated_at`` is strictly later,
as instants; a tie keeps the stored one; a missing time is a conflict), ``error`` (any conflict
fails the whole import; nothing is written), ``manual`` (per-record decisions; without one, a
conflict).

Decisions (JSON Lines, one per record) name the record's uid, a choice (``keep``, ``take``,
``skip``, or per-field picks ``{"fields": {"<native key>": "keep" | "take"}}``) and the hashes of
both sides when decided. A decision whose sides changed since is refused, never applied stale.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import html
import json
import multiprocessing
import os
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson
from xxhash import xxh3_64_intdigest

from .bundle import Bundle
from .errors import Location, MalformedInputError, MemportError
from .filters import Filters
from .formats import Indexed, NativeRecord, detect, plugin
from .formats._jsonl import FileFacts, line_batches, line_ranges, lines_at, sample_lines, slow_line
from .formats.kagura import jsonl_records
from .jsonio import MAX_LINE_BYTES, atomic_write_bytes, loads, may_hold_huge_integer, needs_reference
from .schemas import schema_set
from .store import Store, columns
from .timestamps import zone

ACTIONS = ("insert", "update", "unchanged", "conflict", "skip", "invalid")
_CODE = {action: number for number, action in enumerate(ACTIONS)}
_UNCHANGED, _INSERT, _UPDATE = _CODE["unchanged"], _CODE["insert"], _CODE["update"]
VECTOR_STRATEGIES = ("auto", "keep", "drop")
STRATEGIES = ("skip", "overwrite", "newer", "error", "manual")
CHOICES = ("keep", "take", "skip", "fields")
BATCH = 2000

# per format: the schema that validates a record of each kind
SCHEMA_FOR = {
    "kagura": {"memories": "memory", "nodes": "graph", "relations": "graph"},
    "tribal": {"memories": "entry"},
    "doclea": {"memories": "memory", "documents": "document", "chunks": "chunk", "pending": "pending-memory", "relations": None},
}


class ConflictError(MemportError):
    """The ``error`` strategy met a conflict: nothing was written."""


class StaleDecisionError(MemportError):
    """A decision was made about records that have changed since."""


class StalePlanError(MemportError):
    """The store changed between the dry run and its application."""


@dataclass(frozen=True)
class Decision:
    uid: str
    choice: str
    existing_hash: str
    incoming_hash: str
    fields: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise MemportError(f"decision for {self.uid}: choice must be one of {', '.join(CHOICES)}, got {self.choice!r}")
        if self.choice == "fields" and not self.fields:
            raise MemportError(f"decision for {self.uid}: per-field picks need a fields mapping")

    def to_json(self) -> str:
        out: dict[str, Any] = {"uid": self.uid, "choice": self.choice}
        if self.fields:
            out["fields"] = self.fields
        out["existing_hash"] = self.existing_hash
        out["incoming_hash"] = self.incoming_hash
        return json.dumps(out, ensure_ascii=False, sort_keys=False)


def load_decisions(path: str | Path) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                decisions[raw["uid"]] = Decision(raw["uid"], raw["choice"], raw["existing_hash"], raw["incoming_hash"], raw.get("fields"))
            except (ValueError, KeyError, TypeError) as err:
                raise MemportError(
                    f'{path}, line {number}: not a decision ({err}); expected {{"uid", "choice", "existing_hash", "incoming_hash"}}'
                ) from None
    return decisions


def save_decisions(decisions: Iterable[Decision], path: str | Path) -> None:
    """Write decisions as JSON Lines, sorted by uid (deterministic), atomically."""
    text = "".join(d.to_json() + "\n" for d in sorted(decisions, key=lambda d: d.uid))
    atomic_write_bytes(Path(path), text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------


def key64(data: bytes) -> int:
    """A 64-bit key (signed, as SQLite stores integers) from xxh3: identities and contents are
    compared by key; a collision among a million records has odds of about 3 in 100 million."""
    key = xxh3_64_intdigest(data)
    return key - _TWO_64 if key >= _TWO_63 else key


_TWO_63, _TWO_64 = 1 << 63, 1 << 64


def uid_key(uid: str) -> int:
    return key64(uid.encode("utf-8", "surrogatepass"))


def content_key(value: Any, exact: bool, volatile: tuple[str, ...] = ()) -> int:
    """A key of a native record's content, independent of key order and formatting, and of the
    ``volatile`` keys its format sets anew on every export (see ``FormatPlugin.volatile``).

    ``exact`` must say whether the value holds NaN, lone surrogates or integers beyond 64 bits
    (orjson would write those unfaithfully), so that a record gets the same key however it came.
    """
    if volatile and type(value) is dict and value:
        last = next(reversed(value))
        if len(volatile) == 1 and last == volatile[0] and not exact:
            # where exporters put it (last): leave it out and put it back, the order unchanged
            # (a copy of the record would cost as much as the rest of the key)
            item = value.pop(last)
            try:
                return key64(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
            finally:
                value[last] = item
        if any(key in value for key in volatile):
            value = {key: item for key, item in value.items() if key not in volatile}
    if exact:
        return key64(json.dumps(value, sort_keys=True, ensure_ascii=True).encode())
    return key64(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def line_seed(origin: str, kind: str) -> int:
    """Line keys of different origins and kinds never meet: each has its own seed."""
    return xxh3_64_intdigest(f"{origin}:{kind}".encode())


def line_key(raw: bytes, seed: int, volatile: bytes = b"") -> int:
    """A 64-bit key of one line of a JSON Lines bundle as it was written (line end aside).

    The store keeps it next to each record that came from such a line, so a dry run recognises a
    line the store holds unchanged by its bytes alone, without parsing it (the same bytes parse to
    the same record, hence the same uid and content). Signed, as SQLite stores integers.

    ``volatile`` (see :func:`volatile_member`) names a last top-level member that is left out, so
    that the line of a record exported again later (Kagura writes the export time into every
    record) still has the key of the stored one, as its content key does."""
    if volatile:
        # the usual line (LF-terminated), without copying it first: measured 1.06 -> 0.75 us a line
        at = raw.rfind(volatile, -96)
        if at > 0 and raw.endswith(b'"}\n') and raw.find(b'"', at + len(volatile)) == len(raw) - 3:
            return xxh3_64_intdigest(raw[:at] + b"}", seed) - _TWO_63
    line = raw.rstrip(b"\r\n")
    if volatile:
        at = line.rfind(volatile, -96)  # the last member: a time takes at most 32 bytes
        # only a plain string value closing the top-level object: `, "exported_at": "..."}`
        if at > 0 and line.endswith(b'"}') and line.find(b'"', at + len(volatile)) == len(line) - 2:
            line = line[:at] + b"}"
    return xxh3_64_intdigest(line, seed) - _TWO_63


def volatile_member(volatile: tuple[str, ...]) -> bytes:
    """How the exporter writes the start of the volatile last member (json.dumps separators)."""
    return f', "{volatile[0]}": "'.encode() if volatile else b""


def hex_key(key: int) -> str:
    """How decisions name a content: 16 hex digits."""
    return f"{key & 0xFFFFFFFFFFFFFFFF:016x}"


def native_text(value: Any, exact: bool) -> str:
    # exact values may hold NaN, huge integers or lone surrogates: only the standard library
    # writes them faithfully (ASCII escapes keep lone surrogates storable as SQLite text)
    return json.dumps(value, ensure_ascii=True) if exact else orjson.dumps(value).decode()


def field_diff(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    """Native keys whose values differ: key -> (stored, incoming); absent is None."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {"(record)": (old, new)}
    return {k: (old.get(k), new.get(k)) for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k) or (k in old) != (k in new)}


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


@dataclass
class Source:
    """Where incoming records come from: a bundle path (streamed) or a Bundle in memory."""

    format: str
    version: str
    origin: str
    records: Any  # callable returning an iterator of NativeRecord
    label: str
    header: Any = None  # the bundle's own header, recorded with the import
    path: Path | None = None  # a bundle on disk (a Bundle in memory has none)


def _source(bundle: str | Path | Bundle) -> Source:
    if isinstance(bundle, Bundle):
        fmt = bundle.format
        return Source(
            fmt,
            bundle.version or "1.0",
            "tribal" if fmt == "tribal-jsonl" else fmt,
            lambda: _bundle_records(bundle),
            bundle.path or f"<{fmt} bundle>",
            bundle.meta.header,
        )
    path = Path(bundle)
    detection = detect(path)
    fmt = detection.format
    return Source(
        fmt,
        detection.version,
        "tribal" if fmt == "tribal-jsonl" else fmt,
        lambda: plugin(fmt).records(path, detection),
        str(path),
        _header(path, detection),
        path,
    )


def _header(path: Path, detection: Any) -> Any:
    """A bundle's header without its records (small: read for the import run's record)."""
    if detection.format == "kagura":
        meta = path / "metadata.json"
        return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else None
    # Tribal, Doclea: what detecting the document found (not parsed once more); the stream: none
    return detection.details.get("header")


def _bundle_records(bundle: Bundle) -> Iterator[NativeRecord]:
    """A bundle in memory as native records, through its format's own codecs."""
    from .formats import doclea, kagura, tribal

    fmt = bundle.format
    r = bundle.records
    label = bundle.path or f"<{fmt} bundle>"
    if fmt == "kagura":
        encoded = [("memories", kagura.MEMORY, r.memories), ("nodes", kagura.NODE, r.nodes), ("relations", kagura.EDGE, r.relations)]
    elif fmt in ("tribal", "tribal-jsonl"):
        encoded = [("memories", tribal.ENTRY, r.memories)]
    else:
        encoded = [
            ("memories", doclea.MEMORY, r.memories),
            ("documents", doclea.DOCUMENT, r.documents),
            ("chunks", doclea.CHUNK, r.chunks),
            ("relations", None, r.relations),
            ("pending", doclea.PENDING, r.pending),
        ]
    for kind, codec, records in encoded:
        for index, record in enumerate(records):
            if codec is None:
                codec_for = doclea.MEMORY_RELATION if record.kind == "memory" else doclea.CROSS_LAYER
                value = codec_for.encode(record)
            else:
                value = codec.encode(record)
            # the same test a file's parser makes: exact only for values orjson cannot write faithfully
            yield NativeRecord(kind, value, needs_reference(value), label, None, index)


_LOOK_UP = object()  # decide(): the caller has not looked the stored state up


class _Evaluator:
    """Decides each incoming record in bundle order; writes it too when given a run (one
    transaction). The store's state is preloaded as 64-bit keys and updated as records are
    decided, so later records of the bundle meet earlier ones exactly as they will in the store."""

    def __init__(
        self,
        source: Source,
        store: Any,
        strategy: str,
        decisions: dict[str, Decision],
        filters: Filters,
        local_tz: str,
        write_run: int | None,
        vectors: str = "auto",
    ):
        if strategy not in STRATEGIES:
            raise MemportError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        if vectors not in VECTOR_STRATEGIES:
            raise MemportError(f"unknown vector strategy {vectors!r}; one of {', '.join(VECTOR_STRATEGIES)}")
        self.source, self.store, self.strategy = source, store, strategy
        self.decisions = decisions or {}
        self.filters = filters
        self.tz = zone(local_tz)
        self.plugin = plugin(source.format)
        self.volatile = self.plugin.volatile
        self.volatile_member = volatile_member(self.volatile)
        self.schemas = schema_set(source.origin, source.version)
        self.run = write_run
        self._is_valid: dict[str, Any] = {}
        self.state: dict[str, dict[int, int]] = {}
        self.lines: KeyIndex | None = None  # line_key -> uid_key of stored memories (see use_indexes)
        self.stored: KeyIndex | None = None  # uid_key -> content_key of stored memories
        self.updated: dict[int, str | None] = {}  # updated_at of records decided in this run ("newer" only)
        self.from_run: set[int] = set()  # keys whose stored state comes from this run, not the store
        self.filtering = filters.active
        self.needs_index = self.filtering or strategy == "newer" or write_run is not None
        self.stale: list[str] = []
        self.decided: set[str] = set()
        self.unused_decisions: list[str] = []
        self.last_key = 0
        self._vectors_for(vectors)

    def _vectors_for(self, strategy: str) -> None:
        """Where incoming vectors go (Tribal entries carry them), like Tribal's own import: ``auto``
        keeps them when their model (name and dimension) is the store's, else drops them; ``keep``
        keeps them always, under the store's fingerprint when compatible and under a fingerprint of
        their own otherwise (never mixed); ``drop`` never keeps them. Memories written without a
        vector of the store's model count as needing re-embedding."""
        from .embed import fingerprint_id

        self.needs_reembedding = 0
        self.vector_rows: list[tuple[Any, ...]] = []
        self.store_fingerprint = self.store.setting("embedding_fingerprint")
        store_model = (self.store.fingerprint(self.store_fingerprint) or {}) if self.store_fingerprint else {}
        manifest = self.source.header.get("manifest") if isinstance(self.source.header, dict) else None
        model = manifest.get("embedding") if isinstance(manifest, dict) else None
        name = model.get("model_name") if isinstance(model, dict) else None
        dims = model.get("dimensions") if isinstance(model, dict) else None
        compatible = bool(store_model) and _same_model(name, store_model.get("model")) and dims == store_model.get("dimension")
        self.imported_fingerprint = None
        if strategy == "drop" or self.source.origin != "tribal" or (strategy == "auto" and not compatible):
            self.vector_fingerprint = None
        elif compatible:
            self.vector_fingerprint = self.store_fingerprint
        else:
            details = {"model": name, "dimension": dims, "imported": True}
            self.imported_fingerprint = (fingerprint_id(details), name, dims, details)
            self.vector_fingerprint = self.imported_fingerprint[0]

    def _vector(self, uid: str, value: Any) -> None:
        """An inserted or updated memory: keep its vector where the strategy says, and count it."""
        vector = value.get("embedding") if isinstance(value, dict) else None
        usable = (
            self.vector_fingerprint is not None
            and isinstance(vector, list)
            and vector
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector)
        )
        if not (usable and self.vector_fingerprint == self.store_fingerprint):
            self.needs_reembedding += 1
        if usable and self.run is not None:
            import numpy as np

            from .embed import memory_text, text_sha256

            sha = text_sha256(memory_text(self.source.origin, value))
            blob = np.asarray(vector, dtype=np.float32).tobytes()
            self.vector_rows.append((uid, self.vector_fingerprint, len(vector), blob, sha))

    def _schema(self, kind: str, value: Any) -> str | None:
        if kind == "relations" and self.source.origin == "doclea":
            return "cross-layer-relation" if isinstance(value, dict) and "memory_id" in value else "memory-relation"
        return SCHEMA_FOR[self.source.origin].get(kind)

    def _state(self, kind: str) -> dict[int, int]:
        state = self.state.get(kind)
        if state is None:
            state = self.state[kind] = self.store.state(kind)
        return state

    def use_indexes(self, lines: KeyIndex | None, stored: KeyIndex | None) -> None:
        """For a large memories file: recognise the lines the store holds by their keys (``lines``:
        line_key -> uid_key), and look the state of the other records up in ``stored`` (uid_key ->
        content_key), a batch at a time; without ``stored``, key by key in the store."""
        self.lines, self.stored = lines, stored
        fetch = stored.one if stored is not None else functools.partial(self.store.content_key, "memories")
        self.state["memories"] = _StoredKeys(fetch)

    def rows(self, records: Iterable[NativeRecord] | None = None, start: int = 0) -> Iterator[tuple[str, Row | None]]:
        """(action, row) per record; row only for notable records (not plain inserts or unchanged)."""
        writes: dict[str, list[tuple[Any, ...]]] = {}
        pending = 0
        for position, record in enumerate(self.source.records() if records is None else records, start):
            action, row, write = self.decide(position, record)
            if write is not None:
                writes.setdefault(record.kind, []).append(write)
                pending += 1
                if pending >= BATCH:
                    self._flush(writes)
                    pending = 0
            yield action, row
        self._flush(writes)

    def finish(self) -> None:
        """After the last record: refuse stale decisions, and note the decisions nothing needed."""
        if self.stale:
            shown = ", ".join(self.stale[:5]) + (f" and {len(self.stale) - 5} more" if len(self.stale) > 5 else "")
            raise StaleDecisionError(f"{len(self.stale)} decision(s) were made about records that changed since ({shown}); decide again")
        self.unused_decisions = sorted(set(self.decisions) - self.decided)

    def _flush(self, writes: dict[str, list[tuple[Any, ...]]]) -> None:
        for kind, rows in writes.items():
            if rows:
                cols = columns(kind)
                self.store.conn.executemany(
                    f"INSERT OR REPLACE INTO {kind} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows
                )
                rows.clear()
        if self.vector_rows:
            if self.imported_fingerprint is not None:
                fid, name, dims, details = self.imported_fingerprint
                self.store.conn.execute(
                    "INSERT OR IGNORE INTO fingerprints (fingerprint, model, dimensions, details, created_at) "
                    "VALUES (?, ?, ?, ?, datetime('now'))",
                    [fid, name, dims, json.dumps(details, sort_keys=True)],
                )
            self.store.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (memory_uid, fingerprint, dimensions, vector, text_sha256) VALUES (?, ?, ?, ?, ?)",
                self.vector_rows,
            )
            self.vector_rows.clear()

    def decide(
        self, position: int, record: NativeRecord, ckey: int | None = None, stored: int | object | None = _LOOK_UP
    ) -> tuple[str, Row | None, tuple[Any, ...] | None]:
        """The action for one record (and its row if notable, and what to write in a real run).
        ``ckey`` and ``stored``: its content key and the one the state holds under its uid key
        (None: none), if the caller has them already."""
        kind, value = record.kind, record.value
        uid = f"{self.source.origin}:{kind}:{self.plugin.identity(kind, value)}"
        ukey = self.last_key = uid_key(uid)  # for rows() callers that record each record's key
        if ckey is None:
            ckey = content_key(value, record.exact, self.volatile)
        item = self.plugin.index(kind, value, self.tz) if self.needs_index else None

        def row(action: str, reason: str, fields: list[str] | None = None, existing: int | None = None) -> Row:
            # only built for notable records: a plain insert or unchanged record gets none
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
            )

        if self.filtering and (kind != "memories" or not self.filters.matches(item)):
            return "skip", row("skip", "filtered"), None
        if stored is _LOOK_UP:
            stored = self._state(kind).get(ukey)
        if stored == ckey:
            # the store holds only records that passed validation: the same content passes again
            return "unchanged", None, None
        error = self._invalid(kind, value, record.exact)
        if error is not None:
            return "invalid", row("invalid", error), None
        if stored is None:
            return "insert", None, self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw)
        in_run = ukey in self.from_run
        # against the stored record, the fields that differ are found when asked (see Plan.notable)
        fields = ["(an earlier record of this bundle)"] if in_run else None
        decision = self.decisions.get(uid)
        if decision is not None:
            self.decided.add(uid)
            if decision.existing_hash != hex_key(stored) or decision.incoming_hash != hex_key(ckey):
                self.stale.append(uid)
                return "conflict", row("conflict", "stale-decision", fields, stored), None
            if decision.choice == "take":
                return (
                    "update",
                    row("update", "decision-take", fields, stored),
                    self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw),
                )
            if decision.choice == "fields":
                merged = _merge_fields(None if in_run else self.store.native(kind, uid), value, decision.fields or {})
                exact = needs_reference(merged)
                merged_item = self.plugin.index(kind, merged, self.tz) if self.needs_index else None
                write = self._accept(kind, uid, ukey, content_key(merged, exact, self.volatile), merged, exact, merged_item, None)
                return "update", row("update", "decision-fields", fields, stored), write
            return "skip", row("skip", f"decision-{decision.choice}", fields, stored), None
        if self.strategy == "skip":
            return "skip", row("skip", "exists", fields, stored), None
        if self.strategy == "overwrite":
            return (
                "update",
                row("update", "overwrite", fields, stored),
                self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw),
            )
        if self.strategy == "newer":
            stored_updated = self.updated.get(ukey) if in_run else self.store.updated_at(kind, uid)
            incoming_updated = item.updated_at if item is not None else None
            if incoming_updated is None or stored_updated is None:
                return "conflict", row("conflict", "missing-updated_at", fields, stored), None
            if incoming_updated > stored_updated:
                return (
                    "update",
                    row("update", "newer", fields, stored),
                    self._accept(kind, uid, ukey, ckey, value, record.exact, item, record.raw),
                )
            return "skip", row("skip", "not-newer", fields, stored), None
        return "conflict", row("conflict", "differs" if self.strategy == "error" else "no-decision", fields, stored), None

    def _fetch_state(self, state: dict[int, int | None], keys: list[int]) -> None:
        """Put the stored content keys of ``keys`` (None where there is none) into ``state``,
        with one query for those it lacks."""
        wanted = [key for key in keys if key not in state]
        if wanted:
            found = self.store.content_keys("memories", wanted)
            for key in wanted:
                state[key] = found.get(key)

    def _invalid(self, kind: str, value: Any, exact: bool) -> str | None:
        """The code of the first schema error of a record, or None."""
        schema = self._schema(kind, value)
        if schema is None:
            return None
        is_valid = self._is_valid.get(schema)
        if is_valid is None:
            is_valid = self._is_valid[schema] = self.schemas.errors_only(schema).is_valid
        if not exact and is_valid(value):
            return None
        errors = [c for c in self.schemas.check(schema, value, exact=exact) if c.severity == "error"]
        return errors[0].code if errors else None

    def _common_case(
        self, state: dict[int, int], kind: str, value: Any, exact: bool, ukey: int, stored: int | None, ckey: int | None = None
    ) -> str | None:
        """The two cases most records of a dry run are: "unchanged" (the store has this content)
        and "insert" (new, valid). None for anything else, which decide() handles. ``stored``: the
        content key the state holds under ``ukey``; ``ckey``: the record's, if the caller has it."""
        if ckey is None and (stored is not None or ukey not in self.from_run):
            ckey = content_key(value, exact, self.volatile)
        if stored is not None:
            return "unchanged" if stored == ckey else None
        if ukey in self.from_run or self._invalid(kind, value, exact) is not None:
            return None
        return self._insert(state, kind, ukey, ckey, value)

    def _insert(self, state: dict[int, int], kind: str, ukey: int, ckey: int, value: Any) -> str:
        """A valid new record of a dry run: its state from now on, and whether it needs embedding."""
        state[ukey] = ckey
        self.from_run.add(ukey)
        if kind == "memories":
            self._vector("", value)
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
            ukey = uid_key(f"{origin}:{kind}:{identity(kind, value)}")
            state = self.state.get(kind) or self._state(kind)
            action = self._common_case(state, kind, value, record.exact, ukey, state.get(ukey))
            if action is not None:
                yield action, None
            else:
                action, row, _ = self.decide(position, record)
                yield action, row

    def lean_memories(
        self,
        file: Path,
        byte_range: tuple[int, int | None],
        codes: array,
        notable: list[Row],
        *,
        keys: array | None = None,
        needs: array | None = None,
        facts: FileFacts | None = None,
    ) -> None:
        """lean_rows() over a memories JSONL file (or a byte range of it), straight from the parser:
        the two common cases need no record objects at all. With line keys (use_indexes), a line the
        store holds as it is needs no parsing either, unless this run changed its record. Keys are
        looked up a batch of lines at a time; the records are still decided one by one, in order.

        Appends each record's action number to ``codes`` and its row, if notable, to ``notable``;
        for a worker also its uid key to ``keys`` and, for a record that needs embedding, its
        position in the range to ``needs`` (filled in place rather than yielded per record). Line
        numbers, in rows and errors, count from the range's first line."""
        position = start = len(codes)
        if self.run is not None or self.filtering or self.strategy == "newer":
            counted = self.needs_reembedding
            for action, row in self.rows(jsonl_records(file, _memories, *byte_range, facts=facts), start):
                self._note(action, row, self.last_key, codes, notable, keys, needs, position - start, counted)
                counted = self.needs_reembedding
                position += 1
            return
        prefix = f"{self.source.origin}:memories:".encode()
        identity, label = self.plugin.identity_bytes, str(file)
        state = self._state("memories")
        lines, stored, from_run, volatile = self.lines, self.stored, self.from_run, self.volatile
        seed, member = line_seed(self.source.origin, "memories"), self.volatile_member
        facts = facts if facts is not None else FileFacts()
        first = byte_range[0] == 0
        add_code, add_key = codes.append, keys.append if keys is not None else None
        decided_here = dict.__contains__  # the state dict holds what this run decided (and, without ``stored``, what it fetched)
        schema = self._schema("memories", None)
        valid = self.schemas.errors_only(schema).is_valid if schema is not None else lambda value: True

        def parse(number: int, raw: bytes, long_runs: bool = True) -> tuple[int, Any, bool] | None:
            value = None
            if len(raw) <= MAX_LINE_BYTES and not (long_runs and may_hold_huge_integer(raw)):
                # scan()'s parse without the file facts (CRLF, raw non-ASCII), which a plan does not report
                try:
                    value = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    pass
            if type(value) is dict:
                return number, value, False
            found = slow_line(raw, number, label, None, facts, first_line=first and number == 1)
            if found is None:
                return None
            if type(found[1]) is not dict:
                raise MalformedInputError(f"expected a JSON object, got {type(found[1]).__name__}", Location(label, line=found[0]))
            return found[0], found[1], found[2]

        # a valid new record's content key is left until a later record with its uid needs it (see
        # _StoredKeys): another instance's export is all such records, and most never meet again
        deferring = isinstance(state, _StoredKeys)
        plain_vectors = self.vector_fingerprint is None  # then every insert needs embedding
        with open(file, "rb") as reread:
            if deferring:
                state.content_key_at = functools.partial(_line_content_key, reread, volatile)
            for first_number, batch_offset, batch in line_batches(file, *byte_range, facts, size=LOOKUP_BYTES):
                held = lines.many([line_key(raw, seed, member) for raw in batch]) if lines is not None else None
                # the 64-bit guard looks at the whole batch once, then only at its lines if it must (a
                # line end is no digit: no run spans two lines); 0.44 -> 0.32 us a line
                long_runs = sum(map(len, batch)) > 4 * LOOKUP_BYTES or may_hold_huge_integer(b"".join(batch))
                # per line: None (held as it is), False (no record), or (uid key, parsed)
                records: list[Any] = []
                for i, raw in enumerate(batch):
                    if held is not None and held[i] is not None:
                        records.append(None)
                        continue
                    value = None
                    if not long_runs:  # parse()'s first step inline (a batch this small has no line over the limit)
                        try:
                            value = orjson.loads(raw)
                        except orjson.JSONDecodeError:
                            pass
                    found = (first_number + i, value, False) if type(value) is dict else parse(first_number + i, raw, long_runs)
                    if found is None:
                        records.append(False)
                        continue
                    # the same key as uid_key(uid): the uid's UTF-8 bytes, hashed without building the text
                    records.append((key64(prefix + identity("memories", found[1])), found))
                parsed = [r[0] for r in records if r]
                if stored is not None:
                    before = stored.many(parsed)
                else:  # looked up in the store, the whole batch with one query
                    self._fetch_state(state, parsed)
                    before = [state.get(key) for key in parsed]
                looked_up = iter(before)
                offsets = list(accumulate(map(len, batch), initial=batch_offset)) if deferring else None
                for i, record in enumerate(records):
                    if record is False:
                        continue
                    if record is None:
                        ukey = held[i]
                        same = ukey not in from_run  # held as it is, and this run has not changed its record since
                        if not same:
                            line, value, exact = parse(first_number + i, batch[i])
                            current, ckey = state.get(ukey), content_key(value, exact, volatile)
                            same = current == ckey
                    else:
                        ukey, (line, value, exact) = record
                        current = next(looked_up)
                        if decided_here(state, ukey):  # this run decided it since (or, without ``stored``, fetched it)
                            current = state.get(ukey)
                        if current is None and deferring and not exact and valid(value):
                            # inserted: _insert() without its indirections or the content key
                            state[ukey] = _DEFERRED + offsets[i]
                            from_run.add(ukey)
                            relative, counted = len(codes) - start, self.needs_reembedding
                            add_code(_INSERT)
                            if add_key is not None:
                                add_key(ukey)
                            if plain_vectors:
                                self.needs_reembedding += 1
                            else:
                                self._vector("", value)
                            if needs is not None and self.needs_reembedding != counted:
                                needs.append(relative)
                            continue
                        ckey = content_key(value, exact, volatile)
                        same = current == ckey
                    if same:
                        add_code(_UNCHANGED)
                        if add_key is not None:
                            add_key(ukey)
                        continue
                    position, counted = len(codes), self.needs_reembedding
                    row = None
                    action = self._common_case(state, "memories", value, exact, ukey, None, ckey) if current is None else None
                    if action is None:
                        incoming = NativeRecord("memories", value, exact, label, line, raw=batch[i])
                        action, row, _ = self.decide(position, incoming, ckey, current)
                    self._note(action, row, ukey, codes, notable, keys, needs, position - start, counted)
        if deferring:  # for the records decided after this range (see Plan._plan_in_two)
            state.content_key_at = functools.partial(_line_content_key, file, volatile)

    def _note(
        self,
        action: str,
        row: Row | None,
        ukey: int,
        codes: array,
        notable: list[Row],
        keys: array | None,
        needs: array | None,
        relative: int,
        counted: int,
    ) -> None:
        codes.append(_CODE[action])
        if row is not None:
            notable.append(row)
        if keys is not None:
            keys.append(ukey)
        if needs is not None and self.needs_reembedding != counted:
            needs.append(relative)

    def _accept(
        self, kind: str, uid: str, ukey: int, ckey: int, value: Any, exact: bool, item: Indexed | None, raw: bytes | None
    ) -> tuple[Any, ...] | None:
        """Record the new state; in a real run, also the row to write."""
        self._state(kind)[ukey] = ckey
        self.from_run.add(ukey)
        if kind == "memories":
            self._vector(uid, value)
        if self.strategy == "newer":
            self.updated[ukey] = item.updated_at if item is not None else None
        if self.run is None:
            return None
        text = native_text(value, exact)
        lkey = line_key(raw, line_seed(self.source.origin, kind), self.volatile_member) if raw is not None else None
        if kind == "memories":
            tags = json.dumps(item.tags, ensure_ascii=False) if item.tags is not None else None
            return (
                uid,
                ukey,
                self.source.origin,
                _source_id(value),
                item.user_id,
                item.agent_name,
                item.scope,
                item.type,
                item.title,
                item.content,
                tags,
                item.created_at,
                item.updated_at,
                text,
                ckey,
                self.run,
                lkey,
            )
        return (uid, ukey, self.source.origin, _source_id(value), item.type, item.source, item.target, text, ckey, self.run, lkey)


class _StoredKeys(dict):
    """The store's state (uid_key -> content_key) fetched key by key with ``fetch`` and remembered
    (None for a key the store lacks), with what this run decided on top (as in any state dict).

    A large dry run inserts a valid new record without computing its content key (0.8 us of the
    ~4 us such a record costs): it holds ``_DEFERRED + the byte offset of its line`` instead, and
    ``get()`` (through which every read goes) computes the key from that line when first asked,
    with ``content_key_at``."""

    def __init__(self, fetch: Any):
        super().__init__()
        self.fetch = fetch
        self.content_key_at: Any = None

    def __missing__(self, key: int) -> int | None:
        value = self[key] = self.fetch(key)
        return value

    def get(self, key: int, default: Any = None) -> int | None:  # type: ignore[override]
        value = self[key]
        if value is not None and value >= _DEFERRED:
            value = self[key] = self.content_key_at(value - _DEFERRED)
        return value


# above every 64-bit key: marks a content key left for later (see _StoredKeys)
_DEFERRED = 1 << 64


def _line_content_key(file: Any, volatile: tuple[str, ...], offset: int) -> int:
    """The content key of the record on the line at ``offset`` of a JSON Lines file (an open one,
    or a path). A deferred record is not exact, so orjson reads its line as the standard library
    did, if that read it (a line with a 19-digit integer within 64 bits)."""
    if isinstance(file, Path):
        with open(file, "rb") as f:
            return _line_content_key(f, volatile, offset)
    file.seek(offset)
    return content_key(orjson.loads(file.readline()), False, volatile)


class KeyIndex:
    """64-bit keys and their values, sorted, in numpy arrays: what a large dry run looks keys up in,
    a batch at a time. (A random lookup in a million-entry dict measured about 1 us here, cache
    misses; the batched lookup below 0.4-0.5 us with both cores busy, and a dry run's peak RSS went
    from 194 to 98 MB.)

    The keys lie in blocks of ``STRIDE`` (256 bytes); a binary search over the first key of each
    block (a quarter MB for a million keys: it stays in the CPU caches) picks a key's block, one
    comparison with the whole block finds it. A binary search over all keys measured 0.85 us a
    key with both cores busy and the caches shared with the parse: most of its steps miss them."""

    STRIDE = 32

    def __init__(self, keys: Any, values: Any):
        import numpy as np

        if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():  # the store gives them sorted (Store.key_columns)
            order = np.argsort(keys, kind="stable")
            keys, values = keys[order], values[order]
        self.size, self.values = len(keys), values
        padding = np.full(-len(keys) % self.STRIDE, np.iinfo(np.int64).max, dtype=np.int64)  # after every key
        self.blocks = np.concatenate([keys, padding]).reshape(-1, self.STRIDE)
        self.firsts = self.blocks[:, 0].copy()

    @classmethod
    def of(cls, store: Store, kind: str, key: str, value: str) -> KeyIndex:
        """``key`` -> ``value`` (two of uid_key, content_key, line_key) of the records of ``kind``."""
        return cls(*store.key_columns(kind, key, value))

    def many(self, keys: list[int]) -> list[int | None]:
        """The value of each key (None where there is none), in order."""
        import numpy as np

        if not self.size or not keys:
            return [None] * len(keys)
        wanted = np.array(keys, dtype=np.int64)
        block = np.searchsorted(self.firsts, wanted, side="right") - 1
        np.maximum(block, 0, out=block)
        same = self.blocks[block] == wanted[:, None]
        at = block * self.STRIDE + same.argmax(axis=1)
        found = same.any(axis=1) & (at < self.size)  # not the padding
        np.minimum(at, self.size - 1, out=at)
        return [value if hit else None for value, hit in zip(self.values[at].tolist(), found.tolist())]

    def one(self, key: int) -> int | None:
        return self.many([key])[0]


def _same_model(incoming: Any, stored: Any) -> bool:
    """Model names compared exactly, as Tribal does, except for the sentence-transformers/ prefix."""

    def bare(name: Any) -> Any:
        return name.removeprefix("sentence-transformers/") if isinstance(name, str) else name

    return incoming is not None and bare(incoming) == bare(stored)


def _source_id(value: Any) -> str | None:
    ident = value.get("id") if isinstance(value, dict) else None
    if ident is None and isinstance(value, dict) and "key" in value:
        ident = value["key"]
    return ident if isinstance(ident, str) else (json.dumps(ident) if ident is not None else None)


def _merge_fields(old: Any, new: Any, picks: dict[str, str]) -> Any:
    """The stored record with the native keys picked "take" from the incoming one."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    merged = dict(old)
    for key, pick in picks.items():
        if pick == "take":
            if key in new:
                merged[key] = new[key]
            else:
                merged.pop(key, None)
    return merged


# ---------------------------------------------------------------------------------------------


class Plan:
    """What an import would do, one row per incoming record, and the means to do it."""

    def __init__(
        self,
        source: Source,
        store: Store,
        strategy: str,
        decisions: dict[str, Decision],
        filters: Filters,
        local_tz: str,
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
        evaluator = _Evaluator(source, _EmptyStore(store) if clear else store, strategy, decisions, filters, local_tz, None, vectors)
        split = None if clear else _splittable(source, store)
        # how the plan was computed (for benchmarks and the curious): "one process", or two
        # processes with the store's "preloaded state" or its "line keys"
        self.method = "one process"
        with _gc_paused():
            if split is None:
                self._collect(evaluator.lean_rows(source.records()))
            else:
                self._plan_in_two(evaluator, *split)
        evaluator.finish()
        self.counts = Counter({ACTIONS[number]: n for number, n in enumerate(_tally(self.actions)) if n})
        self.unused_decisions = evaluator.unused_decisions
        self.needs_reembedding = evaluator.needs_reembedding

    def _collect(self, rows: Iterable[tuple[str, Row | None]]) -> None:
        code = _CODE
        append, notable = self.actions.append, self._notable
        for action, row in rows:
            append(code[action])
            if row is not None:
                notable.append(row)

    def _plan_in_two(self, evaluator: _Evaluator, file: Path, rest: Any) -> None:
        """The memories file in two byte ranges on two cores, then the rest of the bundle.

        The worker decides the second range against the store as it was; afterwards the records
        of that range whose uid the first range inserted or updated (rare: duplicates across the
        halves) are read again and decided in order here, so the result is the sequential one.
        """
        import numpy as np

        first, second = line_ranges(file, 2)
        facts = FileFacts()
        method = "fork" if threading.active_count() == 1 else "spawn"
        share = self._held_share(file)
        by_line, preload = share >= LINE_KEY_SHARE, share < LOOKUP_SHARE
        self.method = ("line keys" + (" and preloaded state" if preload else "")) if by_line else "preloaded state"
        args = (
            str(self.store.path),
            self.source.format,
            self.source.version,
            self.source.origin,
            str(file),
            second,
            self.strategy,
            self.decisions,
            self.filters,
            self.local_tz,
            self.vectors,
            self.source.header,
            by_line,
            preload,
        )
        with multiprocessing.get_context(method).Pool(1) as pool:
            later = pool.apply_async(_plan_range, args)
            # the worker loads the same indexes meanwhile: in parallel, rather than once before it starts
            evaluator.use_indexes(*_indexes(self.store, by_line, preload))
            first_keys = array("q")
            evaluator.lean_memories(file, first, self.actions, self._notable, keys=first_keys, facts=facts)
            try:
                result = later.get()
            except MalformedInputError as err:  # its line counts from the start of the worker's range
                if err.location.line is None:
                    raise
                raise MalformedInputError(err.message, replace(err.location, line=err.location.line + facts.lines)) from None
        offset, line_offset = len(self.actions), facts.lines
        codes = array("b", result["codes"])
        needs = array("i", result["needs"])  # positions in the worker's range of records that need embedding
        evaluator.needs_reembedding += len(needs)
        rows = {}
        for row in result["notable"]:
            row.position += offset
            row.line = row.line + line_offset if row.line is not None else None
            rows[row.position] = row
        hits = _written_before(np.frombuffer(result["keys"], dtype=np.int64), first_keys, self.actions, evaluator.from_run)
        if hits:
            wanted, needs = set(hits), set(needs)
            code = _CODE
            for relative, record in enumerate(jsonl_records(file, _memories, *second)):
                if relative in wanted:
                    record.line = record.line + line_offset if record.line is not None else None
                    evaluator.needs_reembedding -= relative in needs  # decided again below, counted again there
                    action, row, _ = evaluator.decide(offset + relative, record)
                    codes[relative] = code[action]
                    rows.pop(offset + relative, None)
                    if row is not None:
                        rows[offset + relative] = row
        self.actions.extend(codes)
        self._notable.extend(rows[p] for p in sorted(rows))
        evaluator.decided |= result["decided"]
        evaluator.stale += result["stale"]
        self._collect(evaluator.lean_rows(rest(), start=len(self.actions)))

    def _held_share(self, file: Path) -> float:
        """The share of a sample of the file's lines that the store holds as they are (their line
        keys): the more, the more a plan gains from recognising lines by their keys."""
        seed, prefix = line_seed(self.source.origin, "memories"), f"{self.source.origin}:memories:".encode()
        sample: dict[int, int] = {}  # uid_key -> line_key of the sampled lines
        found = plugin(self.source.format)
        identity, member = found.identity_bytes, volatile_member(found.volatile)
        for raw in sample_lines(file, 1000):
            with contextlib.suppress(orjson.JSONDecodeError):  # a line that is not a record is simply not held
                value = orjson.loads(raw)
                if type(value) is dict:
                    sample[key64(prefix + identity("memories", value))] = line_key(raw, seed, member)
        stored = self.store.stored_line_keys("memories", list(sample))
        held = sum(1 for ukey, lkey in sample.items() if stored.get(ukey) == lkey)
        return held / len(sample) if sample else 0.0

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
        volatile = plugin(self.source.format).volatile
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
        """The accounting: total = inserted + updated + unchanged + skipped + conflicts + invalid."""
        return {
            "inserted": self.counts["insert"],
            "updated": self.counts["update"],
            "unchanged": self.counts["unchanged"],
            "skipped": self.counts["skip"],
            "conflicts": self.counts["conflict"],
            "invalid": self.counts["invalid"],
            "total": self.total,
            "dry_run": True,
            "backup": None,
            "needs_reembedding": self.needs_reembedding,
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
        incoming record's tags and both update times (what a merge decision is made on)."""
        chosen = [r for r in (self._notable if rows is None else rows) if r.existing_hash is not None]
        incoming = {position: value for position, (value, _) in self._incoming(chosen).items()}
        tz = zone(self.local_tz)
        fmt = plugin(self.source.format)
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
        """The accounting this plan would have with ``decisions`` (live counts for a merge UI); a
        dry run with them confirms it."""
        counts = Counter(self.counts)
        for row in self._notable:
            decision = decisions.get(row.uid)
            if decision is None or row.action != "conflict" or row.existing_hash is None:
                continue
            counts["conflict"] -= 1
            counts["update" if decision.choice in ("take", "fields") else "skip"] += 1
        return {
            "inserted": counts["insert"],
            "updated": counts["update"],
            "unchanged": counts["unchanged"],
            "skipped": counts["skip"],
            "conflicts": counts["conflict"],
            "invalid": counts["invalid"],
            "total": self.total,
        }

    def to_frame(self) -> Any:
        """The notable rows (all but plain inserts and unchanged records) with their field diffs."""
        return self._frame(self.notable)

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
                    "file": r.file,
                    "line": r.line,
                    "record": r.record,
                }
                for r in rows
            ],
            columns=["position", "kind", "uid", "action", "reason", "fields", "file", "line", "record"],
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
        counts = "".join(f"<td>{v}</td>" for v in self.summary().values() if not isinstance(v, bool) and v is not None)
        heads = "".join(f"<th>{k}</th>" for k, v in self.summary().items() if not isinstance(v, bool) and v is not None)
        head = f"<p>plan for <b>{html.escape(self.source.label)}</b> with strategy <b>{self.strategy}</b></p>"
        table = f"<table><tr>{heads}</tr><tr>{counts}</tr></table>"
        try:
            rows = self.notable
        except StalePlanError as err:  # shown after apply(), say: the rows stand, their field diffs cannot be found now
            rows, head = self._notable, head + f"<p>{html.escape(str(err))} (fields that differ not shown)</p>"
        return head + table + (self._frame(rows[:200]).to_html(index=False) if rows else "")

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


def _tally(actions: array) -> list[int]:
    import numpy as np

    return np.bincount(np.frombuffer(actions, dtype=np.int8), minlength=len(ACTIONS)).tolist() if actions else [0] * len(ACTIONS)


# Below this size a memories file is planned in one process (see Plan._plan_in_two).
PARALLEL_BYTES = 32 * 1024 * 1024
# A large memories file is planned by line keys when the store holds at least this share of a
# sample of its lines byte for byte (see Plan._held_share); otherwise every line is parsed and
# looked up in the preloaded state.
LINE_KEY_SHARE = 0.5
# ... and then the state of the other records is looked up in the store (one query per batch of
# lines) instead of preloading it too when the store holds at least this share of the sample (a
# preload of a million records measured 0.3-0.4 s in each process, a batched query 2-5 us a key).
LOOKUP_SHARE = 0.8
# bytes of a large memories file whose lines are looked up together (see KeyIndex): ~160 Kagura
# lines. A batch's parsed records stay alive until decided: 1M lines parsed and keyed in batches of
# 64 KB took 1.75-2.1 s, in batches of 1 MB 2.5-3.0 s (which leave the CPU caches).
LOOKUP_BYTES = 1 << 16


def _memories(value: Any) -> str:
    return "memories"


def _splittable(source: Source, store: Any) -> tuple[Path, Any] | None:
    """For a bundle on disk whose memories are a large JSONL file: that file, and a factory of the
    bundle's other records (Kagura's graph)."""
    if source.path is None or str(getattr(store, "path", ":memory:")) == ":memory:" or (os.cpu_count() or 1) < 2:
        return None
    if source.format == "kagura":
        file = source.path / "memories.jsonl"
        graph = source.path / "graph.jsonl"

        def rest() -> Iterator[NativeRecord]:
            if graph.is_file():
                yield from jsonl_records(graph, lambda value: "relations" if value.get("type") == "edge" else "nodes")
    elif source.format == "tribal-jsonl":
        file = source.path

        def rest() -> Iterator[NativeRecord]:
            return iter(())
    else:
        return None
    if not file.is_file() or file.stat().st_size < PARALLEL_BYTES:
        return None
    return file, rest


def _written_before(later: Any, keys: array, codes: array, written: set[int]) -> list[int]:
    """The positions in ``later`` (the worker's uid keys) of keys that the first range (its
    ``keys`` and action ``codes``) inserted or updated, as ``written`` holds them. Candidates come
    from a bitmap of the written keys' top 24 bits (uid keys are uniform hashes: a few percent of
    false candidates), confirmed in ``written``: 0.03 s for half a million keys in half a million,
    where converting the set and a binary search took 0.19 s."""
    import numpy as np

    actions = np.frombuffer(codes, dtype=np.int8)
    first = np.frombuffer(keys, dtype=np.int64)[(actions == _INSERT) | (actions == _UPDATE)]
    if not first.size or not later.size:
        return []
    bits = np.zeros(1 << 24, dtype=bool)
    bits[(first >> 40) & 0xFFFFFF] = True
    return [i for i in np.flatnonzero(bits[(later >> 40) & 0xFFFFFF]).tolist() if int(later[i]) in written]


def _plan_range(
    store_path: str,
    fmt: str,
    version: str,
    origin: str,
    file: str,
    byte_range: tuple[int, int | None],
    strategy: str,
    decisions: dict[str, Decision],
    filters: Filters,
    local_tz: str,
    vectors: str,
    header: Any,
    by_line: bool,
    preload: bool,
) -> dict[str, Any]:
    """In the worker: decide one byte range of a memories file against the store as it is."""
    with Store(store_path) as store, _gc_paused():
        source = Source(fmt, version, origin, lambda: iter(()), file, header)
        evaluator = _Evaluator(source, store, strategy, decisions, filters, local_tz, None, vectors)
        codes, keys, needs, notable = array("b"), array("q"), array("i"), []
        evaluator.use_indexes(*_indexes(store, by_line, preload))
        evaluator.lean_memories(Path(file), byte_range, codes, notable, keys=keys, needs=needs)
    return {
        "codes": codes.tobytes(),
        "keys": keys.tobytes(),
        "needs": needs.tobytes(),
        "notable": notable,
        "decided": evaluator.decided,
        "stale": evaluator.stale,
    }


def _indexes(store: Store, by_line: bool, preload: bool) -> tuple[KeyIndex | None, KeyIndex | None]:
    """What a large plan looks stored memories up in (see _Evaluator.use_indexes)."""
    lines = KeyIndex.of(store, "memories", "line_key", "uid_key") if by_line else None
    return lines, KeyIndex.of(store, "memories", "uid_key", "content_key") if preload else None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
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


class _EmptyStore:
    """A view of a store as if cleared: for planning an import with ``clear``."""

    def __init__(self, store: Store):
        self.conn = store.conn
        self.setting, self.fingerprint = store.setting, store.fingerprint

    def state(self, kind: str) -> dict[int, int]:
        return {}

    def native(self, kind: str, uid: str) -> Any:
        return None

    def updated_at(self, kind: str, uid: str) -> str | None:
        return None


def plan(
    bundle: str | Path | Bundle,
    store: Store,
    *,
    strategy: str = "skip",
    decisions: dict[str, Decision] | str | Path | None = None,
    filters: Filters | None = None,
    local_tz: str = "UTC",
    clear: bool = False,
    vectors: str = "auto",
) -> Plan:
    """A dry run: what importing ``bundle`` into ``store`` would do, without writing anything.
    ``vectors`` (auto, keep, drop) says what becomes of vectors a bundle carries."""
    if isinstance(decisions, (str, Path)):
        decisions = load_decisions(decisions)
    return Plan(
        _source(bundle) if not isinstance(bundle, Source) else bundle,
        store,
        strategy,
        decisions or {},
        filters or Filters(),
        local_tz,
        clear,
        vectors,
    )


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
    local_tz: str = "UTC",
    clear: bool = False,
    vectors: str = "auto",
) -> dict[str, Any]:
    """Import in one transaction: all of it lands or none of it. ``clear`` empties the store first;
    it and the ``overwrite`` strategy, which replace stored data, take a backup first (its path is
    in the result). Returns the accounting (the shape of ``memport import --json``)."""
    source = bundle if isinstance(bundle, Source) else _source(bundle)
    if isinstance(decisions, (str, Path)):
        decisions = load_decisions(decisions)
    backup = store.backup() if clear or strategy == "overwrite" else None
    counts: Counter = Counter()
    with store.transaction():
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
        evaluator = _Evaluator(source, store, strategy, decisions or {}, filters or Filters(), local_tz, run, vectors)
        bulk = _large(source, store)
        with store.bulk_text_index() if bulk else contextlib.nullcontext():
            for action, _ in evaluator.rows():
                counts[action] += 1
            evaluator.finish()
        if strategy == "error" and counts["conflict"]:
            raise ConflictError(f"{counts['conflict']} record(s) differ from the store and the strategy is error: nothing was written")
        result = {
            "inserted": counts["insert"],
            "updated": counts["update"],
            "unchanged": counts["unchanged"],
            "skipped": counts["skip"],
            "conflicts": counts["conflict"],
            "invalid": counts["invalid"],
            "total": sum(counts.values()),
            "dry_run": False,
            "backup": str(backup) if backup else None,
            "needs_reembedding": evaluator.needs_reembedding,
        }
        store.finish_run(run, {k: v for k, v in result.items() if k not in ("dry_run", "backup")}, source.header)
    return result
