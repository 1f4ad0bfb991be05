"""memport.audit: counts, timeline, duplicates, dangling references, secrets and personal data
(always masked), over-long texts; for bundles and stores."""

from __future__ import annotations

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
from memport.auditing import find_sensitive, mask, mask_text

SECRETS = {
    "api key": "sk-proj-Ab12Cd34Ef56Gh78Ij90",
    "token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "password": "password = hunter2hunter2",
    "email": "alice.smith@example.org",
    "phone": "+1 415 555 0132",
}


def test_every_kind_of_secret_is_found_and_masked():
    for kind, secret in SECRETS.items():
        found = find_sensitive(f"note: {secret} (end)")
        assert [k for k, _ in found] == [kind], (kind, found)
        masked = found[0][1]
        assert secret not in masked and masked.endswith(f"({len(secret)} chars)")
    assert find_sensitive("nothing to see, version 1.2.3, 2025-06-01") == []
    assert mask("abcdefghijklmnop") == "abcd******(16 chars)"
    text = mask_text(f"mail {SECRETS['email']} now")
    assert SECRETS["email"] not in text and "alic******" in text


def test_bundle_audit(tmp_path):
    records = [
        dict(KAGURA_PERSISTENT, key="a", value=f"reach me at {SECRETS['email']}", created_at="2025-05-30 08:15:02"),
        dict(KAGURA_PERSISTENT, key="b", value="same text", agent_name="thread_1", created_at="2025-06-02 09:00:00"),
        dict(KAGURA_PERSISTENT, key="c", value="same text", metadata={"tags": ["x", "y"]}, created_at="2025-06-03 09:00:00"),
        dict(KAGURA_WORKING, key="long", value="word " * 2000),
    ]
    audit = memport.audit(memport.read(write_kagura(tmp_path / "k", records, metadata=None)))
    assert audit.summary() == {"memories": 4, "duplicate_groups": 1, "dangling": 0, "sensitive": 1, "too_long": 1}
    assert dict(zip(audit.by["agent"]["agent"], audit.by["agent"]["count"])) == {"global": 3, "thread_1": 1}
    assert dict(zip(audit.by["tag"]["tag"], audit.by["tag"]["count"])) == {"x": 1, "y": 1}
    assert audit.timeline.values.tolist() == [["2025-05", 1], ["2025-06", 2]]
    assert audit.duplicates["count"].tolist() == [2]
    assert audit.sensitive["kind"].tolist() == ["email"] and SECRETS["email"] not in audit.sensitive.to_string()
    assert audit.too_long["how"].tolist() == ["estimated (characters / 4)"]
    html = audit._repr_html_()
    assert "<b>by agent</b>" in html and SECRETS["email"] not in html


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
    assert audit.total == 1 and audit.sensitive["kind"].tolist() == ["api key"]
    assert audit.too_long["how"].tolist() == ["counted"] and audit.dangling["missing"].tolist() == ["mem_QqQqQqQq00000000"]
