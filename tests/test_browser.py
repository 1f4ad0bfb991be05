"""One real-browser check: JupyterLab on localhost, the merge notebook in headless Chromium, the
rendered MergeSelector found and a decision clicked; a screenshot is kept in test-artifacts/.

Needs Debian's chromium (/usr/bin/chromium), JupyterLab and Playwright's Python package, which
.ci/run installs; elsewhere the test is skipped, saying why.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

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
    yield base, token
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def test_merge_selector_in_a_real_browser(lab):
    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
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
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/notebooks/02-merge.ipynb?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook", timeout=120_000)
            # run the cells only once the kernel is up (a run issued while it starts is dropped)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            selector = page.get_by_text("record(s) differ from the store")
            for attempt in range(2):
                page.get_by_role("menuitem", name="Run").click()
                page.get_by_text("Run All Cells", exact=True).click()
                try:
                    selector.wait_for(timeout=90_000)
                    break
                except playwright.TimeoutError:
                    if attempt:
                        raise
            counts = page.get_by_text("resulting plan:")
            counts.wait_for(timeout=30_000)
            assert "conflicts 2" in counts.inner_text()
            # the first conflict's "take" button (a ToggleButtons option)
            page.locator(".widget-toggle-button", has_text="take").first.click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.widget-html-content')]"
                ".some(e => e.textContent.includes('resulting plan:') && e.textContent.includes('conflicts 1'))",
                timeout=30_000,
            )
            page.screenshot(path=str(ARTIFACTS / "merge-selector.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "merge-selector-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert (ARTIFACTS / "merge-selector.png").stat().st_size > 10_000
