"""Looking inside bundles: filtered, paged, masked views, and the record behind a problem.

The widgets (``memport.widgets``) only render what these functions return, so a million-record
bundle is never turned into a million rows of HTML, and what is shown has passed the masking
policy (:mod:`memport.masking`) first. What a view offers comes from the bundle itself: the
columns its format has (``bundle.columns``) and the values its data holds, so a Doclea bundle is
never offered a user filter.
"""

from __future__ import annotations

import ast
import contextlib
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .filters import parse_bound
from .frames import python_strings
from .masking import TOKEN, frame_html, is_secret_key, mask, mask_cell, mask_text, mask_value, may_hold_secret, shorten
from .problems import Problem

# where "text contains" looks (what a person reads as the record's text)
TEXT_COLUMNS = ("content", "title", "summary", "context", "value", "key", "memory", "reason")
# columns a view can filter on by value, with the name a person reads: shown only where the
# format has the column and the data has a value in it
CHOICES = {
    "user_id": "user",
    "agent_name": "agent",
    "scope": "scope",
    "type": "type",
    "source_type": "source type",
    "source_instance": "source",
    "kind": "kind",
    "direction": "direction",
}
# the time a view filters on, the first a frame has values in
DATE_COLUMNS = ("created_at", "suggested_at", "updated_at", "accessed_at", "exported_at")
# shown first, in this order: what a record is and when, then what it says, then the rest
LEAD_COLUMNS = ("id", "scope", "key", "user_id", "agent_name", "kind", "type", "source_type", "source", "target", "document_id", "title")
MAX_OPTIONS = 500
CELL_CHARS = 300


@dataclass
class View:
    """Which rows of a frame to show: conditions (all must hold), then one page of them.

    ``equals`` maps a column to the values wanted in it (any of); ``tags``, any of them; ``since``
    and ``until`` (ISO 8601, partial allowed, ``until`` inclusive of its period) bound
    ``date_column``; ``text`` is a case-insensitive substring of the text columns as they are
    shown (masked), so a search never finds what a person cannot see.
    """

    equals: dict[str, list[Any]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    date_column: str = "created_at"
    text: str = ""
    page: int = 0
    size: int = 50


@dataclass
class Choice:
    """A filter by value a frame offers: its column, the name a person reads, and the values
    present (most frequent first), each as (label shown, value matched, rows)."""

    column: str
    label: str
    options: list[tuple[str, Any, int]]
    more: int = 0  # distinct values left out of ``options`` (beyond MAX_OPTIONS)


def choices(frame: Any) -> list[Choice]:
    """The value filters ``frame`` really has: its columns among :data:`CHOICES` holding at least
    one value, plus ``tags`` when some row has tags. Labels are masked, values raw."""
    out = []
    for column, label in CHOICES.items():
        if column not in frame:
            continue
        counts = Counter(v for v in frame[column].tolist() if isinstance(v, str) and v != "")
        if counts:
            out.append(_choice(column, label, counts))
    if "tags" in frame:
        counts = Counter(t for tags in frame["tags"].tolist() if isinstance(tags, list) for t in tags if isinstance(t, str))
        if counts:
            out.append(_choice("tags", "tags", counts))
    return out


def _choice(column: str, label: str, counts: Counter[str]) -> Choice:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    options = [(f"{shorten(mask_text(value), 60)} ({n})", value, n) for value, n in ordered[:MAX_OPTIONS]]
    return Choice(column, label, options, max(0, len(ordered) - MAX_OPTIONS))


def date_column(frame: Any) -> str | None:
    """The time a view of ``frame`` filters on: the first of :data:`DATE_COLUMNS` with a value."""
    for column in DATE_COLUMNS:
        if column in frame and frame[column].notna().any():
            return column
    return None


def text_columns(frame: Any) -> list[str]:
    return [c for c in TEXT_COLUMNS if c in frame]


@python_strings
def browse(frame: Any, view: View, *, reveal: bool = False) -> tuple[Any, int]:
    """The page of ``frame`` that ``view`` selects, as it may be shown, and how many rows matched.

    The page is a plain DataFrame of display values: columns in :func:`display_columns` order,
    text and JSON masked (``reveal=True`` shows them in clear), JSON as JSON, long text shortened,
    vectors summarised; timestamps stay timestamps.
    """
    keep = pd.Series(True, index=frame.index)
    for column, wanted in view.equals.items():
        if wanted and column in frame:
            keep &= frame[column].astype(object).isin(list(wanted))
    if view.tags and "tags" in frame:
        wanted_tags = set(view.tags)
        keep &= frame["tags"].map(lambda tags: bool(isinstance(tags, list) and wanted_tags & set(tags))).astype(bool)
    if (view.since or view.until) and view.date_column in frame:
        when = frame[view.date_column]
        if view.since:
            keep &= (when >= pd.Timestamp(parse_bound(view.since))).fillna(False).astype(bool)
        if view.until:
            keep &= (when < pd.Timestamp(parse_bound(view.until, end=True))).fillna(False).astype(bool)
    if view.text:
        keep &= _text_hits(frame, view.text, keep, reveal)
    matched = frame[keep.fillna(False).astype(bool)]
    start = max(view.page, 0) * view.size
    page = pd.DataFrame(matched.iloc[start : start + view.size])
    return display_page(page, reveal=reveal), len(matched)


def _text_hits(frame: Any, text: str, candidates: Any, reveal: bool) -> Any:
    """Rows whose text columns hold ``text`` as shown: first in the raw text (cheap), then, for
    the rows found, in the masked text, so that searching for part of a secret finds nothing."""
    needle = text.lower()
    hit = pd.Series(False, index=frame.index)
    for column in text_columns(frame):
        texts = frame[column].map(_as_text)
        raw = texts.map(lambda v: needle in v.lower()).astype(bool) & candidates
        if not reveal and raw.any():
            # only a text that may hold a secret can read otherwise once masked (a cheap look
            # first: searching 100k memories took 1.4 s masking every hit, 0.3 s with it)
            risky = texts[raw][texts[raw].map(may_hold_secret).astype(bool)]
            hidden = risky[risky.map(lambda v, column=column: needle not in str(mask_cell(v, column)).lower()).astype(bool)]
            raw[hidden.index] = False
        hit |= raw
    return hit


def display_columns(frame: Any) -> list[str]:
    """Every column, none dropped: what identifies a record and its times first, then the rest
    in the bundle's order."""
    columns = list(frame.columns)
    lead = [c for c in LEAD_COLUMNS if c in columns]
    times = [c for c in columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    return lead + times + [c for c in columns if c not in lead and c not in times]


@python_strings
def display_page(page: Any, *, reveal: bool = False) -> Any:
    """A page of records as shown: ordered columns, cells masked and made readable."""
    out = pd.DataFrame(index=page.index)
    for column in display_columns(page):
        values = page[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype) or (pd.api.types.is_numeric_dtype(values.dtype) and not is_secret_key(column)):
            out[column] = values
        elif column == "embedding":
            out[column] = values.map(lambda v: f"[{len(v)} numbers]" if isinstance(v, list) else v).astype(object)
        else:
            out[column] = pd.Series([_cell(v, column, reveal) for v in values.tolist()], index=page.index, dtype=object)
    return out


def _cell(value: Any, column: str, reveal: bool) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if reveal:
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    else:
        shown = str(mask_cell(value, column))
    return shorten(shown, CELL_CHARS)


def table_html(page: Any) -> str:
    """A page as an HTML table that scrolls sideways instead of dropping columns; cells escaped
    (the page is already masked: :func:`browse`)."""
    table = frame_html(page, reveal=True, index=False, na_rep="", classes="memport-table", border=0)
    return (
        "<style>.memport-scroll{overflow-x:auto;max-width:100%}"
        ".memport-table{border-collapse:collapse;font-size:12px}"
        # the table as wide as its cells want (short ones never wrap, long text wraps at 36em): what
        # does not fit scrolls sideways
        ".memport-table{width:max-content}"
        ".memport-table th,.memport-table td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left !important;vertical-align:top}"
        ".memport-table td{max-width:36em;white-space:pre-wrap;overflow-wrap:anywhere}"
        ".memport-table th{white-space:nowrap}</style>"
        f"<div class='memport-scroll'>{table}</div>"
    )


def _as_text(value: Any) -> str:
    """A cell as searchable text: strings as they are, missing values empty, other JSON as JSON."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return str(value)


# ------------------------------------------------------------------------------------------------
# Problems and the records they are about


@dataclass
class Group:
    """Problems of one code: its severity, how many, and the problems themselves."""

    code: str
    severity: str
    problems: list[Problem]

    @property
    def label(self) -> str:
        return f"{self.severity}: {self.code} ({len(self.problems)})"


def problem_groups(report: Any) -> list[Group]:
    """The report's problems grouped by code: errors first, then the largest groups, then by code."""
    groups: dict[tuple[str, str], list[Problem]] = {}
    for p in report.problems:
        groups.setdefault((p.severity, p.code), []).append(p)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0] != "error", -len(kv[1]), kv[0][1]))
    return [Group(code, severity, problems) for (severity, code), problems in ordered]


def problem_label(problem: Problem) -> str:
    """One problem in a list: where in the file, and what (the message never holds a secret:
    messages are masked where they are made; masked again here all the same)."""
    where = ", ".join(
        p
        for p in (
            f"line {problem.line}" if problem.line is not None else None,
            f"record {problem.record}" if problem.record is not None else None,
            problem.path if problem.path and problem.path != "$" else None,
        )
        if p
    )
    return mask_text(f"{where}: {problem.message}" if where else problem.message)


def offending_record(problem: Problem) -> Any:
    """The record a problem is about: the JSON line, or the object at the problem's record path
    (read as a stream: a large document is not loaded whole). None when there is no single record."""
    if problem.file is None:
        return None
    path = Path(problem.file)
    if not path.is_file():
        return None
    if problem.line is not None and path.suffix in (".jsonl", ""):
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if number == problem.line:
                    text = raw.decode("utf-8", "replace").rstrip("\r\n")
                    try:
                        return json.loads(text)
                    except ValueError:
                        return text
        return None
    if problem.record is None or problem.path is None:
        return None
    parts = path_parts(problem.path)
    at = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
    if at is None:
        return None
    return _document_item(path, tuple(parts[:at]), parts[at])


def _document_item(path: Path, array: tuple[Any, ...], index: int) -> Any:
    from .errors import MemportError
    from .formats._document import walk

    def spread(member: tuple[str, ...]) -> str | None:
        if member == array:
            return "array"
        return "object" if member == array[: len(member)] else None

    events = walk(path, spread, allow_bom=True)
    with contextlib.closing(events):
        try:
            for event in events:
                if event.kind == "item" and event.path == array and event.index == index:
                    return event.value
        except MemportError:  # a document broken before the record: nothing to show
            return None
    return None


_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


def path_parts(path: str) -> list[Any]:
    """``$.data.memories[3]['a key'].x`` -> ``['data', 'memories', 3, 'a key', 'x']``."""
    out: list[Any] = []
    for m in _STEP.finditer(path.removeprefix("$")):
        name, index, quoted = m.groups()
        out.append(name if name is not None else int(index) if index is not None else ast.literal_eval(quoted))
    return out


def relative_path(problem: Problem) -> list[Any]:
    """The problem's path inside its record (after the record index in a document; the whole path
    for a line of a JSON Lines file)."""
    parts = path_parts(problem.path or "$")
    if problem.line is not None and problem.record is None:
        return parts
    at = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
    return parts[at + 1 :] if at is not None else parts


@dataclass
class RecordView:
    """A record pretty-printed as JSON, masked, with the lines of the failing path marked."""

    lines: list[str]
    marked: set[int]
    note: str = ""

    def to_html(self, *, height: str = "24em") -> str:
        body = "\n".join(
            f"<mark style='background:#ffe08a'>{html.escape(line)}</mark>" if n in self.marked else html.escape(line)
            for n, line in enumerate(self.lines)
        )
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (
            f"{note}<pre class='memport-record' style='max-height:{height};overflow:auto;border:1px solid #ddd;"
            f"padding:6px;margin:0;white-space:pre'>{body}</pre>"
        )


def record_view(problem: Problem, *, reveal: bool = False) -> RecordView:
    """The record a problem is about, whole, as JSON (masked unless ``reveal``), its failing path
    marked; when the path is not in the record (a missing field), the note says so."""
    record = offending_record(problem)
    if record is None:
        return RecordView([], set(), "This problem is about the file as a whole, not one record.")
    target = relative_path(problem)
    printer = _Printer(target, reveal)
    printer.value(record, [], 0)
    lines = printer.lines
    note = ""
    if target and not printer.marked:
        shown = str(target[-1]) if reveal else mask_text(str(target[-1]))
        note = f"The field {shown!r} is not in the record: the problem is about its absence."
    return RecordView(lines, printer.marked, note)


class _Printer:
    """JSON with two-space indentation, written line by line so that the lines of one path are known."""

    def __init__(self, target: list[Any], reveal: bool):
        self.target, self.reveal = target, reveal
        self.lines: list[str] = []
        self.marked: set[int] = set()

    def _text(self, value: Any) -> str:
        if isinstance(value, str) and not self.reveal:
            value = mask_text(value)
        return json.dumps(value, ensure_ascii=False, default=str)

    def value(self, value: Any, path: list[Any], indent: int, prefix: str = "", suffix: str = "", secret: bool = False) -> None:
        first = len(self.lines)
        pad = " " * indent
        if secret and not self.reveal and value not in (None, "", [], {}) and not (isinstance(value, str) and TOKEN.fullmatch(value)):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            self.lines.append(f"{pad}{prefix}{json.dumps(mask(text, 'secret'))}{suffix}")
        elif isinstance(value, dict) and value:
            self.lines.append(f"{pad}{prefix}{{")
            for n, (key, item) in enumerate(value.items()):
                comma = "," if n < len(value) - 1 else ""
                self.value(item, [*path, key], indent + 2, f"{self._text(key)}: ", comma, is_secret_key(key))
            self.lines.append(f"{pad}}}{suffix}")
        elif isinstance(value, list) and value:
            self.lines.append(f"{pad}{prefix}[")
            for n, item in enumerate(value):
                self.value(item, [*path, n], indent + 2, "", "," if n < len(value) - 1 else "")
            self.lines.append(f"{pad}]{suffix}")
        else:
            shown = mask_value(value) if not self.reveal else value
            self.lines.append(f"{pad}{prefix}{json.dumps(shown, ensure_ascii=False, default=str)}{suffix}")
        if path and path == self.target:
            self.marked.update(range(first, len(self.lines)))
