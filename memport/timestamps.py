"""Timestamps in every dialect the three systems write, read as aware UTC without losing the text.

Each system writes time its own way (see shared/formats):

* Kagura: naive *local* ISO with ``T`` (``exported_at``, graph times); SQLite UTC
  ``YYYY-MM-DD HH:MM:SS`` (``created_at``, ``updated_at`` of a row never updated); SQLite-adapter
  *local* ``YYYY-MM-DD HH:MM:SS.ffffff`` (``updated_at`` after an upsert); ISO with an offset
  (caller-supplied edge validity).
* Tribal: Python ``isoformat()``; naive values are UTC.
* Doclea: integer Unix seconds, except memory relations in milliseconds.

The unit or zone of a value is decided by the field it stands in (the caller names the dialect),
never guessed from its magnitude. A naive *local* time needs the exporting machine's zone, which
the bundle does not record: callers pass it (``local_tz``), UTC by default, and the dialect says
the zone was assumed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import MemportError

UTC = UTC

KAGURA_LOCAL_ISO = "kagura-local-iso"  # naive local, T separator
SQLITE_UTC = "sqlite-utc"  # YYYY-MM-DD HH:MM:SS, UTC
SQLITE_LOCAL = "sqlite-local"  # YYYY-MM-DD HH:MM:SS.ffffff, local time
ISO_NAIVE_UTC = "iso-naive-utc"  # isoformat without offset, meaning UTC (Tribal)
ISO_AWARE = "iso-aware"  # isoformat with an offset
ISO_PARTIAL = "iso-partial"  # 2026, 2026-01: start of the period, UTC
EPOCH_SECONDS = "epoch-s"
EPOCH_MILLISECONDS = "epoch-ms"
UNPARSED = "unparsed"

# the dialects of times written in the exporting machine's zone without saying which
NAIVE_LOCAL = (KAGURA_LOCAL_ISO, SQLITE_LOCAL)

_SQLITE_UTC = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_SQLITE_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo:
    """A tzinfo for an IANA name ("Asia/Tokyo"), "UTC" or None (UTC)."""
    if name in (None, "UTC", "utc", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MemportError(f"unknown time zone {name!r}; expected an IANA name such as Europe/Berlin, or UTC") from None


def _from_iso(text: str, naive_tz: tzinfo) -> tuple[datetime | None, bool]:
    """fromisoformat with Python >= 3.11 rules; returns (UTC datetime, was_aware)."""
    try:
        dt = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None, False
    if dt.tzinfo is None:
        return _attach(dt, naive_tz), False
    return dt.astimezone(UTC), True


def _attach(dt: datetime, tz: tzinfo) -> datetime | None:
    try:
        return dt.replace(tzinfo=tz).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_partial(text: str) -> datetime | None:
    """``2026`` or ``2026-01``: the first instant of that year or month, in UTC."""
    m = _PARTIAL.match(text)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2) or 1), 1, tzinfo=UTC)
    except ValueError:
        return None


def parse_text(text: str, *, naive: str, local_tz: tzinfo = UTC) -> tuple[datetime | None, str]:
    """Parse ISO-like text; ``naive`` is the dialect to report for a value without offset.

    Returns (aware UTC datetime or None, dialect).
    """
    naive_tz = local_tz if naive in (KAGURA_LOCAL_ISO, SQLITE_LOCAL) else UTC
    if naive in (SQLITE_UTC, SQLITE_LOCAL):
        # Kagura's persistent rows: whole seconds are SQLite's UTC default, a fraction means
        # the row was updated through Python's local-time adapter.
        if _SQLITE_UTC.match(text):
            dt, _ = _from_iso(text, UTC)
            return dt, SQLITE_UTC
        if _SQLITE_LOCAL.match(text):
            dt, _ = _from_iso(text, local_tz)
            return dt, SQLITE_LOCAL
    dt, aware = _from_iso(text, naive_tz)
    if dt is not None:
        return dt, ISO_AWARE if aware else naive
    partial = parse_partial(text)
    if partial is not None:
        return partial, ISO_PARTIAL
    return None, UNPARSED


def store_text(dt: datetime | None) -> str | None:
    """The store's time text: UTC with microseconds and Z, fixed width so that text order is time
    order (years zero-padded: strftime's %Y leaves year 1 as "1" on glibc, which sorts after 2025)."""
    return None if dt is None else dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def sqlite_text(dt: datetime) -> str:
    """SQLite's ``CURRENT_TIMESTAMP`` text: UTC, whole seconds, ``0001-01-01 00:00:00`` for year 1
    (zero-padded as SQLite writes it; strftime's %Y is not)."""
    return dt.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat(sep=" ")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND, _MILLISECOND = timedelta(seconds=1), timedelta(milliseconds=1)


def epoch_seconds(dt: datetime) -> int:
    """Whole Unix seconds of an aware datetime, floored as JavaScript's ``Math.floor(Date.now() /
    1000)`` floors them. Integer arithmetic: ``dt.timestamp()`` is a float, which rounds
    9999-12-31T23:59:59.999999 up to 253402300800, a second of year 10000 no reader can hold."""
    return (dt - EPOCH) // _SECOND


def epoch_milliseconds(dt: datetime) -> int:
    """Whole Unix milliseconds of an aware datetime, floored (``Date.now()``), in integers."""
    return (dt - EPOCH) // _MILLISECOND


def in_zone(dt: datetime, tz: tzinfo, what: str) -> datetime:
    """``dt`` as naive wall time in ``tz`` (what Kagura writes as local time). A time of year 1 or
    9999 may leave the calendar there (year 0 west of Greenwich, year 10000 east of it): that is an
    error naming the time and the zone, never an overflow."""
    try:
        return dt.astimezone(tz).replace(tzinfo=None)
    except (OverflowError, ValueError):
        from .errors import ConversionError

        raise ConversionError(f"{what} {dt.isoformat()} cannot be written in {tz}, where it falls outside the years 1 to 9999") from None


def parse_epoch(value: Any, *, milliseconds: bool) -> tuple[datetime | None, str]:
    dialect = EPOCH_MILLISECONDS if milliseconds else EPOCH_SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, UNPARSED
    try:
        # an integer stays an integer (timedelta of a float of 2.5e14 milliseconds is off by a microsecond)
        return EPOCH + (timedelta(milliseconds=value) if milliseconds else timedelta(seconds=value)), dialect
    except (OverflowError, ValueError):
        return None, UNPARSED


def is_naive_iso(text: str) -> bool:
    """Whether ``text`` reads as an ISO date-time without an offset (``fromisoformat``, as
    :func:`parse_text` reads it): a naive local time where the field is one."""
    try:
        return datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        return False


def is_sqlite_local(text: str) -> bool:
    """Whether ``text`` is SQLite-adapter local time ``YYYY-MM-DD HH:MM:SS.ffffff`` (see
    :func:`parse_text`; the length test first, as most such values are SQLite's UTC)."""
    return len(text) == 26 and _SQLITE_LOCAL.match(text) is not None and is_naive_iso(text)


def naive_local_note(count: int, where: str = "") -> list[dict[str, Any]]:
    """The note said once when times written in the exporting machine's unnamed zone were read
    without one (as UTC): how many, and the flag that names the zone. Empty when there are none.
    ``where`` narrows what was counted ("in the records written")."""
    if not count:
        return []
    message = (
        f"{count} naive local time{'s' if count != 1 else ''}{' ' + where if where else ''}: written in the exporting machine's "
        "zone, which the bundle does not record, and read as UTC; if that machine was not on UTC, they are off by its offset. "
        "Give import, diff and convert the zone with --local-tz ZONE (local_tz= in the library), for example --local-tz Asia/Tokyo"
    )
    return [{"code": "time.naive-local", "count": count, "message": message}]


def export_time(text: str) -> datetime | str:
    """An ``--exported-at`` value: ``keep`` as it is, else an ISO 8601 date-time (a naive one means
    UTC), as an aware datetime."""
    if text == "keep":
        return text
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        from .errors import MemportError

        raise MemportError(f"--exported-at: expected an ISO 8601 date-time (2026-01-15T10:30:00+02:00) or keep, got {text!r}") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
