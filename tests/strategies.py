"""Hypothesis strategies for native records of each format, as their exporters write them
(shared by the property tests: round trips and conversions)."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime

from hypothesis import strategies as st

# text as the exporters see it: astral characters, NUL, CRLF, line separators, lone surrogates
tricky_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\U0001f44b", "\ud83d", "a\u0000b", "x\r\ny", "\u2028\u2029", "caf\u00e9", "e\u0301"]
)

floats = st.floats() | st.sampled_from([-0.0, 1.0, 1e-300, 6.02214076e23])

ints = st.integers() | st.sampled_from([2**53 + 1, 2**64, -(2**70)])

json_any = st.recursive(
    st.none() | st.booleans() | ints | floats | tricky_text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(tricky_text, c, max_size=3),
    max_leaves=10,
)

iso = st.datetimes().map(lambda d: d.isoformat())

key_text = st.text(string.ascii_letters + string.digits + "_-:", min_size=1, max_size=12)

kagura_memory = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("memory"),
            "scope": st.just("working"),
            "key": key_text | st.integers(),
            "value": json_any,
            "user_id": key_text,
            "agent_name": key_text | st.none(),
            "exported_at": iso,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("memory"),
            "scope": st.just("persistent"),
            "key": key_text,
            "value": json_any,
            "user_id": key_text,
            "agent_name": key_text | st.none(),
            "created_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
            "updated_at": st.datetimes().map(lambda d: str(d.replace(tzinfo=None))),
            "metadata": json_any,
            "exported_at": iso,
        },
        optional={"tags": json_any},
    ),
)

node_ids = key_text | st.integers(-5, 5)

kagura_node = st.fixed_dictionaries(
    {
        "type": st.just("node"),
        "id": node_ids,
        "node_type": st.sampled_from(["user", "topic", "person"]),
        "data": st.dictionaries(key_text, json_any, max_size=3),
        "exported_at": iso,
    }
)

kagura_edge = st.fixed_dictionaries(
    {
        "type": st.just("edge"),
        "src": node_ids,
        "dst": node_ids,
        "rel_type": st.sampled_from(["related_to", "works_at"]),
        "weight": floats | st.integers(),
        "data": st.dictionaries(key_text, json_any, max_size=3),
        "exported_at": iso,
    }
)

tribal_entry = st.fixed_dictionaries(
    {
        "id": key_text,
        "content": tricky_text,
        "embedding": st.none() | st.lists(floats, max_size=4),
        "source_instance": key_text | st.none(),
        "source_type": st.sampled_from(["user_explicit", "unknown", "BOGUS"]),
        "created_at": iso,
        "updated_at": iso | st.sampled_from(["2026-01", "2025-01-01T00:00:00Z"]),
        "tags": st.lists(tricky_text, max_size=3) | tricky_text | st.none(),
        "context": tricky_text | st.none(),
        "confidence": floats | st.integers() | st.text(max_size=3),
        "supersedes": key_text | st.none(),
        "related_to": st.lists(key_text, max_size=2),
    },
    optional={"extra_key": json_any},
)

# Doclea: values as JSON.parse gives them; integral numbers are ints, as JavaScript writes them
# Python and JavaScript print floats alike between 1e-4 and 1e16 (outside it they differ in
# exponent notation, which test_doclea.py::test_js_number_formatting covers with known JS output)
js_number = st.integers(-(2**53), 2**53) | st.builds(
    lambda f, negative: -f if negative else f,
    st.floats(min_value=1e-4, max_value=1e15).map(lambda f: f + 0.5 if f.is_integer() else f),
    st.booleans(),
)

doclea_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)

doclea_memory = st.fixed_dictionaries(
    {
        "id": key_text,
        "type": st.sampled_from(["decision", "note", "knowledge"]),
        "title": doclea_text,
        "content": doclea_text,
        "importance": js_number | doclea_text,
        "tags": st.lists(doclea_text, max_size=3),
        "relatedFiles": st.lists(doclea_text, max_size=2),
        "experts": st.lists(doclea_text, max_size=2),
        "createdAt": st.integers(0, 2**33),
        "accessedAt": st.integers(0, 2**33),
        "accessCount": st.integers(0, 9),
        "needsReview": st.booleans(),
    },
    optional={"summary": doclea_text, "qdrantId": key_text, "decayRate": js_number, "decayFunction": st.sampled_from(["linear", "none"])},
)

metadata_object = st.dictionaries(key_text, st.integers() | doclea_text | st.booleans(), max_size=3)

doclea_relation = st.fixed_dictionaries(
    {
        "id": key_text,
        "source_id": key_text,
        "target_id": key_text,
        "type": st.sampled_from(["references", "extends"]),
        "weight": js_number,
        "metadata": st.none() | metadata_object.map(lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":"))) | doclea_text,
        "created_at": st.integers(0, 2**45),
    }
)


# Letta: the agent file as its exporter writes it (orjson refuses lone surrogates)
letta_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=10) | st.sampled_from(
    ["", "\U0001f44b", "a\x00b", "x\r\ny", "\u2028\u2029", "café", 'say "hi"', "back\\slash", "e\u0301"]
)
agent_names = st.from_regex(r"[\w '\-]{1,12}", fullmatch=True)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)).map(lambda d: d.isoformat())
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def letta_file(draw):
    """An agent file as Letta's exporter writes one (shared/formats/letta.md §2-§8): 1-3 agents
    (some sleeptime helpers) sharing blocks by listing them, messages numbered across agents, a
    context window per agent, ids numbered out of array order."""
    labels = draw(st.lists(letta_text, max_size=4))
    numbers = draw(st.permutations(range(len(labels))))  # ids are numbered by first reference, not array order
    blocks = sorted(
        (
            {
                "value": draw(letta_text),
                "limit": draw(st.integers(1, 10**6)),
                "label": label,
                "read_only": False,
                "description": None,
                "metadata": {},
                "id": f"block-{n}",
            }
            for label, n in zip(labels, numbers)
        ),
        key=lambda b: b["label"],
    )
    sources = [{"name": draw(letta_text), "description": None, "id": "source-0"}] if draw(st.booleans()) else []
    files = [
        {
            "source_id": "source-0",
            "file_name": draw(letta_text),
            "content": draw(letta_text),
            "file_creation_date": draw(times),
            "id": f"file-{i}",
        }
        for i in range(draw(st.integers(0, 2)) if sources else 0)
    ]
    names = draw(st.lists(st.sampled_from(["send_message", "conversation_search", "memory_replace", "web_search"]), unique=True))
    tools = sorted(
        ({"id": f"tool-{i}", "tool_type": "custom", "name": name, "source_code": draw(letta_text)} for i, name in enumerate(names)),
        key=lambda t: t["name"],
    )
    agents, counter = [], 0
    for index in range(draw(st.integers(1, 3))):
        agent_id = f"agent-{index}"
        messages = []
        for _ in range(draw(st.integers(0, 3))):
            content = draw(
                st.lists(st.builds(lambda t: {"type": "text", "text": t, "signature": None}, letta_text), max_size=2) | letta_text
            )
            messages.append(
                {
                    "type": "message",
                    "role": draw(st.sampled_from(["system", "user", "assistant", "tool"])),
                    "content": content,
                    "id": f"message-{counter}",
                    "agent_id": agent_id,
                    "created_at": draw(times),
                }
            )
            counter += 1
        ids = [m["id"] for m in messages]
        agents.append(
            {
                "name": draw(agent_names),
                "memory_blocks": [],
                "tools": [],
                "tool_ids": draw(st.lists(st.sampled_from([t["id"] for t in tools]), unique=True)) if tools else [],
                "source_ids": [s["id"] for s in sources],
                "block_ids": draw(st.lists(st.sampled_from([b["id"] for b in blocks]), unique=True)) if blocks else [],
                "system": draw(letta_text),
                "agent_type": draw(st.sampled_from(["letta_v1_agent", "memgpt_v2_agent", "sleeptime_agent"])),
                "llm_config": {"model": draw(letta_text), "temperature": draw(finite), "context_window": draw(st.integers(0, 2**40))},
                "embedding_config": {
                    "embedding_endpoint_type": "openai",
                    "embedding_model": "text-embedding-3-small",
                    "embedding_dim": 1536,
                },
                "id": agent_id,
                "in_context_message_ids": draw(st.lists(st.sampled_from(ids), unique=True)) if ids else [],
                "messages": messages,
                "files_agents": [
                    {
                        "agent_id": agent_id,
                        "file_id": f["id"],
                        "source_id": f["source_id"],
                        "file_name": f["file_name"],
                        "is_open": draw(st.booleans()),
                    }
                    for f in files
                    if draw(st.booleans())
                ],
                "group_ids": [],
            }
        )
    return {
        "agents": agents,
        "groups": [],
        "blocks": blocks,
        "files": files,
        "sources": sources,
        "tools": tools,
        "mcp_servers": [],
        "skills": [],
        "metadata": {"revision_id": draw(st.text("0123456789abcdef", min_size=12, max_size=12))},
        "created_at": draw(times),
    }
