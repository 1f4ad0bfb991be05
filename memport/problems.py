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

from .frames import python_strings

if TYPE_CHECKING:
    import pandas as pd

Severity = Literal["error", "warning"]

# Messages quote offending values; a huge value must not make a huge message.
MAX_QUOTE = 80


def quote(value: Any, *, secret: bool = False) -> str:
    """A short, readable rendering of a JSON value for messages, masked by the masking policy
    (:mod:`memport.masking`): a message never echoes a secret, the path names the field. With
    ``secret`` (the value sits under a field named like a secret), nothing of it is shown."""
    from .masking import TOKEN, mask, mask_text

    if secret and value not in (None, "", True, False):
        text = value if isinstance(value, str) else repr(value)
        return repr(text if TOKEN.fullmatch(text) else mask(text, "secret"))
    if isinstance(value, str):
        shown = mask_text(value)
        if len(shown) > MAX_QUOTE:
            cut = MAX_QUOTE
            for m in TOKEN.finditer(shown):  # a masked token is not cut in two
                if m.start() < cut < m.end():
                    cut = m.start()
            shown = shown[:cut] + f"... ({len(value)} characters)"
        return repr(shown)
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
        elif isinstance(part, str) and part.isidentifier() and not _holds_secret(part):
            out += f".{part}"
        else:
            out += f"[{quote(str(part))}]"
    return out


def _holds_secret(name: str) -> bool:
    """A key that is itself a secret (an access key id used as a key) is quoted, hence masked."""
    from .masking import mask_text

    return mask_text(name) != name


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
    # what a reader should know about how memport reads the bundle, which is no fault of the bundle
    # (its exporter writes exactly this): {"code", "count", "message"}, e.g. naive local times read
    # as UTC (timestamps.naive_local_note). Not problems: they change no verdict, --strict included.
    notes: list[dict[str, Any]] = field(default_factory=list)

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

    @python_strings
    def to_frame(self) -> pd.DataFrame:
        """One row per problem with typed columns (categories for severity and code), shown masked."""
        import pandas as pd

        from .masking import masked

        frame = pd.DataFrame(
            [p.to_dict() for p in self.problems], columns=["code", "severity", "message", "file", "line", "record", "path"]
        )
        frame = frame[COLUMNS]
        frame["severity"] = pd.Categorical(frame["severity"], categories=["error", "warning"])
        frame["code"] = frame["code"].astype("category")
        frame["line"] = frame["line"].astype("Int64")
        frame["record"] = frame["record"].astype("Int64")
        return masked(frame)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON contract for ``memport validate --json``."""
        return {
            "valid": self.valid,
            "format": self.format,
            "version": self.version,
            "errors": [_contract(p) for p in self.errors],
            "warnings": [_contract(p) for p in self.warnings],
            "notes": list(self.notes),
        }

    def summary(self) -> dict[str, int]:
        """Problem counts by code."""
        return dict(sorted(Counter(p.code for p in self.problems).items()))

    def _repr_html_(self) -> str:
        from .masking import frame_html, mask_text

        status = "valid" if self.valid else "invalid"
        head = (
            f"<p><b>{html.escape(mask_text(self.path))}</b>: {html.escape(str(self.format))} {html.escape(str(self.version))}, "
            f"<b>{status}</b>: {len(self.errors)} error(s), {len(self.warnings)} warning(s)</p>"
        )
        head += "".join(f"<p>note: {html.escape(note['message'])}</p>" for note in self.notes)
        if not self.problems:
            return head + "<p>No problems.</p>"
        frame = self.to_frame()
        # errors first, as a person reads them; the first 200 (the report holds them all)
        frame = frame.sort_values("severity", kind="stable").head(200)
        more = f"<p>the first 200 of {len(self.problems)} problems</p>" if len(self.problems) > 200 else ""
        return head + more + frame_html(frame, index=False, na_rep="")


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
