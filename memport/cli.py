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
from typing import Any, Callable

import click

from . import api
from .errors import MemportError
from .formats import plugins

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
@click.option("--overwrite", is_flag=True, help="Replace an existing output (the old one is kept as <name>.bak-<time>).")
@click.option("--local-tz", default="UTC", show_default=True,
              help="IANA time zone of the machine that wrote naive local times (Kagura).")
@_guard
def convert(src: str, target: str, output: str, overwrite: bool, local_tz: str) -> None:
    """Read SRC and write it as FORMAT to OUTPUT, atomically.

    This release writes the bundle's own format (a lossless, byte-exact rewrite of native
    exports); conversions between formats come next.
    """
    bundle = api.read(src, local_tz=local_tz)
    backup = api.write(bundle, output, to=target, overwrite=overwrite)
    counts = ", ".join(f"{k} {v}" for k, v in bundle.counts().items() if v) or "empty"
    click.echo(f"wrote {target} bundle to {output} ({counts})")
    if backup is not None:
        click.echo(f"previous output kept at {backup}")
