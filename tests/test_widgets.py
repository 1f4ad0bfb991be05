"""The widgets, driven as objects (values set, buttons clicked), without a browser: what they
write and what they make the library do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from native import KAGURA_PERSISTENT, KAGURA_WORKING, write_kagura

import memport
from memport.widgets import BundleExplorer, MergeSelector, ReembedProgress, ValidationView

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def merge(tmp_path):
    store = memport.Store(tmp_path / "merge.db")
    memport.import_bundle(EXAMPLES / "diverged" / "laptop.json", store)
    plan = memport.plan(EXAMPLES / "diverged" / "desktop.json", store, strategy="manual")
    yield store, plan, MergeSelector(plan, tmp_path / "decisions.jsonl")
    store.close()


DEADLINE = "tribal:memories:7d3e2a10-0000-4000-8000-000000000002"
COFFEE = "tribal:memories:7d3e2a10-0000-4000-8000-000000000003"


def test_merge_selector_records_choices_and_live_counts(merge, tmp_path):
    _store, _plan, selector = merge
    assert sorted(selector.choices) == [DEADLINE, COFFEE]
    assert "conflicts 2" in selector.counts.value
    selector.choices[DEADLINE].value = "take"
    selector.choices[COFFEE].value = "keep"
    assert "updated 1" in selector.counts.value and "skipped 1" in selector.counts.value and "conflicts 0" in selector.counts.value
    selector.save.click()
    saved = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert [(d["uid"], d["choice"]) for d in saved] == [(DEADLINE, "take"), (COFFEE, "keep")]
    # the same choices a person made when the committed example file was written
    assert saved == [json.loads(line) for line in (EXAMPLES / "diverged" / "decisions.jsonl").read_text().splitlines()]


def test_merge_selector_per_field_picks_and_apply(merge):
    store, _plan, selector = merge
    selector.choices[DEADLINE].value = "fields"
    selector.field_boxes[DEADLINE]["content"].value = True  # take the new text, keep the rest
    selector.choices[COFFEE].value = "skip"
    selector.apply.click()
    assert "dry run:" in selector.message.value and "applied:" in selector.message.value
    assert selector.result["updated"] == 1 and selector.result["inserted"] == 1
    merged = store.native("memories", DEADLINE)
    assert merged["content"] == "Project deadline moved to 22 July" and merged["source_instance"] == "laptop"


def test_merge_selector_bulk_rule(merge):
    _store, _plan, selector = merge
    selector.rule_tag.value = "work"
    selector.rule_newer.value = True
    selector.apply_rule.click()  # take newer for everything tagged work
    assert selector.choices[DEADLINE].value == "take" and selector.choices[COFFEE].value == "undecided"
    selector.rule_tag.value = ""
    selector.rule_choice.value = "keep"
    selector.rule_newer.value = False
    selector.apply_rule.click()
    assert selector.choices[COFFEE].value == "keep"


def test_bundle_explorer_filters_pages_and_masks(tmp_path):
    records = [dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"note {i}") for i in range(30)]
    records.append(dict(KAGURA_PERSISTENT, key="secret", value="token: sk-live-abcdefghijklmnopqrstu", agent_name="thread_2"))
    records.append(dict(KAGURA_WORKING, key="w"))
    bundle = memport.read(write_kagura(tmp_path / "k", records, metadata=None))
    explorer = BundleExplorer(bundle, page_size=10)
    tab = explorer.tabs.children[0]
    table = explorer.outputs["memories"]
    assert tab.status.value == "rows 1-10 of 32"
    tab.children[1].children[1].click()  # next
    assert tab.status.value == "rows 11-20 of 32"
    # Kagura has users, agents and scopes: offered with the values the data holds, most frequent first
    assert [label for label, _ in tab.fields["agent_name"].options] == ["global (31)", "thread_2 (1)"]
    tab.fields["agent_name"].value = ("thread_2",)
    assert tab.status.value == "rows 1-1 of 1"
    assert "[masked: api key, 29 chars]" in table.value and "abcdefghijklmnop" not in table.value  # never in clear
    tab.fields["agent_name"].value = ()
    tab.fields["scope"].value = ("working",)
    assert tab.status.value == "rows 1-1 of 1"
    tab.fields["scope"].value = ()
    tab.fields["text"].value = "abcdefghij"  # part of the secret: what cannot be seen cannot be found
    assert tab.status.value == "rows 0-0 of 0"
    tab.fields["text"].value = "sk-live"
    assert tab.status.value == "rows 0-0 of 0"
    tab.fields["text"].value = "token"
    assert tab.status.value == "rows 1-1 of 1"
    tab.fields["text"].value = ""
    tab.fields["since"].value = "not a date"
    assert tab.status.value.startswith("filter not understood")
    revealed = BundleExplorer(bundle, page_size=50, reveal=True)
    assert "sk-live-abcdefghijklmnopqrstu" in revealed.outputs["memories"].value  # asked for explicitly


def test_bundle_explorer_offers_what_a_doclea_bundle_has():
    explorer = BundleExplorer(memport.read(EXAMPLES / "doclea.json"))
    memories = explorer.tabs.children[0]
    # Doclea has no users, agents or scopes: no such filters; its types and tags, and its times
    assert sorted(memories.fields) == ["since", "tags", "text", "type", "until"]
    assert memories.fields["since"].description == "created since"
    html = explorer.outputs["memories"].value
    header = re.findall(r"<th>([^<]*)</th>", html)
    # every column, none dropped behind "...", what a record is and when first; sideways scrolling
    assert header[:4] == ["id", "type", "title", "created_at"] and "..." not in header and "extra.qdrantId" in header
    assert "overflow-x:auto" in html and "2025-05-31 14:00:00+00:00" in html
    assert "[&quot;src/auth/jwt.ts&quot;]" in html or '["src/auth/jwt.ts"]' in html  # lists and objects as JSON
    relations = explorer.tabs.children[1]
    assert sorted(relations.fields) == ["direction", "kind", "since", "type", "until"]


def test_validation_view_errors_first_the_record_whole_the_path_marked(tmp_path):
    long_value = "quarterly report " * 20
    records = [KAGURA_WORKING, dict(KAGURA_WORKING, key="x", scope="episodic", value=long_value)]
    records += [dict(KAGURA_WORKING, key=f"y{i}", exported_at="2025-06-01T12:00:00Z") for i in range(3)]
    src = write_kagura(tmp_path / "k", records, metadata=None)
    view = ValidationView(memport.validate(src))
    labels = [label for label, _ in view.codes.options]
    assert labels[0] == "error: kagura.memory.scope (1)"  # the error before the three warnings
    assert [label.split(": ")[0] for label in labels] == ["error", "warning", "warning"]
    assert "invalid" in view.header.value and "1 error(s), 4 warning(s)" in view.header.value
    record = view.record.value
    assert "<mark" in record and "&quot;scope&quot;: &quot;episodic&quot;" in record.split("<mark")[1].split("</mark>")[0]
    assert long_value.strip() in record  # whole, not cut at 120 characters
    assert "max-height" in record and "overflow:auto" in record  # scrollable


def test_validation_view_says_when_there_is_nothing_wrong():
    view = ValidationView(memport.validate(EXAMPLES / "kagura"))
    assert "no problems" in view.header.value and view.children == (view.header,)


def test_reembed_progress_runs_and_cancels(tmp_path, monkeypatch, stand_in):
    from memport import embed

    monkeypatch.setattr(embed, "WINDOW", 2)
    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(
        write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"v{i}") for i in range(5)], metadata=None), store
    )
    store.close()
    progress = ReembedProgress(tmp_path / "s.db", stand_in)
    encode = stand_in.encode

    def encode_then_cancel(texts, batch_size):
        progress.cancel.click()  # a person clicks Cancel while the first batch is encoded
        return encode(texts, batch_size)

    stand_in.encode = encode_then_cancel
    progress.run(background=False)
    assert progress.report.cancelled and progress.report.encoded == 2 and progress.label.value.startswith("cancelled")
    assert progress.bar.value == 2 and progress.bar.max == 5
    stand_in.encode = encode
    progress.run(background=True)
    progress.thread.join(30)
    assert progress.report.encoded == 3 and progress.bar.value == 5 and progress.label.value.startswith("done")
