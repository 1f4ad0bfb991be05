"""Fleets of exports: validation and audits of many bundles, on local processes and on a Dask cluster
of two workers, one table back, problems as Parquet, and the CLI."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from native import KAGURA_PERSISTENT, TRIBAL_ENTRY, tribal_bundle, write_kagura, write_tribal

import memport
from memport import fleet
from memport.cli import cli

SECRET = "alice.smith@example.org"


@pytest.fixture(scope="module")
def exports(tmp_path_factory, src):
    """A folder of generated exports of every format: the samples, per-user Kagura exports (one
    with a secret, one invalid), a Tribal bundle with a dangling reference, and a file that is no
    bundle at all."""
    root = tmp_path_factory.mktemp("exports")
    for name, path in src.items():
        target = root / f"sample-{name}{path.suffix}"
        (shutil.copytree if path.is_dir() else shutil.copy)(path, target)
    for n in range(3):
        records = [dict(KAGURA_PERSISTENT, key=f"k{i}", user_id=f"user_{n}", value=f"note {i} of user {n}") for i in range(5)]
        if n == 1:
            records.append(dict(KAGURA_PERSISTENT, key="mail", user_id="user_1", value=f"write to {SECRET}"))
        if n == 2:
            records.append(dict(KAGURA_PERSISTENT, key="bad", user_id="user_2", scope="nowhere"))
        write_kagura(root / f"kagura-user-{n}", records)
    dangling = dict(TRIBAL_ENTRY, id="0b7c6a52-1111-4a2b-9c3d-00000000000f", supersedes="0b7c6a52-1111-4a2b-9c3d-0000000000ff")
    write_tribal(root / "tribal-dangling.json", tribal_bundle([dangling]))
    (root / "notes.txt").write_text("not a bundle\n")
    return root


def expected_rows(paths):
    """What memport.validate says of each bundle, one at a time."""
    rows = {}
    for path in paths:
        try:
            report = memport.validate(path)
        except memport.MemportError:
            rows[str(path)] = ("unreadable", None, None)
            continue
        rows[str(path)] = ("valid" if report.valid else "invalid", len(report.errors), len(report.warnings))
    return rows


def test_a_folder_of_bundles_validated_on_local_processes(exports):
    report = fleet.validate(exports)
    paths = sorted(p for p in exports.iterdir())
    assert report.bundles["bundle"].tolist() == [str(p) for p in paths]
    got = {
        r.bundle: (r.status, None if pd.isna(r.errors) else r.errors, None if pd.isna(r.warnings) else r.warnings)
        for r in report.bundles.itertuples()
    }
    assert got == expected_rows(paths)
    assert got[str(exports / "kagura-user-2")][0] == "invalid" and got[str(exports / "kagura-user-0")][0] == "valid"
    unreadable = report.bundles.set_index("bundle").loc[str(exports / "notes.txt")]
    assert unreadable["status"] == "unreadable" and "not a memory bundle memport knows" in unreadable["message"]
    # one row per problem, each with its bundle: the very problems memport.validate reports
    for path in paths:
        if got[str(path)][0] != "unreadable":
            mine = report.problems[report.problems["bundle"] == str(path)]
            assert mine["code"].astype(str).tolist() == [p.code for p in memport.validate(path).problems]
    assert report.summary() == {
        "bundles": len(paths),
        "valid": sum(1 for r in got.values() if r[0] == "valid"),
        "invalid": sum(1 for r in got.values() if r[0] == "invalid"),
        "unreadable": 1,
        "errors": sum(r[1] or 0 for r in got.values()),
        "warnings": sum(r[2] or 0 for r in got.values()),
    }
    assert not report.valid


def test_on_a_dask_cluster_of_two_workers_the_same_table(exports):
    distributed = pytest.importorskip("distributed")
    local = fleet.validate(exports, workers=1)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        remote = fleet.validate(exports, client=client)
        audited = fleet.audit(sorted(exports.glob("kagura-user-*")), client=client)
    pd.testing.assert_frame_equal(remote.bundles, local.bundles)
    pd.testing.assert_frame_equal(remote.problems, local.problems)
    assert audited.bundles["memories"].tolist() == [5, 6, 6]


def test_globs_and_lists_and_problems_as_parquet(exports, tmp_path):
    report = fleet.validate([str(exports / "kagura-user-*"), exports / "tribal-dangling.json"])
    assert [p.rsplit("/", 1)[1] for p in report.bundles["bundle"]] == [
        "kagura-user-0",
        "kagura-user-1",
        "kagura-user-2",
        "tribal-dangling.json",
    ]
    written = report.to_parquet(tmp_path / "problems.parquet")
    table = pq.read_table(written).to_pandas()
    assert table["bundle"].tolist() == report.problems["bundle"].tolist()
    assert table["code"].astype(str).tolist() == report.problems["code"].astype(str).tolist()
    with pytest.raises(memport.MemportError, match="matches no file or directory"):
        fleet.validate(str(exports / "nothing-*.json"))


def test_fleet_audit_masks_what_it_finds(exports, tmp_path):
    found = fleet.audit(exports)
    rows = found.bundles.set_index("bundle")
    assert rows.loc[str(exports / "kagura-user-1"), "sensitive"] == 1
    assert rows.loc[str(exports / "tribal-dangling.json"), "dangling"] == 1
    assert rows.loc[str(exports / "notes.txt"), "status"] == "unreadable"
    kinds = found.findings.groupby("kind", observed=True)["bundle"].apply(list).to_dict()
    assert kinds["sensitive"] == [str(exports / "kagura-user-1")]
    assert kinds["dangling"] == [str(exports / "tribal-dangling.json")]
    assert SECRET not in found.findings.to_string() and SECRET not in found._repr_html_()
    found.to_parquet(tmp_path / "findings.parquet")
    assert SECRET not in pq.read_table(tmp_path / "findings.parquet").to_pandas().to_string()


def test_cli_fleet_validate_and_audit(exports, tmp_path):
    done = CliRunner().invoke(cli, ["fleet", "validate", str(exports), "--json", "--problems", str(tmp_path / "p.parquet")])
    assert done.exit_code == 1
    result = json.loads(done.output)
    assert result["summary"]["unreadable"] == 1 and len(result["bundles"]) == len(list(exports.iterdir()))
    assert pq.read_table(tmp_path / "p.parquet").num_rows == result["summary"]["errors"] + result["summary"]["warnings"]
    valid = CliRunner().invoke(cli, ["fleet", "validate", str(exports / "kagura-user-0"), str(exports / "kagura-user-1")])
    assert valid.exit_code == 0 and valid.output.splitlines()[-1].startswith("bundles 2, valid 2, invalid 0, unreadable 0")
    audited = CliRunner().invoke(cli, ["fleet", "audit", str(exports / "kagura-user-1"), "--findings", str(tmp_path / "f.parquet")])
    assert audited.exit_code == 0 and "sensitive 1" in audited.output and SECRET not in audited.output
