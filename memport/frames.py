"""pandas frames that hold any text a bundle can hold.

JSON can carry lone surrogates (``"\\ud800"``), and memport keeps them ("nothing lost"). pandas 3
stores text in Arrow whenever pyarrow is installed (the ``parquet`` extra installs it), and Arrow
refuses such text (UnicodeEncodeError while building the frame). Every function that builds a frame
of record data runs under :func:`python_strings`, so its text columns keep Python strings, whatever
the user's pandas options; what the user builds from them afterwards is theirs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def python_strings(build: F) -> F:
    """Run ``build`` with pandas' text storage set to Python strings (``mode.string_storage``)."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import pandas as pd

        with pd.option_context("mode.string_storage", "python"):
            return build(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
