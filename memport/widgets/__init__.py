"""ipywidgets for notebooks: they render and collect choices; the logic lives in the library.

* :class:`BundleExplorer`: summary plus a tab per record kind, with the filters that kind really
  has (:func:`memport.explore.choices`), paging and sideways scrolling (:func:`memport.explore.browse`);
* :class:`ValidationView`: problems grouped by code, errors first; choosing one shows its record
  whole, the failing path marked (:func:`memport.explore.record_view`);
* :class:`MergeSelector`: every conflict of a plan, paged, filtered and sorted, each with both
  sides' fields and times; per-record and per-field choices, rules, decided/undecided counts,
  "Save decisions", "Preview" (the real dry run) and "Apply" (what was previewed): the logic is
  :class:`memport.planning.Review`; :func:`saved_decisions` stops a notebook until some are saved;
* :class:`ReembedProgress`: re-embedding in the background with a bar, the rate and time left
  per batch (:class:`memport.progress.Pace`) and Cancel, which keeps the finished batches.

Everything shown passes :mod:`memport.masking` (secrets and personal data masked; ``reveal=True``
shows them in clear) and HTML escaping. Each widget is an ``ipywidgets.VBox``; display it as the
last expression of a cell.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..errors import MemportError
from ..explore import View, browse, choices, date_column, problem_groups, problem_label, record_view, table_html, text_columns
from ..masking import mask_text, mask_uid
from ..model import KINDS
from ..planning import Plan, StalePlanError, load_decisions
from ..planning.review import NEWER, SORTS, STATUSES, Conflict, Query, Review, shown_value

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


# how a choice looks once made: each its own colour and bold white text, so that the chosen one
# stands out from the grey of the others (ToggleButtons alone only darken it a shade); a decided
# conflict gets a green bar on its left, an undecided one an amber bar
MERGE_CSS = """<style>
.memport-merge .widget-toggle-button.mod-active { color: #fff; font-weight: bold; box-shadow: none; }
.memport-merge .widget-toggle-button.mod-active[data-value="undecided"] { background: #b26a00; }
.memport-merge .widget-toggle-button.mod-active[data-value="keep"] { background: #1565c0; }
.memport-merge .widget-toggle-button.mod-active[data-value="take"] { background: #2e7d32; }
.memport-merge .widget-toggle-button.mod-active[data-value="skip"] { background: #546e7a; }
.memport-merge .widget-toggle-button.mod-active[data-value="fields"] { background: #6a1b9a; }
.memport-merge .memport-conflict { border-left: 6px solid #f0a30a; padding-left: 8px; margin: 6px 0; }
.memport-merge .memport-conflict.memport-decided { border-left-color: #2e7d32; }
.memport-merge .memport-conflict table { border-collapse: collapse; }
.memport-merge .memport-conflict td, .memport-merge .memport-conflict th {
  border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
.memport-merge .memport-newer { background: #e8f5e9; }
</style>"""

CHOICE_OPTIONS = ("undecided", "keep", "take", "skip", "fields")
# a filter's "any" (not None, which a Dropdown shows as no choice at all; not a string, which could
# be a tag)
ANY = ("any",)
FACET_LABELS = {"reason": "reason", "field": "field", "user": "user", "agent": "agent", "tag": "tag", "newer": "newer side"}


class MergeSelector(w.VBox):
    """Decide the records that differ from the store, page by page; save the decisions; preview
    them (the real dry run) and apply what was previewed. The logic is :class:`memport.planning.Review`.

    Decisions already saved in ``decisions_path`` are loaded (those that still fit their records)."""

    def __init__(self, plan: Plan, decisions_path: str | Path, page_size: int = 20):
        self.plan = plan
        self.path = Path(decisions_path)
        loaded = load_decisions(self.path) if self.path.exists() else None
        self.review = Review(plan, loaded)
        self.query = Query(size=page_size)
        self.choices: dict[str, w.ToggleButtons] = {}
        self.field_boxes: dict[str, dict[str, w.Checkbox]] = {}
        self._rows: dict[str, w.VBox] = {}
        self._states: dict[str, w.HTML] = {}
        self._syncing = False
        self.result: dict[str, Any] | None = None

        self.header = w.HTML()
        self.filters = self._filters()
        self.rule_choice = w.Dropdown(
            options=["take", "keep", "skip"], value="take", description="decide as", layout=w.Layout(width="180px")
        )
        self.rule_newer = w.Checkbox(
            value=False, description="take only where the incoming one is newer (else keep)", indent=False, layout=w.Layout(width="auto")
        )
        self.apply_rule = w.Button(description="Decide all matching", tooltip="every conflict the filters match, on every page")
        self.apply_rule.layout.width = "auto"
        self.apply_rule.on_click(lambda _: self._rule())
        self.paging = w.Label()
        self.pagers = [w.Button(description=name) for name in ("previous", "next", "previous", "next")]
        for button, step in zip(self.pagers, (-1, 1, -1, 1)):
            button.on_click(lambda _, step=step: self._move(step))
        self.rows = w.VBox()
        self.counts = w.HTML()
        self.save = w.Button(description="Save decisions", button_style="info")
        self.preview_button = w.Button(description="Preview", button_style="primary", tooltip="the dry run of the decisions as they stand")
        self.apply = w.Button(
            description="Apply", button_style="warning", disabled=True, tooltip="enabled by a preview of the decisions as they stand"
        )
        self.save.on_click(lambda _: self._save())
        self.preview_button.on_click(lambda _: self._preview())
        self.apply.on_click(lambda _: self._apply())
        self.preview = w.HTML()
        self.message = w.HTML()
        if loaded is not None:
            left = len(self.review.not_taken)
            note = f"; {left} no longer fit their records (decide them again)" if left else ""
            self.message.value = f"loaded {len(self.review.decisions)} decision(s) from {html.escape(str(self.path))}{note}"
        for box in self.filters.values():
            box.style.description_width = "initial"
            box.observe(lambda _: self._filtered(), names="value")
        rule = w.HBox(
            [w.HTML("<b>rule</b>:&nbsp;"), self.rule_choice, self.rule_newer, self.apply_rule], layout=w.Layout(flex_flow="row wrap")
        )
        super().__init__(
            [
                w.HTML(MERGE_CSS),
                self.header,
                w.HBox(list(self.filters.values()), layout=w.Layout(flex_flow="row wrap")),
                rule,
                w.HBox([*self.pagers[:2], self.paging]),
                self.rows,
                w.HBox([*self.pagers[2:], self.counts]),
                w.HBox([self.save, self.preview_button, self.apply]),
                self.preview,
                self.message,
            ]
        )
        self.add_class("memport-merge")
        # names for the parts a person reads (and a browser test finds)
        for part, name in (
            (self.header, "header"),
            (self.paging, "paging"),
            (self.counts, "counts"),
            (self.preview, "preview"),
            (self.message, "message"),
        ):
            part.add_class(f"memport-merge-{name}")
        self._show()

    @property
    def previous(self) -> w.Button:
        return self.pagers[0]

    @property
    def following(self) -> w.Button:
        return self.pagers[1]

    def _filters(self) -> dict[str, w.Widget]:
        wide = w.Layout(width="auto")
        fields: dict[str, w.Widget] = {}
        for facet, values in self.review.options().items():
            options = [("any", ANY)] + [(f"{mask_text(str(value))} ({n})", value) for value, n in values]
            fields[facet] = w.Dropdown(options=options, value=ANY, description=FACET_LABELS[facet], layout=wide)
        fields["text"] = w.Text(placeholder="text contains...", description="search", continuous_update=False, layout=wide)
        fields["status"] = w.Dropdown(options=list(STATUSES), value="all", description="show", layout=wide)
        fields["sort"] = w.Dropdown(options=list(SORTS), value="bundle order", description="sort by", layout=wide)
        return fields

    # --- showing -------------------------------------------------------------------------------

    def _filtered(self) -> None:
        if self._syncing:
            return
        for name, box in self.filters.items():
            value = box.value.strip() if name == "text" else box.value
            setattr(self.query, name, None if value is ANY else value)
        self.query.page = 0
        self._show()

    def _move(self, step: int) -> None:
        _, matched = self.review.select(self.query)
        last = max(0, (matched - 1) // self.query.size)
        self.query.page = min(last, max(0, self.query.page + step))
        self._show()

    def _show(self) -> None:
        page, matched = self.review.select(self.query)
        pages = max(1, -(-matched // self.query.size))
        start = self.query.page * self.query.size
        shown = f"conflicts {start + 1}-{start + len(page)} of {matched}" if page else f"none of {matched}"
        self.paging.value = f"{shown} matching (page {self.query.page + 1} of {pages})"
        for n, button in enumerate(self.pagers):
            button.disabled = self.query.page == 0 if n % 2 == 0 else self.query.page + 1 >= pages
        self.rows.children = [self._row(c) for c in page]
        self._update()

    def _row(self, conflict: Conflict) -> w.VBox:
        uid = conflict.uid
        if uid in self._rows:
            self._sync(uid)
            return self._rows[uid]
        choice = self.choices[uid] = w.ToggleButtons(options=list(CHOICE_OPTIONS), value=self.review.choice(uid))
        choice.style.button_width = "auto"
        state = self._states[uid] = w.HTML()
        picks = self.review.picks(uid)
        boxes = self.field_boxes[uid] = {
            k: w.Checkbox(value=picks.get(k) == "take", description=f"take {mask_text(k)}", indent=False) for k in conflict.diff
        }
        choice.observe(lambda _: self._changed(uid), names="value")
        for box in boxes.values():
            box.observe(lambda _: self._changed(uid), names="value")
        fields = w.HBox(list(boxes.values()), layout=w.Layout(flex_flow="row wrap"))
        row = self._rows[uid] = w.VBox([w.HTML(_conflict_html(conflict)), w.HBox([choice, state]), fields])
        row.add_class("memport-conflict")
        row.fields = fields
        self._sync(uid)
        return row

    def _sync(self, uid: str) -> None:
        """Show a conflict's decision as the review holds it (after a rule, a load, an apply)."""
        value = self.review.choice(uid)
        self._syncing = True
        try:
            self.choices[uid].value = value
            picks = self.review.picks(uid)
            for key, box in self.field_boxes[uid].items():
                box.value = picks.get(key) == "take"
        finally:
            self._syncing = False
        row = self._rows[uid]
        row.fields.layout.display = None if value == "fields" else "none"  # per-field picks only for "fields"
        if value == "undecided":
            row.remove_class("memport-decided")
            self._states[uid].value = "<span style='color:#b26a00'>&nbsp;undecided</span>"
        else:
            row.add_class("memport-decided")
            self._states[uid].value = f"<b style='color:#2e7d32'>&nbsp;decided: {html.escape(value)}</b>"

    def _update(self) -> None:
        counts = self.review.counts()
        applied = f", {counts['applied']} applied before" if counts["applied"] else ""
        self.header.value = (
            f"<b>{counts['conflicts']} record(s) differ from the store</b>: {counts['decided']} decided, "
            f"{counts['undecided']} undecided{applied}"
        )
        self.counts.value = f"&nbsp;<b>decided {counts['decided']}</b> of {counts['conflicts']}, <b>undecided {counts['undecided']}</b>"
        self.apply.disabled = not self.review.ready
        if not self.review.ready and self.review.result is None and self.preview.value.startswith("<b>Preview"):
            self.preview.value = "<i>the decisions changed since the preview: Preview again, then Apply</i>"

    # --- deciding ------------------------------------------------------------------------------

    def _changed(self, uid: str) -> None:
        if self._syncing:
            return
        value = self.choices[uid].value
        picks = {k: ("take" if box.value else "keep") for k, box in self.field_boxes[uid].items()}
        self.review.choose(uid, value, picks if value == "fields" else None)
        self._sync(uid)
        self._update()

    def _rule(self) -> None:
        made = self.review.rule(self.rule_choice.value, newer=self.rule_newer.value, among=self.review.matching(self.query))
        for uid in self._rows:
            self._sync(uid)
        self.message.value = f"decided {made} conflict(s) by the rule"
        self._update()

    def _save(self) -> None:
        try:
            saved = self.review.save(self.path)
        except (MemportError, OSError) as err:
            self.message.value = f"<b>not saved</b>: {html.escape(mask_text(str(err)))}"
            return
        self.message.value = f"saved {saved} decision(s) to {html.escape(str(self.path))}"

    def _preview(self) -> None:
        try:
            summary = self.review.preview()
        except MemportError as err:  # a decision whose records changed since, say: said, not a traceback
            self.preview.value = f"<b>no preview</b>: {html.escape(mask_text(str(err)))}"
            self._update()
            return
        self.preview.value = "<b>Preview</b> (the dry run of the decisions as they stand; Apply does exactly this): " + _accounting(summary)
        self.message.value = ""
        self._update()

    def _apply(self) -> None:
        before = len(self.review.applied)
        try:
            result = self.review.apply()
        except StalePlanError as err:
            self.message.value = (
                f"<b style='color:#c62828'>nothing applied</b>: the store changed since the preview ({html.escape(mask_text(str(err)))})"
            )
            self.apply.disabled = True
            return
        except MemportError as err:
            self.message.value = f"<b style='color:#c62828'>nothing applied</b>: {html.escape(mask_text(str(err)))}"
            self._update()
            return
        self.result = result
        self.preview.value = ""
        now = len(self.review.applied) - before
        self.message.value = (
            f"<b style='color:#2e7d32'>applied</b>: {_accounting(result)}, as previewed; "
            f"{now} decided conflict(s) applied ({len(self.review.applied)} in all), {len(self.review.conflicts)} left to decide"
        )
        self._refresh_options()
        self.query.page = 0
        self._show()

    def _refresh_options(self) -> None:
        """The filters' values and counts for the conflicts still offered (a value none has is
        left as the only other choice while chosen, so that the selection stays what it was)."""
        offered = self.review.options()
        self._syncing = True
        try:
            for facet in FACET_LABELS:
                box = self.filters.get(facet)
                if box is None:
                    continue
                values = dict(offered.get(facet, []))
                if box.value is not ANY and box.value not in values:
                    values[box.value] = 0
                box.options = [("any", ANY)] + [(f"{mask_text(str(value))} ({n})", value) for value, n in values.items()]
        finally:
            self._syncing = False


def _conflict_html(conflict: Conflict) -> str:
    """A conflict as a person reads it: uid, why it is a conflict, both times with the newer side
    said and its column marked, its tags, and the fields that differ side by side (masked, escaped)."""
    newer = conflict.newer
    heads = ["field", "stored" + (" (newer)" if newer == "stored" else ""), "incoming" + (" (newer)" if newer == "incoming" else "")]
    marked = {"stored": 1, "incoming": 2}.get(newer or "")

    def row(values: list[str], tag: str = "td") -> str:
        return (
            "<tr>" + "".join(f"<{tag}{' class=memport-newer' if i == marked else ''}>{v}</{tag}>" for i, v in enumerate(values)) + "</tr>"
        )

    lines = "".join(
        row([html.escape(mask_text(k)), html.escape(shown_value(k, old)), html.escape(shown_value(k, new))])
        for k, (old, new) in conflict.diff.items()
    )
    times = (
        f"stored updated {html.escape(_when(conflict.stored_updated))}, incoming updated "
        f"{html.escape(_when(conflict.incoming_updated))}: <b>{html.escape(NEWER[newer])}</b>"
    )
    owner = ", ".join(
        f"{name} {html.escape(mask_text(value))}" for name, value in (("user", conflict.user), ("agent", conflict.agent)) if value
    )
    tags = ", ".join(html.escape(mask_text(t)) for t in conflict.tags)
    about = "; ".join(part for part in (owner, f"tags {tags}" if tags else "") if part)
    return (
        f"<b>{html.escape(mask_uid(conflict.uid))}</b> <i>({html.escape(conflict.reason)})</i><br>{times}"
        + (f"<br>{about}" if about else "")
        + f"<table>{row(heads, 'th')}{lines}</table>"
    )


def _accounting(summary: dict[str, Any]) -> str:
    keys = ("inserted", "updated", "unchanged", "skipped", "conflicts", "invalid", "total")
    return ", ".join(f"{k} {summary[k]}" for k in keys)


def _when(text: str | None) -> str:
    """A stored UTC time as a person reads it: 2025-06-10 16:00:00 UTC ("no time" without one)."""
    if not text:
        return "no time"
    return text.replace("T", " ").removesuffix("Z").removesuffix(".000000") + " UTC"


class DecisionsNotSavedError(MemportError):
    """A notebook reached the cells that apply decisions before a person saved any."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the message says it all
        return [f"{type(self).__name__}: {self}"]


def saved_decisions(path: str | Path) -> Path:
    """``path`` when a decisions file is there; otherwise stop the notebook with one line
    (:class:`DecisionsNotSavedError`; Run All stops at it), so that the cells after a MergeSelector
    never apply decisions nobody made."""
    path = Path(path)
    if not path.exists():
        raise DecisionsNotSavedError(
            f"no decisions saved yet in {path}: decide in the selector above, click Save decisions, "
            "then run the cells below (Run > Run Selected Cell and All Below)"
        )
    return path


class ReembedProgress(w.VBox):
    """Re-embed a store in the background: a bar, the rate (memories/s) and the time left, updated
    after every batch (:func:`memport.reembed` commits each batch before it reports), and Cancel,
    which stops before the next batch and keeps those finished (Start resumes from there)."""

    def __init__(self, store_path: str | Path, model: Any = "all-MiniLM-L6-v2", batch_size: int = 64, *, clock: Any = None):
        self.store_path, self.model, self.batch_size, self.clock = Path(store_path), model, batch_size, clock
        self.bar = w.IntProgress(value=0, min=0, max=1, description="re-embedding", style={"description_width": "initial"})
        self.label = w.Label("not started: click Start")
        self.start = w.Button(description="Start", button_style="primary")
        self.cancel = w.Button(description="Cancel", disabled=True)
        self.start.on_click(lambda _: self.run())
        self.cancel.on_click(lambda _: self._cancel())
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.report: Any = None
        self.readings: list[Any] = []  # every progress report of the current run, as shown
        self.label.add_class("memport-reembed-status")
        super().__init__([w.HBox([self.start, self.cancel]), self.bar, self.label])

    def _cancel(self) -> None:
        self.stop.set()
        self.cancel.disabled = True
        self.label.value = "cancelling: the batch being encoded finishes and is kept"

    def _progress(self, done: int, total: int) -> None:
        reading = self._pace.update(done, total)
        self.readings.append(reading)
        self.bar.max, self.bar.value = max(total, 1), done
        self.label.value = reading.text()

    def run(self, background: bool = True) -> None:
        """Re-embed (in a thread unless ``background`` is False); :meth:`wait` for the report."""
        from ..embed import reembed
        from ..progress import Pace, seconds_text

        self.stop.clear()
        self.readings = []
        self.start.disabled, self.cancel.disabled = True, False
        self.label.value = "starting: loading the model"
        self._pace = Pace(self.clock)

        def work() -> None:
            try:
                self.report = r = reembed(
                    self.store_path,
                    self.model,
                    batch_size=self.batch_size,
                    progress=False,
                    should_stop=self.stop.is_set,
                    on_progress=self._progress,
                )
                done = self.readings[-1].done if self.readings else 0
                took = f"in {seconds_text(r.seconds)}"
                if r.cancelled:
                    self.label.value = (
                        f"cancelled after {done} of {r.total} memories ({r.encoded} encoded, {r.unchanged} unchanged) {took}: "
                        "the finished batches are kept; Start goes on from there"
                    )
                else:
                    self.bar.max, self.bar.value = max(r.total, 1), r.total
                    self.label.value = f"done: {r.total} memories, {r.encoded} encoded, {r.unchanged} unchanged, {took}"
            except Exception as err:  # shown in place, never a traceback in the notebook
                self.label.value = f"failed: {mask_text(str(err))}"
            finally:
                self.start.disabled, self.cancel.disabled = False, True

        if background:
            self.thread = threading.Thread(target=work, daemon=True)
            self.thread.start()
        else:
            work()

    def wait(self, timeout: float | None = None) -> Any:
        """The report of the run, once it ended (None if it failed)."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.report
