"""The widgets, driven as objects (values set, buttons clicked), without a browser: what they
write and what they make the library do."""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path

import pytest
from native import KAGURA_PERSISTENT, KAGURA_WORKING, TRIBAL_ENTRY, tribal_bundle, write_kagura, write_tribal

import memport
from memport.planning import PreviewFirstError, Query, Review
from memport.widgets import ANY, BundleExplorer, MergeSelector, ReembedProgress, ValidationView

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.fixture
def merge(tmp_path):
    """The shipped diverged examples: the laptop's export in a store, the desktop's planned against it."""
    store = memport.Store(tmp_path / "merge.db")
    memport.import_bundle(DIVERGED / "laptop.json", store)
    plan = memport.plan(DIVERGED / "desktop.json", store, strategy="manual")
    yield store, plan, MergeSelector(plan, tmp_path / "decisions.jsonl")
    store.close()


DIVERGED = EXAMPLES / "diverged"
DEADLINE = "tribal:memories:7d3e2a10-0000-4000-8000-000000000002"
COFFEE = "tribal:memories:7d3e2a10-0000-4000-8000-000000000003"
COUNTS = ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid", "total")


def accounting(summary: dict) -> dict:
    return {k: summary[k] for k in COUNTS}


def test_a_preview_counts_what_the_import_does_duplicates_included(tmp_path):
    # one record twice in the bundle, both copies differing from the stored one: taken, the first
    # copy updates it and the second is then unchanged (a tally of decisions said "updated 2")
    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(write_tribal(tmp_path / "a.json", tribal_bundle([dict(TRIBAL_ENTRY)])), store)
    changed = dict(TRIBAL_ENTRY, content="Alice prefers Go")
    plan = memport.plan(write_tribal(tmp_path / "b.json", tribal_bundle([changed, dict(changed)])), store, strategy="manual")
    take = plan.decide(plan.conflicts()[0].uid, "take")
    preview = plan.preview({take.uid: take})
    assert accounting(preview) == {"inserted": 0, "updated": 1, "unchanged": 1, "skipped": 0, "conflicts": 0, "invalid": 0, "total": 2}
    assert accounting(plan.replan({take.uid: take}).apply()) == accounting(preview)


def test_a_review_pages_filters_and_sorts_every_conflict(merge):
    _store, plan, _selector = merge
    review = Review(plan)
    assert review.counts() == {"conflicts": 58, "decided": 0, "undecided": 58, "applied": 0}
    pages = [review.select(Query(page=n)) for n in range(4)]
    assert [(len(page), matched) for page, matched in pages] == [(20, 58), (20, 58), (18, 58), (0, 58)]
    everyone = [c.uid for page, _ in pages for c in page]
    assert len(set(everyone)) == 58 and everyone[:2] == [DEADLINE, COFFEE]  # every conflict reachable, in bundle order
    options = review.options()
    assert "user" not in options and "agent" not in options  # Tribal has neither: not offered
    assert options["newer"] == [("incoming is newer", 44), ("same time", 7), ("stored is newer", 7)]
    assert dict(options["field"])["tags"] == 4 and dict(options["tag"])["checked"] == 4
    assert review.select(Query(newer="stored is newer"))[1] == 7
    assert review.select(Query(field="tags", tag="checked"))[1] == 4
    assert [c.uid for c in review.select(Query(text="DEADLINE moved"))[0]] == [DEADLINE]  # what is shown, any case
    assert review.select(Query(reason="no-decision"))[1] == 58
    newest = review.select(Query(sort="newest change first", size=58))[0]
    assert [c.changed for c in newest] == sorted((c.changed for c in newest), reverse=True)
    by_tag = review.select(Query(sort="tag", size=58))[0]
    assert [min(c.tags) for c in by_tag] == sorted(min(c.tags) for c in by_tag)  # by the first of its tags
    review.choose(DEADLINE, "take")
    assert [c.uid for c in review.select(Query(status="decided"))[0]] == [DEADLINE]
    assert review.select(Query(status="undecided"))[1] == 57


def test_a_review_offers_users_and_agents_where_the_format_has_them(tmp_path):
    def memories(value: str) -> list[dict]:
        return [
            dict(KAGURA_PERSISTENT, key=f"k{i}", user_id=user, agent_name=agent, value=f"{value} {i}")
            for i, (user, agent) in enumerate([("alice", "global"), ("alice", "thread_7"), ("bob", "global")])
        ]

    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(write_kagura(tmp_path / "a", memories("before"), metadata=None), store)
    review = Review(memport.plan(write_kagura(tmp_path / "b", memories("after"), metadata=None), store, strategy="manual"))
    assert review.options()["user"] == [("alice", 2), ("bob", 1)]
    assert review.options()["agent"] == [("global", 2), ("thread_7", 1)]
    assert [c.user for c in review.select(Query(user="bob"))[0]] == ["bob"]
    assert [(c.user, c.agent) for c in review.select(Query(agent="global", sort="user"))[0]] == [("alice", "global"), ("bob", "global")]
    selector = MergeSelector(review.plan, tmp_path / "d.jsonl")
    assert "user" in selector.filters and "agent" in selector.filters


def test_apply_does_what_the_preview_of_the_decisions_as_they_stand_showed(merge):
    store, plan, _selector = merge
    review = Review(plan)
    review.choose(DEADLINE, "take")
    with pytest.raises(PreviewFirstError):
        review.apply()  # no preview yet: nothing written
    assert store.native("memories", DEADLINE)["content"] == "Project deadline is 15 July"
    review.preview()
    assert review.ready
    review.choose(COFFEE, "keep")  # a change after the preview: Apply waits for a new one
    assert not review.ready
    review.choose(COFFEE, None)
    assert not review.ready  # even when it restores what was previewed
    preview = review.preview()
    assert accounting(preview) == {"inserted": 1, "updated": 1, "unchanged": 1, "skipped": 0, "conflicts": 57, "invalid": 0, "total": 60}
    assert accounting(review.apply()) == accounting(preview)
    assert store.native("memories", DEADLINE)["content"] == "Project deadline moved to 22 July"


def test_apply_is_refused_when_the_store_changed_since_the_preview(merge, tmp_path):
    store, _plan, selector = merge
    selector.choices[DEADLINE].value = "take"
    selector.preview_button.click()
    assert not selector.apply.disabled
    # meanwhile, someone else imports into the same store
    other = write_tribal(tmp_path / "other.json", tribal_bundle([dict(TRIBAL_ENTRY, id="someone-else")]))
    with memport.Store(tmp_path / "merge.db") as elsewhere:
        memport.import_bundle(other, elsewhere)
    selector.apply.click()
    assert "nothing applied" in selector.message.value and "the store changed since" in selector.message.value
    assert "Traceback" not in selector.message.value and selector.result is None and selector.apply.disabled
    assert store.native("memories", DEADLINE)["content"] == "Project deadline is 15 July"


def test_after_apply_the_applied_conflicts_are_no_longer_offered(merge):
    store, _plan, selector = merge
    selector.choices[DEADLINE].value = "take"
    selector.choices[COFFEE].value = "keep"
    # a third conflict: its new text with the stored record's other fields
    merged = next(c.uid for c in selector.review.conflicts[2:] if "content" in c.diff)
    selector.choices[merged].value = "fields"
    selector.field_boxes[merged]["content"].value = True
    selector.preview_button.click()
    preview = selector.preview.value
    assert "updated 2, unchanged 1, skipped 1, conflicts 55" in preview
    selector.apply.click()
    assert "applied</b>: inserted 1, updated 2, unchanged 1, skipped 1, conflicts 55" in selector.message.value
    assert "3 decided conflict(s) applied (3 in all), 55 left to decide" in selector.message.value
    assert "55 record(s) differ from the store" in selector.header.value
    assert not {DEADLINE, COFFEE, merged} & {c.uid for c in selector.review.conflicts}
    assert selector.paging.value == "conflicts 1-20 of 55 matching (page 1 of 3)"
    assert DEADLINE not in selector.rows.children[0].children[0].value
    row, picked = store.native("memories", merged), selector.review.applied[merged]
    assert picked.fields["content"] == "take" and picked.fields["source_instance"] == "keep"
    assert row["source_instance"] == "laptop" and row["content"] != "" and not row["content"].endswith(("3 March", "Pixel 7"))
    # the next preview counts the applied conflicts as decided (kept), not as conflicts again
    selector.preview_button.click()
    assert "skipped 2, conflicts 55" in selector.preview.value
    # and the decisions saved are all that were made, to replay against the store as it was
    selector.save.click()
    assert [json.loads(line)["uid"] for line in selector.path.read_text().splitlines()] == sorted([DEADLINE, COFFEE, merged])


def test_the_selector_applies_the_plans_vectors_and_clear(tmp_path):
    # the selector applies the plan it was given, as the plan says (its own import dropped both)
    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(write_tribal(tmp_path / "a.json", tribal_bundle([dict(TRIBAL_ENTRY, embedding=None)])), store)
    incoming = write_tribal(tmp_path / "b.json", tribal_bundle([dict(TRIBAL_ENTRY, content="Alice prefers Go")]))
    kept = MergeSelector(memport.plan(incoming, store, strategy="manual", vectors="keep"), tmp_path / "d.jsonl")
    kept.choices[f"tribal:memories:{TRIBAL_ENTRY['id']}"].value = "take"
    kept.preview_button.click()
    kept.apply.click()
    assert kept.result["updated"] == 1 and store.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 1
    cleared = MergeSelector(memport.plan(incoming, store, strategy="manual", clear=True), tmp_path / "d.jsonl")
    assert cleared.review.counts()["conflicts"] == 0  # planned against the store as if emptied
    cleared.preview_button.click()
    cleared.apply.click()
    assert cleared.result["inserted"] == 1 and cleared.result["backup"] is not None  # emptied after a backup
    assert Path(cleared.result["backup"]).exists()


def test_the_buttons_work_from_the_thread_a_kernel_runs_them_on(merge):
    # ipykernel 7 may run a widget's callbacks on a thread of their own (a subshell's), not the one
    # whose cell opened the store: seen in JupyterLab as Apply doing nothing, a sqlite3
    # ProgrammingError in the log console
    store, _plan, selector = merge
    selector.choices[DEADLINE].value = "take"
    for button in (selector.preview_button, selector.apply):
        clicked = threading.Thread(target=button.click)
        clicked.start()
        clicked.join(30)
    assert "applied</b>: inserted 1, updated 1" in selector.message.value
    assert store.native("memories", DEADLINE)["content"] == "Project deadline moved to 22 July"


def test_the_selector_pages_and_a_choice_on_page_two_is_saved(merge, tmp_path):
    _store, _plan, selector = merge
    assert "58 record(s) differ from the store</b>: 0 decided, 58 undecided" in selector.header.value
    assert selector.paging.value == "conflicts 1-20 of 58 matching (page 1 of 3)" and selector.previous.disabled
    selector.following.click()
    assert selector.paging.value == "conflicts 21-40 of 58 matching (page 2 of 3)" and len(selector.rows.children) == 20
    on_page_two = selector.review.conflicts[20].uid  # the 21st, in bundle order
    assert selector._rows[on_page_two] is selector.rows.children[0]
    selector.choices[on_page_two].value = "take"
    assert "decided 1</b> of 58, <b>undecided 57" in selector.counts.value
    selector.save.click()
    saved = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert [(d["uid"], d["choice"]) for d in saved] == [(on_page_two, "take")]
    selector.following.click()
    assert selector.paging.value == "conflicts 41-58 of 58 matching (page 3 of 3)" and selector.following.disabled
    selector.filters["status"].value = "decided"
    assert selector.paging.value == "conflicts 1-1 of 1 matching (page 1 of 1)"


def test_each_choice_is_shown_plainly_and_field_picks_only_for_fields(merge):
    _store, _plan, selector = merge
    row, choice = selector._rows[DEADLINE], selector.choices[DEADLINE]
    assert row.fields.layout.display == "none" and "undecided" in selector._states[DEADLINE].value
    assert "memport-decided" not in row._dom_classes
    choice.value = "fields"
    assert row.fields.layout.display is None and "decided: fields" in selector._states[DEADLINE].value
    assert "memport-decided" in row._dom_classes
    # the chosen button has a colour and weight of its own, not a shade of grey
    assert '.mod-active[data-value="fields"] { background: #6a1b9a; }' in selector.children[0].value
    choice.value = "keep"
    assert row.fields.layout.display == "none"
    # both sides' times, the newer one said and marked
    head = row.children[0].value
    assert "stored updated 2025-06-02 10:00:00 UTC, incoming updated 2025-06-10 16:00:00 UTC: <b>incoming is newer</b>" in head
    assert "<th class=memport-newer>incoming (newer)</th>" in head


def test_the_committed_decisions_are_a_persons_and_load_into_the_selector(merge, tmp_path):
    _store, plan, selector = merge
    selector.choices[DEADLINE].value = "take"
    selector.choices[COFFEE].value = "keep"
    selector.save.click()
    committed = [json.loads(line) for line in (DIVERGED / "decisions.jsonl").read_text().splitlines()]
    saved = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert saved == [d for d in committed if d["uid"] in (DEADLINE, COFFEE)]  # the same choices, the same hashes
    again = MergeSelector(plan, DIVERGED / "decisions.jsonl")  # every committed decision fits the examples
    assert "loaded 58 decision(s)" in again.message.value and "no longer fit" not in again.message.value
    assert "58 decided, 0 undecided" in again.header.value and again.choices[COFFEE].value == "keep"
    again.preview_button.click()
    assert "inserted 1, updated 51, unchanged 1, skipped 7, conflicts 0" in again.preview.value


def test_a_bulk_rule_decides_every_matching_conflict_on_every_page(merge):
    _store, _plan, selector = merge
    selector.filters["tag"].value = "work"
    selector.rule_newer.value = True
    selector.apply_rule.click()  # take the newer side of everything tagged work
    assert selector.message.value == "decided 15 conflict(s) by the rule"
    assert selector.review.choice(DEADLINE) == "take" and selector.choices[DEADLINE].value == "take"
    assert selector.review.choice(COFFEE) == "undecided"  # tagged personal
    selector.filters["tag"].value = ANY
    selector.filters["status"].value = "undecided"
    selector.rule_choice.value = "keep"
    selector.rule_newer.value = False
    selector.apply_rule.click()
    assert selector.review.counts()["undecided"] == 0 and selector.review.choice(COFFEE) == "keep"
    assert selector.review.choice(DEADLINE) == "take"  # decided before, not matched by "undecided"


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
    assert progress.label.value == "not started: click Start"
    encode = stand_in.encode

    def encode_then_cancel(texts, batch_size):
        progress.cancel.click()  # a person clicks Cancel while the first batch is encoded
        return encode(texts, batch_size)

    stand_in.encode = encode_then_cancel
    progress.run(background=False)
    assert progress.report.cancelled and progress.report.encoded == 2
    assert progress.label.value.startswith("cancelled after 2 of 5 memories (2 encoded, 0 unchanged)")
    assert progress.label.value.endswith("the finished batches are kept; Start goes on from there")
    assert progress.bar.value == 2 and progress.bar.max == 5
    with memport.Store(tmp_path / "s.db") as kept:
        assert kept.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 2
    stand_in.encode = encode
    progress.run(background=True)
    report = progress.wait(30)
    assert report.encoded == 3 and report.unchanged == 2 and progress.bar.value == 5
    assert progress.label.value.startswith("done: 5 memories, 3 encoded, 2 unchanged, in ")


def test_reembed_progress_says_rate_and_time_left_after_every_batch(tmp_path, stand_in):
    store = memport.Store(tmp_path / "s.db")
    memport.import_bundle(
        write_kagura(tmp_path / "k", [dict(KAGURA_PERSISTENT, key=f"k{i}", value=f"text {i}") for i in range(6)], metadata=None), store
    )
    store.close()
    seconds = iter(range(100))
    # a clock one second later at each look: once per batch of two
    progress = ReembedProgress(tmp_path / "s.db", stand_in, batch_size=2, clock=lambda: float(next(seconds)))
    progress.run(background=False)
    assert [r.text() for r in progress.readings] == [
        "2 of 6 memories (33%)",  # the first batch came after the model loaded: no pace yet
        "4 of 6 memories (67%), 2.0 memories/s, about 1 s left",
        "6 of 6 memories (100%), 2.0 memories/s, about 0 s left",
    ]
    assert progress.label.value.startswith("done: 6 memories, 6 encoded")


def test_a_pace_is_measured_from_the_first_report_on():
    from memport.progress import Pace, seconds_text

    times = iter([10.0, 11.0, 13.0])  # a model loaded before the first report, then a batch a second or two
    pace = Pace(lambda: next(times))
    first = pace.update(50, 1000)
    assert (first.rate, first.left, first.text()) == (None, None, "50 of 1000 memories (5%)")  # no pace from one look
    second = pace.update(150, 1000)
    assert (second.rate, second.left) == (100.0, 8.5)
    assert pace.update(1000, 1000).text() == "1000 of 1000 memories (100%), 316.7 memories/s, about 0 s left"
    assert [seconds_text(s) for s in (7.4, 125, 3780)] == ["7 s", "2 min 5 s", "1 h 3 min"]


def test_the_merge_notebook_applies_nothing_nobody_decided(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    root = Path(__file__).parent.parent
    shutil.copytree(root / "examples", tmp_path / "examples")
    (tmp_path / "notebooks").mkdir()
    notebook = nbformat.read(root / "notebooks" / "02-merge.ipynb", as_version=4)
    for cell in notebook.cells:  # as a person opens it to run: the committed outputs do not count
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    monkeypatch.delenv("MEMPORT_REPLAY_DECISIONS", raising=False)  # a person's run, not CI's replay
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path / "notebooks")}})
    with pytest.raises(CellExecutionError):
        client.execute()
    ran = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.get("execution_count")]
    stopped = ran[-1]
    assert "MergeSelector(plan, MY_DECISIONS)" in ran[-2].source and "saved_decisions(MY_DECISIONS)" in stopped.source
    error = next(o for o in stopped.outputs if o.output_type == "error")
    # one line saying what to do, no traceback
    assert error.ename == "DecisionsNotSavedError" and len(error.traceback) == 1
    assert "no decisions saved yet in my-decisions.jsonl: decide in the selector above, click Save decisions" in error.traceback[0]
    with memport.Store(tmp_path / "notebooks" / "out" / "merge" / "memport.db", readonly=True) as store:
        assert store.native("memories", DEADLINE)["content"] == "Project deadline is 15 July"  # the laptop's, as imported
        assert store.counts()["memories"] == 59
