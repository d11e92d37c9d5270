"""The burn chart's SVG: lines, the shaded incident, escaping, the empty case."""

from __future__ import annotations

import base64
import re

from reliant.server.domains.postmortems import chart

T = 1_800_000_000.0


def _chart(series: list[dict[str, object]]) -> dict[str, object]:
    return {"since": T - 3600, "until": T + 7200, "start": T, "end": T + 1800, "series": series}


def test_one_line_per_slo_broken_at_gaps() -> None:
    """Each SLO is a path (a missing point lifts the pen); the incident is one shaded
    rectangle; the legend names the SLOs; no style attribute, no script."""
    points = [[T - 3600, 1.0], [T, 1.0], [T + 1800, None], [T + 3600, 0.5], [T + 7200, 0.4]]
    svg = chart.svg(_chart([{"name": "a", "points": points}, {"name": "b", "points": points}]))
    assert 2 == svg.count("<path ")
    assert 2 == len(re.findall(r'd="M[^"]*M', svg))  # each broken once
    assert 1 == svg.count('fill-opacity="0.12"')
    assert ">a</text>" in svg
    assert ">b</text>" in svg
    assert "style=" not in svg
    assert "<script" not in svg


def test_names_are_escaped_and_an_empty_chart_says_so() -> None:
    """A name with markup is escaped; without data the chart says there is none."""
    svg = chart.svg(_chart([{"name": "<script>x</script>", "points": []}]))
    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    assert "<script>" not in svg
    assert "no SLO data for this window" in svg


def test_the_scale_covers_overspent_budgets() -> None:
    """A budget overspent to -60 % extends the axis below 0 %; the data URI decodes to a
    fixed-size SVG."""
    svg = chart.svg(_chart([{"name": "a", "points": [[T, 1.0], [T + 3600, -0.6]]}]))
    assert ">-75%</text>" in svg
    uri = chart.data_uri(_chart([]))
    decoded = base64.b64decode(uri.removeprefix("data:image/svg+xml;base64,")).decode()
    assert f'width="{chart.WIDTH}" height="{chart.HEIGHT}"' in decoded


def test_labels_stay_inside_the_drawing() -> None:
    """A budget overspent fifteen times labels its axis -1500 % with room for the sign
    (about 7 units a character left of the plot); an incident ending at the chart's right
    edge is labelled left of its shading."""
    points = [[T - 3600, 1.0], [T + 1800, -15.0]]
    at_the_edge = {"since": T - 3600, "until": T + 1800, "start": T + 1790, "end": T + 1800}
    svg = chart.svg({**at_the_edge, "series": [{"name": "a", "points": points}]})
    assert ">-1500%</text>" in svg
    assert chart.LEFT - 6 >= 7 * len("-1500%")
    [label] = re.findall(r"<text ([^>]*)>incident</text>", svg)
    assert 'text-anchor="end"' in label
    inside = chart.svg(_chart([{"name": "a", "points": points}]))
    [label] = re.findall(r"<text ([^>]*)>incident</text>", inside)
    assert "text-anchor" not in label
