"""File-local ids of an agent file (shared/formats/letta.md §3): ``<prefix>-<n>``, linking the
entities inside one file only; Letta replaces them with new database ids on import."""

from __future__ import annotations

from typing import Any

# top-level array (and agents[].messages) -> the prefix its ids must have
PREFIXES = {
    "agents": "agent",
    "groups": "group",
    "blocks": "block",
    "files": "file",
    "sources": "source",
    "tools": "tool",
    "mcp_servers": "mcp_server",
    "messages": "message",
}


def id_problem(value: Any, prefix: str) -> str | None:
    """Why Letta's importer refuses ``value`` as a file id with this prefix, or None when it
    accepts it. Letta checks the prefix, then parses the rest with Python's ``int()``, whose rules
    this uses as they are: ``block-007``, ``block--1``, ``block-+3``, ``block- 3`` and
    ``block-1_000`` pass; ``blk-0``, ``block-abc`` and database ids (``tool-8f2c…``) do not."""
    if not isinstance(value, str):
        return None  # the schema reports the type
    if not value.startswith(prefix + "-"):
        return f"should start with {prefix + '-'!r}"
    try:
        int(value[len(prefix) + 1 :])
    except ValueError:
        return "should have an integer after the prefix (Letta parses it with Python's int())"
    return None


def file_id(prefix: str, number: int) -> str:
    """An id as Letta's exporter numbers them: one counter per prefix, from 0."""
    return f"{prefix}-{number}"
