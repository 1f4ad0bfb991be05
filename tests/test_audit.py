"""memport.audit: counts, timeline, duplicates, dangling references, secrets and personal data
(always masked), over-long texts; for bundles and stores."""

from __future__ import annotations

from html.parser import HTMLParser

from native import (
    DOCLEA_MEMORY,
    DOCLEA_RELATION,
    KAGURA_PERSISTENT,
    KAGURA_WORKING,
    TRIBAL_ENTRY,
    doclea_bundle,
    tribal_bundle,
    write_doclea,
    write_kagura,
    write_tribal,
)

import memport
from memport.masking import find_sensitive

SECRETS = {
    "api key": "sk-proj-Ab12Cd34Ef56Gh78Ij90",
    "github token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "email": "alice.smith@example.org",
    "phone": "+1 415 555 0132",
}


class Tags(HTMLParser):
    """The start tags of an HTML text, with their attributes."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_the_audit_finds_secrets_through_the_masking_policy():
    for kind, secret in SECRETS.items():
        assert find_sensitive(f"note: {secret} (end)") == [(kind, f"[masked: {kind}, {len(secret)} chars]")]


def test_bundle_audit(tmp_path):
    records = [
        dict(KAGURA_PERSISTENT, key="a", value=f"reach me at {SECRETS['email']}", created_at="2025-03-30 08:15:02"),
        dict(KAGURA_PERSISTENT, key="b", value="same text", agent_name="thread_1", created_at="2025-06-02 09:00:00"),
        dict(
            KAGURA_PERSISTENT,
            key="c",
            value="same text",
            metadata={"tags": ["x", "y"], "api_key": "plain"},
            created_at="2025-06-03 09:00:00",
        ),
        dict(KAGURA_WORKING, key="long", value="word " * 2000),
    ]
    audit = memport.audit(memport.read(write_kagura(tmp_path / "k", records, metadata=None)))
    assert audit.summary() == {"memories": 4, "undated": 1, "duplicate_groups": 1, "dangling": 0, "sensitive": 2, "too_long": 1}
    assert dict(zip(audit.by["agent"]["agent"], audit.by["agent"]["count"])) == {"global": 3, "thread_1": 1}
    assert dict(zip(audit.by["tag"]["tag"], audit.by["tag"]["count"])) == {"x": 1, "y": 1}
    assert dict(zip(audit.by["source"]["source"], audit.by["source"]["count"])) == {"(none)": 2, "chat": 2}
    # a real time axis: every month from the first to the last, the empty ones as 0; undated apart
    months = [(m.strftime("%Y-%m"), n) for m, n in zip(audit.timeline["month"], audit.timeline["count"])]
    assert months == [("2025-03", 1), ("2025-04", 0), ("2025-05", 0), ("2025-06", 2)] and audit.undated == 1
    assert str(audit.timeline["month"].dtype) == "datetime64[us, UTC]"
    assert audit.duplicates["count"].tolist() == [2]
    assert audit.sensitive[["field", "kind", "masked"]].values.tolist() == [
        ["value", "email", "[masked: email, 23 chars]"],
        ["metadata.api_key", "secret", "[masked: secret, 5 chars]"],
    ]
    assert audit.too_long["how"].tolist() == ["estimated (characters / 4)"]
    html = audit._repr_html_()
    assert SECRETS["email"] not in html and "1 memory without a creation time: counted, but not in the timeline" in html
    charts = audit.charts()
    assert sorted(charts) == ["agent", "duplicates", "sensitive", "source", "timeline", "user"]
    for name, svg in charts.items():
        tags = Tags(svg).tags
        assert tags[0][0] == "svg" and tags[0][1]["class"] == "memport-chart", name
        assert sum(1 for tag, _ in tags if tag == "path") >= 2, name  # bars drawn, not an empty frame
        assert svg in html
    assert memport.audit(memport.read(write_kagura(tmp_path / "k2", records, metadata=None))).charts() == charts  # same bytes every time


def test_audit_html_escapes_what_pandas_styler_did_not(tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    records = [dict(KAGURA_PERSISTENT, key=f"k{i}", user_id=hostile, agent_name='"><svg onload=alert(1)>') for i in range(2)]
    html = memport.audit(memport.read(write_kagura(tmp_path / "k", records, metadata=None)))._repr_html_()
    tags = Tags(html).tags
    assert not [t for t, _ in tags if t in ("img", "script")]
    assert not [(t, a) for t, attrs in tags for a in attrs if a.startswith("on")]
    assert all(attrs.get("class") == "memport-chart" for t, attrs in tags if t == "svg")


def test_dangling_references_in_each_format(tmp_path):
    tribal = memport.read(write_tribal(tmp_path / "t.json", tribal_bundle([dict(TRIBAL_ENTRY, supersedes="gone")])))
    assert memport.audit(tribal).dangling["missing"].tolist() == ["gone"]
    doclea = memport.read(write_doclea(tmp_path / "d.json", doclea_bundle(memoryRelations=[DOCLEA_RELATION])))
    assert memport.audit(doclea).dangling["missing"].tolist() == ["mem_QqQqQqQq00000000"]


def test_store_audit_and_exact_token_counts(tmp_path):
    with memport.Store(tmp_path / "s.db") as store:
        memport.import_bundle(
            write_doclea(
                tmp_path / "d.json",
                doclea_bundle(memories=[dict(DOCLEA_MEMORY, content=f"key {SECRETS['api key']}")], memoryRelations=[DOCLEA_RELATION]),
            ),
            store,
        )
        audit = memport.audit(store, max_tokens=3, count_tokens=lambda texts: [len(t.split()) for t in texts])
    assert audit.total == 1 and audit.sensitive[["field", "kind"]].values.tolist() == [["content", "api key"]]
    assert audit.too_long["how"].tolist() == ["counted"] and audit.dangling["missing"].tolist() == ["mem_QqQqQqQq00000000"]
