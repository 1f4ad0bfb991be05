"""Format plugins: one folder per memory system, each behind the same interface.

Everything that knows a format lives in its folder, ``memport/formats/<name>/``: detection, codecs,
reading, writing, validation (with its schemas in ``schemas/<name>/<version>/``), identity, the
mapping to and from the canonical view conversions use, what the store keeps of a record, the text
embedded for a memory, and which references must resolve. The rest of memport calls only the
:class:`FormatPlugin` interface below and never branches on a format's name.

A folder's ``__init__.py`` offers ``PLUGINS``, the formats it holds (Tribal holds two: the bundle and
its JSON Lines stream, variants of one *family*, which is what records carry as their origin). The
registry finds the folders by itself, so adding a format is adding a folder (plus its schemas, tests
and docs); nothing here changes.

Folders whose name starts with ``_`` hold what several formats share: ``_jsonl`` and ``_document``
stream JSON Lines files and single JSON documents, ``_convert`` is the canonical view and the
conversion report.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bundle import Bundle
from ..errors import BundleNotFoundError, ConversionError, Location, MalformedInputError, NotABundleError, UnsupportedVersionError

if TYPE_CHECKING:
    from ..problems import Problem
    from ._convert import ConversionReport, Target


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
    raw: bytes | None = None  # the line itself, for records of a JSON Lines file (see keys.line_key)
    # the member of a document whose array holds it, where one kind has several (Doclea's
    # memoryRelations and crossLayerRelations): what a NativeBundle of the file gives it as
    section: str | None = None


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
    source: str | None = None  # relations: the ends, as ``end()`` spells the records they name
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference from one record to another of its bundle, which an audit checks resolves:
    ``ref`` names a record of ``kind`` as that record's ``end()`` spells it. ``identity`` is that
    record's identity, where the reference alone tells it (its uid is then
    ``<origin>:<kind>:<identity>``): the store links the two rows by it (a foreign key)."""

    end: str  # which part of the referring record: "source", "target", "document", ...
    kind: str
    ref: str
    identity: str | None = None


@dataclass
class NativeBundle:
    """A bundle as its native records and top level: what a format's writer writes, record by
    record (so an export or a conversion of a million records never holds them all).

    ``records(kind)`` gives the native records of a kind in order (each kind is asked once, in the
    order the file has them); ``header`` is the native top level (Kagura's metadata.json or None,
    Tribal's bundle with ``entries`` None, Doclea's export with ``data`` None), ``layout`` what else
    the shape was (:meth:`FormatPlugin.layout`), ``local_tz`` the zone of naive local times."""

    format: str
    header: Any
    records: Any  # (kind) -> Iterable[native record]
    layout: Any = None
    local_tz: str = "UTC"
    notes: tuple[str, ...] = ()  # what building it from stored records changed (an export says)


class Reread:
    """Native records of one kind, read anew at every iteration (from the store: an export never
    holds them all), their number known beforehand (a header states it before them). Reads like a
    list where ``from_store`` iterates records and takes their ``len``."""

    def __init__(self, read: Any, count: Any):
        self._read, self._count, self._known = read, count, None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._read())

    def __len__(self) -> int:
        if self._known is None:
            self._known = self._count()
        return self._known

    def __bool__(self) -> bool:
        return len(self) > 0


@dataclass(frozen=True, slots=True)
class Split:
    """A bundle whose memories are one large JSON Lines file: a plan reads that file in two byte
    ranges on two cores, then ``rest()`` (the bundle's other records) in order."""

    memories: Path
    rest: Any  # () -> Iterator[NativeRecord]


class FormatPlugin:
    """The interface every format offers. Defaults below fit a format that lacks the feature.

    Files (``path`` as the user gave it, ``detection`` as :meth:`sniff` found it):

    * ``sniff(path)``: a cheap look; a :class:`Detection`, or None when it is not this format;
    * ``read(path, detection, local_tz)``: the whole bundle, lossless (a :class:`memport.Bundle`);
    * ``write(bundle, path, *, overwrite, exported_at)``: native bytes, atomically; returns the
      backup of what was overwritten, if anything;
    * ``validate(path, detection)``: every problem, streaming where the format allows;
    * ``count(path, detection)``: record counts, streaming;
    * ``records(path, detection)``: the native records, streamed, for the store and plans;
    * ``header(path, detection)``: the bundle's header without its records (recorded with imports);
      ``layout(path, detection)``: what else its shape was (recorded too);
    * ``split(path, detection)``: for a bundle whose memories are a large JSON Lines file, a
      :class:`Split` (plans read such a file on two cores); None otherwise.

    ``validate`` and ``count`` of a format that writes naive local times (``naive_local``) leave in
    ``detection.details["naive_local_times"]`` how many they met (``naive_local_times`` of every
    record and of the header): the verbs say so once (:func:`memport.timestamps.naive_local_note`).

    Records: ``identity(kind, native)`` is what makes a record the same record in this format (with
    the family and kind, its uid); ``index`` what the store's columns hold; ``schema_for`` the schema
    that validates one record, ``schema_value`` what of it that schema sees; ``end`` how this
    format's relations name a record (as its ``source_id`` is spelled, :func:`spelled`);
    ``references`` which names a record holds that must resolve (and the identity of the record
    each names, where the name tells it: the store links the rows by it);
    ``user_ends`` how relations name a user; ``names_user`` whether a record belongs to a user or
    names one beyond the store's ``user_id`` column (what erasing a user removes and exporting one
    writes, with the records that reference those); ``embed_text`` the text embedded for a memory;
    ``vector`` and ``vector_model`` the vectors a bundle carries and their model;
    ``naive_local_times`` how many of a record's times are naive local ones.

    Bundles in memory and the store: ``bundle_records(bundle)`` encodes a Bundle's records as
    native ones; ``from_store(natives, header, layout, as_read=...)`` builds a bundle from stored
    native records (each kind's list in the store's order) and the latest import's header and
    layout: as read when the records are exactly that import's (``as_read``), else with the counts
    the header declares made true; ``empty()`` a bundle with no records.

    Conversions (see :mod:`memport.formats._convert`): ``to_canonical(source, report)`` gives the
    canonical view of the records of a :class:`~memport.formats._convert.RecordSource` of this
    format (provenance that earlier conversions stored restored): something whose ``items()`` reads
    the source again each time, record by record; ``from_canonical(canonical, target, report)``
    builds this format's native records from it, as a :class:`NativeBundle` whose records are made
    as the writer asks for them (reading the source as often as the format's rules across records
    need), or as a whole Bundle for a format built whole (Letta); ``mapping`` says where each
    canonical field goes in this format (docs/mapping.md is generated from it).
    """

    name: str = ""
    family: str = ""  # what records of this format carry as their origin; variants share it
    versions: tuple[str, ...] = ()
    looks_for: str = ""  # said to the user when nothing matches
    # record keys the exporter sets anew on every export and the importer ignores (Kagura's
    # exported_at): a record that differs only there is unchanged
    volatile: tuple[str, ...] = ()
    # the record kinds this format has (the store keeps each in its own table), and the kinds of
    # canonical relation (``Relation.kind``) its relations are
    kinds: tuple[str, ...] = ("memories",)
    relation_kinds: tuple[str, ...] = ()
    carries_vectors = False  # whether memories may carry vectors (``vector``, ``vector_model``)
    streams = True  # whether conversions read its records one at a time (else the bundle whole: Letta)
    native_kinds: tuple[str, ...] = ("memories",)  # the kinds its writer asks a NativeBundle for, in order
    directory = False  # whether a bundle is a directory (else one file, which may go to stdout)
    # whether the format writes times in the exporting machine's zone without naming it (Kagura):
    # read in ``local_tz``, UTC when none is given (``naive_local_times``)
    naive_local = False
    mapping: dict[str, str] = {}  # noqa: RUF012 (each format sets its own)

    # files ---------------------------------------------------------------------------------

    def sniff(self, path: Path) -> Detection | None:
        raise NotImplementedError

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        raise NotImplementedError

    def write(self, bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None:
        return self.write_native(self.native(bundle), path, overwrite=overwrite, exported_at=exported_at)

    def write_native(self, bundle: NativeBundle, path: Path, *, overwrite: bool = False, exported_at: Any = None) -> Path | None:
        """Write native records as this format's writer does, streamed, atomically (``write``
        writes a Bundle through it); ``exported_at`` replaces the header's export time."""
        raise NotImplementedError

    def native_of(self, path: Path, detection: Detection, local_tz: str = "UTC") -> NativeBundle:
        """A bundle on disk as native records read from the file as the writer asks for them (a
        conversion to its own format: nothing holds all records)."""
        return self.native(self.read(path, detection, local_tz))

    def native(self, bundle: Bundle) -> NativeBundle:
        """A Bundle of this format as native records (through its codecs) and its top level (its own
        header, or one made from what it says of itself)."""
        raise NotImplementedError

    def read_native(self, bundle: NativeBundle) -> Bundle:
        """Native records (a conversion's output) as a Bundle in memory."""
        raise NotImplementedError

    def kind_of(self, native_kind: str) -> str:
        """The record kind (the store's, a Bundle's) of the records a NativeBundle gives as
        ``native_kind`` (Doclea's ``memoryRelations`` are relations)."""
        return native_kind

    def native_counts(self, bundle: NativeBundle) -> dict[str, int] | None:
        """Records per kind of a NativeBundle that holds its records whole (Letta); None for one
        whose records are counted as they are read."""
        return None

    def validate(self, path: Path, detection: Detection) -> list[Problem]:
        raise NotImplementedError

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        raise NotImplementedError

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        raise NotImplementedError

    def header(self, path: Path, detection: Detection) -> Any:
        return detection.details.get("header")

    def layout(self, path: Path, detection: Detection) -> Any:
        """What else an export needs to give the bundle back byte for byte (Kagura: its files), as
        JSON; may be completed while ``records`` reads (the same object), like the header."""
        return None

    def split(self, path: Path, detection: Detection) -> Split | None:
        return None

    # records -------------------------------------------------------------------------------

    def identity(self, kind: str, native: Any) -> str:
        raise NotImplementedError

    def identity_bytes(self, kind: str, native: Any) -> bytes:
        """The identity as UTF-8 (the hot path of a dry run hashes these bytes directly)."""
        return self.identity(kind, native).encode("utf-8", "surrogatepass")

    def index(self, kind: str, native: Any, local_tz: Any) -> Indexed:
        raise NotImplementedError

    def source_id(self, kind: str, native: Any) -> str | None:
        """The record's own id in its format (the store's ``source_id`` column), as text
        (:func:`spelled`)."""
        ident = native.get("id") if isinstance(native, dict) else None
        return None if ident is None else spelled(ident)

    def schema_for(self, kind: str, native: Any) -> str | None:
        """The schema (a file name under schemas/<family>/<version>/) of one record, or None."""
        return None

    def schema_value(self, kind: str, native: Any) -> Any:
        """What of a record its schema checks: all of it, unless the format's records carry, beside
        the native object, a context memport gave them (Letta's: the agents that list a block)."""
        return native

    def end(self, kind: str, native: Any) -> str | None:
        """How this format's relations name the record (as ``Indexed.source``/``target`` hold it),
        spelled as the record's ``source_id`` is (:func:`spelled`), so that SQL joins a relation's
        ends to the records they name alike in every format (``relations.target =
        memories.source_id`` within one origin)."""
        ident = native.get("id") if isinstance(native, dict) else None
        return ident if isinstance(ident, str) else None

    def user_ends(self, user: str) -> list[str]:
        """How this format's relations name a user (Kagura's graph has user nodes)."""
        return []

    def names_user(self, kind: str, native: Any, user: str) -> bool:
        """Whether a record belongs to ``user`` or names them, beyond what ``index().user_id`` says
        (Kagura: a user's graph node, a node or edge whose data names the user; a record converted
        from a format with users: the user its provenance names). ``memport erase --user`` removes
        such records and ``memport export --user`` writes them. A format without users: never."""
        return False

    def references(self, kind: str, native: Any) -> list[Reference]:
        return []

    def naive_local_times(self, kind: str, native: Any) -> int:
        """How many times of a native record (``kind`` "header": the bundle's header) memport
        reads as naive local time: written in the exporting machine's zone without saying which,
        read in ``local_tz`` (UTC when none is given). 0 for a format that writes none."""
        return 0

    def came_from(self, native: Any) -> str | None:
        """Where a memory came from, as its format says (an audit counts memories by it): Tribal's
        ``source_instance``, Kagura's ``metadata.source``; None where the format does not say."""
        return None

    def embed_text(self, native: Any) -> str:
        """The text memport embeds for a memory of this format."""
        return render(native.get("content") if isinstance(native, dict) else native)

    def vector(self, native: Any) -> list[float] | None:
        """The vector a memory carries, if this format carries vectors."""
        return None

    def vector_model(self, header: Any) -> tuple[Any, Any]:
        """(model name, dimension) of the vectors a bundle carries, from its header (None where
        it does not say)."""
        return None, None

    # bundles -------------------------------------------------------------------------------

    def bundle_records(self, bundle: Bundle) -> Iterator[NativeRecord]:
        raise NotImplementedError

    def from_store(self, natives: dict[str, list[Any]], header: Any, layout: Any = None, *, as_read: bool = False) -> NativeBundle:
        raise NotImplementedError

    def empty(self) -> Bundle:
        return self.read_native(self.from_store({}, None))

    def combine(self, parts: list[Bundle], notes: list[str], header: Any = None, layout: Any = None) -> Bundle:
        """Bundles of this format (an export's parts, one per origin in the store) as one: a single
        part as it is; several with the latest import's ``header`` and ``layout`` of this format,
        their counts made true (``from_store``). A format with rules across records (one vector
        model, say) applies them, saying so in ``notes``."""
        if len(parts) == 1:
            return parts[0]
        natives: dict[str, list[Any]] = {}
        for part in parts:
            for record in self.bundle_records(part):
                natives.setdefault(record.kind, []).append(record.value)
        return self.read_native(self.from_store(natives, header, layout))

    # conversions ---------------------------------------------------------------------------

    def to_canonical(self, source: Any, report: ConversionReport) -> Any:
        raise ConversionError(f"converting {self.name} to another format is not supported yet: nothing maps its records there")

    def from_canonical(self, canonical: Any, target: Target, report: ConversionReport) -> NativeBundle | Bundle:
        raise ConversionError(f"converting to {self.name} from another format is not supported yet: nothing maps records to it")

    def rewrite(self, bundle: Bundle, exported_at: Any = None) -> Bundle:
        """A bundle converted to its own format: itself, which its writer writes back as it was read.
        A format whose system no longer opens an older shape of it upgrades that one (Letta)."""
        return bundle

    def meaning(self, relation: Any) -> str:
        """What a canonical relation of this format means, in ``_convert.MEANINGS``."""
        return "related_to"

    def native_defaults(self, native_only: dict[str, Any]) -> frozenset[str]:
        """Which of the fields only this format has (``View.native_only``) hold its own defaults:
        a target short of room carries nothing for them."""
        return frozenset()


def spelled(value: Any) -> str:
    """How memport writes a name a record has or gives as text (identities, source ids, relation
    ends), the same for every format so that SQL joins them: a string as it is, any other JSON value
    as compact JSON with its Unicode as is (``42``, ``["memory","V1St..."]``). A string that reads
    as another value's JSON (the id ``"42"`` beside the id ``42``) is spelled alike."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render(value: Any) -> str:
    """A native value as text to embed or search: strings as they are, others as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@cache
def plugins() -> tuple[FormatPlugin, ...]:
    """Every format, found as the folders of this package (each one's ``PLUGINS``), by name."""
    found: list[FormatPlugin] = []
    for module in pkgutil.iter_modules(__path__):
        if module.ispkg and not module.name.startswith("_"):
            found.extend(importlib.import_module(f"{__name__}.{module.name}").PLUGINS)
    return tuple(found)


def plugin(name: str) -> FormatPlugin:
    for p in plugins():
        if p.name == name:
            return p
    known = ", ".join(p.name for p in plugins())
    raise NotABundleError(f"unknown format {name!r}; known formats: {known}")


def family(origin: str) -> FormatPlugin:
    """The plugin that knows the records of an origin (a family's main format)."""
    return plugin(origin)


def relation_owner(kind: str) -> FormatPlugin:
    """The format whose relations are of this canonical kind (``Relation.kind``)."""
    return next(p for p in plugins() if kind in p.relation_kinds and p.name == p.family)


def families() -> list[str]:
    return sorted({p.family for p in plugins()})


def detect(path: str | Path, format: str | None = None) -> Detection:
    """Say which format and version ``path`` holds, with the evidence used.

    With ``format`` (a format's name), that format's plugin is asked and no other: a path that is
    not that format is an error saying what the format reads, rather than another format's guess.

    Raises :class:`NotABundleError` naming what was looked for when nothing matches,
    :class:`UnsupportedVersionError` naming the supported versions when the format is known but
    its version is not, and :class:`BundleNotFoundError` for a path that leads nowhere (a broken
    symbolic link or a loop of them is said as such).
    """
    path = Path(path)
    followed(path)
    if not path.exists():
        raise BundleNotFoundError("no such file or directory", Location(str(path)))
    asked = (plugin(format),) if format is not None else plugins()
    for p in asked:
        found = p.sniff(path)
        if found is None:
            continue
        if found.version not in p.versions:
            raise UnsupportedVersionError(
                f"{p.name} version {found.version!r} is not supported; supported: {', '.join(p.versions)}",
                Location(str(path)),
            )
        return found
    kind = "directory" if path.is_dir() else "file"
    if kind == "file":
        _readable_json(path, f"whether this is a {format} bundle" if format is not None else "which bundle this is")
    if format is not None:
        raise NotABundleError(f"this {kind} is not a {format} bundle: {format} reads {asked[0].looks_for}", Location(str(path)))
    looked = "; ".join(f"{p.name}: {p.looks_for}" for p in plugins())
    raise NotABundleError(f"this {kind} is not a memory bundle memport knows. Looked for {looked}", Location(str(path)))


def _readable_json(path: Path, question: str) -> None:
    """For a JSON object file no format claimed: read its members (whole), so that what hid the
    members a format looks for (a value nested too deeply or an integer too long for the reader,
    a break in the JSON) is said, located, instead of "not a bundle"."""
    from ._document import head_of, walk

    if not head_of(path, 1).startswith(b"{"):
        return
    try:
        for _ in walk(path, lambda member: None, allow_bom=True):
            pass
    except MalformedInputError as err:
        raise MalformedInputError(f"memport cannot tell {question}: {err.message}", err.location) from None


def followed(path: Path) -> None:
    """A path that is a symbolic link must lead to something: every command follows links alike,
    and a broken link or a loop of links is said as such (a plain existence test would only say
    "no such file", or skip a bundle's file as if it were absent)."""
    if not path.is_symlink():
        return
    try:
        path.stat()
    except FileNotFoundError:
        raise BundleNotFoundError(f"a symbolic link to {os.readlink(path)}, which does not exist", Location(str(path))) from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise BundleNotFoundError("a loop of symbolic links: it never reaches a file", Location(str(path))) from None
        raise
