"""Bad input gets one clear, located error; never a traceback, and nothing is written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from native import (
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    doclea_bundle,
    kagura_line,
    reference_kagura,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport.cli import cli


def run(*args):
    """The CLI in-process; an exception escaping it fails the test instead of being swallowed."""
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def assert_clean_failure(result, *, code, mentions):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for text in mentions:
        assert text in result.output, result.output


def converted_nothing(tmp_path, src):
    out = tmp_path / "converted"
    result = run("convert", src, "--to", memport.detect(src).format if src.exists() and _detectable(src) else "kagura", "-o", out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".converted")]


def _detectable(src):
    try:
        memport.detect(src)
        return True
    except memport.MemportError:
        return False


def test_truncated_kagura_line(tmp_path):
    src = write_kagura(
        tmp_path / "b",
        metadata=None,
        raw={"memories.jsonl": kagura_line(KAGURA_WORKING).encode() + kagura_line(KAGURA_PERSISTENT).encode()[:50]},
    )
    result = run("validate", src)
    assert_clean_failure(result, code=1, mentions=["memories.jsonl, line 2", "truncated", "[json.malformed]"])
    converted_nothing(tmp_path, src)


def test_truncated_single_document_formats(tmp_path):
    tribal = tmp_path / "t.json"
    tribal.write_text(json.dumps(tribal_bundle())[:-40])
    assert_clean_failure(run("inspect", tribal), code=2, mentions=["t.json", "malformed JSON", "truncated"])
    # detection reads no further than the manifest; validation then finds the cut
    assert_clean_failure(run("validate", tribal), code=1, mentions=["t.json, line 1", "truncated", "[json.malformed]"])
    doclea = tmp_path / "d.json"
    doclea.write_text(json.dumps(doclea_bundle(), indent=2)[:300])
    assert_clean_failure(run("validate", doclea), code=1, mentions=["d.json, line 13", "truncated", "[json.malformed]"])
    assert_clean_failure(run("inspect", doclea), code=2, mentions=["d.json, line 13", "malformed JSON", "truncated"])
    converted_nothing(tmp_path, doclea)


def test_malformed_line_in_the_middle(tmp_path):
    src = write_kagura(
        tmp_path / "b",
        metadata=None,
        raw={"memories.jsonl": (kagura_line(KAGURA_WORKING) + "{'single': 'quotes'}\n" + kagura_line(KAGURA_PERSISTENT)).encode()},
    )
    report = memport.validate(src)
    assert [(p.line, p.code) for p in report.errors] == [(2, "json.malformed")]
    with pytest.raises(memport.MalformedInputError) as err:
        memport.read(src)
    assert str(err.value).startswith(str(src / "memories.jsonl") + ", line 2: malformed JSON")


def test_wrong_types_and_missing_fields_name_the_field(tmp_path):
    entry = dict(tribal_bundle()["entries"][0], confidence="high")
    del entry["content"]
    src = write_tribal(tmp_path / "t.json", tribal_bundle([entry]))
    result = run("validate", src)
    assert_clean_failure(
        result,
        code=1,
        mentions=["record 0, $.entries[0].content: missing required field 'content'", "$.entries[0].confidence", "got 'high'"],
    )


def test_unknown_version(tmp_path):
    src = write_tribal(tmp_path / "t.json", tribal_bundle(schema_version="1.1"))
    assert_clean_failure(run("validate", src), code=2, mentions=["'1.1' is not supported; supported: 1.0"])
    converted_nothing(tmp_path, src)


@pytest.mark.parametrize("fmt", ["kagura", "tribal", "doclea"])
def test_utf8_bom(tmp_path, fmt):
    if fmt == "kagura":
        src = reference_kagura(tmp_path / "b")
        target = src / "memories.jsonl"
    elif fmt == "tribal":
        src = target = write_tribal(tmp_path / "t.json", tribal_bundle())
    else:
        src = target = write_doclea(tmp_path / "d.json", doclea_bundle())
    target.write_bytes(b"\xef\xbb\xbf" + target.read_bytes())
    report = memport.validate(src)
    assert [p.code for p in report.errors] == ["file.bom"] and report.errors[0].line == 1
    with pytest.raises(memport.MalformedInputError, match="byte order mark"):
        memport.read(src)
    assert_clean_failure(run("validate", src), code=1, mentions=["BOM", "[file.bom]"])
    converted_nothing(tmp_path, src)


def test_bytes_that_are_not_utf8(tmp_path):
    line = kagura_line(KAGURA_WORKING).encode().replace(b"quarterly", b"quarter\xffly")
    src = write_kagura(tmp_path / "b", metadata=None, raw={"memories.jsonl": line})
    assert_clean_failure(run("validate", src), code=1, mentions=["line 1", "not valid UTF-8 at byte"])
    converted_nothing(tmp_path, src)


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    assert_clean_failure(
        run("validate", empty), code=2, mentions=["empty.json", "not a memory bundle", "Looked for", "kagura: a directory"]
    )
    bundle = write_kagura(tmp_path / "b", [KAGURA_WORKING], metadata=None, raw={"metadata.json": b""})
    assert_clean_failure(run("validate", bundle), code=1, mentions=["metadata.json", "file is empty"])


def test_empty_directory_and_missing_path(tmp_path):
    (tmp_path / "nothing").mkdir()
    assert_clean_failure(run("inspect", tmp_path / "nothing"), code=2, mentions=["this directory is not a memory bundle", "memories.jsonl"])
    assert_clean_failure(run("validate", tmp_path / "missing"), code=2, mentions=["no such file or directory"])


def test_file_where_a_directory_is_expected(tmp_path):
    src = reference_kagura(tmp_path / "b")
    assert_clean_failure(
        run("validate", src / "memories.jsonl"), code=2, mentions=["one file of a Kagura bundle", "pass the bundle directory"]
    )
    weird = tmp_path / "w"
    weird.mkdir()
    (weird / "memories.jsonl").mkdir()
    assert_clean_failure(run("inspect", weird), code=2, mentions=["memories.jsonl is not a regular file"])


def test_deeply_nested_values(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    line = kagura_line(KAGURA_WORKING).replace('"quarterly report"', deep)
    src = write_kagura(tmp_path / "b", metadata=None, raw={"memories.jsonl": line.encode()})
    assert_clean_failure(run("validate", src), code=1, mentions=["line 1", "nested too deeply"])
    converted_nothing(tmp_path, src)
    doc = tmp_path / "d.json"
    doc.write_text('{"manifest": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + ', "entries": []}')
    assert_clean_failure(run("validate", doc), code=2, mentions=["d.json", "nested too deeply"])


def test_moderately_deep_values_round_trip(tmp_path):
    value = 1
    for _ in range(400):
        value = {"x": [value]}
    src = write_kagura(tmp_path / "b", [dict(KAGURA_PERSISTENT, value=value)])
    assert memport.validate(src).valid
    out = tmp_path / "out"
    memport.write(memport.read(src), out)
    assert (out / "memories.jsonl").read_bytes() == (src / "memories.jsonl").read_bytes()


def test_huge_string(tmp_path):
    huge = "x" * 30_000_000
    src = write_kagura(tmp_path / "b", [dict(KAGURA_PERSISTENT, value=huge, created_at=huge)])
    report = memport.validate(src)
    assert report.valid
    warning = next(p for p in report.warnings if p.code == "kagura.timestamp.created-at")
    assert len(warning.message) < 400 and "30000000 characters" in warning.message
    assert memport.read(src).records.memories[0].content == huge


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    src = write_kagura(tmp_path / "b", metadata=None, raw={"memories.jsonl": b"{broken\n"})
    done = subprocess.run([sys.executable, "-m", "memport", "inspect", str(src)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "memories.jsonl, line 1: malformed JSON" in done.stderr
