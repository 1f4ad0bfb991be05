"""Every file memport writes: checked first, staged under a temporary name, renamed when complete,
no more readable than the data it holds, and never leaving litter behind.

* **Checked before anything is written** (:func:`check_output`): memport writes only regular files
  and directories it creates. A device, FIFO, socket or symbolic link as an output is refused
  (``-o /dev/stdout`` once moved the device link aside and put a file in its place), as are the
  current directory and its parents, a folder that does not exist or cannot be written, and an
  existing output without ``overwrite``.
* **Atomic** (:func:`atomic_output`, :func:`atomic_write_bytes`): written to a temporary sibling
  named ``.<name>.memport-<pid>-<random>.tmp``, flushed and fsynced, then renamed into place; the
  replaced data is kept as ``<name>.bak-<UTC time>``. A failure (or an interruption) removes the
  temporary; a full disk is :class:`DiskFullError` ("disk full while writing FILE").
* **No litter**: a process killed mid-write leaves its temporary behind; the next memport that
  writes into that folder removes the temporaries of processes that are gone
  (:func:`sweep_stale`, by the pid in the name).
* **Modes follow the data** (:func:`modes_like`): inside it, outputs get no permission their source
  lacks (a 0600 bundle gives 0600 outputs, a 0700 directory 0700 ones) on top of the umask's
  defaults, or the mode of the file they replace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import Location, MemportError, OutputExistsError


class OutputPathError(MemportError):
    """An output path memport will not write to (a device, a FIFO, the current directory, a folder
    that does not exist or cannot be written)."""


class DiskFullError(MemportError):
    """The disk (or quota) filled up while writing; nothing half-written was left."""


_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(err: BaseException) -> bool:
    """Whether an error is the disk (or the quota) running out: an OSError, or SQLite's own words."""
    if isinstance(err, OSError):
        return err.errno in _FULL
    return "database or disk is full" in str(err)


def disk_full(path: Path | str) -> DiskFullError:
    return DiskFullError(f"disk full while writing {path}")


# ---------------------------------------------------------------------------------------------
# Temporary names, and the litter of processes that are gone

# .<name>.memport-<pid>-<random>.tmp, and what SQLite puts beside a database of that name
_TEMPORARY = re.compile(r"^\..*\.memport-(\d+)-[A-Za-z0-9_]+\.tmp(?:-journal|-wal|-shm)?$")


def temporary_prefix(path: Path) -> str:
    """The start of a temporary sibling's name for ``path`` (mkstemp adds the random part)."""
    return f".{path.name}.memport-{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove memport's own temporaries in ``folder`` whose process is gone (a write killed midway);
    returns what was removed. Only names of memport's pattern are touched, and only those of dead
    processes: a write in progress elsewhere keeps its temporary."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMPORARY.match(entry.name)
        if found is None or _alive(int(found.group(1))):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def remove_temporary(tmp: Path) -> None:
    """Remove a temporary file or directory (and a SQLite journal beside it), if there."""
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    for name in (tmp, tmp.with_name(tmp.name + "-journal")):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.unlink(name)


# ---------------------------------------------------------------------------------------------
# Modes

# the permission bits outputs may have: all, unless inside modes_like()
_CEILING: ContextVar[int] = ContextVar("memport_mode_ceiling", default=0o777)


def mode_ceiling(path: Path | str | None) -> int:
    """The permission bits a copy of ``path`` may have: those of the file, or for a directory those
    of the directory and of every file in it (a file's execute bits aside). 0o777 when there is no
    such path (standard input spooled, a bundle in memory)."""
    if path is None:
        return 0o777
    path = Path(path)
    try:
        top = path.stat()
    except OSError:
        return 0o777
    ceiling = stat.S_IMODE(top.st_mode)
    if stat.S_ISDIR(top.st_mode):
        with contextlib.suppress(OSError):
            for entry in os.scandir(path):
                if entry.is_file():
                    ceiling &= stat.S_IMODE(entry.stat().st_mode) | 0o111
    else:
        ceiling |= (ceiling & 0o444) >> 2  # a directory written from a file: entered by whoever may read it
    return ceiling


@contextlib.contextmanager
def modes_like(*sources: Path | str | None) -> Iterator[int]:
    """Inside, every output memport writes is no more readable than each of ``sources``."""
    ceiling = _CEILING.get()
    for source in sources:
        ceiling &= mode_ceiling(source)
    token = _CEILING.set(ceiling)
    try:
        yield ceiling
    finally:
        _CEILING.reset(token)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_mode(path: Path | None, directory: bool) -> int:
    """The permissions an output gets: those of what it replaces, else what ``open`` or ``mkdir``
    would give under the umask; either way no more than the current ceiling (:func:`modes_like`).
    (A temporary file or directory is private to its owner, 0600/0700, until it is given these.)"""
    base = None
    if path is not None:
        with contextlib.suppress(OSError):
            base = stat.S_IMODE(path.stat().st_mode)
    if base is None:
        base = (0o777 if directory else 0o666) & ~_umask()
    return base & _CEILING.get()


# ---------------------------------------------------------------------------------------------
# Checks


def _kind(mode: int) -> str | None:
    """What a file system object is, when it is not something memport may replace."""
    for test, name in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return None


def check_output(path: Path | str, *, overwrite: bool = False) -> None:
    """Refuse an output before anything is written: a device, FIFO or socket (also behind a
    symbolic link), a symbolic link itself; the current directory or one of its parents; a folder that does not exist or
    cannot be written; an existing output without ``overwrite``."""
    path = Path(path)
    where = Location(str(path))
    try:
        target = path.stat()
    except FileNotFoundError:
        target = None
    except OSError as err:
        raise OutputPathError(f"cannot use as an output ({err.strerror})", where) from None
    if target is not None:
        kind = _kind(target.st_mode)
        if kind is not None:
            raise OutputPathError(f"is {kind}; memport writes only regular files and directories it creates", where)
    if path.is_symlink():
        # replacing the link would move it aside and put a file in its place (/dev/stdout is one)
        raise OutputPathError(
            f"is a symbolic link (to {os.readlink(path)}); memport writes only regular files and directories it creates: name the target itself",
            where,
        )
    resolved = path.resolve()
    here = Path.cwd().resolve()
    if path.name in ("", ".", "..") or resolved == here or resolved in here.parents:
        raise OutputPathError("is the current directory or one of its parents; name a new file or directory to write", where)
    parent = resolved.parent
    if not parent.is_dir():
        raise OutputPathError(f"cannot be written: no such directory {path.parent}", where)
    if target is not None and not overwrite:
        raise OutputExistsError("already exists; choose another output or allow overwriting (the old data is kept as a backup)", where)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot be written: the directory {path.parent} is read-only or not ours to write", where)


# ---------------------------------------------------------------------------------------------
# Atomic writes


@dataclass
class Output:
    """A pending output: write into ``tmp``; on success it replaces ``path``.

    ``backup`` is where the data previously at ``path`` was moved, when there was any.
    """

    path: Path
    tmp: Path
    backup: Path | None = None


def backup_name(path: Path, now: datetime | None = None) -> Path:
    """``<name>.bak-<UTC time>`` beside ``path``, numbered when that exists already."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{n}")
    return candidate


def staged_file(path: Path) -> Path:
    """A new, empty temporary file beside ``path`` (memport's name pattern, mode 0600)."""
    fd, name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _give_modes(tmp: Path, path: Path, directory: bool) -> None:
    """The staged output's final permissions (a directory's files and folders: the umask's, under
    the ceiling)."""
    os.chmod(tmp, output_mode(path, directory))
    if directory:
        files, folders = output_mode(None, False), output_mode(None, True)
        for root, dirs, names in os.walk(tmp):
            for name in dirs:
                os.chmod(os.path.join(root, name), folders)
            for name in names:
                os.chmod(os.path.join(root, name), files)


def _replace(tmp: Path, path: Path, out: Output, keep_backup: bool) -> None:
    """Put the staged output in place, moving what was there to a backup first (back again if the
    rename fails)."""
    if keep_backup and (path.exists() or path.is_symlink()):
        out.backup = backup_name(path)
        os.replace(path, out.backup)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(out.backup, path)
            out.backup = None
            raise
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output(path: Path, *, directory: bool, overwrite: bool = False, keep_backup: bool = True) -> Iterator[Output]:
    """Stage an output file or directory next to ``path`` and put it in place only on success.

    The path is checked first (:func:`check_output`). A failure (or interruption) removes the
    staged output and leaves ``path`` as it was. When ``path`` exists, ``overwrite`` must be true;
    the old data is then kept as a timestamped backup beside it (``<name>.bak-YYYYmmddTHHMMSS``)
    rather than deleted (unless ``keep_backup`` is false: a file rewritten in place, such as a
    decisions file saved again).
    """
    path = Path(path)
    check_output(path, overwrite=overwrite)
    sweep_stale(path.parent)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent))
    else:
        tmp = staged_file(path)
    out = Output(path, tmp)
    try:
        yield out
        _give_modes(tmp, path, directory)
        _replace(tmp, path, out, keep_backup)
    except BaseException as err:
        remove_temporary(tmp)
        if is_disk_full(err):
            raise disk_full(path) from None
        raise


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True, keep_backup: bool = False) -> Path | None:
    """Write a file so that readers see either the old or the new content, never a part. With
    ``overwrite=False`` an existing file is refused; with ``keep_backup`` the replaced one is kept as
    ``<name>.bak-<UTC time>`` (see :func:`atomic_output`), whose path is returned."""
    with atomic_output(Path(path), directory=False, overwrite=overwrite, keep_backup=keep_backup) as out:
        write_synced(out.tmp, data)
    return out.backup


def write_synced(path: Path, data: bytes) -> None:
    """Write bytes and fsync them (inside a staged output)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
