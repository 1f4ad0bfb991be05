"""The ``memport`` command: a thin click layer over the library.

Exit codes: 0 success (for ``validate``: valid), 1 invalid bundle, 2 unreadable input, not a
bundle, unsupported version or bad usage. Every failure prints one readable line, never a traceback
(set ``MEMPORT_DEBUG=1`` to see one for a bug report).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from . import api
from .errors import MemportError
from .formats import plugins
from .jsonio import atomic_write_bytes

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


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False))


@click.group()
@click.version_option(package_name="memport")
def cli() -> None:
    """Read, validate, inspect and convert AI memory exports (Kagura, Tribal Memory, Doclea)."""


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print format, version and counts as JSON.")
@_guard
def inspect(path: str, as_json: bool) -> None:
    """Show the format, version and record counts of the bundle at PATH."""
    found = api.inspect(path)
    if as_json:
        _emit_json({"format": found["format"], "version": found["version"], "counts": found["counts"]})
        return
    click.echo(f"{found['format']} {found['version']}  {path}")
    for kind, n in found["counts"].items():
        click.echo(f"  {kind:<10} {n}")
    click.echo("evidence: " + "; ".join(found["evidence"]))


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1).")
@_guard
def validate(path: str, as_json: bool, strict: bool) -> None:
    """Check the bundle at PATH against its format's JSON Schemas and cross-record rules.

    Exit 0 when valid (warnings allowed unless --strict), 1 when invalid, 2 when PATH cannot be
    read or is not a bundle.
    """
    report = api.validate(path)
    failed = not report.valid or (strict and report.warnings)
    if as_json:
        _emit_json(report.to_dict())
    else:
        for problem in report.problems:
            click.echo(str(problem))
        verdict = "invalid" if not report.valid else ("valid, but --strict fails on warnings" if failed else "valid")
        click.echo(f"{report.format} {report.version}: {verdict}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if failed:
        sys.exit(EXIT_INVALID)


@cli.command()
@click.argument("src", type=click.Path())
@click.option("--to", "target", required=True, type=click.Choice([p.name for p in plugins()]),
              help="Format to write.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Where to write the bundle.")
@click.option("--loss-report", type=click.Path(), help="Also write the conversion report (JSON) to this file.")
@click.option("--strict", is_flag=True, help="Fail (exit 1, nothing written) if anything cannot be carried.")
@click.option("--json", "as_json", is_flag=True, help="Print the accounting and losses as JSON.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output (the old one is kept as <name>.bak-<time>).")
@click.option("--local-tz", default="UTC", show_default=True,
              help="IANA time zone of the machine that wrote naive local times (Kagura).")
@click.option("--user-id", default="memport", show_default=True, help="Owner of the memories when converting to Kagura from a format without users.")
@click.option("--agent-name", default="global", show_default=True, help="Agent of the memories when converting to Kagura from a format without agents.")
@_guard
def convert(src: str, target: str, output: str, loss_report: str | None, strict: bool, as_json: bool, overwrite: bool,
            local_tz: str, user_id: str, agent_name: str) -> None:
    """Read SRC and write it as FORMAT to OUTPUT, atomically, saying what could not be carried.

    The same format is rewritten byte for byte. Between formats, the accounting
    input = written + merged + dropped is always printed, with every loss.
    """
    bundle = api.read(src, local_tz=local_tz)
    result = api.convert(bundle, target, user_id=user_id, agent_name=agent_name)
    report = result.conversion
    failed = strict and not report.lossless
    if not failed:
        backup = api.write(result, output, overwrite=overwrite)
        if loss_report:
            atomic_write_bytes(Path(loss_report), (json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(report.summary_line())
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
