"""Decisions: what a person chose for a record that differs from the store, replayable in CI.

A decisions file is JSON Lines, one decision per record: its uid, a choice (``keep``, ``take``,
``skip``, or per-field picks ``{"fields": {"<native key>": "keep" | "take"}}``) and the hashes of
both sides when it was decided. A decision whose sides changed since is refused, never applied
stale (:class:`StaleDecisionError`).

The file is read strictly, since what it says is applied to the store: bytes that are not UTF-8,
a line that is not JSON or not a decision, a key or a choice it does not know, and two decisions for
one uid (which one was meant?) are errors naming the file and the line. A per-field pick naming a
field neither record has is refused when the plan meets it (:func:`unknown_fields`), and a
decision no record needed is listed by the plan (``Plan.unused_decisions``), not dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Location, MalformedInputError, MemportError
from ..jsonio import BOM, atomic_write_bytes, json_kind, loads
from ..masking import mask_uid
from ..problems import json_path, quote

CHOICES = ("keep", "take", "skip", "fields")
PICKS = ("keep", "take")
KEYS = ("uid", "choice", "fields", "existing_hash", "incoming_hash")
REQUIRED = ("uid", "choice", "existing_hash", "incoming_hash")


class StaleDecisionError(MemportError):
    """A decision was made about records that have changed since."""


@dataclass(frozen=True)
class Decision:
    uid: str
    choice: str
    existing_hash: str
    incoming_hash: str
    fields: dict[str, str] | None = None
    # where it was read from (a decisions file's name and line), for errors that name it
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise MemportError(f"decision for {self.uid}: choice must be one of {', '.join(CHOICES)}, got {self.choice!r}")
        if self.choice == "fields" and not self.fields:
            raise MemportError(f"decision for {self.uid}: per-field picks need a fields mapping")

    def to_json(self) -> str:
        out: dict[str, Any] = {"uid": self.uid, "choice": self.choice}
        if self.fields:
            out["fields"] = self.fields
        out["existing_hash"] = self.existing_hash
        out["incoming_hash"] = self.incoming_hash
        return json.dumps(out, ensure_ascii=False, sort_keys=False)

    def where(self, path: str | None = None) -> Location:
        return Location(self.file, line=self.line, path=path)


def load_decisions(path: str | Path) -> dict[str, Decision]:
    """The decisions of a file, by uid; every fault is a :class:`MalformedInputError` naming the
    file and line (and the member, where one is at fault)."""
    name = str(path)
    decisions: dict[str, Decision] = {}
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            where = Location(name, line=number)
            data = raw.rstrip(b"\r\n")
            if number == 1 and data.startswith(BOM):
                data = data[len(BOM) :]  # an editor's byte order mark: the decisions are what follows it
            if not data.strip():
                continue
            decision = _decision(loads(data, where).value, name, number)
            first = decisions.get(decision.uid)
            if first is not None:
                raise MalformedInputError(
                    f"a second decision for {quote(decision.uid)} (the first is on line {first.line}); memport does not guess which one is meant",
                    where,
                )
            decisions[decision.uid] = decision
    return decisions


def _decision(raw: Any, file: str, line: int) -> Decision:
    """One line's decision, checked member by member."""

    def fault(message: str, member: str | None = None) -> MalformedInputError:
        return MalformedInputError(message, Location(file, line=line, path=f"$.{member}" if member else None))

    if not isinstance(raw, dict):
        raise fault(f'expected a decision object {{"uid", "choice", "existing_hash", "incoming_hash"}}, got {json_kind(raw)}')
    unknown = [key for key in raw if key not in KEYS]
    if unknown:
        raise fault(f"unknown key {quote(unknown[0])}; a decision has {', '.join(KEYS)}")
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise fault(f"missing {', '.join(missing)}; a decision has {', '.join(REQUIRED)} (and fields, for per-field picks)")
    for key in ("uid", "existing_hash", "incoming_hash"):
        if not isinstance(raw[key], str):
            raise fault(f"expected a string, got {quote(raw[key])}", key)
    choice, picks = raw["choice"], raw.get("fields")
    if choice not in CHOICES:
        raise fault(f"one of {', '.join(CHOICES)}, got {quote(choice)}", "choice")
    if choice != "fields" and picks is not None:
        raise fault(f"per-field picks are only for the choice fields, not {choice}", "fields")
    if choice == "fields":
        if not isinstance(picks, dict) or not picks:
            raise fault(f'per-field picks need a fields object {{"<field>": "keep" | "take"}}, got {quote(picks)}', "fields")
        for key, pick in picks.items():
            if pick not in PICKS:
                raise MalformedInputError(f"keep or take, got {quote(pick)}", Location(file, line=line, path=json_path(("fields", key))))
    return Decision(raw["uid"], choice, raw["existing_hash"], raw["incoming_hash"], picks, file, line)


def unknown_fields(decision: Decision, old: Any, new: Any) -> tuple[str, Location] | None:
    """Why a per-field decision cannot be applied to these records, located at the decision's file
    and line, or None: a field neither the stored nor the incoming record has (picking it would
    change nothing, and the accounting would still say "updated")."""
    have = set(old) if isinstance(old, dict) else set()
    have |= set(new) if isinstance(new, dict) else set()
    wrong = [key for key in decision.fields or {} if key not in have]
    if not wrong:
        return None
    named = "this field" if len(wrong) == 1 else "the fields " + ", ".join(map(quote, wrong))
    message = f"neither the stored nor the incoming record of {mask_uid(decision.uid)} has {named}; they have {', '.join(sorted(have))}"
    return message, decision.where(json_path(("fields", wrong[0])))


def refusal(found: list[tuple[str, Location]]) -> MalformedInputError:
    """The first of the decisions a plan could not apply (see :func:`unknown_fields`), and how many more."""
    message, where = found[0]
    more = f" (and {len(found) - 1} more decisions naming fields the records do not have)" if len(found) > 1 else ""
    return MalformedInputError(message + more, where)


def save_decisions(decisions: Iterable[Decision], path: str | Path) -> None:
    """Write decisions as JSON Lines, sorted by uid (deterministic), atomically."""
    text = "".join(d.to_json() + "\n" for d in sorted(decisions, key=lambda d: d.uid))
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def merge_fields(old: Any, new: Any, picks: dict[str, str]) -> Any:
    """The stored record with the native keys picked "take" from the incoming one."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    merged = dict(old)
    for key, pick in picks.items():
        if pick == "take":
            if key in new:
                merged[key] = new[key]
            else:
                merged.pop(key, None)
    return merged


def field_diff(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    """Native keys whose values differ: key -> (stored, incoming); absent is None."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {"(record)": (old, new)}
    return {k: (old.get(k), new.get(k)) for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k) or (k in old) != (k in new)}
