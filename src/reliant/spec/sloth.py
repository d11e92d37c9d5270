"""Read Sloth ``prometheus/v1`` files as reliant SLO documents. Pure.

A Sloth file declares one service and its SLOs::

    version: prometheus/v1
    service: checkout
    labels: {team: payments}
    slos:
      - name: requests-availability
        objective: 99.9
        sli:
          events:
            error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
            total_query: sum(rate(http_requests_total[{{.window}}]))
        alerting:
          name: CheckoutHighErrorRate
          page_alert: {labels: {severity: critical}}
          ticket_alert: {disable: true}

Each SLO becomes a document of kind SLO named after it, with a ``prometheus`` SLI; the
file's and the SLO's labels merge into ``labels``; ``alerting.name`` becomes the
``alertname`` label (the alert's name); ``min_events`` is 0 (Sloth has no traffic guard);
a disabled page or ticket alert leaves the other severity's workbook windows, written out.
Unsupported: ``sli.raw`` (an error ratio cannot be counted exactly), SLI and SLO plugins,
per-severity annotations. Every problem names the file, the line, the SLO and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from reliant._core.durations import parse_duration
from reliant.spec._yaml import Loc, line_of, render
from reliant.spec.documents import Document, Location
from reliant.spec.load import SpecError, validate
from reliant.spec.prometheus import burn_rate_factor, prom_duration
from reliant.spec.slo_budget import WORKBOOK_WINDOWS

#: The ``version`` of a Sloth SLO file.
VERSION = "prometheus/v1"
#: The SLO period when none is given (``sloth generate --default-slo-period``).
DEFAULT_PERIOD = "30d"

_TOP_KEYS = ("version", "service", "labels", "slo_plugins", "slos")
_SLO_KEYS = ("name", "description", "objective", "plugins", "labels", "sli", "alerting")
_ALERTING_KEYS = ("name", "labels", "annotations", "page_alert", "ticket_alert")
_ALERT_KEYS = ("disable", "labels", "annotations")


def is_sloth(data: Any) -> bool:
    """Whether a parsed YAML document is a Sloth ``prometheus/v1`` file."""
    return isinstance(data, Mapping) and data.get("version") == VERSION


class _Problems:
    """Problems of one Sloth document, each as ``file:line: Sloth <what>: <path>: <message>``."""

    def __init__(self, location: Location, root: yaml.Node | None) -> None:
        self.location = location
        self.root = root
        self.found: list[str] = []

    def add(self, what: str, loc: Loc, message: str) -> None:
        line = line_of(self.root, loc) or self.location.line
        where = Location(self.location.source, line)
        path = render(loc)
        self.found.append(f"{where}: Sloth {what}: {path + ': ' if path else ''}{message}")

    def keys(self, what: str, loc: Loc, data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                self.add(
                    what, (*loc, str(key)), f"unknown key (allowed here: {', '.join(allowed)})"
                )

    def mapping(self, what: str, loc: Loc, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(what, loc, f"should be a mapping, got {type(value).__name__}")
            return {}
        return dict(value)

    def labels(self, what: str, loc: Loc, value: Any) -> dict[str, str]:
        labels = self.mapping(what, loc, value)
        for key, item in labels.items():
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                self.add(what, (*loc, str(key)), f"should be a string, got {type(item).__name__}")
        return {str(k): str(v) for k, v in labels.items()}


def convert(
    data: Any,
    location: Location,
    root: yaml.Node | None = None,
    *,
    period: str = DEFAULT_PERIOD,
) -> list[Document]:
    """Convert one Sloth ``prometheus/v1`` document into reliant SLO documents.

    Args:
        data: the parsed document.
        location: where it starts (file and line).
        root: its YAML node tree, for the line of each problem.
        period: the SLO period (Sloth files carry none; ``sloth generate`` defaults to 30d).

    Raises:
        SpecError: with every problem found, each naming the file, the line, the SLO and
            the field.
        ValueError: ``period`` is not a duration.
    """
    parse_duration(period, option="period")
    problems = _Problems(location, root)
    top = problems.mapping("file", (), data)
    problems.keys("file", (), top, _TOP_KEYS)
    service = top.get("service")
    if not isinstance(service, str) or not service:
        problems.add("file", ("service",), "missing: the service the SLOs belong to")
    common = problems.labels("file", ("labels",), top.get("labels"))
    if _plugins(top.get("slo_plugins")):
        problems.add("file", ("slo_plugins",), "SLO plugins are not supported by reliant")
    slos = top.get("slos")
    if not isinstance(slos, list) or not slos:
        problems.add("file", ("slos",), "should be a non-empty list of SLOs")
        slos = []
    documents: list[Document] = []
    for i, item in enumerate(slos):
        converted = _slo(problems, i, item, str(service or ""), common, period)
        if converted is None:
            continue
        name, spec = converted
        line = line_of(root, ("slos", i)) or location.line
        data_doc = {
            "apiVersion": "reliant.dev/v1",
            "kind": "SLO",
            "metadata": {"name": name},
            "spec": spec,
        }
        try:
            documents.append(validate(data_doc, Location(location.source, line)))
        except SpecError as exc:
            problems.found += [f"{p} (converted from Sloth slos[{i}])" for p in exc.problems]
    if problems.found:
        raise SpecError(problems.found)
    return documents


def _plugins(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value.get("chain"))


def _slo(
    problems: _Problems,
    i: int,
    item: Any,
    service: str,
    common: dict[str, str],
    period: str,
) -> tuple[str, dict[str, Any]] | None:
    loc: Loc = ("slos", i)
    slo = problems.mapping(f"slos[{i}]", loc, item)
    name = slo.get("name")
    what = f"SLO {name}" if isinstance(name, str) and name else f"slos[{i}]"
    before = len(problems.found)
    problems.keys(what, loc, slo, _SLO_KEYS)
    if not isinstance(name, str) or not name:
        problems.add(what, (*loc, "name"), "missing: the SLO's name")
    if _plugins(slo.get("plugins")):
        problems.add(what, (*loc, "plugins"), "SLO plugins are not supported by reliant")
    sli = problems.mapping(what, (*loc, "sli"), slo.get("sli"))
    problems.keys(what, (*loc, "sli"), sli, ("events", "raw", "plugin"))
    events = problems.mapping(what, (*loc, "sli", "events"), sli.get("events"))
    if "raw" in sli:
        problems.add(
            what,
            (*loc, "sli", "raw"),
            "raw error-ratio queries are not supported: reliant counts bad and total events "
            "exactly; give sli.events with error_query and total_query",
        )
    elif "plugin" in sli:
        problems.add(what, (*loc, "sli", "plugin"), "SLI plugins are not supported by reliant")
    elif not events:
        problems.add(what, (*loc, "sli"), "missing: sli.events with error_query and total_query")
    else:
        problems.keys(what, (*loc, "sli", "events"), events, ("error_query", "total_query"))
    alerting = problems.mapping(what, (*loc, "alerting"), slo.get("alerting"))
    problems.keys(what, (*loc, "alerting"), alerting, _ALERTING_KEYS)
    spec_alerting = _alerting(problems, what, (*loc, "alerting"), alerting, period)
    labels = {**common, **problems.labels(what, (*loc, "labels"), slo.get("labels"))}
    if len(problems.found) > before:
        return None
    spec: dict[str, Any] = {
        "service": service,
        "objective": slo.get("objective"),
        "sli": {
            "prometheus": {
                "error_query": events.get("error_query"),
                "total_query": events.get("total_query"),
            }
        },
        "window": {"rolling": period},
        "alerting": spec_alerting,
        "labels": labels,
    }
    if slo.get("description"):
        spec["description"] = slo["description"]
    return str(name), spec


def _alerting(
    problems: _Problems, what: str, loc: Loc, alerting: dict[str, Any], period: str
) -> dict[str, Any]:
    labels = problems.labels(what, (*loc, "labels"), alerting.get("labels"))
    name = alerting.get("name")
    if name is not None:
        if not isinstance(name, str) or not name:
            problems.add(what, (*loc, "name"), "should be the alert's name")
        else:
            labels["alertname"] = name
    spec: dict[str, Any] = {
        "min_events": 0,
        "labels": labels,
        "annotations": problems.labels(what, (*loc, "annotations"), alerting.get("annotations")),
    }
    enabled: list[str] = []
    for severity in ("page", "ticket"):
        key = f"{severity}_alert"
        alert = problems.mapping(what, (*loc, key), alerting.get(key))
        problems.keys(what, (*loc, key), alert, _ALERT_KEYS)
        if alert.get("annotations"):
            problems.add(
                what,
                (*loc, key, "annotations"),
                "per-severity annotations are not supported: reliant gives both alerts "
                "alerting.annotations; move them there",
            )
        spec[f"{severity}_labels"] = problems.labels(
            what, (*loc, key, "labels"), alert.get("labels")
        )
        if not alert.get("disable", False):
            enabled.append(severity)
    if not enabled:
        spec["enabled"] = False
    elif len(enabled) == 1:
        spec["windows"] = workbook_windows(period, enabled[0])
    return spec


def workbook_windows(period: str, severity: str | None = None) -> list[dict[str, Any]]:
    """The workbook's conditions scaled to ``period``, written out as ``alerting.windows``.

    Args:
        period: the SLO period (``30d``).
        severity: only this severity's conditions (both when ``None``).
    """
    seconds = parse_duration(period, option="period")
    return [
        {
            "severity": sev,
            "long": prom_duration(long),
            "short": prom_duration(short),
            "burn_rate": round(burn_rate_factor(pct, seconds, long), 10),
        }
        for sev, long, short, pct in WORKBOOK_WINDOWS
        if severity is None or sev == severity
    ]


__all__ = ["DEFAULT_PERIOD", "VERSION", "convert", "is_sloth", "workbook_windows"]
