"""A person's review of a plan's conflicts: find them, decide them, preview, apply.

What a merge UI needs, and nothing of how it looks (:class:`memport.widgets.MergeSelector` renders
it; tests drive it without a browser). A :class:`Review` holds every conflict of a plan, however
many (a person pages through them, filtered and sorted by :class:`Query`), the decisions made so
far, and the two steps that apply them:

1. :meth:`Review.preview` runs the dry run of the decisions as they stand (:meth:`Plan.replan`,
   the evaluator the import runs) and keeps that plan;
2. :meth:`Review.apply` applies exactly that plan (:meth:`Plan.apply`: one transaction, its
   vectors and ``clear``, refused with :class:`StalePlanError` if the store changed since), and only
   if no decision changed since the preview. Its counts are the preview's.

After applying, the applied conflicts are no longer offered; those left undecided stay, planned
anew against the store as it now is.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MemportError
from ..masking import mask_text, mask_uid, mask_value
from .decisions import Decision, save_decisions
from .plans import Plan

# what a conflict can be filtered by (each offered only when some conflict has a value for it)
FACETS = ("reason", "field", "user", "agent", "tag", "newer")
# what conflicts can be sorted by; "bundle order" is the order of the incoming bundle
SORTS = ("bundle order", "newest change first", "uid", "reason", "field", "user", "agent", "tag")
STATUSES = ("all", "undecided", "decided")
# which side changed last, as a person reads it
NEWER = {"incoming": "incoming is newer", "stored": "stored is newer", "same": "same time", None: "a time is missing"}


class PreviewFirstError(MemportError):
    """Apply was asked for decisions that were not previewed as they stand."""


@dataclass(frozen=True)
class Conflict:
    """One record of the bundle that differs from the stored one and is not resolved yet."""

    uid: str
    kind: str
    position: int  # its rank among the conflicts, in the incoming bundle's order
    reason: str  # why the plan left it undecided (no-decision, missing-updated_at, ...)
    diff: dict[str, tuple[Any, Any]]  # native key -> (stored, incoming)
    tags: tuple[str, ...]
    user: str | None
    agent: str | None
    stored_updated: str | None  # UTC text, sortable
    incoming_updated: str | None
    detail: dict[str, Any] = field(repr=False, compare=False)  # Plan.details() of it

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.diff)

    @property
    def newer(self) -> str | None:
        """``incoming`` or ``stored`` (the side updated later), ``same``, or None (a time missing)."""
        if self.stored_updated is None or self.incoming_updated is None:
            return None
        if self.incoming_updated == self.stored_updated:
            return "same"
        return "incoming" if self.incoming_updated > self.stored_updated else "stored"

    @property
    def changed(self) -> str:
        """The later of the two update times ("" when neither has one): for sorting."""
        return max(self.stored_updated or "", self.incoming_updated or "")

    def shown(self) -> str:
        """What a person sees of it, masked, lower-cased: what a text search matches (a secret
        cannot be found by the part of it that is masked)."""
        parts = [mask_uid(self.uid)]
        for key, (old, new) in self.diff.items():
            parts += [mask_text(key), shown_value(key, old), shown_value(key, new)]
        return "\n".join(parts).lower()

    def facet(self, name: str) -> tuple[str, ...]:
        """Its values for a facet of :data:`FACETS` (a conflict has several fields and tags)."""
        if name == "reason":
            return (self.reason,)
        if name == "field":
            return self.fields
        if name == "tag":
            return self.tags
        if name == "newer":
            return (NEWER[self.newer],)
        value = self.user if name == "user" else self.agent
        return (value,) if value is not None else ()


def shown_value(key: str, value: Any) -> str:
    """One side of a field as a person sees it: JSON, masked (the whole value under a secret's name)."""
    return json.dumps(mask_value({key: value})[mask_text(key)], ensure_ascii=False)


@dataclass
class Query:
    """Which conflicts a person looks at: filters (None: any), a sort and a page."""

    reason: str | None = None
    field: str | None = None
    user: str | None = None
    agent: str | None = None
    tag: str | None = None
    newer: str | None = None  # a value of NEWER
    text: str = ""  # contained in what is shown (case-insensitive)
    status: str = "all"  # one of STATUSES
    sort: str = "bundle order"  # one of SORTS
    page: int = 0
    size: int = 20


def _sort_key(name: str) -> Any:
    if name == "bundle order":
        return lambda c: c.position
    if name == "newest change first":
        return lambda c: (_descending(c.changed), c.position)
    if name == "uid":
        return lambda c: c.uid
    facet = {"reason": "reason", "field": "field", "user": "user", "agent": "agent", "tag": "tag"}[name]
    # no value sorts last
    return lambda c: (not c.facet(facet), sorted(c.facet(facet))[:1], c.position)


def _descending(text: str) -> tuple[int, ...]:
    return (*(-ord(ch) for ch in text), 1)  # "" (no time) after every time


class Review:
    """The conflicts of ``plan`` as a person decides them; ``decisions`` (a loaded decisions file,
    say) are taken for the conflicts they still fit (both sides as when decided)."""

    def __init__(self, plan: Plan, decisions: dict[str, Decision] | None = None):
        self.plan = plan
        self.conflicts = _conflicts(plan)
        self.decisions: dict[str, Decision] = {}
        self.applied: dict[str, Decision] = {}  # the decisions already applied (saved with the others)
        # decisions the plans after an apply carry for conflicts decided before (not the person's)
        self._carried: dict[str, Decision] = {}
        self.previewed: Plan | None = None
        self._previewed_with: dict[str, Decision] | None = None
        self.preview_summary: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        # decisions given that fit no conflict of this plan (their records changed since, or are no
        # longer in conflict): not taken
        self.not_taken: list[str] = []
        offered = self._offered()
        for uid, decision in sorted((decisions or {}).items()):
            if uid in offered and self.plan.decide(uid, decision.choice, decision.fields) == decision:
                self.decisions[uid] = decision
            else:
                self.not_taken.append(uid)

    def _offered(self) -> dict[str, Conflict]:
        return {c.uid: c for c in self.conflicts}

    # --- deciding ------------------------------------------------------------------------------

    def choice(self, uid: str) -> str:
        """``undecided`` or the decision's choice (keep, take, skip, fields)."""
        decision = self.decisions.get(uid)
        return decision.choice if decision else "undecided"

    def picks(self, uid: str) -> dict[str, str]:
        """The per-field picks of a ``fields`` decision (native key -> keep | take), else {}."""
        decision = self.decisions.get(uid)
        return dict(decision.fields or {}) if decision and decision.choice == "fields" else {}

    def choose(self, uid: str, choice: str | None, fields: dict[str, str] | None = None) -> None:
        """Decide one conflict (None or ``undecided`` takes the decision back). ``fields`` picks
        keep or take per differing native key (the ones not named are kept)."""
        conflict = self._offered().get(uid)
        if conflict is None:
            raise MemportError(f"{mask_uid(uid)} is not a conflict offered for a decision")
        before = self.decisions.get(uid)
        if choice in (None, "undecided"):
            self.decisions.pop(uid, None)
        elif choice == "fields":
            picks = {key: (fields or {}).get(key, "keep") for key in conflict.fields}
            self.decisions[uid] = self.plan.decide(uid, "fields", picks)
        else:
            self.decisions[uid] = self.plan.decide(uid, choice)
        if self.decisions.get(uid) != before:
            self._changed()

    def rule(self, choice: str, *, newer: bool = False, among: Iterable[Conflict] | None = None) -> int:
        """One choice for many conflicts (``among``: by default all offered); with ``newer``, the
        incoming record is taken only where it was updated strictly later and the stored one kept
        otherwise (:meth:`Plan.rule`). Returns how many were decided."""
        chosen = list(self.conflicts if among is None else among)
        made = self.plan.rule(choice, newer=newer, details=[c.detail for c in chosen])
        if any(self.decisions.get(d.uid) != d for d in made):
            self.decisions.update((d.uid, d) for d in made)
            self._changed()
        return len(made)

    def _changed(self) -> None:
        """A decision changed: the preview no longer shows what Apply would do (even if a later
        change restores what was previewed, Apply waits for a new preview)."""
        self.previewed = self._previewed_with = self.preview_summary = None

    def counts(self) -> dict[str, int]:
        """conflicts (offered), decided, undecided, applied (decided and applied before)."""
        decided = sum(1 for c in self.conflicts if c.uid in self.decisions)
        return {
            "conflicts": len(self.conflicts),
            "decided": decided,
            "undecided": len(self.conflicts) - decided,
            "applied": len(self.applied),
        }

    def save(self, path: str | Path) -> int:
        """Write every decision made (applied ones included) as a decisions file: what a replay of
        this review against the store as it was needs. Returns how many."""
        made = {**self.applied, **self.decisions}
        save_decisions(made.values(), path)
        return len(made)

    # --- finding -------------------------------------------------------------------------------

    def options(self) -> dict[str, list[tuple[str, int]]]:
        """Per facet, the values the offered conflicts have, with how many have each (most first);
        a facet no conflict has a value for is left out (Tribal has no users or agents)."""
        out: dict[str, list[tuple[str, int]]] = {}
        for name in FACETS:
            found = Counter(value for c in self.conflicts for value in c.facet(name))
            if found:
                out[name] = sorted(found.items(), key=lambda item: (-item[1], item[0]))
        return out

    def select(self, query: Query) -> tuple[list[Conflict], int]:
        """The page of conflicts ``query`` asks for, and how many match it in all."""
        if query.status not in STATUSES:
            raise MemportError(f"status must be one of {', '.join(STATUSES)}, got {query.status!r}")
        if query.sort not in SORTS:
            raise MemportError(f"sort must be one of {', '.join(SORTS)}, got {query.sort!r}")
        text = query.text.strip().lower()
        matched = []
        for c in self.conflicts:
            if any(getattr(query, name) is not None and getattr(query, name) not in c.facet(name) for name in FACETS):
                continue
            if query.status != "all" and (c.uid in self.decisions) != (query.status == "decided"):
                continue
            if text and text not in c.shown():
                continue
            matched.append(c)
        matched.sort(key=_sort_key(query.sort))
        start = max(0, query.page) * query.size
        return matched[start : start + query.size], len(matched)

    def matching(self, query: Query) -> list[Conflict]:
        """Every conflict ``query`` matches, all pages."""
        everything = Query(**{**query.__dict__, "page": 0, "size": max(1, len(self.conflicts))})
        return self.select(everything)[0]

    # --- preview and apply ---------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether Apply may run: the decisions as they stand were previewed, and none changed since."""
        return self.previewed is not None and self._previewed_with == self.decisions

    def preview(self) -> dict[str, Any]:
        """The dry run of the decisions as they stand, on top of the plan's strategy: the very plan
        :meth:`apply` then applies. Returns its accounting (:meth:`Plan.summary`)."""
        self._changed()
        planned = self.plan.replan({**self._carried, **self.decisions}, strategy=self.plan.strategy)
        self.previewed, self._previewed_with = planned, dict(self.decisions)
        self.preview_summary = planned.summary()
        return self.preview_summary

    def apply(self) -> dict[str, Any]:
        """Apply what the preview showed (:meth:`Plan.apply`); refused if a decision changed since
        the preview (:class:`PreviewFirstError`) or the store did (:class:`StalePlanError`)."""
        if not self.ready or self.previewed is None:
            raise PreviewFirstError("preview the decisions as they stand first: Apply does what the preview showed")
        result = self.previewed.apply()
        self.result = result
        done, self.decisions = self.decisions, {}
        self.applied.update(done)
        self._replan_after(done)
        return result

    def _replan_after(self, done: dict[str, Decision]) -> None:
        """Plan anew against the store as it now is: conflicts kept or skipped carry their
        decision (both sides are as they were), and one whose fields were merged is kept as
        merged; the others (undecided) are offered again."""
        base = self.previewed or self.plan
        self.previewed = self._previewed_with = None
        carried = {**self._carried, **{uid: d for uid, d in done.items() if d.choice in ("keep", "skip")}}
        planned = base.replan(carried, strategy=self.plan.strategy)
        merged = [row.uid for row in planned.conflicts() if row.uid in self.applied]
        if merged:
            carried.update((uid, planned.decide(uid, "keep")) for uid in merged)
            planned = base.replan(carried, strategy=self.plan.strategy)
        self.plan, self._carried = planned, carried
        still = {row.uid for row in planned.conflicts()}
        self.conflicts = [c for c in self.conflicts if c.uid in still and c.uid not in self.applied]


def _conflicts(plan: Plan) -> list[Conflict]:
    """The plan's conflicts, one per uid (a duplicate inside the bundle is decided with its first)."""
    seen: set[str] = set()
    out = []
    for d in plan.details(plan.conflicts()):
        if d["uid"] in seen:
            continue
        seen.add(d["uid"])
        out.append(
            Conflict(
                uid=d["uid"],
                kind=d["kind"],
                position=len(out),
                reason=d["reason"],
                diff=d["diff"],
                tags=tuple(t for t in d["tags"] if isinstance(t, str)),
                user=d.get("user_id"),
                agent=d.get("agent_name"),
                stored_updated=d["stored_updated"],
                incoming_updated=d["incoming_updated"],
                detail=d,
            )
        )
    return out
