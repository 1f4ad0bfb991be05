"""The CLI contract that scripts and CI depend on: JSON shapes and exit codes; and every command
and option is documented in README.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from native import KAGURA_WORKING, doclea_bundle, reference_kagura, tribal_bundle, write_doclea, write_kagura, write_tribal

import memport
from memport.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text()
COUNT_KEYS = ["memories", "relations", "nodes", "documents", "chunks", "pending", "messages"]


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def test_inspect_json_shape_for_every_format(tmp_path):
    stream = tmp_path / "s.jsonl"
    stream.write_text(json.dumps(tribal_bundle()["entries"][0]) + "\n")
    doclea = doclea_bundle(
        memoryRelations=[
            {
                "id": "r",
                "source_id": "a",
                "target_id": "b",
                "type": "references",
                "weight": 1,
                "metadata": None,
                "created_at": 1748700123456,
            }
        ],
        crossLayerRelations=[
            {
                "id": "x",
                "memory_id": "a",
                "code_node_id": "npm:x",
                "relation_type": "documents",
                "direction": "memory_to_code",
                "confidence": 1,
                "metadata": None,
                "created_at": 1,
            }
        ],
    )
    cases = {
        "kagura": (reference_kagura(tmp_path / "k"), {"memories": 2, "relations": 1, "nodes": 2}),
        "tribal": (write_tribal(tmp_path / "t.json", tribal_bundle()), {"memories": 1}),
        "tribal-jsonl": (stream, {"memories": 1}),
        "doclea": (write_doclea(tmp_path / "d.json", doclea), {"memories": 1, "relations": 2}),
    }
    for fmt, (path, expected) in cases.items():
        result = run("inspect", path, "--json")
        assert result.exit_code == 0
        got = json.loads(result.output)
        assert list(got) == ["format", "version", "counts", "needs_reembedding", "notes"]
        assert got["format"] == fmt and isinstance(got["version"], str)
        assert list(got["counts"]) == COUNT_KEYS
        assert got["counts"] == {k: expected.get(k, 0) for k in COUNT_KEYS}


def test_validate_json_shape_and_exit_codes(tmp_path):
    valid = reference_kagura(tmp_path / "ok")
    result = run("validate", valid, "--json")
    assert result.exit_code == 0
    got = json.loads(result.output)
    notes = got.pop("notes")
    assert got == {"valid": True, "format": "kagura", "version": "1.0", "errors": [], "warnings": [], "omitted": 0, "by_code": {}}
    assert [(n["code"], n["count"]) for n in notes] == [("time.naive-local", 6)]  # every exported_at: a note, not a problem

    warned = write_kagura(tmp_path / "warn", [dict(KAGURA_WORKING, exported_at="2025-06-01T12:00:00Z")])
    assert run("validate", warned).exit_code == 0
    assert run("validate", warned, "--strict").exit_code == 1
    got = json.loads(run("validate", warned, "--json").output)
    assert got["valid"] is True and len(got["warnings"]) == 1
    assert list(got["warnings"][0]) == ["code", "severity", "file", "line", "record", "path", "message"]
    assert got["warnings"][0]["line"] == 1 and got["warnings"][0]["severity"] == "warning"

    invalid = write_kagura(tmp_path / "bad", [dict(KAGURA_WORKING, scope="episodic")])
    result = run("validate", invalid, "--json")
    assert result.exit_code == 1
    got = json.loads(result.output)
    assert got["valid"] is False and got["errors"][0]["code"] == "kagura.memory.scope"
    assert got["errors"][0]["path"] == "$.scope" and got["errors"][0]["file"].endswith("memories.jsonl")

    assert run("validate", tmp_path / "missing", "--json").exit_code == 2


def test_validate_text_output_is_one_line_per_problem(tmp_path):
    src = write_kagura(tmp_path / "bad", [dict(KAGURA_WORKING, scope="episodic"), dict(KAGURA_WORKING, key="k", type="x")])
    lines = run("validate", src).output.strip().splitlines()
    assert len(lines) == 7
    assert lines[0].startswith("error: ") and "line 1" in lines[0] and lines[0].endswith("[kagura.memory.scope]")
    assert lines[2:5] == [
        "2 problems by code:",
        "          1  error    kagura.memory.record-type",
        "          1  error    kagura.memory.scope",
    ]
    assert lines[5] == f"{src}: kagura 1.0: invalid: 2 errors, 0 warnings"
    assert lines[6].startswith("note: 3 naive local times: ")  # said once, after the verdict


def test_convert_same_format_is_byte_exact_and_atomic(tmp_path):
    src = write_doclea(tmp_path / "d.json", doclea_bundle())
    out = tmp_path / "out.json"
    result = run("convert", src, "--to", "doclea", "-o", out)
    assert result.exit_code == 0 and out.read_bytes() == src.read_bytes()
    again = run("convert", src, "--to", "doclea", "-o", out)
    assert again.exit_code == 2 and "already exists" in again.output
    result = run("convert", src, "--to", "doclea", "-o", out, "--overwrite")
    assert result.exit_code == 0 and "previous output kept at" in result.output
    assert len(list(tmp_path.glob("out.json.bak-*"))) == 1


def test_write_to_another_format_needs_a_conversion(tmp_path):
    bundle = memport.read(write_doclea(tmp_path / "d.json", doclea_bundle()))
    with pytest.raises(memport.ConversionError, match=r"memport\.convert"):
        memport.write(bundle, tmp_path / "k", to="kagura")
    assert not (tmp_path / "k").exists()


def test_local_tz_option(tmp_path):
    src = reference_kagura(tmp_path / "k")
    assert run("convert", src, "--to", "kagura", "-o", tmp_path / "o", "--local-tz", "Asia/Tokyo").exit_code == 0
    bad = run("convert", src, "--to", "kagura", "-o", tmp_path / "p", "--local-tz", "Not/AZone")
    assert bad.exit_code == 2 and "unknown time zone 'Not/AZone'" in bad.output and "internal error" not in bad.output
    assert not (tmp_path / "p").exists()


def _commands():
    yield from cli.commands.items()


@pytest.mark.parametrize("name, command", list(_commands()))
def test_every_command_and_option_is_documented(name, command):
    assert f"memport {name}" in README, f"README does not document `memport {name}`"
    usage = re.search(rf"^memport {name} .*$", README, re.MULTILINE)
    assert usage, f"README has no usage line for `memport {name}`"
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(opt in usage.group(0) for opt in param.opts), f"`{name}` option {param.opts} is not in its README usage line"
            assert any(f"`{opt}`" in README or f"{opt} " in README for opt in param.opts)


def test_version_option():
    assert run("--version").output.strip().endswith(memport.__version__)
