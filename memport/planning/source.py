"""Where a plan's incoming records come from: a bundle on disk (streamed) or a Bundle in memory.

The format's plugin says everything: the records, the header recorded with an import, and whether
its memories are one large JSON Lines file that a plan may read on two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bundle import Bundle
from ..errors import Location, NotABundleError
from ..formats import FormatPlugin, NativeRecord, Split, detect, plugin


@dataclass
class Source:
    """A bundle as a plan reads it."""

    format: str
    version: str
    origin: str  # the format family: what the records carry in the store
    records: Callable[[], Iterator[NativeRecord]]
    label: str
    header: Any = None  # the bundle's own header, recorded with the import
    path: Path | None = None  # a bundle on disk (a Bundle in memory has none)
    split: Split | None = None  # its memories as one JSON Lines file, for a plan on two cores
    layout: Any = None  # what else the bundle's shape was (FormatPlugin.layout), recorded with an import

    @property
    def plugin(self) -> FormatPlugin:
        return plugin(self.format)


def source_of(bundle: str | Path | Bundle, format: str | None = None) -> Source:
    """A bundle as a plan reads it; ``format`` names the format of a bundle on disk (only that one
    is tried, see :func:`memport.detect`)."""
    if isinstance(bundle, Bundle):
        if format is not None and format != bundle.format:
            raise NotABundleError(f"this is a {bundle.format} bundle, not {format}", Location(bundle.path))
        found = plugin(bundle.format)
        return Source(
            found.name,
            bundle.version or "1.0",
            found.family,
            lambda: found.bundle_records(bundle),
            bundle.path or f"<{found.name} bundle>",
            bundle.meta.header,
        )
    path = Path(bundle)
    detection = detect(path, format)
    found = plugin(detection.format)
    return Source(
        found.name,
        detection.version,
        found.family,
        lambda: found.records(path, detection),
        str(path),
        found.header(path, detection),
        path,
        found.split(path, detection),
        found.layout(path, detection),
    )
