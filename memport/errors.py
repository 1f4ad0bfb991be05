"""The few exceptions memport raises, each carrying where the problem is.

Problems found while *validating* a bundle are data (see :mod:`memport.problems`); exceptions are
for the edge: a path that is not a bundle, a version we do not know, a file we cannot parse while
reading, an output we refuse to overwrite.  ``str(error)`` is one readable line that names the file,
the line or record, the field and what was expected, which is what the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where something is: a file, and inside it a line (JSONL) or a record index, and a JSON path."""

    file: str | None = None
    line: int | None = None
    record: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.path:
            parts.append(self.path)
        return ", ".join(parts)


class MemportError(Exception):
    """Base class: a message plus the location it is about."""

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location or Location()

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


class BundleNotFoundError(MemportError):
    """The path does not exist."""


class NotABundleError(MemportError):
    """The path exists but matches no supported format (says what was looked for)."""


class UnsupportedVersionError(MemportError):
    """The bundle names a version memport has no schema for (says which are supported)."""


class MalformedInputError(MemportError):
    """The bytes cannot be read as the format requires (bad JSON, bad encoding, truncation)."""


class OutputExistsError(MemportError):
    """A write would replace existing data and the caller did not allow it."""


class ConversionError(MemportError):
    """A conversion was asked for that memport cannot perform."""
