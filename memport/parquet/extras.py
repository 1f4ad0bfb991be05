"""Optional dependencies: the Parquet features need ``memport[parquet]``, fleets on a cluster ``memport[dask]``.

They are imported when first used, so that memport without them starts and works as before; a
missing one is a :class:`MissingExtraError` that names the extra to install, not an ImportError.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import MemportError

EXTRAS = {"pyarrow": "parquet", "duckdb": "parquet", "dask": "dask", "distributed": "dask"}


class MissingExtraError(MemportError):
    """A feature needs an optional dependency that is not installed (the message names the extra)."""


def need(module: str) -> Any:
    """Import ``module`` (e.g. ``pyarrow.parquet``), or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        extra = EXTRAS.get(top, "parquet")
        raise MissingExtraError(f"this needs {top}, which memport[{extra}] installs: pip install 'memport[{extra}]'") from None
