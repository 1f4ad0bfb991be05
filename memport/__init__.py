"""memport: read, validate, inspect and write the memory exports of AI agents.

    >>> import memport
    >>> bundle = memport.read("examples/kagura")        # doctest: +SKIP
    >>> bundle.memories.head()                           # doctest: +SKIP
    >>> memport.validate("examples/kagura").valid        # doctest: +SKIP
"""

from .api import convert, inspect, read, validate, write
from .bundle import Bundle, Records
from .diff import (ConflictError, Decision, Plan, StaleDecisionError, StalePlanError, import_bundle, load_decisions, plan,
                   save_decisions)
from .filters import Filters
from .store import Store
from .errors import (BundleNotFoundError, ConversionError, MalformedInputError, MemportError, NotABundleError,
                     OutputExistsError, UnsupportedVersionError)
from .formats import Detection, detect
from .model import (BundleMeta, Chunk, Document, Embedding, EmbeddingModel, Memory, Node, PendingMemory, Relation,
                    Timestamp)
from .problems import Problem, Report

__all__ = [
    "Bundle", "BundleMeta", "ConflictError", "convert", "Decision", "StaleDecisionError", "StalePlanError", "Plan", "import_bundle", "load_decisions", "plan", "save_decisions",
    "export", "Filters", "Store", "parity", "reembed", "search", "truncation", "BundleNotFoundError", "Chunk", "ConversionError", "Detection", "Document", "Embedding",
    "EmbeddingModel", "MalformedInputError", "Memory", "MemportError", "Node", "NotABundleError", "OutputExistsError",
    "PendingMemory", "Problem", "Records", "Relation", "Report", "Timestamp", "UnsupportedVersionError", "detect",
    "inspect", "read", "validate", "write",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # the embedding functions load numpy and, when used, torch: only import them on first use
    if name in ("parity", "reembed", "search", "truncation"):
        from . import embed

        return getattr(embed, name)
    if name == "export":
        from .exporter import export

        return export
    if name == "audit":
        from .auditing import audit

        return audit
    raise AttributeError(f"module 'memport' has no attribute {name!r}")
