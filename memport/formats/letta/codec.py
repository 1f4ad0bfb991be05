"""The Codec tables of the agent file: which native keys become canonical fields, both shapes.

* blocks (core memory) are memories: ``label`` is the key, ``value`` the content, ``description``
  the summary; limit, read_only and the template bookkeeping stay native (``extra``);
* ``agents[].messages[]`` are messages: role, created_at, id, and the text (see :func:`message_text`);
  the structured content parts stay native;
* ``files[]`` are documents: file_name is the title, content the text.

What a record's owner is (the agent listing a block, the agent holding a message) comes from the
file's structure, not from the record: the reader passes it as fixed values, and writers never
write it back (it is no codec field). Legacy records (the single-agent shape, letta.md §14) have
codecs of their own, with origin ``letta-legacy``, so that their native keys never leak into a
current-shape file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ...model import Codec, Document, Field, Memory, Message, Timestamp, Unfit, construct, raw_timestamp, text, text_list
from ...timestamps import ISO_AWARE, ISO_NAIVE_UTC, UNPARSED, parse_epoch

NAME = "letta"
LEGACY_ORIGIN = "letta-legacy"

# -------------------------------------------------------------------------------------------
# Time, as pydantic 2 reads a ``datetime`` field (letta.md §13): ISO 8601 with T, t, a space or
# an underscore, optional seconds and up to 6 fraction digits, Z or an offset; a date alone
# (midnight); Unix time as a number or a numeric string, in milliseconds beyond 2e10.

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt _](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
# what the exporter writes: orjson's RFC 3339, UTC, microseconds omitted when zero
EXPORTED_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?\+00:00$")


def parse_time(raw: Any) -> tuple[datetime | None, str]:
    """A Letta datetime value as aware UTC and the dialect it was read in; (None, "unparsed")
    when pydantic would refuse it (naive values are kept naive by Letta: read as UTC here)."""
    if isinstance(raw, bool):
        return None, UNPARSED
    if isinstance(raw, str) and _NUMBER.match(raw):
        raw = float(raw) if "." in raw else int(raw)
    if isinstance(raw, (int, float)):
        # milliseconds beyond 2e10 (pydantic's rule); an integer stays one (raw / 1000 is a float,
        # a microsecond off near year 9999)
        return parse_epoch(raw, milliseconds=abs(raw) > 2e10)
    if not isinstance(raw, str):
        return None, UNPARSED
    m = _ISO.match(raw)
    if m is None:
        return None, UNPARSED
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        value = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), int((fraction or "0").ljust(6, "0"))
        )
        if offset is None:
            return value.replace(tzinfo=UTC), ISO_NAIVE_UTC
        if offset in ("Z", "z"):
            return value.replace(tzinfo=UTC), ISO_AWARE
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= timedelta(hours=24):
            return None, UNPARSED
        return (value - sign * delta).replace(tzinfo=UTC), ISO_AWARE
    except (ValueError, OverflowError):
        return None, UNPARSED


def exported_time(moment: datetime) -> str:
    """A datetime as Letta's exporter writes it (``2026-01-22T02:06:35.101954+00:00``)."""
    return moment.astimezone(UTC).isoformat()


def timestamp(raw: Any, _ctx: Any = None) -> Timestamp | None:
    """Any JSON value of a datetime field, kept as written; unparseable text keeps ``utc`` None."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise Unfit
    utc, dialect = parse_time(raw)
    return construct(Timestamp, raw=raw, utc=utc, dialect=dialect)


# Letta validates agent names with re.match(r"^[\w '\-]+$") (letta.md §4)
NAME_RULE = re.compile(r"^[\w '\-]+$")
_NAME_CHAR = re.compile(r"[\w '\-]")


def sanitized_name(name: str) -> str:
    """An agent name Letta accepts, made deterministically: every character outside
    ``[\\w '\\-]`` becomes ``_``; a name left empty becomes ``agent``."""
    if NAME_RULE.match(name):
        return name
    return "".join(c if _NAME_CHAR.match(c) else "_" for c in name) or "agent"


# -------------------------------------------------------------------------------------------
# Message text


def plain_text(raw: Any, _ctx: Any = None) -> str | None:
    """A message's content when it is plain text; structured parts do not fit (kept native)."""
    if raw is None or isinstance(raw, str):
        return raw
    raise Unfit


def message_text(content: Any) -> str | None:
    """What a message says: its text, or its ``text`` parts joined by newlines. Reasoning, images
    and tool traffic are no text (they stay in the native parts)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts = [p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)]
    return "\n".join(texts) if texts else None


def in_context_positions(doc: dict[str, Any]) -> set[int] | None:
    """The positions of a legacy agent's messages that are in its context window: from
    ``in_context_message_indices`` (0.6.47 and later), else from the messages' own ``in_context``
    flags (0.6.43); None when the file says neither."""
    indices = doc.get("in_context_message_indices")
    if isinstance(indices, list):
        return {i for i in indices if isinstance(i, int) and not isinstance(i, bool)}
    messages = doc.get("messages")
    if isinstance(messages, list) and any(isinstance(m, dict) and isinstance(m.get("in_context"), bool) for m in messages):
        return {i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("in_context") is True}
    return None


# -------------------------------------------------------------------------------------------
# Current shape (letta.md §5, §6, §8); default key orders are the exporter's (pydantic field order)

BLOCK_KEYS = (
    "value",
    "limit",
    "project_id",
    "template_name",
    "is_template",
    "template_id",
    "base_template_id",
    "deployment_id",
    "entity_id",
    "preserve_on_migration",
    "label",
    "read_only",
    "description",
    "metadata",
    "hidden",
    "id",
)
BLOCK = Codec(
    Memory,
    NAME,
    [
        Field("value", "content", text),
        Field("label", "key", text),
        Field("description", "summary", text),
        Field("metadata", "metadata"),
        Field("tags", "tags", text_list, omit_none=True),
        Field("id", "id", text),
    ],
    lambda _: BLOCK_KEYS,
)

MESSAGE_KEYS = (
    "type",
    "role",
    "content",
    "name",
    "otid",
    "sender_id",
    "batch_item_id",
    "group_id",
    "id",
    "model",
    "agent_id",
    "tool_calls",
    "tool_call_id",
    "tool_returns",
    "created_at",
    "approve",
    "approval_request_id",
    "denial_reason",
    "approvals",
)
MESSAGE = Codec(
    Message,
    NAME,
    [
        Field("type", None, const="message"),
        Field("role", "role", text),
        Field("content", "content", plain_text),
        Field("id", "id", text),
        Field("created_at", "created_at", timestamp, raw_timestamp),
    ],
    lambda _: MESSAGE_KEYS,
)

FILE_KEYS = (
    "source_id",
    "file_name",
    "original_file_name",
    "file_path",
    "file_type",
    "file_size",
    "file_creation_date",
    "file_last_modified_date",
    "processing_status",
    "error_message",
    "total_chunks",
    "chunks_embedded",
    "content",
    "id",
)
FILE = Codec(
    Document,
    NAME,
    [
        Field("id", "id", text),
        Field("file_name", "title", text),
        Field("content", "content", text),
        Field("file_creation_date", "created_at", timestamp, raw_timestamp),
        Field("file_last_modified_date", "updated_at", timestamp, raw_timestamp),
    ],
    lambda _: FILE_KEYS,
)

# -------------------------------------------------------------------------------------------
# Legacy shape (letta.md §14): inline blocks and messages of one agent, without ids


LEGACY_BLOCK = Codec(
    Memory,
    LEGACY_ORIGIN,
    [
        Field("value", "content", text),
        Field("label", "key", text),
        Field("description", "summary", text),
        # 0.6.x blocks: metadata_ (0.7.10 writes metadata, which stays native: two native keys
        # cannot share one field without the writer adding the other)
        Field("metadata_", "metadata"),
        Field("created_at", "created_at", timestamp, raw_timestamp),
        Field("updated_at", "updated_at", timestamp, raw_timestamp),
    ],
    lambda _: ("created_at", "description", "is_template", "label", "limit", "metadata_", "template_name", "updated_at", "value"),
)

LEGACY_MESSAGE = Codec(
    Message,
    LEGACY_ORIGIN,
    [
        Field("role", "role", text),
        Field("content", "content", plain_text),
        Field("created_at", "created_at", timestamp, raw_timestamp),
    ],
    lambda _: ("created_at", "group_id", "model", "name", "role", "content", "tool_call_id", "tool_calls", "tool_returns", "updated_at"),
)
