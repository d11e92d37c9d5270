"""The burn chart of a postmortem as a self-contained SVG: budget remaining of each linked
SLO over the incident window ± 1 h, the incident shaded. Pure, no I/O, no JavaScript.

The SVG uses presentation attributes only (no ``style``), so it passes a Content-Security
-Policy without inline styles; axes and labels are drawn in ``currentColor``, so they follow
the page's text colour (dark mode included). Every string from users is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

#: Size of the drawing (viewBox units).
WIDTH, HEIGHT = 640, 270
#: Margins around the plot: left (y labels), right, top, bottom (x labels and legend).
LEFT, RIGHT, TOP, BOTTOM = 64, 28, 16, 70
#: Width of the word "incident" at the chart's font size, about.
INCIDENT_LABEL_WIDTH = 56
#: One colour per SLO, in order (repeated past the last).
PALETTE = ("#2563eb", "#d97706", "#16a34a", "#9333ea", "#0891b2", "#db2777")
#: The incident's shading.
SHADE = "#dc2626"
#: Candidate spacings of the time axis' ticks, in seconds.
TIME_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
#: At most this many ticks on either axis.
MAX_TICKS = 7
#: SLOs named in the legend (two rows of three).
LEGEND_MAX = 6


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _y_range(values: Sequence[float]) -> tuple[float, float, float]:
    """Lowest and highest percent shown and the tick spacing (0–100 % at least)."""
    low = min([0.0, *values])
    high = max([100.0, *values])
    low = math.floor(low / 25.0) * 25.0
    high = math.ceil(high / 25.0) * 25.0
    step = 25.0 * max(1, math.ceil((high - low) / 25.0 / (MAX_TICKS - 1)))
    return low, high, step


def _time_label(t: float, spacing: int) -> str:
    moment = dt.datetime.fromtimestamp(t, dt.UTC)
    return moment.strftime("%m-%d" if spacing >= 86400 else "%H:%M")


def _time_ticks(since: float, until: float) -> tuple[list[float], int]:
    span = max(until - since, 1.0)
    spacing = next((s for s in TIME_STEPS if span / s <= MAX_TICKS - 1), TIME_STEPS[-1])
    first = math.ceil(since / spacing) * spacing
    ticks = []
    t = float(first)
    while t <= until:
        ticks.append(t)
        t += spacing
    return ticks, spacing


def svg(chart: Mapping[str, Any], *, responsive: bool = True) -> str:
    """The chart as an ``<svg>`` element.

    Args:
        chart: ``since``/``until`` (the x range), ``start``/``end`` (the incident window)
            and ``series``: ``[{"name", "points": [[time, budget remaining fraction or
            null], ...]}]``.
        responsive: ``width="100%"`` (in pages); otherwise a fixed size (an image file).
    """
    since = float(chart.get("since") or 0.0)
    until = float(chart.get("until") or since + 1.0)
    if until <= since:
        until = since + 1.0
    series = list(chart.get("series") or [])
    values = [100.0 * float(p[1]) for s in series for p in s.get("points", ()) if p[1] is not None]
    low, high, ystep = _y_range(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (min(max(t, since), until) - since) / (until - since) * plot_w

    def y(percent: float) -> float:
        return TOP + (high - percent) / (high - low) * plot_h

    size = 'width="100%"' if responsive else f'width="{WIDTH}" height="{HEIGHT}"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" {size} '
        'role="img" aria-labelledby="burn-chart-title" font-family="sans-serif" '
        'font-size="13" class="burn-chart">',
        '<title id="burn-chart-title">Error budget remaining of each linked SLO over the '
        "incident window and one hour either side; the incident is shaded</title>",
    ]
    start, end = chart.get("start"), chart.get("end")
    if isinstance(start, int | float) and isinstance(end, int | float):
        x0, x1 = x(float(start)), x(float(end))
        out.append(
            f'<rect x="{_num(x0)}" y="{TOP}" width="{_num(max(x1 - x0, 1.0))}" '
            f'height="{plot_h}" fill="{SHADE}" fill-opacity="0.12"/>'
        )
        # The label goes inside the plot: left of the shading when it ends near the edge.
        if x0 + 4 + INCIDENT_LABEL_WIDTH <= LEFT + plot_w:
            label = f'x="{_num(x0 + 4)}"'
        else:
            label = f'x="{_num(x0 - 4)}" text-anchor="end"'
        out.append(f'<text {label} y="{TOP + 14}" fill="{SHADE}">incident</text>')
    tick = low
    while tick <= high + 1e-9:
        yy = _num(y(tick))
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{yy}" y2="{yy}" stroke="currentColor" '
            f'stroke-opacity="{0.5 if tick == 0 else 0.15}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{_num(y(tick) + 4)}" text-anchor="end" '
            f'fill="currentColor">{_num(tick)}%</text>'
        )
        tick += ystep
    ticks, spacing = _time_ticks(since, until)
    for t in ticks:
        xx = _num(x(t))
        out.append(
            f'<line x1="{xx}" x2="{xx}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}" '
            'stroke="currentColor" stroke-opacity="0.5"/>'
        )
        out.append(
            f'<text x="{xx}" y="{TOP + plot_h + 18}" text-anchor="middle" '
            f'fill="currentColor">{_time_label(t, spacing)}</text>'
        )
    out.append(
        f'<text x="{WIDTH - RIGHT}" y="{TOP + plot_h + 34}" text-anchor="end" '
        'fill="currentColor" fill-opacity="0.7">UTC</text>'
    )
    drawn = 0
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        path = _path(s.get("points", ()), x, y)
        if path:
            drawn += 1
            out.append(
                f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                'stroke-linejoin="round"/>'
            )
        if i < LEGEND_MAX:
            lx, ly = LEFT + (i % 3) * 195, TOP + plot_h + 42 + (i // 3) * 16
            name = escape(str(s.get("name", "")))
            out.append(
                f'<rect x="{lx}" y="{ly - 5}" width="12" height="3" fill="{colour}"/>'
                f'<text x="{lx + 16}" y="{ly}" fill="currentColor">{name}</text>'
            )
    if len(series) > LEGEND_MAX:
        out.append(
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end" '
            f'fill="currentColor">+{len(series) - LEGEND_MAX} more</text>'
        )
    if not drawn:
        out.append(
            f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
            'fill="currentColor" fill-opacity="0.7">no SLO data for this window</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _path(points: Sequence[Sequence[Any]], x: Any, y: Any) -> str:
    """An SVG path through the points, broken where a value is missing."""
    parts: list[str] = []
    pen_down = False
    for point in points:
        t, value = point[0], point[1]
        if value is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{_num(x(float(t)))} {_num(y(100.0 * value))}")
        pen_down = True
    return " ".join(parts)


def data_uri(chart: Mapping[str, Any]) -> str:
    """The chart as a ``data:image/svg+xml;base64,…`` URI (for Markdown images)."""
    encoded = base64.b64encode(svg(chart, responsive=False).encode()).decode()
    return f"data:image/svg+xml;base64,{encoded}"
