"""Record keys: the 64-bit keys a store and a plan compare records by.

A record's ``uid`` is ``<origin>:<kind>:<identity>`` (the identity is its format's own, see
``FormatPlugin.identity``); this module only hashes. ``uid_key`` keys the uid, ``content_key`` the
native JSON (independent of key order and formatting, and of the keys a format sets anew on every
export), ``line_key`` the line of a JSON Lines bundle as written, so that a dry run recognises a
line the store holds without parsing it. Keys are signed 64-bit integers, as SQLite stores them.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson
from xxhash import xxh3_64_intdigest


def key64(data: bytes) -> int:
    """A 64-bit key (signed, as SQLite stores integers) from xxh3: identities and contents are
    compared by key; a collision among a million records has odds of about 3 in 100 million."""
    key = xxh3_64_intdigest(data)
    return key - _TWO_64 if key >= _TWO_63 else key


_TWO_63, _TWO_64 = 1 << 63, 1 << 64


def uid_key(uid: str) -> int:
    return key64(uid.encode("utf-8", "surrogatepass"))


def content_key(value: Any, exact: bool, volatile: tuple[str, ...] = ()) -> int:
    """A key of a native record's content, independent of key order and formatting, and of the
    ``volatile`` keys its format sets anew on every export (see ``FormatPlugin.volatile``).

    ``exact`` must say whether the value holds NaN, lone surrogates or integers beyond 64 bits
    (orjson would write those unfaithfully), so that a record gets the same key however it came.
    """
    if volatile and type(value) is dict and value:
        last = next(reversed(value))
        if len(volatile) == 1 and last == volatile[0] and not exact:
            # where exporters put it (last): leave it out and put it back, the order unchanged
            # (a copy of the record would cost as much as the rest of the key)
            item = value.pop(last)
            try:
                return key64(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
            finally:
                value[last] = item
        if any(key in value for key in volatile):
            value = {key: item for key, item in value.items() if key not in volatile}
    if exact:
        return key64(json.dumps(value, sort_keys=True, ensure_ascii=True).encode())
    return key64(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def line_seed(origin: str, kind: str) -> int:
    """Line keys of different origins and kinds never meet: each has its own seed."""
    return xxh3_64_intdigest(f"{origin}:{kind}".encode())


def line_key(raw: bytes, seed: int, volatile: bytes = b"") -> int:
    """A 64-bit key of one line of a JSON Lines bundle as it was written (line end aside).

    The store keeps it next to each record that came from such a line, so a dry run recognises a
    line the store holds unchanged by its bytes alone, without parsing it (the same bytes parse to
    the same record, hence the same uid and content). Signed, as SQLite stores integers.

    ``volatile`` (see :func:`volatile_member`) names a last top-level member that is left out, so
    that the line of a record exported again later (Kagura writes the export time into every
    record) still has the key of the stored one, as its content key does."""
    if volatile:
        # the usual line (LF-terminated), without copying it first: measured 1.06 -> 0.75 us a line
        at = raw.rfind(volatile, -96)
        if at > 0 and raw.endswith(b'"}\n') and raw.find(b'"', at + len(volatile)) == len(raw) - 3:
            return xxh3_64_intdigest(raw[:at] + b"}", seed) - _TWO_63
    line = raw.rstrip(b"\r\n")
    if volatile:
        at = line.rfind(volatile, -96)  # the last member: a time takes at most 32 bytes
        # only a plain string value closing the top-level object: `, "exported_at": "..."}`
        if at > 0 and line.endswith(b'"}') and line.find(b'"', at + len(volatile)) == len(line) - 2:
            line = line[:at] + b"}"
    return xxh3_64_intdigest(line, seed) - _TWO_63


def volatile_member(volatile: tuple[str, ...]) -> bytes:
    """How the exporter writes the start of the volatile last member (json.dumps separators)."""
    return f', "{volatile[0]}": "'.encode() if volatile else b""


def hex_key(key: int) -> str:
    """How decisions name a content: 16 hex digits."""
    return f"{key & 0xFFFFFFFFFFFFFFFF:016x}"


def native_text(value: Any, exact: bool) -> str:
    # exact values may hold NaN, huge integers or lone surrogates: only the standard library
    # writes them faithfully (ASCII escapes keep lone surrogates storable as SQLite text)
    return json.dumps(value, ensure_ascii=True) if exact else orjson.dumps(value).decode()


def text_sha256(text: str) -> str:
    """The key of an embedded text (the embeddings cache and each vector's ``text_sha256``)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint_id(fingerprint: dict[str, Any]) -> str:
    """The key of an embedding model's fingerprint (see :mod:`memport.embed`): 16 hex digits."""
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str | None) -> str | None:
    """Text SQLite can store: a lone UTF-16 surrogate (valid in JSON, not in UTF-8) written as JSON
    writes it, ``\\udxxx``. Only a record that holds one (an exact one) needs it: its native JSON keeps
    the value exactly; its uid and search columns are spelled this way. (A text that spells such an
    escape literally would read alike: its uid key, made from the value itself, still differs.)"""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text
