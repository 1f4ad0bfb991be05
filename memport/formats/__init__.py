"""Format plugins: one module per memory system, each with the same small surface.

A plugin has a ``name``, a list of ``versions`` it has schemas for, and five functions:

* ``sniff(path) -> Detection | None``: cheap look at the path; None when it is not this format;
* ``read(path, detection, local_tz) -> Bundle``: the whole bundle, lossless;
* ``write(bundle, path, *, overwrite, exported_at) -> Path | None``: native bytes, atomically;
  returns the backup of what was overwritten, if anything;
* ``validate(path, detection) -> list[Problem]``: every problem, streaming where the format allows;
* ``count(path, detection) -> dict[str, int]``: record counts, streaming.

Adding a format or a version touches one module here and one folder under ``schemas/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import BundleNotFoundError, Location, NotABundleError, UnsupportedVersionError


@dataclass(frozen=True)
class Detection:
    """What a path is, and why memport thinks so."""

    format: str
    version: str
    evidence: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "version": self.version, "evidence": list(self.evidence)}


@dataclass(slots=True)
class NativeRecord:
    """One record as the format wrote it, streamed for the store (never a whole bundle in memory)."""

    kind: str  # memories | relations | nodes | documents | chunks | pending
    value: Any
    exact: bool  # holds what only the standard library writes back faithfully (jsonio.needs_reference)
    file: str
    line: int | None = None
    record: int | None = None
    raw: bytes | None = None  # the line itself, for records of a JSON Lines file (see diff.line_key)


@dataclass(slots=True)
class Indexed:
    """What the store indexes of a native record: its identity and the columns filters use.

    ``identity`` is unique per origin format and record kind (Kagura: scope, user, agent and key;
    the others: their id). Times are UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text, which sorts.
    """

    identity: str
    user_id: str | None = None
    agent_name: str | None = None
    scope: str | None = None
    type: str | None = None
    title: str | None = None
    content: str | None = None
    tags: list[str] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    source: str | None = None  # relations: the ends, as native ids
    target: str | None = None


class FormatPlugin(Protocol):
    """The surface every format module offers (as ``PLUGIN``)."""

    name: str
    versions: tuple[str, ...]
    looks_for: str  # said to the user when nothing matches
    # record keys the exporter sets anew on every export and the importer ignores (Kagura's
    # exported_at): a record that differs only there is unchanged
    volatile: tuple[str, ...]

    def sniff(self, path: Path) -> Detection | None: ...

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Any: ...

    def write(self, bundle: Any, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None: ...

    def validate(self, path: Path, detection: Detection) -> list[Any]: ...

    def count(self, path: Path, detection: Detection) -> dict[str, int]: ...

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]: ...

    def identity(self, kind: str, value: Any) -> str: ...

    # JSONL formats also offer identity_bytes(kind, value): the identity's UTF-8, hashed directly
    # on the dry run's hot path

    def index(self, kind: str, value: Any, local_tz: Any) -> Indexed: ...


def plugins() -> list[FormatPlugin]:
    from . import doclea, kagura, letta, tribal

    return [kagura.PLUGIN, tribal.PLUGIN, tribal.JSONL_PLUGIN, doclea.PLUGIN, letta.PLUGIN]


def plugin(name: str) -> FormatPlugin:
    for p in plugins():
        if p.name == name:
            return p
    known = ", ".join(p.name for p in plugins())
    raise NotABundleError(f"unknown format {name!r}; known formats: {known}")


def detect(path: str | Path) -> Detection:
    """Say which format and version ``path`` holds, with the evidence used.

    Raises :class:`NotABundleError` naming what was looked for when nothing matches, and
    :class:`UnsupportedVersionError` naming the supported versions when the format is known but
    its version is not.
    """
    path = Path(path)
    if not path.exists():
        raise BundleNotFoundError("no such file or directory", Location(str(path)))
    for p in plugins():
        found = p.sniff(path)
        if found is None:
            continue
        if found.version not in p.versions:
            raise UnsupportedVersionError(
                f"{p.name} version {found.version!r} is not supported; supported: {', '.join(p.versions)}",
                Location(str(path)),
            )
        return found
    looked = "; ".join(f"{p.name}: {p.looks_for}" for p in plugins())
    kind = "directory" if path.is_dir() else "file"
    raise NotABundleError(f"this {kind} is not a memory bundle memport knows. Looked for {looked}", Location(str(path)))
