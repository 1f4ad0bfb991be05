"""ipywidgets for notebooks: they render and collect choices; the logic lives in the library.

* :class:`BundleExplorer`: summary plus a tab per record kind, with filters and paging
  (:func:`memport.explore.browse`), secrets masked;
* :class:`ValidationView`: problems grouped by code; choosing one shows its record;
* :class:`MergeSelector`: one row per conflict with a side-by-side field diff, per-record and
  per-field choices, bulk rules, live counts (:meth:`memport.Plan.preview`), "Save decisions"
  (:func:`memport.save_decisions`) and "Apply" (a dry run first, then the import);
* :class:`ReembedProgress`: re-embedding with a progress bar, time left and a cancel button.

Each widget is an ``ipywidgets.VBox``; display it as the last expression of a cell.
"""

from __future__ import annotations

import html
import json
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..auditing import mask_text
from ..explore import View, browse, offending_record
from ..model import KINDS
from ..planning import Decision, Plan, save_decisions


def _table(frame: Any) -> str:
    return frame.to_html(index=False, na_rep="", escape=True, max_cols=14)


class BundleExplorer(w.VBox):
    """Summary and tabbed, filtered, paged tables of a bundle."""

    def __init__(self, bundle: Any, page_size: int = 25):
        self.bundle = bundle
        self.views: dict[str, View] = {}
        self.outputs: dict[str, w.HTML] = {}
        self.frames = {kind: bundle.frame(kind) for kind in KINDS if getattr(bundle.records, kind)}
        summary = w.HTML(
            f"<b>{html.escape(bundle.format)} {html.escape(str(bundle.version))}</b>: "
            + ", ".join(f"{k} {v}" for k, v in bundle.counts().items() if v)
        )
        tabs = w.Tab(children=[self._tab(kind, page_size) for kind in self.frames])
        for index, kind in enumerate(self.frames):
            tabs.set_title(index, kind)
        self.tabs = tabs
        super().__init__([summary, tabs])

    def _tab(self, kind: str, page_size: int) -> w.VBox:
        view = self.views[kind] = View(size=page_size)
        frame = self.frames[kind]
        self.search = w.Text(placeholder="text contains...", description="search")
        fields = {
            "text": self.search,
            "users": w.Text(placeholder="user, user", description="user"),
            "agents": w.Text(placeholder="agent", description="agent"),
            "scopes": w.Text(placeholder="scope", description="scope"),
            "types": w.Text(placeholder="type", description="type"),
            "tags": w.Text(placeholder="tag, tag", description="tags"),
            "since": w.Text(placeholder="2026-01", description="since"),
            "until": w.Text(placeholder="2026-03", description="until"),
        }
        output = self.outputs[kind] = w.HTML()
        status = w.Label()
        previous, following = w.Button(description="previous"), w.Button(description="next")

        def refresh(*_: Any) -> None:
            for name, box in fields.items():
                value = box.value.strip()
                if name in ("text", "since", "until"):
                    setattr(view, name, value or ("" if name == "text" else None))
                else:
                    setattr(view, name, [v.strip() for v in value.split(",") if v.strip()])
            try:
                page, matched = browse(frame, view)
            except Exception as err:  # a bad date in a filter box: say so in place
                status.value = f"filter not understood: {err}"
                return
            start = view.page * view.size
            status.value = f"rows {start + 1 if matched else 0}-{min(start + view.size, matched)} of {matched}"
            output.value = _table(page)

        def move(step: int) -> None:
            view.page = max(0, view.page + step)
            refresh()

        for box in fields.values():
            box.observe(lambda change: (setattr(view, "page", 0), refresh()), names="value")
        previous.on_click(lambda _: move(-1))
        following.on_click(lambda _: move(1))
        refresh()
        filters = w.VBox([w.HBox(list(fields.values())[:4]), w.HBox(list(fields.values())[4:])])
        box = w.VBox([filters, w.HBox([previous, following, status]), output])
        box.refresh, box.move, box.fields = refresh, move, fields
        return box


class ValidationView(w.VBox):
    """Problems grouped by code; selecting a problem shows the record it is about."""

    def __init__(self, report: Any):
        self.report = report
        frame = report.to_frame()
        groups = frame.groupby("code", observed=True).size().sort_values(ascending=False) if len(frame) else []
        options = [(f"{code} ({count})", code) for code, count in (groups.items() if len(frame) else [])]
        self.codes = w.Dropdown(options=options, description="code")
        self.problems = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.record = w.HTML()
        header = w.HTML(
            f"<b>{html.escape(str(report.format))} {html.escape(str(report.version))}</b>: "
            f"{'valid' if report.valid else 'invalid'}, {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
        self.codes.observe(lambda _: self._show_code(), names="value")
        self.problems.observe(lambda _: self._show_record(), names="value")
        super().__init__([header, self.codes, self.problems, self.record])
        self._show_code()

    def _show_code(self) -> None:
        chosen = [p for p in self.report.problems if p.code == self.codes.value][:200]
        self.problems.options = [(str(p)[:200], index) for index, p in enumerate(chosen)]
        self._chosen = chosen
        self.problems.value = 0 if chosen else None
        self._show_record()

    def _show_record(self) -> None:
        if self.problems.value is None or not self._chosen:
            self.record.value = ""
            return
        record = offending_record(self._chosen[self.problems.value])
        text = mask_text(json.dumps(record, ensure_ascii=False, indent=2)) if record is not None else "(no single record)"
        self.record.value = f"<pre>{html.escape(text)}</pre>"


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
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(mask_text(json.dumps(old, ensure_ascii=False)))}</td>"
            f"<td>{html.escape(mask_text(json.dumps(new, ensure_ascii=False)))}</td></tr>"
            for k, (old, new) in detail["diff"].items()
        )
        diff = w.HTML(f"<b>{html.escape(uid)}</b><table><tr><th>field</th><th>stored</th><th>incoming</th></tr>{rows}</table>")
        choice = self.choices[uid] = w.ToggleButtons(options=["undecided", "keep", "take", "skip", "fields"], value="undecided")
        boxes = self.field_boxes[uid] = {k: w.Checkbox(value=False, description=f"take {k}") for k in detail["diff"]}
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
