"""The large-file engine: a plan over a JSON Lines memories file of a million records.

An implementation detail behind the evaluator (:mod:`memport.planning.evaluate`): the same decisions,
made faster. The memories file is read in two byte ranges on two cores; stored records are looked
up by 64-bit keys a batch of lines at a time (:class:`KeyIndex`); a line the store holds byte for
byte is recognised by its line key without being parsed; a valid new record's content key is left
until a later record needs it (:class:`StoredKeys`). The records are still decided one by one, in
order, and a record of the second range that the first one changed is decided again, so the result
is the sequential one.
"""

from __future__ import annotations

import contextlib
import functools
from array import array
from collections.abc import Iterator
from dataclasses import replace
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson

from ..errors import MalformedInputError
from ..formats import NativeRecord
from ..formats._jsonl import FileFacts, line_batches, line_ranges, sample_lines, slow_line
from ..formats._jsonl import records as jsonl_records
from ..jsonio import MAX_LINE_BYTES, may_hold_huge_integer
from ..keys import content_key, key64, line_key, line_seed, volatile_member
from ..parallel import context as process_context
from ..store import Store, VectorRow
from .evaluate import ACTIONS, CODE, EmptyStore, Evaluator, Row, gc_paused
from .source import Source
from .writer import StoreWriter

_UNCHANGED, _INSERT, _UPDATE = CODE["unchanged"], CODE["insert"], CODE["update"]


def lean_memories(
    ev: Any,
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
    if ev.run is not None or ev.filtering or ev.strategy == "newer":
        counted = ev.needs_reembedding
        for action, row in ev.rows(jsonl_records(file, _memories, *byte_range, facts=facts), start):
            _note(ev, action, row, ev.last_key, codes, notable, keys, needs, position - start, counted)
            counted = ev.needs_reembedding
            position += 1
        return
    prefix = f"{ev.source.origin}:memories:".encode()
    identity, label = ev.plugin.identity_bytes, str(file)
    state = ev.state_of("memories")
    lines, stored, from_run, volatile = ev.lines, ev.stored, ev.from_run, ev.volatile
    seed, member = line_seed(ev.source.origin, "memories"), ev.volatile_member
    facts = facts if facts is not None else FileFacts()
    first = byte_range[0] == 0
    add_code, add_key = codes.append, keys.append if keys is not None else None
    decided_here = dict.__contains__  # the state dict holds what this run decided (and, without ``stored``, what it fetched)
    schema = ev.plugin.schema_for("memories", None)
    valid = ev.schemas.errors_only(schema).is_valid if schema is not None else lambda value: True

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
        return found[0], found[1], found[2]

    # a valid new record's content key is left until a later record with its uid needs it (see
    # StoredKeys): another instance's export is all such records, and most never meet again
    deferring = isinstance(state, StoredKeys)
    plain_vectors = ev.vector_fingerprint is None  # then every insert needs embedding
    local_times = ev.plugin.naive_local_times if ev.counting_local else None
    with open(file, "rb") as reread:
        if deferring:
            state.content_key_at = functools.partial(_line_content_key, reread, volatile)
        for first_number, batch_offset, batch in line_batches(file, *byte_range, facts, size=LOOKUP_BYTES):
            held = lines.many([line_key(raw, seed, member) for raw in batch]) if lines is not None else None
            # the 64-bit guard looks at the whole batch once, then only at its lines if it must (a
            # line end is no digit: no run spans two lines); 0.44 -> 0.32 us a line
            long_runs = sum(map(len, batch)) > 4 * LOOKUP_BYTES or may_hold_huge_integer(b"".join(batch))
            # per line: None (held as it is), False (no record), (None, parsed) for a value that is not
            # an object (the evaluator names it), or (uid key, parsed)
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
                if type(found[1]) is not dict:
                    records.append((None, found))
                    continue
                # the same key as uid_key(uid): the uid's UTF-8 bytes, hashed without building the text
                records.append((key64(prefix + identity("memories", found[1])), found))
            parsed = [r[0] for r in records if r and r[0] is not None]
            if stored is not None:
                before = stored.many(parsed)
            else:  # looked up in the store, the whole batch with one query
                ev.fetch_state(state, parsed)
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
                elif record[0] is None:  # not an object: not imported, named
                    line, value, exact = record[1]
                    action, row = ev.decide(len(codes), NativeRecord("memories", value, exact, label, line, raw=batch[i]))
                    _note(ev, action, row, 0, codes, notable, keys, needs, len(codes) - start, ev.needs_reembedding)
                    continue
                else:
                    ukey, (line, value, exact) = record
                    current = next(looked_up)
                    if decided_here(state, ukey):  # this run decided it since (or, without ``stored``, fetched it)
                        current = state.get(ukey)
                    if current is None and deferring and not exact and valid(value):
                        # inserted: _insert() without its indirections or the content key
                        state[ukey] = DEFERRED + offsets[i]
                        from_run.add(ukey)
                        if local_times is not None:
                            ev.local_times += local_times("memories", value)
                        relative, counted = len(codes) - start, ev.needs_reembedding
                        add_code(_INSERT)
                        if add_key is not None:
                            add_key(ukey)
                        if plain_vectors:
                            ev.needs_reembedding += 1
                        else:
                            ev.count_vector("", value)
                        if needs is not None and ev.needs_reembedding != counted:
                            needs.append(relative)
                        continue
                    ckey = content_key(value, exact, volatile)
                    same = current == ckey
                if same:
                    add_code(_UNCHANGED)
                    if add_key is not None:
                        add_key(ukey)
                    continue
                position, counted = len(codes), ev.needs_reembedding
                row = None
                action = ev.common_case(state, "memories", value, exact, ukey, None, ckey) if current is None else None
                if action is None:
                    incoming = NativeRecord("memories", value, exact, label, line, raw=batch[i])
                    action, row = ev.decide(position, incoming, ckey, current)
                _note(ev, action, row, ukey, codes, notable, keys, needs, position - start, counted)
    if deferring:  # for the records decided after this range (see Plan._plan_in_two)
        state.content_key_at = functools.partial(_line_content_key, file, volatile)


def use_indexes(ev: Evaluator, lines: KeyIndex | None, stored: KeyIndex | None) -> None:
    """For a large memories file: recognise the lines the store holds by their keys (``lines``:
    line_key -> uid_key), and look the state of the other records up in ``stored`` (uid_key ->
    content_key), a batch at a time; without ``stored``, key by key in the store."""
    ev.lines, ev.stored = lines, stored
    fetch = stored.one if stored is not None else functools.partial(ev.store.content_key, "memories")
    ev.state["memories"] = StoredKeys(fetch)


def _note(
    ev: Any,
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
    codes.append(CODE[action])
    if row is not None:
        notable.append(row)
    if keys is not None:
        keys.append(ukey)
    if needs is not None and ev.needs_reembedding != counted:
        needs.append(relative)


class StoredKeys(dict):
    """The store's state (uid_key -> content_key) fetched key by key with ``fetch`` and remembered
    (None for a key the store lacks), with what this run decided on top (as in any state dict).

    A large dry run inserts a valid new record without computing its content key (0.8 us of the
    ~4 us such a record costs): it holds ``DEFERRED + the byte offset of its line`` instead, and
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
        if value is not None and value >= DEFERRED:
            value = self[key] = self.content_key_at(value - DEFERRED)
        return value


# above every 64-bit key: marks a content key left for later (see StoredKeys)
DEFERRED = 1 << 64


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
    options: dict[str, Any],
    header: Any,
    by_line: bool,
    preload: bool,
) -> dict[str, Any]:
    """In the worker: decide one byte range of a memories file against the store as it is."""
    with Store(store_path) as store, gc_paused():
        source = Source(fmt, version, origin, lambda: iter(()), file, header)
        evaluator = Evaluator(source, store, write_run=None, **options)
        codes, keys, needs, notable = array("b"), array("q"), array("i"), []
        use_indexes(evaluator, *_indexes(store, by_line, preload))
        lean_memories(evaluator, Path(file), byte_range, codes, notable, keys=keys, needs=needs)
    return {
        "codes": codes.tobytes(),
        "keys": keys.tobytes(),
        "needs": needs.tobytes(),
        "notable": notable,
        "decided": evaluator.decided,
        "stale": evaluator.stale,
        "refused": evaluator.refused,
        "local_times": evaluator.local_times,
    }


def _indexes(store: Store, by_line: bool, preload: bool) -> tuple[KeyIndex | None, KeyIndex | None]:
    """What a large plan looks stored memories up in (see _Evaluator.use_indexes)."""
    lines = KeyIndex.of(store, "memories", "line_key", "uid_key") if by_line else None
    return lines, KeyIndex.of(store, "memories", "uid_key", "content_key") if preload else None


def plan_in_two(
    evaluator: Evaluator, source: Source, store: Store, file: Path, options: dict[str, Any], actions: array, notable: list[Row]
) -> str:
    """The memories file in two byte ranges on two cores: its actions appended to ``actions`` and
    its notable rows to ``notable``; returns how (see ``Plan.method``).

    The worker decides the second range against the store as it was; afterwards the records
    of that range whose uid the first range inserted or updated (rare: duplicates across the
    halves) are read again and decided in order here, so the result is the sequential one.
    ``options`` are the plan's strategy, decisions, filters, local_tz and vectors.
    """
    import numpy as np

    first, second = line_ranges(file, 2)
    facts = FileFacts()
    share = held_share(source, store, file)
    by_line, preload = share >= LINE_KEY_SHARE, share < LOOKUP_SHARE
    method = ("line keys" + (" and preloaded state" if preload else "")) if by_line else "preloaded state"
    args = (str(store.path), source.format, source.version, source.origin, str(file), second, options, source.header, by_line, preload)
    with process_context().Pool(1) as pool:
        later = pool.apply_async(_plan_range, args)
        # the worker loads the same indexes meanwhile: in parallel, rather than once before it starts
        use_indexes(evaluator, *_indexes(store, by_line, preload))
        first_keys = array("q")
        lean_memories(evaluator, file, first, actions, notable, keys=first_keys, facts=facts)
        try:
            result = later.get()
        except MalformedInputError as err:  # its line counts from the start of the worker's range
            if err.location.line is None:
                raise
            raise MalformedInputError(err.message, replace(err.location, line=err.location.line + facts.lines)) from None
    offset, line_offset = len(actions), facts.lines
    codes = array("b", result["codes"])
    needs = array("i", result["needs"])  # positions in the worker's range of records that need embedding
    evaluator.needs_reembedding += len(needs)
    evaluator.local_times += result["local_times"]
    rows = {}
    for row in result["notable"]:
        row.position += offset
        row.line = row.line + line_offset if row.line is not None else None
        rows[row.position] = row
    hits = _written_before(np.frombuffer(result["keys"], dtype=np.int64), first_keys, actions, evaluator.from_run)
    if hits:
        wanted, needs = set(hits), set(needs)
        for relative, record in enumerate(jsonl_records(file, _memories, *second)):
            if relative in wanted:
                record.line = record.line + line_offset if record.line is not None else None
                evaluator.needs_reembedding -= relative in needs  # decided again below, counted again there
                if evaluator.counting_local and codes[relative] in (_INSERT, _UPDATE):
                    evaluator.local_times -= evaluator.plugin.naive_local_times("memories", record.value)
                action, row = evaluator.decide(offset + relative, record)
                codes[relative] = CODE[action]
                rows.pop(offset + relative, None)
                if row is not None:
                    rows[offset + relative] = row
    actions.extend(codes)
    notable.extend(rows[p] for p in sorted(rows))
    evaluator.decided |= result["decided"]
    evaluator.stale += result["stale"]
    evaluator.refused += result["refused"]
    return method


def held_share(source: Source, store: Store, file: Path) -> float:
    """The share of a sample of the file's lines that the store holds as they are (their line
    keys): the more, the more a plan gains from recognising lines by their keys."""
    seed, prefix = line_seed(source.origin, "memories"), f"{source.origin}:memories:".encode()
    sample: dict[int, int] = {}  # uid_key -> line_key of the sampled lines
    found = source.plugin
    identity, member = found.identity_bytes, volatile_member(found.volatile)
    for raw in sample_lines(file, 1000):
        with contextlib.suppress(orjson.JSONDecodeError):  # a line that is not a record is simply not held
            value = orjson.loads(raw)
            if type(value) is dict:
                sample[key64(prefix + identity("memories", value))] = line_key(raw, seed, member)
    stored = store.stored_line_keys("memories", list(sample))
    held = sum(1 for ukey, lkey in sample.items() if stored.get(ukey) == lkey)
    return held / len(sample) if sample else 0.0


# ---------------------------------------------------------------------------------------------
# A real import on two cores


class _Collector(StoreWriter):
    """A worker's writer: keeps the rows (and vectors) it would write, each with the position of
    its record in the range, and each record's content key (what ``seen`` adds to the contents),
    for the parent, which writes them in order in its one transaction."""

    def __init__(self, store: Any, run: int, origin: str, member: bytes):
        super().__init__(store, run, origin, member)
        self.position = 0
        self.kept: list[tuple[int, str, Any]] = []  # (position, kind, row)
        self.kept_vectors: list[tuple[int, VectorRow]] = []
        self.seen_keys: list[int | None] = []

    def seen(self, ckey: int | None) -> None:
        self.seen_keys.append(ckey)

    def flush(self) -> None:
        for kind, rows in self.rows.items():
            self.kept.extend((self.position, kind, row) for row in rows)
            rows.clear()
        self.kept_vectors.extend((self.position, vector) for vector in self.vectors)
        self.vectors.clear()
        self.pending = 0


def _import_range(
    store_path: str,
    fmt: str,
    version: str,
    origin: str,
    file: str,
    byte_range: tuple[int, int | None],
    options: dict[str, Any],
    header: Any,
    run: int,
    clear: bool,
) -> dict[str, Any]:
    """In the worker: decide one byte range of a memories file against the store as it was before
    the import (the parent's transaction is not visible here), building the rows a real import
    writes without writing them."""
    with Store(store_path, readonly=True) as store, gc_paused():
        source = Source(fmt, version, origin, lambda: iter(()), file, header)
        evaluator = Evaluator(source, EmptyStore(store) if clear else store, write_run=run, **options)
        collector = _Collector(store, run, origin, evaluator.volatile_member)
        collector.fingerprint = evaluator.writer.fingerprint
        evaluator.writer = collector
        codes, keys, needs, notable = array("b"), array("q"), array("i"), []
        for position, record in enumerate(jsonl_records(Path(file), _memories, *byte_range)):
            collector.position = position
            counted = evaluator.needs_reembedding
            action, row = evaluator.decide(position, record)
            collector.flush()  # each row with its record's position
            _note(evaluator, action, row, evaluator.last_key if action != "invalid" else 0, codes, notable, keys, needs, position, counted)
    return {
        "codes": codes.tobytes(),
        "keys": keys.tobytes(),
        "needs": needs.tobytes(),
        "notable": notable,
        "rows": collector.kept,
        "vectors": collector.kept_vectors,
        "seen": collector.seen_keys,
        "decided": evaluator.decided,
        "stale": evaluator.stale,
        "local_times": evaluator.local_times,
    }


def import_in_two(
    evaluator: Evaluator, source: Source, store: Store, file: Path, options: dict[str, Any], clear: bool, pool: Any
) -> Iterator[tuple[str, Row | None]]:
    """evaluator.rows() over a large memories file, on two cores, for a real import: (action, row)
    per record, in order, and the same rows written in the same order as one process writes them.

    ``pool`` (one worker process, started before the import's transaction: a process forked while
    it holds the store's write lock would inherit the open connection) decides the second byte
    range against the store as it was and builds its rows, while this process decides and writes
    the first; then the worker's rows go through this process's writer, in order. A record of the
    second range whose uid the first range inserted or updated (a duplicate across the halves) is
    read again and decided here instead, so the result is the sequential one. 200k Kagura memories:
    """
    import numpy as np

    first, second = line_ranges(file, 2)
    facts = FileFacts()
    args = (str(store.path), source.format, source.version, source.origin, str(file), second, options, source.header, evaluator.run, clear)
    later = pool.apply_async(_import_range, args)
    first_codes, first_keys = array("b"), array("q")
    for action, row in evaluator.rows(jsonl_records(file, _memories, *first, facts=facts)):
        first_codes.append(CODE[action])
        first_keys.append(evaluator.last_key if action != "invalid" else 0)
        yield action, row
    try:
        result = later.get()
    except MalformedInputError as err:  # its line counts from the start of the worker's range
        if err.location.line is None:
            raise
        raise MalformedInputError(err.message, replace(err.location, line=err.location.line + facts.lines)) from None
    offset, line_offset = len(first_codes), facts.lines
    codes, worker_keys = array("b", result["codes"]), np.frombuffer(result["keys"], dtype=np.int64)
    needs = set(np.frombuffer(result["needs"], dtype=np.int32).tolist())
    evaluator.needs_reembedding += len(needs)
    evaluator.local_times += result["local_times"]
    notable: dict[int, Row] = {}
    for row in result["notable"]:
        at = row.position
        row.position += offset
        row.line = row.line + line_offset if row.line is not None else None
        notable[at] = row
    hits = set(_written_before(worker_keys, first_keys, first_codes, evaluator.from_run))
    rows = iter(result["rows"])
    vectors = iter(result["vectors"])
    pending_row, pending_vector = next(rows, None), next(vectors, None)
    writer, state, seen = evaluator.writer, evaluator.state_of("memories"), result["seen"]
    again = jsonl_records(file, _memories, *second) if hits else None
    for position, code in enumerate(codes):
        record = next(again) if again is not None else None
        # the worker's rows and vectors of this record (none when it is decided again here)
        mine = []
        while pending_row is not None and pending_row[0] == position:
            mine.append(pending_row)
            pending_row = next(rows, None)
        mine_vectors = []
        while pending_vector is not None and pending_vector[0] == position:
            mine_vectors.append(pending_vector[1])
            pending_vector = next(vectors, None)
        if position in hits:
            record.line = record.line + line_offset if record.line is not None else None
            evaluator.needs_reembedding -= position in needs  # decided again below, counted again there
            if evaluator.counting_local and code in (_INSERT, _UPDATE):
                evaluator.local_times -= evaluator.plugin.naive_local_times("memories", record.value)
            yield evaluator.decide(offset + position, record)
            continue
        writer.seen(seen[position])
        action = ACTIONS[code]
        if action in ("insert", "update"):  # the state of what was written (a merge of fields: the merged record)
            ukey = int(worker_keys[position])
            state[ukey] = next((row.content_key for _, kind, row in mine if kind == "memories"), seen[position])
            evaluator.from_run.add(ukey)
        for _, kind, row in mine:
            writer.add(kind, row)
        writer.vectors.extend(mine_vectors)
        yield action, notable.get(position)
    writer.flush()
    evaluator.decided |= result["decided"]
    evaluator.stale += result["stale"]
