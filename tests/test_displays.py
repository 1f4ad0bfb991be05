"""Every display memport owns, tried as an attacker and as a careful user would: markup put into
every field of a bundle of each format never becomes markup in the HTML, and every kind of secret
put into every field is never shown in clear (bundle HTML and frames, validation reports and
messages, the CLI's validate, audits, conversion reports, BundleExplorer, ValidationView and
MergeSelector)."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import ipywidgets as w
import pytest
from click.testing import CliRunner
from native import (
    DOCLEA_MEMORY,
    KAGURA_EDGE,
    KAGURA_NODES,
    KAGURA_PERSISTENT,
    TRIBAL_ENTRY,
    doclea_bundle,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport.cli import cli
from memport.widgets import BundleExplorer, MergeSelector, ValidationView

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>']

PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq9kfQ2\nZm9vYmFyYmF6cXV4MTIzNDU2\n-----END RSA PRIVATE KEY-----"
# every kind of secret, and the characters of it that must never be shown
SECRETS = {
    PRIVATE_KEY: ["MIIEpAIBAAKCAQEA7bq9kfQ2", "Zm9vYmFyYmF6cXV4MTIzNDU2"],
    "AKIAIOSFODNN7EXAMPLE": ["AKIAIOSFODNN7EXAMPLE"],
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": ["wJalrXUtnFEMI/K7MDENG"],
    "sk-abc12345": ["abc12345"],
    "pk-9f8e7d6c5b4a": ["9f8e7d6c5b4a"],
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789": ["ghijklmnopqrstuvwxyz0123"],
    "xoxb-123456789012-AbCdEfGhIjKlMnOp": ["AbCdEfGhIjKlMnOp"],
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w": ["dozjgNryP4J3jVmN", "eyJzdWIiOiIx"],
    '{"password": "jsonPass111"}': ["jsonPass111"],
    "password: yamlPass222": ["yamlPass222"],
    "DB_PASSWORD=kvPass333": ["kvPass333"],
    "my password is prosePass444": ["prosePass444"],
    "alice.smith@example.org": ["alice.smith@", "smith@example"],
    "+1 415 555 0132": ["415 555 0132"],
}
ALL = " ; ".join(SECRETS)
FRAGMENTS = [f for parts in SECRETS.values() for f in parts] + ["fieldPass555", "fieldKey666"]
# fields named like secrets hold values that look like nothing: masked because of the name
SECRET_FIELDS = {"password": "fieldPass555", "nested": {"api_key": "fieldKey666"}}


def kagura(path: Path, text: str, tags: list[str], value: str | None = None) -> Path:
    memory = dict(
        KAGURA_PERSISTENT,
        key=text,
        value=value or text,
        user_id=text,
        agent_name=text,
        metadata={"tags": tags, "note": text, text: "a key", **SECRET_FIELDS},
    )
    node = copy.deepcopy(KAGURA_NODES[0])
    node["id"], node["data"] = text, {"user_id": text, "name": text}
    edge = dict(KAGURA_EDGE, src=text)
    return write_kagura(path, [memory], [node, KAGURA_NODES[1], edge])


def tribal(path: Path, text: str, tags: list[str], value: str | None = None) -> Path:
    # Tribal's store takes ids of [A-Za-z0-9-] only: an entry with another id is invalid and never
    # imported, so an entry that must reach the store (to differ from it) has a key id for an id
    entry = dict(
        TRIBAL_ENTRY,
        id=text if value is None else "AKIAIOSFODNN7EXAMPLE",
        content=value or text,
        tags=tags,
        context=text,
        source_instance=text,
        supersedes=text,
    )
    return write_tribal(path, tribal_bundle([entry]))


def doclea(path: Path, text: str, tags: list[str], value: str | None = None) -> Path:
    memory = dict(
        DOCLEA_MEMORY, id=text, type=text, title=text, content=value or text, summary=text, tags=tags, relatedFiles=[text], experts=tags
    )
    document = {"id": text, "title": text, "content": text, "contentHash": text, "createdAt": 1748700000, "updatedAt": 1748700000}
    chunk = {"id": text, "documentId": text, "content": text, "startOffset": 0, "endOffset": 3}
    pending = {
        "id": text,
        "memory": {"content": text, "tags": tags, **SECRET_FIELDS},
        "suggestedAt": 1748700000,
        "source": text,
        "reason": text,
    }
    relation = {
        "id": text,
        "source_id": text,
        "target_id": text,
        "type": "related",
        "weight": 1,
        "metadata": json.dumps({"note": text}),
        "created_at": 1748700123456,
    }
    return write_doclea(
        path,
        doclea_bundle(memories=[memory], documents=[document], chunks=[chunk], pendingMemories=[pending], memoryRelations=[relation]),
    )


WRITERS = {"kagura": kagura, "tribal": tribal, "doclea": doclea}
TARGETS = {"kagura": "tribal", "tribal": "doclea", "doclea": "kagura"}


def widget_texts(widget: w.Widget) -> tuple[list[str], list[str]]:
    """(HTML values, plain texts) of a widget tree: what a browser shows of it."""
    html, text = [], []
    if isinstance(widget, w.HTML):
        html.append(widget.value)
    elif isinstance(widget, w.Label):
        text.append(widget.value)
    if getattr(widget, "description", None):
        assert not widget.style.keys or not getattr(widget, "description_allow_html", False)
        text.append(widget.description)
    if isinstance(widget, (w.Select, w.SelectMultiple, w.Dropdown, w.ToggleButtons)):
        text += [str(label) for label in widget._options_labels]
    if isinstance(widget, w.Tab):
        text += [widget.get_title(i) or "" for i in range(len(widget.children))]
    for child in getattr(widget, "children", ()):
        more_html, more_text = widget_texts(child)
        html += more_html
        text += more_text
    return html, text


def validation_texts(view: ValidationView) -> tuple[list[str], list[str]]:
    """Everything a ValidationView shows, every code and every problem chosen in turn."""
    html, text = widget_texts(view)
    if hasattr(view, "codes"):
        for code in [value for _, value in view.codes.options]:
            view.codes.value = code
            for index in [value for _, value in view.problems.options]:
                view.problems.value = index
                more_html, more_text = widget_texts(view)
                html += more_html
                text += more_text
    return html, text


def displays(src: Path, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(HTML, text) of every display memport makes of the bundle at ``src``."""
    bundle = memport.read(src)
    report = memport.validate(src)
    audit = memport.audit(bundle)
    html = [bundle._repr_html_(), report._repr_html_(), report.to_frame()._repr_html_(), audit._repr_html_()]
    text = [repr(bundle), repr(report.to_frame()), *(str(p) for p in report.problems)]
    for kind in memport.model.KINDS:
        frame = bundle.frame(kind)
        html.append(frame._repr_html_())
        text.append(repr(frame))
        text += [repr(frame.iloc[i]) for i in range(len(frame))]
        text += [repr(frame[c]) for c in frame.columns]
    for frame in [*audit.by.values(), audit.duplicates, audit.dangling, audit.sensitive]:
        html.append(frame._repr_html_())
        text.append(repr(frame))
    html.append(memport.convert(bundle, TARGETS[bundle.format]).conversion._repr_html_())
    text.append(CliRunner().invoke(cli, ["validate", str(src)]).output)
    for more in (widget_texts(BundleExplorer(bundle)), validation_texts(ValidationView(report))):
        html += more[0]
        text += more[1]
    return html, text


class Markup(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> None:
    """No element or attribute that data put there: no script, img or foreign svg, no on* handler."""
    tags = Markup(html).tags
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed")], html
    assert not [(t, a) for t, attrs in tags for a in attrs if a.lower().startswith("on")], html
    assert all(attrs.get("class") == "memport-chart" for t, attrs in tags if t == "svg"), html


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_markup_in_every_field_stays_text(fmt, tmp_path):
    for n, hostile in enumerate(HOSTILE):
        src = WRITERS[fmt](tmp_path / f"{fmt}-{n}", hostile, [hostile, "plain"])
        html, _ = displays(src, tmp_path)
        assert any("&lt;" in h for h in html)  # the data is there, as text
        for page in html:
            assert_inert(page)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_no_secret_is_shown_in_clear(fmt, tmp_path):
    src = WRITERS[fmt](tmp_path / fmt, ALL, list(SECRETS))
    html, text = displays(src, tmp_path)
    assert any("[masked: " in page for page in html)
    for shown in html + text:
        for fragment in FRAGMENTS:
            assert fragment not in shown, (fragment, shown[:2000])


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_merge_selector_masks_and_escapes(fmt, tmp_path):
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(WRITERS[fmt](tmp_path / "before", ALL + HOSTILE[1], list(SECRETS), value="before"), store)
        after = WRITERS[fmt](tmp_path / "after", ALL + HOSTILE[1], list(SECRETS), value=ALL + HOSTILE[1])
        plan = memport.plan(after, store, strategy="manual")
        selector = MergeSelector(plan, tmp_path / "decisions.jsonl")
        assert selector.choices  # the memory differs: a row is shown
        html, text = widget_texts(selector)
    for page in html:
        assert_inert(page)
    for shown in html + text:
        for fragment in FRAGMENTS:
            assert fragment not in shown, (fragment, shown[:2000])


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_a_plan_masks_and_escapes_its_rows(fmt, tmp_path):
    # the key, id or title holds the secrets and the markup: every uid shows them, masked and escaped
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(WRITERS[fmt](tmp_path / "before", ALL + HOSTILE[1], list(SECRETS), value="before"), store)
        after = WRITERS[fmt](tmp_path / "after", ALL + HOSTILE[1], list(SECRETS), value=ALL + HOSTILE[1])
        plan = memport.plan(after, store, strategy="manual")
        assert plan.summary()["conflicts"] == 1
        page, frame = plan._repr_html_(), plan.to_frame()._repr_html_()
    for shown in (page, frame):
        assert_inert(shown)
        for fragment in FRAGMENTS:
            assert fragment not in shown, (fragment, shown[:2000])
