"""Real-browser checks: JupyterLab on localhost, notebooks run in headless Chromium as a person
runs them (Run All Cells), then used as a person uses them: the merge notebook stops at its
MergeSelector, which is paged past 20 conflicts, decided on page 2, saved, previewed and applied;
a ReembedProgress is started on the real offline model, watched for several batches and
cancelled; the audit notebook's charts are drawn (non-empty SVG) and its ValidationView lists
errors first. Screenshots are kept in test-artifacts/ (the run's summary names the folder).

Needs Debian's chromium (/usr/bin/chromium), JupyterLab and Playwright's Python package, which
.ci/run installs; elsewhere the test is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
COUNTS = re.compile(r"inserted (\d+), updated (\d+), unchanged (\d+), skipped (\d+), conflicts (\d+), invalid (\d+), total (\d+)")

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a scratch copy of notebooks/ and examples/ on 127.0.0.1."""
    for folder in ("notebooks", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("out", "*.db"))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime")}
    env.pop("MEMPORT_REPLAY_DECISIONS", None)  # a person's session: the merge notebook waits for their decisions
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 90 s")
    yield base, token, tmp_path
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def run_all(page, base: str, token: str, notebook: str, done) -> None:
    """Open ``notebook`` in JupyterLab and run all its cells until ``done`` (a locator) shows."""
    page.goto(f"{base}/lab/tree/notebooks/{notebook}?token={token}", timeout=120_000)
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    # run the cells only once the kernel is up (a run issued while it starts is dropped)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
    for attempt in range(2):
        page.get_by_role("menuitem", name="Run").click()
        page.get_by_text("Run All Cells", exact=True).click()
        try:
            done.wait_for(timeout=90_000)
            break
        except playwright.TimeoutError:
            if attempt:
                raise
    if page.get_by_role("button", name="No").count():  # JupyterLab's news question covers the output
        page.get_by_role("button", name="No").first.click()


def counts(text: str) -> tuple[int, ...]:
    found = COUNTS.search(text)
    assert found, text
    return tuple(int(n) for n in found.groups())


def test_merge_journey_in_a_real_browser(lab, browser, artifacts):
    base, token, root = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    merge = page.locator(".memport-merge")
    try:
        # Run All stops below the selector: no decisions were saved, nothing is applied
        run_all(page, base, token, "02-merge.ipynb", page.get_by_text("record(s) differ from the store"))
        page.get_by_text("no decisions saved yet in my-decisions.jsonl").wait_for(timeout=60_000)
        assert "58 record(s) differ from the store" in merge.locator(".memport-merge-header").inner_text()
        paging = merge.locator(".memport-merge-paging")
        assert paging.inner_text() == "conflicts 1-20 of 58 matching (page 1 of 3)"
        assert merge.locator(".memport-conflict").count() == 20
        merge.scroll_into_view_if_needed()
        merge.get_by_role("button", name="next").first.click()
        # the first conflict of page 2 (the 21st, in bundle order: 1 is the same on both sides, 4 is new)
        uid = "tribal:memories:7d3e2a10-0000-4000-8000-000000000023"
        page.wait_for_function(
            """uid => document.querySelector('.memport-merge-paging').textContent.startsWith('conflicts 21-40 of 58')
                && document.querySelector('.memport-conflict b').textContent === uid""",
            arg=uid,
            timeout=30_000,
        )
        row = merge.locator(".memport-conflict").first
        # take the incoming record
        row.locator('.widget-toggle-button[data-value="take"]').click()
        row.get_by_text("decided: take").wait_for(timeout=30_000)
        active = row.locator(".widget-toggle-button.mod-active")
        assert active.inner_text() == "take"
        # chosen is a colour of its own (not a darker grey) and bold
        assert active.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(46, 125, 50)"
        assert active.evaluate("b => getComputedStyle(b).fontWeight") == "700"
        assert row.locator(".widget-checkbox").first.is_hidden()  # per-field picks only for "fields"
        assert "decided 1 of 58, undecided 57" in merge.locator(".memport-merge-counts").inner_text()
        row.screenshot(path=str(artifacts / "merge-conflict-decided.png"))
        page.screenshot(path=str(artifacts / "merge-page-2.png"), full_page=True)
        merge.get_by_role("button", name="Save decisions").click()
        merge.get_by_text("saved 1 decision(s) to my-decisions.jsonl").wait_for(timeout=30_000)
        saved = [json.loads(line) for line in (root / "notebooks" / "my-decisions.jsonl").read_text().splitlines()]
        assert [(d["uid"], d["choice"]) for d in saved] == [(uid, "take")]
        # Apply waits for a preview of the decisions as they stand; it applies what was previewed
        apply = merge.get_by_role("button", name="Apply", exact=True)
        assert apply.is_disabled()
        merge.get_by_role("button", name="Preview").click()
        preview = merge.locator(".memport-merge-preview")
        preview.get_by_text("Apply does exactly this").wait_for(timeout=60_000)
        previewed = counts(preview.inner_text())
        assert previewed == (1, 1, 1, 0, 57, 0, 60)
        assert apply.is_enabled()
        preview.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "merge-previewed.png"))
        apply.click()
        message = merge.locator(".memport-merge-message")
        message.get_by_text("applied").first.wait_for(timeout=60_000)
        assert counts(message.inner_text()) == previewed
        assert "1 decided conflict(s) applied (1 in all), 57 left to decide" in message.inner_text()
        assert "57 record(s) differ from the store" in merge.locator(".memport-merge-header").inner_text()
        assert paging.inner_text() == "conflicts 1-20 of 57 matching (page 1 of 3)"
        assert uid not in merge.inner_text()  # the applied conflict is no longer offered
        page.screenshot(path=str(artifacts / "merge-applied.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(artifacts / "merge-failure.png"), full_page=True)
        raise
    with sqlite3.connect(root / "notebooks" / "out" / "merge" / "memport.db") as db:
        native = db.execute("SELECT native FROM memories WHERE uid = ?", (uid,)).fetchone()[0]
    assert json.loads(native)["source_instance"] == "desktop"  # taken


REEMBED_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": (
                "import json, pathlib, memport\n"
                "folder = pathlib.Path('many')\n"
                "folder.mkdir(exist_ok=True)\n"
                "lines = [json.dumps({'type': 'memory', 'scope': 'persistent', 'key': f'note_{i}', 'value': f'note {i}: the {i % 97}th idea about topic {i % 13}',"
                " 'user_id': 'user_alice', 'agent_name': 'global', 'created_at': '2025-05-30 08:15:02', 'updated_at': '2025-05-30 08:15:02'}) for i in range(3000)]\n"
                "(folder / 'memories.jsonl').write_text('\\n'.join(lines) + '\\n')\n"
                "memport.import_bundle(folder, memport.Store('many.db'))['inserted']"
            ),
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "from memport.widgets import ReembedProgress\n\nReembedProgress('many.db', batch_size=2)",
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_reembed_journey_in_a_real_browser(lab, browser, artifacts):
    base, token, root = lab
    (root / "notebooks" / "reembed.ipynb").write_text(json.dumps(REEMBED_NOTEBOOK))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    status = page.locator(".memport-reembed-status")
    try:
        run_all(page, base, token, "reembed.ipynb", page.get_by_text("not started: click Start"))
        page.get_by_role("button", name="Start", exact=True).click()
        # watched as a person watches: the status after each batch, until it has moved several times
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = status.inner_text()
            if re.match(r"\d+ of 3000 memories", text) and (not seen or text != seen[-1]):
                seen.append(text)
            if len(seen) >= 3 and int(seen[-1].split()[0]) >= 6:
                break
            time.sleep(0.05)
        assert len(seen) >= 3, seen
        done = [int(text.split()[0]) for text in seen]
        assert done == sorted(done) and len(set(done)) >= 3  # it moved, more than once
        assert all(re.search(r"memories/s, about (\d+ s|\d+ min \d+ s) left$", text) for text in seen[1:]), seen
        page.screenshot(path=str(artifacts / "reembed-running.png"))
        page.get_by_role("button", name="Cancel", exact=True).click()
        page.get_by_text("cancelled after").wait_for(timeout=60_000)
        said = status.inner_text()
        page.locator(".widget-vbox", has=status).last.screenshot(path=str(artifacts / "reembed-cancelled.png"))
    except Exception:
        page.screenshot(path=str(artifacts / "reembed-failure.png"), full_page=True)
        raise
    kept = int(re.match(r"cancelled after (\d+) of 3000 memories", said).group(1))
    assert done[-1] <= kept < 3000 and said.endswith("the finished batches are kept; Start goes on from there")
    with sqlite3.connect(root / "notebooks" / "many.db") as db:
        assert db.execute("SELECT count(*) FROM embeddings").fetchone()[0] == kept  # every finished batch, and only those


def test_audit_notebook_charts_and_validation_in_a_real_browser(lab, browser, artifacts):
    base, token, _root = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        run_all(page, base, token, "01-audit.ipynb", page.locator("svg.memport-chart").first)
        # every chart drawn: an SVG with a size on the page and bars (paths) inside it
        charts = page.locator("svg.memport-chart")
        assert charts.count() >= 4
        for i in range(charts.count()):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50
            assert chart.locator("path").count() >= 2
        assert page.get_by_text("without a creation time").count() >= 1  # the undated memory, said
        # the valid bundle's view says so; the damaged copy's lists its errors before its warnings
        page.get_by_text("no problems").first.wait_for(timeout=30_000)
        invalid = page.locator(".widget-vbox", has=page.get_by_text("2 error(s), 2 warning(s)")).last
        codes = invalid.locator("select").first
        labels = codes.evaluate("s => [...s.options].map(o => o.text)")
        assert [label.split(":")[0] for label in labels] == ["error", "error", "warning"], labels
        assert codes.evaluate("s => s.options[s.selectedIndex].text").split()[0] == "error:"  # spaces come as no-break spaces
        # the first error is a missing key: the record is shown whole and the absence said
        invalid.scroll_into_view_if_needed()  # JupyterLab renders only the cells in view
        invalid.get_by_text("is not in the record").wait_for(timeout=30_000)
        assert invalid.locator("pre.memport-record").first.text_content().count("\n") >= 7
        # the second, a scope Kagura does not store: the failing field marked in the record
        codes.select_option(index=1)
        mark = invalid.locator("pre.memport-record mark")
        mark.first.wait_for(timeout=30_000)
        assert '"scope": "episodic"' in mark.first.text_content()
        invalid.scroll_into_view_if_needed()
        invalid.screenshot(path=str(artifacts / "validation-view.png"))
        page.locator("div.memport-charts").first.screenshot(path=str(artifacts / "audit-charts.png"))
        explorer = page.locator(".widget-tab").first
        explorer.scroll_into_view_if_needed()
        assert "[masked: api key" in explorer.text_content() and "sk-test-" not in explorer.text_content()
        explorer.screenshot(path=str(artifacts / "bundle-explorer.png"))
        page.screenshot(path=str(artifacts / "audit-notebook.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(artifacts / "audit-notebook-failure.png"), full_page=True)
        raise
    assert (artifacts / "audit-charts.png").stat().st_size > 10_000
