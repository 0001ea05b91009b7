"""Charts for the monthly summary: small bar charts drawn by matplotlib as SVG.

matplotlib is imported inside the functions (it takes most of a second), and only its
object-oriented API is used (a Figure with the Agg canvas, never pyplot), so no global
figure state is shared between requests. The only words in a chart are its labels
(request type, channel and unit names from the administrators' tables, month and day
names) and counts: matplotlib escapes them as XML text, and mathtext is off, so a "$" is
a dollar sign.

Each chart goes into the PDF's HTML as an <img> with the SVG in a ``data:`` URL (the one
kind of URL, besides static files, that the PDF fetcher allows) and its description as
alternative text, which becomes the tagged PDF's /Alt for the figure. As an image, the
SVG is a document of its own: its hundreds of elements and their style attributes stay
out of the page's cascade, which measured about a third faster than inline <svg> and
keeps WeasyPrint from warning about every SVG property it meets in HTML.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.html import format_html
from django.utils.safestring import SafeString

if TYPE_CHECKING:
    from incidents.reports import MonthlySummary, Tally

BAR = "#1d4f73"
HIGHLIGHT = "#b35900"
TEXT = "#1a1a1a"
LABEL_MAX_LENGTH = 38
# The width of an average character of an 8-point DejaVu Sans label, in inches.
LABEL_INCH_PER_CHARACTER = 0.062
# Within the PDF's text column (A4 less the page margins: 6.9 inches).
FULL_WIDTH = 6.8


@dataclass(frozen=True)
class Chart:
    svg: str
    description: str

    @property
    def image(self) -> SafeString:
        """The chart as an <img> element for the PDF's HTML."""
        encoded = base64.b64encode(self.svg.encode()).decode("ascii")
        return format_html(
            '<img class="chart-image" src="data:image/svg+xml;base64,{}" alt="{}">',
            encoded,
            self.description,
        )


def _matplotlib():
    import matplotlib

    # Fixed values, so setting them from several threads is harmless. The salt makes the
    # SVG's generated ids the same on every run. Text stays text (escaped <text>
    # elements): glyph outlines would multiply the elements WeasyPrint draws.
    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "boundaries",
            "svg.fonttype": "none",
            "font.family": "DejaVu Sans",
            "font.size": 8,
            "text.parse_math": False,
        }
    )
    return matplotlib


def short_label(label: str) -> str:
    label = " ".join(label.split())
    if len(label) <= LABEL_MAX_LENGTH:
        return label
    return label[: LABEL_MAX_LENGTH - 1].rstrip() + "…"


def describe(title: str, labels: Sequence[str], values: Sequence[int]) -> str:
    parts = [f"{label}: {value}" for label, value in zip(labels, values, strict=True)]
    return f"{title}. " + "; ".join(parts) + "."


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    horizontal: bool = False,
    highlight: int | None = None,
    width: float = FULL_WIDTH,
    height: float = 2.2,
    label_step: int = 1,
) -> Chart:
    """A bar chart with each bar's count printed on it. ``highlight`` is the index of a
    bar drawn in a second colour (the report's own month in a trend); ``label_step``
    labels every n-th bar of a vertical chart (hours: every third)."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    description = describe(title, labels, values)
    labels = [short_label(label) for label in labels]
    colours = [HIGHLIGHT if index == highlight else BAR for index in range(len(values))]
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(values)))
    # Every bar carries its count, so the value axis (ticks, grid) would only add weight:
    # each element of the SVG costs drawing time in the PDF.
    if horizontal:
        bars = axes.barh(positions, values, color=colours, height=0.65)
        axes.set_yticks(positions, labels=labels, parse_math=False)
        axes.invert_yaxis()  # largest first, from the top
        axes.get_xaxis().set_visible(False)
        axes.spines[["top", "right", "bottom"]].set_visible(False)
        axes.margins(x=0.1, y=0.02)
        # Room on the left for the longest label. Margins set by hand: matplotlib's
        # constrained layout measures every label over and over, and took longer than
        # drawing the chart.
        label_width = LABEL_INCH_PER_CHARACTER * max(len(label) for label in labels) + 0.15
        figure.subplots_adjust(
            left=min(label_width / width, 0.6), right=0.97, bottom=0.02, top=0.98
        )
    else:
        bars = axes.bar(positions, values, color=colours, width=0.7)
        step = label_step if label_step > 0 else 1
        axes.set_xticks(positions[::step], labels=labels[::step], parse_math=False)
        axes.get_yaxis().set_visible(False)
        axes.spines[["top", "right", "left"]].set_visible(False)
        axes.margins(x=0.01, y=0.15)
        figure.subplots_adjust(left=0.01, right=0.99, bottom=0.32 / height, top=0.97)
    axes.tick_params(colors=TEXT, length=0, pad=3)
    axes.bar_label(
        bars,
        labels=[str(value) if value else "" for value in values],
        padding=2,
        color=TEXT,
        # Many narrow bars (the hours) leave room only for smaller numbers.
        fontsize=6 if len(values) > 12 and not horizontal else None,
    )
    output = io.StringIO()
    figure.savefig(output, format="svg", metadata={"Date": None, "Creator": None})
    return Chart(output.getvalue(), description)


def _bars(title: str, tallies: list[Tally], **options) -> Chart | None:
    if not any(tally.count for tally in tallies):
        return None
    return bar_chart(
        title=title,
        labels=[tally.label for tally in tallies],
        values=[tally.count for tally in tallies],
        **options,
    )


def _horizontal_height(rows: int) -> float:
    return 0.45 + 0.22 * max(rows, 1)


def monthly_charts(summary: MonthlySummary) -> dict[str, Chart | None]:
    """Every chart in the monthly summary; None where the month has nothing to draw."""
    trend_labels = [month.short_label for month, _ in summary.trend]
    trend_values = [count for _, count in summary.trend]
    charts: dict[str, Chart | None] = {
        "trend": bar_chart(
            title="Incidents per month over the last 12 months",
            labels=trend_labels,
            values=trend_values,
            highlight=len(trend_values) - 1,
            height=2.0,
        ),
        "request_type": _bars(
            "Incidents by what was asked or done",
            summary.by_request_type,
            horizontal=True,
            height=_horizontal_height(len(summary.by_request_type)),
        ),
        "channel": _bars(
            "Incidents by channel",
            summary.by_channel,
            horizontal=True,
            height=_horizontal_height(len(summary.by_channel)),
        ),
        "weekday": _bars(
            "Incidents by day of the week", summary.by_weekday, width=3.4, height=1.9
        ),
        "hour": _bars(
            "Incidents by hour of the day (local time)",
            summary.by_hour,
            height=1.9,
            label_step=3,
        ),
    }
    if summary.by_unit is not None:
        charts["unit"] = _bars(
            "Incidents by unit",
            summary.by_unit,
            horizontal=True,
            height=_horizontal_height(len(summary.by_unit)),
        )
    return charts
