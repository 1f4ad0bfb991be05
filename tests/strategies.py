"""Hypothesis strategies for native records of each format, as their exporters write them
(shared by the property tests: round trips and conversions)."""

from __future__ import annotations

import json
import string

from hypothesis import strategies as st

# text as the exporters see it: astral characters, NUL, CRLF, line separators, lone surrogates
tricky_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "\U0001f44b", "\ud83d", "a\u0000b", "x\r\ny", "\u2028\u2029", "caf\u00e9", "e\u0301"]
)

floats = st.floats() | st.sampled_from([-0.0, 1.0, 1e-300, 6.02214076e23])

ints = st.integers() | st.sampled_from([2**53 + 1, 2**64, -(2**70)])

json_any = st.recursive(
    st.none() | st.booleans() | ints | floats | tricky_text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(tricky_text, c, max_size=3),
    max_leaves=10,
)

iso = st.datetimes().map(lambda d: d.isoformat())

key_text = st.text(string.ascii_letters + string.digits + "_-:", min_size=1, max_size=12)

kagura_memory = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("memory"),
            "scope": st.just("working"),
            "key": key_text | st.integers(),
            "value": json_any,
            "user_id": key_text,
            "agent_name": key_text | st.none(),
            "exported_at": iso,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("memory"),
            "scope": st.just("persistent"),
            "key": key_text,
            "value": json_any,
            "user_id": key_text,
            "agent_name": key_text | st.none(),
            "created_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
            "updated_at": st.datetimes().map(lambda d: str(d.replace(tzinfo=None))),
            "metadata": json_any,
            "exported_at": iso,
        },
        optional={"tags": json_any},
    ),
)

node_ids = key_text | st.integers(-5, 5)

kagura_node = st.fixed_dictionaries(
    {
        "type": st.just("node"),
        "id": node_ids,
        "node_type": st.sampled_from(["user", "topic", "person"]),
        "data": st.dictionaries(key_text, json_any, max_size=3),
        "exported_at": iso,
    }
)

kagura_edge = st.fixed_dictionaries(
    {
        "type": st.just("edge"),
        "src": node_ids,
        "dst": node_ids,
        "rel_type": st.sampled_from(["related_to", "works_at"]),
        "weight": floats | st.integers(),
        "data": st.dictionaries(key_text, json_any, max_size=3),
        "exported_at": iso,
    }
)

tribal_entry = st.fixed_dictionaries(
    {
        "id": key_text,
        "content": tricky_text,
        "embedding": st.none() | st.lists(floats, max_size=4),
        "source_instance": key_text | st.none(),
        "source_type": st.sampled_from(["user_explicit", "unknown", "BOGUS"]),
        "created_at": iso,
        "updated_at": iso | st.sampled_from(["2026-01", "2025-01-01T00:00:00Z"]),
        "tags": st.lists(tricky_text, max_size=3) | tricky_text | st.none(),
        "context": tricky_text | st.none(),
        "confidence": floats | st.integers() | st.text(max_size=3),
        "supersedes": key_text | st.none(),
        "related_to": st.lists(key_text, max_size=2),
    },
    optional={"extra_key": json_any},
)

# Doclea: values as JSON.parse gives them; integral numbers are ints, as JavaScript writes them
# Python and JavaScript print floats alike between 1e-4 and 1e16 (outside it they differ in
# exponent notation, which test_doclea.py::test_js_number_formatting covers with known JS output)
js_number = st.integers(-(2**53), 2**53) | st.builds(
    lambda f, negative: -f if negative else f,
    st.floats(min_value=1e-4, max_value=1e15).map(lambda f: f + 0.5 if f.is_integer() else f),
    st.booleans(),
)

doclea_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)

doclea_memory = st.fixed_dictionaries(
    {
        "id": key_text,
        "type": st.sampled_from(["decision", "note", "knowledge"]),
        "title": doclea_text,
        "content": doclea_text,
        "importance": js_number | doclea_text,
        "tags": st.lists(doclea_text, max_size=3),
        "relatedFiles": st.lists(doclea_text, max_size=2),
        "experts": st.lists(doclea_text, max_size=2),
        "createdAt": st.integers(0, 2**33),
        "accessedAt": st.integers(0, 2**33),
        "accessCount": st.integers(0, 9),
        "needsReview": st.booleans(),
    },
    optional={"summary": doclea_text, "qdrantId": key_text, "decayRate": js_number, "decayFunction": st.sampled_from(["linear", "none"])},
)

metadata_object = st.dictionaries(key_text, st.integers() | doclea_text | st.booleans(), max_size=3)

doclea_relation = st.fixed_dictionaries(
    {
        "id": key_text,
        "source_id": key_text,
        "target_id": key_text,
        "type": st.sampled_from(["references", "extends"]),
        "weight": js_number,
        "metadata": st.none() | metadata_object.map(lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":"))) | doclea_text,
        "created_at": st.integers(0, 2**45),
    }
)
