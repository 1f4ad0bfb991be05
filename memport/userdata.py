"""Everything a store holds of one user: what ``memport erase --user`` removes for good and
``memport export --user`` writes (a GDPR erasure and access request).

Which records are a user's is format knowledge, asked of each origin's plugin (never of a format's
name): its memories (the store's ``user_id`` column, and records the plugin says belong to the user
or name them: ``FormatPlugin.names_user``, such as Kagura's user node or a Tribal entry converted
from the user's Kagura memory), the records of other kinds that name them, the relations that touch
any of these (``end``, ``user_ends``), and the records that reference what was chosen (Doclea chunks
of a chosen document: ``references``). An export also takes the nodes those relations name; an
erase takes only those no other relation names (a topic node reachable only from the user's data).

What is erased goes for good (:meth:`memport.Store.erase`): vectors, cached vectors of texts no
other memory's vector was made from, the full-text index, and the user's name in the import runs'
sources and headers (replaced by ``[erased]``); the file is then rewritten without free pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .formats import FormatPlugin, family
from .keys import text_sha256
from .model import KINDS
from .store import Store

REDACTED = "[erased]"


@dataclass
class Selection:
    """The uids of a user's records, per kind, and the sha256 of their memories' embedded texts."""

    users: tuple[str, ...]
    uids: dict[str, list[str]] = field(default_factory=dict)  # kind -> uids, in store order
    texts: set[str] = field(default_factory=set)
    runs: list[dict[str, Any]] = field(default_factory=list)  # import runs whose source or header names a user

    def counts(self) -> dict[str, int]:
        return {kind: len(self.uids.get(kind, [])) for kind in KINDS}

    @property
    def empty(self) -> bool:
        return not any(self.uids.values()) and not self.runs


def _overrides(plugin: FormatPlugin) -> bool:
    """Whether a format says which records name a user (else none do: no need to read them all)."""
    return type(plugin).names_user is not FormatPlugin.names_user


def select(store: Store, users: list[str] | tuple[str, ...], *, memories: set[str] | None = None, erasing: bool = False) -> Selection:
    """The records of ``users`` in ``store``. ``memories`` (uids) narrows the memories chosen (an
    export's other filters); ``erasing`` takes only the nodes that nothing else still names."""
    users = tuple(users)
    selection = Selection(users)
    chosen: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}  # kind -> uid -> native
    for origin in store.origins():
        fmt = family(origin)
        named = _overrides(fmt)

        def names(kind: str, native: Any, fmt: FormatPlugin = fmt) -> bool:
            return any(fmt.names_user(kind, native, user) for user in users)

        mine = dict.fromkeys(store.uids_of_users(origin, list(users)))
        if named:
            mine.update((uid, None) for uid, _, native in store.records_of("memories", origin) if names("memories", native))
        if memories is not None:
            mine = {uid: None for uid in mine if uid in memories}
        found = store.natives_of("memories", list(mine))
        chosen["memories"].update((uid, found[uid]) for uid in mine if uid in found)
        ends = {end for native in found.values() if (end := fmt.end("memories", native)) is not None}
        ends.update(end for user in users for end in fmt.user_ends(user))
        others = [kind for kind in fmt.kinds if kind not in ("memories", "relations")]
        if named:
            for kind in others:
                for uid, _, native in store.records_of(kind, origin):
                    if names(kind, native):
                        chosen[kind][uid] = native
                        if (end := fmt.end(kind, native)) is not None:
                            ends.add(end)
        if "relations" in fmt.kinds:
            chosen["relations"].update(store.records_touching("relations", origin, ends))
            if named:
                chosen["relations"].update(
                    (uid, native) for uid, _, native in store.records_of("relations", origin) if names("relations", native)
                )
        _referencing(store, fmt, origin, others, chosen)
        if "nodes" in fmt.kinds:
            _named_nodes(store, fmt, origin, chosen, erasing)
        for native in found.values():
            selection.texts.add(text_sha256(fmt.embed_text(native)))
    for kind in KINDS:
        if chosen[kind]:
            selection.uids[kind] = list(chosen[kind])
    pattern = _pattern(users)
    selection.runs = store.runs_naming(lambda text: pattern.search(text) is not None)
    return selection


def _referencing(store: Store, fmt: FormatPlugin, origin: str, kinds: list[str], chosen: dict[str, dict[str, Any]]) -> None:
    """Add the records of ``kinds`` that reference a chosen record (a chunk of a chosen document)."""
    ends = {(kind, end) for kind, records in chosen.items() for native in records.values() if (end := fmt.end(kind, native)) is not None}
    if not ends:
        return
    for kind in kinds:
        for uid, _, native in store.records_of(kind, origin):
            if uid not in chosen[kind] and any((ref.kind, ref.ref) in ends for ref in fmt.references(kind, native)):
                chosen[kind][uid] = native


def _named_nodes(store: Store, fmt: FormatPlugin, origin: str, chosen: dict[str, dict[str, Any]], erasing: bool) -> None:
    """The nodes the chosen relations name; when erasing, only those no other relation names."""
    wanted = {ref.ref for native in chosen["relations"].values() for ref in fmt.references("relations", native) if ref.kind == "nodes"}
    if not wanted:
        return
    if erasing:
        for uid, _, native in store.records_of("relations", origin):
            if uid not in chosen["relations"]:
                wanted -= {ref.ref for ref in fmt.references("relations", native)}
    for uid, _, native in store.records_of("nodes", origin):
        if fmt.end("nodes", native) in wanted:
            chosen["nodes"].setdefault(uid, native)


def _pattern(users: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """Each of ``users`` standing alone in a text: ``bob`` in ``/exports/bob/`` or ``user:bob``, not
    in ``bobby``."""
    return re.compile(r"(?<![\w])(?:" + "|".join(re.escape(u) for u in sorted(users, key=len, reverse=True)) + r")(?![\w])")


def redactor(users: tuple[str, ...] | list[str]) -> Callable[[str], str]:
    """Replaces each of ``users`` standing alone in a text with ``[erased]``."""
    pattern = _pattern(users)
    return lambda text: pattern.sub(REDACTED, text)


def erase(store: Store, user: str, *, keep_backup: bool = False) -> dict[str, Any]:
    """Erase everything ``store`` holds of ``user``, for good (see the module's docstring).

    Returns ``{"user", "removed": {kind: n, "embeddings", "cached_vectors", "runs_redacted"},
    "backup"}``; ``backup`` is the pre-erase copy (which still holds everything erased) when
    ``keep_backup``, else None: it existed only while the erase ran. A user with no data: nothing
    is done and ``removed`` is empty."""
    selection = select(store, [user], erasing=True)
    if selection.empty:
        return {"user": user, "removed": {}, "backup": None}
    done = store.erase(selection.uids, selection.texts, redactor([user]), keep_backup=keep_backup)
    return {"user": user, **done}
