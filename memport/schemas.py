"""The JSON Schema files, and two engines that validate against them with identical results.

Schemas live in ``schemas/<format>/<version>/*.schema.json`` (Draft 2020-12). Each ``$id`` is
absolute and versioned, and is the file's own path under SCHEMA_BASE
(``https://memport.dev/schemas/tribal/1.0/bundle.schema.json``), so a relative ``$ref`` names the
same schema whether a tool resolves it against the ``$id`` or against where the file lies.
A schema node may carry an ``x-memport`` annotation, ``{"code", "severity", "message"}``, that
applies to every keyword of that node: the stable problem code, ``error`` or ``warning``, and
what was expected. Without one, the code is ``<x-memport-kind of the file>.<keyword>`` and the
severity ``error``. Rules that differ in severity on the same value are split with ``allOf``.

The files are a product used without memport, so each stands alone:

* **bundled**: a file holds a copy of every schema it refers to, under ``$defs`` keyed by that
  schema's ``$id`` (a Draft 2020-12 compound document). A validator resolves a relative ``$ref``
  against the absolute ``$id`` of the schema holding it and finds that URI inside the file: no
  fetch, no registry, no base URI to give;
* **errors-only twins**: ``errors-only/<name>.schema.json`` beside each schema is that schema
  without the rules memport reports as warnings (``errors_only_document``): what a plain validator
  uses to ask "would the system's own importer accept this?". Same file names, so the same
  relative ``$ref`` leads from a twin to a twin.

Only the copies and the twins are generated (``write_standalone_files``, from the schemas as
written); a test checks the shipped files are current.

Engines:

* ``fast``: jsonschema-rs, used on the hot path (and ``errors_only``, the errors-only twin, where
  a plan only asks whether a record is invalid);
* ``reference``: python-jsonschema, used for values jsonschema-rs cannot represent faithfully
  (NaN and Infinity become null there, lone surrogates are not valid Rust strings), and as the
  reference the test-suite compares the fast engine against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import jsonschema_rs

from .jsonio import atomic_write_bytes
from .problems import Problem, json_path, quote

SCHEMA_BASE = "https://memport.dev/schemas/"
ERRORS_ONLY = "errors-only"  # the folder, beside a version's schemas, of their errors-only twins


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

    @cached_property
    def _errors_only_documents(self) -> dict[str, dict[str, Any]]:
        # the shipped errors-only files are written by the same function (a test checks they are current)
        return standalone_documents(self.documents.values())

    @cache  # noqa: B019 (one SchemaSet per format version lives as long as the process)
    def errors_only(self, name: str) -> jsonschema_rs.Validator:
        """A validator of the errors-only twin (``errors-only/<name>.schema.json``): it passes an
        instance exactly when ``fast`` finds no error-level problem in it (warnings are no reason
        to refuse a record), in half the time ``fast`` takes on a Kagura memory (0.43 against 0.89 µs)."""
        return jsonschema_rs.validator_for(
            self._errors_only_documents[errors_only_uri(self.uri(name))],
            registry=self._rs_registry,
            pattern_options=jsonschema_rs.RegexOptions(),
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


# Subschemas whose failure fails the schema that holds them, in a mapping, in a list, or alone: a
# failure under them is reported with the severity of the subschema that fails. Elsewhere (anyOf,
# oneOf, not, contains) a subschema's failure is not its own: the keyword that holds it reports it,
# with the severity of the node that holds the keyword; "if" only steers.
_EACH_OF_MAPPING = ("properties", "patternProperties", "dependentSchemas")
_EACH_OF_LIST = ("allOf", "prefixItems")
_SINGLE = ("additionalProperties", "items", "then", "else", "propertyNames")
_REFERENCES = ("$ref", "$dynamicRef")
# keywords that never fail
_ANNOTATIONS = frozenset(
    (
        "x-memport",
        "x-memport-kind",
        "title",
        "description",
        "$comment",
        "$id",
        "$schema",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    )
)
# where a keyword holds subschemas (the rest hold values: an enum's objects are data, not schemas)
_SCHEMA_MAPPINGS = (*_EACH_OF_MAPPING, "$defs")
_SCHEMA_LISTS = (*_EACH_OF_LIST, "anyOf", "oneOf")
_SCHEMA_SINGLES = (*_SINGLE, "not", "if", "contains", "unevaluatedItems", "unevaluatedProperties", "contentSchema")


def _map_subschemas(keyword: str, value: Any, change: Any) -> Any:
    """``value`` of ``keyword`` with ``change`` applied to each subschema it holds."""
    if keyword in _SCHEMA_MAPPINGS and isinstance(value, dict):
        return {name: change(sub) for name, sub in value.items()}
    if keyword in _SCHEMA_LISTS and isinstance(value, list):
        return [change(sub) for sub in value]
    if keyword in _SCHEMA_SINGLES:
        return change(value)
    return value


def _absolute_references(node: Any, base: str) -> Any:
    """``node`` with every reference made absolute against ``base``, so that it means the same in
    another document (an errors-only twin, whose relative references lead to errors-only twins)."""
    if not isinstance(node, dict):
        return node
    return {
        keyword: urljoin(base, value)
        if keyword in _REFERENCES and isinstance(value, str)
        else _map_subschemas(keyword, value, lambda sub: _absolute_references(sub, base))
        for keyword, value in node.items()
    }


def _without_warnings(node: Any, base: str) -> Any:
    """``node`` with every rule that can only fail as a warning left out (see SchemaSet.classify: a
    keyword's failure takes the severity of the node that holds it, error by default), and ``true``
    where nothing else is left. Only subschemas whose failure fails their parent are followed:

    * a warning node loses its own rules (type, required, anyOf, additionalProperties: false...)
      and keeps its subschemas (the rules of a subschema without a note are errors), its
      references and what steers them ("if");
    * an error node keeps its own rules as they are, with their references made absolute against
      ``base``: they are not conjunctive, so they must keep meaning the full schema;
    * ``$defs`` and references stay, so a relative reference (``entry.schema.json``,
      ``#/$defs/manifest``) in a document with an errors-only ``$id`` leads to the errors-only twin.

    So an instance fails the result exactly when one of its error rules fails: warnings are no
    reason to refuse it, and no error is left out."""
    if not isinstance(node, dict):
        return node  # true, false (which fails as an error), or a malformed node, not ours to judge
    warning = node.get("x-memport", {}).get("severity") == "warning"
    out: dict[str, Any] = {}
    asserts = False
    for keyword, value in node.items():
        if keyword in _ANNOTATIONS:
            out[keyword] = value
        elif keyword == "$defs" or keyword in _EACH_OF_MAPPING + _EACH_OF_LIST:
            out[keyword] = _map_subschemas(keyword, value, lambda sub: _without_warnings(sub, base))
            asserts |= keyword != "$defs" and any(sub is not True for sub in _held(keyword, out[keyword]))
        elif keyword in _SINGLE:
            # additionalProperties: false and the like fail as a keyword of this node, with its severity
            out[keyword] = True if value is False and warning else _without_warnings(value, base)
            asserts |= out[keyword] is not True
        elif keyword in _REFERENCES:
            out[keyword] = value
            asserts = True
        elif keyword == "if":
            out[keyword] = _absolute_references(value, base)
        elif not warning:
            out[keyword] = _map_subschemas(keyword, value, lambda sub: _absolute_references(sub, base))
            asserts = True
    return out if asserts else True


def errors_only_uri(uri: str) -> str:
    """The ``$id`` of the errors-only twin of the schema ``uri``: the same name in the
    ``errors-only`` folder beside it (so the same relative references lead to twins)."""
    folder, _, name = uri.rpartition("/")
    return f"{folder}/{ERRORS_ONLY}/{name}"


def errors_only_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The errors-only twin of one (unbundled) schema document: what a plain validator should use to
    answer "would the system's own importer accept this?"."""
    uri, name = doc["$id"], doc["$id"].rsplit("/", 1)[-1]
    twin = _without_warnings(doc, uri)
    if twin is True:  # a document stays an object, with its $id
        twin = {keyword: value for keyword, value in doc.items() if keyword in _ANNOTATIONS}
    head = {
        "$schema": doc["$schema"],
        "$id": errors_only_uri(uri),
        "$comment": f"Generated from ../{name} (memport.schemas.write_standalone_files writes it): its rules without those memport "
        "reports as warnings, so an instance passes exactly when memport finds no error in it against that schema "
        "(memport's checks across records are its own).",
    }
    if "title" in doc:
        head["title"] = f"{doc['title']} (errors only)"
    return {**head, **{keyword: value for keyword, value in twin.items() if keyword not in head}}


def _held(keyword: str, value: Any) -> list[Any]:
    """The subschemas that ``value`` of ``keyword`` holds."""
    if keyword in _SCHEMA_MAPPINGS and isinstance(value, dict):
        return list(value.values())
    if keyword in _SCHEMA_LISTS and isinstance(value, list):
        return list(value)
    return [value] if keyword in _SCHEMA_SINGLES else []


def _references(node: Any, base: str) -> Iterator[str]:
    """The absolute URI (without fragment) of each schema ``node`` refers to."""
    if not isinstance(node, dict):
        return
    for keyword, value in node.items():
        if keyword in _REFERENCES and isinstance(value, str):
            yield urldefrag(urljoin(base, value)).url
        for sub in _held(keyword, value):
            yield from _references(sub, base)


def _copies(doc: dict[str, Any]) -> set[str]:
    """The ``$defs`` keys of ``doc`` that hold a copy of another schema, keyed by its ``$id``."""
    defs = doc.get("$defs")
    return {key for key, sub in defs.items() if isinstance(sub, dict) and sub.get("$id") == key} if isinstance(defs, dict) else set()


def unbundled(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the copies of other schemas that ``bundled`` put in it: the schema as written."""
    copies = _copies(doc)
    if not copies:
        return doc
    defs = {key: sub for key, sub in doc["$defs"].items() if key not in copies}
    return {keyword: defs if keyword == "$defs" else value for keyword, value in doc.items() if keyword != "$defs" or defs}


def bundled(doc: dict[str, Any], universe: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``doc`` with a copy of each schema of ``universe`` it refers to, directly or not, under
    ``$defs`` keyed by its ``$id`` (a Draft 2020-12 compound document): any validator resolves a
    relative reference against the absolute ``$id`` of the referring schema, and finds that URI
    inside the file, so nothing is fetched and no base URI has to be given."""
    uri = doc["$id"]
    reached, todo = {uri}, [doc]
    while todo:
        current = todo.pop()
        for target in _references(current, current["$id"]):
            if target not in reached and target in universe:  # an unknown target stays unresolved: tests find it
                reached.add(target)
                todo.append(universe[target])
    copies = {target: universe[target] for target in sorted(reached - {uri})}
    return {**doc, "$defs": {**doc.get("$defs", {}), **copies}} if copies else doc


def standalone_documents(sources: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The schemas of one format version as shipped, by ``$id``: each full schema and its
    errors-only twin, each bundled with the schemas it refers to."""
    full = {doc["$id"]: unbundled(doc) for doc in sources}
    universe = full | {errors_only_uri(uri): errors_only_document(doc) for uri, doc in full.items()}
    return {uri: bundled(doc, universe) for uri, doc in sorted(universe.items())}


def standalone_files(root: Path) -> dict[str, str]:
    """Every file of the schema folder ``root`` as shipped, by path under ``root`` (which is the
    ``$id`` under SCHEMA_BASE), from the full schemas in ``root/<format>/<version>/``."""
    out = {}
    for folder in sorted({file.parent for file in root.glob("*/*/*.schema.json")}):
        sources = [json.loads(file.read_text(encoding="utf-8")) for file in sorted(folder.glob("*.schema.json"))]
        for uri, doc in standalone_documents(sources).items():
            out[uri.removeprefix(SCHEMA_BASE)] = json.dumps(doc, indent=2) + "\n"
    return out


def write_standalone_files(root: Path | None = None) -> list[Path]:
    """Write what ``standalone_files`` says (atomically, only what changed) and remove errors-only
    files it no longer writes; the paths changed. Run it after editing a schema:
    ``python -c 'import memport.schemas as s; s.write_standalone_files()'``."""
    root = root or schemas_root()
    wanted = {root / name: text for name, text in standalone_files(root).items()}
    changed = []
    for path, text in sorted(wanted.items()):
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(exist_ok=True)
            atomic_write_bytes(path, text.encode())
            changed.append(path)
    for stale in sorted(set(root.glob(f"*/*/{ERRORS_ONLY}/*.schema.json")) - set(wanted)):
        stale.unlink()
        changed.append(stale)
    return changed


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


def refusal(fmt: str, version: str, name: str, instance: Any, at: str, file: str) -> Exception:
    """The error for a part of a bundle memport cannot read at all (a record container of the wrong
    type: Doclea's ``data`` not an object, Tribal's ``entries`` not an array, ...), worded as
    validation reports it: ``instance`` checked against schema ``name``, the first error at JSON
    path ``at``. Readers raise it, so an import refuses the bundle before anything is written."""
    from .errors import Location, MalformedInputError

    found = [p for p in schema_set(fmt, version).problems(name, instance, file=file) if p.path == at and p.severity == "error"]
    message = f"{found[0].message} [{found[0].code}]" if found else "memport cannot read this part of the bundle"
    return MalformedInputError(message, Location(file, path=at))
