"""Small static charts as inline SVG, drawn with matplotlib, for the HTML of audits.

Why SVG text inside the HTML rather than a JavaScript chart: it renders wherever the HTML does
(JupyterLab offline, VS Code, an exported notebook), needs no extension and no network, and the
same data always gives the same bytes (a fixed ``svg.hashsalt``, no date), which keeps nbval's
output comparison meaningful. Text stays text (``svg.fonttype: none``), escaped by matplotlib's
SVG writer; callers pass labels already masked (:mod:`memport.masking`).

Only ``matplotlib.figure.Figure`` is used, never pyplot: no global figure state, no backend that
a notebook's inline display would pick up and show a second time.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

BAR = "#4c78a8"
WIDTH = 4.6  # inches at 72 points: about 330 px wide, two charts side by side in a notebook
_STYLE = {
    "svg.hashsalt": "memport",
    "svg.fonttype": "none",
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}


def _label(text: Any) -> str:
    # matplotlib reads $...$ as mathematics: a label is plain text, always
    return str(text).replace("$", r"\$")


def _svg(figure: Any) -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(figure)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    # inline in a page: no XML prolog or doctype, and none of matplotlib's page-wide CSS
    # ("*{stroke-linejoin: round}" would restyle every SVG icon of JupyterLab)
    text = text[text.index("<svg") :]
    text = re.sub(r"<style[^>]*>.*?</style>", "", text, flags=re.S)
    return text.replace("<svg ", '<svg class="memport-chart" ', 1)


def bars(labels: Sequence[str], counts: Sequence[int], title: str, *, note: str | None = None) -> str:
    """Horizontal bars, largest first as given, each with its count at its end."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        height = 0.7 + 0.24 * max(len(labels), 1) + (0.25 if note else 0)
        figure = Figure(figsize=(WIDTH, height), layout="constrained")
        ax = figure.add_subplot()
        positions = list(range(len(labels)))
        ax.barh(positions, counts, color=BAR, height=0.7)
        ax.set_yticks(positions, [_label(label) for label in labels])
        ax.invert_yaxis()
        ax.set_title(_label(title))
        top = max(counts, default=0)
        ax.set_xlim(0, max(top * 1.18, 1))
        ax.xaxis.get_major_locator().set_params(integer=True)
        for y, n in zip(positions, counts):
            ax.text(n + top * 0.01, y, str(n), va="center", fontsize=8)
        if note:
            figure.supxlabel(_label(note), fontsize=8, x=0.01, ha="left")
        return _svg(figure)


def timeline(months: Sequence[Any], counts: Sequence[int], title: str, *, note: str | None = None) -> str:
    """Bars per month on a time axis (``months``: the first instant of each month, every month
    between the first and the last present, empty ones included)."""
    import matplotlib
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH * 2, 2.4 + (0.25 if note else 0)), layout="constrained")
        ax = figure.add_subplot()
        # matplotlib's dates are naive: the months are UTC, and said so on the axis
        x = [m.tz_convert(None).to_pydatetime() if getattr(m, "tzinfo", None) else m for m in months]
        ax.bar(x, counts, width=24, align="edge", color=BAR)
        locator = mdates.AutoDateLocator(minticks=3, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("memories")
        ax.set_xlabel("month created (UTC)")
        ax.set_title(_label(title))
        if len(x) == 1:  # one month: give the bar room on both sides
            import datetime as dt

            ax.set_xlim(x[0] - dt.timedelta(days=45), x[0] + dt.timedelta(days=70))
        if note:
            figure.supxlabel(_label(note), fontsize=8, x=0.01, ha="left")
        return _svg(figure)
