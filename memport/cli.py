"""The ``memport`` command: a thin click layer over the library, made for the shell.

Exit codes (one table, in README too):

* 0: success (``validate``: valid; ``diff``: no differences);
* 1: the data says no: an invalid bundle, records not imported (invalid, or conflicts left
  undecided or refused by ``--strategy error``), losses under ``convert --strict``, differences
  found by ``diff`` (as diff(1));
* 2: memport could not run: unreadable input, not a bundle, bad usage, an output it will not write,
  a full disk or another I/O error.

Every failure is one readable line on stderr (with ``--json``: ``{"error", "exit_code"}`` on
stdout), never a traceback (``MEMPORT_DEBUG=1`` shows one for a bug report). ``-`` is standard
input (spooled to a temporary file: memport reads a bundle more than once) or standard output
(single-file formats). A closed pipe (``memport ... | head``) ends quietly, with the exit code the
output so far stands for. One-line outputs escape control characters, so that content never breaks
a line. Progress bars (``memport.progress``) show on stderr when it is a terminal, unless
``--quiet`` or ``--json``.

Nothing heavy is imported to parse the command line: ``memport --help`` loads neither torch nor
pandas, numpy or sentence-transformers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import click

from . import api, planning, progress
from .errors import MemportError
from .filters import Filters
from .formats import plugin, plugins
from .formats._convert import ConversionReport
from .masking import mask_uid
from .outputs import atomic_write_bytes, check_output, disk_full, is_disk_full, modes_like
from .planning import STRATEGIES, ConflictError
from .store import Store, opened_for_writing
from .timestamps import export_time

EXIT_OK = 0
EXIT_INVALID = 1  # the data says no
EXIT_UNREADABLE = 2  # could not run
PARQUET = "parquet"  # not a memory system's format: memport's dataset for other engines (memport.parquet)

STDIO = "-"
STDIN_LABEL = "<stdin>"


# ---------------------------------------------------------------------------------------------
# Text that stays on its line


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: Any) -> str:
    """``text`` with control characters (and Unicode line breaks, and lone surrogates, which no
    terminal can show) escaped: printed, it is exactly one line."""
    text = str(text)
    if text.isprintable() and text.isascii():
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029) or 0xD800 <= code < 0xE000:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 memory``, ``2 memories``."""
    if count == 1:
        return f"{count} {singular}"
    if plural_form is None:
        plural_form = singular[:-1] + "ies" if singular.endswith("y") and singular[-2:-1] not in "aeiou" else singular + "s"
    return f"{count} {plural_form}"


_KIND_NAMES = {
    "memories": ("memory", "memories"),
    "relations": ("relation", "relations"),
    "nodes": ("node", "nodes"),
    "documents": ("document", "documents"),
    "chunks": ("chunk", "chunks"),
    "pending": ("pending memory", "pending memories"),
}


def counted(kind: str, n: int) -> str:
    singular, many = _KIND_NAMES.get(kind, (kind, kind))
    return plural(n, singular, many)


# ---------------------------------------------------------------------------------------------
# One run of the command: its verdict, its labels, what it prints


class _Run:
    """The state of one command run: the exit code its output stands for so far (what a closed
    pipe exits with), whether failures are JSON, paths shown under another name (spooled stdin)."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.code = EXIT_OK
        self.labels: dict[str, str] = {}

    def verdict(self, code: int) -> None:
        self.code = max(self.code, code)

    def label(self, text: str) -> str:
        for path, name in self.labels.items():
            text = text.replace(path, name)
        return text


_RUN: ContextVar[_Run] = ContextVar("memport_cli_run")


def _run() -> _Run:
    try:
        return _RUN.get()
    except LookupError:  # a command called outside the group's main (not from the shell)
        run = _Run(False)
        _RUN.set(run)
        return run


def say(text: Any = "", *, err: bool = False) -> None:
    """Print one line (escaped, stdin's temporary file named as such)."""
    click.echo(one_line(_run().label(str(text))), err=err)


def emit_json(value: Any) -> None:
    click.echo(_run().label(json.dumps(value, indent=2, ensure_ascii=False)))


def _message(err: BaseException) -> tuple[str, int]:
    """The one line and exit code of a failure."""
    if isinstance(err, ConflictError):
        return str(err), EXIT_INVALID
    if isinstance(err, MemportError):
        return str(err), EXIT_UNREADABLE
    if isinstance(err, OSError):
        if is_disk_full(err):
            return str(disk_full(err.filename or "a file")), EXIT_UNREADABLE
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror or err}", EXIT_UNREADABLE
    if isinstance(err, sqlite3.Error) and is_disk_full(err):
        return "disk full while writing the store", EXIT_UNREADABLE
    return f"internal error: {type(err).__name__}: {err} (set MEMPORT_DEBUG=1 for details)", EXIT_UNREADABLE


def _fail(message: str, code: int) -> int:
    run = _run()
    run.verdict(code)
    message = run.label(message)
    if run.as_json:
        click.echo(json.dumps({"error": message, "exit_code": code}, ensure_ascii=False))
    else:
        click.echo(one_line(f"memport: {message}"), err=True)
    return code


def _quiet_pipe() -> None:
    """The reader went away: send the rest of our output nowhere (Python's own advice for SIGPIPE)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _Memport(click.Group):
    """The group that runs a command and turns whatever happens into one exit code."""

    def main(
        self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        options = argv[: argv.index("--")] if "--" in argv else argv
        run = _Run("--json" in options)
        token = _RUN.set(run)
        try:
            code = self._main(argv, prog_name, complete_var, extra, run)
        finally:
            _RUN.reset(token)
        if standalone_mode:
            sys.exit(code)
        return code

    def _main(self, argv: list[str], prog_name: str | None, complete_var: str | None, extra: dict[str, Any], run: _Run) -> int:
        try:
            try:
                result = super().main(argv, prog_name or "memport", complete_var, standalone_mode=False, **extra)
                if isinstance(result, int):  # --help, --version
                    run.verdict(result)
                sys.stdout.flush()
            except SystemExit as done:
                run.verdict(done.code if isinstance(done.code, int) else (EXIT_UNREADABLE if done.code else EXIT_OK))
            except click.exceptions.Exit as done:
                run.verdict(done.exit_code)
            except click.ClickException as err:
                if run.as_json:
                    _fail(err.format_message(), EXIT_UNREADABLE)
                else:
                    err.show()
                    run.verdict(EXIT_UNREADABLE)
            except click.Abort:
                _fail("aborted; nothing was done", EXIT_UNREADABLE)
            except BrokenPipeError:
                raise
            except Exception as err:
                if os.environ.get("MEMPORT_DEBUG") and not isinstance(err, (MemportError, OSError)):
                    raise
                _fail(*_message(err))
        except BrokenPipeError:
            _quiet_pipe()
        return run.code


def _steps(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command with its temporary files cleaned up at the end (spooled stdin)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with contextlib.ExitStack() as stack:
            return command(stack, *args, **kwargs)

    return wrapper


def _format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--format NAME: the format of the bundle read; only that format is tried (no guess)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice([p.name for p in plugins()]),
        help="The bundle's format: only it is tried (default: detected, with the evidence shown by inspect).",
    )(command)


def _notes(notes: list[dict[str, Any]], *, err: bool = False) -> None:
    """What the library noted about how it read the bundle (naive local times read as UTC), once each."""
    for note in notes:
        say(f"note: {note['message']}", err=err)


@click.group(name="memport", cls=_Memport, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memport")
def cli() -> None:
    """Read, validate, inspect, convert, merge and erase AI memory exports (Kagura, Tribal Memory,
    Doclea).

    Exit codes: 0 success; 1 the data says no (invalid, records not imported, losses under
    --strict, differences found by diff); 2 could not run (unreadable, usage, I/O). PATH - is
    standard input, -o - standard output.
    """


# ---------------------------------------------------------------------------------------------
# Paths in and out


def _input(stack: contextlib.ExitStack, path: str, quiet: bool) -> Path:
    """A bundle path; ``-`` spools standard input to a private temporary file (removed at the end),
    named ``<stdin>`` in what is printed."""
    if path != STDIO:
        return Path(path)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="memport-stdin-")))
    spooled = folder / "stdin"
    with open(spooled, "wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f)
    _run().labels[str(spooled)] = STDIN_LABEL
    if not quiet:
        say("memport: reading standard input into a temporary file first (a bundle is read more than once)", err=True)
    return spooled


def _source_mode(path: str, spooled: Path) -> Path | None:
    """What outputs' permissions follow: the bundle's file (nothing for standard input)."""
    return None if path == STDIO else spooled


def _stdout_target(target: str, output: str, as_json: bool) -> bool:
    """Whether the bundle goes to standard output (``-o -``): single-file formats only."""
    if output != STDIO:
        return False
    if plugin(target).directory:
        single = ", ".join(p.name for p in plugins() if not p.directory)
        raise click.UsageError(f"-o - writes single-file formats ({single}); a {target} bundle is a directory")
    if as_json:
        raise click.UsageError("-o - and --json would both write to standard output; choose one")
    return True


def _write_to_stdout(stack: contextlib.ExitStack, write: Callable[[Path], Any]) -> Any:
    """Write a bundle to a private temporary file, then copy it to standard output."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="memport-out-")))
    target = folder / "bundle"
    result = write(target)
    if not target.exists():  # nothing written (convert --strict with losses)
        return result
    sys.stdout.flush()
    out = sys.stdout.buffer
    with open(target, "rb") as f:
        shutil.copyfileobj(f, out)
    out.flush()
    return result


def _show_progress(quiet: bool, as_json: bool) -> Any:
    """Progress bars on stderr, when it is a terminal and nobody asked for quiet or JSON."""
    return progress.shown(not quiet and not as_json and sys.stderr.isatty())


def _quiet_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bars or notes on stderr.")(command)


# ---------------------------------------------------------------------------------------------
# inspect, validate


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--json", "as_json", is_flag=True, help="Print format, version and counts as JSON (a list for several paths).")
@_quiet_option
@_format_option
@_steps
def inspect(stack: contextlib.ExitStack, paths: tuple[str, ...], as_json: bool, quiet: bool, fmt: str | None) -> None:
    """Show the format, version and record counts of each bundle (PATH - is standard input)."""
    _no_double_stdin(paths)
    results: list[dict[str, Any]] = []
    with _show_progress(quiet, as_json):
        for path in paths:
            try:
                found = api.inspect(_input(stack, path, quiet), format=fmt)
            except MemportError as err:
                if len(paths) == 1:
                    raise
                results.append(_unreadable(path, err, as_json))
                continue
            item = {
                "path": STDIN_LABEL if path == STDIO else path,
                "format": found["format"],
                "version": found["version"],
                "counts": found["counts"],
                "needs_reembedding": found["needs_reembedding"],
                "notes": found["notes"],
            }
            results.append(item)
            if not as_json:
                say(f"{found['format']} {found['version']}  {item['path']}")
                for kind, n in found["counts"].items():
                    say(f"  {kind:<10} {n}")
                say(f"  needing an embedding: {plural(found['needs_reembedding'], 'record')} (memories and messages without a vector)")
                say("evidence: " + "; ".join(found["evidence"]))
                _notes(found["notes"])
    if as_json:
        emit_json(_single(results))


def _no_double_stdin(paths: tuple[str, ...]) -> None:
    if paths.count(STDIO) > 1:
        raise click.UsageError("standard input (-) can be read only once")


def _unreadable(path: str, err: MemportError, as_json: bool) -> dict[str, Any]:
    """One of several paths cannot be read: its own verdict (exit 2), the others go on."""
    _run().verdict(EXIT_UNREADABLE)
    message = _run().label(str(err))
    if not as_json:
        say(f"memport: {message}", err=True)
    return {"path": STDIN_LABEL if path == STDIO else path, "error": message, "exit_code": EXIT_UNREADABLE}


def _single(results: list[dict[str, Any]]) -> Any:
    """One path: its object without the path (or its error); several: the list, each with its path."""
    if len(results) == 1:
        item = results[0]
        return {k: v for k, v in item.items() if k != "path"} if "error" not in item else item
    return results


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (a list for several paths).")
@click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1).")
@click.option(
    "--max-problems",
    type=click.IntRange(0),
    default=None,
    help="Show at most N problems per bundle (default 100 in text, all in JSON; 0: all); a count by code follows.",
)
@_quiet_option
@_format_option
@_steps
def validate(
    stack: contextlib.ExitStack, paths: tuple[str, ...], as_json: bool, strict: bool, max_problems: int | None, quiet: bool, fmt: str | None
) -> None:
    """Check each bundle against its format's JSON Schemas and cross-record rules.

    One verdict per PATH; the exit code is the worst: 0 valid (warnings allowed unless --strict),
    1 invalid, 2 unreadable or not a bundle.
    """
    _no_double_stdin(paths)
    limit = max_problems if max_problems is not None else (0 if as_json else 100)
    results: list[dict[str, Any]] = []
    with _show_progress(quiet, as_json):
        for path in paths:
            try:
                report = api.validate(_input(stack, path, quiet), format=fmt)
            except MemportError as err:
                if len(paths) == 1:
                    raise
                results.append(_unreadable(path, err, as_json))
                continue
            name = STDIN_LABEL if path == STDIO else path
            failed = not report.valid or bool(strict and report.warnings)
            _run().verdict(EXIT_INVALID if failed else EXIT_OK)
            results.append(_validation(name, report, limit, failed, strict, as_json))
    if as_json:
        emit_json(_single(results))


def _validation(name: str, report: Any, limit: int, failed: bool, strict: bool, as_json: bool) -> dict[str, Any]:
    """Print one bundle's verdict (text) and return its JSON object."""
    ordered = report.errors + report.warnings
    shown = ordered if not limit else ordered[:limit]
    by_code = Counter((p.code, p.severity) for p in report.problems)
    omitted = len(ordered) - len(shown)
    if not as_json:
        kept = {id(p) for p in shown}
        for problem in report.problems:
            if id(problem) in kept:
                say(problem)
        if omitted:
            say(f"... {plural(omitted, 'more problem')} not shown (--max-problems 0 shows all)")
        if by_code:
            say(f"{plural(len(report.problems), 'problem')} by code:")
            for (code, severity), n in sorted(by_code.items(), key=lambda item: (-item[1], item[0])):
                say(f"  {n:>9}  {severity:<7}  {code}")
        verdict = "invalid" if not report.valid else ("valid, but --strict fails on warnings" if failed else "valid")
        say(
            f"{name}: {report.format} {report.version}: {verdict}: {plural(len(report.errors), 'error')}, {plural(len(report.warnings), 'warning')}"
        )
        _notes(report.notes)
    contract = report.to_dict()
    kept = {id(p) for p in shown}
    return {
        "path": name,
        "valid": contract["valid"],
        "format": contract["format"],
        "version": contract["version"],
        "errors": [c for p, c in zip(report.errors, contract["errors"]) if id(p) in kept],
        "warnings": [c for p, c in zip(report.warnings, contract["warnings"]) if id(p) in kept],
        "omitted": omitted,
        "by_code": {code: n for (code, _), n in sorted(by_code.items())},
        "notes": contract.get("notes", []),
    }


# ---------------------------------------------------------------------------------------------
# convert


@cli.command()
@click.argument("src")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice([*(p.name for p in plugins()), PARQUET]),
    help="Format to write (parquet: a dataset directory for DuckDB, Dask or Spark, every record kept).",
)
@click.option("-o", "--output", required=True, help="Where to write the bundle (- for standard output: single-file formats).")
@click.option("--loss-report", type=click.Path(), help="Also write the conversion report (JSON) to this file (same rules as the output).")
@click.option("--strict", is_flag=True, help="Fail (exit 1, nothing written) if anything cannot be carried.")
@click.option("--json", "as_json", is_flag=True, help="Print the accounting and losses as JSON.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (the old ones are kept as <name>.bak-<time>).")
@click.option(
    "--local-tz",
    help="IANA time zone of the machine that wrote naive local times (Kagura); without it they are read as UTC, and said so.",
)
@click.option(
    "--user-id", default="memport", show_default=True, help="Owner of the memories when converting to Kagura from a format without users."
)
@click.option(
    "--agent-name",
    default="global",
    show_default=True,
    help="Agent of the memories when converting to Kagura from a format without agents.",
)
@click.option(
    "--exported-at",
    default="keep",
    show_default=True,
    help="The export time written into the output: an ISO 8601 date-time, or keep (the source's own).",
)
@_quiet_option
@_format_option
@_steps
def convert(
    stack: contextlib.ExitStack,
    src: str,
    target: str,
    output: str,
    loss_report: str | None,
    strict: bool,
    as_json: bool,
    overwrite: bool,
    local_tz: str | None,
    user_id: str,
    agent_name: str,
    quiet: bool,
    exported_at: str,
    fmt: str | None,
) -> None:
    """Read SRC and write it as FORMAT to OUTPUT, atomically, saying what could not be carried.

    The same format is rewritten byte for byte. Between formats, the accounting
    input = written + merged + dropped is always printed, with every loss. The outputs are no more
    readable than SRC.
    """
    when = export_time(exported_at)
    when = None if when == "keep" else when
    if target == PARQUET:
        _check_outputs([output], loss_report, overwrite)
        _wrote_parquet(_input(stack, src, quiet), output, overwrite, as_json, local_tz=local_tz, loss_report=loss_report)
        return
    to_stdout = _stdout_target(target, output, as_json)
    _check_outputs([] if to_stdout else [output], loss_report, overwrite)
    path = _input(stack, src, quiet)
    options = dict(user_id=user_id, agent_name=agent_name, exported_at=when, local_tz=local_tz, strict=strict, format=fmt)
    text = functools.partial(say, err=to_stdout)  # the bundle itself may be on stdout
    with _show_progress(quiet, as_json), modes_like(_source_mode(src, path)):
        if to_stdout:
            done = _write_to_stdout(stack, lambda where: api.convert_file(path, target, where, **options))
        else:
            done = api.convert_file(path, target, output, overwrite=overwrite, **options)
        report, backup, failed = done["report"], done["backup"], not done["written"]
        if loss_report and not failed:
            _write_loss_report(loss_report, report, overwrite)
    if as_json:
        emit_json(report.to_dict())
    else:
        text(report.summary_line())
        _notes(report.notes, err=to_stdout)
        for loss in sorted(report.losses.values(), key=lambda x: (x.kind, x.field)):
            examples = ", ".join(loss.examples)
            text(f"  lost {loss.kind}.{loss.field}: {loss.count} (e.g. {examples}){' - ' + loss.note if loss.note else ''}")
        if failed:
            text(f"not written: --strict and {plural(len(report.losses), 'kind')} of loss")
        else:
            text(f"wrote {target} bundle to {'standard output' if to_stdout else output}")
            if backup is not None:
                text(f"previous output kept at {backup}")
    if failed:
        _run().verdict(EXIT_INVALID)


def _check_outputs(outputs: list[str], loss_report: str | None, overwrite: bool) -> None:
    """Every output path checked before anything is read or written."""
    if loss_report == STDIO:
        raise click.UsageError("--loss-report needs a file; the report is printed with --json")
    paths = [*outputs, *([loss_report] if loss_report else [])]
    if len({str(Path(p).resolve()) for p in paths}) < len(paths):
        raise click.UsageError("the bundle and the loss report need different paths")
    for path in paths:
        check_output(Path(path), overwrite=overwrite)


def _write_loss_report(path: str, report: ConversionReport, overwrite: bool) -> None:
    data = (json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    atomic_write_bytes(Path(path), data, overwrite=overwrite, keep_backup=True)


# ---------------------------------------------------------------------------------------------
# import, diff, export: the store


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--user, --agent, --scope, --tag and the date ranges, shared by import, export and diff."""
    options = [
        click.option("--user", "users", multiple=True, help="Only memories of this user (repeatable)."),
        click.option("--agent", "agents", multiple=True, help="Only memories of this agent (repeatable)."),
        click.option("--scope", "scopes", multiple=True, help="Only memories of this scope, e.g. persistent (repeatable)."),
        click.option("--tag", "tags", multiple=True, help="Only memories with any of these tags (repeatable)."),
        click.option("--created-since", help="Created at or after this ISO 8601 date (2026, 2026-01, 2026-01-15, or a date-time)."),
        click.option("--created-until", help="Created before the end of this ISO 8601 date."),
        click.option("--updated-since", help="Updated at or after this ISO 8601 date."),
        click.option("--updated-until", help="Updated before the end of this ISO 8601 date."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(kwargs: dict[str, Any]) -> Filters:
    names = ("users", "agents", "scopes", "tags", "created_since", "created_until", "updated_since", "updated_until")
    values = {name: kwargs.pop(name) for name in names}
    return Filters(**{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})


_ACCOUNT = ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid", "total")


@cli.command(name="import")
@click.argument("src")
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False), help="The store file (created if missing).")
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default="skip",
    show_default=True,
    help="What to do with a record that differs from the stored one.",
)
@click.option("--decisions", type=click.Path(), help="A decisions file (JSON Lines) to replay.")
@click.option("--dry-run", is_flag=True, help="Only report what would happen; write nothing (a missing store counts as empty).")
@click.option("--clear", is_flag=True, help="Empty the store first (after a backup).")
@click.option("--json", "as_json", is_flag=True, help="Print the accounting as JSON.")
@click.option(
    "--local-tz",
    help="IANA time zone of the machine that wrote naive local times (Kagura); without it they are read as UTC, and said so.",
)
@click.option(
    "--vectors",
    type=click.Choice(list(planning.VECTOR_STRATEGIES)),
    default="auto",
    show_default=True,
    help="Vectors a bundle carries: keep them when their model is the store's (auto), always (keep), or never (drop).",
)
@_quiet_option
@_filter_options
@_format_option
@_steps
def import_(
    stack: contextlib.ExitStack,
    src: str,
    db_path: str,
    strategy: str,
    decisions: str | None,
    dry_run: bool,
    clear: bool,
    as_json: bool,
    local_tz: str | None,
    vectors: str,
    quiet: bool,
    fmt: str | None,
    **kwargs: Any,
) -> None:
    """Import the bundle SRC (- for standard input; or a memport Parquet dataset) into the store, in
    one transaction.

    Exit 1 when records were not imported: invalid ones, or conflicts (left undecided, or refused
    by --strategy error, which writes nothing). A dry run exits as the import would.
    """
    filters = _filters(kwargs)
    path = _input(stack, src, quiet)
    options = dict(strategy=strategy, decisions=decisions, filters=filters, local_tz=local_tz, clear=clear, vectors=vectors)
    with _show_progress(quiet, as_json):
        if _parquet_dataset(src):
            from .parquet import import_parquet

            missing = dry_run and not Path(db_path).exists()
            opened = Store(":memory:" if missing else db_path, readonly=dry_run and not missing) if dry_run else opened_for_writing(db_path)
            with opened as store:
                result = import_parquet(src, store, dry_run=dry_run, **options)
        else:
            source = planning.source_of(path, format=fmt)
            if src == STDIO:
                source.label = STDIN_LABEL
            if dry_run:
                # a missing store is an empty one: nothing is created
                missing = not Path(db_path).exists()
                with Store(":memory:" if missing else db_path, readonly=not missing) as store:
                    result = planning.plan(source, store, **options).summary()
            else:
                with modes_like(_source_mode(src, path)), opened_for_writing(db_path) as store:
                    result = planning.import_bundle(source, store, **options)
    if result["conflicts"] or result["invalid"]:
        _run().verdict(EXIT_INVALID)
    if as_json:
        emit_json(result)
        return
    verb = "would import" if dry_run else "imported"
    say(f"{verb} {STDIN_LABEL if src == STDIO else src}: " + ", ".join(f"{k} {result[k]}" for k in _ACCOUNT))
    if result["needs_reembedding"]:
        n = result["needs_reembedding"]
        say(f"{plural(n, 'record')} {'needs' if n == 1 else 'need'} (re-)embedding: memport reembed --db {db_path}")
    if result["backup"]:
        say(f"backup of the store before replacing data: {result['backup']}")
    unused = result.get("unused_decisions") or []
    if unused:
        shown = ", ".join(mask_uid(uid) for uid in unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
        say(f"warning: {plural(len(unused), 'decision')} no record of this bundle needed (not in it, or new or unchanged): {shown}")
    _notes(result.get("notes") or [])


@cli.command(name="diff")
@click.argument("src")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Compare with this store (which must exist).")
@click.option("--against", help="Compare with this other bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the differing records as JSON.")
@click.option(
    "--local-tz",
    help="IANA time zone of the machine that wrote naive local times (Kagura); without it they are read as UTC, and said so.",
)
@_quiet_option
@_filter_options
@_format_option
@_steps
def diff_(
    stack: contextlib.ExitStack,
    src: str,
    db_path: str | None,
    against: str | None,
    as_json: bool,
    local_tz: str | None,
    quiet: bool,
    fmt: str | None,
    **kwargs: Any,
) -> None:
    """Show what differs between the bundle SRC and a store (--db) or another bundle (--against).

    Writes nothing. Exit 0 when nothing differs, 1 when something does (as diff(1)).
    """
    if (db_path is None) == (against is None):
        raise click.UsageError("give exactly one of --db STORE or --against OTHER")
    _no_double_stdin((src, against or ""))
    filters = _filters(kwargs)
    path = _input(stack, src, quiet)
    with _show_progress(quiet, as_json), contextlib.ExitStack() as stores:
        if against:
            result = planning.compare(path, _input(stack, against, quiet), filters=filters, local_tz=local_tz, format=fmt)
            stores.callback(result.store.close)
        else:
            store = stores.enter_context(Store(db_path, readonly=True))
            result = planning.plan(path, store, strategy="manual", filters=filters, local_tz=local_tz, format=fmt)
        found = result.summary()
        rows = [
            {
                "uid": r.uid,
                "kind": r.kind,
                "action": "differs" if r.action == "conflict" else r.action,
                "reason": r.reason,
                "fields": r.fields,
            }
            for r in result.notable
        ]
    summary = {
        "new": found["inserted"],
        "same": found["unchanged"],
        "differs": found["conflicts"],
        "skipped": found["skipped"],
        "invalid": found["invalid"],
        "total": found["total"],
    }
    if summary["new"] or summary["differs"] or summary["invalid"]:
        _run().verdict(EXIT_INVALID)
    if as_json:
        emit_json({"summary": summary, "records": rows, "notes": found.get("notes", [])})
        return
    say(", ".join(f"{k} {v}" for k, v in summary.items()))
    for row in rows:  # shown as every display shows uids: a secret in an identity masked
        say(f"  {row['action']:<8} {mask_uid(row['uid'])}  {', '.join(row['fields'] or [])}")
    _notes(found.get("notes", []))


@cli.command(name="export")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file (read, never written).")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice([*(p.name for p in plugins()), PARQUET]),
    help="Format to write (parquet: a dataset directory for DuckDB, Dask or Spark).",
)
@click.option("-o", "--output", required=True, help="Where to write the bundle (- for standard output: single-file formats).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (the old one is kept as <name>.bak-<time>).")
@click.option("--json", "as_json", is_flag=True, help="Print counts and conversion reports as JSON.")
@click.option(
    "--exported-at",
    help="The export time written into the bundle: an ISO 8601 date-time, or keep (each bundle's own, as imported); default: now.",
)
@_quiet_option
@_filter_options
@_steps
def export_(
    stack: contextlib.ExitStack,
    db_path: str,
    target: str,
    output: str,
    overwrite: bool,
    as_json: bool,
    quiet: bool,
    exported_at: str | None,
    **kwargs: Any,
) -> None:
    """Write the store's records (filtered) as one bundle; with --user, everything of that user (GDPR).

    The output is no more readable than the store file. With --exported-at keep, an export of exactly
    what one import brought gives that bundle's bytes back.
    """
    from .exporter import export

    when = export_time(exported_at) if exported_at is not None else None
    if target == PARQUET:
        if _filters(kwargs).active:
            raise click.UsageError("--to parquet writes the whole store; filters are not supported with it")
        _check_outputs([output], None, overwrite)
        _wrote_parquet(Path(db_path), output, overwrite, as_json)
        return
    to_stdout = _stdout_target(target, output, as_json)
    if not to_stdout:
        _check_outputs([output], None, overwrite)
        if Path(output).resolve() == Path(db_path).resolve():
            raise click.UsageError("the output would replace the store it is exported from")
    filters = _filters(kwargs)
    text = functools.partial(say, err=to_stdout)  # the bundle itself may be on stdout
    with _show_progress(quiet, as_json), Store(db_path, readonly=True) as store:
        if to_stdout:
            result = _write_to_stdout(stack, lambda where: export(store, target, where, filters=filters, exported_at=when))
        else:
            result = export(store, target, output, filters=filters, overwrite=overwrite, exported_at=when)
    if as_json:
        emit_json(result)
        return
    counts = ", ".join(counted(k, v) for k, v in result["counts"].items() if v) or "nothing"
    text(f"wrote {target} bundle to {'standard output' if to_stdout else output} ({counts})")
    for report in result["conversions"]:
        lost = sum(loss["count"] for loss in report["losses"])
        text(
            f"  converted {report['from']} records: {report['input']} in, {report['written']} written, {plural(lost, 'loss', 'losses')} (see --json)"
        )
    for note in result["notes"]:
        text(f"  {note}")
    if result["runs"]:
        text(f"  {plural(len(result['runs']), 'import run')} name this user in their source or header (listed with --json)")
    if result["backup"]:
        text(f"previous output kept at {result['backup']}")


# ---------------------------------------------------------------------------------------------
# erase


@cli.command(name="erase")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file.")
@click.option("--user", "user_id", required=True, help="The user whose data is erased, for good.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-backup", is_flag=True, help="Keep the backup made before erasing (it still holds everything erased).")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@_steps
def erase(stack: contextlib.ExitStack, db_path: str, user_id: str, yes: bool, keep_backup: bool, as_json: bool) -> None:
    """Erase everything the store holds of one user, for good.

    Their memories, the records that name them (Kagura's user node, say) and the relations touching
    these, the records only these reach, their vectors and cached vectors, their full-text index
    entries, their name in import runs' sources and headers; then the store file is rewritten
    without the freed pages. A backup is made first and removed when the erase is done, unless
    --keep-backup. A user with no data: nothing is done (exit 0).
    """
    from .userdata import select

    with opened_for_writing(db_path) as store:
        selection = select(store, [user_id], erasing=True)
        if selection.empty:
            if as_json:
                emit_json({"user": user_id, "removed": {}, "backup": None})
            else:
                say(f"nothing of {user_id!r} in {db_path}: nothing erased, no backup made")
            return
        what = ", ".join(counted(k, n) for k, n in selection.counts().items() if n) or "no records"
        if selection.runs:
            what += f" and their name in {plural(len(selection.runs), 'import run')}"
        if not yes:
            if not sys.stdin.isatty():
                raise click.UsageError(f"would erase {what} of {user_id!r}; pass --yes to do it")
            click.confirm(f"erase {what} of {user_id!r} for good?", abort=True)
        done = store.erase(selection.uids, selection.texts, _redactor(user_id), keep_backup=keep_backup)
    removed = done["removed"]
    if as_json:
        emit_json({"user": user_id, **done})
        return
    records = ", ".join(counted(k, removed[k]) for k in _KIND_NAMES if removed.get(k)) or "no records"
    say(f"erased {records} of {user_id!r}")
    say(
        f"  with {plural(removed['embeddings'], 'vector')} and {plural(removed['cached_vectors'], 'cached vector')}; "
        f"{plural(removed['runs_redacted'], 'import run')} redacted; the store file rewritten without the freed pages"
    )
    if done["backup"]:
        say(f"the backup made before erasing still holds everything erased: {done['backup']} (delete it when no longer needed)")
    else:
        say("the backup made before erasing was removed")


def _redactor(user: str) -> Callable[[str], str]:
    from .userdata import redactor

    return redactor([user])


# ---------------------------------------------------------------------------------------------
# reembed, search


@cli.command()
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file.")
@click.option(
    "--model",
    default="all-MiniLM-L6-v2",
    show_default=True,
    help="A sentence-transformers model name or local path (the default ships with memport; others must be available offline).",
)
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1), help="Texts encoded at once.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), help="Where to run the model (default: what sentence-transformers picks).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_quiet_option
def reembed(db_path: str, model: str, batch_size: int, device: str | None, as_json: bool, quiet: bool) -> None:
    """Give every memory (and message) in the store a vector from MODEL, encoding only texts not seen before."""
    from .embed import reembed as run

    shown = not quiet and not as_json and sys.stderr.isatty()
    report = run(db_path, model, batch_size=batch_size, device=device, progress=shown).to_dict()
    if as_json:
        emit_json(report)
        return
    say(
        f"{report['model']} ({report['fingerprint']}): {plural(report['total'], 'record')}, {report['encoded']} encoded, "
        f"{report['unchanged']} unchanged, {report['truncated']} truncated, {report['seconds']} s"
    )
    for record in report["truncated_records"][:20]:
        say(f"  truncated: {record['uid']} has {record['tokens']} tokens (the model reads {record['max_seq_length']})")


@cli.command()
@click.argument("query")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file (read, never written).")
@click.option("--text", "by_text", is_flag=True, help="Keyword search (full-text index) instead of search by meaning.")
@click.option("--fts", "syntax", is_flag=True, help='With --text: QUERY is FTS5 query syntax (OR, NOT, "a phrase", NEAR, title:word).')
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1), help="How many results.")
@click.option("--min-score", type=float, help="Search by meaning: leave out results less similar than this (cosine, -1 to 1).")
@click.option("--model", help="Search by meaning: the model to encode QUERY with (default: the one the store's vectors come from).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), help="Search by meaning: where to run the model.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_filter_options
def search(
    query: str,
    db_path: str,
    by_text: bool,
    syntax: bool,
    k: int,
    min_score: float | None,
    model: str | None,
    device: str | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """The memories (and messages) closest in meaning to QUERY under the store's embedding model,
    or with --text those whose title or content hold its words (a word ending in * as a prefix).

    One line per result: score, uid, title and text (--text: a snippet around the match), masked
    as every display is; --json prints them whole.
    """
    from .masking import mask_text, mask_uid, shorten
    from .searching import records, search_text
    from .searching import search as by_meaning

    filters = _filters(kwargs)
    if by_text and (min_score is not None or model or device):
        raise click.UsageError("--min-score, --model and --device are for search by meaning, not --text")
    if syntax and not by_text:
        raise click.UsageError("--fts goes with --text (FTS5 syntax is the full-text index's)")
    with Store(db_path, readonly=True) as store:
        if by_text:
            found = search_text(store, query, k, filters=filters, syntax=syntax)
        else:
            found = by_meaning(store, query, k, filters=filters, min_score=min_score, model=model, device=device)
    rows = records(found)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("no results", err=True)
    for row in rows:
        text = row["snippet"] if by_text else row["content"]
        shown = mask_text((f"{row['title']}: " if row["title"] else "") + (text or ""))
        say(f"{row['score']:.3g}  {mask_uid(row['uid'])}  {shorten(one_line(shown), 160)}")


@cli.command(name="datasette-metadata")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The store the metadata is for (Datasette names it after its file).",
)
@click.option("-o", "--output", default=STDIO, show_default=True, help="Where to write the metadata (- is standard output).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file (kept as a backup).")
def datasette_metadata(db_path: str, output: str, overwrite: bool) -> None:
    """Write Datasette's metadata for the store: what every table, view and column holds, labels for
    links, facets, hidden plumbing and canned queries. Then: datasette STORE --metadata FILE."""
    from .store.datasette import database_name, metadata

    data = (json.dumps(metadata(database_name(db_path)), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    if output == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    check_output(Path(output), overwrite=overwrite)
    backup = atomic_write_bytes(Path(output), data, overwrite=overwrite, keep_backup=True)
    say(f"wrote {output}: datasette {db_path} --metadata {output}")
    if backup is not None:
        say(f"previous file kept at {backup}")


# Parquet datasets and fleets ------------------------------------------------------------------


def _parquet_dataset(src: str) -> bool:
    """A directory memport wrote as Parquet, or one with Parquet files that is none of the formats'
    (import then says what is missing, rather than "not a bundle")."""
    from .parquet import is_dataset, looks_like_parquet

    return is_dataset(src) or (looks_like_parquet(src) and not (Path(src) / "memories.jsonl").exists())


def _wrote_parquet(
    source: str | Path, output: str, overwrite: bool, as_json: bool, *, local_tz: str = "UTC", loss_report: str | None = None
) -> None:
    """``--to parquet`` of export (a store) and convert (a bundle): write the dataset, say what."""
    from .parquet import to_parquet

    result = to_parquet(source, output, overwrite=overwrite, local_tz=local_tz)
    if loss_report:  # nothing is lost: every record is a row, with its exact native JSON
        records = sum(
            n for table, n in result["counts"].items() if table in ("memories", "relations", "nodes", "documents", "chunks", "pending")
        )
        report = {
            "from": str(source),
            "to": PARQUET,
            "input": records,
            "written": records,
            "merged": 0,
            "created": 0,
            "dropped": {},
            "losses": [],
        }
        atomic_write_bytes(Path(loss_report), (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if as_json:
        emit_json(result)
        return
    counts = ", ".join(f"{k} {v}" for k, v in result["counts"].items() if v) or "nothing"
    say(f"wrote parquet dataset to {output} ({counts}; {result['files']} files, schema {result['schema_version']})")
    if result["backup"]:
        say(f"previous output kept at {result['backup']}")


@cli.group()
def fleet() -> None:
    """Validate or audit many bundles at once (a folder, globs, or several paths): one table back."""


def _fleet_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("paths", nargs=-1, required=True),
        click.option("--json", "as_json", is_flag=True, help="Print one object per bundle and the summary as JSON."),
        click.option("--workers", type=click.IntRange(1), help="Local processes (default: one per core)."),
        click.option("--dask", "scheduler", help="Run on this Dask cluster (a scheduler address, e.g. tcp://host:8786)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextlib.contextmanager
def _client(scheduler: str | None) -> Any:
    if scheduler is None:
        yield None
        return
    from .parquet.extras import need

    client = need("distributed").Client(scheduler)
    try:
        yield client
    finally:
        client.close()


def _fleet_rows(frame: Any) -> list[dict[str, Any]]:
    return [{k: (None if v is None or v != v else v) for k, v in row.items()} for row in frame.astype(object).to_dict("records")]


@fleet.command(name="validate")
@_fleet_options
@click.option("--problems", type=click.Path(), help="Also write one row per problem (with its bundle) to this Parquet file.")
@click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1).")
def fleet_validate(
    paths: tuple[str, ...], as_json: bool, workers: int | None, scheduler: str | None, problems: str | None, strict: bool
) -> None:
    """Validate every bundle PATHS name. Exit 0 when all are valid, 1 otherwise."""
    from . import fleet as fleets

    with _client(scheduler) as client:
        report = fleets.validate(list(paths), client=client, workers=workers)
    if problems:
        report.to_parquet(problems, overwrite=True)
    summary = report.summary()
    if as_json:
        emit_json({"summary": summary, "bundles": _fleet_rows(report.bundles)})
    else:
        for row in _fleet_rows(report.bundles):
            what = row["message"] or f"{row['errors']} error(s), {row['warnings']} warning(s)"
            say(f"{row['status']:<10} {row['format'] or '-':<12} {row['bundle']}: {what}")
        say(", ".join(f"{k} {v}" for k, v in summary.items()))
    if not report.valid or (strict and summary["warnings"]):
        _run().verdict(EXIT_INVALID)


@fleet.command(name="audit")
@_fleet_options
@click.option("--findings", type=click.Path(), help="Also write one row per finding (secrets masked) to this Parquet file.")
def fleet_audit(paths: tuple[str, ...], as_json: bool, workers: int | None, scheduler: str | None, findings: str | None) -> None:
    """Audit every bundle PATHS name: memories, duplicates, dangling references, sensitive data (masked)."""
    from . import fleet as fleets

    with _client(scheduler) as client:
        report = fleets.audit(list(paths), client=client, workers=workers)
    if findings:
        report.to_parquet(findings, overwrite=True)
    summary = report.summary()
    if as_json:
        emit_json({"summary": summary, "bundles": _fleet_rows(report.bundles)})
        return
    for row in _fleet_rows(report.bundles):
        what = row["message"] or ", ".join(f"{k} {row[k]}" for k in ("memories", "duplicate_groups", "dangling", "sensitive", "too_long"))
        say(f"{row['format'] or 'unreadable':<12} {row['bundle']}: {what}")
    say(", ".join(f"{k} {v}" for k, v in summary.items()))
