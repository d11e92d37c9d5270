"""A postmortem as a document: Markdown or self-contained HTML, both with the burn chart.

The HTML works offline: one inline stylesheet (allowed by the response's CSP through its
hash), the chart as inline SVG, no script. Every user string is escaped — in HTML by the
template's autoescaping, in Markdown as HTML entities (``<``, ``>``, ``&``), since Markdown
renderers pass raw HTML through.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from reliant.server.domains.postmortems import chart, draft
from reliant.server.domains.postmortems.facts import DEFINITIONS
from reliant.server.domains.postmortems.models import PostmortemRow
from reliant.server.web.templating import render_template

#: The export's stylesheet (inline; light and dark).
CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;
padding-bottom:.2rem}table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.muted,.def{color:#59636e}.def{font-size:.85em}
.text{white-space:pre-wrap}.chart{max-width:100%}.badge{display:inline-block;padding:0 .4rem;
border-radius:.6rem;background:#fff1e5;color:#953800;font-size:.85em}
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}
th{background:#161b22}th,td,h2{border-color:#30363d}.muted,.def{color:#9198a1}
.badge{background:#3d2a12;color:#f0b37e}}
""".strip()
#: The Content-Security-Policy of an HTML export: nothing but its own inline stylesheet
#: and data: images.
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Export formats: format → (media type, file extension).
FORMATS = {
    "markdown": ("text/markdown; charset=utf-8", "md"),
    "html": ("text/html; charset=utf-8", "html"),
}
#: The lessons' list sections and their headings.
LESSONS = (
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("got_lucky", "Where we got lucky"),
)


@dataclass(frozen=True, slots=True)
class Figure:
    """A computed figure: label, value as read, definition."""

    label: str
    value: str
    definition: str


def figures(facts: dict[str, Any]) -> list[Figure]:
    """The incident's figures with their definitions, in reading order."""
    if not facts:
        return []
    d = draft.duration
    failed, total = facts.get("requests_failed", 0), facts.get("requests_total", 0)
    return [
        Figure("Duration", d(facts.get("duration")), DEFINITIONS["duration"]),
        Figure("Impact start", draft.when(facts.get("impact_start")), DEFINITIONS["impact_start"]),
        Figure("Time to detect", d(facts.get("time_to_detect")), DEFINITIONS["time_to_detect"]),
        Figure(
            "Time to acknowledge",
            d(facts.get("time_to_acknowledge")),
            DEFINITIONS["time_to_acknowledge"],
        ),
        Figure(
            "Time to mitigate", d(facts.get("time_to_mitigate")), DEFINITIONS["time_to_mitigate"]
        ),
        Figure("Time to resolve", d(facts.get("time_to_resolve")), DEFINITIONS["time_to_resolve"]),
        Figure("Requests failed", f"{failed:,} of {total:,}", DEFINITIONS["requests_failed"]),
    ]


def budget_rows(facts: dict[str, Any]) -> list[dict[str, str]]:
    """One row per counted SLO: consumed, spent of allowed, requests failed, or why not."""
    rows = []
    for b in facts.get("slos", []):
        if b.get("total") is None:
            rows.append({"name": b["name"], "consumed": "—", "spent": "—", "failed": "—",
                         "note": b.get("reason", "")})  # fmt: skip
            continue
        allowed = b.get("allowed") or 0.0
        rows.append(
            {
                "name": b["name"],
                "consumed": draft.percent(b.get("consumed_percent")),
                "spent": f"{b['spent']:,} of {allowed:,.1f} {b['unit']} allowed",
                "failed": f"{b['bad']:,} of {b['total']:,}",
                "note": "" if allowed else "no traffic in the period: the budget is unknown",
            }
        )
    return rows


def filename(row: PostmortemRow, fmt: str) -> str:
    """The download's file name: ``postmortem-<id>-incident-<n>.<ext>``."""
    return f"postmortem-{row.id}-incident-{row.incident_id}.{FORMATS[fmt][1]}"


def _md(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: Any) -> str:
    return _md(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _list(items: list[Any]) -> list[str]:
    return [f"- {_md(i).replace(chr(10), ' ')}" for i in items] or ["_None recorded._"]


def _text(text: str) -> list[str]:
    return [_md(text)] if text.strip() else ["_Not written yet._"]


def markdown(row: PostmortemRow, services: list[str]) -> str:
    """The postmortem as Markdown (GitHub flavour), the chart as a data: image."""
    f = dict(row.facts)
    incident = f.get("incident", {})
    out = [f"# {_md(row.title)}", ""]
    out += ["| | |", "|---|---|"]
    out.append(f"| Incident | #{row.incident_id} {_cell(incident.get('title', ''))} "
               f"({_cell(incident.get('severity', ''))}) |")  # fmt: skip
    out.append(f"| State | {row.state} (version {row.version}) |")
    required = f"yes: {_cell(row.required_reason)}" if row.required else "no"
    out.append(f"| Required | {required} |")
    out.append(f"| Due | {row.due or '—'} |")
    out.append(f"| Services | {_cell(', '.join(services)) or '—'} |")
    out += ["", "## Summary", "", *_text(row.summary), "", "## Impact", "", *_text(row.impact)]
    out += ["", "| Figure | Value | Definition |", "|---|---|---|"]
    out += [f"| {g.label} | {g.value} | {_cell(g.definition)} |" for g in figures(f)]
    out += ["", "### Error budget consumed", ""]
    rows = budget_rows(f)
    if rows:
        out += [
            "| SLO | Budget consumed | Spent | Requests failed | Note |",
            "|---|---|---|---|---|",
        ]
        out += [f"| {_cell(r['name'])} | {r['consumed']} | {r['spent']} | {r['failed']} | "
                f"{_cell(r['note'])} |" for r in rows]  # fmt: skip
    else:
        out.append("_No SLO is linked to the incident or its services._")
    out += ["", f"_{_md(DEFINITIONS['budget_consumed'])}_", ""]
    out += [f"![burn chart]({chart.data_uri(f.get('chart', {}))})", ""]
    out += ["## Root causes and contributing factors", "", *_list(row.root_causes)]
    out += ["", "## Trigger", "", *_text(row.trigger)]
    out += ["", "## Resolution", "", *_text(row.resolution)]
    out += ["", "## Detection", "", *_text(row.detection)]
    out += ["", "## Action items", ""]
    if row.action_items:
        out += ["| Action | Owner | Type | Priority | Due | Ticket | Done |",
                "|---|---|---|---|---|---|---|"]  # fmt: skip
        for a in row.action_items:
            out.append(
                f"| {_cell(a['title'])} | {_cell(a.get('owner') or '—')} | {a['type']} | "
                f"{a['priority']} | {a.get('due') or '—'} | {_cell(a.get('ticket') or '—')} | "
                f"{'yes' if a.get('done') else 'no'} |"
            )
    else:
        out.append("_None recorded._")
    out += ["", "## Lessons learned"]
    for name, heading in LESSONS:
        out += ["", f"### {heading}", "", *_list(getattr(row, name))]
    out += ["", "## Timeline", ""]
    if row.timeline:
        out += ["| Time (UTC) | Entry | Source |", "|---|---|---|"]
        for e in row.timeline:
            pin = " (pinned)" if e.get("pinned") else ""
            out.append(
                f"| {draft.when(e['at'])} | {_cell(e['text'])} | {_cell(e['source'])}{pin} |"
            )
    else:
        out.append("_No entries._")
    runs = f.get("runbook_runs", [])
    if runs:
        out += ["", "### Runbook runs", "", "| Run | Runbook | State | Started | Finished |",
                "|---|---|---|---|---|"]  # fmt: skip
        out += [f"| #{r['id']} | {_cell(r['runbook'])} | {r['state']} | "
                f"{draft.when(r.get('started_at'))} | {draft.when(r.get('finished_at'))} |"
                for r in runs]  # fmt: skip
    out += ["", "## Supporting information", "", *_text(row.supporting_information), ""]
    return "\n".join(out)


def html(row: PostmortemRow, services: list[str]) -> str:
    """The postmortem as one self-contained HTML page (see :data:`CSP`)."""
    f = dict(row.facts)
    return render_template(
        "postmortems/export.html",
        {
            "pm": row,
            "services": services,
            "incident": f.get("incident", {}),
            "figures": figures(f),
            "budgets": budget_rows(f),
            "budget_definition": DEFINITIONS["budget_consumed"],
            "chart": Markup(chart.svg(f.get("chart", {}))),  # built escaping every string
            "runs": f.get("runbook_runs", []),
            "lessons": [(heading, getattr(row, name)) for name, heading in LESSONS],
            "css": Markup(CSS),
            "when": draft.when,
        },
    )
