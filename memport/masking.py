"""The one masking policy: what is secret or personal, and how it is shown.

Memory exports hold what people told their agents, and agents are told API keys, passwords and
phone numbers. Every display memport makes (HTML, DataFrames meant for display, widgets, CLI text,
validation messages) passes what it shows through this module, so one policy decides for all:

* **what is found** (:data:`SENSITIVE`, most specific first): private key blocks (the whole block,
  every line), AWS access key ids and secret access keys, ``sk-``/``pk-``/``rk-`` style API keys
  of 8 characters or more, Google API keys, GitHub, Slack and JWT tokens, bearer tokens, password
  and secret assignments (JSON ``"password": "x"``, YAML ``password: x``, ``key=value`` and prose
  such as "my password is x"), e-mail addresses and phone numbers;
* **where**: in text, in keys, in ids and uids, and in JSON values recursively, where a key named
  like a secret (``password``, ``secret``, ``token``, ``api_key``, ...) has its value masked whole,
  whatever it is;
* **how it is shown**: ``[masked: <kind>, <n> chars]``, nothing of the value but its length.
  Masking is idempotent: a masked token is never masked again, and text is never shortened here
  (shortening is the display's choice, :func:`shorten`).

A person who needs a raw value asks for it explicitly: every display that masks takes
``reveal=True``. The data itself is never changed: ``bundle.memories`` holds the raw values and
only shows them masked (:class:`MaskedFrame`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# ------------------------------------------------------------------------------------------------
# What is secret

# Field names whose values are secret whatever they hold: the word at the end of the name (after
# nothing, "_", "-" or "."), so "api_key", "db.password" and "AUTH_TOKEN" are, and "max_tokens",
# "token_count" and "password_hint" are not.
_SECRET_WORDS = (
    r"password|passwd|passphrase|passcode|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|"
    r"private[_-]?key|client[_-]?secret|credentials?|auth[_-]?token|session[_-]?key"
)
_SECRET_KEY = re.compile(rf"(?i)^(?:.*[_.\-\s])?(?:{_SECRET_WORDS})$")

# A masked value as this module writes it; what matches is left alone (idempotence). Strict on
# purpose: text that merely looks like a token can hide no more than its digits.
TOKEN = re.compile(r"\[masked: [a-z ]{2,20}, \d{1,12} chars\]")

# Words after "password is" that describe the password instead of being it.
_NOT_A_PASSWORD = frozenset(
    "a an the not too required needed missing wrong incorrect correct changed stored set empty expired invalid valid "
    "weak strong reset saved hashed encrypted unknown same different".split()
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret: a pattern, and which group of it is the secret (0: the whole match)."""

    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0
    accept: Callable[[str], bool] | None = None  # a further check of the secret's text
    # what a text must hold for the pattern to be tried at all: any of ``hints`` (lower case), or
    # ``needs`` "digits" (what a phone number starts with) or "run" (40 characters of base64)
    hints: tuple[str, ...] = ()
    needs: str | None = None


def _mixed(text: str) -> bool:
    """Random keys mix upper case, lower case and digits; words, hashes and numbers do not."""
    return any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)


def _api_key_body(text: str) -> bool:
    # "sk-compatible" is a word, "sk-1a2b3c4d" a key: the body after the prefix needs a digit, an
    # upper-case letter or an underscore, unless a live/test/proj marker says what it is
    body = re.sub(r"^(?:sk|pk|rk)[-_]", "", text)
    if re.match(r"(?:live|test|proj|ant|or|svcacct|admin)[-_]", body):
        return True
    return any(c.isdigit() or c.isupper() or c == "_" for c in body)


def _a_password(text: str) -> bool:
    return text.lower().rstrip(".,;:!?") not in _NOT_A_PASSWORD


# the value of an assignment: quoted, or up to whitespace, a quote or a separator
# the secret words' parts, for the rules' hints
_SECRET_HINTS = ("pass", "pwd", "secret", "token", "api", "access", "private", "credential", "session")
_VALUE = r"(?:\"(?P<dq>(?:[^\"\\]|\\.)+)\"|'(?P<sq>[^']+)'|(?P<bare>[^\s\"',;&<>()\[\]{}]+))"

SENSITIVE: list[Rule] = [
    # the whole block, every line; a block cut short is masked to the end of its base64 body
    Rule(
        "private key",
        re.compile(
            r"-----BEGIN (?P<label>[A-Z0-9 ]*)PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]*?-----END (?P=label)PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=:\s-]|\\[nr])*)"
        ),
        hints=("private key",),
    ),
    Rule(
        "aws access key id",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"),
        hints=("akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
    ),
    # a secret access key is 40 characters of base64 with no prefix: named as such, or standing alone
    Rule(
        "aws secret key",
        re.compile(r"(?i)aws.{0,30}?(?:secret|key).{0,20}?(?<![A-Za-z0-9/+])(?P<key>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
        "key",
        hints=("aws",),
    ),
    Rule("aws secret key", re.compile(r"(?<![A-Za-z0-9/+=_-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])"), accept=_mixed, needs="run"),
    Rule(
        "api key",
        re.compile(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_-]{8,}"),
        accept=_api_key_body,
        hints=("sk-", "sk_", "pk-", "pk_", "rk-", "rk_"),
    ),
    Rule("api key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), hints=("aiza",)),
    Rule(
        "github token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Rule("slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"), hints=("xox",)),
    Rule("slack token", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"), hints=("hooks.slack.com",)),
    Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), hints=("eyj",)),
    Rule("bearer token", re.compile(r"(?i)\bbearer\s+(?P<token>[A-Za-z0-9._~+/-]{8,}=*)"), "token", hints=("bearer",)),
    # JSON: "password": "x", "api_key": 1234 (also a JSON document inside a string, its quotes escaped)
    Rule(
        "password",
        re.compile(
            rf"(?i)\"(?:[^\"\\]*[_.\-\s])?(?:{_SECRET_WORDS})\"[ \t]*:[ \t]*"
            r"(?:\"(?P<str>(?:[^\"\\]|\\.)+)\"|(?P<other>-?[0-9][0-9.eE+-]*|true|false))"
        ),
        "value",
        hints=_SECRET_HINTS,
    ),
    Rule(
        "password",
        re.compile(rf"(?i)\\\"(?:[^\"\\]*[_.\-\s])?(?:{_SECRET_WORDS})\\\"[ \t]*:[ \t]*\\\"(?P<str>(?:[^\"\\]|\\[^\"])+)\\\""),
        "value",
        hints=_SECRET_HINTS,
    ),
    # YAML and key=value: password: x, API_KEY=x, db.password = "x"
    # (the name is found by its secret word, not scanned for from every character before it: that
    # backtracked over every word of a long text)
    Rule("password", re.compile(rf"(?i)(?<![A-Za-z0-9])(?:{_SECRET_WORDS})[ \t]*[:=][ \t]*{_VALUE}"), "value", hints=_SECRET_HINTS),
    # prose: "my password is x", "the wifi passcode was: x"
    Rule(
        "password",
        re.compile(
            r"(?i)\b(?:password|passphrase|passcode|pin|pwd)(?:\s+for\s+[^\s.,;:]+)?\s+(?:is|was|=)\s*:?\s+(?P<said>\S+?)(?=[.,;:!?)]*(?:\s|$))"
        ),
        "said",
        accept=_a_password,
        hints=("pass", "pin", "pwd"),
    ),
    Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), hints=("@",)),
    # numbers joined by hyphens to more of them are ids (uuids), not phone numbers
    Rule("phone", re.compile(r"(?<![\w.+])(?<!\d-)\+\d{8,15}(?![\w.]|-\d)"), needs="digits"),
    Rule(
        "phone",
        re.compile(r"(?<![\w.])(?<!\d-)(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}[ .-]\d{3,4}[ .-]\d{3,4}(?![\w.]|-\d)"),
        needs="digits",
    ),
]


# What makes a text worth trying the rules on: most texts (ids, dates, words) hold no hint, no
# phone-like digits and no 40-character run, and are done with three scans. An audit of 100k
# memories (2.4M strings) took 31 s trying every rule on every string; 8 s with these first.
# (two patterns covering every rule's hints: prefixes whose case is fixed, looked for as written,
# and words in the lower-cased text; one alternation of all the hints scanned 40% slower)
_FIXED = re.compile(r"A[A-Z]{3}[0-9A-Z]{16}|AIza|gh[pousr]_|github_pat_|xox|eyJ|[spr]k[-_]|hooks\.slack|PRIVATE KEY|@")
_WORDS = re.compile(r"pass|pwd|secret|token|api|access|private|credential|session|bearer|aws|pin")
_DIGITS = re.compile(r"\d{2,4}[ .)-]{1,2}\d{3,4}[ .-]\d{3,4}|\+\d{8}")
_RUN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}")  # tried at the start of a run only: linear


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret found in a text: where it is (the characters that are masked) and what kind."""

    kind: str
    start: int
    end: int
    # the whole match, with what made it a secret ("my password is ", a key's name): wider than
    # start..end where the rule needs that context
    context: tuple[int, int] = (0, 0)


def _span(rule: Rule, m: re.Match[str]) -> tuple[int, int] | None:
    if rule.group == "value":
        for name in ("str", "other", "dq", "sq", "bare"):
            if name in m.re.groupindex and m.group(name) is not None:
                return m.span(name)
        return None
    return m.span(rule.group)


def _findings(text: str) -> list[Finding]:
    """One pass over ``text``: every secret or personal datum, in order; a span is reported once
    (the most specific rule wins), and what is already masked is not found again."""
    lower = text.lower()
    gates = _gates(text, lower)
    if not any(gates.values()):
        return []
    taken = [m.span() for m in TOKEN.finditer(text)]
    found: list[Finding] = []
    for rule in SENSITIVE:
        if rule.hints:
            if not gates["hints"] or not any(h in lower for h in rule.hints):
                continue
        elif rule.needs is not None and not gates[rule.needs]:
            continue
        for m in rule.pattern.finditer(text):
            span = _span(rule, m)
            if span is None:
                continue
            start, end = span
            while end > start and text[end - 1].isspace():
                end -= 1
            if end == start or any(start < e and s < end for s, e in taken):
                continue
            if rule.accept is not None and not rule.accept(text[start:end]):
                continue
            taken.append((start, end))
            found.append(Finding(rule.kind, start, end, (min(start, m.start()), max(end, m.end()))))
    found.sort(key=lambda f: f.start)
    return found


def _gates(text: str, lower: str) -> dict[str, bool]:
    return {
        "hints": bool(_FIXED.search(text) or _WORDS.search(lower)),
        "digits": bool(_DIGITS.search(text)),
        "run": len(text) >= 40 and bool(_RUN.search(text)),
    }


def may_hold_secret(text: str) -> bool:
    """False when no rule can find anything in ``text`` (cheap: three scans). Checking a whole
    record's JSON first spares looking at each of its strings (audits)."""
    return bool(_FIXED.search(text) or _WORDS.search(text.lower()) or _DIGITS.search(text) or (len(text) >= 40 and _RUN.search(text)))


def _masked_once(text: str, found: list[Finding]) -> str:
    out, at = [], 0
    for f in found:
        out += [text[at : f.start], mask(text[f.start : f.end], f.kind)]
        at = f.end
    out.append(text[at:])
    return "".join(out)


# A match that ran into another secret ("sk-abc12345-----BEGIN ...") was left for the other; once
# that one is masked, the first stands alone and is found: passes repeat until one finds nothing,
# which is what makes masking idempotent. Real text needs two at most.
MAX_PASSES = 8


def mask(value: str, kind: str = "secret") -> str:
    """How a secret is shown: its kind and length, nothing of its characters."""
    return f"[masked: {kind}, {len(value)} chars]"


def find_sensitive(text: str) -> list[tuple[str, str]]:
    """(kind, masked value) for every secret or personal datum in ``text`` (what audits list)."""
    out: list[tuple[str, str]] = []
    for _ in range(MAX_PASSES):
        found = _findings(text)
        if not found:
            break
        out += [(f.kind, mask(text[f.start : f.end], f.kind)) for f in found]
        text = _masked_once(text, found)
    return out


def sensitive_spans(text: str) -> list[tuple[int, int]]:
    """Where in ``text`` masking hides something, with what made it a secret (``my password is
    hunter2``, not only ``hunter2``): (start, end) spans of ``text`` itself, in order, those that
    overlap merged. Every pass of :func:`mask_text` counts (a secret found once its neighbour is
    masked, too). A part of ``text`` cut only outside these spans hides, masked, what the whole text
    hides (search snippets are cut so)."""
    spans: list[tuple[int, int]] = []
    # the tokens earlier passes put in the text: (start, end) there, and (start, end) in ``text``
    tokens: list[tuple[int, int, int, int]] = []
    current = text

    def original(at: int, end: bool = False) -> int:
        """A position of ``current`` in ``text``; inside a token, where its secret starts (or ends)."""
        for start, stop, raw_start, raw_stop in tokens:
            if start < at < stop:
                return raw_stop if end else raw_start
        return at + sum((raw_stop - raw_start) - (stop - start) for start, stop, raw_start, raw_stop in tokens if stop <= at)

    for _ in range(MAX_PASSES):
        found = _findings(current)
        if not found:
            break
        placed: list[tuple[int, int, int, int]] = []
        delta = 0  # how much longer the text is now than before this pass, so far
        old = iter(tokens)
        pending = next(old, None)
        for f in found:
            while pending is not None and pending[1] <= f.start:
                placed.append((pending[0] + delta, pending[1] + delta, pending[2], pending[3]))
                pending = next(old, None)
            raw = (original(f.start), original(f.end, True))
            spans.append((original(f.context[0]), original(f.context[1], True)))
            shown = len(mask(current[f.start : f.end], f.kind))
            placed.append((f.start + delta, f.start + delta + shown, *raw))
            delta += shown - (f.end - f.start)
        while pending is not None:
            placed.append((pending[0] + delta, pending[1] + delta, pending[2], pending[3]))
            pending = next(old, None)
        current = _masked_once(current, found)
        tokens = placed
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def mask_text(text: str, *, reveal: bool = False) -> str:
    """``text`` with every secret and personal datum in it masked (unchanged with ``reveal``)."""
    if reveal or not isinstance(text, str) or not text:
        return text
    for _ in range(MAX_PASSES):
        found = _findings(text)
        if not found:
            break
        text = _masked_once(text, found)
    return text


def is_secret_key(name: Any) -> bool:
    """Whether a field of this name holds a secret whatever its value (``api_key``, ``db.password``)."""
    return isinstance(name, str) and _secret_name(name)


@functools.lru_cache(maxsize=4096)  # field names repeat in every record
def _secret_name(name: str) -> bool:
    return bool(_SECRET_KEY.match(name.strip()))


def is_secret_path(parts: Iterable[Any]) -> bool:
    """Whether a JSON path goes through a field named like a secret (``$.metadata.password[0]``)."""
    return any(is_secret_key(p) for p in parts if isinstance(p, str))


def mask_value(value: Any, *, reveal: bool = False) -> Any:
    """A JSON value with every string masked, recursively; keys are masked too, and the value of a
    key named like a secret is masked whole (a number, an object, whatever it is)."""
    if reveal:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {
            mask_text(k) if isinstance(k, str) else k: (_mask_whole(v) if is_secret_key(k) else mask_value(v)) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value


def _mask_whole(value: Any) -> Any:
    if value is None or value == "" or (isinstance(value, str) and TOKEN.fullmatch(value)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return mask(text, "secret")


def mask_uid(uid: str, *, reveal: bool = False) -> str:
    """A record uid (``<format>:<kind>:<identity>``) as it may be shown: the identity masked.
    Plan frames and HTML, ``memport diff`` and ``memport search`` show uids through this."""
    if reveal or not isinstance(uid, str):
        return uid
    origin, sep1, rest = uid.partition(":")
    kind, sep2, identity = rest.partition(":")
    if not sep2:
        return mask_text(uid)
    return f"{origin}{sep1}{kind}{sep2}{mask_text(identity)}"


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters for a table cell, saying how long it was; a masked
    token is never cut in two."""
    if len(text) <= limit:
        return text
    cut = limit
    for m in TOKEN.finditer(text):
        if m.start() < cut < m.end():
            cut = m.start()
    return f"{text[:cut]}… ({len(text)} chars)"


# ------------------------------------------------------------------------------------------------
# DataFrames meant for display


def mask_cell(value: Any, column: Any = None, *, reveal: bool = False) -> Any:
    """One cell as it may be shown: text masked, JSON (lists, objects) masked and written as JSON,
    the whole value masked in a column named like a secret; numbers, times and missing values as
    they are."""
    if reveal:
        return value
    name = column.rsplit(".", 1)[-1] if isinstance(column, str) else column
    if isinstance(value, str):
        return _mask_whole(value) if is_secret_key(name) else mask_text(value)
    if isinstance(value, (dict, list, tuple)):
        if is_secret_key(name):
            return _mask_whole(value)
        return json.dumps(mask_value(value), ensure_ascii=False, default=str)
    if is_secret_key(name) and value is not None and not _missing(value):
        return _mask_whole(value)
    return value


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text_like(series: pd.Series) -> bool:
    """Columns that can hold text or JSON (numbers, booleans and times hold no secret)."""
    import pandas as pd

    return not (
        pd.api.types.is_numeric_dtype(series.dtype)
        or pd.api.types.is_bool_dtype(series.dtype)
        or isinstance(series.dtype, pd.DatetimeTZDtype)
    ) or is_secret_key(str(series.name).rsplit(".", 1)[-1])


def mask_frame(frame: pd.DataFrame, *, reveal: bool = False) -> pd.DataFrame:
    """A plain copy of ``frame`` for display: every text or JSON cell masked (:func:`mask_cell`),
    the column names and the index too. Cost grows with the rows: mask a page, not a million rows
    (:func:`frame_html` masks only the rows it shows)."""
    import pandas as pd

    if reveal:
        return pd.DataFrame(frame)
    out = pd.DataFrame(frame).copy()
    for name in out.columns:
        if _text_like(out[name]):
            out[name] = pd.Series([mask_cell(v, name) for v in out[name].tolist()], index=out.index, dtype=object)
    out.columns = [mask_text(c) if isinstance(c, str) else c for c in out.columns]
    if not pd.api.types.is_numeric_dtype(out.index.dtype):
        out.index = [mask_text(i) if isinstance(i, str) else i for i in out.index]
    return out


def _formatters(frame: pd.DataFrame) -> dict[Any, Callable[[Any], str]]:
    def formatter(column: Any) -> Callable[[Any], str]:
        return lambda value: str(mask_cell(value, column))

    return {name: formatter(name) for name in frame.columns if _text_like(frame[name])}


def frame_html(frame: pd.DataFrame, *, reveal: bool = False, **options: Any) -> str:
    """``frame`` as an HTML table, escaped, with what it shows masked (only the rows shown are
    masked: pandas' display limits apply unless ``max_rows`` says otherwise)."""
    import pandas as pd

    options["escape"] = True  # data is never markup
    if reveal:
        return pd.DataFrame(frame).to_html(**options)
    shown = pd.DataFrame(frame)
    shown.columns = pd.Index([mask_text(str(c)) for c in shown.columns])
    return shown.to_html(formatters=_formatters(shown), **options)


def __getattr__(name: str) -> Any:
    # the display frames subclass pandas' classes: defined on first use, so that importing this
    # module (every validation message passes through it) does not import pandas
    if name in ("MaskedFrame", "MaskedSeries"):
        _define_frames()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define_frames() -> None:
    import pandas as pd

    class MaskedSeries(pd.Series):
        """A Series that shows its values masked; its data stay raw (``.reveal()`` gives them back
        as a plain Series)."""

        @property
        def _constructor(self) -> type:
            return MaskedSeries

        @property
        def _constructor_expanddim(self) -> type:
            return MaskedFrame

        def reveal(self) -> pd.Series:
            return pd.Series(self)

        def __repr__(self) -> str:
            plain = pd.Series(self)
            if not _text_like(plain):
                return repr(plain)
            limit = pd.get_option("display.max_rows")
            positions = range(len(plain))
            if limit and len(plain) > limit:
                half = (pd.get_option("display.min_rows") or limit) // 2
                positions = [*range(half), *range(len(plain) - half, len(plain))]
            shown = plain.astype(object) if plain.dtype != object else plain.copy()
            for i in positions:
                # a row of a frame: its index holds the column names (a secret's name masks the value whole)
                label = plain.index[i]
                shown.iat[i] = mask_cell(shown.iat[i], label if is_secret_key(label) else plain.name)
            return repr(shown)

    class MaskedFrame(pd.DataFrame):
        """A DataFrame that shows its cells masked (HTML in Jupyter and text); its data stay raw, for
        filtering and computing. ``.reveal()`` gives a plain DataFrame, shown in clear."""

        @property
        def _constructor(self) -> type:
            return MaskedFrame

        @property
        def _constructor_sliced(self) -> type:
            return MaskedSeries

        def reveal(self) -> pd.DataFrame:
            return pd.DataFrame(self)

        def _repr_html_(self) -> str:
            return f"<div>{frame_html(pd.DataFrame(self), **_display_limits(len(self)))}</div>"

        def __repr__(self) -> str:
            plain = pd.DataFrame(self)
            shown = plain.copy()
            shown.columns = pd.Index([mask_text(str(c)) for c in shown.columns])
            return shown.to_string(formatters=_formatters(shown), line_width=pd.get_option("display.width"), **_display_limits(len(self)))

    for cls in (MaskedSeries, MaskedFrame):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    globals().update(MaskedSeries=MaskedSeries, MaskedFrame=MaskedFrame)


def _display_limits(rows: int) -> dict[str, Any]:
    """pandas' own display options, as to_html and to_string take them: past ``max_rows`` rows,
    ``min_rows`` are shown (first and last halves)."""
    import pandas as pd

    limit, fewer = pd.get_option("display.max_rows"), pd.get_option("display.min_rows")
    return {
        "max_rows": (fewer or limit) if limit and rows > limit else None,
        "max_cols": pd.get_option("display.max_columns"),
        "show_dimensions": pd.get_option("display.show_dimensions"),
    }


def masked(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a :class:`MaskedFrame`: the same data, shown masked."""
    cls = globals().get("MaskedFrame") or __getattr__("MaskedFrame")  # defined once: frames of one class compare equal
    return cls(frame)
