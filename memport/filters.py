"""Which records an import, export or diff takes: by user, agent, scope, tags and date ranges.

Dates are ISO 8601, full or partial (``2026``, ``2026-01``, ``2026-01-15``, or a date-time with or
without offset; a naive one means UTC). A partial lower bound means the start of its period and a
partial upper bound the end of it, so ``created_until="2026-01"`` includes all of January.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .errors import MemportError
from .formats import Indexed
from .timestamps import UTC, store_text

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_bound(text: str, *, end: bool = False) -> str:
    """A date bound as store time text; ``end=True`` gives the (exclusive) end of a partial value."""
    m = _PARTIAL.match(text)
    try:
        if m:
            year, month = int(m.group(1)), m.group(2)
            start = datetime(year, int(month or 1), 1, tzinfo=UTC)
            if end:
                start = (
                    start.replace(year=year + 1)
                    if month is None
                    else (start.replace(year=year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1))
                )
            return store_text(start)
        if len(text) == 10:
            d = date.fromisoformat(text)
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            return store_text(start + timedelta(days=1) if end else start)
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise MemportError(
            f"not an ISO 8601 date: {text!r} (expected e.g. 2026, 2026-01, 2026-01-15 or 2026-01-15T10:30:00+02:00)"
        ) from None
    return store_text(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


@dataclass
class Filters:
    """Conditions a memory must all meet; an unset one always holds."""

    users: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # any of
    created_since: str | None = None
    created_until: str | None = None
    updated_since: str | None = None
    updated_until: str | None = None

    def __post_init__(self) -> None:
        # normalised once: store time text, the until bounds exclusive
        self._bounds = {
            "created_at": (
                self.created_since and parse_bound(self.created_since),
                self.created_until and parse_bound(self.created_until, end=True),
            ),
            "updated_at": (
                self.updated_since and parse_bound(self.updated_since),
                self.updated_until and parse_bound(self.updated_until, end=True),
            ),
        }
        self._active = bool(self.users or self.agents or self.scopes or self.tags or any(a or b for a, b in self._bounds.values()))

    @property
    def active(self) -> bool:
        return self._active

    def matches(self, item: Indexed) -> bool:
        if self.users and item.user_id not in self.users:
            return False
        if self.agents and item.agent_name not in self.agents:
            return False
        if self.scopes and item.scope not in self.scopes:
            return False
        if self.tags and not (item.tags and set(item.tags) & set(self.tags)):
            return False
        for column, (low, high) in self._bounds.items():
            value = getattr(item, column)
            if (low or high) and value is None:
                return False
            if (low and value < low) or (high and value >= high):
                return False
        return True

    @property
    def bounds(self) -> dict[str, tuple[str | None, str | None]]:
        """column -> (since, until) as store time text, until exclusive; None where unset."""
        return {column: (low or None, high or None) for column, (low, high) in self._bounds.items()}
