"""Every file memport writes: only regular files and directories it creates, every output checked
before anything is written, no more readable than its source, atomic, no litter; and reading a
store never writes (also on read-only media)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from native import KAGURA_PERSISTENT, doclea_bundle, reference_kagura, tribal_bundle, write_doclea, write_kagura, write_tribal

from memport.cli import cli
from memport.outputs import sweep_stale


def run(*args, input=None):
    return CliRunner().invoke(cli, list(map(str, args)), input=input, catch_exceptions=False)


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.fixture
def doclea(tmp_path):
    return write_doclea(tmp_path / "d.json", doclea_bundle())


# -- only regular files and directories memport creates -------------------------------------------


def test_a_device_fifo_socket_or_link_as_output_is_refused_and_left_alone(tmp_path, doclea):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    # a character device of our own, as /dev/null is (a regression must not move the real one)
    device = tmp_path / "null"
    if os.geteuid() == 0:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        device = Path("/dev/null")  # which only root could move
    cases = {
        str(device): "is a character device",
        str(fifo): "is a FIFO",
        str(sock): "is a socket",
        str(link): "is a symbolic link",
    }
    try:
        for output, message in cases.items():
            before = os.lstat(output)
            result = run("convert", doclea, "--to", "doclea", "-o", output, "--overwrite")
            assert result.exit_code == 2 and message in result.output and "only regular files" in result.output, output
            after = os.lstat(output)
            assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), output
            assert not list(Path(output).parent.glob(Path(output).name + ".bak-*"))
    finally:
        server.close()


def test_the_current_directory_and_a_missing_folder_are_refused_before_writing(tmp_path, doclea, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for output in (".", "..", str(tmp_path)):
        result = run("convert", doclea, "--to", "doclea", "-o", output, "--overwrite")
        assert result.exit_code == 2 and "current directory or one of its parents" in result.output, output
        assert "internal error" not in result.output
    missing = run("convert", doclea, "--to", "doclea", "-o", "nodir/out.json")
    assert missing.exit_code == 2 and "no such directory nodir" in missing.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]


def test_the_loss_report_follows_the_rules_of_the_output_and_is_checked_first(tmp_path, src):
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    out = tmp_path / "out.json"
    refused = run("convert", src["kagura"], "--to", "doclea", "-o", out, "--loss-report", keep)
    assert refused.exit_code == 2 and "keep.txt: already exists" in refused.output
    assert keep.read_text() == "precious" and not out.exists()
    nodir = run("convert", src["kagura"], "--to", "doclea", "-o", out, "--loss-report", tmp_path / "nodir" / "lr.json")
    assert nodir.exit_code == 2 and "no such directory" in nodir.output and ".tmp" not in nodir.output
    assert not out.exists()
    replaced = run("convert", src["kagura"], "--to", "doclea", "-o", out, "--loss-report", keep, "--overwrite")
    assert replaced.exit_code == 0
    assert json.loads(keep.read_text())["to"] == "doclea"
    [backup] = tmp_path.glob("keep.txt.bak-*")
    assert backup.read_text() == "precious"


# -- modes follow the data -------------------------------------------------------------------------


def test_outputs_are_no_more_readable_than_their_source(tmp_path, src, umask_022):
    bundle = write_tribal(tmp_path / "private.json", tribal_bundle())
    os.chmod(bundle, 0o600)
    assert run("convert", bundle, "--to", "doclea", "-o", tmp_path / "c.json", "--loss-report", tmp_path / "lr.json").exit_code == 0
    assert mode(tmp_path / "c.json") == mode(tmp_path / "lr.json") == "0o600"
    folder = reference_kagura(tmp_path / "kagura")
    os.chmod(folder, 0o700)
    for f in folder.iterdir():
        os.chmod(f, 0o600)
    assert run("convert", folder, "--to", "kagura", "-o", tmp_path / "k2").exit_code == 0
    assert mode(tmp_path / "k2") == "0o700" and {mode(f) for f in (tmp_path / "k2").iterdir()} == {"0o600"}
    # a store made from a private bundle is private; a store taking one in becomes so
    assert run("import", bundle, "--db", tmp_path / "new.db").exit_code == 0
    assert mode(tmp_path / "new.db") == "0o600"
    assert run("import", src["doclea"], "--db", tmp_path / "open.db").exit_code == 0
    assert mode(tmp_path / "open.db") == "0o644"
    assert run("import", bundle, "--db", tmp_path / "open.db").exit_code == 0
    assert mode(tmp_path / "open.db") == "0o600"
    # the usual modes where the source is open
    assert run("convert", src["doclea"], "--to", "tribal", "-o", tmp_path / "t.json").exit_code == 0
    assert mode(tmp_path / "t.json") == "0o644"


def test_backups_and_exports_of_a_private_store_are_private(tmp_path, umask_022):
    db = tmp_path / "memport.db"
    assert run("import", reference_kagura(tmp_path / "k"), "--db", db).exit_code == 0
    os.chmod(db, 0o600)
    assert run("import", write_tribal(tmp_path / "t.json", tribal_bundle()), "--db", db, "--clear").exit_code == 0
    assert run("import", reference_kagura(tmp_path / "k"), "--db", db, "--strategy", "overwrite").exit_code == 0
    assert run("erase", "--db", db, "--user", "user_alice", "--yes", "--keep-backup").exit_code == 0
    backups = list(tmp_path.glob("memport.db.bak-*"))
    assert len(backups) == 3 and {mode(b) for b in backups} == {"0o600"}
    assert run("export", "--db", db, "--to", "tribal", "-o", tmp_path / "out.json").exit_code == 0
    assert run("export", "--db", db, "--to", "kagura", "-o", tmp_path / "out").exit_code == 0
    assert mode(tmp_path / "out.json") == mode(tmp_path / "out" / "memories.jsonl") == "0o600" and mode(tmp_path / "out") == "0o700"


# -- atomic, and no litter ------------------------------------------------------------------------


def dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_stale_temporaries_of_processes_that_are_gone_are_swept_by_the_next_write(tmp_path, doclea):
    gone = dead_pid()
    stale = [tmp_path / f".out.json.memport-{gone}-abc123.tmp", tmp_path / f".memport.db.bak-x.memport-{gone}-q_1.tmp-journal"]
    for path in stale:
        path.write_text("half")
    (tmp_path / f".k.memport-{gone}-zz.tmp").mkdir()
    (tmp_path / f".k.memport-{gone}-zz.tmp" / "memories.jsonl").write_text("half")
    live = tmp_path / f".other.memport-{os.getpid()}-mine.tmp"
    live.write_text("in progress")
    foreign = tmp_path / f".notes.{gone}.tmp"
    foreign.write_text("not ours")
    assert run("convert", doclea, "--to", "doclea", "-o", tmp_path / "out.json").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["d.json", "out.json", live.name, foreign.name])
    assert sweep_stale(tmp_path) == []


def big_doclea(path: Path, n: int) -> Path:
    memories = [dict(doclea_bundle()["data"]["memories"][0], id=f"m{i}", content="x" * 2000) for i in range(n)]
    return write_doclea(path, doclea_bundle(memories=memories))


def test_a_killed_conversion_leaves_a_temporary_the_next_run_removes(tmp_path):
    src = big_doclea(tmp_path / "big.json", 10_000)  # written while the staged file exists: long enough to be killed in
    out = tmp_path / "out"
    out.mkdir()
    command = [sys.executable, "-m", "memport", "convert", str(src), "--to", "doclea", "-o"]
    proc = subprocess.Popen([*command, str(out / "d.json")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [left] = list(out.iterdir())
    assert left.name.startswith(".d.json.memport-") and left.name.endswith(".tmp")  # staged, never renamed
    done = subprocess.run([*command, str(out / "again.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["again.json"]


def test_disk_full_while_writing_an_output_leaves_nothing(tmp_path, small_disk):
    disk = small_disk(256)
    src = big_doclea(tmp_path / "big.json", 400)  # about 1 MB of JSON
    for output in (disk / "out.json", disk / "k"):
        target = "doclea" if output.suffix else "kagura"
        result = subprocess.run(
            [sys.executable, "-m", "memport", "convert", str(src), "--to", target, "-o", str(output)], capture_output=True, text=True
        )
        assert result.returncode == 2 and result.stderr == f"memport: disk full while writing {output}\n"
        assert list(disk.iterdir()) == []


# -- reading never writes ------------------------------------------------------------------------


def fingerprint(folder: Path) -> dict[str, tuple[str, float]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime) for p in folder.iterdir()}


def filled(tmp_path: Path) -> Path:
    folder = tmp_path / "stores"
    folder.mkdir()
    db = folder / "memport.db"
    assert run("import", write_tribal(tmp_path / "t.json", tribal_bundle()), "--db", db).exit_code == 0
    return db


def test_export_diff_and_dry_run_leave_the_store_untouched(tmp_path):
    db = filled(tmp_path)
    before = fingerprint(db.parent)
    other = write_tribal(tmp_path / "o.json", tribal_bundle([dict(tribal_bundle()["entries"][0], content="changed")]))
    assert run("export", "--db", db, "--to", "doclea", "-o", tmp_path / "x.json").exit_code == 0
    assert run("diff", other, "--db", db).exit_code == 1
    assert run("import", other, "--db", db, "--dry-run").exit_code == 0
    assert fingerprint(db.parent) == before


def test_a_store_on_read_only_media_can_be_read(tmp_path, read_only):
    db = filled(tmp_path)
    media = read_only(db.parent)
    store = media / "memport.db"
    other = write_tribal(tmp_path / "o.json", tribal_bundle([dict(tribal_bundle()["entries"][0], content="changed")]))
    exported = run("export", "--db", store, "--to", "doclea", "-o", tmp_path / "x.json")
    assert exported.exit_code == 0, exported.output
    assert run("diff", other, "--db", store, "--json").exit_code == 1
    dry = run("import", other, "--db", store, "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.output)["skipped"] == 1
    refused = run("import", other, "--db", store)
    assert refused.exit_code == 2 and "internal error" not in refused.output
    assert sorted(p.name for p in media.iterdir()) == ["memport.db"]


def test_a_missing_store_is_never_created_by_reading_or_a_failed_import(tmp_path):
    db = tmp_path / "missing.db"
    bundle = write_tribal(tmp_path / "t.json", tribal_bundle())
    dry = run("import", bundle, "--db", db, "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.output)["inserted"] == 1  # planned as an empty store
    diff = run("diff", bundle, "--db", db)
    assert diff.exit_code == 2 and "missing.db: no such store" in diff.output
    (tmp_path / "broken.json").write_text('{"manifest": {"schema_version": "1.0"}, "entries": [')
    (tmp_path / "notes.txt").write_text("not a bundle")
    failures = [
        [tmp_path / "broken.json"],
        [tmp_path / "notes.txt"],
        [tmp_path / "nothing-here"],
        [bundle, "--local-tz", "Not/AZone"],
        [bundle, "--decisions", tmp_path / "no-decisions.jsonl"],
        [bundle, "--created-since", "Jan 2026"],
        # the same memory twice, differing: a conflict under --strategy error writes nothing
        [write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, value=v) for v in "ab"], metadata=None), "--strategy", "error"],
    ]
    for args in failures:
        result = run("import", *args, "--db", db)
        assert result.exit_code in (1, 2) and not db.exists(), (args, result.output)
    assert not list(tmp_path.glob("missing.db*"))
