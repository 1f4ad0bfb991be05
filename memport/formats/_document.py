"""Single-document JSON files (Tribal, Doclea, Kagura's metadata.json) as seen by the validators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MalformedInputError
from ..jsonio import BOM, Parsed, parse_document
from ..problems import Problem


def head_of(path: Path, size: int = 65536) -> bytes:
    """The start of a file, without BOM or leading white space: enough for a format to recognise
    itself without parsing the whole document."""
    with open(path, "rb") as f:
        return f.read(size).lstrip(BOM).lstrip()


def header_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A single-document bundle without its record arrays: the small part an import records
    (detection keeps it, so that a plan need not parse a large document once more for it)."""
    return {key: value for key, value in doc.items() if key not in ("entries", "data")}


def parse_checked(path: Path, problems: list[Problem], reader: str) -> tuple[bytes, Parsed] | None:
    """The file's bytes (without a BOM) and its parsed value; a BOM or a parse failure becomes a
    problem instead of an exception. None when the file cannot be parsed at all."""
    name = str(path)
    data = path.read_bytes()
    if data.startswith(BOM):
        problems.append(Problem("file.bom", "error", f"starts with a UTF-8 byte order mark (BOM); {reader} rejects it", name, 1))
        data = data[len(BOM):]
    try:
        return data, parse_document(data, name)
    except MalformedInputError as err:
        problems.append(Problem("json.malformed", "error", err.message, name, err.location.line))
        return None
