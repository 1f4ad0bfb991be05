"""Looking inside bundles: filtered, paged, masked views, and the record behind a problem.

The widgets (``memport.widgets``) only render what these functions return, so a million-record
bundle is never turned into a million rows of HTML, and secrets are masked before anything is
shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .auditing import mask_text
from .filters import parse_bound
from .problems import Problem

TEXT_COLUMNS = ("content", "title", "summary", "context", "value")


@dataclass
class View:
    """Which rows of a frame to show: conditions (all must hold), then one page of them."""

    users: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # any of
    since: str | None = None  # ISO 8601, partial allowed, on created_at
    until: str | None = None
    text: str = ""  # case-insensitive substring of the text columns
    page: int = 0
    size: int = 50


def browse(frame: Any, view: View) -> tuple[Any, int]:
    """The page of ``frame`` that ``view`` selects, with text masked, and how many rows matched."""
    keep = pd.Series(True, index=frame.index)
    for column, wanted in (("user_id", view.users), ("agent_name", view.agents), ("scope", view.scopes), ("type", view.types)):
        if wanted and column in frame:
            keep &= frame[column].astype("string").isin(wanted).fillna(False)
    if view.tags and "tags" in frame:
        wanted_tags = set(view.tags)
        keep &= frame["tags"].map(lambda tags: bool(isinstance(tags, list) and wanted_tags & set(tags)))
    if (view.since or view.until) and "created_at" in frame:
        created = frame["created_at"]
        if view.since:
            keep &= created >= pd.Timestamp(parse_bound(view.since))
        if view.until:
            keep &= created < pd.Timestamp(parse_bound(view.until, end=True))
        keep &= created.notna()
    if view.text:
        needle = view.text.lower()
        hit = pd.Series(False, index=frame.index)
        for column in TEXT_COLUMNS:
            if column in frame:
                hit |= frame[column].map(lambda v: needle in _as_text(v).lower()).astype(bool)
        keep &= hit
    matched = frame[keep.fillna(False).astype(bool)]
    start = max(view.page, 0) * view.size
    page = matched.iloc[start : start + view.size].copy()
    for column in TEXT_COLUMNS:
        if column in page:
            page[column] = page[column].map(lambda v: mask_text(_as_text(v)) if _as_text(v) else v).astype(object)
    return page, len(matched)


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


def offending_record(problem: Problem) -> Any:
    """The record a problem is about: the JSON line, or the object at the problem's record path."""
    if problem.file is None:
        return None
    path = Path(problem.file)
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
    document = json.loads(path.read_bytes())
    # walk the path up to the record index: $.data.memories[3].title -> data, memories, 3
    node: Any = document
    for part in _parts(problem.path):
        node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(part, int):
            return node
    return node


def _parts(path: str) -> list[Any]:
    out: list[Any] = []
    for chunk in path.lstrip("$").replace("]", "").split("."):
        for piece in chunk.split("["):
            if piece:
                out.append(int(piece) if piece.isdigit() else piece.strip("'"))
    return out
