"""The ``memport`` command: a thin click layer over the library.

Exit codes: 0 success (for ``validate``: valid), 1 invalid bundle, 2 unreadable input, not a
bundle, unsupported version or bad usage. Every failure prints one readable line, never a traceback
(set ``MEMPORT_DEBUG=1`` to see one for a bug report).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import api, planning
from .errors import MemportError
from .filters import Filters
from .formats import plugins
from .jsonio import atomic_write_bytes
from .masking import mask_uid
from .planning import STRATEGIES
from .store import Store
from .timestamps import export_time

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def _guard(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MemportError as err:
            click.echo(f"memport: {err}", err=True)
            sys.exit(EXIT_UNREADABLE)
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            click.echo(f"memport: {where}{err.strerror or err}", err=True)
            sys.exit(EXIT_UNREADABLE)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as err:  # a bug: still one line, unless asked for the traceback
            if os.environ.get("MEMPORT_DEBUG"):
                raise
            click.echo(f"memport: internal error: {type(err).__name__}: {err} (set MEMPORT_DEBUG=1 for details)", err=True)
            sys.exit(EXIT_UNREADABLE)

    return wrapper


def _format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--format NAME: the format of the bundle read; only that format is tried (no guess)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice([p.name for p in plugins()]),
        help="The bundle's format: only it is tried (default: detected, with the evidence shown by inspect).",
    )(command)


def _notes(notes: list[dict[str, Any]]) -> None:
    """What the library noted about how it read the bundle (naive local times read as UTC), once each."""
    for note in notes:
        click.echo(f"note: {note['message']}")


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False))


@click.group()
@click.version_option(package_name="memport")
def cli() -> None:
    """Read, validate, inspect and convert AI memory exports (Kagura, Tribal Memory, Doclea)."""


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print format, version and counts as JSON.")
@_format_option
@_guard
def inspect(path: str, as_json: bool, fmt: str | None) -> None:
    """Show the format, version and record counts of the bundle at PATH."""
    found = api.inspect(path, format=fmt)
    if as_json:
        _emit_json(
            {
                "format": found["format"],
                "version": found["version"],
                "counts": found["counts"],
                "needs_reembedding": found["needs_reembedding"],
                "notes": found["notes"],
            }
        )
        return
    click.echo(f"{found['format']} {found['version']}  {path}")
    for kind, n in found["counts"].items():
        click.echo(f"  {kind:<10} {n}")
    click.echo(f"  needing an embedding: {found['needs_reembedding']} (memories without a vector)")
    click.echo("evidence: " + "; ".join(found["evidence"]))
    _notes(found["notes"])


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1).")
@_format_option
@_guard
def validate(path: str, as_json: bool, strict: bool, fmt: str | None) -> None:
    """Check the bundle at PATH against its format's JSON Schemas and cross-record rules.

    Exit 0 when valid (warnings allowed unless --strict), 1 when invalid, 2 when PATH cannot be
    read or is not a bundle.
    """
    report = api.validate(path, format=fmt)
    failed = not report.valid or (strict and report.warnings)
    if as_json:
        _emit_json(report.to_dict())
    else:
        for problem in report.problems:
            click.echo(str(problem))
        verdict = "invalid" if not report.valid else ("valid, but --strict fails on warnings" if failed else "valid")
        click.echo(f"{report.format} {report.version}: {verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
        _notes(report.notes)
    if failed:
        sys.exit(EXIT_INVALID)


@cli.command()
@click.argument("src", type=click.Path())
@click.option("--to", "target", required=True, type=click.Choice([p.name for p in plugins()]), help="Format to write.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Where to write the bundle.")
@click.option("--loss-report", type=click.Path(), help="Also write the conversion report (JSON) to this file.")
@click.option("--strict", is_flag=True, help="Fail (exit 1, nothing written) if anything cannot be carried.")
@click.option("--json", "as_json", is_flag=True, help="Print the accounting and losses as JSON.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (the old one is kept as <name>.bak-<time>).")
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
@_format_option
@_guard
def convert(
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
    exported_at: str,
    fmt: str | None,
) -> None:
    """Read SRC and write it as FORMAT to OUTPUT, atomically, saying what could not be carried.

    The same format is rewritten byte for byte. Between formats, the accounting
    input = written + merged + dropped is always printed, with every loss.
    """
    when = export_time(exported_at)
    when = None if when == "keep" else when
    bundle = api.read(src, local_tz=local_tz, format=fmt)
    result = api.convert(bundle, target, user_id=user_id, agent_name=agent_name, exported_at=when)
    report = result.conversion
    failed = strict and not report.lossless
    if not failed:
        backup = api.write(result, output, overwrite=overwrite, exported_at=when)
        if loss_report:
            atomic_write_bytes(Path(loss_report), (json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(report.summary_line())
        _notes(report.notes)
        for loss in sorted(report.losses.values(), key=lambda x: (x.kind, x.field)):
            examples = ", ".join(loss.examples)
            click.echo(f"  lost {loss.kind}.{loss.field}: {loss.count} (e.g. {examples}){' - ' + loss.note if loss.note else ''}")
        if failed:
            click.echo(f"not written: --strict and {len(report.losses)} kind(s) of loss")
        else:
            click.echo(f"wrote {target} bundle to {output}")
            if backup is not None:
                click.echo(f"previous output kept at {backup}")
    if failed:
        sys.exit(EXIT_INVALID)


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


@cli.command(name="import")
@click.argument("src", type=click.Path())
@click.option("--db", "db_path", required=True, type=click.Path(), help="The store file (created if missing).")
@click.option(
    "--strategy",
    type=click.Choice(list(STRATEGIES)),
    default="skip",
    show_default=True,
    help="What to do with a record that differs from the stored one.",
)
@click.option("--decisions", type=click.Path(), help="A decisions file (JSON Lines) to replay.")
@click.option("--dry-run", is_flag=True, help="Only report what would happen; write nothing.")
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
@_filter_options
@_format_option
@_guard
def import_(
    src: str,
    db_path: str,
    strategy: str,
    decisions: str | None,
    dry_run: bool,
    clear: bool,
    as_json: bool,
    local_tz: str | None,
    vectors: str,
    fmt: str | None,
    **kwargs: Any,
) -> None:
    """Import the bundle SRC into the store, in one transaction."""
    filters = _filters(kwargs)
    options = dict(strategy=strategy, decisions=decisions, filters=filters, local_tz=local_tz, clear=clear, vectors=vectors, format=fmt)
    with Store(db_path) as store:
        result = planning.plan(src, store, **options).summary() if dry_run else planning.import_bundle(src, store, **options)
    if as_json:
        _emit_json(result)
    else:
        verb = "would import" if dry_run else "imported"
        click.echo(
            f"{verb} {src}: "
            + ", ".join(f"{k} {result[k]}" for k in ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid", "total"))
        )
        if result["needs_reembedding"]:
            click.echo(f"{result['needs_reembedding']} memories need (re-)embedding: memport reembed --db {db_path}")
        if result["backup"]:
            click.echo(f"backup of the store before replacing data: {result['backup']}")
        unused = result["unused_decisions"]
        if unused:
            shown = ", ".join(mask_uid(uid) for uid in unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
            many = "decisions" if len(unused) > 1 else "decision"
            click.echo(f"warning: {len(unused)} {many} no record of this bundle needed (not in it, or new or unchanged): {shown}")
        _notes(result["notes"])
    if result["conflicts"] and strategy == "error":
        sys.exit(EXIT_INVALID)


@cli.command(name="diff")
@click.argument("src", type=click.Path())
@click.option("--db", "db_path", type=click.Path(), help="Compare with this store.")
@click.option("--against", type=click.Path(), help="Compare with this other bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and the differing records as JSON.")
@click.option(
    "--local-tz",
    help="IANA time zone of the machine that wrote naive local times (Kagura); without it they are read as UTC, and said so.",
)
@_filter_options
@_format_option
@_guard
def diff_(src: str, db_path: str | None, against: str | None, as_json: bool, local_tz: str | None, fmt: str | None, **kwargs: Any) -> None:
    """Show what differs between the bundle SRC and a store (--db) or another bundle (--against)."""
    if (db_path is None) == (against is None):
        raise click.UsageError("give exactly one of --db STORE or --against OTHER")
    filters = _filters(kwargs)
    with contextlib.ExitStack() as stack:
        if against:
            result = planning.compare(src, against, filters=filters, local_tz=local_tz, format=fmt)
            stack.callback(result.store.close)
        else:
            store = stack.enter_context(Store(db_path))
            result = planning.plan(src, store, strategy="manual", filters=filters, local_tz=local_tz, format=fmt)
        summary = result.summary()
        notes = summary["notes"]
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
        "new": summary["inserted"],
        "same": summary["unchanged"],
        "differs": summary["conflicts"],
        "skipped": summary["skipped"],
        "invalid": summary["invalid"],
        "total": summary["total"],
    }
    if as_json:
        _emit_json({"summary": summary, "records": rows, "notes": notes})
        return
    click.echo(", ".join(f"{k} {v}" for k, v in summary.items()))
    for row in rows:
        click.echo(f"  {row['action']:<8} {row['uid']}  {', '.join(row['fields'])}")
    _notes(notes)


@cli.command(name="export")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file.")
@click.option("--to", "target", required=True, type=click.Choice([p.name for p in plugins()]), help="Format to write.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Where to write the bundle.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (the old one is kept as <name>.bak-<time>).")
@click.option("--json", "as_json", is_flag=True, help="Print counts and conversion reports as JSON.")
@click.option(
    "--exported-at",
    help="The export time written into the bundle: an ISO 8601 date-time, or keep (each bundle's own, as imported); default: now.",
)
@_filter_options
@_guard
def export_(db_path: str, target: str, output: str, overwrite: bool, as_json: bool, exported_at: str | None, **kwargs: Any) -> None:
    """Write the store's records (filtered) as one bundle; with --user, everything of that user (GDPR).

    With --exported-at keep, an export of exactly what one import brought gives that bundle's bytes back.
    """
    from .exporter import export

    when = export_time(exported_at) if exported_at is not None else None
    with Store(db_path) as store:
        result = export(store, target, output, filters=_filters(kwargs), overwrite=overwrite, exported_at=when)
    if as_json:
        _emit_json(result)
        return
    counts = ", ".join(f"{k} {v}" for k, v in result["counts"].items() if v) or "nothing"
    click.echo(f"wrote {target} bundle to {output} ({counts})")
    for report in result["conversions"]:
        lost = sum(loss["count"] for loss in report["losses"])
        click.echo(f"  converted {report['from']} records: {report['input']} in, {report['written']} written, {lost} losses (see --json)")


@cli.command(name="erase")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file.")
@click.option("--user", "user_id", required=True, help="The user whose memories (and the relations touching them) are erased.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@_guard
def erase(db_path: str, user_id: str, yes: bool, as_json: bool) -> None:
    """Erase everything of one user in one transaction, after a backup of the store."""
    with Store(db_path) as store:
        memories, relations = store.user_selection(user_id)
        if not yes:
            if not sys.stdin.isatty():
                raise click.UsageError(
                    f"would erase {len(memories)} memories and {len(relations)} relations of {user_id!r}; pass --yes to do it"
                )
            click.confirm(f"erase {len(memories)} memories and {len(relations)} relations of {user_id!r}?", abort=True)
        result = store.erase_user(user_id)
    if as_json:
        _emit_json(result)
        return
    click.echo(f"erased {result['removed']['memories']} memories and {result['removed']['relations']} relations of {user_id!r}")
    click.echo(f"backup of the store before erasing: {result['backup']}")


@cli.command()
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file.")
@click.option(
    "--model",
    default="all-MiniLM-L6-v2",
    show_default=True,
    help="A sentence-transformers model name or local path (the default ships with memport, offline).",
)
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1), help="Texts encoded at once.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), help="Where to run the model (default: what sentence-transformers picks).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_guard
def reembed(db_path: str, model: str, batch_size: int, device: str | None, as_json: bool) -> None:
    """Give every memory in the store a vector from MODEL, encoding only texts not seen before."""
    from .embed import reembed as run

    report = run(db_path, model, batch_size=batch_size, device=device, progress=not as_json).to_dict()
    if as_json:
        _emit_json(report)
        return
    click.echo(
        f"{report['model']} ({report['fingerprint']}): {report['total']} memories, {report['encoded']} encoded, "
        f"{report['unchanged']} unchanged, {report['truncated']} truncated, {report['seconds']} s"
    )
    for record in report["truncated_records"][:20]:
        click.echo(f"  truncated: {record['uid']} has {record['tokens']} tokens (the model reads {record['max_seq_length']})")


@cli.command()
@click.argument("query")
@click.option("--db", "db_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The store file.")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1), help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_guard
def search(query: str, db_path: str, k: int, as_json: bool) -> None:
    """The memories closest in meaning to QUERY, under the store's embedding model."""
    from .embed import search as run

    with Store(db_path) as store:
        results = run(store, query, k)
    if as_json:
        _emit_json(results)
        return
    for hit in results:
        text = (hit["title"] + ": " if hit["title"] else "") + (hit["content"] or "")
        click.echo(f"{hit['score']:.3f}  {hit['uid']}  {text[:100]}")
