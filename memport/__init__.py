"""memport: read, validate, inspect and write the memory exports of AI agents.

>>> import memport
>>> bundle = memport.read("examples/kagura")        # doctest: +SKIP
>>> bundle.memories.head()                           # doctest: +SKIP
>>> memport.validate("examples/kagura").valid        # doctest: +SKIP
"""

from .api import convert, convert_file, inspect, read, validate, write
from .bundle import Bundle, Records
from .errors import (
    BundleNotFoundError,
    ConversionError,
    MalformedInputError,
    MemportError,
    NotABundleError,
    OutputExistsError,
    UnsupportedVersionError,
)
from .filters import Filters
from .formats import Detection, detect
from .model import BundleMeta, Chunk, Document, Embedding, EmbeddingModel, Memory, Node, PendingMemory, Relation, Timestamp
from .planning import ConflictError, Decision, Plan, StaleDecisionError, StalePlanError, import_bundle, load_decisions, plan, save_decisions
from .problems import Problem, Report
from .store import Store

__all__ = [
    "Bundle",
    "BundleMeta",
    "BundleNotFoundError",
    "Chunk",
    "ConflictError",
    "ConversionError",
    "Decision",
    "Detection",
    "Document",
    "Embedding",
    "EmbeddingModel",
    "Filters",
    "MalformedInputError",
    "Memory",
    "MemoryDataset",
    "MemportError",
    "MissingExtraError",
    "Node",
    "NotABundleError",
    "OutputExistsError",
    "PendingMemory",
    "Plan",
    "Problem",
    "Records",
    "Relation",
    "Report",
    "StaleDecisionError",
    "StalePlanError",
    "Store",
    "Timestamp",
    "UnsupportedVersionError",
    "convert",
    "convert_file",
    "detect",
    "export",
    "fleet",
    "import_bundle",
    "import_parquet",
    "inspect",
    "load_decisions",
    "parity",
    "plan",
    "read",
    "read_parquet",
    "reembed",
    "save_decisions",
    "search",
    "search_text",
    "to_parquet",
    "truncation",
    "validate",
    "write",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # the embedding functions load numpy and, when used, torch: only import them on first use
    if name in ("parity", "reembed", "truncation"):
        from . import embed

        return getattr(embed, name)
    if name in ("search", "search_text"):
        from . import searching

        return getattr(searching, name)
    if name == "export":
        from .exporter import export

        return export
    # Parquet and fleets: pyarrow, DuckDB and Dask are optional (memport[parquet], memport[dask])
    # and heavy; the package that needs them is imported on first use
    if name in ("to_parquet", "read_parquet", "import_parquet", "MemoryDataset", "MissingExtraError"):
        from . import parquet

        return getattr(parquet, name)
    if name == "fleet":
        import importlib

        return importlib.import_module(".fleet", __name__)
    if name == "audit":
        from .auditing import audit

        return audit
    raise AttributeError(f"module 'memport' has no attribute {name!r}")
