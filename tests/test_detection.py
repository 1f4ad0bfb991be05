"""Detection that never guesses silently: --format, empty streams, Kagura's file names, headers
read by inspect too, and symbolic links followed the same way by every command."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from native import KAGURA_PERSISTENT, KAGURA_WORKING, doclea_bundle, kagura_line, tribal_bundle, write_doclea, write_kagura, write_tribal

import memport
from memport.cli import cli
from memport.planning import import_bundle, plan, source_of

READING_COMMANDS = ("inspect", "validate", "import", "diff", "convert")


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def command(name, src, tmp_path, *extra):
    """One of the commands that read a bundle, with what it needs besides SRC (diff: the bundle
    against itself, which differs in nothing: exit 0)."""
    more = {
        "import": ("--db", tmp_path / "store.db"),
        "diff": ("--against", src),
        "convert": ("--to", "doclea", "-o", tmp_path / "converted.json", "--overwrite"),
    }.get(name, ())
    return run(name, src, *more, *extra)


def one_line_failure(result, *mentions):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.count("\n") == 1, result.output
    for text in mentions:
        assert text in result.output, result.output


# --format ---------------------------------------------------------------------------------------


def test_format_names_the_only_plugin_asked(tmp_path):
    tribal = write_tribal(tmp_path / "t.json", tribal_bundle())
    assert memport.detect(tribal, format="tribal") == memport.detect(tribal)
    with pytest.raises(memport.NotABundleError) as err:
        memport.detect(tribal, format="doclea")
    message = str(err.value)
    assert message.startswith(f"{tribal}: this file is not a doclea bundle")
    assert '"schemaVersion"' in message  # what Doclea looks for, and only that
    assert "kagura" not in message and "tribal" not in message.removeprefix(str(tribal))
    with pytest.raises(memport.NotABundleError, match="unknown format 'nope'; known formats: doclea, kagura, letta, tribal, tribal-jsonl"):
        memport.detect(tribal, format="nope")


def test_every_library_verb_takes_the_format(tmp_path):
    tribal = write_tribal(tmp_path / "t.json", tribal_bundle())
    assert memport.read(tribal, format="tribal").format == "tribal"
    assert memport.validate(tribal, format="tribal").valid
    assert memport.inspect(tribal, format="tribal")["counts"]["memories"] == 1
    assert source_of(tribal, format="tribal").format == "tribal"
    store = memport.Store(tmp_path / "s.db")
    assert plan(tribal, store, format="tribal").summary()["inserted"] == 1
    assert import_bundle(tribal, store, format="tribal")["inserted"] == 1
    for verb in (
        lambda: memport.read(tribal, format="kagura"),
        lambda: memport.validate(tribal, format="kagura"),
        lambda: memport.inspect(tribal, format="kagura"),
        lambda: plan(tribal, store, format="kagura"),
        lambda: import_bundle(tribal, store, format="kagura"),
    ):
        with pytest.raises(memport.NotABundleError, match="this file is not a kagura bundle: kagura reads a directory"):
            verb()
    store.close()


@pytest.mark.parametrize("name", READING_COMMANDS)
def test_every_reading_command_takes_the_format(tmp_path, name):
    doclea = write_doclea(tmp_path / "d.json", doclea_bundle())
    assert command(name, doclea, tmp_path, "--format", "doclea").exit_code == 0
    one_line_failure(command(name, doclea, tmp_path, "--format", "tribal"), "d.json: this file is not a tribal bundle")


def test_an_empty_jsonl_file_is_an_empty_tribal_stream(tmp_path):
    empty_kagura = write_kagura(tmp_path / "k", [], metadata=None)
    stream = tmp_path / "empty.jsonl"
    assert run("convert", empty_kagura, "--to", "tribal-jsonl", "-o", stream).exit_code == 0
    assert stream.read_bytes() == b""
    found = memport.detect(stream)
    assert (found.format, found.version) == ("tribal-jsonl", "1.0")
    assert found.evidence == ["an empty JSON Lines file (*.jsonl): a stream of no Tribal entries"]
    assert json.loads(run("inspect", stream, "--json").output)["counts"]["memories"] == 0
    assert run("validate", stream).exit_code == 0
    assert memport.read(stream).counts()["memories"] == 0
    result = run("import", stream, "--db", tmp_path / "s.db", "--json")
    assert json.loads(result.output)["total"] == 0
    # blank lines only: still no entry (validation warns about the blank lines)
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n\n")
    assert memport.detect(blank).format == "tribal-jsonl"
    assert [p.code for p in memport.validate(blank).warnings] == ["file.blank-lines"]
    # an empty file with another name is no bundle memport can tell
    other = tmp_path / "empty.json"
    other.write_bytes(b"")
    one_line_failure(run("inspect", other), "not a memory bundle memport knows")


# Kagura's file names -----------------------------------------------------------------------------


@pytest.mark.parametrize("with_metadata", [True, False])
def test_kagura_files_under_other_names_are_an_error(tmp_path, with_metadata):
    src = write_kagura(tmp_path / "b", metadata="auto" if with_metadata else None)
    (src / "memories.json").write_text(kagura_line(KAGURA_WORKING))
    (src / "graph.json").write_text("")
    for name in READING_COMMANDS:
        one_line_failure(
            command(name, src, tmp_path),
            "holds graph.json, memories.json",
            "Kagura's importer reads memories.jsonl and graph.jsonl",
            "would import nothing",
        )
    with pytest.raises(memport.NotABundleError):
        memport.detect(src)


def test_a_lookalike_next_to_the_real_file_is_only_said(tmp_path):
    src = write_kagura(tmp_path / "b", [KAGURA_PERSISTENT])
    (src / "memories.json").write_text("[]")
    found = memport.detect(src)
    assert "memories.json ignored: Kagura reads memories.jsonl and graph.jsonl only" in found.evidence
    assert memport.validate(src).valid


def test_metadata_alone_is_still_a_bundle(tmp_path):
    """A genuine export with both memory scopes excluded and no graph has only metadata.json."""
    src = write_kagura(tmp_path / "b")
    assert memport.validate(src).valid
    assert memport.inspect(src)["counts"]["memories"] == 0


# inspect reads the header too ----------------------------------------------------------------------


def test_inspect_refuses_a_header_validate_calls_unreadable(tmp_path):
    truncated = write_kagura(tmp_path / "t", [KAGURA_WORKING], raw={"metadata.json": b'{"exported_at": "2025'})
    assert [p.code for p in memport.validate(truncated).errors] == ["json.malformed"]
    one_line_failure(run("inspect", truncated), "metadata.json, line 1: malformed JSON", "truncated?")
    with pytest.raises(memport.MalformedInputError, match="truncated"):
        memport.inspect(truncated)
    array = write_kagura(tmp_path / "a", [KAGURA_WORKING], metadata=[1, 2])
    assert memport.validate(array).errors[0].code.startswith("kagura.metadata")
    one_line_failure(run("inspect", array), "metadata.json")


# symbolic links -----------------------------------------------------------------------------------


def _kagura_with_link(tmp_path, name, target):
    src = write_kagura(tmp_path / name)  # metadata.json only: a bundle without the link
    (src / "memories.jsonl").symlink_to(target)
    return src


@pytest.mark.parametrize("name", READING_COMMANDS)
def test_a_link_loop_or_broken_link_is_refused_by_every_command(tmp_path, name):
    loop = _kagura_with_link(tmp_path, "loop", "memories.jsonl")
    one_line_failure(command(name, loop, tmp_path), "loop/memories.jsonl: a loop of symbolic links")
    broken = _kagura_with_link(tmp_path, "broken", "gone.jsonl")
    one_line_failure(command(name, broken, tmp_path), "broken/memories.jsonl: a symbolic link to gone.jsonl, which does not exist")
    top = tmp_path / "top.json"
    top.symlink_to(tmp_path / "nowhere.json")
    one_line_failure(command(name, top, tmp_path), "top.json: a symbolic link to", "nowhere.json, which does not exist")


def test_links_to_real_files_are_followed_alike(tmp_path):
    real = write_kagura(tmp_path / "real", [KAGURA_PERSISTENT, KAGURA_WORKING])
    linked = write_kagura(tmp_path / "linked")
    (linked / "memories.jsonl").symlink_to(real / "memories.jsonl")
    whole = tmp_path / "whole"
    whole.symlink_to(real, target_is_directory=True)
    for src in (linked, whole):
        assert memport.inspect(src)["counts"]["memories"] == 2
        assert memport.validate(src).valid
        assert memport.read(src).counts()["memories"] == 2
        assert import_bundle(src, memport.Store(":memory:"))["inserted"] == 2
    assert os.path.islink(linked / "memories.jsonl")
