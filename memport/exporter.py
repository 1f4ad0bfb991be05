"""Export from the store: every record back to its own format as it came, or converted.

Records keep their exact native JSON in the store, so exporting to their own format (or a variant
of it: Tribal's stream) gives them back unchanged; records of another origin go through
:func:`memport.convert`, whose reports are returned so that an export says what it could not carry,
like a conversion. The parts, one per origin, become one bundle by the target format's own rules
(``FormatPlugin.combine``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .api import write
from .bundle import Bundle
from .errors import MemportError
from .filters import Filters
from .formats import family, plugin, plugins
from .formats._convert import ConversionReport, convert
from .store import Store


def store_natives(store: Store, origin: str, filters: Filters | None = None) -> dict[str, list[Any]]:
    """The stored native records of one origin format, by kind (those the filters select: with
    filters, the memories they select and the relations that touch them, with the nodes those name,
    which is "everything one user has")."""
    fmt = family(origin)
    filters = filters or Filters()
    natives: dict[str, list[Any]] = {"memories": list(store.natives("memories", origin=origin, filters=filters))}
    if not filters.active:
        for kind in fmt.kinds:
            if kind != "memories":
                natives[kind] = list(store.natives(kind, origin=origin))
        return natives
    ends = [end for m in natives["memories"] if (end := fmt.end("memories", m)) is not None]
    ends += [end for user in filters.users for end in fmt.user_ends(user)]
    natives["relations"] = list(store.touching("relations", origin, ends))
    if "nodes" in fmt.kinds and natives["relations"]:
        named = {end for r in natives["relations"] for end in (ref.ref for ref in fmt.references("relations", r))}
        natives["nodes"] = [n for n in store.natives("nodes", origin=origin) if fmt.end("nodes", n) in named]
    return natives


def store_bundle(store: Store, origin: str, filters: Filters | None = None, to: str | None = None, *, empty: bool = False) -> Bundle | None:
    """The records of one origin format (those the filters select) as a bundle of that format (or
    of ``to``, a variant of it), with the header and layout of the latest import of that format:
    as read when the bundle holds exactly that import's records (a round trip gives its bytes back),
    else with the counts the header declares made true. None when there are none (unless ``empty``:
    then a bundle without records, the last import's header and layout kept)."""
    fmt = family(origin)
    natives = store_natives(store, origin, filters)
    if not any(natives.values()) and not empty:
        return None
    target = plugin(to) if to is not None else fmt
    latest = store.latest_import([p.name for p in plugins() if p.family == origin])
    if latest is None:
        return target.from_store(natives, None)
    as_read = (
        not (filters and filters.active)
        and latest["contents"] is not None
        and store.contents(origin, fmt.kinds) == latest["contents"]
        and latest["format"] == target.name
    )
    return target.from_store(natives, latest["header"], latest["layout"], as_read=as_read)


def export(
    store: Store,
    to: str,
    path: str | Path,
    *,
    filters: Filters | None = None,
    overwrite: bool = False,
    exported_at: datetime | str | None = None,
) -> dict[str, Any]:
    """Write the store's records (those the filters select) as one ``to`` bundle at ``path``.

    ``exported_at`` is the export time written into the bundle: an aware datetime, ``"keep"`` (the
    export time each part's bundle had when it was imported: an export of what one import brought is
    then that bundle's bytes), or None for now: the one thing an export takes from the clock.
    Returns ``{"path", "counts", "backup", "conversions": [report, ...], "notes"}``.
    """
    target = plugin(to)
    keep = exported_at == "keep"
    if isinstance(exported_at, str) and not keep:
        raise MemportError(f"exported_at must be a datetime or 'keep', got {exported_at!r}")
    now = None if keep else (exported_at or datetime.now(UTC))
    parts: list[Bundle] = []
    reports: list[ConversionReport] = []
    for origin in store.origins():
        same = origin == target.family
        bundle = store_bundle(store, origin, filters, to if same else None)
        if bundle is None:
            continue
        if not same:
            # the part keeps the header its conversion made, which holds what its records belong
            # to in the target (a Letta file's agents and sources)
            bundle = convert(bundle, to, exported_at=now)
            reports.append(bundle.conversion)
        parts.append(bundle)
    notes: list[str] = []
    latest = store.latest_import([p.name for p in plugins() if p.family == target.family]) or {}
    if parts:
        result = target.combine(parts, notes, latest.get("header"), latest.get("layout"))
    else:  # nothing to export: the target's empty bundle, as its last import had it (if any)
        result = store_bundle(store, target.family, filters, to, empty=True)
    backup = write(result, Path(path), overwrite=overwrite, exported_at=now)
    return {
        "path": str(path),
        "counts": result.counts(),
        "backup": str(backup) if backup else None,
        "conversions": [r.to_dict() for r in reports],
        "notes": notes,
    }
