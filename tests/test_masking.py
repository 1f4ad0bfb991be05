"""The masking policy (memport.masking): what it finds, what it leaves alone, how it shows what it
found, and that masking twice is masking once."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from native import DOCLEA_MEMORY, doclea_bundle, write_doclea

import memport
from memport.masking import (
    find_sensitive,
    frame_html,
    mask,
    mask_frame,
    mask_text,
    mask_uid,
    mask_value,
    masked,
    may_hold_secret,
    sensitive_spans,
    shorten,
)
from memport.problems import json_path, quote

PRIVATE_KEY_BODY = ["MIIEpAIBAAKCAQEA7bq9kfQ2", "Zm9vYmFyYmF6cXV4MTIzNDU2"]
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PRIVATE_KEY_BODY) + "\n-----END RSA PRIVATE KEY-----"

# (kind reported, text holding the secret, the secret's characters that must never be shown)
CASES = [
    ("private key", PRIVATE_KEY, PRIVATE_KEY_BODY),
    ("private key", "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAAb3Bl\\n", ["b3BlbnNzaC1rZXktdjEAAAAAb3Bl"]),
    ("aws access key id", "AKIAIOSFODNN7EXAMPLE", ["AKIAIOSFODNN7EXAMPLE"]),
    ("aws secret key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ["wJalrXUtnFEMI/K7MDENG"]),
    ("aws secret key", "the key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY alone", ["wJalrXUtnFEMI/K7MDENG"]),
    ("api key", "sk-abc12345", ["abc12345"]),
    ("api key", "sk-proj-Ab12Cd34Ef56Gh78Ij90", ["Ab12Cd34Ef56"]),
    ("api key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", ["4eC39HqLyjWD"]),
    ("api key", "pk-9f8e7d6c5b4a", ["9f8e7d6c5b4a"]),
    ("api key", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", ["SyA1b2C3d4E5"]),
    ("github token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", ["abcdefghijklmnop"]),
    ("github token", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", ["11ABCDEFG0123456789"]),
    ("slack token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", ["AbCdEfGhIjKlMnOp"]),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ["dozjgNryP4J3jVmN", "eyJzdWIiOiIx"],
    ),
    ("bearer token", "Authorization: Bearer abcdef123456789", ["abcdef123456789"]),
    ("password", '{"password": "hunter2hunter2"}', ["hunter2hunter2"]),
    ("password", '{\\"db_password\\": \\"hunter2hunter2\\"}', ["hunter2hunter2"]),
    ("password", "db:\n  password: hunter2hunter2\n", ["hunter2hunter2"]),
    ("password", "DB_PASSWORD=hunter2hunter2; next", ["hunter2hunter2"]),
    ("password", "my password is hunter2hunter2.", ["hunter2hunter2"]),
    ("password", "the wifi passcode was: Tr0ub4dor", ["Tr0ub4dor"]),
    ("email", "alice.smith@example.org", ["alice.smith", "smith@example"]),
    ("phone", "+1 415 555 0132", ["415 555 0132"]),
    ("phone", "+14155550132", ["4155550132"]),
]

ORDINARY = [
    "version 1.2.3 released 2025-06-01 12:00:00",
    "uuid 0b7c6a52-1111-4a2b-9c3d-000000000001, mem_AbCdEfGh12345678",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "the password is required",
    "max_tokens: 256, token_count=5",
    "an sk-compatible client",
    "a task-12345678 and a desk-98765432",
    "Alice prefers Python; Rust since June",
]


def test_every_kind_of_secret_is_found_and_masked_to_kind_and_length():
    for kind, text, parts in CASES:
        found = find_sensitive(f"note: {text} (end)")
        assert [k for k, _ in found] == [kind], (text, found)
        shown = mask_text(f"note: {text} (end)")
        for part in parts:
            assert part not in shown and part not in found[0][1], (text, shown)
        assert shown.startswith("note: ") and shown.endswith(" (end)")
    assert mask("hunter2hunter2", "password") == "[masked: password, 14 chars]"


def test_the_cheap_first_look_lets_every_secret_through():
    for _, text, _ in CASES:
        assert may_hold_secret(text), text
    assert not may_hold_secret("Alice prefers Python; 2025-06-01 12:00:00")


def test_ordinary_text_is_left_alone():
    for text in ORDINARY:
        assert find_sensitive(text) == [], text
        assert mask_text(text) == text


def test_a_private_key_block_is_masked_whole_and_the_rest_kept():
    text = f"before\n{PRIVATE_KEY}\nafter"
    assert mask_text(text) == f"before\n[masked: private key, {len(PRIVATE_KEY)} chars]\nafter"


def test_assignments_keep_their_name_and_lose_their_value():
    assert mask_text('{"password": "hunter2hunter2", "user": "bob"}') == '{"password": "[masked: password, 14 chars]", "user": "bob"}'
    assert mask_text("DB_PASSWORD=hunter2hunter2; next") == "DB_PASSWORD=[masked: password, 14 chars]; next"
    assert mask_text("my password is hunter2hunter2.") == "my password is [masked: password, 14 chars]."


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([text for _, text, _ in CASES] + ORDINARY + [" ", "\n", "=", ":", '"', "password is ", "key "]), max_size=8)
)
def test_masking_is_idempotent(pieces):
    once = mask_text("".join(pieces))
    assert mask_text(once) == once


def test_masking_twice_does_not_grow_a_token():
    # the explorer once showed "api_******(21 chars) chars)": masked text masked again
    once = mask_text("api_key=sk-live-abcdefghijklm")
    assert once == "api_key=[masked: api key, 21 chars]" and mask_text(once) == once


def test_json_values_are_masked_recursively_and_secret_fields_whole():
    value = {
        "source": "chat",
        "api_key": 123456789,
        "nested": {"auth_token": ["a", "b"], "note": "call +1 415 555 0132"},
        "AKIAIOSFODNN7EXAMPLE": "a key as a key",
        "tags": ["ok", "sk-abc12345"],
    }
    assert mask_value(value) == {
        "source": "chat",
        "api_key": "[masked: secret, 9 chars]",
        "nested": {"auth_token": "[masked: secret, 10 chars]", "note": "call [masked: phone, 15 chars]"},
        "[masked: aws access key id, 20 chars]": "a key as a key",
        "tags": ["ok", "[masked: api key, 11 chars]"],
    }
    assert mask_value(value, reveal=True) is value


def test_uids_keep_format_and_kind_and_mask_the_identity():
    uid = 'kagura:memories:["persistent","alice@example.org","global","password=hunter2hunter2"]'
    assert mask_uid(uid) == 'kagura:memories:["persistent","[masked: email, 17 chars]","global","password=[masked: password, 14 chars]"]'
    assert mask_uid("tribal:memories:7d3e2a10-0000-4000-8000-000000000002") == "tribal:memories:7d3e2a10-0000-4000-8000-000000000002"
    assert mask_uid(uid, reveal=True) == uid


def test_a_text_cut_outside_its_sensitive_spans_hides_what_the_whole_text_hides():
    # every kind, and a secret only found once its neighbour is masked (the api key before the block)
    texts = [f"note: {text} end" for _, text, _ in CASES] + [f"x sk-abc12345XYZ{PRIVATE_KEY} and bob@example.com"]
    parts = [secret for _, _, secrets in CASES for secret in secrets] + ["abc12345XYZ", "bob@example.com"]
    for text in texts:
        spans = sensitive_spans(text)
        assert spans and all(a < b for a, b in spans), text
        hidden = [part for part in parts if part in text and part not in mask_text(text)]
        for cut in range(len(text) + 1):
            if any(a < cut < b for a, b in spans):
                continue
            shown = mask_text(text[:cut]) + "|" + mask_text(text[cut:])
            assert not [part for part in hidden if part in shown], (text, cut)


def test_shorten_never_cuts_a_masked_token():
    text = "x" * 30 + mask("sk-abc12345", "api key") + "y" * 100
    assert shorten(text, 40) == "x" * 30 + f"… ({len(text)} chars)"
    assert shorten("short", 40) == "short"


def test_frames_hold_raw_values_and_show_them_masked():
    raw = pd.DataFrame(
        {
            "content": pd.Series(["key sk-abc12345", None], dtype="string"),
            "metadata": [{"password": "hunter2hunter2"}, None],
            "extra.api_key": ["plain-looking-value", None],
            "count": [1, 2],
        }
    )
    frame = masked(raw)
    assert frame["content"].iloc[0] == "key sk-abc12345"  # the data is untouched
    for shown in (repr(frame), frame._repr_html_(), repr(frame["content"]), repr(frame.iloc[0]), repr(frame.head(1))):
        assert "abc12345" not in shown and "hunter2" not in shown and "plain-looking-value" not in shown, shown
        assert "[masked: " in shown
    assert '{"password": "[masked: secret, 14 chars]"}' in frame._repr_html_()  # JSON, not a Python dict
    assert "abc12345" in repr(frame.reveal()) and type(frame.reveal()) is pd.DataFrame
    copy = mask_frame(raw)
    assert copy["content"].tolist() == ["key [masked: api key, 11 chars]", pd.NA] and copy["count"].tolist() == [1, 2]


def test_frame_html_escapes_and_masks_column_names_too():
    frame = pd.DataFrame({"<b>sk-abc12345</b>": ["<img src=x onerror=alert(1)>"]})
    html = frame_html(frame)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and "abc12345" not in html
    assert "<b>" not in frame_html(frame, reveal=True)


def test_validation_messages_name_the_field_and_never_echo_a_secret(tmp_path):
    secret = "api_key=sk-live-0123456789abcdefghij"
    src = write_doclea(tmp_path / "d.json", doclea_bundle(memories=[dict(DOCLEA_MEMORY, type=secret, importance="hunter2hunter2")]))
    report = memport.validate(src)
    messages = {p.path: p.message for p in report.problems}
    assert "0123456789abcdef" not in str(messages) and "[masked: " in messages["$.data.memories[0].type"]
    assert quote("password: hunter2hunter2") == "'password: [masked: password, 14 chars]'"
    assert quote(12345678, secret=True) == "'[masked: secret, 8 chars]'"
    assert quote("x" * 100).endswith("... (100 characters)'")
    # a key that is itself a secret is quoted in a path, hence masked
    assert json_path(["metadata", "AKIAIOSFODNN7EXAMPLE", "note"]) == "$.metadata['[masked: aws access key id, 20 chars]'].note"


def test_masked_frames_of_two_reads_compare_as_frames_of_one_class(src):
    first, second = memport.read(src["kagura"]).memories, memport.read(src["kagura"]).memories
    assert type(first) is type(second)
    pd.testing.assert_frame_equal(first, second)


def test_frames_hold_lone_surrogates_with_arrow_installed(tmp_path):
    """JSON may carry lone surrogates; pandas keeps text in Arrow once pyarrow is installed (the test
    extra installs it), which refuses them: memport's frames keep Python strings."""
    import pyarrow  # noqa: F401  (the case this guards: Arrow present)
    from native import KAGURA_PERSISTENT, write_kagura

    bundle = memport.read(write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, key="odd\udc80", value="lone \ud800", user_id="u\udfff")]))
    frame = bundle.memories
    assert list(frame["key"]) == ["odd\udc80"] and list(frame["content"]) == ["lone \ud800"] and list(frame["user_id"]) == ["u\udfff"]
    with pd.option_context("display.max_columns", None, "display.width", 1000):
        assert "lone" in frame._repr_html_() and "lone" in repr(frame)
    assert memport.audit(bundle).by["user"]["user"].tolist() == ["u\udfff"]
