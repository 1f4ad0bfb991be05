"""The public functions: detect, read, write, validate, inspect.

Each takes a path (str or Path), finds the format by itself, and raises only memport exceptions
(:mod:`memport.errors`), whose ``str()`` names the file, the line or record, and what was expected.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from .bundle import Bundle
from .errors import ConversionError
from .formats import Detection, detect, plugin
from .formats._convert import convert as _convert
from .model import KINDS
from .problems import Report, without_shadowed_warnings
from .timestamps import naive_local_note


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
    # memories without a vector (a format that carries none: all of them)
    if not fmt.carries_vectors:
        needs = int(found.get("memories", 0))
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
