"""Problems are data: a stable code, a severity, a location and a message, collected into reports.

Severity has two values:

* ``error``: the system's own importer would reject this, or would lose data because of it;
* ``warning``: the system's importer takes it, but its real exporter never writes it this way.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["error", "warning"]

# Messages quote offending values; a huge value must not make a huge message.
MAX_QUOTE = 80


def quote(value: Any) -> str:
    """A short, readable rendering of a JSON value for messages."""
    if isinstance(value, str):
        text = value if len(value) <= MAX_QUOTE else value[:MAX_QUOTE] + f"... ({len(value)} characters)"
        return repr(text)
    if isinstance(value, (dict, list)):
        kind = "object" if isinstance(value, dict) else "array"
        return f"an {kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    rendered = repr(value)
    if rendered in ("None", "True", "False"):
        return {"None": "null", "True": "true", "False": "false"}[rendered]
    return rendered if len(rendered) <= MAX_QUOTE else rendered[:MAX_QUOTE] + "..."


def json_path(parts: Any) -> str:
    """``$.entries[3].tags`` style path from a sequence of keys and indexes."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{quote(str(part))}]"
    return out


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    record: int | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = ", ".join(
            p
            for p in (
                self.file,
                f"line {self.line}" if self.line is not None else None,
                f"record {self.record}" if self.record is not None else None,
                self.path if self.path and self.path != "$" else None,
            )
            if p
        )
        return f"{self.severity}: {where}: {self.message} [{self.code}]" if where else f"{self.severity}: {self.message} [{self.code}]"


def without_shadowed_warnings(problems: list[Problem]) -> list[Problem]:
    """An error on a value makes warnings about the very same value noise: keep the errors."""
    errors_at = {(p.file, p.line, p.record, p.path) for p in problems if p.severity == "error"}
    return [p for p in problems if p.severity == "error" or (p.file, p.line, p.record, p.path) not in errors_at]


COLUMNS = ["severity", "code", "file", "line", "record", "path", "message"]


@dataclass
class Report:
    """Every problem found in one bundle, plus what was validated."""

    format: str | None
    version: str | None
    path: str
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def valid(self) -> bool:
        """True when nothing would make the native importer reject the bundle or lose data."""
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """One row per problem with typed columns (categories for severity and code)."""
        import pandas as pd

        frame = pd.DataFrame(
            [p.to_dict() for p in self.problems], columns=["code", "severity", "message", "file", "line", "record", "path"]
        )
        frame = frame[COLUMNS]
        frame["severity"] = pd.Categorical(frame["severity"], categories=["error", "warning"])
        frame["code"] = frame["code"].astype("category")
        frame["line"] = frame["line"].astype("Int64")
        frame["record"] = frame["record"].astype("Int64")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON contract for ``memport validate --json``."""
        return {
            "valid": self.valid,
            "format": self.format,
            "version": self.version,
            "errors": [_contract(p) for p in self.errors],
            "warnings": [_contract(p) for p in self.warnings],
        }

    def summary(self) -> dict[str, int]:
        """Problem counts by code."""
        return dict(sorted(Counter(p.code for p in self.problems).items()))

    def _repr_html_(self) -> str:
        status = "valid" if self.valid else "invalid"
        head = (
            f"<p><b>{html.escape(self.path)}</b>: {html.escape(str(self.format))} {html.escape(str(self.version))}, "
            f"<b>{status}</b>: {len(self.errors)} error(s), {len(self.warnings)} warning(s)</p>"
        )
        if not self.problems:
            return head
        frame = self.to_frame().head(200)
        return head + frame.to_html(index=False, na_rep="", escape=True)


def _contract(problem: Problem) -> dict[str, Any]:
    return {
        "code": problem.code,
        "severity": problem.severity,
        "file": problem.file,
        "line": problem.line,
        "record": problem.record,
        "path": problem.path,
        "message": problem.message,
    }
