"""What makes a Kagura record the same record: every spelling of identity, in one place.

* :func:`identity_bytes`: the record's identity in memport (its uid is ``kagura:<kind>:<this>``):
  scope, user, agent and key of a memory; the id of a node; the ends of an edge.
* :func:`collision_key`: what Kagura's own importer merges (shared/formats/kagura.md §4): it re-owns
  every record to the importing user and agent, so two working memories with one key collide
  whoever wrote them, and a persistent one is upserted on (key as text, user, agent). Validation
  reports such collisions; :func:`collision_hash` is its 64-bit form, the same in every process.
* :func:`derived_identity`: the text conversions derive target ids from (a uuid5 of it): fixed,
  since changing it would change every id a conversion ever wrote.

Kagura compares ids with Python's equality: ``42 != "42"``, ``1 == 1.0``, and a JSON boolean is
never the number 1 (:func:`tag`, :func:`same_number`).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from xxhash import xxh3_64_intdigest

from ...model import Memory


def identity_bytes(kind: str, rec: dict[str, Any]) -> bytes:
    """The identity as UTF-8 (the hot path of a dry run hashes these bytes directly)."""
    if kind == "memories":
        scope, key = rec.get("scope"), rec.get("key")
        # persistent keys are TEXT in Kagura, so 5 and "5" are one row there
        if type(key) is not str:
            key = str(key) if scope == "persistent" and tag(key) is not None else same_number(key)
        return _json([scope, rec.get("user_id"), rec.get("agent_name"), key])
    if kind == "nodes":
        return _json(["node", same_number(rec.get("id"))])
    return _json(["edge", same_number(rec.get("src")), same_number(rec.get("dst"))])


def node_identity(node_id: Any) -> str:
    """The identity of the node an edge names by ``node_id``."""
    return _json(["node", same_number(node_id)]).decode("utf-8", "surrogatepass")


def _json(parts: list[Any]) -> bytes:
    """JSON of the identity parts as UTF-8; orjson where it writes them faithfully (the common case)."""
    try:
        text = orjson.dumps(parts)
    except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits
        return _exact_json(parts)
    # orjson writes NaN and Infinity as null: a null that may be one of them means a look with the
    # exact writer (a None part also writes null, and is common: the exact writer costs 6x more)
    if b"null" in text and any(type(part) not in _PLAIN for part in parts):
        return _exact_json(parts)
    return text


_PLAIN = (str, int, bool, type(None))  # types whose JSON orjson writes as the standard library does


def _exact_json(parts: list[Any]) -> bytes:
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def same_number(value: Any) -> Any:
    """1.0 and 1 are one node id (Python equality), so the store identifies them alike."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def tag(value: Any) -> Any:
    """A hashable identity that follows Python's equality as Kagura sees it: 42 != "42", 1 == 1.0,
    but True is not the number 1 (a JSON boolean is never meant as a number)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    return None  # unhashable: the schema reports it


def collision_key(obj: Any) -> Any:
    """What Kagura's importer merges a memory on (None where the schema reports the record)."""
    if not isinstance(obj, dict):
        return None
    scope = obj.get("scope")
    key = obj.get("key")
    if scope == "working":
        found = tag(key)
        return None if found is None else ("w", found)
    if scope == "persistent" and tag(key) is not None:
        # persistent keys are TEXT: 5 and "5" are the same row; the upsert key is (key, user, agent)
        user, agent = obj.get("user_id"), obj.get("agent_name")
        if isinstance(user, (str, type(None))) and isinstance(agent, (str, type(None))):
            return ("p", str(key), user, agent)
    return None


def collision_hash(key: Any) -> int:
    """A :func:`collision_key` as a signed 64-bit hash, the same in every process (validation's two
    byte ranges may run in processes with different hash seeds). Not injective (None and "None"
    agree): a repeat is confirmed on the keys themselves afterwards. The hot loop of validation
    computes the same text inline (``validate._memory_range``)."""
    if key[0] == "w":
        kind, value = key[1]
        text = f"w\x1f{kind}\x1f{value if kind == 's' else same_number(value)}"
    else:
        text = f"p\x1f{key[1]}\x1f{key[2]}\x1f{key[3]}"
    digest = xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
    return digest - (1 << 64) if digest >= 1 << 63 else digest  # int64, as the array holds


def derived_identity(memory: Memory) -> str:
    """The identity text conversions derive ids from."""
    return "\x1f".join([str(memory.scope), str(memory.user_id), str(memory.agent_name), json.dumps(memory.key)])


def upsert_identity(scope: str, key: Any, user_id: str, agent_name: Any) -> str:
    """What a conversion to Kagura merges records on, as Kagura's upsert on (key, user, agent) does."""
    return json.dumps([scope, key if scope == "working" else str(key), user_id, agent_name])
