"""Decisions: what a person chose for a record that differs from the store, replayable in CI.

A decisions file is JSON Lines, one decision per record: its uid, a choice (``keep``, ``take``,
``skip``, or per-field picks ``{"fields": {"<native key>": "keep" | "take"}}``) and the hashes of
both sides when it was decided. A decision whose sides changed since is refused, never applied
stale (:class:`StaleDecisionError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MemportError
from ..jsonio import atomic_write_bytes

CHOICES = ("keep", "take", "skip", "fields")


class StaleDecisionError(MemportError):
    """A decision was made about records that have changed since."""


@dataclass(frozen=True)
class Decision:
    uid: str
    choice: str
    existing_hash: str
    incoming_hash: str
    fields: dict[str, str] | None = None

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


def load_decisions(path: str | Path) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                decisions[raw["uid"]] = Decision(raw["uid"], raw["choice"], raw["existing_hash"], raw["incoming_hash"], raw.get("fields"))
            except (ValueError, KeyError, TypeError) as err:
                raise MemportError(
                    f'{path}, line {number}: not a decision ({err}); expected {{"uid", "choice", "existing_hash", "incoming_hash"}}'
                ) from None
    return decisions


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
