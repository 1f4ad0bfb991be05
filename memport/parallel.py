"""When and how memport uses the second core: one policy for validation and plans.

The machines memport runs on have two cores, and on large JSON Lines files parsing and checking
dominate, so such a file is read in two byte ranges by two processes. Below ``PARALLEL_BYTES`` a
second process costs more than it saves (its start and the merge of results).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

# Below this size one process reads a JSON Lines file (about 100k Kagura memories).
PARALLEL_BYTES = 32 * 1024 * 1024


def worth_two(file: Path) -> bool:
    """Whether ``file`` is large enough to be read in two byte ranges on two cores."""
    return (os.cpu_count() or 1) > 1 and file.is_file() and file.stat().st_size >= PARALLEL_BYTES


def context() -> Any:
    """A multiprocessing context: fork is cheap and inherits what the parent compiled and loaded,
    but is unsafe in a threaded process (a Jupyter kernel); spawn re-imports instead."""
    return multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
