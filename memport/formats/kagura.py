"""Kagura AI 1.0: a directory of memories.jsonl, graph.jsonl and metadata.json.

Reference: shared/formats/kagura.md (kagura-ai 4.3.1, ``MemoryExporter``/``MemoryImporter``).
Every file may be missing or empty; metadata.json is written last and is missing after an
exporter crash; the importer never reads it. Lines are ``json.dumps`` with Python's defaults.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import threading
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson
from xxhash import xxh3_64_intdigest

from ..bundle import Bundle, Records
from ..errors import Location, MalformedInputError, NotABundleError
from ..jsonio import atomic_output, dumps_python, read_document, write_synced
from ..model import BundleMeta, Codec, Field, Memory, Node, Relation, Timestamp, Unfit, raw_timestamp, text
from ..problems import Problem, quote
from ..schemas import SchemaSet, schema_set
from ..timestamps import KAGURA_LOCAL_ISO, SQLITE_UTC, parse_text, store_text, zone
from . import Detection, Indexed, NativeRecord
from ._document import parse_checked
from ._jsonl import FileFacts, ends_with_newline, file_problems, line_ranges, scan

NAME = "kagura"
VERSIONS = ("1.0",)
MEMORIES, GRAPH, METADATA = "memories.jsonl", "graph.jsonl", "metadata.json"
FILES = (MEMORIES, GRAPH, METADATA)


@dataclass(frozen=True, slots=True)
class _Context:
    tz: tzinfo


def _timestamp(naive: str):
    def decode(raw: Any, ctx: _Context) -> Timestamp:
        if not isinstance(raw, str):
            raise Unfit
        utc, dialect = parse_text(raw, naive=naive, local_tz=ctx.tz)
        return Timestamp.model_construct(raw=raw, utc=utc, dialect=dialect)

    return decode


_local = _timestamp(KAGURA_LOCAL_ISO)
_sqlite = _timestamp(SQLITE_UTC)

WORKING_LAYOUT = ("type", "scope", "key", "value", "user_id", "agent_name", "exported_at")
PERSISTENT_LAYOUT = ("type", "scope", "key", "value", "user_id", "agent_name", "created_at", "updated_at", "metadata", "exported_at")
NODE_LAYOUT = ("type", "id", "node_type", "data", "exported_at")
EDGE_LAYOUT = ("type", "src", "dst", "rel_type", "weight", "data", "exported_at")
METADATA_LAYOUT = ("exported_at", "user_id", "agent_name", "stats", "format_version")

MEMORY = Codec(
    Memory,
    NAME,
    [
        Field("type", None, const="memory"),
        Field("scope", "scope", text),
        Field("key", "key"),
        Field("value", "content"),
        Field("user_id", "user_id", text),
        Field("agent_name", "agent_name", text),
        Field("created_at", "created_at", _sqlite, raw_timestamp),
        Field("updated_at", "updated_at", _sqlite, raw_timestamp),
        Field("metadata", "metadata"),
        Field("exported_at", "exported_at", _local, raw_timestamp),
    ],
    lambda m: WORKING_LAYOUT if m.scope == "working" else PERSISTENT_LAYOUT,
)

NODE = Codec(
    Node,
    NAME,
    [
        Field("type", None, const="node"),
        Field("id", "id"),
        Field("node_type", "type", text),
        Field("data", "data"),
        Field("exported_at", "exported_at", _local, raw_timestamp),
    ],
    lambda _: NODE_LAYOUT,
)

EDGE = Codec(
    Relation,
    NAME,
    [
        Field("type", None, const="edge"),
        Field("src", "source"),
        Field("dst", "target"),
        Field("rel_type", "type", text),
        Field("weight", "weight"),
        Field("data", "data"),
        Field("exported_at", "exported_at", _local, raw_timestamp),
    ],
    lambda _: EDGE_LAYOUT,
)

COLUMNS = {
    "memories": ["scope", "key", "content", "user_id", "agent_name", "metadata", "created_at", "updated_at", "exported_at"],
    "relations": ["kind", "source", "target", "type", "weight", "data", "exported_at"],
    "nodes": ["id", "type", "data", "exported_at"],
}


class KaguraFormat:
    name = NAME
    versions = VERSIONS
    looks_for = "a directory with memories.jsonl, graph.jsonl or metadata.json"
    volatile = ("exported_at",)  # every record carries the time of its export (shared/formats/kagura.md §2.3)

    def sniff(self, path: Path) -> Detection | None:
        if path.is_file():
            if path.name in FILES:
                raise NotABundleError(
                    f"this is one file of a Kagura bundle; pass the bundle directory ({path.parent}) instead",
                    Location(str(path)),
                )
            return None
        if not path.is_dir():
            return None
        present = [name for name in FILES if (path / name).exists()]
        if not present:
            return None
        for name in present:
            if not (path / name).is_file():
                raise MalformedInputError(f"{name} is not a regular file", Location(str(path / name)))
        evidence = [f"{name} present" for name in present]
        version = "1.0"
        if METADATA in present:
            try:
                header = read_document(path / METADATA).value
            except MalformedInputError:
                evidence.append("metadata.json unreadable; assuming format_version 1.0")
            else:
                found = header.get("format_version") if isinstance(header, dict) else None
                if found is None:
                    evidence.append("metadata.json has no format_version; assuming 1.0")
                else:
                    version = str(found)
                    evidence.append(f"metadata.json format_version {found!r}")
        else:
            evidence.append("no metadata.json (the exporter writes it last; a crashed export lacks it); assuming 1.0")
        return Detection(NAME, version, evidence)

    # reading -----------------------------------------------------------------------------

    def read(self, path: Path, detection: Detection, local_tz: str = "UTC") -> Bundle:
        files = [name for name in FILES if (path / name).is_file()]
        memories = graph = ()
        if MEMORIES in files:
            memories = (_object(value, path / MEMORIES, line) for line, value, _, _ in scan(path / MEMORIES, None, ascii_expected=True))
        if GRAPH in files:
            graph = (_object(value, path / GRAPH, line) for line, value, _, _ in scan(path / GRAPH, None, ascii_expected=True))
        header = None
        if METADATA in files:
            header = read_document(path / METADATA).value
            if not isinstance(header, dict):
                raise MalformedInputError("expected a JSON object", Location(str(path / METADATA)))
        bundle = from_native(memories, graph, header, files=files, local_tz=local_tz, version=detection.version)
        bundle.path = str(path)
        return bundle

    def count(self, path: Path, detection: Detection) -> dict[str, int]:
        counts = {"memories": 0, "relations": 0, "nodes": 0}
        if (path / MEMORIES).is_file():
            counts["memories"] = sum(1 for _ in scan(path / MEMORIES, None, ascii_expected=True, exact_integers=False))
        if (path / GRAPH).is_file():
            for _, value, _, _ in scan(path / GRAPH, None, ascii_expected=True, exact_integers=False):
                is_edge = isinstance(value, dict) and value.get("type") == "edge"
                counts["relations" if is_edge else "nodes"] += 1
        return counts

    # the store ---------------------------------------------------------------------------

    def records(self, path: Path, detection: Detection) -> Iterator[NativeRecord]:
        if (path / MEMORIES).is_file():
            yield from jsonl_records(path / MEMORIES, lambda value: "memories")
        if (path / GRAPH).is_file():
            yield from jsonl_records(path / GRAPH, lambda value: "relations" if value.get("type") == "edge" else "nodes")

    def identity(self, kind: str, rec: dict[str, Any]) -> str:
        """What makes a record the same record in Kagura."""
        return self.identity_bytes(kind, rec).decode("utf-8", "surrogatepass")

    def identity_bytes(self, kind: str, rec: dict[str, Any]) -> bytes:
        """The identity as UTF-8 (the hot path of a dry run hashes these bytes directly)."""
        if kind == "memories":
            scope, key = rec.get("scope"), rec.get("key")
            # persistent keys are TEXT in Kagura, so 5 and "5" are one row there
            if type(key) is not str:
                key = str(key) if scope == "persistent" and _tag(key) is not None else same_number(key)
            return _identity([scope, rec.get("user_id"), rec.get("agent_name"), key])
        if kind == "nodes":
            return _identity(["node", same_number(rec.get("id"))])
        return _identity(["edge", same_number(rec.get("src")), same_number(rec.get("dst"))])

    def index(self, kind: str, rec: dict[str, Any], local_tz: tzinfo) -> Indexed:
        if kind == "memories":
            scope, key, user, agent = rec.get("scope"), rec.get("key"), rec.get("user_id"), rec.get("agent_name")
            value = rec.get("value")
            return Indexed(
                identity=self.identity(kind, rec),
                user_id=user if isinstance(user, str) else None,
                agent_name=agent if isinstance(agent, str) else None,
                scope=scope if isinstance(scope, str) else None,
                title=key if isinstance(key, str) else None,
                content=value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
                tags=_metadata_tags(rec.get("metadata")),
                created_at=_store_time(rec.get("created_at"), local_tz),
                updated_at=_store_time(rec.get("updated_at"), local_tz),
            )
        if kind == "nodes":
            node_type = rec.get("node_type")
            return Indexed(self.identity(kind, rec), type=node_type if isinstance(node_type, str) else None)
        src, dst, rel_type = same_number(rec.get("src")), same_number(rec.get("dst")), rec.get("rel_type")
        return Indexed(
            self.identity(kind, rec),
            type=rel_type if isinstance(rel_type, str) else None,
            source=json.dumps(src, ensure_ascii=False),
            target=json.dumps(dst, ensure_ascii=False),
        )

    # writing -----------------------------------------------------------------------------

    def write(self, bundle: Bundle, path: Path, *, overwrite: bool = False, exported_at: datetime | None = None) -> Path | None:
        meta = bundle.meta
        same = meta.format == NAME
        edges = [r for r in bundle.records.relations if r.kind == "edge"]
        if same and meta.files is not None:
            files = meta.files
        else:
            files = [MEMORIES] + ([GRAPH] if bundle.records.nodes or edges else []) + [METADATA]
        with atomic_output(path, directory=True, overwrite=overwrite) as out:
            if MEMORIES in files:
                _write_lines(out.tmp / MEMORIES, (MEMORY.encode(m) for m in bundle.records.memories))
            if GRAPH in files:
                lines = [NODE.encode(n) for n in bundle.records.nodes] + [EDGE.encode(e) for e in edges]
                _write_lines(out.tmp / GRAPH, lines)
            if METADATA in files:
                header = dict(meta.header) if same and meta.header is not None else self._fresh_header(bundle, edges)
                if exported_at is not None:
                    # naive local ISO, in the zone the bundle was read with
                    local = exported_at.astimezone(zone(meta.local_tz)).replace(tzinfo=None)
                    header["exported_at"] = local.isoformat()
                # json.dump(metadata, f, indent=2): no final newline
                write_synced(out.tmp / METADATA, dumps_python(header, indent=2).encode("ascii"))
        return out.backup

    def _fresh_header(self, bundle: Bundle, edges: list[Relation]) -> dict[str, Any]:
        meta = bundle.meta
        exported = meta.exported_at.raw if meta.exported_at is not None and isinstance(meta.exported_at.raw, str) else None
        return {
            "exported_at": exported,
            "user_id": meta.user_id,
            "agent_name": meta.agent_name,
            "stats": {"memories": len(bundle.records.memories), "graph_nodes": len(bundle.records.nodes), "graph_edges": len(edges)},
            "format_version": "1.0",
        }

    # validating --------------------------------------------------------------------------

    def validate(self, path: Path, detection: Detection) -> list[Problem]:
        schemas = schema_set(NAME, detection.version)
        problems: list[Problem] = []
        counts = {"memories": 0, "graph_nodes": 0, "graph_edges": 0}
        if (path / MEMORIES).is_file():
            counts["memories"] = _validate_memories(path / MEMORIES, problems)
        if (path / GRAPH).is_file():
            counts["graph_nodes"], counts["graph_edges"] = _validate_graph(path / GRAPH, schemas, problems)
        if (path / METADATA).is_file():
            _validate_metadata(path / METADATA, schemas, counts, problems)
        else:
            problems.append(
                Problem(
                    "kagura.bundle.no-metadata",
                    "warning",
                    "no metadata.json: Kagura's exporter writes it last, so this export may have crashed part-way",
                    str(path),
                )
            )
        return problems


PLUGIN = KaguraFormat()


def jsonl_records(
    file: Path, kind_of: Any, start: int = 0, end: int | None = None, facts: FileFacts | None = None
) -> Iterator[NativeRecord]:
    """The objects of a JSONL file (or of a byte range of it) as native records."""
    label = str(file)
    for line, value, exact, raw in scan(file, None, ascii_expected=True, start=start, end=end, facts=facts):
        if type(value) is not dict:
            _object(value, file, line)  # raises the located error
        yield NativeRecord(kind_of(value), value, exact, label, line, raw=raw)


def from_native(
    memories: Iterable[dict[str, Any]],
    graph: Iterable[dict[str, Any]],
    header: dict[str, Any] | None,
    *,
    files: list[str],
    local_tz: str = "UTC",
    version: str = "1.0",
) -> Bundle:
    """A bundle from native Kagura records (what the reader parsed, or what a conversion built)."""
    ctx = _Context(zone(local_tz))
    records = Records()
    records.memories.extend(MEMORY.decode(obj, ctx) for obj in memories)
    for obj in graph:
        if obj.get("type") == "edge":
            records.relations.append(EDGE.decode(obj, ctx, kind="edge"))
        else:
            # nodes, and records of unknown type (kept verbatim so nothing is lost)
            records.nodes.append(NODE.decode(obj, ctx))
    meta = BundleMeta(format=NAME, version=version, local_tz=local_tz, header=header, files=files)
    if header is not None:
        exported = header.get("exported_at")
        meta.exported_at = _local(exported, ctx) if isinstance(exported, str) else None
        meta.user_id = header.get("user_id") if isinstance(header.get("user_id"), str) else None
        meta.agent_name = header.get("agent_name") if isinstance(header.get("agent_name"), str) else None
        stats = header.get("stats")
        meta.declared_counts = dict(stats) if isinstance(stats, dict) else {}
    return Bundle(meta, records, columns=COLUMNS)


def _object(value: Any, file: Path, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedInputError(f"expected a JSON object, got {type(value).__name__}", Location(str(file), line=line))
    return value


def _write_lines(file: Path, records: Any) -> None:
    with open(file, "w", encoding="ascii", newline="\n") as f:
        for record in records:
            f.write(dumps_python(record))
            f.write("\n")


def _identity(parts: list[Any]) -> bytes:
    """JSON of the identity parts as UTF-8; orjson where it writes them faithfully (the common case)."""
    try:
        text = orjson.dumps(parts)
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits
        return _exact_identity(parts)
    # orjson writes NaN and Infinity as null: a null that may be one of them means a look with the
    # exact writer (a None part also writes null, and is common: the exact writer costs 6x more)
    if b"null" in text and any(type(part) not in _PLAIN for part in parts):
        return _exact_identity(parts)
    return text


_PLAIN = (str, int, bool, type(None))  # types whose JSON orjson writes as the standard library does


def _exact_identity(parts: list[Any]) -> bytes:
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def same_number(value: Any) -> Any:
    """1.0 and 1 are one node id (Python equality), so the store identifies them alike."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _metadata_tags(metadata: Any) -> list[str] | None:
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    if isinstance(tags, str):  # MCP stores lists as JSON strings
        try:
            tags = json.loads(tags)
        except ValueError:
            return None
    return tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None


def _store_time(text: Any, local_tz: tzinfo) -> str | None:
    if not isinstance(text, str):
        return None
    if len(text) == 19 and text[10] == " ":  # SQLite UTC, the common case: no parsing needed
        return f"{text[:10]}T{text[11:]}.000000Z"
    utc, _ = parse_text(text, naive=SQLITE_UTC, local_tz=local_tz)
    return store_text(utc)


# validation helpers ----------------------------------------------------------------------


def _tag(value: Any) -> Any:
    """A hashable identity that follows Python's equality as Kagura sees it: 42 != "42", 1 == 1.0,
    but True is not the number 1 (a JSON boolean is never meant as a number)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    return None  # unhashable: the schema reports it


def _memory_identity(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return None
    scope = obj.get("scope")
    key = obj.get("key")
    if scope == "working":
        tag = _tag(key)
        return None if tag is None else ("w", tag)
    if scope == "persistent" and _tag(key) is not None:
        # persistent keys are TEXT: 5 and "5" are the same row; the upsert key is (key, user, agent)
        user, agent = obj.get("user_id"), obj.get("agent_name")
        if isinstance(user, (str, type(None))) and isinstance(agent, (str, type(None))):
            return ("p", str(key), user, agent)
    return None


# Below this size one process validates memories.jsonl; above it, two byte ranges run in parallel
# (the machines this runs on have two cores, and parse + schema check dominate).
PARALLEL_BYTES = 32 * 1024 * 1024


@dataclass
class _RangeResult:
    problems: list[Problem]
    count: int
    hashes: bytes  # array('q') of identity hashes, in line order
    facts: FileFacts


def _validate_memory_range(file: Path, start: int, end: int | None) -> _RangeResult:
    """The hot path of ``memport validate``: one lean loop per line (see benchmarks/).

    Line numbers in the result count from the range's first line.
    """
    name = str(file)
    schemas = schema_set(NAME, "1.0")
    is_valid = schemas.fast("memory").is_valid
    problems: list[Problem] = []
    facts = FileFacts()
    hashes = array("q")
    append = hashes.append
    count = 0
    # a float reading of a huge integer cannot change a schema verdict here, and duplicates are
    # confirmed with exact parsing, so this pass skips the 64-bit guard
    for line, obj, exact, _ in scan(file, problems, ascii_expected=True, exact_integers=False, start=start, end=end, facts=facts):
        count += 1
        if exact or not is_valid(obj):
            problems.extend(schemas.problems("memory", obj, exact=exact, file=name, line=line))
            identity = _memory_identity(obj)
            if identity is None:
                continue
            append(_stable_hash(identity))
            continue
        # valid, so obj is a dict with a known scope and a scalar key: _memory_identity and
        # _stable_hash inlined (a flat array of hashes, sorted once at the end, costs a fraction of
        # a million-entry set; xxh3 because the other byte range may run in a process with another
        # hash seed, so Python's hash() would not match)
        key = obj["key"]
        if obj["scope"] == "working":
            text = (
                f"w\x1f{'s' if type(key) is str else 'b' if type(key) is bool else 'n'}\x1f{key if type(key) is str else same_number(key)}"
            )
        else:
            text = f"p\x1f{key}\x1f{obj.get('user_id')}\x1f{obj.get('agent_name')}"
        digest = xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
        append(digest - (1 << 64) if digest >= 1 << 63 else digest)
    return _RangeResult(problems, count, hashes.tobytes(), facts)


def _validate_memories(file: Path, problems: list[Problem]) -> int:
    ranges = line_ranges(file, 2) if file.stat().st_size >= PARALLEL_BYTES and (os.cpu_count() or 1) > 1 else [(0, None)]
    if len(ranges) == 1:
        results = [_validate_memory_range(file, 0, None)]
    else:
        # fork is cheap and inherits the compiled schemas, but is unsafe in a threaded process
        # (a Jupyter kernel); spawn re-imports instead
        method = "fork" if threading.active_count() == 1 else "spawn"
        with multiprocessing.get_context(method).Pool(1) as pool:
            later = pool.apply_async(_validate_memory_range, (file, *ranges[1]))
            results = [_validate_memory_range(file, *ranges[0]), later.get()]
    facts = FileFacts()
    offset = 0
    all_hashes = array("q")
    for result in results:
        for problem in result.problems:
            problems.append(dataclasses.replace(problem, line=problem.line + offset) if problem.line is not None else problem)
        facts.add(result.facts, offset)
        offset += result.facts.lines
        all_hashes.frombytes(result.hashes)
    facts.ends_with_newline = ends_with_newline(file)
    problems.extend(file_problems(str(file), facts))
    repeated = _repeated(all_hashes)
    if repeated:
        _report_duplicates(file, repeated, problems)
    return sum(r.count for r in results)


def _repeated(hashes: array) -> set[int]:
    import numpy as np

    values = np.sort(np.frombuffer(hashes, dtype=np.int64))
    return set(values[1:][values[1:] == values[:-1]].tolist())


def _stable_hash(identity: Any) -> int:
    """The same for every process, and as computed inline in _validate_memory_range. Not
    injective (None and "None" agree): a repeat is confirmed on the real identities afterwards."""
    if identity[0] == "w":
        tag, key = identity[1]
        text = f"w\x1f{tag}\x1f{key if tag == 's' else same_number(key)}"
    else:
        text = f"p\x1f{identity[1]}\x1f{identity[2]}\x1f{identity[3]}"
    key = xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
    return key - (1 << 64) if key >= 1 << 63 else key  # int64, as the array holds


def _report_duplicates(file: Path, repeated: set[int], problems: list[Problem]) -> None:
    """Rare: a second, exact pass names both lines of each duplicate identity."""
    first: dict[Any, int] = {}
    for line, obj, _, _ in scan(file, [], ascii_expected=True):
        identity = _memory_identity(obj)
        if identity is None or _stable_hash(identity) not in repeated:
            continue
        if identity in first:
            what = "key" if identity[0] == "w" else "key, user_id and agent_name"
            problems.append(
                Problem(
                    "kagura.memory.duplicate",
                    "error",
                    f"same {what} as line {first[identity]}: on import the later record replaces the earlier one",
                    str(file),
                    line,
                    None,
                    "$.key",
                )
            )
        else:
            first[identity] = line


def _validate_graph(file: Path, schemas: SchemaSet, problems: list[Problem]) -> tuple[int, int]:
    name = str(file)
    is_valid = schemas.fast("graph").is_valid
    nodes: dict[Any, int] = {}
    early: list[tuple[int, str, Any, Any]] = []  # edges naming a node not (yet) defined
    pairs: dict[tuple[Any, Any], int] = {}
    n_nodes = n_edges = 0
    for line, obj, exact, _ in scan(file, problems, ascii_expected=True):
        if exact or not is_valid(obj):
            problems.extend(schemas.problems("graph", obj, exact=exact, file=name, line=line))
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type")
        if kind == "node":
            n_nodes += 1
            tag = _tag(obj.get("id"))
            if tag is None:
                continue
            if tag in nodes:
                problems.append(
                    Problem(
                        "kagura.node.duplicate",
                        "warning",
                        f"node id {quote(obj.get('id'))} already defined on line {nodes[tag]}: Kagura merges the attributes and the later node_type wins",
                        name,
                        line,
                        None,
                        "$.id",
                    )
                )
            else:
                nodes[tag] = line
        elif kind == "edge":
            n_edges += 1
            src, dst = _tag(obj.get("src")), _tag(obj.get("dst"))
            for end, tag, raw in (("src", src, obj.get("src")), ("dst", dst, obj.get("dst"))):
                if tag is not None and tag not in nodes:
                    early.append((line, end, tag, raw))
            if src is not None and dst is not None:
                if (src, dst) in pairs:
                    problems.append(
                        Problem(
                            "kagura.edge.duplicate",
                            "error",
                            f"a second edge {quote(obj.get('src'))} -> {quote(obj.get('dst'))} (first on line {pairs[(src, dst)]}): the graph keeps one edge per ordered pair, so the earlier one is lost",
                            name,
                            line,
                            None,
                            "$",
                        )
                    )
                else:
                    pairs[(src, dst)] = line
    for line, end, tag, raw in early:
        if tag in nodes:
            problems.append(
                Problem(
                    "kagura.edge.before-node",
                    "error",
                    f"{end} {quote(raw)} is defined only later (line {nodes[tag]}); Kagura's importer aborts on an edge before its nodes",
                    name,
                    line,
                    None,
                    f"$.{end}",
                )
            )
        else:
            kind_hint = " (a node with the other JSON type exists: ids are type-sensitive)" if _other_type_exists(tag, nodes) else ""
            problems.append(
                Problem(
                    "kagura.edge.dangling",
                    "error",
                    f"{end} {quote(raw)} names no node in graph.jsonl{kind_hint}; Kagura's importer aborts on it",
                    name,
                    line,
                    None,
                    f"$.{end}",
                )
            )
    return n_nodes, n_edges


def _other_type_exists(tag: Any, nodes: dict[Any, int]) -> bool:
    kind, value = tag
    if kind == "s":
        try:
            return ("n", int(value)) in nodes or ("n", float(value)) in nodes
        except ValueError:
            return False
    return ("s", str(value)) in nodes


def _validate_metadata(file: Path, schemas: SchemaSet, counts: dict[str, int], problems: list[Problem]) -> None:
    name = str(file)
    checked = parse_checked(file, problems, "a JSON reader")
    if checked is None:
        return
    data, parsed = checked
    header = parsed.value
    problems.extend(schemas.problems("metadata", header, file=name))
    if data.endswith(b"\n"):
        problems.append(Problem("file.final-newline", "warning", "ends with a newline; Kagura's json.dump writes none", name))
    stats = header.get("stats") if isinstance(header, dict) else None
    if isinstance(stats, dict):
        for key, actual in counts.items():
            declared = stats.get(key)
            if isinstance(declared, int) and declared != actual:
                hint = " (a stale graph.jsonl from an earlier export?)" if key != "memories" and declared == 0 else ""
                problems.append(
                    Problem(
                        "kagura.metadata.stats-mismatch",
                        "warning",
                        f"stats.{key} says {declared} but the bundle has {actual}{hint}; Kagura never checks it",
                        name,
                        None,
                        None,
                        f"$.stats.{key}",
                    )
                )
