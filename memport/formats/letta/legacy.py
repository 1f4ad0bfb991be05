"""The legacy single-agent shape (Letta 0.6.43 to 0.7.10) and its upgrade to the current shape.

Letta 0.16 refuses every legacy file ("Legacy AgentSchema format is deprecated"), although almost
half of the agent files in circulation have that shape. :func:`upgrade` turns one into the current
shape following shared/formats/letta.md §20 to the letter:

* one plain UTF-8 JSON object in the exporter's layout, all seven required arrays, ``skills: []``,
  ``metadata`` with string values only, ``created_at`` in UTC with ``+00:00``;
* ids numbered as the exporter numbers them (§3): one counter per prefix from 0, the agent
  first, then its messages, tools and blocks in the agent's own order; blocks then listed by
  label and tools by name, as the exporter lists them;
* every reference resolvable: the agent's ``block_ids`` and ``tool_ids`` name every block and
  tool, ``in_context_message_ids`` only its own messages, in the order of the legacy indices;
* no ``shared_block_ids``, no groups (a legacy ``multi_agent_group`` names agents the file does
  not hold: reported as lost); memory in ``blocks``, the exporter's constant inputs
  (``memory_blocks: []``, ``tools: []``, ``include_base_tools: false``, ...);
* the agent's name made to match ``^[\\w '\\-]+$`` (each other character becomes ``_``; reported);
* no keys added to tools (Letta rejects unknown ones): legacy tools lose their timestamps;
* message content as parts, ``created_at`` on every message (naive legacy times are UTC).

What the current shape cannot hold (timestamps of the agent, blocks and tools, message update
times, environment-variable descriptions, unknown legacy keys) is listed in the loss report.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .._convert import ConversionReport
from .codec import exported_time, in_context_positions, parse_time, sanitized_name
from .ids import file_id
from .read import CURRENT, LEGACY, from_native
from .write import to_document

ROLES = ("assistant", "user", "tool", "function", "system", "approval", "summary")
AGENT_TYPES = (
    "memgpt_agent",
    "memgpt_v2_agent",
    "letta_v1_agent",
    "react_agent",
    "workflow_agent",
    "split_thread_agent",
    "sleeptime_agent",
    "voice_convo_agent",
    "voice_sleeptime_agent",
)
DEFAULT_AGENT_TYPE = "letta_v1_agent"  # what Letta creates when agent_type is absent
# legacy keys the upgrade carries or consumes; any other is reported as lost
_CONSUMED = {
    "agent_type",
    "core_memory",
    "created_at",
    "description",
    "embedding_config",
    "llm_config",
    "message_buffer_autoclear",
    "in_context_message_indices",
    "messages",
    "metadata_",
    "metadata",
    "multi_agent_group",
    "name",
    "system",
    "tags",
    "tool_exec_environment_variables",
    "tool_rules",
    "tools",
    "updated_at",
    "version",
}
# legacy tool keys the current Tool takes (letta.md §7); the rest would be rejected
_TOOL_KEYS = (
    "tool_type",
    "description",
    "source_type",
    "name",
    "tags",
    "source_code",
    "json_schema",
    "args_json_schema",
    "return_char_limit",
    "metadata_",
)


def upgrade(bundle: Any, *, exported_at: datetime | None = None) -> Any:
    """A current-shape bundle from a legacy one (a current one is returned as it is), with
    ``result.conversion`` the loss report. ``exported_at`` is the new file's ``created_at``; by
    default the legacy agent's ``updated_at``, so the same input gives the same output."""
    report = ConversionReport(f"letta {bundle.version}", "letta current")
    report.input = sum(bundle.counts().values())
    if bundle.version != LEGACY:
        report.written = report.input
        bundle.conversion = report
        return bundle
    doc = upgrade_document(to_document(bundle), report, exported_at=exported_at)
    result = from_native(doc, local_tz=bundle.meta.local_tz)
    report.written = sum(result.counts().values())
    result.conversion = report
    return result


def upgrade_document(legacy: dict[str, Any], report: ConversionReport, *, exported_at: datetime | None = None) -> dict[str, Any]:
    """The current-shape document for a legacy one; what it cannot carry goes to ``report``."""
    name = legacy.get("name")
    label = name if isinstance(name, str) else "(unnamed agent)"
    for key in legacy:
        if key not in _CONSUMED:
            report.lose("agents", key, label, "a legacy key the current agent file has no place for")
    for key in ("created_at", "updated_at"):
        if key in legacy:
            report.lose("agents", key, label, "the current agent file holds no agent timestamps")
    if legacy.get("multi_agent_group") is not None:
        report.lose("agents", "multi_agent_group", label, "the group's other agents are not in the file")

    agent_id = file_id("agent", 0)
    messages, window = _messages(legacy, agent_id, report, label)
    tools = _tools(legacy.get("tools"), report)
    blocks = _blocks(legacy.get("core_memory"), report)

    agent: dict[str, Any] = {}
    if isinstance(name, str):
        clean = sanitized_name(name)
        if clean != name:
            report.lose("agents", "name", f"{name!r} -> {clean!r}", "renamed: Letta accepts only names matching ^[\\w '\\-]+$")
        agent["name"] = clean
    agent_type = legacy.get("agent_type")
    if agent_type not in AGENT_TYPES:
        report.lose(
            "agents", "agent_type", repr(agent_type), f"not a type Letta 0.16.8 knows: written as {DEFAULT_AGENT_TYPE!r}, its default"
        )
        agent_type = DEFAULT_AGENT_TYPE
    agent |= {
        "memory_blocks": [],
        "tools": [],
        "tool_ids": [t["id"] for t in tools],
        "source_ids": [],
        "folder_ids": None,
        "block_ids": [b["id"] for b in blocks],
        "tool_rules": legacy.get("tool_rules") if isinstance(legacy.get("tool_rules"), list) else [],
        "tags": _tags(legacy.get("tags"), report, label),
        "system": legacy.get("system") if isinstance(legacy.get("system"), str) else None,
        "agent_type": agent_type,
        "initial_message_sequence": None,
        "include_base_tools": False,
        "include_multi_agent_tools": False,
        "include_base_tool_rules": False,
        "include_default_source": False,
        "description": legacy.get("description") if isinstance(legacy.get("description"), str) else None,
        "metadata": _agent_metadata(legacy),
    }
    for key in ("llm_config", "embedding_config"):
        if isinstance(legacy.get(key), dict):
            agent[key] = legacy[key]
        elif key in legacy:
            report.lose("agents", key, label, "not an object: left out (import with Letta's model/embedding options)")
    agent |= {
        "model": None,
        "embedding": None,
        "context_window_limit": None,
        "embedding_chunk_size": None,
        "max_tokens": None,
        "max_reasoning_tokens": None,
        "enable_reasoner": False,
        "from_template": None,
        "template": False,
        "project": None,
        "tool_exec_environment_variables": _environment(legacy.get("tool_exec_environment_variables"), report, label),
        "memory_variables": None,
        "project_id": None,
        "template_id": None,
        "base_template_id": None,
        "identity_ids": None,
    }
    if isinstance(legacy.get("message_buffer_autoclear"), bool):
        agent["message_buffer_autoclear"] = legacy["message_buffer_autoclear"]
    agent |= {
        "enable_sleeptime": False,
        "timezone": "UTC",
        "hidden": None,
        "parallel_tool_calls": None,
        "id": agent_id,
        "in_context_message_ids": window,
        "messages": messages,
        "files_agents": [],
        "group_ids": [],
    }
    metadata = {"revision_id": "unknown"}  # what Letta writes when its database has no revision
    if isinstance(legacy.get("version"), str):
        metadata["legacy_version"] = legacy["version"]  # the Letta version that wrote the legacy file
    return {
        "agents": [agent],
        "groups": [],
        "blocks": sorted(blocks, key=lambda b: b["label"]),
        "files": [],
        "sources": [],
        "tools": sorted(tools, key=lambda t: t["name"]),
        "mcp_servers": [],
        "skills": [],
        "metadata": metadata,
        "created_at": _export_time(legacy, exported_at),
    }


def _export_time(legacy: dict[str, Any], exported_at: datetime | None) -> str | None:
    if exported_at is not None:
        return exported_time(exported_at)
    moment, _ = parse_time(legacy.get("updated_at"))
    return exported_time(moment) if moment is not None else None


def _agent_metadata(legacy: dict[str, Any]) -> Any:
    for key in ("metadata", "metadata_"):
        if isinstance(legacy.get(key), dict):
            return legacy[key]
    return None


def _tags(tags: Any, report: ConversionReport, label: str) -> list[str]:
    """Legacy tags are objects ``{"tag": ...}``; current ones strings."""
    out: list[str] = []
    for tag in tags if isinstance(tags, list) else []:
        value = tag.get("tag") if isinstance(tag, dict) else tag
        if isinstance(value, str):
            out.append(value)
        else:
            report.lose("agents", "tags", label, "a tag that is not text")
    return out


def _environment(variables: Any, report: ConversionReport, label: str) -> dict[str, str]:
    """Legacy environment variables are a list of objects; current ones a name -> value object.
    The values are carried as they are (Letta's own exporter blanks them: validation warns)."""
    out: dict[str, str] = {}
    for variable in variables if isinstance(variables, list) else []:
        if not isinstance(variable, dict) or not isinstance(variable.get("key"), str):
            report.lose("agents", "tool_exec_environment_variables", label, "an entry without a key")
            continue
        value = variable.get("value")
        out[variable["key"]] = value if isinstance(value, str) else ""
        for key in variable:
            if key not in ("key", "value"):
                report.lose(
                    "agents", f"tool_exec_environment_variables.{key}", variable["key"], "the current shape keeps names and values only"
                )
    return out


def _blocks(core_memory: Any, report: ConversionReport) -> list[dict[str, Any]]:
    """Core memory as blocks, numbered in the agent's order (the block_ids order)."""
    blocks: list[dict[str, Any]] = []
    for item in core_memory if isinstance(core_memory, list) else []:
        block = current_block(item, file_id("block", len(blocks)), report)
        if block is not None:
            blocks.append(block)
    return blocks


def current_block(item: Any, block_id: str, report: ConversionReport) -> dict[str, Any] | None:
    """A legacy block in the current shape, with this id; None (reported) when Letta would refuse
    it (no text label and value)."""
    label = item.get("label") if isinstance(item, dict) else None
    value = item.get("value") if isinstance(item, dict) else None
    if not isinstance(label, str) or not isinstance(value, str):
        report.drop("memories", "a legacy block without a text label and value (Letta requires both)", repr(label))
        return None
    limit = item.get("limit")
    metadata = item["metadata_"] if isinstance(item.get("metadata_"), dict) else item.get("metadata")
    for key in item:
        if key in ("created_at", "updated_at"):
            report.lose("memories", key, label, "the current agent file holds no block timestamps")
        elif key not in ("label", "value", "limit", "description", "metadata_", "metadata", "is_template", "template_name"):
            report.lose("memories", key, label, "a legacy block key the current shape has no place for")
    block: dict[str, Any] = {"value": value}
    if isinstance(limit, int) and not isinstance(limit, bool):
        block["limit"] = limit
    block |= {
        "project_id": None,
        "template_name": item.get("template_name") if isinstance(item.get("template_name"), str) else None,
        "is_template": item.get("is_template") if isinstance(item.get("is_template"), bool) else False,
        "template_id": None,
        "base_template_id": None,
        "deployment_id": None,
        "entity_id": None,
        "preserve_on_migration": False,
        "label": label,
        "read_only": False,
        "description": item.get("description") if isinstance(item.get("description"), str) else None,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "hidden": None,
        "id": block_id,
    }
    return block


def _tools(tools: Any, report: ConversionReport) -> list[dict[str, Any]]:
    """Legacy tools with their ids, without the keys the current Tool refuses."""
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            report.lose("tools", "(record)", repr(tool.get("name") if isinstance(tool, dict) else tool), "a legacy tool without a name")
            continue
        for key in tool:
            if key not in _TOOL_KEYS:
                report.lose("tools", key, tool["name"], "Letta rejects tools with keys it does not know")
        current = {"id": file_id("tool", len(out))}
        current |= {key: tool[key] for key in _TOOL_KEYS if key in tool}
        out.append(current)
    return out


def _messages(legacy: dict[str, Any], agent_id: str, report: ConversionReport, label: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The messages with ids, and the context window as their ids."""
    raw = legacy.get("messages")
    raw = raw if isinstance(raw, list) else []
    ids: dict[int, str] = {}
    messages: list[dict[str, Any]] = []
    for position, item in enumerate(raw):
        message = current_message(item, file_id("message", len(messages)), agent_id, report, f"messages[{position}]")
        if message is not None:
            ids[position] = message["id"]
            messages.append(message)
    return messages, _window(legacy, raw, ids, report, label)


def current_message(item: Any, message_id: str, agent_id: str, report: ConversionReport, where: str) -> dict[str, Any] | None:
    """A legacy message in the current shape, with these ids; None (reported as the message at
    ``where``) when Letta would refuse it (no known role and content)."""
    role = item.get("role") if isinstance(item, dict) else None
    content = item.get("content") if isinstance(item, dict) else None
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if role not in ROLES or not isinstance(content, list):
        report.drop("messages", "a legacy message without a known role and content (Letta requires both)", where)
        return None
    for key in item:
        if key == "updated_at":
            report.lose("messages", key, message_id, "the current agent file holds no message update times")
        elif key not in (
            "created_at",
            "group_id",
            "model",
            "name",
            "role",
            "content",
            "tool_call_id",
            "tool_calls",
            "tool_returns",
            "in_context",
        ):
            report.lose("messages", key, message_id, "a legacy message key the current shape has no place for")
    created, _ = parse_time(item.get("created_at"))
    if created is None:
        report.lose("messages", "created_at", message_id, "missing or unreadable: Letta will use the import time")
    if item.get("group_id") is not None:
        report.lose("messages", "group_id", message_id, "the group is not in the file")
    return {
        "type": "message",
        "role": role,
        "content": content,
        "name": item.get("name") if isinstance(item.get("name"), str) else None,
        "otid": None,
        "sender_id": None,
        "batch_item_id": None,
        "group_id": None,
        "id": message_id,
        "model": item.get("model") if isinstance(item.get("model"), str) else None,
        "agent_id": agent_id,
        "tool_calls": item.get("tool_calls") if isinstance(item.get("tool_calls"), list) and item["tool_calls"] else None,
        "tool_call_id": item.get("tool_call_id") if isinstance(item.get("tool_call_id"), str) else None,
        "tool_returns": item.get("tool_returns") if isinstance(item.get("tool_returns"), list) else None,
        **({"created_at": exported_time(created)} if created is not None else {}),
        "approve": None,
        "approval_request_id": None,
        "denial_reason": None,
        "approvals": None,
    }


def _window(legacy: dict[str, Any], raw: list[Any], ids: dict[int, str], report: ConversionReport, label: str) -> list[str]:
    """The context window in the legacy order: the indices (0.6.47+), else the messages' flags
    (0.6.43), else every message (reported: the file does not say)."""
    indices = legacy.get("in_context_message_indices")
    if isinstance(indices, list):
        order = indices
    elif in_context_positions(legacy) is not None:
        order = sorted(in_context_positions(legacy) or ())
    else:
        order = list(range(len(raw)))
        if raw:
            report.lose(
                "agents", "in_context_message_indices", label, "the legacy file does not say which messages were in context: all are"
            )
    window: list[str] = []
    for index in order:
        message_id = ids.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
        if message_id is None or message_id in window:
            report.lose(
                "agents", "in_context_message_indices", f"{label}: {index!r}", "names no message the upgrade kept, or one already listed"
            )
            continue
        window.append(message_id)
    return window


__all__ = ["CURRENT", "LEGACY", "current_block", "current_message", "sanitized_name", "upgrade", "upgrade_document"]
