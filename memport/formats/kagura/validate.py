"""Validating a Kagura bundle: its schemas, and the checks across records Kagura's importer makes.

memories.jsonl is validated in one lean loop per line (the hot path of ``memport validate``; see
benchmarks/validate_kagura.py), in two byte ranges on two cores when large; duplicates (what
Kagura's importer would merge, :func:`identity.collision_key`) are found by 64-bit hashes and
confirmed with an exact second pass. graph.jsonl: duplicate nodes and edges, edges before their
nodes or naming none. metadata.json: its schema and its stats against the data.
"""

from __future__ import annotations

import dataclasses
from array import array
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from xxhash import xxh3_64_intdigest

from ...parallel import context as process_context
from ...parallel import worth_two
from ...problems import Problem, quote
from ...schemas import SchemaSet, schema_set
from .. import Detection
from .._document import parse_checked
from .._jsonl import FileFacts, ends_with_newline, file_problems, line_ranges, scan
from .codec import GRAPH, MEMORIES, METADATA, NAME, naive_local_times
from .identity import collision_hash, collision_key, same_number, tag


def validate(path: Path, detection: Detection) -> list[Problem]:
    schemas = schema_set(NAME, detection.version)
    problems: list[Problem] = []
    counts = {"memories": 0, "graph_nodes": 0, "graph_edges": 0}
    local = [0]  # naive local times met (see codec.naive_local_times), for the verb's note
    if (path / MEMORIES).is_file():
        counts["memories"] = _validate_memories(path / MEMORIES, problems, local)
    if (path / GRAPH).is_file():
        counts["graph_nodes"], counts["graph_edges"] = _validate_graph(path / GRAPH, schemas, problems, local)
    if (path / METADATA).is_file():
        _validate_metadata(path / METADATA, schemas, counts, problems, local)
    else:
        problems.append(
            Problem(
                "kagura.bundle.no-metadata",
                "warning",
                "no metadata.json: Kagura's exporter writes it last, so this export may have crashed part-way",
                str(path),
            )
        )
    detection.details["naive_local_times"] = local[0]
    return problems


@dataclass
class _RangeResult:
    problems: list[Problem]
    count: int
    hashes: bytes  # array('q') of identity hashes, in line order
    facts: FileFacts
    local: int = 0  # naive local times met


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
    count = local = 0
    from_iso = datetime.fromisoformat
    # a float reading of a huge integer cannot change a schema verdict here, and duplicates are
    # confirmed with exact parsing, so this pass skips the 64-bit guard
    for line, obj, exact, _ in scan(file, problems, ascii_expected=True, exact_integers=False, start=start, end=end, facts=facts):
        count += 1
        if exact or not is_valid(obj):
            local += naive_local_times("memories", obj)
            problems.extend(schemas.problems("memory", obj, exact=exact, file=name, line=line))
            identity = collision_key(obj)
            if identity is None:
                continue
            append(collision_hash(identity))
            continue
        # valid, so exported_at, if there, is text of the naive ISO shape, updated_at text of SQLite's
        # (local with microseconds) and created_at of SQLite's UTC: codec.naive_local_times inlined,
        # the dates still read as the decoders read them (validate of 1M Kagura lines: +0.5 s of CPU
        # through the function, +0.2 s inline; test_time_edges checks both count alike)
        exported, updated = obj.get("exported_at"), obj.get("updated_at")
        if exported is not None:
            try:
                from_iso(exported)
                local += 1
            except ValueError:
                pass
        if updated is not None and len(updated) == 26:
            try:
                from_iso(updated)
                local += 1
            except ValueError:
                pass
        # valid, so obj is a dict with a known scope and a scalar key: identity.collision_key and
        # collision_hash inlined (a flat array of hashes, sorted once at the end, costs a fraction of
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
    return _RangeResult(problems, count, hashes.tobytes(), facts, local)


def _validate_memories(file: Path, problems: list[Problem], local: list[int]) -> int:
    ranges = line_ranges(file, 2) if worth_two(file) else [(0, None)]
    if len(ranges) == 1:
        results = [_validate_memory_range(file, 0, None)]
    else:
        with process_context().Pool(1) as pool:
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
        local[0] += result.local
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


def _report_duplicates(file: Path, repeated: set[int], problems: list[Problem]) -> None:
    """Rare: a second, exact pass names both lines of each duplicate identity."""
    first: dict[Any, int] = {}
    for line, obj, _, _ in scan(file, [], ascii_expected=True):
        identity = collision_key(obj)
        if identity is None or collision_hash(identity) not in repeated:
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


def _validate_graph(file: Path, schemas: SchemaSet, problems: list[Problem], local: list[int]) -> tuple[int, int]:
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
        local[0] += naive_local_times("relations" if kind == "edge" else "nodes", obj)
        if kind == "node":
            n_nodes += 1
            found = tag(obj.get("id"))
            if found is None:
                continue
            if found in nodes:
                problems.append(
                    Problem(
                        "kagura.node.duplicate",
                        "warning",
                        f"node id {quote(obj.get('id'))} already defined on line {nodes[found]}: Kagura merges the attributes and the later node_type wins",
                        name,
                        line,
                        None,
                        "$.id",
                    )
                )
            else:
                nodes[found] = line
        elif kind == "edge":
            n_edges += 1
            src, dst = tag(obj.get("src")), tag(obj.get("dst"))
            for end, ref, raw in (("src", src, obj.get("src")), ("dst", dst, obj.get("dst"))):
                if ref is not None and ref not in nodes:
                    early.append((line, end, ref, raw))
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
    for line, end, ref, raw in early:
        if ref in nodes:
            problems.append(
                Problem(
                    "kagura.edge.before-node",
                    "error",
                    f"{end} {quote(raw)} is defined only later (line {nodes[ref]}); Kagura's importer aborts on an edge before its nodes",
                    name,
                    line,
                    None,
                    f"$.{end}",
                )
            )
        else:
            kind_hint = " (a node with the other JSON type exists: ids are type-sensitive)" if _other_type_exists(ref, nodes) else ""
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


def _other_type_exists(ref: Any, nodes: dict[Any, int]) -> bool:
    kind, value = ref
    if kind == "s":
        try:
            return ("n", int(value)) in nodes or ("n", float(value)) in nodes
        except ValueError:
            return False
    return ("s", str(value)) in nodes


def _validate_metadata(file: Path, schemas: SchemaSet, counts: dict[str, int], problems: list[Problem], local: list[int]) -> None:
    name = str(file)
    checked = parse_checked(file, problems, "a JSON reader")
    if checked is None:
        return
    data, parsed = checked
    header = parsed.value
    local[0] += naive_local_times("header", header)
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
