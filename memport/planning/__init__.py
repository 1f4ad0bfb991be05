"""Planning a merge: from a bundle to the store, as a pipeline you can read top to bottom.

``source`` (a bundle as native records, from its format's plugin) -> ``evaluate`` (one decision per
record against the store, by its keys: :mod:`memport.keys`) -> ``decisions`` (what a person chose,
replayed from a file) -> ``writer`` (named store rows, in the import's one transaction). ``plan``
holds the result of a dry run and applies it; ``review`` is a person deciding a plan's conflicts
(filtered, paged, previewed, applied); ``large`` is the same evaluator made fast for a
million-record JSON Lines file (two cores, batched key lookups), an implementation detail.
"""

from .decisions import CHOICES, Decision, StaleDecisionError, field_diff, load_decisions, save_decisions
from .evaluate import ACTIONS, STRATEGIES, VECTOR_STRATEGIES, Row
from .plans import ConflictError, Plan, StalePlanError, compare, import_bundle, plan
from .review import Conflict, PreviewFirstError, Query, Review
from .source import Source, source_of

__all__ = [
    "ACTIONS",
    "CHOICES",
    "STRATEGIES",
    "VECTOR_STRATEGIES",
    "Conflict",
    "ConflictError",
    "Decision",
    "Plan",
    "PreviewFirstError",
    "Query",
    "Review",
    "Row",
    "Source",
    "StaleDecisionError",
    "StalePlanError",
    "compare",
    "field_diff",
    "import_bundle",
    "load_decisions",
    "plan",
    "save_decisions",
    "source_of",
]
