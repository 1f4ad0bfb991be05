"""Export from the store: every record back to its own format as it came, or converted.

Records keep their exact native JSON in the store, so exporting to their own format (or a variant
of it: Tribal's stream) gives them back unchanged, with the header and layout of the latest import
of that format: as read when the store holds exactly that import's records (a round trip gives its
bytes back), otherwise with the counts it declares made true. Records of another origin are
converted as they are read from the store (:func:`memport.formats._convert.convert_native`), whose
reports are returned so that an export says what it could not carry, like a conversion. Nothing
holds all records: each is read from the store when the writer needs it. The parts, one per
origin, become one bundle by the target format's own rules (``FormatPlugin.combine``, which holds
them: several origins in one export are the rare case).

With users among the filters, an export is everything the store holds of those users
(:mod:`memport.userdata`: the same records ``memport erase`` would remove), narrowed by the other
filters; the import runs whose source or header names them are listed in the result. The output is
no more readable than the store file it comes from.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import progress
from .errors import MemportError
from .filters import Filters
from .formats import FormatPlugin, NativeBundle, NativeRecord, Reread, family, plugin, plugins
from .formats._convert import ConversionReport, RecordSource, convert_native
from .model import KINDS
from .outputs import modes_like
from .store import Store
from .userdata import Selection, select


def store_natives(store: Store, origin: str, filters: Filters | None = None, selection: Selection | None = None) -> dict[str, Any]:
    """The stored native records of one origin format, by kind, in the store's order: those of
    ``selection`` (a user's: see :func:`user_selection`) when given; else those the filters select
    (the memories, the relations that touch them and the nodes those name). Unfiltered, each kind
    is read from the store anew whenever it is iterated (:class:`~memport.formats.Reread`): an
    export of a million memories never holds them all."""
    fmt = family(origin)
    filters = filters or Filters()
    if selection is not None:
        chosen = {kind: set(selection.uids.get(kind, ())) for kind in fmt.kinds}
        return {kind: [native for uid, _, native in store.records_of(kind, origin) if uid in chosen[kind]] for kind in fmt.kinds}
    natives: dict[str, Any] = {"memories": _stored(store, "memories", origin, filters)}
    if not filters.active:
        for kind in fmt.kinds:
            if kind != "memories":
                natives[kind] = _stored(store, kind, origin)
        return natives
    ends = [end for m in natives["memories"] if (end := fmt.end("memories", m)) is not None]
    natives["relations"] = list(store.touching("relations", origin, ends))
    if "nodes" in fmt.kinds and natives["relations"]:
        named = {end for r in natives["relations"] for end in (ref.ref for ref in fmt.references("relations", r))}
        natives["nodes"] = [n for n in store.natives("nodes", origin=origin) if fmt.end("nodes", n) in named]
    return natives


def _stored(store: Store, kind: str, origin: str, filters: Filters | None = None) -> Reread:
    return Reread(lambda: store.natives(kind, origin=origin, filters=filters), lambda: store.count(kind, origin=origin, filters=filters))


def _record_source(store: Store, origin: str, natives: dict[str, Any]) -> RecordSource:
    """The stored records of one origin as a conversion's source, read from the store at every read,
    with what the latest import of that origin said of itself."""
    fmt = family(origin)
    latest = latest_import(store, fmt) or {}
    header, layout = latest.get("header"), latest.get("layout")
    label = f"{store.path} ({origin})"

    @functools.cache
    def describe() -> Any:
        return fmt.read_native(fmt.from_store({}, header, layout)).meta

    def records() -> Iterator[NativeRecord]:
        for kind in fmt.kinds:
            for position, value in enumerate(natives.get(kind, ())):
                yield NativeRecord(kind, value, False, label, None, position)

    return RecordSource(origin, describe, records, lambda: fmt.read_native(fmt.from_store(natives, header, layout)), label)


def user_selection(store: Store, filters: Filters) -> Selection | None:
    """Everything of the filters' users (None without users), narrowed by the other filters."""
    if not filters.users:
        return None
    rest = dataclasses.replace(filters, users=[])
    return select(store, filters.users, memories=store.memory_uids(rest) if rest.active else None)


def _from_store(
    store: Store, origin: str, natives: dict[str, list[Any]], filters: Filters | None, to: str | None, selection: Selection | None
) -> NativeBundle:
    fmt = family(origin)
    target = plugin(to) if to is not None else fmt
    latest = latest_import(store, target)
    if latest is None:
        return target.from_store(natives, None)
    as_read = (
        selection is None
        and not (filters and filters.active)
        and latest["contents"] is not None
        and store.contents(origin, fmt.kinds) == latest["contents"]
        and latest["format"] == target.name
    )
    return target.from_store(natives, latest["header"], latest["layout"], as_read=as_read)


def _counted(target: FormatPlugin, native: NativeBundle, counts: Counter) -> NativeBundle:
    """``native``, its records counted by kind into ``counts`` as the writer reads them."""
    whole = target.native_counts(native)
    if whole is not None:
        counts.update(whole)
        return native

    def records(kind: str) -> Iterator[Any]:
        for record in native.records(kind):
            counts[target.kind_of(kind)] += 1
            yield record

    return dataclasses.replace(native, records=records)


def latest_import(store: Store, target: FormatPlugin) -> dict[str, Any] | None:
    """The import whose header and layout an export to ``target`` takes: the latest of that very
    format (Tribal's bundle, not its stream, which has no manifest), else the latest of its family."""
    return store.latest_import([target.name]) or store.latest_import([p.name for p in plugins() if p.family == target.family])


def export(
    store: Store,
    to: str,
    path: str | Path,
    *,
    filters: Filters | None = None,
    overwrite: bool = False,
    exported_at: datetime | str | None = None,
) -> dict[str, Any]:
    """Write the store's records (those the filters select) as one ``to`` bundle at ``path``, no
    more readable than the store file.

    ``exported_at`` is the export time written into the bundle: an aware datetime, ``"keep"`` (the
    export time each part's bundle had when it was imported: an export of what one import brought is
    then that bundle's bytes), or None for now: the one thing an export takes from the clock.
    Returns ``{"path", "counts", "backup", "conversions": [report, ...], "notes", "runs"}``; ``runs``
    are the import runs naming the filters' users (run_id, operation, source, started_at, header),
    empty without users.
    """
    target = plugin(to)
    keep = exported_at == "keep"
    if isinstance(exported_at, str) and not keep:
        raise MemportError(f"exported_at must be a datetime or 'keep', got {exported_at!r}")
    now = None if keep else (exported_at or datetime.now(UTC))
    filters = filters or Filters()
    selection = user_selection(store, filters)
    parts: list[NativeBundle] = []  # in the store's order of origins
    reports: list[ConversionReport] = []
    counts: Counter = Counter(dict.fromkeys(KINDS, 0))
    origins = store.origins()
    with progress.counting(len(origins), f"exporting to {to}", unit="format") as bar:
        for origin in origins:
            natives = store_natives(store, origin, filters, selection)
            bar.update(1)
            if not any(natives.values()):
                continue
            if origin == target.family:  # the records as they are, with the header of their latest import
                parts.append(_from_store(store, origin, natives, filters, to, selection))
                counts.update({kind: len(records) for kind, records in natives.items()})
            else:  # converted record by record; the part keeps the header its conversion made
                native, report = convert_native(_record_source(store, origin, natives), to, exported_at=now)
                reports.append(report)
                parts.append(native)
    notes: list[str] = []
    if len(parts) == 1:
        native = parts[0]
        notes.extend(native.notes)
        if reports:  # a conversion's records, counted as they are written
            native = _counted(target, native, counts)
    elif parts:  # several origins: one bundle by the target's rules
        latest = latest_import(store, target) or {}
        bundles = [target.read_native(p) for p in parts]
        if reports:
            counts = Counter(dict.fromkeys(KINDS, 0))
            for bundle in bundles:
                counts.update(bundle.counts())
        native = target.native(target.combine(bundles, notes, latest.get("header"), latest.get("layout")))
    else:  # nothing to export: the target's empty bundle, as its last import had it (if any)
        native = _from_store(store, target.family, {}, filters, to, selection)
    with modes_like(None if str(store.path) == ":memory:" else store.path):
        backup = target.write_native(native, Path(path), overwrite=overwrite, exported_at=now)
    return {
        "path": str(path),
        "counts": dict(counts),
        "backup": str(backup) if backup else None,
        "conversions": [r.to_dict() for r in reports],
        "notes": notes,
        "runs": selection.runs if selection is not None else [],
    }
