"""Export from the store: every record back to its own format as it came, or converted.

Records keep their exact native JSON in the store, so exporting to their own format (or a variant
of it: Tribal's stream) gives them back unchanged; records of another origin go through
:func:`memport.convert`, whose reports are returned so that an export says what it could not carry,
like a conversion. The parts, one per origin, become one bundle by the target format's own rules
(``FormatPlugin.combine``).

With users among the filters, an export is everything the store holds of those users
(:mod:`memport.userdata`: the same records ``memport erase`` would remove), narrowed by the other
filters; the import runs whose source or header names them are listed in the result. The output is
no more readable than the store file it comes from.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import progress
from .api import write
from .bundle import Bundle
from .filters import Filters
from .formats import family, plugin, plugins
from .formats._convert import ConversionReport, convert
from .outputs import modes_like
from .store import Store
from .userdata import Selection, select


def store_natives(store: Store, origin: str, filters: Filters | None = None, selection: Selection | None = None) -> dict[str, list[Any]]:
    """The stored native records of one origin format, by kind, in the store's order: those of
    ``selection`` (a user's: see :func:`user_selection`) when given; else those the filters select
    (the memories, the relations that touch them and the nodes those name)."""
    fmt = family(origin)
    filters = filters or Filters()
    if selection is not None:
        chosen = {kind: set(selection.uids.get(kind, ())) for kind in fmt.kinds}
        return {kind: [native for uid, _, native in store.records_of(kind, origin) if uid in chosen[kind]] for kind in fmt.kinds}
    natives: dict[str, list[Any]] = {"memories": list(store.natives("memories", origin=origin, filters=filters))}
    if not filters.active:
        for kind in fmt.kinds:
            if kind != "memories":
                natives[kind] = list(store.natives(kind, origin=origin))
        return natives
    ends = [end for m in natives["memories"] if (end := fmt.end("memories", m)) is not None]
    natives["relations"] = list(store.touching("relations", origin, ends))
    if "nodes" in fmt.kinds and natives["relations"]:
        named = {end for r in natives["relations"] for end in (ref.ref for ref in fmt.references("relations", r))}
        natives["nodes"] = [n for n in store.natives("nodes", origin=origin) if fmt.end("nodes", n) in named]
    return natives


def user_selection(store: Store, filters: Filters) -> Selection | None:
    """Everything of the filters' users (None without users), narrowed by the other filters."""
    if not filters.users:
        return None
    rest = dataclasses.replace(filters, users=[])
    return select(store, filters.users, memories=store.memory_uids(rest) if rest.active else None)


def store_bundle(
    store: Store, origin: str, filters: Filters | None = None, to: str | None = None, selection: Selection | None = None
) -> Bundle | None:
    """The records of one origin format (those the filters select) as a bundle of that format (or
    of ``to``, a variant of it); None when there are none."""
    natives = store_natives(store, origin, filters, selection)
    if not any(natives.values()):
        return None
    target = plugin(to) if to is not None else family(origin)
    formats = [p.name for p in plugins() if p.family == origin]
    return target.from_store(natives, store.latest_header(formats))


def export(
    store: Store, to: str, path: str | Path, *, filters: Filters | None = None, overwrite: bool = False, exported_at: datetime | None = None
) -> dict[str, Any]:
    """Write the store's records (those the filters select) as one ``to`` bundle at ``path``, no
    more readable than the store file.

    Returns ``{"path", "counts", "backup", "conversions": [report, ...], "notes", "runs"}``;
    ``runs`` are the import runs naming the filters' users (run_id, operation, source,
    started_at, header), empty without users.
    """
    target = plugin(to)
    now = exported_at or datetime.now(UTC)
    filters = filters or Filters()
    selection = user_selection(store, filters)
    parts: list[Bundle] = []
    reports: list[ConversionReport] = []
    origins = store.origins()
    with progress.counting(len(origins), f"exporting to {to}", unit="format") as bar:
        for origin in origins:
            same = origin == target.family
            bundle = store_bundle(store, origin, filters, to if same else None, selection)
            if bundle is not None and not same:
                bundle = convert(bundle, to, exported_at=now)
                reports.append(bundle.conversion)
                bundle.meta.header = None
            if bundle is not None:
                parts.append(bundle)
            bar.update(1)
    notes: list[str] = []
    result = target.combine(parts, notes)
    with modes_like(None if str(store.path) == ":memory:" else store.path):
        backup = write(result, Path(path), overwrite=overwrite, exported_at=now)
    return {
        "path": str(path),
        "counts": result.counts(),
        "backup": str(backup) if backup else None,
        "conversions": [r.to_dict() for r in reports],
        "notes": notes,
        "runs": selection.runs if selection is not None else [],
    }
