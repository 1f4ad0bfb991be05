"""How an agent file's document sits in its bytes: text encoding, encoding layers and layout.

Letta's importer runs ``json.loads`` on the uploaded bytes (shared/formats/letta.md §1), so it
takes a UTF-8 byte order mark, UTF-16 and UTF-32 (Python detects the encoding), and, when the first
decode gives a string, decodes that string once more: SDK users write the export, already a JSON
string, with ``json.dump`` (a *double-encoded* file). A third layer is not undone (Letta fails on
it), and memport refuses it too.

Letta's exporter writes ``orjson.dumps(doc, option=OPT_INDENT_2)``: 2-space indent, raw UTF-8, no
final newline. Clients re-serialise files (``json.dump(indent=2)`` with ASCII escapes, compact
one-liners; the legacy server wrote compact JSON), so a :class:`Container` records, per layer,
which of a few known serialisers reproduces the text exactly, plus the white space around it. A
same-format write renders with the same ones and gives the same bytes; a layer no known serialiser
reproduces (hand-formatted) is written in the exporter's layout, with the same data.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import Location, MalformedInputError
from ...jsonio import loads, needs_reference

EXPORTER = "orjson-indent"
_JSON_SPACE = " \t\n\r"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _orjson_indent(value: Any) -> str:
    """What Letta's exporter writes. orjson turns NaN into null and refuses lone surrogates and
    integers beyond 64 bits: such values go through the standard library instead, which writes
    them so that ``json.loads`` (Letta's reader) reads them back as they were."""
    if needs_reference(value):
        return _escape_surrogates(json.dumps(value, indent=2, ensure_ascii=False))
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


def _escape_surrogates(text: str) -> str:
    # a str decoded from JSON holds a surrogate only when it was a lone \\udxxx escape; raw, it
    # could not be encoded at all
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _python(**options: Any) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        text = json.dumps(value, **options)
        return text if options.get("ensure_ascii", True) else _escape_surrogates(text)

    return render


# The serialisers seen on real agent files (letta.md §1.1, §18), most frequent first.
LAYOUTS: dict[str, Callable[[Any], str]] = {
    EXPORTER: _orjson_indent,  # Letta's exporter
    "python-indent": _python(indent=2),  # json.dump(export, f, indent=2) by SDK users: ASCII escapes
    "python-indent-utf8": _python(indent=2, ensure_ascii=False),
    "compact": _python(separators=(",", ":"), ensure_ascii=False),  # the legacy server (Starlette's JSONResponse)
    "compact-ascii": _python(separators=(",", ":")),
    "python": _python(),  # json.dumps(doc): one line, ", " and ": ", ASCII escapes
    "python-utf8": _python(ensure_ascii=False),
}


@dataclass
class Layer:
    """One JSON text of the file: the serialiser that reproduces it (None: none known does) and
    the white space before and after the value."""

    layout: str | None = EXPORTER
    lead: str = ""
    tail: str = ""


@dataclass
class Container:
    """Encoding and layers of an agent file; ``layers[0]`` is the file's own text, ``layers[1]``
    (double-encoded files) the text of the JSON string it holds."""

    codec: str = "utf-8"
    bom: bool = False
    layers: list[Layer] = field(default_factory=lambda: [Layer()])

    @property
    def double_encoded(self) -> bool:
        return len(self.layers) > 1

    @property
    def streamable(self) -> bool:
        """Whether the document can be read as a stream (UTF-8, one layer)."""
        return self.codec == "utf-8" and not self.double_encoded

    def to_dict(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "bom": self.bom,
            "layers": [{"layout": x.layout, "lead": x.lead, "tail": x.tail} for x in self.layers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Container:
        if not data:
            return cls()
        return cls(data.get("codec", "utf-8"), bool(data.get("bom")), [Layer(**x) for x in data.get("layers", [{}])])

    def render(self, doc: Any) -> bytes:
        """The file's bytes for ``doc``: innermost layer first, each rendered with its layout."""
        value: Any = doc
        for layer in reversed(self.layers):
            value = layer.lead + LAYOUTS[layer.layout or EXPORTER](value) + layer.tail
        data = value.encode(self.codec)
        return (BOMS[self.codec] if self.bom else b"") + data


BOMS = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}


def encoding_of(raw: bytes) -> tuple[str, bool]:
    """The codec of a file's bytes and whether they start with its byte order mark, decided as
    ``json.loads`` decides (``json.detect_encoding``): UTF-32 marks before UTF-16 ones, then the
    pattern of NUL bytes in the first four."""
    for mark, codec in (
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF8, "utf-8"),
    ):
        if raw.startswith(mark):
            return codec, True
    detected = json.detect_encoding(raw)
    return ("utf-8" if detected.startswith("utf-8") else detected), False


def decode_text(raw: bytes, name: str | None) -> tuple[str, str, bool]:
    """The file's text, its codec and whether it had a byte order mark."""
    codec, bom = encoding_of(raw)
    body = raw[len(BOMS[codec]) :] if bom else raw
    try:
        return body.decode(codec), codec, bom
    except UnicodeDecodeError as err:
        at = err.start + (len(BOMS[codec]) if bom else 0)
        kind = "UTF-8" if codec == "utf-8" else codec.upper()
        raise MalformedInputError(f"bytes are not valid {kind} at byte {at}: {body[err.start : err.start + 4]!r}", Location(name)) from None


@dataclass
class Loaded:
    """A whole agent file, parsed: the document, whether it is exact (see jsonio.needs_reference)
    and the container it came in."""

    doc: Any
    exact: bool
    container: Container


class EncodedThrice(MalformedInputError):
    """The file is a JSON string holding a JSON string: one layer more than Letta undoes."""


def parse(raw: bytes, name: str | None) -> Loaded:
    """Decode and parse an agent file as Letta's importer does: one extra layer when the first
    decode gives a string; a third layer is refused with a clear error."""
    text, codec, bom = decode_text(raw, name)
    if not text.strip(_JSON_SPACE):
        raise MalformedInputError("file is empty; expected a JSON object (an agent file)", Location(name))
    outer = loads(text.encode("utf-8") if codec != "utf-8" or bom else raw, Location(name))
    container = Container(codec, bom, [layer_of(outer.value, text, outer.exact)])
    if not isinstance(outer.value, str):
        return Loaded(outer.value, outer.exact, container)
    inner = _parse_inner(outer.value, name)
    container.layers.append(layer_of(inner.value, outer.value, inner.exact))
    if isinstance(inner.value, str):
        raise EncodedThrice(
            "the file is a JSON string holding another JSON string (encoded three times); Letta decodes one extra layer "
            "only and then fails, so memport does not read it either: decode it once (json.loads) and save the result",
            Location(name, path="$"),
        )
    return Loaded(inner.value, inner.exact, container)


def _parse_inner(text: str, name: str | None) -> Any:
    """The document inside a double-encoded file (the JSON string's content)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = None  # a lone surrogate: only the standard library reads such text
    try:
        if data is not None:
            return loads(data, Location(name, path="$"))
        from ...jsonio import Parsed

        value = json.loads(text)
        return Parsed(value, needs_reference(value))
    except MalformedInputError as err:
        line = f" (line {err.location.line} of the string's text)" if err.location.line is not None else ""
        raise MalformedInputError(
            f"double-encoded file: the JSON string it holds is not valid JSON: {err.message}{line}", Location(name, path="$")
        ) from None
    except (ValueError, RecursionError) as err:
        raise MalformedInputError(
            f"double-encoded file: the JSON string it holds is not valid JSON: {err}", Location(name, path="$")
        ) from None


def layer_of(value: Any, text: str, exact: bool = False) -> Layer:
    """Which known serialiser wrote ``text`` (the JSON text of ``value``), and the white space
    around it. A layout is tried only where it can match: indented ones need line breaks, and the
    exporter's never wrote what only the standard library writes (``exact``: NaN, lone
    surrogates, integers beyond 64 bits)."""
    body = text.strip(_JSON_SPACE)
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    lead, tail = text[:start], text[start + len(body) :]
    multiline = "\n" in body
    for name, render in LAYOUTS.items():
        if (("indent" in name) != multiline and isinstance(value, (dict, list)) and value) or (exact and name == EXPORTER):
            continue
        try:
            if render(value) == body:
                return Layer(name, lead, tail)
        except (TypeError, ValueError, orjson.JSONEncodeError):
            continue
    return Layer(None, lead, tail)
