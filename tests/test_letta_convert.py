"""Conversions to and from Letta's agent file (shared/formats/letta.md §19, §20): every ordered pair
with the other formats validates with closed accounting and the same bytes twice; what has no home
is reported; a round trip through another format comes back; what memport writes is a file Letta
imports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native import write_doclea
from strategies import doclea_memory, kagura_memory, letta_file, tribal_entry

import memport
from memport.cli import cli
from memport.formats import plugin
from memport.formats.doclea.codec import MEMORY as DOCLEA_MEMORY
from memport.formats.kagura.codec import MEMORY as KAGURA_MEMORY
from memport.formats.tribal.codec import ENTRY as TRIBAL_ENTRY

FIXTURES = Path(__file__).parent / "fixtures" / "letta"
LETTA = {
    "letta": FIXTURES / "companion.af",
    "letta-legacy": FIXTURES / "legacy-0.6.47.af",
    "letta-double": FIXTURES / "companion-double.af",
}
OTHERS = ["kagura", "tribal", "tribal-jsonl", "doclea"]
SUFFIX = {"kagura": "", "tribal": ".json", "tribal-jsonl": ".jsonl", "doclea": ".json", "letta": ".af"}
PAIRS = [(a, b) for a in LETTA for b in OTHERS] + [(a, "letta") for a in OTHERS]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CODECS = {"kagura": KAGURA_MEMORY, "tribal": TRIBAL_ENTRY, "doclea": DOCLEA_MEMORY}


@pytest.fixture(scope="module")
def paths(src):
    return {**src, **LETTA}


def snapshot(path: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(path.iterdir())] if path.is_dir() else [path.read_bytes()]


def converted(path: Path, target: str, out: Path) -> memport.Bundle:
    result = memport.convert(memport.read(path), target)
    memport.write(result, out)
    return result


@pytest.mark.parametrize("source, target", PAIRS)
def test_every_pair_with_letta_validates_accounts_and_is_deterministic(paths, tmp_path, source, target):
    out = tmp_path / ("out" + SUFFIX[target])
    result = converted(paths[source], target, out)
    assert memport.validate(out).errors == []
    conversion = result.conversion
    assert conversion.input == sum(memport.read(paths[source]).counts().values())
    assert conversion.input == conversion.written + conversion.merged + sum(conversion.dropped.values()) and conversion.closed
    # every drop is a listed loss too
    assert sum(loss.count for loss in conversion.losses.values() if loss.field == "(record)") == sum(conversion.dropped.values())
    again = tmp_path / ("again" + SUFFIX[target])
    converted(paths[source], target, again)
    assert snapshot(again) == snapshot(out)


def test_what_an_agent_file_holds_beyond_memory_is_reported_by_name(paths):
    report = memport.convert(memport.read(paths["letta"]), "kagura").conversion
    assert report.to_dict()["dropped"] == {
        "no conversations in kagura: only Letta holds an agent's messages": 6,
        "no documents in kagura": 1,
    }
    losses = {(loss.kind, loss.field): loss for loss in report.losses.values()}
    assert losses[("agents", "(native data)")].examples == ["companion", "companion-sleeptime"]
    assert losses[("tools", "(native data)")].count == 5 and losses[("mcp_servers", "(native data)")].examples == ["weather"]
    assert losses[("sources", "(native data)")].examples == ["race-notes"] and losses[("groups", "(native data)")].count == 1
    assert losses[("messages", "(record)")].count == 6


def test_blocks_are_memories_of_their_agent_and_files_are_documents(paths):
    letta = memport.read(paths["letta"])
    kagura = memport.convert(letta, "kagura")
    memories = {m.key: m for m in kagura.records.memories}
    assert sorted(memories) == ["human", "notes", "persona"]
    assert memories["human"].content.startswith("First name: Chad") and memories["human"].scope == "persistent"
    # Letta's own fields travel where Kagura has room, so a block comes back to its agents
    assert memories["persona"].metadata["letta"] == {"owners": ["companion", "companion-sleeptime"], "limit": 20000, "read_only": False}
    assert memories["persona"].metadata["summary"] == "The persona block: who you are and how you speak."
    doclea = memport.convert(letta, "doclea")
    assert [(d.title, d.content) for d in doclea.records.documents] == [("race-notes/results.md", "# Results\nWinner: Chad\nTime: 1:02:03")]
    losses = {(loss.kind, loss.field) for loss in doclea.conversion.losses.values()}
    assert {("memories", "letta fields"), ("documents", "file_type"), ("memories", "agent_name")} <= losses


@pytest.mark.parametrize("via", ["kagura", "tribal", "tribal-jsonl"])
def test_a_letta_file_through_another_format_comes_back_to_its_agents(paths, tmp_path, via):
    original = memport.read(paths["letta"])
    back = memport.convert(memport.convert(original, via), "letta")
    assert sorted((m.key, m.content, m.summary, json.dumps(m.metadata)) for m in back.records.memories) == sorted(
        (m.key, m.content, m.summary, json.dumps(m.metadata)) for m in original.records.memories
    )
    assert dict(zip(back.memories["key"], back.memories["owners"])) == dict(zip(original.memories["key"], original.memories["owners"]))
    assert [m.extra["limit"] for m in back.records.memories] == [20000, 5000, 20000]
    memport.write(back, tmp_path / "back.af")
    assert memport.validate(tmp_path / "back.af").errors == []


@pytest.mark.parametrize("name", ["kagura", "tribal", "doclea"])
def test_a_bundle_through_letta_comes_back(paths, name):
    """What a block has no field for travels in its metadata (``memport``): the memories come back
    (Letta lists blocks by label: compared as sets)."""
    original = memport.read(paths[name])
    there = memport.convert(original, "letta")
    back = memport.convert(there, name)
    codec = CODECS[name]

    def natives(bundle):
        return sorted(json.dumps(codec.encode(m), sort_keys=True) for m in bundle.records.memories)

    expected = natives(original)
    if name == "kagura":  # MCP's _meta_ working record travels as its memory's metadata, which working memories lack
        expected = natives(_without_meta(original))
    if name == "tribal":  # vectors have no home in Letta; times come back in Tribal's own dialect with +00:00
        expected = [_tribal_shape(line) for line in expected]
    got = natives(back)
    if name == "kagura":  # Kagura's export time is the conversion's
        expected, got = _without(expected, "exported_at"), _without(got, "exported_at")
    assert got == expected


def _without_meta(bundle):
    bundle.records.memories = [m for m in bundle.records.memories if not (isinstance(m.key, str) and m.key.startswith("_meta_"))]
    return bundle


def _tribal_shape(line: str) -> str:
    entry = json.loads(line)
    entry["embedding"] = None
    for key in ("created_at", "updated_at"):
        if not entry[key].endswith("+00:00"):
            entry[key] += "+00:00"
    return json.dumps(entry, sort_keys=True)


def _without(lines: list[str], key: str) -> list[str]:
    return sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != key}, sort_keys=True) for line in lines)


def test_the_file_memport_writes_follows_section_20(paths, tmp_path):
    """One agent per agent name, labels unique within an agent, ids numbered as Letta's exporter
    numbers them, every reference resolvable, no model invented (reported)."""
    result = memport.convert(memport.read(paths["kagura"]), "letta")
    memport.write(result, tmp_path / "k.af")
    data = (tmp_path / "k.af").read_bytes()
    doc = json.loads(data)
    assert list(doc) == ["agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers", "skills", "metadata", "created_at"]
    assert [(a["id"], a["name"], a["block_ids"]) for a in doc["agents"]] == [
        ("agent-0", "global", ["block-0", "block-1", "block-2"]),
        ("agent-1", "thread_7", ["block-3"]),
    ]
    assert [b["label"] for b in doc["blocks"]] == sorted(b["label"] for b in doc["blocks"])
    assert doc["metadata"] == {"revision_id": "unknown"} and doc["created_at"] == "2025-06-01T12:00:00.125000+00:00"
    agent = doc["agents"][0]
    assert (agent["memory_blocks"], agent["tools"], agent["initial_message_sequence"], agent["include_base_tools"]) == ([], [], None, False)
    losses = {(loss.kind, loss.field): loss for loss in result.conversion.losses.values()}
    assert losses[("agents", "llm_config")].examples == ["global", "thread_7"]
    assert data == json.dumps(doc, indent=2, ensure_ascii=False).encode()  # the exporter's layout
    assert {p.code for p in memport.validate(tmp_path / "k.af").problems} == {"letta.agent.model-config"}


def test_labels_are_unique_within_an_agent(tmp_path):
    entries = [
        {"id": f"e{n}", "content": f"text {n}", "created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:00+00:00"}
        for n in range(3)
    ]
    doc = {
        "version": "1.0.0",
        "exportedAt": 1748779200,
        "data": {
            "memories": [
                {"id": "m1", "type": "note", "title": "Deploy", "content": "a", "createdAt": 1, "accessedAt": 1},
                {"id": "m2", "type": "note", "title": "Deploy", "content": "b", "createdAt": 2, "accessedAt": 2},
            ],
            "documents": [],
            "chunks": [],
            "memoryRelations": [],
            "crossLayerRelations": [],
            "pendingMemories": [],
        },
    }
    result = memport.convert(memport.read(write_doclea(tmp_path / "d.json", doc)), "letta")
    assert [m.key for m in result.records.memories] == ["Deploy", "Deploy-2"]
    loss = next(loss for loss in result.conversion.losses.values() if loss.field == "key")
    assert "written as 'Deploy-2'" in loss.note
    assert entries  # (Tribal entries have no title: their label is memory, memory-2, ...)
    tribal = {
        "manifest": {"schema_version": "1.0", "embedding": {"model_name": "m", "dimensions": 4}, "memory_count": 3},
        "entries": entries,
    }
    (tmp_path / "t.json").write_text(json.dumps(tribal))
    assert [m.key for m in memport.convert(memport.read(tmp_path / "t.json"), "letta").records.memories] == [
        "memory",
        "memory-2",
        "memory-3",
    ]


def test_documents_become_files_of_a_source_named_after_their_format(paths, tmp_path):
    result = memport.convert(memport.read(paths["doclea"]), "letta")
    memport.write(result, tmp_path / "d.af")
    doc = json.loads((tmp_path / "d.af").read_bytes())
    assert [(s["id"], s["name"]) for s in doc["sources"]] == [("source-0", "doclea")]
    assert [(f["id"], f["source_id"], f["file_name"], f["content"]) for f in doc["files"]] == [
        ("file-0", "source-0", "Intro", "\U0001f4d8 Intro")
    ]
    assert result.conversion.to_dict()["dropped"] == {
        "Letta splits a file into passages itself when it imports it: chunks are not carried": 1,
        "no pending memories in letta": 1,
        "no relations in letta: blocks do not link to each other": 3,
    }


@pytest.mark.parametrize("target", ["letta"])
def test_every_field_without_a_home_in_letta_is_reported(paths, target):
    homeless = sorted(name for name, where in plugin(target).mapping.items() if not where)
    assert homeless == ["chunks", "embedding", "nodes", "pending", "relations"]
    evidence = {"embedding": "tribal", "nodes": "kagura", "relations": "doclea", "chunks": "doclea", "pending": "doclea"}
    for name in homeless:
        report = memport.convert(memport.read(paths[evidence[name]]), target).conversion
        kinds = {(loss.kind, loss.field) for loss in report.losses.values()}
        expected = ("memories", "embedding") if name == "embedding" else (name, "(record)")
        assert expected in kinds, name


def test_converting_an_agent_file_on_the_command_line(paths, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["convert", str(paths["letta"]), "--to", "tribal", "-o", str(tmp_path / "t.json")], catch_exceptions=False)
    assert result.exit_code == 0 and "letta -> tribal: input 10 = written 3 + merged 0 + dropped 7" in result.output
    strict = runner.invoke(cli, ["convert", str(paths["letta"]), "--to", "tribal", "-o", str(tmp_path / "s.json"), "--strict"])
    assert strict.exit_code == 1 and not (tmp_path / "s.json").exists()


def test_names_letta_refuses_are_made_acceptable_and_kept(tmp_path):
    memory = {
        "type": "memory",
        "scope": "working",
        "key": "k",
        "value": "v",
        "user_id": "u",
        "agent_name": "team/bot.v2",
        "exported_at": "2025-01-01T00:00:00",
    }
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "memories.jsonl").write_text(json.dumps(memory) + "\n")
    result = memport.convert(memport.read(folder), "letta")
    memport.write(result, tmp_path / "k.af")
    doc = json.loads((tmp_path / "k.af").read_bytes())
    assert doc["agents"][0]["name"] == "team_bot_v2" and re.fullmatch(r"[\w '\-]+", doc["agents"][0]["name"])
    assert doc["blocks"][0]["metadata"]["memport"]["fields"]["agent_name"] == "team/bot.v2"
    renamed = next(loss for loss in result.conversion.losses.values() if (loss.kind, loss.field) == ("agents", "name"))
    assert renamed.examples == ["'team/bot.v2' -> 'team_bot_v2'"] and renamed.note.startswith("renamed: Letta accepts only names")
    back = memport.convert(memport.read(tmp_path / "k.af"), "kagura")
    assert back.records.memories[0].agent_name == "team/bot.v2"


# ---------------------------------------------------------------------------------------------
# Properties


def check(path: Path, folder: Path, back: bool = True) -> None:
    bundle = memport.read(path)
    result = memport.convert(bundle, "letta")
    assert result.conversion.closed, result.conversion.to_dict()
    memport.write(result, folder / "out.af", overwrite=True)
    assert memport.validate(folder / "out.af").errors == []
    if back:
        home = memport.convert(memport.read(folder / "out.af"), bundle.format)
        # every block comes home (Kagura merges what shares its identity there, as Kagura does)
        assert home.conversion.closed and home.conversion.dropped == {} and home.conversion.input == len(result.records.memories)


@SETTINGS
@given(st.lists(kagura_memory, max_size=5))
def test_any_kagura_bundle_converts_to_letta_and_back(tmp_path_factory, memories):
    folder = tmp_path_factory.mktemp("k")
    (folder / "bundle").mkdir()
    (folder / "bundle" / "memories.jsonl").write_text("".join(json.dumps(m) + "\n" for m in memories))
    check(folder / "bundle", folder)


@SETTINGS
@given(st.lists(tribal_entry, max_size=5))
def test_any_tribal_bundle_converts_to_letta_and_back(tmp_path_factory, entries):
    folder = tmp_path_factory.mktemp("t")
    manifest = {"schema_version": "1.0", "embedding": {"model_name": "m", "dimensions": 4}, "memory_count": len(entries)}
    (folder / "b.json").write_text(json.dumps({"manifest": manifest, "entries": entries}))
    check(folder / "b.json", folder)


@SETTINGS
@given(st.lists(doclea_memory, max_size=4))
def test_any_doclea_bundle_converts_to_letta_and_back(tmp_path_factory, memories):
    folder = tmp_path_factory.mktemp("d")
    doc = {"version": "1.0.0", "exportedAt": 1748779200, "data": {"memories": memories}}
    for section in ("documents", "chunks", "memoryRelations", "crossLayerRelations", "pendingMemories"):
        doc["data"][section] = []
    check(write_doclea(folder / "d.json", doc), folder)


@SETTINGS
@given(letta_file())
def test_any_agent_file_converts_to_every_other_format(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("af")
    src = folder / "any.af"
    src.write_text(json.dumps(doc))
    bundle = memport.read(src)
    for target in OTHERS:
        result = memport.convert(bundle, target)
        assert result.conversion.closed, result.conversion.to_dict()
        out = folder / f"out-{target}{SUFFIX[target]}"
        memport.write(result, out, overwrite=True)
        if target == "tribal-jsonl" and not result.records.memories:
            continue  # an empty stream is an empty file: nothing to detect
        assert memport.validate(out).errors == [], target
