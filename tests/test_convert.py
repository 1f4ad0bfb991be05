"""Conversions between every ordered pair of formats: valid output, closed accounting, determinism,
A -> B -> A, the loss report, --strict, and the documented mapping."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from native import (
    DOCLEA_MEMORY,
    DOCLEA_RELATION,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    TRIBAL_ENTRY,
    doclea_bundle,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport.cli import cli
from memport.formats import plugin
from memport.formats._convert import mapping_markdown
from memport.formats.doclea.codec import MEMORY as DOCLEA_CODEC
from memport.formats.kagura.codec import MEMORY as KAGURA_MEMORY
from memport.formats.tribal.codec import ENTRY as TRIBAL_ENTRY_CODEC
from memport.formats.tribal.convert import PROVENANCE_PREFIX

FORMATS = ["kagura", "tribal", "tribal-jsonl", "doclea"]
SUFFIX = {"kagura": "", "tribal": ".json", "tribal-jsonl": ".jsonl", "doclea": ".json"}


def converted(path: Path, target: str, out: Path) -> memport.Bundle:
    result = memport.convert(memport.read(path), target)
    memport.write(result, out)
    return result


def snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.is_dir() else {path.name: path.read_bytes()}


PAIRS = [(a, b) for a in FORMATS for b in FORMATS if a != b]


@pytest.mark.parametrize("source, target", PAIRS)
def test_every_pair_validates_accounts_and_is_deterministic(src, tmp_path, source, target):
    out = tmp_path / ("out" + SUFFIX[target])
    result = converted(src[source], target, out)
    report = memport.validate(out)
    assert report.errors == [], [str(p) for p in report.errors]
    conversion = result.conversion
    assert conversion.input == sum(memport.read(src[source]).counts().values())
    assert conversion.input == conversion.written + conversion.merged + sum(conversion.dropped.values())
    assert conversion.closed
    # same input, same bytes
    again = tmp_path / ("again" + SUFFIX[target])
    converted(src[source], target, again)
    assert list(snapshot(again).values()) == list(snapshot(out).values())
    # every drop is a listed loss too
    assert sum(loss.count for loss in conversion.losses.values() if loss.field == "(record)") == sum(conversion.dropped.values())


@pytest.mark.parametrize("source, target", [(a, b) for a in FORMATS for b in FORMATS])
def test_a_file_converted_record_by_record_is_the_bundle_converted_whole(src, tmp_path, source, target):
    """memport.convert_file reads the source record by record (as often as the target needs) and
    writes as the writer asks: the same bytes and the same report as converting the bundle in
    memory; the same format is rewritten as read."""
    streamed = tmp_path / ("streamed" + SUFFIX[target])
    done = memport.convert_file(src[source], target, streamed)
    whole = tmp_path / ("whole" + SUFFIX[target])
    expected = converted(src[source], target, whole)
    assert done["written"] and done["backup"] is None
    assert snapshot(streamed) == {name.replace("whole", "streamed"): data for name, data in snapshot(whole).items()}
    assert done["report"].to_dict() == expected.conversion.to_dict()


def test_convert_file_strict_writes_nothing_when_something_is_lost(src, tmp_path):
    done = memport.convert_file(src["doclea"], "tribal", tmp_path / "t.json", strict=True)
    assert not done["written"] and not (tmp_path / "t.json").exists() and not done["report"].lossless
    kept = memport.convert_file(src["kagura"], "kagura", tmp_path / "k", strict=True)  # nothing lost: written
    assert kept["written"] and kept["report"].lossless and snapshot(tmp_path / "k") == snapshot(src["kagura"])


def native_memories(bundle: memport.Bundle) -> list[dict]:
    codec = {"kagura": KAGURA_MEMORY, "tribal": TRIBAL_ENTRY_CODEC, "tribal-jsonl": TRIBAL_ENTRY_CODEC, "doclea": DOCLEA_CODEC}[
        bundle.format
    ]
    return [codec.encode(m) for m in bundle.records.memories]


def there_and_back(path: Path, via: str) -> tuple[memport.Bundle, memport.Bundle]:
    original = memport.read(path)
    return original, memport.convert(memport.convert(original, via), original.format)


def test_doclea_through_kagura_comes_back_whole_except_what_kagura_cannot_hold(src):
    original, back = there_and_back(src["doclea"], "kagura")
    assert native_memories(back) == native_memories(original)

    def rows(b):
        return sorted((r.kind, r.id, r.source, r.target, r.type, json.dumps(r.metadata), r.created_at.raw) for r in b.records.relations)

    assert rows(back) == rows(original)
    assert back.counts()["documents"] == 0  # no home in Kagura: reported on the way there


def test_kagura_through_tribal_comes_back_whole_except_export_times(src):
    original, back = there_and_back(src["kagura"], "tribal")

    def strip(records):
        return [{k: v for k, v in r.items() if k != "exported_at"} for r in records]

    # the MCP companion "_meta_draft_topic" (the second record) was folded into its working memory,
    # which holds no metadata in Kagura: it does not come back
    assert strip(native_memories(back)) == strip(native_memories(original))[:1] + strip(native_memories(original))[2:]


def test_tribal_through_kagura_keeps_ids_text_tags_and_links(src):
    original, back = there_and_back(src["tribal"], "kagura")
    for a, b in zip(original.records.memories, back.records.memories):
        assert (b.id, b.content, b.tags, b.context, b.supersedes, b.related_to, b.source_type, b.confidence, b.source_instance) == (
            a.id,
            a.content,
            a.tags,
            a.context,
            a.supersedes,
            a.related_to,
            a.source_type,
            a.confidence,
            a.source_instance,
        )
        assert b.created_at.utc.replace(microsecond=0) == a.created_at.utc.replace(microsecond=0)
        assert b.embedding is None  # Kagura holds no vectors: reported


def test_tribal_through_doclea_keeps_ids_text_tags_and_links(src):
    original, back = there_and_back(src["tribal"], "doclea")
    for a, b in zip(original.records.memories, back.records.memories):
        assert (b.id, b.content, b.tags, b.supersedes, b.related_to) == (a.id, a.content, a.tags, a.supersedes, a.related_to)


def test_kagura_through_doclea_keeps_text_keys_and_text(src):
    original = memport.read(src["kagura"])
    there = memport.convert(original, "doclea")
    back = memport.convert(there, "kagura")
    pairs = [(m.key, m.content) for m in original.records.memories if not str(m.key).startswith("_meta_")]
    got = [(m.key, m.content) for m in back.records.memories]
    expected = [(k, c) for k, c in pairs if isinstance(k, str) and isinstance(c, str)]
    assert [(k, c) for k, c in got if k in dict(expected)] == expected
    # the int key 5 and its object value cannot make the trip: both are reported on the way there
    lost = {(loss.field, tuple(loss.examples)) for loss in there.conversion.losses.values()}
    assert ("key", ("5",)) in lost and ("content", ("5",)) in lost


def test_doclea_through_tribal_keeps_memories_and_supersedes(src):
    original, back = there_and_back(src["doclea"], "tribal")
    assert native_memories(back) == native_memories(original)
    assert [(r.source, r.target, r.type) for r in back.records.relations] == [
        ("mem_AbCdEfGh12345678", "mem-1", "supersedes"),
        ("mem-1", "mem_AbCdEfGh12345678", "related_to"),
    ]


def test_loss_report_content(src):
    to_doclea = memport.convert(memport.read(src["tribal"]), "doclea").conversion
    losses = {(loss.kind, loss.field): loss for loss in to_doclea.losses.values()}
    assert losses[("memories", "embedding")].count == 2 and "re-embed" in losses[("memories", "embedding")].note
    assert losses[("memories", "title")].count == 2 and "first line" in losses[("memories", "title")].note
    assert losses[("memories", "context")].examples == ["0b7c6a52-1111-4a2b-9c3d-000000000002"]
    assert to_doclea.created == 2  # the correction's supersedes and related_to became memory relations
    to_tribal = memport.convert(memport.read(src["kagura"]), "tribal").conversion
    assert to_tribal.dropped == {"no graph in tribal": 1, "no nodes in tribal": 2}
    assert to_tribal.merged == 1  # the _meta_ companion folded into its memory
    assert ("memories", "created_at") in {(loss.kind, loss.field) for loss in to_tribal.losses.values()}  # working memories have none
    shape = memport.convert(memport.read(src["doclea"]), "tribal").conversion.to_dict()
    assert list(shape) == ["from", "to", "input", "written", "merged", "created", "dropped", "losses", "notes"]
    assert all(set(loss) >= {"kind", "field", "count", "examples"} for loss in shape["losses"])


def test_vectors_need_one_model_for_tribal(src, tmp_path):
    stream = memport.convert(memport.read(src["tribal-jsonl"]), "tribal").conversion
    assert ("memories", "embedding") in {(loss.kind, loss.field) for loss in stream.losses.values()}
    mixed = tribal_bundle([dict(TRIBAL_ENTRY, id="a"), dict(TRIBAL_ENTRY, id="b", embedding=[0.1, 0.2])])
    bundle = memport.read(write_tribal(tmp_path / "m.json", mixed))
    as_doclea = memport.convert(bundle, "doclea")
    back = memport.convert(as_doclea, "tribal")
    assert all(m.embedding is None for m in back.records.memories)
    kept = memport.convert(memport.read(src["tribal"]), "tribal-jsonl")
    assert [m.embedding.vector for m in kept.records.memories] == [[0.1, -0.2, 0.3], [0.3, 0.2, 0.1]]


def test_kagura_target_rules(src, tmp_path):
    result = memport.convert(memport.read(src["doclea"]), "kagura", user_id="Alice")
    assert {m.user_id for m in result.records.memories} == {"alice"}
    assert all(isinstance(m.key, str) for m in result.records.memories)
    assert {e.type for e in result.records.relations} <= {"related_to", "depends_on", "implements", "includes", "addresses", "similar_to"}
    node_ids = [n.id for n in result.records.nodes]
    assert len(node_ids) == len(set(node_ids)) and result.conversion.created == len(node_ids)
    # two relations between the same memories in the same direction collapse to one edge, reported
    dup = doclea_bundle(memoryRelations=[DOCLEA_RELATION, dict(DOCLEA_RELATION, id="again", type="references")])
    merged = memport.convert(memport.read(write_doclea(tmp_path / "d.json", dup)), "kagura").conversion
    assert merged.merged == 1 and ("relations", "(record)") in {(loss.kind, loss.field) for loss in merged.losses.values()}


def test_doclea_target_rules(tmp_path):
    odd = dict(KAGURA_PERSISTENT, key="k1", metadata={"memport": {"source_format": "kagura"}, "type": "knowledge"})
    bundle = memport.read(write_kagura(tmp_path / "k", [odd, dict(KAGURA_WORKING, key=7, value="first line\nsecond")], metadata=None))
    result = memport.convert(bundle, "doclea")
    memories = result.records.memories
    assert memories[0].type == "note" and ("memories", "type") in {(loss.kind, loss.field) for loss in result.conversion.losses.values()}
    assert memories[1].title == "first line"
    assert all(isinstance(m.created_at.raw, int) for m in memories)


def test_tribal_target_rules(src):
    result = memport.convert(memport.read(src["doclea"]), "tribal")
    for m in result.records.memories:
        assert m.source_type == "unknown" and m.created_at.raw.endswith("+00:00")
        assert all(c.isalnum() or c == "-" for c in m.id)
        assert m.context.startswith(PROVENANCE_PREFIX)
    assert result.meta.header["manifest"]["schema_version"] == "1.0"
    assert isinstance(result.meta.header["manifest"]["embedding"]["dimensions"], int)


def test_strict_and_json_on_the_command_line(src, tmp_path):
    runner = CliRunner()
    out = tmp_path / "strict.json"
    result = runner.invoke(cli, ["convert", str(src["kagura"]), "--to", "tribal", "-o", str(out), "--strict"], catch_exceptions=False)
    assert result.exit_code == 1 and not out.exists() and "not written" in result.output
    report_file = tmp_path / "loss.json"
    result = runner.invoke(
        cli,
        ["convert", str(src["kagura"]), "--to", "doclea", "-o", str(out), "--json", "--loss-report", str(report_file)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and out.exists()
    printed = json.loads(result.output)
    assert printed == json.loads(report_file.read_text())
    assert printed["input"] == printed["written"] + printed["merged"] + sum(printed["dropped"].values())
    lossless = runner.invoke(
        cli, ["convert", str(src["tribal"]), "--to", "tribal", "-o", str(tmp_path / "same.json"), "--strict"], catch_exceptions=False
    )
    assert lossless.exit_code == 0 and (tmp_path / "same.json").read_bytes() == src["tribal"].read_bytes()


def test_mapping_document_is_generated_from_the_code():
    assert (Path(__file__).parent.parent / "docs" / "mapping.md").read_text() == mapping_markdown()


# for each field a target has no home for: a source that has it, and the loss that must be reported
NO_HOME_EVIDENCE = {
    "scope": ("kagura", ("memories", "scope")),
    "user_id": ("kagura", ("memories", "user_id")),
    "agent_name": ("kagura", ("memories", "agent_name")),
    "metadata": ("kagura", ("memories", "metadata")),
    "source_type": ("tribal", ("memories", "source_type")),
    "source_instance": ("tribal", ("memories", "source_instance")),
    "confidence": ("tribal", ("memories", "confidence")),
    "context": ("tribal", ("memories", "context")),
    "embedding": ("tribal", ("memories", "embedding")),
    "nodes": ("kagura", ("nodes", "(record)")),
    "documents": ("doclea", ("documents", "(record)")),
    "chunks": ("doclea", ("chunks", "(record)")),
    "pending": ("doclea", ("pending", "(record)")),
}


@pytest.mark.parametrize("target", ["kagura", "tribal", "doclea"])
def test_every_field_without_a_home_is_reported(src, target):
    homeless = [name for name, where in plugin(target).mapping.items() if not where]
    assert homeless and set(homeless) <= set(NO_HOME_EVIDENCE)
    for name in homeless:
        source, loss = NO_HOME_EVIDENCE[name]
        report = memport.convert(memport.read(src[source]), target).conversion
        assert loss in {(loss.kind, loss.field) for loss in report.losses.values()}, (name, source, target)


def test_lone_surrogates_are_replaced_as_the_targets_would_and_reported(tmp_path):
    src = write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, value="half \ud83d emoji")], metadata=None)
    for target in ("tribal", "doclea"):
        out = tmp_path / f"o-{target}.json"
        result = converted(src, target, out)
        assert result.records.memories[0].content == "half \ufffd emoji"
        assert ("memories", "content") in {(loss.kind, loss.field) for loss in result.conversion.losses.values()}
        assert memport.validate(out).errors == []


def test_repeated_identities_merge_into_kagura_as_kagura_would(tmp_path):
    """Kagura upserts on (scope, key, user, agent) and keeps one edge per ordered pair of nodes: the
    later record wins, written in its own place (what Kagura's importer keeps, the file read once)."""
    other = dict(DOCLEA_MEMORY, id="other", content="in between")
    dup = doclea_bundle(
        memories=[copy.deepcopy(DOCLEA_MEMORY), other, dict(DOCLEA_MEMORY, content="second copy")],
        memoryRelations=[
            DOCLEA_RELATION,
            dict(DOCLEA_RELATION, id="r2", target_id="other"),
            dict(DOCLEA_RELATION, id="again", weight=0.25),
        ],
    )
    out = tmp_path / "k"
    result = converted(write_doclea(tmp_path / "d.json", dup), "kagura", out)
    assert [m.content for m in result.records.memories] == ["in between", "second copy"]
    assert [(e.target, e.weight) for e in result.records.relations] == [("other", 1), (DOCLEA_RELATION["target_id"], 0.25)]
    assert result.conversion.merged == 2 and result.conversion.closed
    assert result.meta.header["stats"] == {"memories": 2, "graph_nodes": 3, "graph_edges": 2}
    assert memport.validate(out).errors == []


def test_values_memport_could_not_interpret_are_reported(tmp_path):
    bundle = memport.read(write_tribal(tmp_path / "t.json", tribal_bundle([dict(TRIBAL_ENTRY, tags="work", scope="user")])))
    losses = {(loss.kind, loss.field) for loss in memport.convert(bundle, "doclea").conversion.losses.values()}
    assert {("memories", "tags"), ("memories", "scope")} <= losses


def test_a_relation_kept_through_kagura_reaches_tribal_as_it_would_directly(src, tmp_path):
    # Doclea's supersedes relation travels through Kagura as an edge that remembers it; Tribal then
    # folds it into the entry's supersedes, as a conversion straight from Doclea does
    direct = memport.convert(memport.read(src["doclea"]), "tribal")
    memport.write(memport.convert(memport.read(src["doclea"]), "kagura"), tmp_path / "k")
    through = memport.convert(memport.read(tmp_path / "k"), "tribal")
    assert {m.supersedes for m in through.records.memories} == {m.supersedes for m in direct.records.memories} == {None, "mem-1"}


def test_a_number_doclea_cannot_hold_is_written_as_its_default_and_reported(tmp_path):
    # Kagura keeps NaN (Python's json); JSON.stringify would write null, which Doclea's types reject
    record = dict(KAGURA_PERSISTENT, metadata={"importance": float("nan")})
    result = memport.convert(memport.read(write_kagura(tmp_path / "k", [record])), "doclea")
    assert result.records.memories[0].importance == 0.5
    (loss,) = [loss for loss in result.conversion.losses.values() if loss.field == "importance"]
    assert (loss.count, loss.note) == (1, "nan has no JSON form Doclea reads back (JSON.stringify writes null): written as 0.5")
    memport.write(result, tmp_path / "d.json")
    assert memport.validate(tmp_path / "d.json").errors == []
