"""Strict decisions files: every fault located by file and line, nothing applied that the records
cannot take, and decisions no record needed listed rather than dropped in silence."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner
from native import TRIBAL_ENTRY, tribal_bundle, write_tribal

import memport
from memport.cli import cli
from memport.planning import load_decisions

A, B = "0b7c6a52-1111-4a2b-9c3d-00000000000a", "0b7c6a52-1111-4a2b-9c3d-00000000000b"
UID_A, UID_B = f"tribal:memories:{A}", f"tribal:memories:{B}"


def entry(ident, **changes):
    return dict(copy.deepcopy(TRIBAL_ENTRY), id=ident, **changes)


@pytest.fixture
def setting(tmp_path):
    """A store holding two entries, a bundle in which both differ, and a decision for each."""
    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(write_tribal(tmp_path / "old.json", tribal_bundle([entry(A), entry(B)])), store)
    changed = write_tribal(tmp_path / "new.json", tribal_bundle([entry(A, content="changed A"), entry(B, tags=["b"])]))
    plan = memport.plan(changed, store, strategy="manual")
    decisions = {d.uid: json.loads(d.to_json()) for d in (plan.decide(UID_A, "take"), plan.decide(UID_B, "keep"))}
    yield store, changed, decisions
    store.close()


def write_lines(path, *lines):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines))
    return path


def refused(store, changed, decisions_file, *mentions):
    """The library raises a located MemportError; the CLI prints it as one line, exit 2."""
    with pytest.raises(memport.MemportError) as err:
        memport.plan(changed, store, strategy="manual", decisions=decisions_file)
    for text in mentions:
        assert text in str(err.value), str(err.value)
    result = CliRunner().invoke(
        cli,
        ["import", str(changed), "--db", str(store.path), "--strategy", "manual", "--decisions", str(decisions_file)],
        catch_exceptions=False,
    )
    assert result.exit_code == 2 and result.output == f"memport: {err.value}\n", result.output
    assert "internal error" not in result.output
    return str(err.value)


def test_bytes_that_are_not_utf8_are_located(tmp_path, setting):
    store, changed, decisions = setting
    bad = write_lines(tmp_path / "d.jsonl", decisions[UID_A], json.dumps(decisions[UID_B]).encode().replace(b"keep", b"k\xffeep"))
    message = refused(store, changed, bad, f"{bad}, line 2: ", "not valid UTF-8 at byte")
    assert "UnicodeDecodeError" not in message


def test_malformed_json_is_located(tmp_path, setting):
    store, changed, decisions = setting
    bad = write_lines(tmp_path / "d.jsonl", decisions[UID_A], b'{"uid": "x", "choice": "take",')
    refused(store, changed, bad, f"{bad}, line 2: malformed JSON", "column")


@pytest.mark.parametrize(
    "line, says",
    [
        ([1, 2], "line 1: expected a decision object"),
        ({"uid": UID_A, "choice": "take"}, "line 1: missing existing_hash, incoming_hash"),
        (
            {"uid": UID_A, "choice": "maybe", "existing_hash": "0", "incoming_hash": "0"},
            "line 1, $.choice: one of keep, take, skip, fields, got 'maybe'",
        ),
        ({"uid": 7, "choice": "take", "existing_hash": "0", "incoming_hash": "0"}, "line 1, $.uid: expected a string, got 7"),
        (
            {"uid": UID_A, "choice": "fields", "existing_hash": "0", "incoming_hash": "0"},
            "line 1, $.fields: per-field picks need a fields object",
        ),
        (
            {"uid": UID_A, "choice": "fields", "fields": {"content": "yes"}, "existing_hash": "0", "incoming_hash": "0"},
            "line 1, $.fields.content: keep or take, got 'yes'",
        ),
        (
            {"uid": UID_A, "choice": "take", "fields": {"content": "take"}, "existing_hash": "0", "incoming_hash": "0"},
            "line 1, $.fields: per-field picks are only for the choice fields, not take",
        ),
        ({"uid": UID_A, "choice": "take", "existing_hash": "0", "incoming_hash": "0", "feilds": {}}, "line 1: unknown key 'feilds'"),
    ],
)
def test_a_line_that_is_no_decision_is_located(tmp_path, setting, line, says):
    store, changed, _ = setting
    refused(store, changed, write_lines(tmp_path / "d.jsonl", line), says)


def test_two_decisions_for_one_uid_name_both_lines(tmp_path, setting):
    store, changed, decisions = setting
    other = dict(decisions[UID_A], choice="skip")
    bad = write_lines(tmp_path / "d.jsonl", decisions[UID_A], decisions[UID_B], other)
    refused(store, changed, bad, f"{bad}, line 3: a second decision for", "the first is on line 1")
    with pytest.raises(memport.MalformedInputError, match="line 3"):
        load_decisions(bad)


def test_a_field_the_records_do_not_have_is_refused_with_its_line(tmp_path, setting):
    store, changed, decisions = setting
    picks = dict(decisions[UID_A], choice="fields", fields={"nonexistent_field": "take", "content": "take"})
    bad = write_lines(tmp_path / "d.jsonl", decisions[UID_B], picks)
    message = refused(store, changed, bad, f"{bad}, line 2, $.fields.nonexistent_field: ", "neither the stored nor the incoming record")
    assert "content" in message  # the fields they have
    assert store.native("memories", UID_A)["content"] == TRIBAL_ENTRY["content"]  # nothing written


def test_picks_that_keep_everything_change_nothing_and_say_so(tmp_path, setting):
    store, changed, decisions = setting
    keep = dict(decisions[UID_A], choice="fields", fields={"content": "keep"})
    plan = memport.plan(changed, store, strategy="manual", decisions=write_lines(tmp_path / "d.jsonl", keep, decisions[UID_B]))
    summary = plan.summary()
    assert (summary["updated"], summary["skipped"]) == (0, 2)
    assert [(r.uid, r.action, r.reason) for r in plan.notable] == [
        (UID_A, "skip", "decision-fields-keep"),
        (UID_B, "skip", "decision-keep"),
    ]
    assert plan.apply()["updated"] == 0


def test_a_decision_no_record_needed_is_listed(tmp_path, setting):
    store, changed, decisions = setting
    stranger = dict(decisions[UID_A], uid="tribal:memories:not-in-this-bundle")
    file = write_lines(tmp_path / "d.jsonl", decisions[UID_A], decisions[UID_B], stranger)
    plan = memport.plan(changed, store, strategy="manual", decisions=file)
    assert plan.unused_decisions == ["tribal:memories:not-in-this-bundle"]
    assert plan.summary()["unused_decisions"] == ["tribal:memories:not-in-this-bundle"]
    assert plan.summary()["updated"] == 1 and plan.summary()["skipped"] == 1
    result = CliRunner().invoke(
        cli,
        ["import", str(changed), "--db", str(store.path), "--strategy", "manual", "--decisions", str(file)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert (
        "warning: 1 decision no record of this bundle needed (not in it, or new or unchanged): tribal:memories:not-in-this-bundle"
        in result.output
    )
    as_json = CliRunner().invoke(
        cli,
        ["import", str(changed), "--db", str(store.path), "--strategy", "manual", "--decisions", str(file), "--json", "--dry-run"],
        catch_exceptions=False,
    )
    # A was taken, so it is unchanged now and its decision unneeded; B was kept, so it still differs
    assert json.loads(as_json.output)["unused_decisions"] == [UID_A, "tribal:memories:not-in-this-bundle"]


def test_a_saved_file_loads_back_as_saved(tmp_path, setting):
    _, _, decisions = setting
    file = write_lines(tmp_path / "d.jsonl", decisions[UID_B], b"", decisions[UID_A])  # a blank line is allowed
    loaded = load_decisions(file)
    assert sorted(loaded) == [UID_A, UID_B] and (loaded[UID_A].line, loaded[UID_B].line) == (3, 1)
    again = tmp_path / "again.jsonl"
    memport.save_decisions(loaded.values(), again)
    assert [json.loads(line) for line in again.read_text().splitlines()] == [decisions[UID_A], decisions[UID_B]]
