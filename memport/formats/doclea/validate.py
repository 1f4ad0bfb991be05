"""Validating a Doclea export: the schemas, the checks across records (ids, relation ends, chunk
offsets in UTF-16 code units against their document, counts), and the layout Doclea writes
(``JSON.stringify(doc, null, 2)``, compared piece by piece as the document streams by)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import MalformedInputError
from ...jsonio import BOM, dumps_js, needs_reference
from ...keys import key64
from ...problems import Problem, quote
from ...schemas import schema_set
from .. import Detection
from .._document import walk
from .codec import NAME, SCHEMA_OF, SECTIONS
from .read import _spread


def validate(path: Path, detection: Detection) -> list[Problem]:
    """Every problem, reading the document as a stream. What the cross-record checks need is
    kept (ids, the relations' ends, the documents' text for the chunks' offsets), not the
    records themselves."""
    name = str(path)
    schemas = schema_set(NAME, detection.version)
    problems: list[Problem] = []
    with open(path, "rb") as f:
        bom = f.read(len(BOM)) == BOM
    if bom:
        problems.append(Problem("file.bom", "error", "starts with a UTF-8 byte order mark (BOM); Doclea's JSON.parse rejects it", name, 1))
    checks = _Checks(schemas, name)
    top: dict[str, Any] = {}
    with _Stringified(path, len(BOM) if bom else 0) as layout:
        try:
            for event in walk(path, _spread, allow_bom=True):
                layout.add(event)
                if not event.path:  # not an object
                    problems.extend(schemas.problems("bundle", event.value, file=name))
                    return problems
                holder = top if len(event.path) == 1 else top["data"]
                if event.kind == "value":
                    # the bundle's schema sees the data arrays empty (their records are checked one by one)
                    holder[event.path[-1]] = [] if len(event.path) == 2 and isinstance(event.value, list) else event.value
                elif event.kind == "object":
                    top["data"] = {}
                elif event.kind == "array":
                    holder[event.path[-1]] = []
                elif event.kind == "item":
                    checks.item(event.path[1], event.index, event.value, event.exact)
                else:
                    checks.counts[event.path[1]] = event.index
        except MalformedInputError as err:
            # what the records before the break showed (not their references: the rest is unread)
            problems.append(
                Problem("json.malformed", "error", err.message, name, err.location.line, err.location.record, err.location.path)
            )
            return problems + checks.record_problems()
        same_layout = layout.finish()
    problems.extend(schemas.problems("bundle", top, exact=needs_reference(top), file=name))
    if layout.final_newline:
        problems.append(Problem("file.final-newline", "warning", "ends with a newline; Doclea's writer adds none", name))
    elif same_layout is False:
        problems.append(
            Problem(
                "doclea.bundle.layout",
                "warning",
                "not laid out as Doclea writes it (JSON.stringify(data, null, 2): 2-space indent, raw UTF-8)",
                name,
            )
        )
    problems.extend(checks.finish())
    metadata, memories = top.get("metadata"), checks.counts.get("memories")
    if isinstance(metadata, dict) and memories is not None:
        total = metadata.get("totalMemories")
        if isinstance(total, int) and not isinstance(total, bool) and total != memories:
            problems.append(
                Problem(
                    "doclea.bundle.count-mismatch",
                    "warning",
                    f"metadata.totalMemories says {total} but data.memories has {memories}",
                    name,
                    None,
                    None,
                    "$.metadata.totalMemories",
                )
            )
    relations = checks.counts.get("memoryRelations")
    if relations:
        problems.append(
            Problem(
                "doclea.memory-relation.not-importable",
                "warning",
                f"Doclea's own importer cannot import memory relations (it inserts into columns relation_type/confidence that do not exist), so {'this one' if relations == 1 else f'these {relations}'} would be lost on a native restore",
                name,
                None,
                None,
                "$.data.memoryRelations",
            )
        )
    return problems


class _Checks:
    """The record checks of a Doclea validation, fed one record at a time: each record against its
    schema, duplicate ids per array, then (``finish``) references and chunk offsets, from what was
    kept of the records (ids, the relations' ends, the documents' text), in the order of SECTIONS."""

    def __init__(self, schemas: Any, file: str):
        self.schemas, self.file = schemas, file
        self.found: dict[str, list[Problem]] = {section: [] for section in SECTIONS}
        # each array's ids by their 64-bit key -> the first index (a million memories: ints, not
        # strings; two ids of one key among a million: about one chance in 3e7)
        self.ids: dict[str, dict[int, int]] = {}
        self.counts: dict[str, int] = {}  # records of each array, once it ended
        self.ends: dict[str, list[tuple[int, str, str]]] = {"memoryRelations": [], "crossLayerRelations": []}
        self.contents: dict[Any, Any] = {}  # document id -> its text
        self.chunks: list[tuple[int, Any, Any, Any, Any]] = []  # index, documentId, startOffset, endOffset, content

    def item(self, section: str, index: int, item: Any, exact: bool) -> None:
        schema = SCHEMA_OF[section]
        found, file = self.found[section], self.file
        if exact or not self.schemas.fast(schema).is_valid(item):
            found.extend(self.schemas.problems(schema, item, exact=exact, file=file, record=index, prefix=("data", section, index)))
        seen = self.ids.setdefault(section, {})
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str):
            key = _key(ident)
            if key in seen:
                found.append(
                    Problem(
                        f"doclea.{schema}.duplicate-id",
                        "error",
                        f"id {quote(ident)} already used by {section}[{seen[key]}]: Doclea's importer skips (or overwrites with) the later copy",
                        file,
                        None,
                        index,
                        f"$.data.{section}[{index}].id",
                    )
                )
            else:
                seen[key] = index
        if not isinstance(item, dict):
            return
        if section == "memoryRelations":
            self.ends[section] += [(index, key, item[key]) for key in ("source_id", "target_id") if isinstance(item.get(key), str)]
        elif section == "crossLayerRelations" and isinstance(item.get("memory_id"), str):
            self.ends[section].append((index, "memory_id", item["memory_id"]))
        elif section == "documents":
            self.contents[item.get("id")] = item.get("content")
        elif section == "chunks":
            self.chunks.append((index, item.get("documentId"), item.get("startOffset"), item.get("endOffset"), item.get("content")))

    def record_problems(self) -> list[Problem]:
        """What the records showed one by one: their schemas' problems and duplicate ids."""
        return [problem for section in SECTIONS for problem in self.found[section]]

    def finish(self) -> list[Problem]:
        """The records' problems, then their references' and the chunks' offsets'."""
        out = self.record_problems()
        file = self.file
        memories, documents = self.ids.get("memories", {}), self.ids.get("documents", {})
        for section, code in (
            ("memoryRelations", "doclea.memory-relation.dangling"),
            ("crossLayerRelations", "doclea.cross-layer-relation.dangling"),
        ):
            for index, key, target in self.ends[section]:
                if _key(target) not in memories:
                    out.append(
                        Problem(
                            code,
                            "warning",
                            f"{key} {quote(target)} names no memory in this bundle (Doclea accepts dangling references)",
                            file,
                            None,
                            index,
                            f"$.data.{section}[{index}].{key}",
                        )
                    )
        for index, doc_id, start, end, chunk_text in self.chunks:
            out.extend(_chunk_problems(file, index, doc_id, start, end, chunk_text, documents, self.contents))
        return out


def _key(ident: str) -> int:
    return key64(ident.encode("utf-8", "surrogatepass"))


def _chunk_problems(
    file: str, index: int, doc_id: Any, start: Any, end: Any, text: Any, documents: dict[int, int], contents: dict[Any, Any]
) -> list[Problem]:
    """A chunk's reference to its document and its offsets (UTF-16 code units) into the document's text."""
    out = []
    where = f"$.data.chunks[{index}]"
    if isinstance(doc_id, str) and _key(doc_id) not in documents:
        out.append(
            Problem(
                "doclea.chunk.dangling",
                "warning",
                f"documentId {quote(doc_id)} names no document in this bundle (Doclea accepts it)",
                file,
                None,
                index,
                f"{where}.documentId",
            )
        )
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return out
    if start > end:
        out.append(Problem("doclea.chunk.offsets", "warning", f"startOffset {start} is after endOffset {end}", file, None, index, where))
        return out
    content = contents.get(doc_id)
    if isinstance(content, str) and isinstance(text, str):
        length = len(content.encode("utf-16-le", "surrogatepass")) // 2
        if end > length:
            out.append(
                Problem(
                    "doclea.chunk.offsets",
                    "warning",
                    f"endOffset {end} is beyond the document's {length} UTF-16 code units",
                    file,
                    None,
                    index,
                    where,
                )
            )
        elif utf16_slice(content, start, end) != text:
            hint = " (the offsets would fit if counted in code points: UTF-16 units are expected)" if content[start:end] == text else ""
            out.append(
                Problem(
                    "doclea.chunk.offsets",
                    "warning",
                    f"the document's text at UTF-16 offsets {start}..{end} differs from the chunk's content{hint}",
                    file,
                    None,
                    index,
                    where,
                )
            )
    return out


class _Stringified:
    """Whether a document is laid out as ``JSON.stringify(doc, null, 2)`` writes it, judged piece by
    piece as :func:`walk` hands the document out, against the file's bytes (neither held whole):
    ``finish()`` says True or False, or None when a value holds what JSON.stringify writes
    otherwise (NaN, lone surrogates: no verdict, as for a whole document)."""

    def __init__(self, path: Path, skip: int):
        self.file = open(path, "rb")
        self.file.seek(skip)
        self.same: bool | None = True
        self.written = [0]  # members or elements written at each open level: the document's, then data's, then an array's
        self.final_newline = False
        self._put("{")

    def __enter__(self) -> _Stringified:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.file.close()

    def _put(self, text: str) -> None:
        if self.same:
            data = text.encode("utf-8")
            self.same = self.file.read(len(data)) == data

    def _next(self) -> str:
        """The separator before the next member or element of the innermost open level."""
        depth = len(self.written)
        separator = "," if self.written[-1] else ""
        self.written[-1] += 1
        return separator + "\n" + "  " * depth

    def _close(self, bracket: str) -> None:
        count = self.written.pop()
        self._put(("\n" + "  " * len(self.written) if count else "") + bracket)

    def add(self, event: Any) -> None:
        if not self.same or not event.path:
            return
        if event.exact:
            self.same = None
            return
        if event.kind == "item":
            self._put(self._next() + dumps_js(event.value).replace("\n", "\n" + "  " * len(self.written)))
            return
        if event.kind == "end":
            self._close("]")
            return
        if len(event.path) < len(self.written):  # a member after the data object: that closed
            self._close("}")
        prefix = self._next() + dumps_js(event.path[-1]) + ": "
        if event.kind == "value":
            self._put(prefix + dumps_js(event.value).replace("\n", "\n" + "  " * len(self.written)))
        else:
            self._put(prefix + ("{" if event.kind == "object" else "["))
            self.written.append(0)

    def finish(self) -> bool | None:
        """The verdict, once the whole document went by."""
        while self.same and self.written:
            self._close("}" if len(self.written) < 3 else "]")
        if self.same:
            self.same = self.file.read(1) == b""
        self.file.seek(0, 2)
        if self.file.tell():
            self.file.seek(-1, 2)
            self.final_newline = self.file.read(1) == b"\n"
        return self.same


def utf16_slice(text: str, start: int, end: int) -> str:
    """``text.slice(start, end)`` as JavaScript counts: in UTF-16 code units."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * start : 2 * end].decode("utf-16-le", "surrogatepass")
