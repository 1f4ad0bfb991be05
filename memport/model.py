"""The canonical data model: one vocabulary for what Kagura, Tribal, Doclea and Letta bundles carry.

Records are pydantic models, so data built by hand or crossing into memport is validated; the
readers build them with ``model_construct`` because they have already checked every value.

Nothing is lost on a same-format round trip because every record keeps, besides its named fields:

* ``extra``: native keys the model does not name, and native values that do not fit the named
  field's type (a Doclea ``importance`` of ``"high"``, a Tribal ``tags`` string), by native key;
* ``layout``: the native keys in the order they were read, so that presence, absence, explicit
  ``null`` and key order come back exactly;
* ``origin``: the format ``extra`` and ``layout`` belong to.  Writers use them only for that format.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

JsonValue = Any


# Every model defers building its validator to its first validation (pydantic's defer_build):
# memport makes records with model.construct and validates few, and building them all on import
# cost ~80 ms of every command's start ("memport --help" under 0.3 s)
_LAZY = ConfigDict(defer_build=True)


class Timestamp(BaseModel):
    """A point in time as aware UTC, together with the exact value it was read from.

    ``raw`` is the text or number as written (None for values made by memport); ``utc`` is None
    when the value could not be parsed; ``dialect`` names how ``raw`` was interpreted (see
    :mod:`memport.timestamps`), so readers of a report can tell an assumed zone from a known one.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    raw: str | int | float | None = None
    utc: datetime | None = None
    dialect: str = "unparsed"


class EmbeddingModel(BaseModel):
    """Identity of the model that produced a bundle's vectors (Tribal's manifest, Doclea's metadata)."""

    model_config = _LAZY

    name: str | None = None
    dimensions: int | None = None
    provider: str | None = None
    created_at: Timestamp | None = None


class Embedding(BaseModel):
    """One vector and the model it came from."""

    model_config = _LAZY

    vector: list[float]
    model: str | None = None
    dimensions: int | None = None


class Record(BaseModel):
    """Base of every bundle record: named fields plus what keeps a round trip lossless."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    extra: dict[str, JsonValue] = PydanticField(default_factory=dict)
    layout: tuple[str, ...] | None = None
    origin: str | None = None


class Memory(Record):
    """A memory: Kagura key/value record, Tribal entry or Doclea memory."""

    id: str | None = None
    key: JsonValue = None  # Kagura: the key (any JSON scalar); with scope/user/agent its identity
    scope: str | None = None  # Kagura: working | persistent
    user_id: str | None = None
    agent_name: str | None = None
    source_instance: str | None = None  # Tribal
    type: str | None = None  # Doclea memory type
    source_type: str | None = None  # Tribal provenance kind
    title: str | None = None
    content: JsonValue = None  # text; for Kagura any JSON value
    summary: str | None = None
    tags: list[str] | None = None
    importance: float | None = None
    confidence: float | None = None
    context: str | None = None
    supersedes: str | None = None
    related_to: list[str] | None = None
    metadata: JsonValue = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    accessed_at: Timestamp | None = None
    exported_at: Timestamp | None = None
    embedding: Embedding | None = None


class Relation(Record):
    """A directed link: Kagura graph edge, Doclea memory relation or cross-layer relation."""

    kind: Literal["edge", "memory", "cross_layer"] = "memory"
    id: str | None = None
    source: JsonValue = None  # node or memory id (Kagura ids keep their JSON type)
    target: JsonValue = None
    type: str | None = None
    weight: float | None = None
    confidence: float | None = None
    direction: str | None = None
    metadata: JsonValue = None
    data: JsonValue = None
    created_at: Timestamp | None = None
    exported_at: Timestamp | None = None


class Node(Record):
    """A Kagura graph node."""

    id: JsonValue = None
    type: str | None = None
    data: JsonValue = None
    exported_at: Timestamp | None = None


class Document(Record):
    id: str | None = None
    title: str | None = None
    content: str | None = None
    content_hash: str | None = None
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None


class Chunk(Record):
    """A piece of a document; offsets are in the source's units (Doclea: UTF-16 code units)."""

    id: str | None = None
    document_id: str | None = None
    content: str | None = None
    start_offset: int | None = None
    end_offset: int | None = None


class PendingMemory(Record):
    """A memory suggested but not yet stored (Doclea); ``memory`` is its future content."""

    id: str | None = None
    memory: JsonValue = None
    suggested_at: Timestamp | None = None
    source: str | None = None
    reason: str | None = None


class Message(Record):
    """One message of an agent's conversation (Letta: ``agents[].messages[]``).

    ``content`` is the message's readable text (a Letta message's text parts joined by newlines);
    when the native content is structured (parts, reasoning, images), the parts themselves stay in
    ``extra`` and are what a same-format write puts back. ``agent_id`` and ``agent_name`` name the
    agent whose conversation holds the message, ``in_context`` whether it is in that agent's
    context window (None when the file does not say).
    """

    id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    role: str | None = None
    content: str | None = None
    in_context: bool | None = None
    created_at: Timestamp | None = None


class BundleMeta(BaseModel):
    """What a bundle says about itself.

    The named fields are a view for inspection. ``header`` is the native top-level object (Kagura's
    metadata.json, Tribal's manifest and top-level keys, Doclea's top level without ``data``) as
    read; a same-format write reproduces it, except for values the writer is told to replace
    (for example an injected export time).
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    format: str
    version: str | None = None
    exported_at: Timestamp | None = None
    user_id: str | None = None
    agent_name: str | None = None
    embedding_model: EmbeddingModel | None = None
    storage_mode: str | None = None
    backend_type: str | None = None
    schema_version: str | None = None
    declared_counts: dict[str, JsonValue] = PydanticField(default_factory=dict)
    # the zone naive local times were read in; None: none was given, so they were read as UTC
    local_tz: str | None = None
    header: dict[str, JsonValue] | None = None
    files: list[str] | None = None  # the files a directory bundle consisted of, in native order
    # a container's own layout (Doclea's data object): its keys in order, and raw values of
    # entries that are not record arrays memport understands
    container: dict[str, JsonValue] | None = None


KINDS = ("memories", "relations", "nodes", "documents", "chunks", "pending", "messages")


# ---------------------------------------------------------------------------------------------
# Codecs: the one table per native record kind that both the reader and the writer use.


def construct(cls: type[Any], **values: Any) -> Any:
    """``cls.model_construct(**values)`` for trusted values, without its per-field cost: pydantic
    fills each missing field through ``FieldInfo.get_default``, which inspects the default
    factory's signature on every call (converting 40k memories: 8.9 of 19.2 s in model_construct).
    The same instance: the fields in their order, ``model_fields_set`` the given ones."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls)
    if not plan:  # a model with aliases, a post-init or a root: pydantic's own way
        return cls.model_construct(**values)
    filled = {
        name: values[name] if name in values else (factory() if factory is not None else default)
        for name, default, factory in plan
        if default is not _REQUIRED or name in values
    }
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", filled)
    object.__setattr__(instance, "__pydantic_fields_set__", {name for name in values if name in filled})
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


_PLANS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}
_REQUIRED = object()  # a field without a default: set only when given (as model_construct does)


def _plan(cls: type[Any]) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, factory) of each field, or () when :func:`construct` cannot stand in for
    model_construct (aliases, a post-init, a root model, extra fields kept)."""
    if cls.__pydantic_root_model__ or cls.__pydantic_post_init__ or cls.model_config.get("extra") == "allow":
        return ()
    plan = []
    for name, info in cls.__pydantic_fields__.items():
        if info.alias is not None or info.validation_alias is not None:
            return ()
        factory = info.default_factory
        default = _REQUIRED if info.is_required() else info.default
        if factory is None and isinstance(default, (list, dict, set)):  # pydantic copies those
            factory = functools.partial(copy.deepcopy, default)
        plan.append((name, default, factory))
    return tuple(plan)


class Unfit(Exception):
    """A native value does not fit the canonical field; it is kept verbatim in ``extra``."""


@dataclass(frozen=True, slots=True)
class Field:
    """How one native key maps onto a canonical attribute.

    ``decode(value, context)`` returns the canonical value or raises :class:`Unfit`;
    ``encode(canonical)`` gives the native value back. ``const`` marks a key whose value is fixed
    (Kagura's ``"type": "memory"``); it is written whenever the record has no other value.
    ``omit_none`` says the native writer leaves the key out when the value is unset.
    """

    native: str
    attr: str | None
    decode: Callable[[Any, Any], Any] | None = None
    encode: Callable[[Any], Any] | None = None
    const: Any = None
    omit_none: bool = False


_NO_VALUE = object()


class Codec:
    """Decode native dicts into records and encode them back, driven by a table of Fields."""

    def __init__(self, model: type[Record], fmt: str, fields: list[Field], default_layout: Callable[[Record], tuple[str, ...]]):
        self.model = model
        self.format = fmt
        self.fields = {f.native: f for f in fields}
        self.default_layout = default_layout
        self._layouts: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _intern(self, keys: tuple[str, ...]) -> tuple[str, ...]:
        # a million records share a handful of layouts; keep one tuple per distinct layout
        return self._layouts.setdefault(keys, keys)

    def decode(self, obj: dict[str, Any], context: Any = None, **fixed: Any) -> Record:
        values: dict[str, Any] = dict(fixed)
        extra: dict[str, Any] = {}
        fields = self.fields
        for key, raw in obj.items():
            field = fields.get(key)
            if field is None:
                extra[key] = raw
                continue
            if field.attr is None:
                if raw != field.const or type(raw) is not type(field.const):
                    extra[key] = raw
                continue
            if field.decode is None:
                values[field.attr] = raw
                continue
            try:
                values[field.attr] = field.decode(raw, context)
            except Unfit:
                extra[key] = raw
        record = construct(self.model, **values)
        record.extra = extra
        record.layout = self._intern(tuple(obj))
        record.origin = self.format
        return record

    def _value(self, record: Record, field: Field) -> Any:
        if field.attr is None:
            return field.const
        value = getattr(record, field.attr)
        if value is None:
            return None
        return field.encode(value) if field.encode is not None else value

    def encode(self, record: Record) -> dict[str, Any]:
        same = record.origin == self.format
        extra = record.extra if same else {}
        layout = record.layout if same and record.layout is not None else self.default_layout(record)
        out: dict[str, Any] = {}
        for key in layout:
            if key in extra:
                out[key] = extra[key]
                continue
            field = self.fields.get(key)
            if field is None:
                continue  # an extra key the caller removed
            value = self._value(record, field)
            if value is None and field.omit_none and not same:
                continue
            out[key] = value
        for key, value in extra.items():
            if key not in out:
                out[key] = value
        if same:
            # named values set after reading, under keys the source did not have
            for key, field in self.fields.items():
                if key not in out and field.attr is not None and getattr(record, field.attr) is not None:
                    out[key] = self._value(record, field)
        return out


# Decoders shared by the formats. Each checks the JSON type and raises Unfit otherwise.


def text(value: Any, _ctx: Any = None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Unfit


def number(value: Any, _ctx: Any = None) -> float | int | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    raise Unfit


def integer(value: Any, _ctx: Any = None) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise Unfit


def text_list(value: Any, _ctx: Any = None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise Unfit


def raw_timestamp(ts: Timestamp) -> Any:
    if ts.raw is None:
        raise ValueError("timestamp has no native text; conversions format it for the target")
    return ts.raw
