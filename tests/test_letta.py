"""Letta's Agent File (shared/formats/letta.md): the current shape as Letta's exporter writes it and
as clients re-serialise it, double-encoded files, the legacy single-agent shape and its upgrade,
and every check memport makes that Letta's own importer does not."""

from __future__ import annotations

import codecs
import copy
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import letta_file, letta_text

import memport
from memport.cli import cli
from memport.formats.letta import PLUGIN, from_native, upgrade
from memport.schemas import schema_set, schemas_root

FIXTURES = Path(__file__).parent / "fixtures" / "letta"
COMPANION = FIXTURES / "companion.af"  # two agents (one a sleeptime helper) sharing blocks, as the exporter writes it
DOUBLE = FIXTURES / "companion-double.af"  # json.dump(<the SDK's export string>, f, indent=2)
LEGACY = FIXTURES / "legacy-0.6.47.af"  # the legacy single-agent shape, compact, as Letta 0.6.47 served it
LEGACY_FLAGS = FIXTURES / "legacy-0.6.43.af"  # 0.6.43: per-message in_context flags, no indices


def run(*args):
    """The CLI in-process; an exception escaping it fails the test instead of being swallowed."""
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def companion() -> dict:
    return json.loads(COMPANION.read_bytes())


def exported(doc) -> bytes:
    """What Letta's exporter writes: orjson with OPT_INDENT_2 (letta.md §1.1)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def write_af(path: Path, doc) -> Path:
    path.write_bytes(exported(doc))
    return path


def problems(path) -> set[tuple[str, str, str | None]]:
    return {(p.code, p.severity, p.path) for p in memport.validate(path).problems}


def rewritten(src: Path, tmp_path: Path) -> bytes:
    out = tmp_path / "rewritten.af"
    memport.write(memport.read(src), out, overwrite=True)
    return out.read_bytes()


def records_equal(a: memport.Bundle, b: memport.Bundle) -> None:
    for kind in ("memories", "documents", "messages"):
        left = [r.model_dump() for r in getattr(a.records, kind)]
        right = [r.model_dump() for r in getattr(b.records, kind)]
        assert json.dumps(left, default=str, sort_keys=True) == json.dumps(right, default=str, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Reading


def test_the_exporters_file_reads_into_the_canonical_model():
    bundle = memport.read(COMPANION)
    assert (bundle.format, bundle.version) == ("letta", "current")
    assert bundle.counts() == {"memories": 3, "relations": 0, "nodes": 0, "documents": 1, "chunks": 0, "pending": 0, "messages": 6}
    # blocks are memories keyed by label, in the file's order (sorted by label, so not in id order)
    memories = bundle.memories
    assert list(memories["key"]) == ["human", "notes", "persona"]
    assert list(memories["id"]) == ["block-1", "block-2", "block-0"]
    # a block shared by an agent and its sleeptime helper is one memory with both owners; it
    # belongs to the user-facing agent
    assert list(memories["owners"]) == [["companion", "companion-sleeptime"], ["companion"], ["companion", "companion-sleeptime"]]
    assert list(memories["agent_name"]) == ["companion", "companion", "companion"]
    assert memories.loc[0, "content"].startswith("First name: Chad") and "naïve café" in memories.loc[0, "content"]
    assert memories.loc[0, "summary"].startswith("The human block")
    assert list(memories["extra.limit"]) == [20000, 5000, 20000]
    # messages: the conversation, not memories (the rendered system prompt included)
    messages = bundle.messages
    assert list(messages["role"]) == ["system", "user", "assistant", "tool", "assistant", "system"]
    assert list(messages["agent_name"]) == ["companion"] * 5 + ["companion-sleeptime"]
    assert list(messages["in_context"]) == [True] * 6
    assert messages.loc[2, "content"] == "Congratulations, Chad! That's wonderful news."  # the reasoning part is no text
    assert messages.loc[2, "extra.content"][0]["type"] == "reasoning"
    assert str(messages["created_at"].dtype) == "datetime64[us, UTC]"
    assert messages.loc[4, "created_at"] == datetime(2026, 1, 22, 2, 7, 13, tzinfo=UTC)
    assert "<memory_blocks>" in messages.loc[0, "content"]
    # files are documents, with their source's name
    documents = bundle.documents
    assert list(documents["title"]) == ["race-notes/results.md"] and list(documents["source"]) == ["race-notes"]
    # what is not memory stays native, shown for auditing
    agents = bundle.agents
    assert list(agents["name"]) == ["companion", "companion-sleeptime"]
    assert list(agents["helper"]) == [False, True]
    assert list(agents["messages"]) == [5, 1] and list(agents["blocks"]) == [3, 2]
    assert list(agents["secret_names"]) == [["WEATHER_API_KEY"], []]
    assert list(bundle.tools["name"]) == ["conversation_search", "memory_replace", "memory_rethink", "send_message", "weather_lookup"]
    assert list(bundle.tools["id"]) == ["tool-1", "tool-2", "tool-3", "tool-0", "tool-4"]
    assert list(bundle.groups["manager_type"]) == ["sleeptime"]
    assert list(bundle.sources["files"]) == [1]
    assert list(bundle.mcp_servers["server_name"]) == ["weather"] and list(bundle.skills.columns) == ["name", "source_url", "files"]
    # what the file says about itself
    assert bundle.meta.exported_at.utc == datetime(2026, 1, 22, 2, 8, 0, 512300, tzinfo=UTC)
    assert bundle.meta.schema_version == "f6cd5a1e519d" and bundle.meta.agent_name == "companion"
    assert bundle.meta.embedding_model.name == "text-embedding-3-small" and bundle.meta.embedding_model.dimensions == 1536
    assert "companion-sleeptime" in bundle._repr_html_()


@pytest.mark.parametrize("src", [COMPANION, DOUBLE, LEGACY, LEGACY_FLAGS], ids=lambda p: p.name)
def test_every_fixture_round_trips_byte_for_byte(src, tmp_path):
    assert rewritten(src, tmp_path) == src.read_bytes()
    records_equal(memport.read(src), memport.read(tmp_path / "rewritten.af"))


def test_a_same_format_convert_rewrites_the_same_bytes(tmp_path):
    out = tmp_path / "same.af"
    result = run("convert", COMPANION, "--to", "letta", "-o", out)
    assert result.exit_code == 0, result.output
    assert "input 10 = written 10" in result.output
    assert out.read_bytes() == COMPANION.read_bytes()


def test_edits_are_written_back_where_they_belong(tmp_path):
    bundle = memport.read(COMPANION)
    bundle.records.memories[1].content = "Chad won the race!"
    bundle.records.messages[1].role = "user"
    out = tmp_path / "edited.af"
    memport.write(bundle, out, exported_at=datetime(2026, 2, 1, 12, 0, tzinfo=UTC))
    doc = json.loads(out.read_bytes())
    expected = companion()
    expected["blocks"][1]["value"] = "Chad won the race!"
    expected["created_at"] = "2026-02-01T12:00:00+00:00"
    assert doc == expected
    # messages go back to their own agents, also when the counts read no longer fit
    del bundle.records.messages[1]
    memport.write(bundle, out, overwrite=True)
    agents = json.loads(out.read_bytes())["agents"]
    assert [m["id"] for m in agents[0]["messages"]] == ["message-0", "message-2", "message-3", "message-4"]
    assert [m["id"] for m in agents[1]["messages"]] == ["message-5"]


# client layouts seen in the wild (letta.md §1.1): each is kept as it is
LAYOUTS = {
    "python-indent": lambda doc: json.dumps(doc, indent=2).encode() + b"\n",  # json.dump(..., indent=2) and an editor's newline
    # json.dumps(indent=2, ensure_ascii=False) writes this document byte for byte as orjson does
    "python-indent-utf8": lambda doc: json.dumps(doc, indent=2, ensure_ascii=False).encode(),
    "one-line-ascii": lambda doc: json.dumps(doc).encode(),  # a hand-edited file saved in one line
    "compact": lambda doc: json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n",
    "exporter-and-newline": lambda doc: exported(doc) + b"\n",
    "bom": lambda doc: codecs.BOM_UTF8 + exported(doc),
    "utf-16-bom": lambda doc: codecs.BOM_UTF16_LE + exported(doc).decode().encode("utf-16-le"),
    "utf-16-be": lambda doc: exported(doc).decode().encode("utf-16-be"),
    "utf-32": lambda doc: exported(doc).decode().encode("utf-32-le"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_client_layouts_and_encodings_round_trip_and_are_reported(layout, tmp_path):
    src = tmp_path / "client.af"
    src.write_bytes(LAYOUTS[layout](companion()))
    bundle = memport.read(src)
    records_equal(bundle, memport.read(COMPANION))
    assert rewritten(src, tmp_path) == src.read_bytes()
    report = memport.validate(src)
    assert report.valid
    expected = {
        "bom": {"letta.bundle.bom"},
        "utf-16-bom": {"letta.bundle.encoding"},
        "utf-16-be": {"letta.bundle.encoding"},
        "utf-32": {"letta.bundle.encoding"},
        "python-indent-utf8": set(),
    }.get(layout, {"letta.bundle.layout"})
    assert {p.code for p in report.warnings} == expected
    if layout == "exporter-and-newline":
        assert "final newline" in report.warnings[0].message


def test_a_bundle_from_a_native_document_is_written_in_the_exporters_layout(tmp_path):
    """What the upgrade (and later the conversions) hand to from_native: a document, no file."""
    bundle = from_native(companion())
    records_equal(bundle, memport.read(COMPANION))
    memport.write(bundle, tmp_path / "native.af")
    assert (tmp_path / "native.af").read_bytes() == COMPANION.read_bytes()
    with pytest.raises(memport.MalformedInputError, match="expected an agent file"):
        from_native({"manifest": {}, "entries": []})


def test_a_hand_formatted_file_is_written_in_the_exporters_layout_with_the_same_data(tmp_path):
    src = tmp_path / "hand.af"
    src.write_text(json.dumps(companion(), indent=4, sort_keys=False))
    out = rewritten(src, tmp_path)
    assert out == COMPANION.read_bytes()  # the data are the same: the exporter's bytes


# ---------------------------------------------------------------------------------------------
# Double encoding (§1, §21.1)


def test_a_double_encoded_file_is_normal_not_corrupt(tmp_path):
    found = memport.detect(DOUBLE)
    assert found.version == "current" and found.evidence[0].startswith("double-encoded")
    bundle = memport.read(DOUBLE)
    plain = json.loads(json.loads(DOUBLE.read_bytes()))
    assert [m.key for m in bundle.records.memories] == [b["label"] for b in plain["blocks"]]
    report = memport.validate(DOUBLE)
    assert report.valid
    assert {(p.code, p.severity) for p in report.problems} == {
        ("letta.bundle.double-encoded", "warning"),
        ("letta.agent.dangling-group", "warning"),
    }
    # a double-encoded file in the exporter's layout inside is not also a layout problem; another one is
    inner = json.dumps(plain, indent=2)
    (tmp_path / "d.af").write_text(json.dumps(inner))
    assert "letta.bundle.layout" in {p.code for p in memport.validate(tmp_path / "d.af").warnings}


def test_a_third_encoding_layer_is_refused_clearly(tmp_path):
    src = tmp_path / "triple.af"
    src.write_text(json.dumps(DOUBLE.read_text()))
    assert memport.detect(src).evidence[0].startswith("a JSON string holding a JSON string")
    with pytest.raises(memport.MalformedInputError, match="encoded three times"):
        memport.read(src)
    report = memport.validate(src)
    assert [(p.code, p.severity) for p in report.problems] == [("letta.bundle.encoded-thrice", "error")]
    result = run("inspect", src)
    assert result.exit_code == 2 and "encoded three times" in result.output and "Traceback" not in result.output


def test_a_broken_inner_document_is_located(tmp_path):
    src = tmp_path / "broken.af"
    src.write_text(json.dumps(exported(companion()).decode()[:4000]))
    with pytest.raises(
        memport.MalformedInputError,
        match=r"double-encoded file: the JSON string it holds is not valid JSON: .*line \d+ of the string's text",
    ):
        memport.read(src)
    assert memport.detect(src).evidence[0].startswith("starts as an agent file (current shape) but cannot be parsed")
    result = run("validate", src)
    assert result.exit_code == 1 and "truncated" in result.output and "[json.malformed]" in result.output


# ---------------------------------------------------------------------------------------------
# The legacy shape (§14) and its upgrade (§20)


def test_the_legacy_shape_is_read_and_reported_with_its_way_out():
    found = memport.detect(LEGACY)
    assert found.version == "legacy" and "written by Letta 0.6.47" in found.evidence[0]
    bundle = memport.read(LEGACY)
    assert [m.key for m in bundle.records.memories] == ["persona", "human"]
    assert list(bundle.memories["owners"]) == [["memgpt.agent/v1"], ["memgpt.agent/v1"]]
    assert [m.role for m in bundle.records.messages] == ["system", "assistant", "tool", "user"]
    assert all(m.in_context for m in bundle.records.messages)  # in_context_message_indices [0, 1, 3, 2]
    assert bundle.records.messages[0].created_at.dialect == "iso-naive-utc"
    assert list(bundle.agents["tools"]) == [3] and bundle.tools.loc[0, "name"] == "send_message"
    flags = memport.read(LEGACY_FLAGS)  # 0.6.43: the messages' own in_context flags
    assert [m.in_context for m in flags.records.messages] == [True, True, False, True]
    report = memport.validate(LEGACY)
    assert not report.valid
    assert [(p.code, p.path) for p in report.errors] == [("letta.bundle.legacy", "$")]
    assert f"memport convert {LEGACY} --to letta -o NEW.af" in report.errors[0].message
    assert [(p.code, p.path) for p in report.warnings] == [("letta.legacy.name", "$.name")]


def test_the_upgrade_writes_a_file_letta_accepts(tmp_path):
    out = tmp_path / "new.af"
    result = run("convert", LEGACY, "--to", "letta", "-o", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["from"], report["to"], report["input"], report["written"]) == ("letta legacy", "letta current", 6, 6)
    losses = {(loss["kind"], loss["field"]): loss for loss in report["losses"]}
    assert losses[("agents", "name")]["examples"] == ["'memgpt.agent/v1' -> 'memgpt_agent_v1'"]
    assert {("memories", "created_at"), ("messages", "updated_at"), ("tools", "created_at"), ("agents", "updated_at")} <= set(losses)
    assert memport.validate(out).problems == []  # not even a warning
    data = out.read_bytes()
    doc = json.loads(data)
    assert data == exported(doc)  # the exporter's layout: orjson, 2-space indent, no final newline
    assert list(doc) == ["agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers", "skills", "metadata", "created_at"]
    agent = doc["agents"][0]
    assert agent["id"] == "agent-0" and agent["name"] == "memgpt_agent_v1"
    # ids as the exporter numbers them: the agent's messages, tools and blocks in its own order;
    # blocks then listed by label and tools by name
    assert [m["id"] for m in agent["messages"]] == ["message-0", "message-1", "message-2", "message-3"]
    assert agent["in_context_message_ids"] == ["message-0", "message-1", "message-3", "message-2"]  # the legacy order
    assert agent["block_ids"] == ["block-0", "block-1"] and [(b["id"], b["label"]) for b in doc["blocks"]] == [
        ("block-1", "human"),
        ("block-0", "persona"),
    ]
    assert agent["tool_ids"] == ["tool-0", "tool-1", "tool-2"]
    assert [(t["id"], t["name"]) for t in doc["tools"]] == [
        ("tool-1", "conversation_search"),
        ("tool-2", "core_memory_append"),
        ("tool-0", "send_message"),
    ]
    assert all("created_at" not in t and "updated_at" not in t for t in doc["tools"])
    # the exporter's constant inputs, no shared_block_ids, content as parts, UTC times
    assert (agent["memory_blocks"], agent["tools"], agent["initial_message_sequence"], agent["include_base_tools"]) == ([], [], None, False)
    assert doc["groups"] == [] and agent["tags"] == ["memgpt"] and agent["tool_exec_environment_variables"] == {"WEATHER_API_KEY": ""}
    assert agent["messages"][0]["created_at"] == "2025-04-01T03:47:27.492924+00:00"
    assert doc["metadata"] == {"revision_id": "unknown", "legacy_version": "0.6.47"}
    assert doc["created_at"] == "2025-04-01T03:47:27.514261+00:00"  # the legacy agent's updated_at: no wall clock
    # the same input gives the same bytes; a given export time is written as the exporter writes it
    again = upgrade(memport.read(LEGACY), exported_at=datetime(2026, 3, 1, tzinfo=UTC))
    memport.write(again, tmp_path / "again.af")
    assert json.loads((tmp_path / "again.af").read_bytes()) == {**doc, "created_at": "2026-03-01T00:00:00+00:00"}
    run("convert", LEGACY, "--to", "letta", "-o", tmp_path / "third.af")
    assert (tmp_path / "third.af").read_bytes() == data


def test_the_upgrade_takes_the_context_window_from_0_6_43_flags(tmp_path):
    result = upgrade(memport.read(LEGACY_FLAGS))
    agent = result.meta.header["agents"][0]
    assert agent["in_context_message_ids"] == ["message-0", "message-1", "message-3"]
    assert [m.in_context for m in result.records.messages] == [True, True, False, True]
    assert result.conversion.closed


def test_what_the_upgrade_cannot_carry_is_reported(tmp_path):
    doc = json.loads(LEGACY.read_bytes())
    del doc["in_context_message_indices"]
    doc["agent_type"] = "offline_memory_agent"
    doc["core_memory"].append({"label": None, "value": "orphan"})
    doc["multi_agent_group"] = {"id": "group-123"}
    doc["inference_config"] = {"provider": "x"}
    doc["messages"][1]["group_id"] = "group-123"
    src = tmp_path / "odd.af"
    src.write_text(json.dumps(doc, separators=(",", ":")))
    result = upgrade(memport.read(src))
    report = result.conversion
    assert (
        report.closed
        and report.input == 7
        and report.written == 6
        and dict(report.dropped) == {"a legacy block without a text label and value (Letta requires both)": 1}
    )
    losses = {(loss.kind, loss.field): loss.note for loss in report.losses.values()}
    assert "all are" in losses[("agents", "in_context_message_indices")]
    assert "written as 'letta_v1_agent'" in losses[("agents", "agent_type")]
    assert {("agents", "multi_agent_group"), ("agents", "inference_config"), ("messages", "group_id")} <= set(losses)
    out = tmp_path / "odd-new.af"
    memport.write(result, out)
    assert memport.validate(out).errors == []
    agent = json.loads(out.read_bytes())["agents"][0]
    assert agent["agent_type"] == "letta_v1_agent" and len(agent["in_context_message_ids"]) == 4


def test_a_current_file_converts_to_itself():
    bundle = memport.read(COMPANION)
    same = memport.convert(bundle, "letta")
    assert same is bundle and same.conversion.lossless and same.conversion.written == 10


# ---------------------------------------------------------------------------------------------
# §21: the tricky cases


def test_passing_lettas_validation_is_not_being_importable(tmp_path):
    """§21.2: dangling references pass Letta's own checks and fail the import half-way."""
    doc = companion()
    doc["agents"][0]["block_ids"].append("block-99")
    doc["agents"][0]["tool_ids"].append("tool-99")
    doc["agents"][0]["source_ids"].append("source-99")
    doc["agents"][0]["in_context_message_ids"].append("message-5")  # the sleeptime agent's message
    doc["agents"][1]["in_context_message_ids"].append("message-77")
    doc["groups"][0]["agent_ids"].append("agent-9")
    doc["groups"][0]["manager_config"]["manager_agent_id"] = "agent-8"
    found = problems(write_af(tmp_path / "dangling.af", doc))
    assert {(code, path) for code, severity, path in found if severity == "error"} == {
        ("letta.agent.dangling-block", "$.agents[0].block_ids[3]"),
        ("letta.agent.dangling-tool", "$.agents[0].tool_ids[4]"),
        ("letta.agent.dangling-source", "$.agents[0].source_ids[1]"),
        ("letta.agent.dangling-message", "$.agents[0].in_context_message_ids[5]"),
        ("letta.agent.dangling-message", "$.agents[1].in_context_message_ids[1]"),
        ("letta.group.dangling-agent", "$.groups[0].agent_ids[1]"),
        ("letta.group.dangling-manager", "$.groups[0].manager_config.manager_agent_id"),
    }
    report = memport.validate(tmp_path / "dangling.af")
    other = next(p for p in report.errors if p.path == "$.agents[0].in_context_message_ids[5]")
    assert "a message of agent 'companion-sleeptime', not of this agent" in other.message and "half-way" in other.message


def test_blocks_and_tools_are_not_in_id_order(tmp_path):
    """§21.3: ids come from the file, never from array positions; owners are found by id."""
    doc = companion()
    doc["blocks"].reverse()
    doc["tools"].reverse()
    bundle = memport.read(write_af(tmp_path / "reversed.af", doc))
    assert [m.id for m in bundle.records.memories] == ["block-0", "block-2", "block-1"]
    assert list(bundle.memories["owners"]) == [["companion", "companion-sleeptime"], ["companion"], ["companion", "companion-sleeptime"]]
    assert memport.validate(tmp_path / "reversed.af").valid


def test_messages_are_a_window_not_the_history(tmp_path):
    """§21.4: only in_context_message_ids are the context; messages outside it are kept as they are."""
    doc = companion()
    doc["agents"][0]["in_context_message_ids"] = ["message-0", "message-4"]
    src = write_af(tmp_path / "window.af", doc)
    bundle = memport.read(src)
    assert list(bundle.messages["in_context"]) == [True, False, False, False, True, True]
    assert list(bundle.agents["in_context"]) == [2, 1]
    assert rewritten(src, tmp_path) == src.read_bytes()
    assert memport.validate(src).valid


def test_unknown_keys_are_dropped_here_and_fatal_there(tmp_path):
    """§21.5: silently dropped on agents, blocks, messages and the top level (warnings); refused on
    tools, sources, files and files_agents (errors)."""
    doc = companion()
    doc["favourite"] = 1
    doc["agents"][0]["favourite"] = 1
    doc["blocks"][0]["favourite"] = 1
    doc["agents"][0]["messages"][0]["favourite"] = 1
    doc["tools"][0]["favourite"] = 1
    doc["sources"][0]["favourite"] = 1
    doc["files"][0]["favourite"] = 1
    doc["agents"][0]["files_agents"][0]["favourite"] = 1
    found = problems(write_af(tmp_path / "unknown.af", doc))
    unknown = {(code, severity) for code, severity, _ in found if code.endswith("unknown-key")}
    assert unknown == {
        ("letta.bundle.unknown-key", "warning"),
        ("letta.agent.unknown-key", "warning"),
        ("letta.block.unknown-key", "warning"),
        ("letta.message.unknown-key", "warning"),
        ("letta.tool.unknown-key", "error"),
        ("letta.source.unknown-key", "error"),
        ("letta.file.unknown-key", "error"),
        ("letta.files-agent.unknown-key", "error"),
    }
    # and every one of them is kept by a round trip
    assert rewritten(tmp_path / "unknown.af", tmp_path) == (tmp_path / "unknown.af").read_bytes()


def test_a_sleeptime_helper_shares_blocks_through_block_ids_not_shared_block_ids(tmp_path):
    """§9 and §20.5: groups' shared_block_ids cannot be imported by Letta 0.16.8."""
    doc = companion()
    doc["groups"][0]["shared_block_ids"] = ["block-0"]
    found = problems(write_af(tmp_path / "shared.af", doc))
    assert ("letta.group.shared-blocks", "error", "$.groups[0].shared_block_ids") in found
    bundle = memport.read(tmp_path / "shared.af")
    assert len(bundle.records.memories) == 3  # a shared block stays single


# ---------------------------------------------------------------------------------------------
# Every validation code: a file that triggers it (the fixtures trigger none of them)


def _agent(n=0):
    return lambda doc: doc["agents"][n]


def _message(n=1):
    return lambda doc: doc["agents"][0]["messages"][n]


def _view(doc):
    return doc["agents"][0]["files_agents"][0]


def _set(where, key, value):
    def change(doc):
        where(doc)[key] = value

    return change


def _drop(where, key):
    def change(doc):
        del where(doc)[key]

    return change


def _replace(section, index, value):
    def change(doc):
        doc[section][index] = value

    return change


def _top(doc):
    return doc


def _first(section):
    return lambda doc: doc[section][0]


def _with_skill(skill):
    def change(doc):
        doc["skills"] = [skill]

    return change


def _with_tool_name(name):
    def change(doc):
        doc["tools"][1]["name"] = name

    return change


def _secret(doc):
    doc["agents"][0]["tool_exec_environment_variables"]["WEATHER_API_KEY"] = "sk-live-0123456789"


def _token_url(doc):
    doc["mcp_servers"][0]["server_url"] = "https://mcp.example.com/api/mcp/s/ZjQ2NzE4YTktOTU1Yy00Nzc1LWJmNTctMmIy/mcp"


def _append(where, key, value):
    def change(doc):
        where(doc)[key].append(value)

    return change


SKILL = {"name": "slack", "files": {"SKILL.md": "# Slack"}, "source_url": None}
# (code, severity, change to the companion file, where the problem is)
CURRENT_CASES = [
    ("letta.bundle.required", "error", _drop(_top, "groups"), "$.groups"),
    ("letta.bundle.unknown-key", "warning", _set(_top, "exported_by", "me"), "$"),
    ("letta.bundle.agents", "error", _set(_top, "agents", {}), "$.agents"),
    ("letta.bundle.array", "error", _set(_top, "tools", None), "$.tools"),
    ("letta.bundle.metadata", "error", _set(_top, "metadata", {"revision_id": 5}), "$.metadata.revision_id"),
    ("letta.timestamp.invalid", "error", _set(_top, "created_at", "yesterday"), "$.created_at"),
    ("letta.timestamp.format", "warning", _set(_top, "created_at", "2026-01-22T02:08:00Z"), "$.created_at"),
    ("letta.agent.type", "error", _replace("agents", 1, "companion"), "$.agents[1]"),
    ("letta.agent.id", "error", _set(_agent(), "id", "agent-zero"), "$.agents[0].id"),
    ("letta.agent.duplicate-id", "error", _set(_agent(1), "id", "agent-0"), "$.agents[1].id"),
    ("letta.agent.unknown-key", "warning", _set(_agent(), "mood", "happy"), "$.agents[0]"),
    ("letta.agent.name", "error", _set(_agent(), "name", "companion.v2/final"), "$.agents[0].name"),
    ("letta.agent.value", "error", _set(_agent(), "system", 5), "$.agents[0].system"),
    ("letta.agent.agent-type", "error", _set(_agent(), "agent_type", "robot"), "$.agents[0].agent_type"),
    ("letta.agent.tags", "error", _set(_agent(), "tags", "companion"), "$.agents[0].tags"),
    ("letta.agent.references", "error", _set(_agent(), "block_ids", "block-0"), "$.agents[0].block_ids"),
    ("letta.agent.array", "error", _set(_agent(), "files_agents", None), "$.agents[0].files_agents"),
    ("letta.agent.llm-config", "error", _set(_agent(), "llm_config", "gpt-4o"), "$.agents[0].llm_config"),
    (
        "letta.agent.embedding-config",
        "error",
        _drop(lambda d: d["agents"][0]["embedding_config"], "embedding_dim"),
        "$.agents[0].embedding_config.embedding_dim",
    ),
    ("letta.agent.secrets", "error", _set(_agent(), "secrets", {"TOKEN": 5}), "$.agents[0].secrets.TOKEN"),
    ("letta.agent.create-input", "warning", _set(_agent(), "memory_blocks", [{"label": "x", "value": "y"}]), "$.agents[0].memory_blocks"),
    ("letta.agent.folder-ids", "warning", _set(_agent(), "folder_ids", ["source-0"]), "$.agents[0].folder_ids"),
    ("letta.agent.dangling-block", "error", _append(_agent(), "block_ids", "block-9"), "$.agents[0].block_ids[3]"),
    ("letta.agent.dangling-tool", "error", _append(_agent(), "tool_ids", "tool-9"), "$.agents[0].tool_ids[4]"),
    ("letta.agent.dangling-source", "error", _append(_agent(), "source_ids", "source-9"), "$.agents[0].source_ids[1]"),
    (
        "letta.agent.dangling-message",
        "error",
        _append(_agent(), "in_context_message_ids", "message-5"),
        "$.agents[0].in_context_message_ids[5]",
    ),
    ("letta.agent.dangling-group", "warning", _set(_agent(), "group_ids", ["group-7"]), "$.agents[0].group_ids[0]"),
    ("letta.agent.secret-value", "warning", _secret, "$.agents[0].tool_exec_environment_variables.WEATHER_API_KEY"),
    ("letta.agent.voice-needs-sleeptime", "error", _set(_agent(), "agent_type", "voice_convo_agent"), "$.agents[0].agent_type"),
    ("letta.agent.model-config", "warning", _drop(_agent(), "llm_config"), "$.agents[0]"),
    ("letta.message.type", "error", lambda d: d["agents"][0]["messages"].__setitem__(1, "hi"), "$.agents[0].messages[1]"),
    ("letta.message.required", "error", _drop(_message(), "role"), "$.agents[0].messages[1].role"),
    ("letta.message.unknown-key", "warning", _set(_message(), "mood", "happy"), "$.agents[0].messages[1]"),
    ("letta.message.id", "error", _set(_message(), "id", "msg-1"), "$.agents[0].messages[1].id"),
    ("letta.message.duplicate-id", "error", _set(_message(2), "id", "message-1"), "$.agents[0].messages[2].id"),
    ("letta.message.value", "error", _set(_message(), "name", 5), "$.agents[0].messages[1].name"),
    ("letta.message.role", "error", _set(_message(), "role", "robot"), "$.agents[0].messages[1].role"),
    ("letta.message.content", "error", _set(_message(), "content", [{"type": "text"}]), "$.agents[0].messages[1].content[0].text"),
    (
        "letta.message.tool-calls",
        "error",
        _set(_message(2), "tool_calls", [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {}}}]),
        "$.agents[0].messages[2].tool_calls[0].function.arguments",
    ),
    ("letta.message.tool-returns", "error", _set(_message(3), "tool_returns", ["ok"]), "$.agents[0].messages[3].tool_returns[0]"),
    ("letta.message.agent-id", "warning", _set(_message(), "agent_id", "agent-1"), "$.agents[0].messages[1].agent_id"),
    ("letta.message.created-at", "warning", _drop(_message(), "created_at"), "$.agents[0].messages[1]"),
    ("letta.timestamp.invalid", "error", _set(_message(), "created_at", None), "$.agents[0].messages[1].created_at"),
    ("letta.timestamp.invalid", "error", _set(_message(), "created_at", "2026-13-45T00:00:00"), "$.agents[0].messages[1].created_at"),
    ("letta.timestamp.format", "warning", _set(_message(), "created_at", 1769047630), "$.agents[0].messages[1].created_at"),
    ("letta.block.type", "error", _replace("blocks", 0, "persona"), "$.blocks[0]"),
    ("letta.block.required", "error", _drop(_first("blocks"), "label"), "$.blocks[0].label"),
    ("letta.block.unknown-key", "warning", _set(_first("blocks"), "colour", "blue"), "$.blocks[0]"),
    ("letta.block.value", "error", _set(_first("blocks"), "value", 5), "$.blocks[0].value"),
    ("letta.block.label", "error", _set(_first("blocks"), "label", ["human"]), "$.blocks[0].label"),
    ("letta.block.id", "error", _set(_first("blocks"), "id", "blk-1"), "$.blocks[0].id"),
    ("letta.block.duplicate-id", "error", lambda d: d["blocks"][2].__setitem__("id", "block-1"), "$.blocks[2].id"),
    ("letta.block.limit", "error", _set(_first("blocks"), "limit", "lots"), "$.blocks[0].limit"),
    ("letta.block.limit", "error", _set(_first("blocks"), "limit", 5.5), "$.blocks[0].limit"),
    ("letta.block.limit-text", "warning", _set(_first("blocks"), "limit", "5000"), "$.blocks[0].limit"),
    ("letta.block.value-type", "error", _set(_first("blocks"), "read_only", "yes"), "$.blocks[0].read_only"),
    ("letta.block.nul", "warning", _set(_first("blocks"), "value", "a\x00b"), "$.blocks[0].value"),
    ("letta.tool.type", "error", _replace("tools", 0, "send_message"), "$.tools[0]"),
    ("letta.tool.required", "error", _drop(_first("tools"), "id"), "$.tools[0].id"),
    ("letta.tool.unknown-key", "error", _set(_first("tools"), "owner", "me"), "$.tools[0]"),
    ("letta.tool.id", "error", _set(_first("tools"), "id", "tool-8f2c6a52-1111-4a2b-9c3d-000000000001"), "$.tools[0].id"),
    ("letta.tool.duplicate-id", "error", lambda d: d["tools"][1].__setitem__("id", "tool-1"), "$.tools[1].id"),
    ("letta.tool.value", "error", _set(_first("tools"), "return_char_limit", "many"), "$.tools[0].return_char_limit"),
    ("letta.tool.tool-type", "error", _set(_first("tools"), "tool_type", "magic"), "$.tools[0].tool_type"),
    ("letta.tool.duplicate-name", "warning", _with_tool_name("conversation_search"), "$.tools[1].name"),
    ("letta.source.type", "error", _replace("sources", 0, None), "$.sources[0]"),
    ("letta.source.required", "error", _drop(_first("sources"), "name"), "$.sources[0].name"),
    ("letta.source.unknown-key", "error", _set(_first("sources"), "owner", "me"), "$.sources[0]"),
    ("letta.source.id", "error", _set(_first("sources"), "id", "folder-0"), "$.sources[0].id"),
    ("letta.source.duplicate-id", "error", _set(_first("sources"), "id", "agent-0"), "$.sources[0].id"),
    ("letta.source.value", "error", _set(_first("sources"), "description", ["notes"]), "$.sources[0].description"),
    ("letta.file.type", "error", _replace("files", 0, []), "$.files[0]"),
    ("letta.file.required", "error", _drop(_first("files"), "source_id"), "$.files[0].source_id"),
    ("letta.file.unknown-key", "error", _set(_first("files"), "owner", "me"), "$.files[0]"),
    ("letta.file.id", "error", _set(_first("files"), "id", "file-x"), "$.files[0].id"),
    ("letta.file.duplicate-id", "error", lambda d: d["files"].append(dict(d["files"][0])), "$.files[1].id"),
    ("letta.source.duplicate-id", "error", _set(_first("files"), "id", "source-0"), "$.sources[0].id"),  # across types
    ("letta.file.value", "error", _set(_first("files"), "file_size", "28 bytes"), "$.files[0].file_size"),
    ("letta.file.dangling-source", "error", _set(_first("files"), "source_id", "source-9"), "$.files[0].source_id"),
    ("letta.files-agent.type", "error", lambda d: d["agents"][0]["files_agents"].append("results.md"), "$.agents[0].files_agents[1]"),
    ("letta.files-agent.required", "error", _drop(_view, "file_name"), "$.agents[0].files_agents[0].file_name"),
    ("letta.files-agent.unknown-key", "error", _set(_view, "pinned", True), "$.agents[0].files_agents[0]"),
    ("letta.files-agent.value", "error", _set(_view, "is_open", "yes"), "$.agents[0].files_agents[0].is_open"),
    ("letta.files-agent.dangling-file", "error", _set(_view, "file_id", "file-9"), "$.agents[0].files_agents[0].file_id"),
    ("letta.files-agent.dangling-source", "error", _set(_view, "source_id", "source-9"), "$.agents[0].files_agents[0].source_id"),
    ("letta.files-agent.agent-id", "error", _set(_view, "agent_id", "agent-1"), "$.agents[0].files_agents[0].agent_id"),
    ("letta.timestamp.invalid", "error", _set(_view, "last_accessed_at", "soon"), "$.agents[0].files_agents[0].last_accessed_at"),
    ("letta.group.type", "error", _replace("groups", 0, "sleeptime"), "$.groups[0]"),
    ("letta.group.required", "error", _drop(_first("groups"), "description"), "$.groups[0].description"),
    ("letta.group.unknown-key", "warning", _set(_first("groups"), "owner", "me"), "$.groups[0]"),
    ("letta.group.id", "error", _set(_first("groups"), "id", "group-one"), "$.groups[0].id"),
    ("letta.group.duplicate-id", "error", lambda d: d["groups"].append(dict(d["groups"][0])), "$.groups[1].id"),
    ("letta.group.value", "error", _set(_first("groups"), "agent_ids", "agent-1"), "$.groups[0].agent_ids"),
    (
        "letta.group.manager",
        "error",
        _set(_first("groups"), "manager_config", {"manager_type": "sleeptime"}),
        "$.groups[0].manager_config.manager_agent_id",
    ),
    ("letta.group.dangling-agent", "error", _set(_first("groups"), "agent_ids", ["agent-7"]), "$.groups[0].agent_ids[0]"),
    (
        "letta.group.dangling-manager",
        "error",
        _set(_first("groups"), "manager_config", {"manager_type": "supervisor", "manager_agent_id": "agent-7"}),
        "$.groups[0].manager_config.manager_agent_id",
    ),
    ("letta.group.shared-blocks", "error", _set(_first("groups"), "shared_block_ids", ["block-0"]), "$.groups[0].shared_block_ids"),
    ("letta.mcp-server.type", "error", _replace("mcp_servers", 0, "weather"), "$.mcp_servers[0]"),
    ("letta.mcp-server.required", "error", _drop(_first("mcp_servers"), "server_name"), "$.mcp_servers[0].server_name"),
    ("letta.mcp-server.id", "error", _set(_first("mcp_servers"), "id", "mcp-0"), "$.mcp_servers[0].id"),
    ("letta.mcp-server.duplicate-id", "error", _set(_first("mcp_servers"), "id", "file-0"), "$.mcp_servers[0].id"),
    ("letta.mcp-server.value", "error", _set(_first("mcp_servers"), "server_url", 443), "$.mcp_servers[0].server_url"),
    ("letta.mcp-server.url-credentials", "warning", _token_url, "$.mcp_servers[0].server_url"),
    ("letta.skill.type", "error", _with_skill("slack"), "$.skills[0]"),
    ("letta.skill.required", "error", _with_skill({"files": {"SKILL.md": "# x"}}), "$.skills[0].name"),
    ("letta.skill.source", "error", _with_skill({"name": "slack"}), "$.skills[0]"),
    ("letta.skill.value", "error", _with_skill({**SKILL, "name": 5}), "$.skills[0].name"),
    ("letta.skill.files", "error", _with_skill({**SKILL, "files": {"README.md": "x"}}), "$.skills[0].files['SKILL.md']"),
]
# the legacy shape: the change is made to legacy-0.6.47.af
LEGACY_CASES = [
    ("letta.legacy.value", "warning", _set(_top, "tools", {}), "$.tools"),
    ("letta.legacy.name", "warning", _set(_top, "name", "memgpt: the agent"), "$.name"),
    ("letta.legacy.in-context", "warning", _set(_top, "in_context_message_indices", [0, 9]), "$.in_context_message_indices[1]"),
    ("letta.legacy.in-context", "warning", _set(_top, "in_context_message_indices", [0, 0]), "$.in_context_message_indices[1]"),
    ("letta.legacy.in-context", "warning", _set(_top, "in_context_message_indices", [0, "1"]), "$.in_context_message_indices[1]"),
    ("letta.legacy.model-config", "warning", _set(_top, "llm_config", None), "$.llm_config"),
    ("letta.legacy.duplicate-tool", "warning", lambda d: d["tools"][1].__setitem__("name", "send_message"), "$.tools[1].name"),
    ("letta.legacy-block.type", "error", _replace("core_memory", 0, "persona"), "$.core_memory[0]"),
    ("letta.legacy-block.shape", "warning", _drop(_first("core_memory"), "value"), "$.core_memory[0].value"),
    ("letta.legacy-block.value", "warning", _set(_first("core_memory"), "limit", "5k"), "$.core_memory[0].limit"),
    ("letta.legacy-message.type", "error", _replace("messages", 0, "hello"), "$.messages[0]"),
    ("letta.legacy-message.shape", "warning", _drop(_first("messages"), "role"), "$.messages[0].role"),
    ("letta.legacy-message.value", "warning", _set(_first("messages"), "role", "robot"), "$.messages[0].role"),
    ("letta.legacy-tool.type", "warning", _replace("tools", 0, "send_message"), "$.tools[0]"),
    ("letta.legacy-tool.shape", "warning", _drop(_first("tools"), "name"), "$.tools[0].name"),
    ("letta.legacy-tool.value", "warning", _set(_first("tools"), "name", 7), "$.tools[0].name"),
]
# what a file cannot trigger (detection takes only objects), checked against the schema itself
SCHEMA_ONLY = {("current", "bundle", "letta.bundle.type"), ("legacy", "agent", "letta.legacy.type")}
# what the file's bytes trigger, not a change to its document
FILE_LEVEL = {
    "json.malformed",
    "letta.bundle.bom",
    "letta.bundle.encoding",
    "letta.bundle.double-encoded",
    "letta.bundle.encoded-thrice",
    "letta.bundle.layout",
    "letta.bundle.legacy",
}


def test_the_fixtures_are_clean(tmp_path):
    assert problems(COMPANION) == set()
    doc = json.loads(LEGACY.read_bytes())
    doc["name"] = "memgpt agent"
    (tmp_path / "legacy.af").write_text(json.dumps(doc, separators=(",", ":")))
    assert problems(tmp_path / "legacy.af") == {("letta.bundle.legacy", "error", "$")}


@pytest.mark.parametrize("code, severity, change, path", CURRENT_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CURRENT_CASES)])
def test_each_current_shape_code_is_triggered(code, severity, change, path, tmp_path):
    doc = companion()
    change(doc)
    assert (code, severity, path) in problems(write_af(tmp_path / "changed.af", doc))


@pytest.mark.parametrize("code, severity, change, path", LEGACY_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LEGACY_CASES)])
def test_each_legacy_shape_code_is_triggered(code, severity, change, path, tmp_path):
    doc = json.loads(LEGACY.read_bytes())
    change(doc)
    src = tmp_path / "changed.af"
    src.write_text(json.dumps(doc, separators=(",", ":")))
    assert (code, severity, path) in problems(src)


def test_the_codes_of_the_top_level_that_no_file_can_trigger():
    assert [c.code for c in schema_set("letta", "current").check("bundle", ["an", "array"])] == ["letta.bundle.type"]
    assert [c.code for c in schema_set("letta", "legacy").check("agent", "text")] == ["letta.legacy.type"]


def test_every_code_has_a_case():
    """Each code in the schemas and in validate.py is triggered by a case above."""
    declared = {"letta.timestamp.invalid"}
    for file in (schemas_root() / "letta").glob("*/*.schema.json"):
        text = file.read_text()
        declared |= set(re.findall(r'"code": "([a-z0-9.\-]+)"', text))
    source = (Path(memport.__file__).parent / "formats" / "letta" / "validate.py").read_text()
    declared |= set(re.findall(r'"((?:letta|json)\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)?)"', source))
    for kind in ("agent", "group", "block", "file", "source", "tool", "mcp-server", "message"):  # f"letta.{kind}.id", ".duplicate-id"
        declared |= {f"letta.{kind}.id", f"letta.{kind}.duplicate-id"}
    covered = {case[0] for case in CURRENT_CASES + LEGACY_CASES} | {code for _, _, code in SCHEMA_ONLY} | FILE_LEVEL
    assert declared - covered == set()
    assert covered - declared == set()


# ---------------------------------------------------------------------------------------------
# The schemas: both engines agree on them


WRONG_VALUES = [None, 0, -1, 1.5, True, "", "x", "2026-01-22T02:08:00Z", [], ["a", 1], {}, {"a": None}]


def _mutations(record):
    """The record, then each key removed, each value replaced by wrong values (nested objects
    too), an unknown key, and values that are no object."""
    yield record
    if not isinstance(record, dict):
        return
    for key in record:
        yield {k: v for k, v in record.items() if k != key}
        for wrong in WRONG_VALUES:
            yield {**record, key: wrong}
        if isinstance(record[key], dict):
            for inner in _mutations(record[key]):
                yield {**record, key: inner}
        if isinstance(record[key], list) and record[key] and isinstance(record[key][0], dict):
            for inner in _mutations(record[key][0]):
                yield {**record, key: [inner]}
    yield {**record, "unexpected": 1}
    yield None
    yield [record]


def _seeds():
    doc = companion()
    agent = {k: v for k, v in doc["agents"][0].items() if k not in ("messages", "files_agents")} | {"messages": [], "files_agents": []}
    legacy = json.loads(LEGACY.read_bytes())
    yield "current", "bundle", {k: ([] if isinstance(v, list) else v) for k, v in doc.items()}
    yield "current", "agent", agent
    for message in doc["agents"][0]["messages"][1:4]:
        yield "current", "message", message
    yield "current", "files-agent", doc["agents"][0]["files_agents"][0]
    for section, name in (
        ("blocks", "block"),
        ("tools", "tool"),
        ("sources", "source"),
        ("files", "file"),
        ("groups", "group"),
        ("mcp_servers", "mcp-server"),
    ):
        yield "current", name, doc[section][0]
    yield "current", "skill", SKILL
    yield "legacy", "agent", {k: ([] if k in ("core_memory", "messages", "tools") else v) for k, v in legacy.items()}
    yield "legacy", "block", legacy["core_memory"][0]
    yield "legacy", "message", legacy["messages"][1]
    yield "legacy", "tool", legacy["tools"][0]


def test_both_engines_agree_on_the_letta_schemas():
    checked = failing = 0
    for version, name, seed in _seeds():
        schemas = schema_set("letta", version)
        for instance in _mutations(copy.deepcopy(seed)):
            outcomes = []
            for engine in ("fast", "reference"):
                found = schemas.check(name, instance, engine=engine)
                outcomes.append(sorted((json.dumps(c.instance_path), c.code, c.severity, c.message) for c in found))
            assert outcomes[0] == outcomes[1], (version, name, instance)
            severities = {severity for _, _, severity, _ in outcomes[1]}
            # a plan's quick question (is there an error?) gets the same answer
            assert not schemas.errors_only(name).is_valid(instance) or "error" not in severities, (version, name, instance)
            checked += 1
            failing += bool(outcomes[1])
    assert checked > 5000 and failing > checked // 3  # the corpus exercises the rules, not just valid records


# ---------------------------------------------------------------------------------------------
# Bad input: one located line, never a traceback, nothing written


def test_truncated_files_are_located(tmp_path):
    src = tmp_path / "cut.af"
    src.write_bytes(COMPANION.read_bytes()[:9000])
    result = run("validate", src)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(
        r"cut\.af, line \d+, record 0, \$\.agents\[0\]: malformed JSON: .*truncated.*Corrupted agent file format", result.output
    )
    result = run("inspect", src)
    assert result.exit_code == 2 and "malformed JSON" in result.output and "truncated" in result.output
    result = run("convert", src, "--to", "letta", "-o", tmp_path / "out.af")
    assert result.exit_code == 2 and not (tmp_path / "out.af").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.af")]


def test_wrong_types_name_the_field_and_reading_refuses_what_it_cannot_hold(tmp_path):
    doc = companion()
    doc["blocks"][1] = "human"
    src = write_af(tmp_path / "wrong.af", doc)
    result = run("validate", src)
    assert (
        result.exit_code == 1
        and "record 1, $.blocks[1]: a block is a JSON object; expected an object, got 'human' [letta.block.type]" in result.output
    )
    with pytest.raises(memport.MalformedInputError, match=r"wrong\.af, record 1, \$\.blocks\[1\]: expected a block object, got 'human'"):
        memport.read(src)
    doc = companion()
    doc["agents"] = {"companion": {}}
    src = write_af(tmp_path / "agents.af", doc)
    with pytest.raises(
        memport.MalformedInputError,
        match=r"\$\.agents: agents must be an array, got an object of 1 item \(Letta rejects such a file as the legacy shape\)",
    ):
        memport.read(src)
    assert [p.code for p in memport.validate(src).errors] == ["letta.bundle.agents"]


def test_huge_nesting_is_refused_clearly(tmp_path):
    doc = companion()
    doc["agents"][0]["messages"][1]["content"] = "PLACEHOLDER"
    text = exported(doc).decode().replace('"PLACEHOLDER"', "[" * 100_000 + "]" * 100_000)
    src = tmp_path / "deep.af"
    src.write_text(text)
    result = run("validate", src)
    assert result.exit_code == 1 and "nested too deeply" in result.output and "Traceback" not in result.output
    result = run("convert", src, "--to", "letta", "-o", tmp_path / "out.af")
    assert result.exit_code == 2 and "nested too deeply" in result.output and not (tmp_path / "out.af").exists()


def test_bytes_that_are_not_utf8_and_empty_files(tmp_path):
    src = tmp_path / "latin1.af"
    src.write_bytes(COMPANION.read_bytes().replace("naïve".encode(), "naïve".encode("latin-1")))
    result = run("validate", src)
    assert result.exit_code == 1 and "not valid UTF-8 at byte" in result.output
    (tmp_path / "empty.af").write_bytes(b"")
    result = run("inspect", tmp_path / "empty.af")
    assert result.exit_code == 2 and "not a memory bundle" in result.output and "letta:" in result.output


def test_a_real_process_prints_one_line(tmp_path):
    src = tmp_path / "triple.af"
    src.write_text(json.dumps(json.dumps(exported(companion()).decode())))
    done = subprocess.run(
        [sys.executable, "-m", "memport", "convert", str(src), "--to", "letta", "-o", str(tmp_path / "o.af")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "encoded three times" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------
# The CLI on the fixtures


def test_inspect_validate_and_convert_from_the_cli(tmp_path):
    result = run("inspect", COMPANION, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "format": "letta",
        "version": "current",
        "counts": {"memories": 3, "relations": 0, "nodes": 0, "documents": 1, "chunks": 0, "pending": 0, "messages": 6},
        "needs_reembedding": 9,  # blocks and messages
        "notes": [],
    }
    assert "messages   5" in run("inspect", DOUBLE).output
    assert json.loads(run("validate", COMPANION, "--json").output) == {
        "valid": True,
        "format": "letta",
        "version": "current",
        "errors": [],
        "warnings": [],
        "omitted": 0,
        "by_code": {},
        "notes": [],
    }
    assert run("validate", DOUBLE).exit_code == 0 and run("validate", DOUBLE, "--strict").exit_code == 1
    result = run("validate", LEGACY)
    assert (
        result.exit_code == 1 and "[letta.bundle.legacy]" in result.output and "letta legacy: invalid: 1 error, 1 warning" in result.output
    )
    out = tmp_path / "upgraded.af"
    result = run("convert", LEGACY_FLAGS, "--to", "letta", "-o", out, "--loss-report", tmp_path / "losses.json")
    assert result.exit_code == 0 and f"wrote letta bundle to {out}" in result.output
    assert json.loads((tmp_path / "losses.json").read_text())["written"] == 6
    assert run("validate", out, "--strict").exit_code == 0
    assert run("convert", LEGACY, "--to", "letta", "-o", tmp_path / "strict.af", "--strict").exit_code == 1  # the upgrade loses timestamps


# ---------------------------------------------------------------------------------------------
# Generated files: read then written, the same bytes; valid ones validate without an error


SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
GENERATED_LAYOUTS = {**LAYOUTS, "exporter": exported, "double-encoded": lambda doc: json.dumps(exported(doc).decode(), indent=2).encode()}


@SETTINGS
@given(letta_file(), st.sampled_from(sorted(GENERATED_LAYOUTS)))
def test_generated_agent_files_round_trip(tmp_path_factory, doc, layout):
    folder = tmp_path_factory.mktemp("af")
    src = folder / "generated.af"
    src.write_bytes(GENERATED_LAYOUTS[layout](doc))
    first = memport.read(src)
    assert first.counts()["memories"] == len(doc["blocks"]) and first.counts()["messages"] == sum(len(a["messages"]) for a in doc["agents"])
    memport.write(first, folder / "out.af")
    assert (folder / "out.af").read_bytes() == src.read_bytes()
    records_equal(first, memport.read(folder / "out.af"))
    assert memport.validate(src).errors == []


legacy_messages = st.lists(
    st.fixed_dictionaries(
        {
            "created_at": st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 1, 1)).map(lambda d: d.isoformat()),
            "role": st.sampled_from(["system", "user", "assistant", "tool"]),
            "content": st.lists(st.builds(lambda t: {"type": "text", "text": t}, letta_text), max_size=2) | letta_text,
            "tool_calls": st.just([]),
            "tool_returns": st.just([]),
            "updated_at": st.just("2025-04-01T03:47:27"),
        }
    ),
    max_size=5,
)


@SETTINGS
@given(
    st.lists(
        st.fixed_dictionaries({"label": letta_text, "value": letta_text, "limit": st.integers(1, 10**5), "metadata_": st.just({})}),
        max_size=4,
    ),
    legacy_messages,
    st.lists(st.integers(-1, 6), max_size=6) | st.none(),
    st.lists(st.sampled_from(["send_message", "conversation_search", "archival_memory_insert"]), max_size=3),
    letta_text,
)
def test_generated_legacy_files_upgrade_to_files_without_errors(tmp_path_factory, core_memory, messages, indices, tool_names, name):
    legacy = {
        "agent_type": "memgpt_agent",
        "core_memory": core_memory,
        "messages": messages,
        "name": name,
        "system": "s",
        "tools": [{"name": t, "tool_type": "letta_core", "source_code": None} for t in tool_names],
        "version": "0.7.0",
    }
    if indices is not None:
        legacy["in_context_message_indices"] = indices
    folder = tmp_path_factory.mktemp("legacy")
    src = folder / "legacy.af"
    src.write_text(json.dumps(legacy, separators=(",", ":"), ensure_ascii=False) + "\n")
    result = upgrade(memport.read(src))
    assert result.conversion.closed and result.version == "current"
    memport.write(result, folder / "new.af")
    assert memport.validate(folder / "new.af").errors == []
    agent = json.loads((folder / "new.af").read_bytes())["agents"][0]
    assert len(agent["in_context_message_ids"]) == len(set(agent["in_context_message_ids"]))
    assert set(agent["in_context_message_ids"]) <= {m["id"] for m in agent["messages"]}


# ---------------------------------------------------------------------------------------------
# Streaming


def _many_agents(count: int) -> bytes:
    """An agent file of ``count`` agents with 20 messages each (about 170 kB an agent)."""
    doc = companion()
    template, agents, blocks = doc["agents"][0], [], []
    for index in range(count):
        messages = [
            {
                **template["messages"][1],
                "id": f"message-{index * 20 + n}",
                "agent_id": f"agent-{index}",
                "content": [{"type": "text", "text": f"word {n} " * 1000}],
            }
            for n in range(20)
        ]
        agents.append(
            {
                **template,
                "id": f"agent-{index}",
                "name": f"agent {index}",
                "block_ids": [f"block-{index}"],
                "source_ids": [],
                "files_agents": [],
                "group_ids": [],
            }
            | {"messages": messages, "in_context_message_ids": [m["id"] for m in messages]}
        )
        blocks.append({**doc["blocks"][0], "id": f"block-{index}", "label": f"label-{index:05d}"})
    return exported({**doc, "agents": agents, "blocks": blocks, "groups": []})


def test_validation_streams_memory_stays_flat(tmp_path):
    import tracemalloc

    peaks, sizes = [], []
    for count in (50, 150):
        src = tmp_path / f"many-{count}.af"
        src.write_bytes(_many_agents(count))
        sizes.append(src.stat().st_size)
        tracemalloc.start()
        report = memport.validate(src)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert report.valid and report.problems == []
    # three times the agents: the same window of text and one agent at a time; only the ids and
    # references the checks across records need grow (measured: 0.02 of the file's growth)
    assert peaks[1] - peaks[0] < 0.1 * (sizes[1] - sizes[0]), (peaks, sizes)


@pytest.mark.parametrize(
    "src, order",
    [
        (COMPANION, ["messages"] * 6 + ["memories"] * 3 + ["documents"]),
        (DOUBLE, ["messages"] * 5 + ["memories"] * 3 + ["documents"]),
        (LEGACY, ["memories"] * 2 + ["messages"] * 4),
    ],
    ids=["companion", "double", "legacy"],
)
def test_records_stream_for_the_store_with_the_header_as_read(src, order):
    detection = memport.detect(src)
    streamed = list(PLUGIN.records(src, detection))
    bundle = memport.read(src)
    assert [r.kind for r in streamed] == order  # the file's order: agents (their messages) come first
    assert detection.details["header"] == bundle.meta.header  # agents without their messages, records' places as null
    assert PLUGIN.count(src, detection) == {k: bundle.counts()[k] for k in ("memories", "messages", "documents")}
    block = next(r for r in streamed if r.kind == "memories")
    indexed = PLUGIN.index("memories", block.value, UTC)
    assert indexed.title == block.value["label"] and indexed.content == block.value["value"]
    assert PLUGIN.identity_bytes("memories", block.value) == PLUGIN.identity("memories", block.value).encode()


def test_identities_are_what_stays_from_one_export_to_the_next():
    """File ids are numbered anew on every export (§3): a block is its agents and label, a message
    its agent, time, role and text, a file its source and name; the records carry that context."""
    streamed = list(PLUGIN.records(COMPANION, memport.detect(COMPANION)))
    identities = [(r.kind, PLUGIN.identity(r.kind, r.value)) for r in streamed]
    assert len(set(identities)) == len(identities)
    assert ("memories", '[["companion","companion-sleeptime"],"human"]') in identities
    assert ("documents", '["race-notes","race-notes/results.md"]') in identities
    # the system message without a hash of its text: Letta renders it again when a block changes
    assert ("messages", '["companion","2026-01-22T02:06:35.101954Z","system",null]') in identities
    message = next(r.value for r in streamed if r.kind == "messages" and r.value["id"] == "message-2")
    assert message["$memport"] == {"agent": "companion", "in_context": True}
    assert PLUGIN.index("messages", message, UTC).content == "Congratulations, Chad! That's wonderful news."
    block = next(r.value for r in streamed if r.kind == "memories" and r.value["label"] == "persona")
    assert block["$memport"] == {"owners": ["companion", "companion-sleeptime"], "agent": "companion"}
    # the legacy shape: the same identities, its one agent named as the upgrade names it
    legacy = [PLUGIN.identity(r.kind, r.value) for r in PLUGIN.records(LEGACY, memport.detect(LEGACY)) if r.kind == "memories"]
    assert legacy == ['[["memgpt_agent_v1"],"persona"]', '[["memgpt_agent_v1"],"human"]']


def test_the_views_keep_secrets_out(tmp_path):
    doc = companion()
    _secret(doc)
    _token_url(doc)
    doc["mcp_servers"].append(
        {
            "id": "mcp_server-1",
            "server_name": "db",
            "server_url": "https://admin:hunter2@db.example.com/mcp?api_key=abc",
            "server_type": "sse",
        }
    )
    bundle = memport.read(write_af(tmp_path / "secrets.af", doc))
    assert bundle.agents.loc[0, "secret_names"] == ["WEATHER_API_KEY"]
    assert "sk-live" not in bundle.agents.to_string()
    servers = bundle.mcp_servers
    assert list(servers["server_url"]) == ["https://mcp.example.com/api/mcp/s/***/mcp", "https://db.example.com/mcp"]
    assert list(servers["url_credentials"]) == [True, True]
    assert "hunter2" not in servers.to_string() and "abc" not in servers.to_string()
    html = bundle._repr_html_()
    assert "<script>" not in html
    doc["agents"][0]["name"] = "<script>alert(1)</script>"
    assert "&lt;script&gt;" in memport.read(write_af(tmp_path / "html.af", doc))._repr_html_()
