"""The widgets, driven as objects (values set, buttons clicked), without a browser: what they
write and what they make the library do."""

from __future__ import annotations

import json
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
    status, table = tab.children[1].children[2], tab.children[2]
    assert status.value == "rows 1-10 of 32"
    tab.children[1].children[1].click()  # next
    assert status.value == "rows 11-20 of 32"
    tab.fields["agents"].value = "thread_2"
    assert status.value == "rows 1-1 of 1"
    assert "******" in table.value and "abcdefghijklmnop" not in table.value  # shown masked, never in clear
    tab.fields["agents"].value = ""
    tab.fields["scopes"].value = "working"
    assert status.value == "rows 1-1 of 1"
    tab.fields["since"].value = "not a date"
    assert status.value.startswith("filter not understood")


def test_validation_view_shows_the_offending_record(tmp_path):
    src = write_kagura(tmp_path / "k", [KAGURA_WORKING, dict(KAGURA_WORKING, key="x", scope="episodic")], metadata=None)
    view = ValidationView(memport.validate(src))
    codes = [value for _, value in view.codes.options]
    assert sorted(codes) == ["kagura.bundle.no-metadata", "kagura.memory.scope"]
    view.codes.value = "kagura.memory.scope"
    assert "&quot;episodic&quot;" in view.record.value and "&quot;x&quot;" in view.record.value  # HTML-escaped JSON of line 2


def test_reembed_progress_runs_and_cancels(tmp_path, monkeypatch, stand_in):
    from memport import embed

    monkeypatch.setattr(embed, "CHUNK", 2)
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
