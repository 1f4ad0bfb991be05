"""The CLI in a shell: exit codes that tell the truth, -h, - for stdin and stdout, closed pipes,
several paths, JSON failures, fast failures, lines content cannot break, plurals, progress bars
only where someone watches, and a start that loads nothing heavy."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner
from native import (
    DOCLEA_MEMORY,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    doclea_bundle,
    reference_kagura,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport import progress
from memport.cli import cli, one_line

MEMPORT = [sys.executable, "-m", "memport"]


def run(*args, input=None):
    return CliRunner().invoke(cli, list(map(str, args)), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Bundles every exit code needs, and a store holding the Tribal one (read, never written)."""
    root = tmp_path_factory.mktemp("bundles")
    entry = tribal_bundle()["entries"][0]
    f = {
        "valid": reference_kagura(root / "valid"),
        "warned": write_kagura(root / "warned", [dict(KAGURA_WORKING, exported_at="2025-06-01T12:00:00Z")]),
        "invalid": write_kagura(root / "invalid", [dict(KAGURA_WORKING, scope="episodic")]),
        "tribal": write_tribal(root / "t.json", tribal_bundle()),
        "changed": write_tribal(root / "changed.json", tribal_bundle([dict(entry, content="changed")])),
        "bad-entry": write_tribal(root / "bad.json", tribal_bundle(["an entry that is not an object"])),  # memport cannot hold it
        "doclea": write_doclea(root / "d.json", doclea_bundle()),
        "notes": root / "notes.txt",
        "template": root / "template.db",
    }
    f["notes"].write_text("not a bundle")
    assert run("import", f["tribal"], "--db", f["template"]).exit_code == 0
    return f


@pytest.fixture
def files(bundles, tmp_path):
    """The bundles, with a store of this test's own, and paths to write or miss in its folder."""
    db = tmp_path / "memport.db"
    db.write_bytes(bundles["template"].read_bytes())
    return {**bundles, "db": db, "missing": tmp_path / "missing", "out": tmp_path / "out"}


# one row per command and outcome: (command line with {names} from the fixture, exit code)
EXIT_CODES = [
    ("inspect {valid}", 0),
    ("inspect {valid} {missing}", 2),
    ("validate {valid}", 0),
    ("validate {warned}", 0),
    ("validate {warned} --strict", 1),
    ("validate {invalid}", 1),
    ("validate {valid} {invalid}", 1),
    ("validate {notes}", 2),
    ("validate {valid} {invalid} {missing}", 2),
    ("import {tribal} --db {db}", 0),
    ("import {changed} --db {db}", 0),  # skipped by the strategy: the stored one is kept, as asked
    ("import {changed} --db {db} --strategy error", 1),
    ("import {changed} --db {db} --strategy error --dry-run", 1),
    ("import {changed} --db {db} --strategy manual", 1),
    ("import {bad-entry} --db {db}", 1),
    ("import {bad-entry} --db {db} --dry-run", 1),
    ("import {notes} --db {db}", 2),
    ("import {tribal} --db {db} --strategy nonsense", 2),
    ("diff {tribal} --db {db}", 0),
    ("diff {changed} --db {db}", 1),
    ("diff {changed} --against {changed}", 0),
    ("diff {doclea} --against {tribal}", 1),
    ("diff {tribal} --db {missing}", 2),
    ("diff {tribal}", 2),
    ("convert {doclea} --to doclea -o {out}", 0),
    ("convert {valid} --to tribal -o {out} --strict", 1),
    ("convert {doclea} --to doclea -o {tribal}", 2),
    ("convert {doclea} --to doclea -o . --overwrite", 2),
    ("export --db {db} --to doclea -o {out}", 0),
    ("export --db {missing} --to doclea -o {out}", 2),
    ("erase --db {db} --user nobody", 0),
    ("search anything --db {db}", 2),
    ("frobnicate", 2),
]


@pytest.mark.parametrize("line, code", EXIT_CODES, ids=[line for line, _ in EXIT_CODES])
def test_exit_codes_tell_the_truth(files, line, code, monkeypatch):
    monkeypatch.chdir(files["db"].parent)
    args = [
        part.format(**{k.replace("-", "_"): v for k, v in files.items()}) for part in line.replace("{bad-entry}", "{bad_entry}").split()
    ]
    result = run(*args)
    assert result.exit_code == code, result.output


def test_the_readme_has_the_exit_code_table():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for code, words in (("0", "success"), ("1", "the data says no"), ("2", "memport could not run")):
        assert f"| {code} | {words}" in readme


def test_h_is_help_everywhere():
    assert run("-h").exit_code == 0 and "Usage: memport" in run("-h").output
    for name in cli.commands:
        result = run(name, "-h")
        assert result.exit_code == 0 and f"Usage: memport {name}" in result.output, name


# -- standard input and output ---------------------------------------------------------------------


def test_dash_reads_standard_input_for_single_file_formats(tmp_path, files):
    data = files["doclea"].read_bytes()
    validated = run("validate", "-", input=data)
    assert validated.exit_code == 0 and validated.stdout.splitlines()[-1] == "<stdin>: doclea 1.0.0: valid: 0 errors, 0 warnings"
    assert "reading standard input into a temporary file first" in validated.stderr
    quiet = run("inspect", "-", "--json", "-q", input=data)
    assert quiet.stderr == "" and json.loads(quiet.stdout)["counts"]["memories"] == 1
    out = tmp_path / "copy.json"
    assert run("convert", "-", "--to", "doclea", "-o", out, input=data).exit_code == 0 and out.read_bytes() == data
    db = tmp_path / "stdin.db"
    assert run("import", "-", "--db", db, "-q", input=data).exit_code == 0
    assert memport.Store(db, readonly=True).runs()[-1]["source"] == "<stdin>"
    cut = run("validate", "-", input=data[: len(data) // 2])  # a truncated bundle: invalid, said of <stdin>
    assert cut.exit_code == 1 and "error: <stdin>, line" in cut.output and "memport-stdin-" not in cut.output
    notes = run("inspect", "-", input=b"not a bundle")
    assert notes.exit_code == 2 and "memport: <stdin>: this file is not a memory bundle" in notes.output
    twice = run("diff", "-", "--against", "-", input=data)
    assert twice.exit_code == 2 and "only once" in twice.output


def test_dash_writes_single_file_formats_to_standard_output(tmp_path, files):
    converted = run("convert", files["doclea"], "--to", "doclea", "-o", "-")
    assert converted.exit_code == 0 and converted.stdout_bytes == files["doclea"].read_bytes()
    assert "wrote doclea bundle to standard output" in converted.stderr
    exported = run("export", "--db", files["db"], "--to", "tribal-jsonl", "-o", "-")
    assert exported.exit_code == 0 and json.loads(exported.stdout.splitlines()[0])["content"] == "Alice prefers Python"
    directory = run("convert", files["doclea"], "--to", "kagura", "-o", "-")
    assert directory.exit_code == 2 and "single-file formats" in directory.output
    both = run("convert", files["doclea"], "--to", "doclea", "-o", "-", "--json")
    assert both.exit_code == 2 and json.loads(both.stdout)["exit_code"] == 2
    assert not (Path.cwd() / "-").exists()


def test_a_closed_pipe_ends_quietly_with_the_exit_code_so_far(tmp_path):
    many = write_kagura(tmp_path / "many", [dict(KAGURA_WORKING, key=f"k{i}", scope="episodic") for i in range(5000)])
    proc = subprocess.Popen([*MEMPORT, "validate", str(many), "--max-problems", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    stderr = proc.stderr.read()
    proc.wait()
    assert first.startswith(b"error: ") and stderr == b""
    assert proc.returncode == 1  # invalid, as decided before the reader went away


# -- several paths, long reports, JSON failures ---------------------------------------------------


def test_several_paths_get_a_verdict_each(files):
    result = run("validate", files["valid"], files["invalid"], files["missing"])
    lines = result.output.splitlines()
    assert f"{files['valid']}: kagura 1.0: valid: 0 errors, 0 warnings" in lines
    assert f"{files['invalid']}: kagura 1.0: invalid: 1 error, 0 warnings" in lines
    assert any(line.startswith("memport: ") and "missing" in line for line in lines)
    as_json = json.loads(run("validate", files["valid"], files["invalid"], files["missing"], "--json").stdout)
    assert [(r["path"], r.get("valid"), r.get("exit_code")) for r in as_json] == [
        (str(files["valid"]), True, None),
        (str(files["invalid"]), False, None),
        (str(files["missing"]), None, 2),
    ]
    inspected = json.loads(run("inspect", files["valid"], files["doclea"], "--json").stdout)
    assert [(r["path"], r["format"]) for r in inspected] == [(str(files["valid"]), "kagura"), (str(files["doclea"]), "doclea")]


def test_max_problems_and_a_count_by_code(tmp_path):
    broken = write_kagura(
        tmp_path / "b", [dict(KAGURA_WORKING, key=f"k{i}", scope="episodic") for i in range(30)] + [dict(KAGURA_WORKING, key="t", type="x")]
    )
    lines = run("validate", broken, "--max-problems", "5").output.splitlines()
    assert sum(line.startswith("error: ") for line in lines) == 5
    assert "... 26 more problems not shown (--max-problems 0 shows all)" in lines
    assert lines[-5:-2] == [
        "31 problems by code:",
        "         30  error    kagura.memory.scope",
        "          1  error    kagura.memory.record-type",
    ]
    assert lines[-2].endswith("invalid: 31 errors, 0 warnings") and lines[-1].startswith(
        "note: 32 naive local times"
    )  # and metadata.json's
    default = run("validate", write_kagura(tmp_path / "c", [dict(KAGURA_WORKING, key=f"k{i}", scope="episodic") for i in range(150)]))
    assert sum(line.startswith("error: ") for line in default.output.splitlines()) == 100
    report = json.loads(run("validate", broken, "--json", "--max-problems", "2").output)
    assert (
        len(report["errors"]) == 2
        and report["omitted"] == 29
        and report["by_code"] == {"kagura.memory.record-type": 1, "kagura.memory.scope": 30}
    )


def test_json_failures_are_json_on_stdout_with_the_exit_code(files):
    for args, code, words in (
        (["validate", files["missing"], "--json"], 2, "no such file"),
        (["diff", files["tribal"], "--json"], 2, "exactly one of --db"),
        (["import", files["changed"], "--db", files["db"], "--strategy", "error", "--json"], 1, "nothing was written"),
        (["convert", files["doclea"], "--to", "nowhere", "-o", "x", "--json"], 2, "nowhere"),
    ):
        result = run(*args)
        assert result.exit_code == code and result.stderr == ""
        failure = json.loads(result.stdout)
        assert failure["exit_code"] == code and words in failure["error"], failure


def test_a_model_not_available_offline_fails_at_once_in_one_line(files):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    done = subprocess.run(
        [*MEMPORT, "reembed", "--db", str(files["db"]), "--model", "all-MiniLM-L6-v3"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "'all-MiniLM-L6-v3' is not available offline" in done.stderr and "names that work offline: all-MiniLM-L6-v2" in done.stderr


# -- lines, words ---------------------------------------------------------------------------------


def test_content_never_breaks_an_output_line(tmp_path, files):
    assert one_line("a\r\nb\tc\x1b[31m\u2028\ud800") == "a\\r\\nb\\tc\\x1b[31m\\u2028\\ud800"
    odd = dict(DOCLEA_MEMORY, id="line\nbreak\rhere")
    mine = write_doclea(tmp_path / "mine.json", doclea_bundle(memories=[odd]))
    theirs = write_doclea(tmp_path / "theirs.json", doclea_bundle(memories=[dict(odd, content="other\ntext")]))
    result = run("diff", mine, "--against", theirs)
    assert result.output.splitlines()[1:] == ["  differs  doclea:memories:line\\nbreak\\rhere  content"]


def test_content_never_breaks_a_search_result(tmp_path, src):
    db = tmp_path / "s.db"
    assert run("import", src["doclea"], "--db", db).exit_code == 0
    assert run("reembed", "--db", db, "-q").exit_code == 0
    result = run("search", "restart after migrations", "--db", db, "-k", "2")
    lines = result.output.splitlines()
    assert len(lines) == 2 and "Run migrations.\\r\\nThen restart." in lines[0]


def test_plurals(tmp_path, files):
    one = write_kagura(tmp_path / "one", [KAGURA_PERSISTENT], metadata=None)
    assert "1 record needs (re-)embedding" in run("import", one, "--db", tmp_path / "one.db").output
    assert "2 records need (re-)embedding" in run("import", files["valid"], "--db", tmp_path / "two.db").output
    assert (
        "so this one would be lost"
        in run(
            "validate",
            write_doclea(
                tmp_path / "r.json",
                doclea_bundle(
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
                    ]
                ),
            ),
        ).output
    )
    assert "1 error, 0 warnings" in run("validate", files["invalid"]).output


# -- progress and start-up ----------------------------------------------------------------------


def test_progress_bars_follow_the_reading_in_a_notebook_or_a_terminal(tmp_path):
    bundle = write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, key=f"k{i}") for i in range(2000)])
    drawn = io.StringIO()
    with progress.shown(file=drawn, delay=0):
        assert memport.validate(bundle).valid
    assert "memories.jsonl:" in drawn.getvalue() and "B/s" in drawn.getvalue()
    silent = io.StringIO()
    with progress.shown(False, file=silent, delay=0):
        memport.validate(bundle)
    assert silent.getvalue() == "" and not progress.active()


def on_a_terminal(args: list[str]) -> str:
    """What the CLI writes to stderr when stderr is a terminal (bars shown at once)."""
    main, other = pty.openpty()
    fcntl.ioctl(other, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    code = "import memport.progress as p; p.DELAY = 0; from memport.cli import cli; cli()"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=other)
    os.close(other)
    seen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait()
    os.close(main)
    return seen.decode("utf-8", "replace")


def test_the_cli_shows_progress_only_on_a_terminal_unless_quiet_or_json(tmp_path):
    bundle = write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, key=f"k{i}") for i in range(2000)])
    assert "memories.jsonl" in on_a_terminal(["validate", str(bundle)])
    assert "memories.jsonl" not in on_a_terminal(["validate", str(bundle), "-q"])
    assert "memories.jsonl" not in on_a_terminal(["validate", str(bundle), "--json"])
    piped = subprocess.run(
        [sys.executable, "-c", "import memport.progress as p; p.DELAY = 0; from memport.cli import cli; cli()", "validate", str(bundle)],
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0 and piped.stderr == ""


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["validate", "-h"], ["inspect", "{tribal}"], ["validate", "{tribal}"]])
def test_starting_loads_nothing_heavy(files, args):
    done = subprocess.run(
        [*MEMPORT, *(a.format(tribal=files["tribal"]) for a in args)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert done.returncode == 0, done.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "memport.cli" in loaded  # the measurement saw the command being loaded
    assert not loaded & {"torch", "pandas", "numpy", "sentence_transformers", "transformers"}
