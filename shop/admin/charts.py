"""Bar charts drawn as SVG on the server: no JavaScript, nothing fetched from elsewhere.

Each chart is an image with a title and a description for screen readers
(role="img", aria-labelledby); the page shows the same numbers as a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH_PER_BAR = 56
MIN_WIDTH, MAX_WIDTH = 360, 820
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 16, 40
MAX_AXIS_LABELS = 12


@dataclass(frozen=True)
class Bar:
    """One bar: a short axis label, its value, a full name, and a tone for its colour."""

    label: str
    value: int
    name: str = ""
    tone: str = ""

    @property
    def full_name(self) -> str:
        return self.name or self.label


def nice_ceiling(value: int) -> int:
    """The axis maximum: the next 1, 2 or 5 times a power of ten at or above value."""
    if value <= 0:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def axis_ticks(top: int) -> list[int]:
    """Round steps from 0 to a `nice_ceiling` value: 0, 2, ... 10; 0, 5, ... 20; 0, 1, ... 5."""
    if top <= 5:
        return list(range(top + 1))
    leading = top // 10 ** math.floor(math.log10(top))
    steps = 4 if leading == 2 else 5
    return [top * i // steps for i in range(steps + 1)]


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, description: str) -> Markup:
    """An accessible SVG bar chart of whole numbers."""
    plot_width = min(max(MIN_WIDTH, WIDTH_PER_BAR * max(len(bars), 1)), MAX_WIDTH) - LEFT - RIGHT
    width = LEFT + plot_width + RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((b.value for b in bars), default=0))
    ticks = axis_ticks(top)
    label_every = math.ceil(len(bars) / MAX_AXIS_LABELS) if bars else 1

    def y(value: int) -> float:
        return TOP + plot_height - plot_height * value / top

    parts = [
        f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for tick in ticks:
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{LEFT + plot_width}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick}</text>'
        )
    slot = plot_width / max(len(bars), 1)
    bar_width = slot * 0.7
    for i, bar in enumerate(bars):
        x = LEFT + i * slot + (slot - bar_width) / 2
        centre = LEFT + i * slot + slot / 2
        tone = f" chart-bar-{bar.tone}" if bar.tone else ""
        height = y(0) - y(bar.value)
        parts.append(
            f'<rect class="chart-bar{tone}" x="{x:.1f}" y="{y(bar.value):.1f}" '
            f'width="{bar_width:.1f}" height="{height:.1f}">'
            f"<title>{escape(bar.full_name)}: {bar.value}</title></rect>"
        )
        if bar.value and len(bars) <= MAX_AXIS_LABELS * 2:
            parts.append(
                f'<text class="chart-value" x="{centre:.1f}" y="{y(bar.value) - 4:.1f}" '
                f'text-anchor="middle">{bar.value}</text>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text class="chart-label" x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" x2="{LEFT + plot_width}" '
        f'y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in it is escaped above)
