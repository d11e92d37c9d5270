"""A PNG of the run over time: success rate and latency p99 per candidate, incidents shaded.

matplotlib is optional (``pip install 'reliant[chart]'``) and imported only here, when
a chart is asked for; the figure is drawn without pyplot, so no GUI backend is involved.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from reliant.simulate.report import CandidateResult, SimulationReport
from reliant.simulate.scenario import format_time

#: Size of the image in inches, and its resolution.
FIGURE_SIZE = (11.0, 9.0)
DPI = 110
_INCIDENT_COLOUR = "#d62728"


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed, so no chart can be drawn."""


def write_chart(report: SimulationReport, path: str | Path) -> Path:
    """Draw the report's timelines into a PNG file.

    Args:
        report: what :func:`~reliant.simulate.simulate` returned.
        path: where to write the PNG.

    Returns:
        The path written.

    Raises:
        ChartUnavailable: matplotlib is missing; the message says how to install it.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import (
            FuncFormatter,
            LogLocator,
            MultipleLocator,
            NullFormatter,
            PercentFormatter,
        )
    except ImportError:
        raise ChartUnavailable("the chart needs matplotlib: pip install 'reliant[chart]'") from None
    scenario = report.scenario
    with_breakers = any(c.breaker_open is not None for c in report.candidates)
    ratios = [3, 3, 2, 1] if with_breakers else [3, 3, 2]
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    axes = figure.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)
    success, latency, load = axes[0], axes[1], axes[2]
    figure.suptitle(
        f"{scenario.name}  (seed {report.seed})", fontsize=13, fontweight="bold", x=0.01, ha="left"
    )
    if scenario.description:
        success.set_title(
            textwrap.fill(scenario.description, 140), fontsize=9, loc="left", color="#444444"
        )
    for colour, candidate in enumerate(report.candidates):
        _plot(axes, candidate, scenario.bucket, f"C{colour}")

    success.set_ylabel("success rate")
    success.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    success.set_ylim(-0.02, 1.04)
    latency.set_ylabel("latency p99")
    p99s = [
        b.latency_p99 for c in report.candidates for b in c.timeline if b.latency_p99 is not None
    ]
    if p99s and min(p99s) > 0 and max(p99s) / min(p99s) > 50:
        latency.set_yscale("log")
        latency.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        latency.yaxis.set_minor_formatter(NullFormatter())
    else:
        latency.set_ylim(bottom=0)
    latency.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _seconds(v)))
    load.set_ylabel("dependency\ncalls/s")
    load.set_ylim(bottom=0)
    if with_breakers:
        axes[3].set_ylabel("breaker\nopen")
        axes[3].set_ylim(0, 1.05)
        axes[3].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))

    bottom = axes[-1]
    bottom.set_xlim(0, scenario.duration)
    bottom.xaxis.set_major_locator(MultipleLocator(_tick_step(scenario.duration)))
    bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_time(v) if v > 0 else "0"))
    bottom.set_xlabel(
        f"time (buckets of {format_time(scenario.bucket)}; "
        "a request counts in the bucket it arrived in)"
    )
    for axis in axes:
        _shade_incidents(axis, report)
        axis.grid(True, alpha=0.3)
        axis.spines[["top", "right"]].set_visible(False)
    _label_incidents(success, report)
    handles, labels = success.get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="outside lower center", ncols=min(3, len(labels)), fontsize=9
    )
    out = Path(path)
    figure.savefig(out, format="png")
    return out


def _plot(axes: Any, candidate: CandidateResult, bucket: float, colour: str) -> None:
    timeline = candidate.timeline
    # A step per bucket, held to the end of the last one.
    xs = [b.start for b in timeline] + [timeline[-1].start + bucket]

    def step(axis: Any, values: list[float], **style: Any) -> None:
        axis.step(xs, [*values, values[-1]], where="post", color=colour, lw=1.5, **style)

    label = f"{candidate.name}: {_percent(candidate.success_rate)} ok"
    if candidate.fallbacks:
        label += f", {_percent(candidate.served_rate)} served"
    label += f", p99 {_seconds(candidate.latency_p99)}, {candidate.amplification or 0:.2f}x load"
    step(axes[0], [_or_nan(b.success_rate) for b in timeline], label=label)
    if candidate.fallbacks:
        served = [
            _or_nan(None if not b.requests else (b.succeeded + b.fallbacks) / b.requests)
            for b in timeline
        ]
        step(axes[0], served, ls="--", alpha=0.8, label=f"{candidate.name}: served, with fallbacks")
    step(axes[1], [_or_nan(b.latency_p99) for b in timeline])
    step(axes[2], [b.attempts / bucket for b in timeline])
    if candidate.breaker_open is not None:
        share = [b.breaker_open / bucket for b in timeline]
        step(axes[3], share)
        axes[3].fill_between(xs, [*share, share[-1]], step="post", alpha=0.15, color=colour, lw=0)


def _tick_step(duration: float) -> float:
    """Return a round tick spacing giving between about 5 and 12 ticks."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200):
        if duration / step <= 12:
            return float(step)
    return 86400.0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _shade_incidents(axis: Any, report: SimulationReport) -> None:
    for incident in report.scenario.dependency.incidents:
        axis.axvspan(incident.start, incident.end, color=_INCIDENT_COLOUR, alpha=0.08, lw=0)


def _label_incidents(axis: Any, report: SimulationReport) -> None:
    for incident in report.scenario.dependency.incidents:
        axis.annotate(
            incident.label,
            xy=((incident.start + incident.end) / 2, 0.5),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="center",
            fontsize=9,
            color=_INCIDENT_COLOUR,
            bbox={
                "boxstyle": "round,pad=0.3",
                "fc": "white",
                "ec": _INCIDENT_COLOUR,
                "alpha": 0.85,
            },
        )


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1.0:
        return f"{value:.3g} s"
    return f"{value * 1000:.3g} ms"
