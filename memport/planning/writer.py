"""What a real import writes: named store rows, buffered and written in batches.

Inside the import's one transaction, records the evaluator accepts become :class:`MemoryRow`,
:class:`MessageRow` or :class:`RecordRow` (the exact native JSON, the columns filters and search use, the keys plans
compare by), and vectors a bundle carries become :class:`VectorRow`; the store writes them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import orjson

from ..formats import Indexed, Reference
from ..keys import line_key, line_seed, native_text, storable, text_sha256
from ..store import MemoryRow, MessageRow, RecordRow, Store, VectorRow, contents_term
from ..store.schema import LINKS

BATCH = 2000  # rows written at once
_TEXTS = ("user_id", "agent_name", "scope", "type", "title", "content", "created_at", "updated_at", "source", "target")


class StoreWriter:
    def __init__(self, store: Store, run: int, origin: str, volatile_member: bytes):
        self.store, self.run, self.origin, self.volatile_member = store, run, origin, volatile_member
        self.rows: dict[str, list[Any]] = {}
        self.pending = 0
        self.vectors: list[VectorRow] = []
        # a fingerprint of vectors imported under a model of their own: (id, model, dimensions,
        # details), registered with the first of them
        self.fingerprint: tuple[str, Any, Any, dict[str, Any]] | None = None
        self._seeds: dict[str, int] = {}
        # [records, a sum of their content keys] of the bundle (Store.contents), None when a record
        # could not be held: whether an export holds exactly this bundle's records
        self.contents: list[int] | None = [0, 0]

    def seen(self, ckey: int | None) -> None:
        """A record of the bundle (its content key; None: one memport cannot hold)."""
        if ckey is None:
            self.contents = None
        elif self.contents is not None:
            self.contents[0] += 1
            self.contents[1] += contents_term(ckey)

    def record(
        self,
        kind: str,
        uid: str,
        ukey: int,
        ckey: int,
        value: Any,
        exact: bool,
        item: Indexed,
        raw: bytes | None,
        source_id: str | None,
        problems: list[str],
        references: list[Reference] | None = None,
    ) -> None:
        """Buffer the row of one accepted record; ``references`` (its format's, for a kind whose
        table has link columns) become the uids its links hold."""
        text = native_text(value, exact)
        noted = json.dumps(problems) if problems else None
        if exact:  # may hold lone surrogates, which SQLite's text cannot: the native JSON keeps them
            item = replace(item, **{name: storable(getattr(item, name)) for name in _TEXTS})
            item.tags = [storable(tag) for tag in item.tags] if item.tags is not None else None
            source_id = storable(source_id)
        lkey = None
        if raw is not None:
            seed = self._seeds.get(kind)
            if seed is None:
                seed = self._seeds[kind] = line_seed(self.origin, kind)
            lkey = line_key(raw, seed, self.volatile_member)
        if kind == "memories":
            tags = orjson.dumps(item.tags).decode() if item.tags is not None else None
            row: Any = MemoryRow(
                uid,
                ukey,
                self.origin,
                source_id,
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
                noted,
            )
        elif kind == "messages":
            row = MessageRow(
                uid,
                ukey,
                self.origin,
                source_id,
                item.agent_name,
                item.type,
                item.content,
                item.created_at,
                text,
                ckey,
                self.run,
                lkey,
                noted,
            )
        else:
            row = RecordRow(
                uid,
                ukey,
                self.origin,
                source_id,
                item.type,
                item.source,
                item.target,
                text,
                ckey,
                self.run,
                lkey,
                noted,
                title=item.title,
                content=item.content,
                created_at=item.created_at,
                updated_at=item.updated_at,
                links=self.links(kind, references) if references else None,
            )
        self.add(kind, row)

    def links(self, kind: str, references: list[Reference]) -> dict[str, str] | None:
        """The link columns of a record of ``kind``: the uid each reference names (its identity,
        where the format tells it), in the column for its end and the kind it names."""
        columns = {named: column for column, named in LINKS.get(kind, {}).items()}
        found = {}
        for ref in references:
            column = columns.get((ref.end, ref.kind))
            if column is not None and ref.identity is not None:
                found[column] = storable(f"{self.origin}:{ref.kind}:{ref.identity}")
        return found or None

    def add(self, kind: str, row: MemoryRow | RecordRow) -> None:
        """A row to write (built here, or by a worker process: see planning.large)."""
        self.rows.setdefault(kind, []).append(row)
        self.pending += 1
        if self.pending >= BATCH:
            self.flush()

    def vector(self, uid: str, fingerprint: str, vector: list[float], text: str) -> None:
        """A vector a bundle carries, for the memory ``uid``, made from ``text``."""
        import numpy as np

        blob = np.asarray(vector, dtype=np.float32).tobytes()
        self.vectors.append(VectorRow(uid, fingerprint, len(vector), blob, text_sha256(text)))

    def flush(self) -> None:
        for kind, rows in self.rows.items():
            if rows:
                self.store.write_records(kind, rows)
                rows.clear()
        self.pending = 0
        if self.vectors:
            if self.fingerprint is not None:
                self.store.register_fingerprint(*self.fingerprint)
            self.store.write_vectors(self.vectors)
            self.vectors.clear()
