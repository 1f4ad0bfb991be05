"""Every ```python block of README.md runs as written, in order, as a person copying them would run
them: in a fresh directory holding what they name (the examples, the Letta fixtures, the schemas),
one namespace for all of them (a block uses what an earlier one made).

A block that needs what a test machine cannot have says so in README itself, on its first line:
``# not run here: <why>``; it is reported as skipped with that reason, never passed over silently.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
NOT_RUN = "# not run here: "


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence in README.md
    code: str

    @property
    def reason(self) -> str | None:
        first = self.code.splitlines()[0] if self.code else ""
        return first.removeprefix(NOT_RUN) if first.startswith(NOT_RUN) else None


def python_blocks(text: str) -> list[Block]:
    return [Block(text[: m.start()].count("\n") + 1, m.group(1)) for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M)]


BLOCKS = python_blocks((ROOT / "README.md").read_text())


class Session:
    """The blocks run so far, in one directory and one namespace."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.namespace: dict[str, Any] = {"__name__": "readme"}
        self.outcome: dict[int, str] = {}  # line -> "ok" or what went wrong

    def run_through(self, block: Block) -> None:
        """Run every block up to ``block`` that has not run yet (in order), then ``block``."""
        for earlier in BLOCKS:
            if earlier.reason is None and earlier.line not in self.outcome:
                try:
                    exec(compile(earlier.code, f"README.md:{earlier.line}", "exec"), self.namespace)
                    self.outcome[earlier.line] = "ok"
                except Exception as err:
                    self.outcome[earlier.line] = f"{type(err).__name__}: {err}"
                    if earlier is block:
                        raise
            if earlier is block:
                return
            if self.outcome.get(earlier.line, "ok") != "ok":
                pytest.fail(f"README.md:{earlier.line}, which this block follows, failed: {self.outcome[earlier.line]}")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", folder / "examples")
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    shutil.copytree(ROOT / "tests" / "fixtures" / "letta", folder / "tests" / "fixtures" / "letta")
    return Session(folder)


def test_the_readme_has_python_blocks_and_says_why_any_is_not_run():
    assert len(BLOCKS) >= 15
    not_run = {block.line: block.reason for block in BLOCKS if block.reason is not None}
    assert all(reason.strip() for reason in not_run.values()), not_run
    # the blocks not run are the ones that need a cluster: everything a person runs on one machine runs
    assert sorted(not_run.values()) == [
        "needs Spark (a JVM), which memport's machines do not have",
        "needs a Dask scheduler at tcp://scheduler:8786",
    ]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{b.line}" for b in BLOCKS])
def test_a_readme_python_block_runs_as_written(block, session, monkeypatch):
    if block.reason is not None:
        pytest.skip(f"README.md:{block.line}: {block.reason}")
    monkeypatch.chdir(session.folder)
    session.run_through(block)
