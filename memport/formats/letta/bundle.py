"""A Letta agent file in memory: the canonical bundle plus views of what is not memory.

Blocks, messages and files are canonical records (``bundle.memories``, ``bundle.messages``,
``bundle.documents``); agents, tools, groups, sources, MCP servers and skills stay native data in
the bundle's header, and are shown here as DataFrames for a person auditing the file. A block's
owners (every agent whose ``block_ids`` lists it; a shared block is one memory with several) are a
column of ``bundle.memories``; a file's source name one of ``bundle.documents``.

Secrets stay out of the views: environment variables and secrets show their names only, MCP
server URLs without their query and user info (whether they carried credentials is a column).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ...bundle import Bundle
from ...frames import python_strings

if TYPE_CHECKING:
    import pandas as pd

# agent types that run as helpers of another agent (letta.md §19: not user-facing agents)
HELPER_TYPES = ("sleeptime_agent", "voice_sleeptime_agent")


class LettaBundle(Bundle):
    """A bundle of format ``letta`` (version ``current`` or ``legacy``); ``notes`` says what an
    export from the store changed to make it a file Letta imports (see build.py)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    # native data ---------------------------------------------------------------------------

    def native_agents(self) -> list[dict[str, Any]]:
        """The agents as native objects (without their messages, which are records); a legacy
        file is one agent."""
        header = self.meta.header or {}
        if self.version == "legacy":
            return [header]
        agents = header.get("agents")
        return [a for a in agents if isinstance(a, dict)] if isinstance(agents, list) else []

    def native(self, section: str) -> list[Any]:
        """A top-level array kept as native data (``tools``, ``groups``, ``sources``,
        ``mcp_servers``, ``skills``), as read."""
        header = self.meta.header or {}
        value = header.get(section)
        return value if isinstance(value, list) else []

    def owners(self) -> dict[str, list[str]]:
        """Block id -> the names (else ids) of the agents listing it, in the agents' order."""
        found: dict[str, list[str]] = {}
        for agent in self.native_agents():
            block_ids = agent.get("block_ids")
            for block_id in block_ids if isinstance(block_ids, list) else []:
                if isinstance(block_id, str):
                    found.setdefault(block_id, []).append(_agent_label(agent))
        return found

    # views ---------------------------------------------------------------------------------

    def frame(self, kind: str, *, reveal: bool = False) -> pd.DataFrame:
        frame = super().frame(kind, reveal=reveal)
        if kind == "memories":
            if self.version == "legacy":
                name = _agent_label(self.meta.header or {})
                owners = [[name] for _ in self.records.memories]
            else:
                by_id = self.owners()
                owners = [list(by_id.get(m.id, [])) if isinstance(m.id, str) else [] for m in self.records.memories]
            frame.insert(min(3, len(frame.columns)), "owners", _objects(owners))
        elif kind == "documents":
            names = {s.get("id"): s.get("name") for s in self.native("sources") if isinstance(s, dict)}
            frame.insert(min(1, len(frame.columns)), "source", [names.get(d.extra.get("source_id")) for d in self.records.documents])
            frame["source"] = frame["source"].astype("string")
        return frame

    @property
    @python_strings
    def agents(self) -> pd.DataFrame:
        """One row per agent: identity, models, how much memory and conversation it holds."""
        import pandas as pd

        counts: dict[Any, list[int]] = {}
        for m in self.records.messages:
            tally = counts.setdefault(m.agent_id if self.version != "legacy" else None, [0, 0])
            tally[0] += 1
            tally[1] += bool(m.in_context)
        rows = []
        for agent in self.native_agents():
            legacy = self.version == "legacy"
            llm, embedding = agent.get("llm_config"), agent.get("embedding_config")
            tally = counts.get(None if legacy else agent.get("id"), [0, 0])
            rows.append(
                {
                    "id": agent.get("id"),
                    "name": agent.get("name"),
                    "agent_type": agent.get("agent_type"),
                    "helper": agent.get("agent_type") in HELPER_TYPES,
                    "description": agent.get("description"),
                    "model": (llm.get("handle") or llm.get("model")) if isinstance(llm, dict) else None,
                    "embedding_model": embedding.get("embedding_model") if isinstance(embedding, dict) else None,
                    "blocks": len(self.records.memories) if legacy else _length(agent.get("block_ids")),
                    "tools": _length(agent.get("tools" if legacy else "tool_ids")),
                    "sources": _length(agent.get("source_ids")),
                    "messages": tally[0],
                    "in_context": tally[1],
                    "tags": agent.get("tags"),
                    "secret_names": secret_names(agent),
                }
            )
        frame = pd.DataFrame(rows, columns=_AGENT_COLUMNS)
        for column in ("id", "name", "description", "model", "embedding_model"):
            frame[column] = frame[column].astype("string")
        frame["agent_type"] = frame["agent_type"].astype("category")
        frame["helper"] = frame["helper"].astype("boolean")
        for column in ("blocks", "tools", "sources", "messages", "in_context"):
            frame[column] = frame[column].astype("Int64")
        return frame

    @property
    def tools(self) -> pd.DataFrame:
        """One row per tool: what it is and where its code comes from."""
        tools = self.native("tools")
        if self.version == "legacy":
            tools = (self.meta.header or {}).get("tools") or []
        rows = [
            {
                "id": t.get("id"),
                "name": t.get("name"),
                "tool_type": t.get("tool_type"),
                "source_type": t.get("source_type"),
                "description": t.get("description"),
                "tags": t.get("tags"),
                "has_source_code": isinstance(t.get("source_code"), str) and bool(t.get("source_code")),
            }
            for t in tools
            if isinstance(t, dict)
        ]
        return _frame(rows, ["id", "name", "tool_type", "source_type", "description", "tags", "has_source_code"])

    @property
    def groups(self) -> pd.DataFrame:
        """One row per multi-agent group (for example an agent and its sleeptime helper)."""
        rows = []
        for g in self.native("groups"):
            if not isinstance(g, dict):
                continue
            config = g.get("manager_config") if isinstance(g.get("manager_config"), dict) else {}
            rows.append(
                {
                    "id": g.get("id"),
                    "manager_type": config.get("manager_type"),
                    "manager_agent_id": config.get("manager_agent_id"),
                    "agent_ids": g.get("agent_ids"),
                    "shared_block_ids": g.get("shared_block_ids"),
                    "description": g.get("description"),
                }
            )
        return _frame(rows, ["id", "manager_type", "manager_agent_id", "agent_ids", "shared_block_ids", "description"])

    @property
    def sources(self) -> pd.DataFrame:
        """One row per source (folder of files)."""
        files: dict[Any, int] = {}
        for d in self.records.documents:
            files[d.extra.get("source_id")] = files.get(d.extra.get("source_id"), 0) + 1
        rows = [
            {"id": s.get("id"), "name": s.get("name"), "description": s.get("description"), "files": files.get(s.get("id"), 0)}
            for s in self.native("sources")
            if isinstance(s, dict)
        ]
        return _frame(rows, ["id", "name", "description", "files"])

    @property
    def mcp_servers(self) -> pd.DataFrame:
        """One row per MCP server; URLs without query and user info (``url_credentials`` says
        whether they had any: Letta's exporter keeps credentials embedded in a URL)."""
        rows = []
        for s in self.native("mcp_servers"):
            if not isinstance(s, dict):
                continue
            url = s.get("server_url")
            rows.append(
                {
                    "id": s.get("id"),
                    "server_name": s.get("server_name"),
                    "server_type": s.get("server_type"),
                    "server_url": bare_url(url) if isinstance(url, str) else None,
                    "url_credentials": isinstance(url, str) and url_has_credentials(url),
                }
            )
        return _frame(rows, ["id", "server_name", "server_type", "server_url", "url_credentials"])

    @property
    def skills(self) -> pd.DataFrame:
        """One row per skill (validated by Letta, never imported)."""
        rows = [
            {
                "name": s.get("name"),
                "source_url": s.get("source_url"),
                "files": sorted(s["files"]) if isinstance(s.get("files"), dict) else None,
            }
            for s in self.native("skills")
            if isinstance(s, dict)
        ]
        return _frame(rows, ["name", "source_url", "files"])

    def _repr_html_(self) -> str:
        agents = ", ".join(html.escape(_agent_label(a)) for a in self.native_agents())
        return f"<p>agents: {agents or '(none)'}</p>" + super()._repr_html_()


_AGENT_COLUMNS = [
    "id",
    "name",
    "agent_type",
    "helper",
    "description",
    "model",
    "embedding_model",
    "blocks",
    "tools",
    "sources",
    "messages",
    "in_context",
    "tags",
    "secret_names",
]


def secret_names(agent: dict[str, Any]) -> list[str]:
    """The names of an agent's environment variables and secrets (never their values): an object
    in the current shape, a list of ``{key, value}`` in the legacy one."""
    names: set[str] = set()
    for key in ("tool_exec_environment_variables", "secrets"):
        value = agent.get(key)
        if isinstance(value, dict):
            names.update(str(name) for name in value)
        elif isinstance(value, list):
            names.update(str(v["key"]) for v in value if isinstance(v, dict) and "key" in v)
    return sorted(names)


def _agent_label(agent: dict[str, Any]) -> str:
    name = agent.get("name")
    if isinstance(name, str):
        return name
    ident = agent.get("id")
    return ident if isinstance(ident, str) else "(unnamed agent)"


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, list) else None


def _objects(values: list[Any]) -> Any:
    import pandas as pd

    return pd.Series(values, dtype=object)


@python_strings
def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if all(v is None or isinstance(v, str) for v in frame[column]):
            frame[column] = frame[column].astype("string")
    return frame


_CREDENTIAL_WORDS = ("token", "key", "secret", "auth", "password", "passwd", "signature", "sig", "credential", "session")
# a path segment that reads like a key rather than a name: long, letters and digits mixed (hosted
# MCP endpoints put the account token in the path, for example .../api/mcp/s/<token>/mcp)
_SECRETISH = re.compile(r"^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_\-=+.~]{20,}$")


def url_has_credentials(url: str) -> bool:
    """Whether a URL carries user info, a query parameter named like a credential, or a path
    segment that looks like a key."""
    try:
        parts = urlsplit(url)
        if parts.username or parts.password:
            return True
    except ValueError:
        return False
    names = [pair.split("=", 1)[0].lower() for pair in parts.query.split("&") if pair]
    if any(word in name for name in names for word in _CREDENTIAL_WORDS):
        return True
    return any(_SECRETISH.match(segment) for segment in parts.path.split("/"))


def bare_url(url: str) -> str:
    """A URL without user info, query and fragment, key-like path segments replaced by ``***``
    (what can be shown)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
    except ValueError:
        return ""
    path = "/".join("***" if _SECRETISH.match(segment) else segment for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "", ""))
