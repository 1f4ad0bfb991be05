"""The JSON Schema files, and two engines that validate against them with identical results.

Schemas live in ``schemas/<format>/<version>/*.schema.json`` (Draft 2020-12, each with an ``$id``).
A schema node may carry an ``x-memport`` annotation, ``{"code", "severity", "message"}``, that
applies to every keyword of that node: the stable problem code, ``error`` or ``warning``, and
what was expected. Without one, the code is ``<x-memport-kind of the file>.<keyword>`` and the
severity ``error``. Rules that differ in severity on the same value are split with ``allOf``.

Engines:

* ``fast``: jsonschema-rs, used on the hot path (and ``errors_only``, the same schema with its
  warning-only parts left out, where a plan only asks whether a record is invalid);
* ``reference``: python-jsonschema, used for values jsonschema-rs cannot represent faithfully
  (NaN and Infinity become null there, lone surrogates are not valid Rust strings), and as the
  reference the test-suite compares the fast engine against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs

from .problems import Problem, json_path, quote

SCHEMA_BASE = "https://memport.dev/schemas/"


def schemas_root() -> Path:
    """The schema folder: inside the installed package, else the checkout's top-level ``schemas/``."""
    packaged = resources.files("memport") / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas"


@dataclass(frozen=True, slots=True)
class RawError:
    """One schema violation, engine-neutral."""

    instance_path: tuple[Any, ...]
    keyword: str
    node: dict[str, Any]
    instance: Any
    missing: str | None  # for "required": the missing property


@dataclass(frozen=True, slots=True)
class Classified:
    code: str
    severity: str
    message: str
    instance_path: tuple[Any, ...]


_REQUIRED = re.compile(r"""^['"](.*)['"] is a required property$""")


class SchemaSet:
    """All schema files of one format version, with validators built on demand."""

    def __init__(self, fmt: str, version: str):
        self.format = fmt
        self.version = version
        self.folder = schemas_root() / fmt / version
        if not self.folder.is_dir():
            raise FileNotFoundError(self.folder)
        self.documents: dict[str, dict[str, Any]] = {}
        for file in sorted(self.folder.glob("*.schema.json")):
            doc = json.loads(file.read_text(encoding="utf-8"))
            self.documents[doc["$id"]] = doc
        self._by_name = {uri.rsplit("/", 1)[-1].removesuffix(".schema.json"): uri for uri in self.documents}

    def uri(self, name: str) -> str:
        return self._by_name[name]

    @cached_property
    def _rs_registry(self) -> jsonschema_rs.Registry:
        return jsonschema_rs.Registry(list(self.documents.items()))

    @cached_property
    def _py_registry(self) -> Any:
        import referencing  # the reference engine is off the hot path: import it only when used

        return referencing.Registry().with_resources((uri, referencing.Resource.from_contents(doc)) for uri, doc in self.documents.items())

    @cache  # noqa: B019 (one SchemaSet per format version lives as long as the process)
    def fast(self, name: str) -> jsonschema_rs.Validator:
        # the linear-time regex engine: twice as fast here, and immune to catastrophic backtracking
        # on huge strings
        return jsonschema_rs.validator_for(
            self.documents[self.uri(name)], registry=self._rs_registry, pattern_options=jsonschema_rs.RegexOptions()
        )

    @cache  # noqa: B019 (one SchemaSet per format version lives as long as the process)
    def errors_only(self, name: str) -> jsonschema_rs.Validator:
        """A validator that passes an instance whenever ``fast`` finds no error-level problem in it
        (warnings are no reason to refuse a record): 40% less time a Kagura memory than ``fast``.
        Where it fails an instance, ``check`` says whether that was for an error."""
        return jsonschema_rs.validator_for(
            _without_warnings(self.documents[self.uri(name)]), registry=self._rs_registry, pattern_options=jsonschema_rs.RegexOptions()
        )

    @cache  # noqa: B019 (one SchemaSet per format version lives as long as the process)
    def reference(self, name: str) -> Any:
        import jsonschema

        return jsonschema.Draft202012Validator(self.documents[self.uri(name)], registry=self._py_registry)

    def _node(self, location: str) -> dict[str, Any]:
        uri, _, pointer = location.partition("#")
        node: Any = self.documents[uri]
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def raw_errors(self, name: str, instance: Any, *, engine: str = "fast") -> Iterator[RawError]:
        """Every violation of schema ``name`` by ``instance``."""
        if engine == "fast":
            for err in self.fast(name).iter_errors(instance):
                location, _, keyword = err.absolute_keyword_location.rpartition("/")
                missing = getattr(err.kind, "property", None) if keyword == "required" else None
                yield RawError(tuple(err.instance_path), keyword, self._node(location), err.instance, missing)
        else:
            for err in self.reference(name).iter_errors(instance):
                missing = None
                if err.validator == "required":
                    m = _REQUIRED.match(err.message)
                    missing = m.group(1) if m else None
                yield RawError(tuple(err.absolute_path), str(err.validator), err.schema, err.instance, missing)

    def classify(self, name: str, raw: RawError) -> Classified:
        note = raw.node.get("x-memport", {})
        kind = self.documents[self.uri(name)].get("x-memport-kind", f"{self.format}.{name}")
        code = note.get("code", f"{kind}.{raw.keyword}")
        # a missing field is located at the field itself, not at the object that lacks it
        path = (*raw.instance_path, raw.missing) if raw.missing is not None else raw.instance_path
        return Classified(code, note.get("severity", "error"), _message(raw, note), path)

    def check(self, name: str, instance: Any, *, exact: bool = False, engine: str | None = None) -> list[Classified]:
        """Validate; ``exact`` instances (read by the standard library) go to the reference engine."""
        chosen = engine or ("reference" if exact else "fast")
        if chosen == "fast" and self.fast(name).is_valid(instance):
            return []
        try:
            return [self.classify(name, raw) for raw in self.raw_errors(name, instance, engine=chosen)]
        except RecursionError:
            return [Classified(f"{self.format}.too-deep", "error", "value is nested too deeply to validate", ())]

    def problems(
        self,
        name: str,
        instance: Any,
        *,
        exact: bool = False,
        file: str | None = None,
        line: int | None = None,
        record: int | None = None,
        prefix: tuple[Any, ...] = (),
        record_depth: int | None = None,
    ) -> list[Problem]:
        """Validate and turn violations into Problems located in the file.

        ``record_depth``: for single-document formats, the index at this position of the instance
        path is the record index (``entries[3]`` -> record 3).
        """
        out = []
        for c in self.check(name, instance, exact=exact):
            rec = record
            if record_depth is not None and len(c.instance_path) > record_depth and isinstance(c.instance_path[record_depth], int):
                rec = c.instance_path[record_depth]
            out.append(Problem(c.code, c.severity, c.message, file, line, rec, json_path(prefix + c.instance_path)))
        return out


# Subschemas whose failure fails the schema that holds them, in a mapping, in a list, or alone.
# Elsewhere (anyOf, oneOf, not, if, contains, $ref) a subschema's failure is not its own: the keyword
# that holds it reports it, or it only steers, so such subschemas are never left out.
_EACH_OF_MAPPING = ("properties", "patternProperties", "dependentSchemas")
_EACH_OF_LIST = ("allOf", "prefixItems")
_SINGLE = ("additionalProperties", "items", "then", "else", "propertyNames")
# keywords that never fail (annotations) or fail only through the subschemas above ("if" steers)
_NEVER_FAIL = frozenset(
    (
        "x-memport",
        "x-memport-kind",
        "title",
        "description",
        "$comment",
        "$id",
        "$schema",
        "$defs",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "if",
        *_EACH_OF_MAPPING,
        *_EACH_OF_LIST,
        *_SINGLE,
    )
)


def _subschemas(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The subschemas of ``node`` whose failure fails it, each with its keyword."""
    for keyword in _EACH_OF_MAPPING:
        if isinstance(node.get(keyword), dict):
            yield from ((keyword, sub) for sub in node[keyword].values())
    for keyword in _EACH_OF_LIST:
        if isinstance(node.get(keyword), list):
            yield from ((keyword, sub) for sub in node[keyword])
    for keyword in _SINGLE:
        if keyword in node:
            yield keyword, node[keyword]


def _only_warnings(node: Any) -> bool:
    """Whether every way ``node`` can fail is reported as a warning (see SchemaSet.classify: a
    keyword's failure takes the severity of the node that holds it, error by default)."""
    if node is True:
        return True
    if not isinstance(node, dict) or "$ref" in node or "$dynamicRef" in node:
        return False  # false fails; a malformed node is not ours to judge; a referenced schema has notes of its own
    warning = node.get("x-memport", {}).get("severity") == "warning"
    if not warning and any(keyword not in _NEVER_FAIL for keyword in node):
        return False
    for keyword, sub in _subschemas(node):
        if sub is False and keyword in _SINGLE:
            if not warning:  # additionalProperties: false and the like fail as a keyword of this node
                return False
        elif not _only_warnings(sub):
            return False
    return True


def _without_warnings(node: Any) -> Any:
    """``node`` with every part that can only fail as a warning replaced by ``true``, following only
    subschemas whose failure fails their parent. Such a part failing never made an error, so an
    instance with an error still fails the result, and one with warnings only passes it unless a
    warning sits where it cannot be left out (then ``check`` tells, as before)."""
    if not isinstance(node, dict):
        return node
    if _only_warnings(node):
        return True
    out = dict(node)
    for keyword in _EACH_OF_MAPPING:
        if isinstance(node.get(keyword), dict):
            out[keyword] = {name: _without_warnings(sub) for name, sub in node[keyword].items()}
    for keyword in _EACH_OF_LIST:
        if isinstance(node.get(keyword), list):
            out[keyword] = [_without_warnings(sub) for sub in node[keyword]]
    for keyword in _SINGLE:
        if keyword in node:
            out[keyword] = _without_warnings(node[keyword])
    return out


@cache
def schema_set(fmt: str, version: str) -> SchemaSet:
    """The (cached) schema set of one format version."""
    return SchemaSet(fmt, version)


_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def _message(raw: RawError, note: dict[str, Any]) -> str:
    """One readable sentence: what was expected, and what was found."""
    from .masking import is_secret_path

    node, kw, inst = raw.node, raw.keyword, raw.instance
    secret = is_secret_path(raw.instance_path)  # a value under "password", "api_key", ...: never echoed

    def quoted(value: Any) -> str:
        return quote(value, secret=secret)

    if kw == "required":
        base = f"missing required field {raw.missing!r}"
    elif kw == "additionalProperties" and isinstance(inst, dict):
        known = set(node.get("properties", {}))
        unknown = sorted(k for k in inst if k not in known)
        base = f"unknown field{'s' if len(unknown) != 1 else ''} {', '.join(quote(k) for k in unknown)}"
    elif kw == "type":
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        base = f"expected {' or '.join(_TYPE_NAMES.get(t, t) for t in types)}, got {quoted(inst)}"
    elif kw == "enum":
        base = f"expected one of {', '.join(quote(v) for v in node['enum'])}; got {quoted(inst)}"
    elif kw == "const":
        base = f"expected {quote(node['const'])}, got {quoted(inst)}"
    elif kw == "pattern":
        base = f"got {quoted(inst)}, which does not match {node['pattern']}"
    elif kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        base = f"{quoted(inst)} is outside the allowed range ({kw} {node[kw]})"
    elif kw == "not":
        base = f"got {quoted(inst)}, which is not allowed here"
    elif kw == "minLength":
        base = f"got {quoted(inst)}, shorter than {node[kw]} character(s)"
    else:
        base = f"{kw} rule not met by {quoted(inst)}"
    expect = note.get("message")
    return f"{expect}; {base}" if expect else base
