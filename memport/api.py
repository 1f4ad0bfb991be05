"""The public functions: detect, read, write, validate, inspect.

Each takes a path (str or Path), finds the format by itself, and raises only memport exceptions
(:mod:`memport.errors`), whose ``str()`` names the file, the line or record, and what was expected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .bundle import Bundle
from .errors import ConversionError
from .formats import Detection, NativeBundle, detect, plugin
from .formats._convert import ConversionReport, convert_native, file_source
from .formats._convert import convert as _convert
from .model import KINDS
from .problems import Report, without_shadowed_warnings
from .store.schema import EMBEDDED
from .timestamps import naive_local_note, zone


def read(path: str | Path, *, local_tz: str | None = None, format: str | None = None) -> Bundle:
    """Read a bundle of any supported format into memory.

    ``local_tz`` is the IANA zone of the machine that wrote naive *local* times (Kagura's
    ``exported_at`` and updated rows); the bundle does not record it, so without one they are read
    as UTC and ``bundle.meta.local_tz`` is None (a conversion then notes how many there were).
    ``format`` names the bundle's format: only that one is tried (see :func:`detect`).
    """
    detection = detect(path, format)
    return plugin(detection.format).read(Path(path), detection, local_tz)


def write(
    bundle: Bundle, path: str | Path, *, to: str | None = None, overwrite: bool = False, exported_at: datetime | None = None
) -> Path | None:
    """Write ``bundle`` in its own format (or ``to``, which must be the same format for now).

    The output appears atomically. If ``path`` exists, ``overwrite=True`` is required and the old
    data is kept beside it as ``<name>.bak-<UTC time>``, whose path is returned.
    ``exported_at`` (an aware datetime) replaces the export time in the bundle header, written in
    the format's own dialect; without it the header's own value is kept, so output is reproducible.
    """
    target = to or bundle.format
    if target != bundle.format:
        raise ConversionError(f"writing a {bundle.format} bundle as {target} needs a conversion: memport.convert(bundle, {target!r})")
    return plugin(target).write(bundle, Path(path), overwrite=overwrite, exported_at=exported_at)


def convert(
    bundle: Bundle, to: str, *, exported_at: datetime | None = None, user_id: str = "memport", agent_name: str = "global"
) -> Bundle:
    """Convert a bundle to another format; ``result.conversion`` says what was carried and lost.

    See :mod:`memport.formats._convert` for identity, provenance and accounting, and docs/mapping.md for
    where each field goes.
    """
    return _convert(bundle, to, exported_at=exported_at, user_id=user_id, agent_name=agent_name)


def convert_file(
    src: str | Path,
    to: str,
    dest: str | Path,
    *,
    overwrite: bool = False,
    exported_at: datetime | None = None,
    user_id: str = "memport",
    agent_name: str = "global",
    local_tz: str | None = None,
    strict: bool = False,
    format: str | None = None,
) -> dict[str, Any]:
    """Convert the bundle at ``src`` to format ``to``, written at ``dest`` record by record: nothing
    holds all records, so a million convert in bounded memory (the source is read as often as the
    target's rules across records need). The same format is rewritten as it was read.

    ``strict``: nothing is written when anything cannot be carried (the source is read once more to
    know). ``format`` names the source's format (see :func:`detect`); ``local_tz`` the zone of its
    naive local times (without one they are read as UTC, and the report notes how many there
    were). The other options are :func:`convert`'s, and :func:`write`'s ``overwrite``. Returns
    ``{"report": ConversionReport, "path", "written", "backup"}``.
    """
    path, dest = Path(src), Path(dest)
    if local_tz is not None:
        zone(local_tz)  # an unknown zone is refused before anything is read
    detection = detect(path, format)
    fmt, target = plugin(detection.format), plugin(to)
    options = dict(exported_at=exported_at, user_id=user_id, agent_name=agent_name, local_tz=local_tz)
    if to == fmt.name and fmt.streams:
        counted: list[int] = [0]
        native = counting(fmt.native_of(path, detection, local_tz), counted)
        backup = target.write_native(native, dest, overwrite=overwrite, exported_at=exported_at)
        report = ConversionReport(fmt.name, to, input=counted[0], written=counted[0])
        return {"report": report, "path": str(dest), "written": True, "backup": str(backup) if backup else None}
    if to == fmt.name:  # read whole (a legacy Letta file is upgraded)
        result = _convert(fmt.read(path, detection, local_tz), to, **options)
        native, report = target.native(result), result.conversion
    else:
        source = file_source(path, detection, local_tz)
        if strict:  # everything the writer would read, written nowhere: the report complete
            native, report = convert_native(source, to, **options)
            for kind in target.native_kinds:
                for _ in native.records(kind):
                    pass
            if not report.lossless:
                return {"report": report, "path": str(dest), "written": False, "backup": None}
        native, report = convert_native(source, to, **options)
    if strict and not report.lossless:
        return {"report": report, "path": str(dest), "written": False, "backup": None}
    backup = target.write_native(native, dest, overwrite=overwrite, exported_at=exported_at)
    return {"report": report, "path": str(dest), "written": True, "backup": str(backup) if backup else None}


def counting(native: NativeBundle, counted: list[int]) -> NativeBundle:
    """``native``, the records the writer reads counted into ``counted[0]``."""

    def records(kind: str) -> Iterator[Any]:
        for record in native.records(kind):
            counted[0] += 1
            yield record

    return dataclasses.replace(native, records=records)


def validate(path: str | Path, *, format: str | None = None) -> Report:
    """Check a bundle against its format version's JSON Schemas and cross-record rules.

    Reports every problem (not only the first) with file, line or record, JSON path, a stable
    code and a severity. Streams JSONL files, so memory stays flat on large bundles. ``format``
    names the bundle's format: only that one is tried (see :func:`detect`).
    """
    detection = detect(path, format)
    problems = without_shadowed_warnings(plugin(detection.format).validate(Path(path), detection))
    problems.sort(
        key=lambda p: (p.file or "", p.line if p.line is not None else -1, p.record if p.record is not None else -1, p.path or "", p.code)
    )
    # naive local times are a note, not a problem: the exporter writes exactly them, and only the
    # reader lacks the zone; a note changes no verdict (--strict included)
    notes = naive_local_note(detection.details.get("naive_local_times", 0))
    return Report(detection.format, detection.version, str(path), problems, notes=notes)


def inspect(path: str | Path, *, format: str | None = None) -> dict[str, Any]:
    """Format, version, evidence and record counts, without loading the bundle (the shape of
    ``memport inspect --json``), and ``notes`` (naive local times the bundle holds, see
    :func:`memport.timestamps.naive_local_note`). The bundle's header is read too: what an import
    would refuse (a truncated metadata.json, say) is refused here, not counted as fine. ``format``
    names the bundle's format: only that one is tried (see :func:`detect`)."""
    detection: Detection = detect(path, format)
    fmt = plugin(detection.format)
    fmt.header(Path(path), detection)
    found = fmt.count(Path(path), detection)
    # memories (and messages) without a vector (a format that carries none: all of them)
    if not fmt.carries_vectors:
        needs = sum(int(found.get(kind, 0)) for kind in EMBEDDED)
    else:
        needs = sum(1 for r in fmt.records(Path(path), detection) if r.kind == "memories" and fmt.vector(r.value) is None)
    return {
        "format": detection.format,
        "version": detection.version,
        "counts": {kind: int(found.get(kind, 0)) for kind in KINDS},
        "needs_reembedding": needs,
        "evidence": detection.evidence,
        "notes": naive_local_note(detection.details.get("naive_local_times", 0)),
    }
