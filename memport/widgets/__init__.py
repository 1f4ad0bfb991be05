"""ipywidgets for notebooks: they render and collect choices; the logic lives in the library.

* :class:`BundleExplorer`: summary plus a tab per record kind, with the filters that kind really
  has (:func:`memport.explore.choices`), paging and sideways scrolling (:func:`memport.explore.browse`);
* :class:`ValidationView`: problems grouped by code, errors first; choosing one shows its record
  whole, the failing path marked (:func:`memport.explore.record_view`);
* :class:`MergeSelector`: one row per conflict with a side-by-side field diff, per-record and
  per-field choices, bulk rules, live counts (:meth:`memport.Plan.preview`), "Save decisions"
  (:func:`memport.save_decisions`) and "Apply" (a dry run first, then the import);
* :class:`ReembedProgress`: re-embedding with a progress bar, time left and a cancel button.

Everything shown passes :mod:`memport.masking` (secrets and personal data masked; ``reveal=True``
shows them in clear) and HTML escaping. Each widget is an ``ipywidgets.VBox``; display it as the
last expression of a cell.
"""

from __future__ import annotations

import html
import json
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..explore import View, browse, choices, date_column, problem_groups, problem_label, record_view, table_html, text_columns
from ..masking import mask_text, mask_uid, mask_value
from ..model import KINDS
from ..planning import Decision, Plan, save_decisions

# a Select lists at most this many problems of one code (the report has them all)
MAX_LISTED = 500


class BundleExplorer(w.VBox):
    """Summary and tabbed, filtered, paged tables of a bundle."""

    def __init__(self, bundle: Any, page_size: int = 25, *, reveal: bool = False):
        self.bundle, self.reveal = bundle, reveal
        self.views: dict[str, View] = {}
        self.outputs: dict[str, w.HTML] = {}
        self.frames = {kind: bundle.frame(kind) for kind in KINDS if getattr(bundle.records, kind)}
        counts = ", ".join(f"{k} {v}" for k, v in bundle.counts().items() if v) or "no records"
        summary = w.HTML(f"<b>{html.escape(bundle.format)} {html.escape(str(bundle.version))}</b>: {html.escape(counts)}")
        tabs = w.Tab(children=[self._tab(kind, page_size) for kind in self.frames])
        for index, kind in enumerate(self.frames):
            tabs.set_title(index, kind)
        self.tabs = tabs
        super().__init__([summary, tabs])

    def _tab(self, kind: str, page_size: int) -> w.VBox:
        frame = self.frames[kind]
        when = date_column(frame)
        view = self.views[kind] = View(size=page_size, date_column=when or "created_at")
        wide = w.Layout(width="auto")
        fields: dict[str, Any] = {}
        if text_columns(frame):
            # searched when Enter is pressed or the box is left, not at every keystroke (a large bundle)
            fields["text"] = w.Text(placeholder="text contains...", description="search", layout=wide, continuous_update=False)
        for choice in choices(frame):
            more = f" (+{choice.more} more)" if choice.more else ""
            fields[choice.column] = w.SelectMultiple(
                options=[(label, value) for label, value, _ in choice.options],
                description=choice.label + more,
                rows=max(2, min(4, len(choice.options))),
                layout=wide,
            )
        if when:
            fields["since"] = w.Text(
                placeholder="2026-01", description=f"{when.removesuffix('_at')} since", layout=wide, continuous_update=False
            )
            fields["until"] = w.Text(placeholder="2026-03", description="until", layout=wide, continuous_update=False)
        for box in fields.values():
            box.style.description_width = "initial"
        output = self.outputs[kind] = w.HTML()
        status = w.Label()
        previous, following = w.Button(description="previous"), w.Button(description="next")

        def refresh(*_: Any) -> None:
            view.equals = {name: list(box.value) for name, box in fields.items() if isinstance(box, w.SelectMultiple) and name != "tags"}
            view.tags = list(fields["tags"].value) if "tags" in fields else []
            view.text = fields["text"].value.strip() if "text" in fields else ""
            view.since = (fields["since"].value.strip() or None) if "since" in fields else None
            view.until = (fields["until"].value.strip() or None) if "until" in fields else None
            try:
                page, matched = browse(frame, view, reveal=self.reveal)
            except Exception as err:  # a bad date in a filter box: say so in place
                status.value = f"filter not understood: {mask_text(str(err))}"
                return
            start = view.page * view.size
            status.value = f"rows {start + 1 if matched else 0}-{min(start + view.size, matched)} of {matched}"
            output.value = table_html(page)

        def move(step: int) -> None:
            view.page = max(0, view.page + step)
            refresh()

        for box in fields.values():
            box.observe(lambda change: (setattr(view, "page", 0), refresh()), names="value")
        previous.on_click(lambda _: move(-1))
        following.on_click(lambda _: move(1))
        refresh()
        filters = w.HBox(list(fields.values()), layout=w.Layout(flex_flow="row wrap"))
        box = w.VBox([filters, w.HBox([previous, following, status]), output])
        box.refresh, box.move, box.fields, box.status = refresh, move, fields, status
        return box


class ValidationView(w.VBox):
    """Problems grouped by code, errors first; selecting a problem shows the record it is about."""

    def __init__(self, report: Any, *, reveal: bool = False):
        self.report, self.reveal = report, reveal
        self.groups = problem_groups(report)
        verdict = "valid" if report.valid else "invalid"
        counts = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        name = f"{html.escape(str(report.format))} {html.escape(str(report.version))}"
        if not self.groups:
            self.header = w.HTML(f"<b>{name}</b>: <b style='color:#2a7d2a'>no problems</b>: the bundle is valid (no errors, no warnings).")
            super().__init__([self.header])
            return
        self.header = w.HTML(f"<b>{name}</b>: <b>{verdict}</b>, {counts} in {len(self.groups)} code(s)")
        self.codes = w.Dropdown(
            options=[(g.label, n) for n, g in enumerate(self.groups)], description="code", layout=w.Layout(width="auto")
        )
        self.problems = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.listed = w.Label()
        self.record = w.HTML()
        self.codes.observe(lambda _: self._show_code(), names="value")
        self.problems.observe(lambda _: self._show_record(), names="value")
        super().__init__([self.header, self.codes, self.listed, self.problems, self.record])
        self._show_code()

    def _show_code(self) -> None:
        group = self.groups[self.codes.value]
        chosen = group.problems[:MAX_LISTED]
        self.listed.value = f"the first {MAX_LISTED} of {len(group.problems)} listed" if len(group.problems) > MAX_LISTED else ""
        self._chosen = chosen
        self.problems.options = [(problem_label(p), index) for index, p in enumerate(chosen)]
        self.problems.value = 0 if chosen else None
        self._show_record()

    def _show_record(self) -> None:
        if self.problems.value is None or not self._chosen:
            self.record.value = ""
            return
        problem = self._chosen[self.problems.value]
        message = html.escape(mask_text(problem.message))
        self.record.value = f"<p><b>{html.escape(problem.severity)}</b> {message}</p>" + record_view(problem, reveal=self.reveal).to_html()


class MergeSelector(w.VBox):
    """Choose what happens to each record that differs from the store, save, and apply."""

    def __init__(self, plan: Plan, decisions_path: str | Path, page_size: int = 20):
        self.plan = plan
        self.path = Path(decisions_path)
        self.details = plan.details(plan.conflicts())
        self.decisions: dict[str, Decision] = {}
        self.choices: dict[str, w.ToggleButtons] = {}
        self.field_boxes: dict[str, dict[str, w.Checkbox]] = {}
        self.counts = w.HTML()
        self.message = w.HTML()
        self.rows = w.VBox([self._row(d) for d in self.details[:page_size]])
        self.rule_tag = w.Text(placeholder="tag (empty: all)", description="tagged")
        self.rule_choice = w.Dropdown(options=["take", "keep", "skip"], value="take", description="choose")
        self.rule_newer = w.Checkbox(value=False, description="only where the incoming one is newer")
        self.apply_rule = w.Button(description="Apply rule")
        self.save = w.Button(description="Save decisions", button_style="info")
        self.apply = w.Button(description="Apply", button_style="warning")
        self.apply_rule.on_click(lambda _: self._rule())
        self.save.on_click(lambda _: self._save())
        self.apply.on_click(lambda _: self._apply())
        rules = w.HBox([self.rule_tag, self.rule_choice, self.rule_newer, self.apply_rule])
        shown = f"{min(page_size, len(self.details))} of {len(self.details)} conflicts shown"
        super().__init__(
            [
                w.HTML(f"<b>{len(self.details)} record(s) differ from the store</b> ({shown})"),
                rules,
                self.rows,
                self.counts,
                w.HBox([self.save, self.apply]),
                self.message,
            ]
        )
        self._update()

    def _row(self, detail: dict[str, Any]) -> w.VBox:
        uid = detail["uid"]
        rows = "".join(
            f"<tr><td>{html.escape(mask_text(k))}</td><td>{html.escape(_shown(k, old))}</td><td>{html.escape(_shown(k, new))}</td></tr>"
            for k, (old, new) in detail["diff"].items()
        )
        diff = w.HTML(f"<b>{html.escape(mask_uid(uid))}</b><table><tr><th>field</th><th>stored</th><th>incoming</th></tr>{rows}</table>")
        choice = self.choices[uid] = w.ToggleButtons(options=["undecided", "keep", "take", "skip", "fields"], value="undecided")
        boxes = self.field_boxes[uid] = {k: w.Checkbox(value=False, description=f"take {mask_text(k)}") for k in detail["diff"]}
        choice.observe(lambda _: self._changed(uid), names="value")
        for box in boxes.values():
            box.observe(lambda _: self._changed(uid), names="value")
        return w.VBox([diff, choice, w.HBox(list(boxes.values()))])

    def _changed(self, uid: str) -> None:
        value = self.choices[uid].value
        if value == "undecided":
            self.decisions.pop(uid, None)
        elif value == "fields":
            picks = {k: ("take" if box.value else "keep") for k, box in self.field_boxes[uid].items()}
            self.decisions[uid] = self.plan.decide(uid, "fields", picks)
        else:
            self.decisions[uid] = self.plan.decide(uid, value)
        self._update()

    def _rule(self) -> None:
        tag = self.rule_tag.value.strip() or None
        for decision in self.plan.rule(self.rule_choice.value, tag=tag, newer=self.rule_newer.value, details=self.details):
            self.decisions[decision.uid] = decision
            if decision.uid in self.choices:
                self.choices[decision.uid].value = decision.choice
        self._update()

    def _update(self) -> None:
        summary = self.plan.preview(self.decisions)
        self.counts.value = "resulting plan: " + ", ".join(f"{k} {v}" for k, v in summary.items())

    def _save(self) -> None:
        save_decisions(self.decisions.values(), self.path)
        self.message.value = f"saved {len(self.decisions)} decision(s) to {html.escape(str(self.path))}"

    def _apply(self) -> None:
        dry = self.plan.replan(self.decisions)
        summary = dry.summary()
        self.message.value = "dry run: " + ", ".join(f"{k} {v}" for k, v in summary.items() if k not in ("dry_run", "backup"))
        result = dry.apply()
        self.result = result
        self.message.value += "<br>applied: " + ", ".join(f"{k} {v}" for k, v in result.items() if k not in ("dry_run",))


def _shown(key: str, value: Any) -> str:
    """One side of a field diff as text: JSON, masked (the whole value under a secret's name)."""
    return json.dumps(mask_value({key: value})[mask_text(key)], ensure_ascii=False)


class ReembedProgress(w.VBox):
    """Re-embed a store in the background, with a progress bar, time left and a cancel button."""

    def __init__(self, store_path: str | Path, model: Any = "all-MiniLM-L6-v2", batch_size: int = 64):
        self.store_path, self.model, self.batch_size = Path(store_path), model, batch_size
        self.bar = w.IntProgress(value=0, min=0, max=1, description="re-embedding")
        self.label = w.Label("not started")
        self.start = w.Button(description="Start")
        self.cancel = w.Button(description="Cancel", disabled=True)
        self.start.on_click(lambda _: self.run())
        self.cancel.on_click(lambda _: self.stop.set())
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.report: Any = None
        super().__init__([w.HBox([self.start, self.cancel]), self.bar, self.label])

    def _progress(self, done: int, total: int) -> None:
        self.bar.max, self.bar.value = max(total, 1), done
        elapsed = time.perf_counter() - self._started
        left = elapsed / done * (total - done) if done else 0.0
        self.label.value = f"{done} of {total} records, about {left:.0f} s left"

    def run(self, background: bool = True) -> None:
        from ..embed import reembed

        self.stop.clear()
        self.start.disabled, self.cancel.disabled = True, False
        self._started = time.perf_counter()

        def work() -> None:
            try:
                self.report = reembed(
                    self.store_path,
                    self.model,
                    batch_size=self.batch_size,
                    progress=False,
                    should_stop=self.stop.is_set,
                    on_progress=self._progress,
                )
                r = self.report
                self.label.value = ("cancelled: " if r.cancelled else "done: ") + f"{r.encoded} encoded, {r.unchanged} unchanged"
            except Exception as err:  # shown in place, never a traceback in the notebook
                self.label.value = f"failed: {err}"
            finally:
                self.start.disabled, self.cancel.disabled = False, True

        if background:
            self.thread = threading.Thread(target=work, daemon=True)
            self.thread.start()
        else:
            work()
