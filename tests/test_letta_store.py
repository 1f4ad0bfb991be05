"""Letta's agent files in the store (shared/formats/letta.md §19-§21): identity across exports,
imports, plans, strategies and decisions, exports that give a file back byte for byte or build one
Letta imports, re-embedding of blocks and messages, audits, and bad input."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import orjson
import pytest
import sqlite_utils
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from strategies import letta_file

import memport
from memport.cli import cli
from memport.exporter import export
from memport.planning.plans import compare
from memport.store import schema as store_schema

FIXTURES = Path(__file__).parent / "fixtures" / "letta"
COMPANION = FIXTURES / "companion.af"  # an agent and its sleeptime helper sharing blocks, as the exporter writes it
AGAIN = FIXTURES / "companion-again.af"  # the same, exported again after a round trip through Letta and two more turns
DOUBLE = FIXTURES / "companion-double.af"  # json.dump(<the SDK's export string>, f, indent=2)
LEGACY = FIXTURES / "legacy-0.6.47.af"
LEGACY_FLAGS = FIXTURES / "legacy-0.6.43.af"
ACCOUNT = ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid")
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def store(tmp_path):
    with memport.Store(tmp_path / "memport.db") as s:
        yield s


def exported(doc) -> bytes:
    """What Letta's exporter writes (letta.md §1.1)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def write_af(path: Path, doc) -> Path:
    path.write_bytes(exported(doc))
    return path


def companion() -> dict:
    return json.loads(COMPANION.read_bytes())


def counts(result: dict) -> dict:
    return {key: result[key] for key in ACCOUNT}


def through(store, out: Path, **options) -> dict:
    return export(store, "letta", out, exported_at="keep", **options)


def resolvable(doc: dict) -> None:
    """§20 to the letter: the seven arrays, ids unique and numbered as the exporter numbers them,
    every reference resolvable, no shared_block_ids, agent names Letta takes."""
    assert list(doc)[:7] == ["agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers"]
    messages = [m["id"] for a in doc["agents"] for m in a["messages"]]
    ids = [x["id"] for key in ("agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers") for x in doc[key]] + messages
    assert len(ids) == len(set(ids))
    # one counter per prefix: agents in order, messages across agents in their agents' order
    assert [a["id"] for a in doc["agents"]] == [f"agent-{n}" for n in range(len(doc["agents"]))]
    assert messages == [f"message-{n}" for n in range(len(messages))]
    blocks, tools = {b["id"] for b in doc["blocks"]}, {t["id"] for t in doc["tools"]}
    sources, files = {s["id"] for s in doc["sources"]}, {f["id"] for f in doc["files"]}
    agents = {a["id"] for a in doc["agents"]}
    for agent in doc["agents"]:
        assert re.fullmatch(r"[\w '\-]+", agent["name"])
        own = [m["id"] for m in agent["messages"]]
        assert set(agent["block_ids"]) <= blocks and set(agent["tool_ids"]) <= tools and set(agent["source_ids"]) <= sources
        assert set(agent["in_context_message_ids"]) <= set(own)
        assert all(m["agent_id"] == agent["id"] for m in agent["messages"])
        for view in agent["files_agents"]:
            assert view["agent_id"] == agent["id"] and view["file_id"] in files and view["source_id"] in sources
    assert all(f["source_id"] in sources for f in doc["files"])
    for group in doc["groups"]:
        assert set(group["agent_ids"]) <= agents and group.get("shared_block_ids") in ([], None)
        manager = group.get("manager_config", {}).get("manager_agent_id")
        assert manager is None or manager in agents
    assert [b["label"] for b in doc["blocks"]] == sorted(b["label"] for b in doc["blocks"])
    assert [t["name"] for t in doc["tools"]] == sorted(t["name"] for t in doc["tools"])


# ---------------------------------------------------------------------------------------------
# Import, then export: the file again


@pytest.mark.parametrize("src", [COMPANION, AGAIN, DOUBLE], ids=lambda p: p.name)
def test_an_imported_file_comes_back_byte_for_byte(store, tmp_path, src):
    result = memport.import_bundle(src, store)
    assert result["inserted"] == sum(memport.read(src).counts().values()) and result["problems"] == 0
    through(store, tmp_path / "back.af")
    assert (tmp_path / "back.af").read_bytes() == src.read_bytes()
    assert memport.plan(src, store).summary()["unchanged"] == result["inserted"]


CLIENT_LAYOUTS = {
    "python-indent-and-newline": lambda doc: json.dumps(doc, indent=2).encode() + b"\n",
    "one-line-ascii": lambda doc: json.dumps(doc).encode(),
    "bom": lambda doc: codecs.BOM_UTF8 + exported(doc),
    "utf-16": lambda doc: codecs.BOM_UTF16_LE + exported(doc).decode().encode("utf-16-le"),
}


@pytest.mark.parametrize("layout", CLIENT_LAYOUTS)
def test_a_client_layout_comes_back_byte_for_byte(store, tmp_path, layout):
    src = tmp_path / "client.af"
    src.write_bytes(CLIENT_LAYOUTS[layout](companion()))
    memport.import_bundle(src, store)
    through(store, tmp_path / "back.af")
    assert (tmp_path / "back.af").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("src", [LEGACY, LEGACY_FLAGS], ids=lambda p: p.name)
def test_a_legacy_file_comes_back_as_its_upgrade(store, tmp_path, src):
    """Letta 0.16 opens no legacy file: an export is what ``convert --to letta`` writes."""
    memport.import_bundle(src, store)
    assert memport.plan(src, store).summary()["unchanged"] == 6
    through(store, tmp_path / "back.af")
    memport.write(memport.convert(memport.read(src), "letta"), tmp_path / "upgraded.af")
    assert (tmp_path / "back.af").read_bytes() == (tmp_path / "upgraded.af").read_bytes()
    assert memport.validate(tmp_path / "back.af").problems == []


def test_the_store_holds_the_conversation_and_whose_memory_a_block_is(store):
    memport.import_bundle(COMPANION, store)
    assert store.counts() == {"memories": 3, "relations": 0, "nodes": 0, "documents": 1, "chunks": 0, "pending": 0, "messages": 6}
    blocks = store.conn.execute("SELECT uid, source_id, agent_name, title, content FROM memories ORDER BY title").fetchall()
    assert [(uid, source_id, agent, title) for uid, source_id, agent, title, _ in blocks] == [
        ('letta:memories:[["companion","companion-sleeptime"],"human"]', "block-1", "companion", "human"),
        ('letta:memories:[["companion"],"notes"]', "block-2", "companion", "notes"),
        ('letta:memories:[["companion","companion-sleeptime"],"persona"]', "block-0", "companion", "persona"),
    ]
    messages = store.conn.execute("SELECT source_id, agent_name, type, content, created_at FROM messages ORDER BY rowid").fetchall()
    assert [row[:3] for row in messages] == [
        ("message-0", "companion", "system"),
        ("message-1", "companion", "user"),
        ("message-2", "companion", "assistant"),
        ("message-3", "companion", "tool"),
        ("message-4", "companion", "assistant"),
        ("message-5", "companion-sleeptime", "system"),
    ]
    assert messages[2][3:] == ("Congratulations, Chad! That's wonderful news.", "2026-01-22T02:07:12.318700Z")  # no reasoning
    assert store.conn.execute("SELECT uid, source_id FROM documents").fetchall() == [
        ('letta:documents:["race-notes","race-notes/results.md"]', "file-0")
    ]
    # a stored record is its native object and the context its file gave it
    stored = store.native("memories", 'letta:memories:[["companion"],"notes"]')
    assert stored["$memport"] == {"owners": ["companion"], "agent": "companion"} and stored["id"] == "block-2"


# ---------------------------------------------------------------------------------------------
# The same records in another export: file ids and Letta's renaming make no difference


def test_a_file_exported_again_after_a_round_trip_through_letta_meets_its_records(store, tmp_path):
    """companion-again.af: Letta named the agents *_copy and the source race-notes_3fa85f64 on
    import, renumbered every id on export, rendered the system message again after the notes
    block changed, and its window moved on by two turns (the first user message aged out)."""
    memport.import_bundle(COMPANION, store)
    plan = memport.plan(AGAIN, store)
    assert counts(plan.summary()) == {"inserted": 2, "updated": 0, "unchanged": 7, "skipped": 2, "conflicts": 0, "invalid": 0}
    assert sorted((row.uid, row.fields) for row in plan.notable if row.action == "skip") == [
        ('letta:memories:[["companion"],"notes"]', ["value"]),
        ('letta:messages:["companion","2026-01-22T02:06:35.101954Z","system",null]', ["content"]),
    ]
    assert counts(memport.import_bundle(AGAIN, store, strategy="overwrite")) == {
        "inserted": 2,
        "updated": 2,
        "unchanged": 7,
        "skipped": 0,
        "conflicts": 0,
        "invalid": 0,
    }
    result = through(store, tmp_path / "merged.af")
    assert result["counts"]["messages"] == 8 and result["notes"] == []
    doc = json.loads((tmp_path / "merged.af").read_bytes())
    resolvable(doc)
    agent = doc["agents"][0]
    # the latest file's agents and source, the conversations of both exports as one, by time; the
    # latest window (the first user message is history now)
    assert [a["name"] for a in doc["agents"]] == ["companion_copy", "companion-sleeptime_copy"]
    assert doc["sources"][0]["name"] == "race-notes_3fa85f64"
    assert [m["role"] for m in agent["messages"]] == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    assert agent["messages"][1]["content"][0]["text"].startswith("Hey Sam!")
    assert agent["in_context_message_ids"] == ["message-0", "message-2", "message-3", "message-4", "message-5", "message-6"]
    assert "the last leg felt great" in next(b["value"] for b in doc["blocks"] if b["label"] == "notes")
    assert doc["agents"][1]["messages"][0]["id"] == "message-7"  # numbered across agents
    assert memport.validate(tmp_path / "merged.af").problems == []


def test_a_bundle_in_memory_imports_as_its_file_does(store, tmp_path):
    memport.import_bundle(COMPANION, store)
    bundle = memport.read(AGAIN)
    assert memport.plan(bundle, store).summary() == memport.plan(AGAIN, store).summary()
    memport.import_bundle(bundle, store, strategy="overwrite")
    through(store, tmp_path / "out.af")
    resolvable(json.loads((tmp_path / "out.af").read_bytes()))
    assert memport.validate(tmp_path / "out.af").problems == []


def test_renumbered_file_ids_alone_make_no_difference(store, tmp_path):
    """§3: every export numbers ids anew; the same records are unchanged, and an export of what
    the later file brought is that file."""
    memport.import_bundle(COMPANION, store)
    doc = companion()
    swap = {"block-0": "block-2", "block-2": "block-0"}
    for block in doc["blocks"]:
        block["id"] = swap.get(block["id"], block["id"])
    for agent in doc["agents"]:
        agent["block_ids"] = [swap.get(b, b) for b in agent["block_ids"]]
    doc["agents"].reverse()  # the helper exported first: its system message is message-0 now
    counter = 0
    for agent in doc["agents"]:
        agent["id"] = "agent-1" if agent["name"] == "companion" else "agent-0"
        old = {}
        for message in agent["messages"]:
            old[message["id"]] = message["id"] = f"message-{counter}"
            message["agent_id"] = agent["id"]
            counter += 1
        agent["in_context_message_ids"] = [m["id"] for m in agent["messages"]]
        for view in agent["files_agents"]:
            view["agent_id"] = agent["id"]
    doc["groups"][0]["agent_ids"] = ["agent-0"]
    doc["groups"][0]["manager_config"]["manager_agent_id"] = "agent-1"
    src = write_af(tmp_path / "renumbered.af", doc)
    assert memport.validate(src).problems == []
    assert memport.plan(src, store).summary()["unchanged"] == 10
    assert counts(memport.import_bundle(src, store))["unchanged"] == 10
    through(store, tmp_path / "back.af")
    assert (tmp_path / "back.af").read_bytes() == src.read_bytes()


def test_decisions_and_strategies_on_agent_files(store, tmp_path):
    memport.import_bundle(COMPANION, store)
    plan = memport.plan(AGAIN, store, strategy="manual")
    notes = 'letta:memories:[["companion"],"notes"]'
    system = 'letta:messages:["companion","2026-01-22T02:06:35.101954Z","system",null]'
    assert sorted(row.uid for row in plan.conflicts()) == [notes, system]
    details = {d["uid"]: d for d in plan.details()}
    assert list(details[notes]["diff"]) == ["value"]  # the context ($memport) is the same
    decided = plan.replan({notes: plan.decide(notes, "take"), system: plan.decide(system, "keep")})
    assert counts(decided.summary()) == {"inserted": 2, "updated": 1, "unchanged": 7, "skipped": 1, "conflicts": 0, "invalid": 0}
    decided.apply()
    assert store.native("memories", notes)["value"].endswith("the last leg felt great.")
    assert "ask how it went.\n</value>\n</notes>" in store.native("messages", system)["content"][0]["text"]  # kept as rendered before
    # blocks carry no times: "newer" cannot say which is newer
    again = memport.plan(write_af(tmp_path / "edited.af", _edited_notes("newer text")), store, strategy="newer")
    assert [(row.uid, row.action, row.reason) for row in again.notable if row.kind == "memories"] == [
        (notes, "conflict", "missing-updated_at")
    ]
    with pytest.raises(memport.ConflictError):
        memport.import_bundle(tmp_path / "edited.af", store, strategy="error")


def _edited_notes(value: str) -> dict:
    doc = json.loads(AGAIN.read_bytes())
    next(b for b in doc["blocks"] if b["label"] == "notes")["value"] = value
    return doc


def test_compare_says_what_differs_between_two_agent_files():
    diff = compare(AGAIN, COMPANION)
    assert counts(diff.summary()) == {"inserted": 2, "updated": 0, "unchanged": 7, "skipped": 0, "conflicts": 2, "invalid": 0}
    assert sorted(str(row.fields) for row in diff.conflicts()) == ["['content']", "['value']"]


# ---------------------------------------------------------------------------------------------
# Exports that are no file read: built to §20


def test_several_files_export_as_one_file_letta_imports(store, tmp_path):
    memport.import_bundle(LEGACY, store)
    memport.import_bundle(COMPANION, store)
    result = through(store, tmp_path / "both.af")
    assert result["counts"] == {"memories": 5, "relations": 0, "nodes": 0, "documents": 1, "chunks": 0, "pending": 0, "messages": 10}
    assert result["notes"] == [
        "legacy memories created_at (2): the current agent file holds no block timestamps",
        "legacy memories updated_at (2): the current agent file holds no block timestamps",
        "legacy messages updated_at (4): the current agent file holds no message update times",
        "agent 'memgpt_agent_v1' is not in the latest import's file: written without a model "
        "(Letta's import gives it one with its model and embedding options)",
    ]
    doc = json.loads((tmp_path / "both.af").read_bytes())
    resolvable(doc)
    legacy = doc["agents"][2]
    assert legacy["name"] == "memgpt_agent_v1" and "llm_config" not in legacy
    assert [b["label"] for b in doc["blocks"] if b["id"] in legacy["block_ids"]] == ["human", "persona"]
    assert [m["id"] for m in legacy["messages"]] == ["message-6", "message-7", "message-8", "message-9"]
    report = memport.validate(tmp_path / "both.af")
    assert [(p.code, p.path) for p in report.problems] == [("letta.agent.model-config", "$.agents[2]")]


def test_a_store_of_several_formats_exports_to_letta_and_from_it(store, tmp_path, src):
    memport.import_bundle(COMPANION, store)
    memport.import_bundle(src["kagura"], store)
    memport.import_bundle(src["doclea"], store)
    result = through(store, tmp_path / "all.af")
    assert [(c["from"], c["to"]) for c in result["conversions"]] == [("doclea", "letta"), ("kagura", "letta")]
    assert result["counts"]["memories"] == 3 + 2 + 4 and result["counts"]["documents"] == 1 + 1
    doc = json.loads((tmp_path / "all.af").read_bytes())
    resolvable(doc)
    assert [a["name"] for a in doc["agents"]] == ["companion", "companion-sleeptime", "global", "thread_7"]
    assert sorted(s["name"] for s in doc["sources"]) == ["doclea", "race-notes"]
    assert {p.code for p in memport.validate(tmp_path / "all.af").problems} == {"letta.agent.model-config"}
    to_kagura = export(store, "kagura", tmp_path / "k", exported_at="keep")
    letta = next(c for c in to_kagura["conversions"] if c["from"] == "letta")
    assert letta["dropped"] == {"no conversations in kagura: only Letta holds an agent's messages": 6, "no documents in kagura": 1}
    assert memport.validate(tmp_path / "k").errors == []


@pytest.mark.parametrize("name", ["kagura", "tribal", "doclea"])
def test_a_store_without_agent_files_exports_a_file_letta_imports(store, tmp_path, src, name):
    """The conversion of the store's records is the file: its agents and sources are the ones the
    conversion made (the files of a Doclea store keep their source)."""
    memport.import_bundle(src[name], store)
    result = through(store, tmp_path / "out.af")
    assert result["conversions"][0]["from"] == name
    out = tmp_path / "out.af"
    resolvable(json.loads(out.read_bytes()))
    assert {p.code for p in memport.validate(out).problems} == {"letta.agent.model-config"}
    assert out.read_bytes() == _converted(src[name], tmp_path)


def _converted(path: Path, tmp_path: Path) -> bytes:
    memport.write(memport.convert(memport.read(path), "letta"), tmp_path / "direct.af")
    return (tmp_path / "direct.af").read_bytes()


def test_dangling_references_are_left_out_of_a_built_file(store, tmp_path):
    """§21.2: dangling block_ids, tool_ids, in_context_message_ids and group agents pass Letta's
    own checks and fail its import half-way; memport's exports leave them out, and say so."""
    doc = companion()
    doc["agents"][0]["block_ids"].append("block-99")
    doc["agents"][0]["tool_ids"].append("tool-99")
    doc["agents"][1]["in_context_message_ids"].append("message-77")
    doc["groups"][0]["agent_ids"].append("agent-9")
    doc["groups"].insert(
        0, {"id": "group-1", "agent_ids": ["agent-7"], "description": "gone", "manager_config": {"manager_type": "round_robin"}}
    )
    memport.import_bundle(LEGACY, store)
    memport.import_bundle(write_af(tmp_path / "dangling.af", doc), store)
    result = through(store, tmp_path / "out.af")
    assert "agent 'companion': tool_ids names 'tool-99', no tool of the file: left out" in result["notes"]
    assert "group 'gone': its agents are not in the file: left out (Letta would fail to import it)" in result["notes"]
    out = json.loads((tmp_path / "out.af").read_bytes())
    resolvable(out)
    assert out["agents"][0]["block_ids"] == ["block-0", "block-1", "block-2"]
    assert [(g["id"], g["agent_ids"]) for g in out["groups"]] == [("group-0", ["agent-1"])]
    assert memport.validate(tmp_path / "out.af").errors == []


def test_shared_block_ids_become_block_ids_of_the_groups_agents(store, tmp_path):
    """§20.5: Letta 0.16.8 cannot import groups[].shared_block_ids."""
    doc = companion()
    doc["groups"][0]["shared_block_ids"] = ["block-2"]  # notes, which only the companion lists
    memport.import_bundle(LEGACY, store)
    memport.import_bundle(write_af(tmp_path / "shared.af", doc), store)
    result = through(store, tmp_path / "out.af")
    assert (
        "group 'companion and its sleeptime memory manager': its shared blocks are listed in its agents' block_ids "
        "(Letta 0.16.8 cannot import shared_block_ids)"
    ) in result["notes"]
    out = json.loads((tmp_path / "out.af").read_bytes())
    resolvable(out)
    notes = next(b["id"] for b in out["blocks"] if b["label"] == "notes")
    assert notes in out["agents"][1]["block_ids"] and memport.validate(tmp_path / "out.af").errors == []
    assert len(out["blocks"]) == 5  # a shared block stays single


def test_an_export_of_selected_blocks_builds_a_file_of_them(store, tmp_path):
    memport.import_bundle(LEGACY, store)
    memport.import_bundle(COMPANION, store)
    result = through(store, tmp_path / "one.af", filters=memport.Filters(agents=["memgpt_agent_v1"]))
    assert result["counts"]["memories"] == 2 and result["counts"]["messages"] == 0
    doc = json.loads((tmp_path / "one.af").read_bytes())
    resolvable(doc)
    assert sorted(b["label"] for b in doc["blocks"]) == ["human", "persona"]
    assert memport.validate(tmp_path / "one.af").errors == []


def test_unknown_keys_survive_and_records_breaking_lettas_rules_are_kept_with_their_codes(store, tmp_path):
    """§21.5: unknown keys are dropped by Letta on blocks and messages (warnings), fatal on files
    (an error): the store keeps both, with the codes of errors; the context memport adds is none."""
    doc = companion()
    doc["blocks"][0]["colour"] = "blue"
    doc["blocks"][1]["$memport"] = "a key of memport's own name: kept too"
    doc["files"][0]["owner"] = "me"
    doc["agents"][0]["messages"][1]["role"] = "robot"
    src = write_af(tmp_path / "unknown.af", doc)
    result = memport.import_bundle(src, store)
    assert (result["inserted"], result["problems"]) == (10, 2)
    assert store.conn.execute("SELECT problems FROM documents").fetchone()[0] == '["letta.file.unknown-key"]'
    assert store.conn.execute("SELECT count(*) FROM memories WHERE problems IS NOT NULL").fetchone()[0] == 0
    assert store.conn.execute("SELECT problems FROM messages WHERE type = 'robot'").fetchone()[0] == '["letta.message.role"]'
    through(store, tmp_path / "back.af")
    assert (tmp_path / "back.af").read_bytes() == src.read_bytes()


# ---------------------------------------------------------------------------------------------
# Re-embedding and audits


def test_reembedding_reads_block_and_message_text(store, stand_in):
    memport.import_bundle(COMPANION, store)
    report = memport.reembed(store, stand_in, progress=False)
    assert (report.total, report.encoded) == (9, 9)  # three blocks, six messages
    texts = {t for call in stand_in.calls for t in call}
    blocks = {row[0] for row in store.conn.execute("SELECT content FROM memories")}
    assert blocks <= texts
    assert "Congratulations, Chad! That's wonderful news." in texts  # text parts, not the reasoning
    assert not any("I should note it in memory" in t for t in texts)
    assert store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 9
    found = memport.search(store, "Congratulations, Chad! That's wonderful news.", k=1, model=stand_in)
    (hit,) = found.reveal().to_dict("records")
    assert hit["uid"].startswith("letta:messages:") and hit["kind"] == "messages" and hit["title"] is None
    assert hit["content"] == "Congratulations, Chad! That's wonderful news."
    assert memport.reembed(store, stand_in, progress=False).unchanged == 9


def test_a_message_that_only_calls_a_tool_is_embedded_as_its_calls():
    from memport.formats.letta import PLUGIN

    message = {
        "role": "assistant",
        "content": [{"type": "reasoning", "reasoning": "private"}],
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "send_message", "arguments": '{"message": "Hi Chad"}'}}],
    }
    assert PLUGIN.embed_text(message) == 'send_message({"message": "Hi Chad"})'
    assert PLUGIN.embed_text({"label": "human", "value": "First name: Chad"}) == "First name: Chad"


def test_audits_see_what_blocks_hold(store, tmp_path):
    doc = companion()
    doc["blocks"][0]["value"] += "\nE-mail: chad@berkeley.example.edu"
    src = write_af(tmp_path / "pii.af", doc)
    memport.import_bundle(src, store)
    for found in (memport.audit(store), memport.audit(memport.read(src))):
        assert found.total == 3
        assert list(found.sensitive["kind"]) == ["email"] and "chad@" not in found.sensitive.to_string()
        assert dict(zip(found.by["agent"]["agent"], found.by["agent"]["count"])) == {"companion": 3}


# ---------------------------------------------------------------------------------------------
# Older stores, bad input, the command line


def test_a_store_of_schema_version_5_gains_messages_and_new_identities(tmp_path):
    path = tmp_path / "v5.db"
    db = sqlite_utils.Database(path)
    for migrate in store_schema.MIGRATIONS[:5]:
        migrate(db)
    block = next(b for b in companion()["blocks"] if b["label"] == "notes")
    # a Letta file without messages could be stored before: its block under its file id
    native = json.dumps(block, ensure_ascii=False)
    db["memories"].insert(
        {"uid": "letta:memories:block-2", "uid_key": 1, "origin": "letta", "native": native, "content_key": 2, "run_id": 1}
    )
    db.execute("PRAGMA user_version = 5")
    db.conn.commit()
    db.close()
    with memport.Store(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == store_schema.SCHEMA_VERSION
        assert s.counts()["messages"] == 0
        assert [row[0] for row in s.conn.execute("SELECT uid FROM memories")] == ['letta:memories:[[],"notes"]']


def test_bad_input_is_named_not_a_traceback(store, tmp_path):
    doc = companion()
    doc["blocks"].insert(1, "persona")
    doc["agents"][0]["messages"].insert(0, 7)
    result = memport.import_bundle(write_af(tmp_path / "odd.af", doc), store)
    assert [(r["kind"], r["code"], r["record"]) for r in result["not_imported"]] == [
        ("messages", "letta.message.type", 0),
        ("memories", "letta.block.type", 1),
    ]
    assert result["inserted"] == 10
    thrice = tmp_path / "thrice.af"
    thrice.write_text(json.dumps(json.dumps(exported(companion()).decode())))
    with pytest.raises(memport.MalformedInputError, match="encoded three times"):
        memport.import_bundle(thrice, store)
    # agents that are not an array: Letta refuses the file; memport keeps its blocks and files
    odd = companion()
    odd["agents"] = {"companion": odd["agents"][0]}
    memport.import_bundle(write_af(tmp_path / "no-agents.af", odd), store)
    out = through(store, tmp_path / "out.af")
    assert "the header's agents are not an array (dict): written as an empty one" in out["notes"]
    assert memport.validate(tmp_path / "out.af").errors == []


def test_import_and_export_from_the_command_line(tmp_path):
    db = tmp_path / "memport.db"
    runner = CliRunner()
    result = runner.invoke(cli, ["import", str(COMPANION), "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0 and "9 records need (re-)embedding" in result.output
    result = runner.invoke(cli, ["export", "--db", str(db), "--to", "letta", "-o", str(tmp_path / "out.af"), "--exported-at", "keep"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.af").read_bytes() == COMPANION.read_bytes()


# ---------------------------------------------------------------------------------------------
# Properties


@SETTINGS
@given(letta_file())
def test_any_agent_file_comes_back_through_the_store(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("af")
    src = write_af(folder / "any.af", doc)
    with memport.Store(folder / "s.db") as store:
        result = memport.import_bundle(src, store)
        assert result["inserted"] == sum(memport.read(src).counts().values())
        through(store, folder / "back.af")
    assert (folder / "back.af").read_bytes() == src.read_bytes()


@SETTINGS
@given(letta_file(), letta_file())
def test_any_two_agent_files_export_as_one_file_letta_imports(tmp_path_factory, first, second):
    folder = tmp_path_factory.mktemp("two")
    with memport.Store(folder / "s.db") as store:
        memport.import_bundle(write_af(folder / "a.af", first), store)
        memport.import_bundle(write_af(folder / "b.af", second), store)
        stored = store.counts()
        result = through(store, folder / "both.af")
    assert {k: result["counts"][k] for k in ("memories", "messages", "documents")} == {
        k: stored[k] for k in ("memories", "messages", "documents")
    }
    doc = json.loads((folder / "both.af").read_bytes())
    resolvable(doc)
    assert memport.validate(folder / "both.af").errors == []
    # and it is what it says: read again, the same records
    again = memport.read(folder / "both.af")
    assert again.counts()["memories"] == stored["memories"] and again.counts()["messages"] == stored["messages"]
