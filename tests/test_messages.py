"""Messages that name the cause: integers too long to read (how many digits, and where), nesting
too deep (where), headers of the wrong type (which member, what was expected), never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from native import KAGURA_PERSISTENT, KAGURA_WORKING, doclea_bundle, kagura_line, tribal_bundle, write_doclea, write_kagura

import memport
from memport.cli import cli
from memport.planning import load_decisions

HUGE = "7" * 5000
DEEP = 100_000


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)


def refused_everywhere(tmp_path, src, *mentions, validate_code=2):
    """inspect, import and convert refuse with one line naming the cause; validate reports it too."""
    tmp_path.mkdir(exist_ok=True)
    for args in (("inspect",), ("import", "--db", tmp_path / "s.db"), ("convert", "--to", "kagura", "-o", tmp_path / "out")):
        result = run(args[0], src, *args[1:])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "internal error" not in result.output, result.output
        for text in mentions:
            assert text in result.output, result.output
        assert "set_int_max_str_digits" not in result.output and "not a memory bundle" not in result.output
    validated = run("validate", src)
    assert validated.exit_code == validate_code and "internal error" not in validated.output, validated.output
    for text in mentions:
        assert text in validated.output, validated.output
    assert not (tmp_path / "out").exists()


# integers too long to read -----------------------------------------------------------------------


def test_a_huge_integer_in_a_kagura_line(tmp_path):
    line = kagura_line(KAGURA_WORKING).replace('"quarterly report"', HUGE)
    src = write_kagura(tmp_path / "k", metadata=None, raw={"memories.jsonl": (kagura_line(KAGURA_PERSISTENT) + line).encode()})
    refused_everywhere(tmp_path, src, "memories.jsonl, line 2, $.value: an integer of 5000 digits", "4300", validate_code=1)
    [problem] = memport.validate(src).errors
    assert (problem.code, problem.line, problem.path) == ("json.malformed", 2, "$.value")
    assert problem.message.startswith("an integer of 5000 digits: more than the 4300 Python reads")


def test_a_huge_integer_in_a_document_record_and_header(tmp_path):
    tribal = tmp_path / "t.json"
    tribal.write_text(json.dumps(tribal_bundle()).replace('"confidence": 1.0', f'"confidence": {HUGE}1'))
    # the path names the record (read as a stream, the location says "record 0" as well)
    refused_everywhere(tmp_path, tribal, "t.json, line 1, ", "$.entries[0].confidence: an integer of 5001 digits", validate_code=1)
    doclea = tmp_path / "d.json"
    doclea.write_text(json.dumps(doclea_bundle(), indent=2).replace('"exportedAt": 1748779200', f'"exportedAt": {HUGE}'))
    refused_everywhere(tmp_path / "d", doclea, "d.json, line 3, $.exportedAt: an integer of 5000 digits")


def test_a_huge_integer_in_a_decisions_file(tmp_path):
    bad = tmp_path / "decisions.jsonl"
    bad.write_text('{"uid": "a", "choice": "take", "existing_hash": ' + HUGE + ', "incoming_hash": "b"}\n')
    with pytest.raises(memport.MalformedInputError) as err:
        load_decisions(bad)
    assert str(err.value).startswith(f"{bad}, line 1, $.existing_hash: an integer of 5000 digits")


# nesting too deep ----------------------------------------------------------------------------------


def deep_object(key="a"):
    return f'{{"{key}": ' * DEEP + "1" + "}" * DEEP


def test_deep_nesting_before_a_doclea_header_says_where(tmp_path):
    """The nesting comes first and fills the head memport looks at: it used to say "not a memory bundle"."""
    doc = tmp_path / "d.json"
    doc.write_text('{"metadata": ' + deep_object() + ', "version": "1.0.0", "schemaVersion": "012", "exportedAt": 1, "data": {}}')
    said = "d.json, line 1, $.metadata.a.a.a.a...: memport cannot tell which bundle this is: nested too deeply to read (100001 levels)"
    refused_everywhere(tmp_path, doc, said, "level 1000 opens at column ")
    forced = run("inspect", doc, "--format", "doclea")
    assert "cannot tell whether this is a doclea bundle: nested too deeply to read (100001 levels)" in forced.output


def test_deep_nesting_inside_headers_and_lines_says_where(tmp_path):
    doclea = tmp_path / "d.json"
    doclea.write_text('{"version": "1.0.0", "schemaVersion": "012", "exportedAt": 1, "metadata": ' + deep_object() + ', "data": {}}')
    refused_everywhere(tmp_path, doclea, "d.json, line 1, $.metadata.a.a.a.a...: nested too deeply to read (100001 levels)", "about 1000")
    tribal = tmp_path / "t.json"
    tribal.write_text('{"manifest": ' + deep_object("m") + ', "entries": []}')
    refused_everywhere(tmp_path / "t", tribal, "t.json, line 1, $.manifest.m.m.m.m...: nested too deeply to read (100001 levels)")
    line = kagura_line(KAGURA_WORKING).replace('"quarterly report"', "[" * DEEP + "]" * DEEP)
    kagura = write_kagura(tmp_path / "k", metadata=None, raw={"memories.jsonl": line.encode()})
    refused_everywhere(
        tmp_path / "kk", kagura, "memories.jsonl, line 1, $.value[0][0][0]...: nested too deeply to read (100001 levels)", validate_code=1
    )


# headers of the wrong type --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document, says",
    [
        ({"manifest": "1.0", "entries": []}, "$.manifest: manifest must be an object, got a string"),
        ({"manifest": None, "entries": []}, "$.manifest: manifest must be an object, got null"),
        (
            {"manifest": {}, "entries": []},
            '$.manifest.schema_version: schema_version must be a string such as "1.0" (the only one Tribal imports); it is missing',
        ),
        (
            {"manifest": {"schema_version": 1}, "entries": []},
            '$.manifest.schema_version: schema_version must be a string such as "1.0" (the only one Tribal imports); got the number 1',
        ),
        (
            {"success": True, "memory_count": 0, "bundle": {"manifest": [], "entries": []}, "error": None},
            "$.bundle.manifest: manifest must be an object, got an array",
        ),
        ({"version": 1, "schemaVersion": "012", "data": {}}, '$.version: version must be a string such as "1.0.0", got the number 1'),
    ],
)
def test_a_header_of_the_wrong_type_names_the_member(tmp_path, document, says):
    src = tmp_path / "h.json"
    src.write_text(json.dumps(document))
    refused_everywhere(tmp_path, src, f"h.json, {says}")
    assert "is not supported" not in run("validate", src).output


def test_inspect_refuses_a_record_container_import_refuses(tmp_path):
    src = write_doclea(tmp_path / "d.json", {**doclea_bundle(), "data": []})
    result = run("inspect", src)
    assert result.exit_code == 2 and "$.data" in result.output and "expected an object, got an array" in result.output
    assert "[doclea.data.missing-array]" in run("validate", src).output


def test_the_path_to_a_huge_integer_follows_members_and_elements():
    from memport.errors import Location
    from memport.jsonio import loads

    line = '{"a": [1, "x, \\"y\\"]", {"b\\"": 2, "c": [0, 0, ' + HUGE + "]}], " + '"d": 1}'
    with pytest.raises(memport.MalformedInputError) as err:
        loads(line.encode(), Location("f.jsonl", line=4))
    assert str(err.value).startswith("f.jsonl, line 4, $.a[2].c[2]: an integer of 5000 digits")
    assert f"(column {line.index(HUGE) + 1})" in str(err.value)
