"""Validate or audit a fleet of exports (one per user, agent and instance) and get one table back.

``memport.fleet.validate(paths)`` and ``memport.fleet.audit(paths)`` take a folder of bundles, a
glob, or a list of paths, run memport's own :func:`memport.validate` or :func:`memport.audit` on
each bundle, and return one report: a DataFrame with one row per bundle, one with one row per
problem (or finding), a summary, and Parquet output of the problems. Bundles are checked in
parallel on local processes (:mod:`memport.parallel`'s policy), or on a Dask cluster when given a
``distributed.Client`` (a ``dask.bag`` over the paths: each worker reads its bundles itself, so
only paths go out and small results come back). A bundle that cannot be read is a row that says
why, never an exception that stops the fleet.
"""

from __future__ import annotations

import glob
import html
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleNotFoundError, Location, MemportError, NotABundleError
from .formats import detect
from .frames import python_strings
from .jsonio import atomic_output
from .parallel import context
from .problems import COLUMNS

STATUSES = ["valid", "invalid", "unreadable"]
AUDIT_STATUSES = ["read", "unreadable"]
BUNDLE_COLUMNS = ["bundle", "format", "version", "status", "errors", "warnings", "message"]
AUDIT_COLUMNS = ["bundle", "format", "version", "status", "memories", "duplicate_groups", "dangling", "sensitive", "too_long", "message"]
FINDING_COLUMNS = ["bundle", "kind", "uid", "detail"]


def bundles(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """The bundles ``paths`` names, sorted, each once: a bundle itself (a file, or a Kagura
    directory), a folder of bundles (its entries, not hidden ones), a glob, or a list of these."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found: dict[Path, None] = {}
    for item in items:
        text = str(item)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise BundleNotFoundError("matches no file or directory", Location(text))
        for match in matches:
            path = Path(match)
            if not path.exists():
                raise BundleNotFoundError("no such file or directory", Location(match))
            if path.is_dir() and not _is_bundle(path):
                found.update((child, None) for child in sorted(path.iterdir()) if not child.name.startswith("."))
            else:
                found[path] = None
    return sorted(found)


def _is_bundle(path: Path) -> bool:
    try:
        detect(path)
    except NotABundleError:
        return False
    except MemportError:  # a bundle, of a version memport does not know: its own row says so
        return True
    return True


def validate_one(path: str) -> dict[str, Any]:
    """One bundle's row and problems (plain data, so that it travels between processes)."""
    from .api import validate

    try:
        report = validate(path)
    except (MemportError, OSError) as err:
        return {"row": _unreadable(path, err), "problems": []}
    status = "valid" if report.valid else "invalid"
    row = {
        "bundle": path,
        "format": report.format,
        "version": report.version,
        "status": status,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "message": None,
    }
    return {"row": row, "problems": [{"bundle": path, **problem.to_dict()} for problem in report.problems]}


def audit_one(path: str) -> dict[str, Any]:
    """One bundle's audit summary and findings (secrets masked, as every audit display)."""
    from .api import read
    from .auditing import audit

    try:
        bundle = read(path)
        found = audit(bundle)
    except (MemportError, OSError) as err:
        row = _unreadable(path, err)
        return {"row": {name: row.get(name) for name in AUDIT_COLUMNS}, "findings": []}
    row = {"bundle": path, "format": bundle.format, "version": bundle.version, "status": "read", **found.summary(), "message": None}
    findings = [
        {"bundle": path, "kind": "sensitive", "uid": r.uid, "detail": f"{r.kind}: {r.masked}"} for r in found.sensitive.itertuples()
    ]
    findings += [
        {"bundle": path, "kind": "dangling", "uid": r.relation, "detail": f"{r.end} -> {r.missing}"} for r in found.dangling.itertuples()
    ]
    findings += [
        {"bundle": path, "kind": "duplicate", "uid": ", ".join(map(str, r.uids)), "detail": f"{r.count} copies of {r.text}"}
        for r in found.duplicates.itertuples()
    ]
    findings += [
        {"bundle": path, "kind": "too_long", "uid": r.uid, "detail": f"{r.tokens} tokens ({r.how}), the model reads {r.max_tokens}"}
        for r in found.too_long.itertuples()
    ]
    return {"row": row, "findings": findings}


def _unreadable(path: str, err: Exception) -> dict[str, Any]:
    message = str(err) if isinstance(err, MemportError) else f"{getattr(err, 'filename', None) or path}: {err.strerror or err}"
    return {"bundle": path, "format": None, "version": None, "status": "unreadable", "errors": None, "warnings": None, "message": message}


def run(task: Callable[[str], dict[str, Any]], paths: list[Path], client: Any = None, workers: int | None = None) -> list[dict[str, Any]]:
    """``task`` over ``paths``, results in the order of ``paths``: on the Dask cluster of ``client``
    (a dask.bag, one partition per path up to a few per worker), else on local processes."""
    names = [str(p) for p in paths]
    if client is not None:
        from .parquet.extras import need

        bag = need("dask.bag")
        partitions = max(1, min(len(names), 4 * max(1, len(client.scheduler_info().get("workers", {})))))
        return list(client.compute(bag.from_sequence(names, npartitions=partitions).map(task)).result())
    count = workers or os.cpu_count() or 1
    if count == 1 or len(names) < 2:
        return [task(name) for name in names]
    with ProcessPoolExecutor(max_workers=min(count, len(names)), mp_context=context()) as pool:
        return list(pool.map(task, names))


@dataclass
class FleetReport:
    """Validation of many bundles: ``bundles`` (one row each), ``problems`` (one row each)."""

    bundles: Any
    problems: Any

    def summary(self) -> dict[str, int]:
        status = self.bundles["status"].value_counts()
        return {
            "bundles": len(self.bundles),
            **{name: int(status.get(name, 0)) for name in STATUSES},
            "errors": int((self.problems["severity"] == "error").sum()),
            "warnings": int((self.problems["severity"] == "warning").sum()),
        }

    @property
    def valid(self) -> bool:
        """True when every bundle was read and is valid."""
        return bool((self.bundles["status"] == "valid").all())

    def to_parquet(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """The problems (one row per problem, with its bundle) as one Parquet file, atomically."""
        return _write_frame(self.problems, path, overwrite)

    def _repr_html_(self) -> str:
        head = "<p>" + html.escape(", ".join(f"{k}: {v}" for k, v in self.summary().items())) + "</p>"
        return head + self.bundles.to_html(index=False, na_rep="", escape=True)


@dataclass
class FleetAudit:
    """Audits of many bundles: ``bundles`` (one row each, the audit's summary), ``findings`` (one
    row each: sensitive data masked, dangling references, duplicate texts, texts too long)."""

    bundles: Any
    findings: Any

    def summary(self) -> dict[str, int]:
        status = self.bundles["status"].value_counts()
        return {
            "bundles": len(self.bundles),
            "unreadable": int(status.get("unreadable", 0)),
            "memories": int(self.bundles["memories"].sum()),
            **{kind: int((self.findings["kind"] == kind).sum()) for kind in ("sensitive", "dangling", "duplicate", "too_long")},
        }

    def to_parquet(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """The findings as one Parquet file, atomically."""
        return _write_frame(self.findings, path, overwrite)

    def _repr_html_(self) -> str:
        head = "<p>" + html.escape(", ".join(f"{k}: {v}" for k, v in self.summary().items())) + "</p>"
        return head + self.bundles.to_html(index=False, na_rep="", escape=True)


@python_strings
def validate(paths: str | Path | Iterable[str | Path], *, client: Any = None, workers: int | None = None) -> FleetReport:
    """Validate every bundle ``paths`` names (see :func:`bundles`); ``client``: a
    ``distributed.Client`` to run on its cluster; ``workers``: local processes (default: cores)."""
    import pandas as pd

    results = run(validate_one, bundles(paths), client, workers)
    frame = pd.DataFrame([r["row"] for r in results], columns=BUNDLE_COLUMNS)
    frame["status"] = pd.Categorical(frame["status"], categories=STATUSES)
    for name in ("errors", "warnings"):
        frame[name] = frame[name].astype("Int64")
    for name in ("bundle", "format", "version", "message"):
        frame[name] = frame[name].astype("string")
    problems = pd.DataFrame([p for r in results for p in r["problems"]], columns=["bundle", *COLUMNS])
    problems["bundle"] = problems["bundle"].astype("string")
    problems["severity"] = pd.Categorical(problems["severity"], categories=["error", "warning"])
    problems["code"] = problems["code"].astype("category")
    for name in ("line", "record"):
        problems[name] = problems[name].astype("Int64")
    for name in ("file", "path", "message"):
        problems[name] = problems[name].astype("string")
    return FleetReport(frame, problems)


@python_strings
def audit(paths: str | Path | Iterable[str | Path], *, client: Any = None, workers: int | None = None) -> FleetAudit:
    """Audit every bundle ``paths`` names (see :func:`validate` for ``client`` and ``workers``)."""
    import pandas as pd

    results = run(audit_one, bundles(paths), client, workers)
    frame = pd.DataFrame([r["row"] for r in results], columns=AUDIT_COLUMNS)
    frame["status"] = pd.Categorical(frame["status"], categories=AUDIT_STATUSES)
    for name in AUDIT_COLUMNS[4:-1]:
        frame[name] = frame[name].astype("Int64")
    for name in ("bundle", "format", "version", "message"):
        frame[name] = frame[name].astype("string")
    findings = pd.DataFrame([f for r in results for f in r["findings"]], columns=FINDING_COLUMNS)
    findings["kind"] = pd.Categorical(findings["kind"], categories=["sensitive", "dangling", "duplicate", "too_long"])
    for name in ("bundle", "uid", "detail"):
        findings[name] = findings[name].astype("string")
    return FleetAudit(frame, findings)


def _write_frame(frame: Any, path: str | Path, overwrite: bool) -> Path:
    from .parquet.extras import need

    pa = need("pyarrow")
    pq = need("pyarrow.parquet")
    path = Path(path)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_output(path, directory=False, overwrite=overwrite) as out:
        pq.write_table(table, str(out.tmp), compression="zstd")
    return path
