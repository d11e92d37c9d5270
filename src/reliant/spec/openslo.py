"""Read OpenSLO v1 documents as reliant SLO documents. Pure.

Every ``kind: SLO`` becomes a reliant SLO; ``SLI``, ``AlertPolicy``, ``AlertCondition`` and
``DataSource`` documents are resolved by name across all the files read together. What maps:

- ``spec.indicator`` / ``indicatorRef``: a ``ratioMetric`` whose ``good`` or ``bad`` and
  ``total`` come from a Prometheus source (``metricSource.type: Prometheus``, or a
  ``DataSource`` of that type) with ``spec.query`` holding ``{{.window}}``, as Sloth expects.
  ``bad``/``total`` are used as given; with ``good`` the bad events are
  ``(<total>) - (<good>)``, so both queries must return the same labels (aggregate them).
- ``spec.timeWindow[0]``: rolling (``duration: 30d, isRolling: true``) or calendar
  (``duration: 1w`` or ``1M`` with ``calendar.timeZone``; ``startTime`` must fall on a week's
  Monday or a month's first day at midnight, where reliant's calendar periods begin).
- ``spec.budgetingMethod``: ``Occurrences`` or ``Timeslices`` (with the objective's
  ``timeSliceTarget`` and ``timeSliceWindow``).
- ``spec.objectives[0]``: ``target`` (a fraction, times 100) or ``targetPercent``.
- ``spec.alertPolicies``: each policy's one ``burnrate`` condition (``op: gt``/``gte``,
  ``threshold``, ``lookbackWindow``, ``severity: page|ticket``) is one burn-rate window, its
  short window a twelfth of the long unless the condition's annotation
  ``reliant.dev/short-window`` gives it.

reliant's extension (annotations on the SLO's ``metadata``), since OpenSLO v1 has one
window per condition and no multiwindow alerts:

- ``reliant.dev/burn-windows``: a YAML list of paired windows, e.g.
  ``[{severity: page, long: 1h, short: 5m, burn_rate: 14.4}]``, added to the policies' ones;
- ``reliant.dev/min-events``: the minimum-traffic guard (default 10);
- ``reliant.dev/alerting: disabled``: no alerts.

With neither policies nor burn windows, the SLO gets reliant's default (the workbook's) alerts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from reliant._core.durations import parse_duration
from reliant.spec._yaml import Loc, line_of, render
from reliant.spec.documents import Document, Location
from reliant.spec.load import SpecError, validate
from reliant.spec.prometheus import prom_duration

#: The only OpenSLO version read.
API_VERSION = "openslo/v1"
#: Annotation: paired burn-rate windows, a YAML list of {severity, long, short, burn_rate}.
BURN_WINDOWS = "reliant.dev/burn-windows"
#: Annotation of an AlertCondition: the short window paired with its lookbackWindow.
SHORT_WINDOW = "reliant.dev/short-window"
#: Annotation: the minimum events in the long window for an alert to fire.
MIN_EVENTS = "reliant.dev/min-events"
#: Annotation: ``disabled`` turns the SLO's alerts off.
ALERTING = "reliant.dev/alerting"

_SHORTHAND = re.compile(r"^(\d+)([smhdwMQY])$")
_SLO_KEYS = (
    "description",
    "service",
    "indicator",
    "indicatorRef",
    "timeWindow",
    "budgetingMethod",
    "objectives",
    "alertPolicies",
)
_OBJECTIVE_KEYS = (
    "displayName",
    "op",
    "value",
    "target",
    "targetPercent",
    "timeSliceTarget",
    "timeSliceWindow",
    "indicator",
    "indicatorRef",
    "compositeWeight",
)


def is_openslo(data: Any) -> bool:
    """Whether a parsed YAML document is an OpenSLO document (of any version)."""
    return isinstance(data, Mapping) and str(data.get("apiVersion", "")).startswith("openslo/")


@dataclass(frozen=True, slots=True)
class Located:
    """One parsed OpenSLO document and where it was read."""

    data: Mapping[str, Any]
    location: Location
    root: yaml.Node | None = None

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        metadata = self.data.get("metadata")
        return str(metadata.get("name", "")) if isinstance(metadata, Mapping) else ""


class _Unsupported(Exception):
    """One problem at a document's field; collected by :func:`convert`."""

    def __init__(self, doc: Located, loc: Loc, message: str) -> None:
        line = line_of(doc.root, loc) or doc.location.line
        where = Location(doc.location.source, line)
        path = render(loc)
        label = f"OpenSLO {doc.kind or 'document'} {doc.name}".rstrip()
        super().__init__(f"{where}: {label}: {path + ': ' if path else ''}{message}")


def convert(documents: Sequence[Located]) -> list[Document]:
    """Convert the SLOs among OpenSLO ``documents`` into reliant SLO documents.

    Args:
        documents: every OpenSLO document read together (SLOs and what they refer to).

    Raises:
        SpecError: with every problem, each naming the file, the line, the document and the
            field.
    """
    problems: list[str] = []
    index: dict[tuple[str, str], Located] = {}
    for doc in documents:
        if doc.data.get("apiVersion") != API_VERSION:
            problems.append(
                str(
                    _Unsupported(
                        doc,
                        ("apiVersion",),
                        f"only {API_VERSION} is supported, got {doc.data.get('apiVersion')!r}",
                    )
                )
            )
            continue
        index.setdefault((doc.kind, doc.name), doc)
    converted: list[Document] = []
    for doc in documents:
        if doc.kind != "SLO" or doc.data.get("apiVersion") != API_VERSION:
            continue
        try:
            spec = _slo(doc, index)
        except _Unsupported as exc:
            problems.append(str(exc))
            continue
        data = {
            "apiVersion": "reliant.dev/v1",
            "kind": "SLO",
            "metadata": {"name": doc.name},
            "spec": spec,
        }
        try:
            converted.append(validate(data, doc.location))
        except SpecError as exc:
            problems += [f"{p} (converted from OpenSLO SLO {doc.name})" for p in exc.problems]
    if problems:
        raise SpecError(problems)
    return converted


def _mapping(doc: Located, loc: Loc, value: Any, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise _Unsupported(doc, loc, f"should be a mapping, got {type(value).__name__}")
    return value


def _keys(doc: Located, loc: Loc, data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in data:
        if key not in allowed:
            raise _Unsupported(
                doc, (*loc, str(key)), f"unknown key (allowed: {', '.join(allowed)})"
            )


def _slo(doc: Located, index: Mapping[tuple[str, str], Located]) -> dict[str, Any]:
    metadata = _mapping(doc, ("metadata",), doc.data.get("metadata"), required=True)
    spec = _mapping(doc, ("spec",), doc.data.get("spec"), required=True)
    _keys(doc, ("spec",), spec, _SLO_KEYS)
    service = spec.get("service")
    if not isinstance(service, str) or not service:
        raise _Unsupported(doc, ("spec", "service"), "missing: the service the SLO belongs to")
    out: dict[str, Any] = {"service": service, "labels": _labels(doc, metadata)}
    description = spec.get("description") or metadata.get("displayName")
    if description:
        out["description"] = str(description)
    out["sli"] = {"prometheus": _indicator(doc, spec, index)}
    if spec.get("timeWindow") is not None:
        out["window"] = _window(doc, spec["timeWindow"])
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise _Unsupported(
            doc,
            ("spec", "objectives"),
            "give exactly one objective (reliant has no composite or multi-objective SLOs)",
        )
    objective = _mapping(doc, ("spec", "objectives", 0), objectives[0], required=True)
    out.update(_objective(doc, objective, spec.get("budgetingMethod", "Occurrences")))
    out["alerting"] = _alerting(doc, metadata, spec, index)
    return out


def _labels(doc: Located, metadata: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, value in _mapping(doc, ("metadata", "labels"), metadata.get("labels")).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)  # Prometheus labels hold one value
        labels[str(key)] = str(value)
    return labels


def _indicator(
    doc: Located, spec: Mapping[str, Any], index: Mapping[tuple[str, str], Located]
) -> dict[str, str]:
    owner: Located = doc
    loc: Loc = ("spec", "indicator", "spec")
    if spec.get("indicator") is not None:
        indicator = _mapping(doc, ("spec", "indicator"), spec["indicator"])
        sli = _mapping(doc, loc, indicator.get("spec"), required=True)
    elif isinstance(spec.get("indicatorRef"), str):
        found = index.get(("SLI", spec["indicatorRef"]))
        if found is None:
            raise _Unsupported(
                doc,
                ("spec", "indicatorRef"),
                f"no SLI named {spec['indicatorRef']!r} in the files given",
            )
        owner, loc = found, ("spec",)
        sli = _mapping(found, loc, found.data.get("spec"), required=True)
    else:
        raise _Unsupported(doc, ("spec",), "missing: indicator or indicatorRef")
    if "thresholdMetric" in sli:
        raise _Unsupported(
            owner,
            (*loc, "thresholdMetric"),
            "threshold metrics are not supported: reliant counts good and bad events; use a "
            "ratioMetric",
        )
    ratio = _mapping(owner, (*loc, "ratioMetric"), sli.get("ratioMetric"), required=True)
    loc = (*loc, "ratioMetric")
    if "raw" in ratio:
        raise _Unsupported(
            owner,
            (*loc, "raw"),
            "raw (precomputed) ratios are not supported: give good or bad, and total",
        )
    if ("good" in ratio) == ("bad" in ratio) or "total" not in ratio:
        raise _Unsupported(owner, loc, "give total and exactly one of good and bad")
    total = _query(owner, (*loc, "total"), ratio["total"], index)
    if "bad" in ratio:
        return {
            "error_query": _query(owner, (*loc, "bad"), ratio["bad"], index),
            "total_query": total,
        }
    good = _query(owner, (*loc, "good"), ratio["good"], index)
    return {"error_query": f"({total}) - ({good})", "total_query": total}


def _query(doc: Located, loc: Loc, metric: Any, index: Mapping[tuple[str, str], Located]) -> str:
    source = _mapping(doc, (*loc, "metricSource"), _mapping(doc, loc, metric).get("metricSource"))
    kind = source.get("type")
    ref = source.get("metricSourceRef")
    if kind is None and isinstance(ref, str):
        found = index.get(("DataSource", ref))
        if found is not None:
            kind = _mapping(found, ("spec",), found.data.get("spec")).get("type")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        raise _Unsupported(
            doc,
            (*loc, "metricSource", "type"),
            f"only Prometheus sources are supported, got {kind!r}",
        )
    query = _mapping(doc, (*loc, "metricSource", "spec"), source.get("spec")).get("query")
    if not isinstance(query, str) or not query.strip():
        raise _Unsupported(doc, (*loc, "metricSource", "spec", "query"), "missing: a PromQL query")
    return query.strip()


def _shorthand(doc: Located, loc: Loc, value: Any) -> tuple[int, str]:
    match = _SHORTHAND.match(str(value))
    if match is None:
        raise _Unsupported(doc, loc, f"should be a duration like 30d, 4w or 1M, got {value!r}")
    return int(match[1]), match[2]


def _duration(doc: Located, loc: Loc, value: Any) -> str:
    count, unit = _shorthand(doc, loc, value)
    if unit in "MQY":
        raise _Unsupported(
            doc, loc, f"months, quarters and years have no fixed length; use days, got {value!r}"
        )
    return f"{count}{unit}"


def _window(doc: Located, value: Any) -> dict[str, str]:
    loc: Loc = ("spec", "timeWindow")
    if not isinstance(value, list) or len(value) != 1:
        raise _Unsupported(doc, loc, "should be a list of exactly one time window")
    item = _mapping(doc, (*loc, 0), value[0], required=True)
    loc = (*loc, 0)
    calendar = item.get("calendar")
    rolling = item.get("isRolling", calendar is None)
    if rolling:
        if calendar is not None:
            raise _Unsupported(doc, (*loc, "calendar"), "a rolling window has no calendar")
        return {"rolling": _duration(doc, (*loc, "duration"), item.get("duration"))}
    calendar = _mapping(doc, (*loc, "calendar"), calendar)
    count, unit = _shorthand(doc, (*loc, "duration"), item.get("duration"))
    if (count, unit) == (1, "M"):
        period = "month"
    elif (count, unit) in ((1, "w"), (7, "d")):
        period = "week"
    else:
        raise _Unsupported(
            doc, (*loc, "duration"), "calendar windows are one week (1w) or one month (1M)"
        )
    start = calendar.get("startTime")
    if start is not None:
        _check_start(doc, (*loc, "calendar", "startTime"), start, period)
    return {"calendar": period, "timezone": str(calendar.get("timeZone", "UTC"))}


def _check_start(doc: Located, loc: Loc, value: Any, period: str) -> None:
    try:
        start = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise _Unsupported(doc, loc, f"should be a date and time, got {value!r}") from None
    aligned = (start.hour, start.minute, start.second) == (0, 0, 0) and (
        start.weekday() == 0 if period == "week" else start.day == 1
    )
    if not aligned:
        first = "a Monday" if period == "week" else "the first day of a month"
        raise _Unsupported(
            doc, loc, f"reliant's calendar {period}s start at midnight on {first}, got {value!r}"
        )


def _objective(doc: Located, objective: Mapping[str, Any], method: Any) -> dict[str, Any]:
    loc: Loc = ("spec", "objectives", 0)
    _keys(doc, loc, objective, _OBJECTIVE_KEYS)
    for key in ("op", "value"):
        if key in objective:
            raise _Unsupported(doc, (*loc, key), "threshold objectives are not supported")
    for key in ("indicator", "indicatorRef", "compositeWeight"):
        if key in objective:
            raise _Unsupported(doc, (*loc, key), "composite SLOs are not supported")
    out: dict[str, Any] = {}
    if "targetPercent" in objective:
        out["objective"] = objective["targetPercent"]
    elif isinstance(objective.get("target"), int | float):
        out["objective"] = round(float(objective["target"]) * 100, 10)
    else:
        raise _Unsupported(doc, loc, "missing: target (a fraction) or targetPercent")
    if method == "Occurrences":
        return out
    if method != "Timeslices":
        raise _Unsupported(
            doc,
            ("spec", "budgetingMethod"),
            f"only Occurrences and Timeslices are supported, got {method!r}",
        )
    out["budgeting"] = "timeslices"
    slices: dict[str, Any] = {}
    if "timeSliceTarget" in objective:
        slices["target"] = objective["timeSliceTarget"]
    window = objective.get("timeSliceWindow")
    if isinstance(window, int | float) and not isinstance(window, bool):
        slices["duration"] = prom_duration(float(window) * 60)  # a bare number is minutes
    elif window is not None:
        slices["duration"] = _duration(doc, (*loc, "timeSliceWindow"), window)
    out["timeslices"] = slices
    return out


def _alerting(
    doc: Located,
    metadata: Mapping[str, Any],
    spec: Mapping[str, Any],
    index: Mapping[tuple[str, str], Located],
) -> dict[str, Any]:
    annotations = _mapping(doc, ("metadata", "annotations"), metadata.get("annotations"))
    out: dict[str, Any] = {}
    state = annotations.get(ALERTING)
    if state is not None:
        if state not in ("enabled", "disabled"):
            raise _Unsupported(
                doc, ("metadata", "annotations", ALERTING), f"enabled or disabled, got {state!r}"
            )
        out["enabled"] = state == "enabled"
    if MIN_EVENTS in annotations:
        try:
            out["min_events"] = int(str(annotations[MIN_EVENTS]))
        except ValueError:
            raise _Unsupported(
                doc, ("metadata", "annotations", MIN_EVENTS), "should be a whole number"
            ) from None
    windows: list[dict[str, Any]] = []
    policies = spec.get("alertPolicies") or []
    if not isinstance(policies, list):
        raise _Unsupported(doc, ("spec", "alertPolicies"), "should be a list")
    for i, policy in enumerate(policies):
        windows.append(_policy(doc, ("spec", "alertPolicies", i), policy, index))
    if BURN_WINDOWS in annotations:
        windows += _burn_windows(doc, annotations[BURN_WINDOWS])
    if windows:
        out["windows"] = windows
    return out


def _burn_windows(doc: Located, text: Any) -> list[dict[str, Any]]:
    loc: Loc = ("metadata", "annotations", BURN_WINDOWS)
    try:
        value = yaml.safe_load(str(text))
    except yaml.YAMLError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _Unsupported(
            doc,
            loc,
            "should be a YAML list like [{severity: page, long: 1h, short: 5m, burn_rate: 14.4}]",
        )
    return [dict(v) for v in value]


def _policy(
    doc: Located, loc: Loc, policy: Any, index: Mapping[tuple[str, str], Located]
) -> dict[str, Any]:
    owner = doc
    if isinstance(policy, str) or (isinstance(policy, Mapping) and "alertPolicyRef" in policy):
        ref = policy if isinstance(policy, str) else policy["alertPolicyRef"]
        found = index.get(("AlertPolicy", str(ref)))
        if found is None:
            raise _Unsupported(doc, loc, f"no AlertPolicy named {ref!r} in the files given")
        owner, loc, policy = found, (), found.data
    body = _mapping(owner, (*loc, "spec"), _mapping(owner, loc, policy).get("spec"), required=True)
    loc = (*loc, "spec")
    if body.get("alertWhenNoData") is True:
        raise _Unsupported(
            owner, (*loc, "alertWhenNoData"), "alerts on missing data are not supported"
        )
    if body.get("alertWhenBreaching") is False:
        raise _Unsupported(
            owner,
            (*loc, "alertWhenBreaching"),
            "a policy that never alerts on breach cannot be imported",
        )
    conditions = body.get("conditions")
    if not isinstance(conditions, list) or len(conditions) != 1:
        raise _Unsupported(owner, (*loc, "conditions"), "should hold exactly one condition")
    condition = conditions[0]
    loc = (*loc, "conditions", 0)
    if isinstance(condition, Mapping) and "conditionRef" in condition:
        found = index.get(("AlertCondition", str(condition["conditionRef"])))
        if found is None:
            raise _Unsupported(
                owner,
                loc,
                f"no AlertCondition named {condition['conditionRef']!r} in the files given",
            )
        owner, loc, condition = found, (), found.data
    return _condition(owner, loc, _mapping(owner, loc, condition, required=True))


def _condition(doc: Located, loc: Loc, condition: Mapping[str, Any]) -> dict[str, Any]:
    metadata = _mapping(doc, (*loc, "metadata"), condition.get("metadata"))
    body = _mapping(doc, (*loc, "spec"), condition.get("spec"), required=True)
    loc = (*loc, "spec")
    severity = body.get("severity")
    if severity not in ("page", "ticket"):
        raise _Unsupported(doc, (*loc, "severity"), f"should be page or ticket, got {severity!r}")
    rule = _mapping(doc, (*loc, "condition"), body.get("condition"), required=True)
    loc = (*loc, "condition")
    if rule.get("kind", "burnrate") != "burnrate":
        raise _Unsupported(doc, (*loc, "kind"), "only burnrate conditions are supported")
    if rule.get("op") not in ("gt", "gte"):
        raise _Unsupported(
            doc,
            (*loc, "op"),
            f"burn-rate alerts fire above the threshold: use gt, got {rule.get('op')!r}",
        )
    after = rule.get("alertAfter")
    if after is not None and parse_duration(_duration(doc, (*loc, "alertAfter"), after)) > 0:
        raise _Unsupported(
            doc,
            (*loc, "alertAfter"),
            "a delay per condition is not supported (the short window debounces); remove it",
        )
    long = _duration(doc, (*loc, "lookbackWindow"), rule.get("lookbackWindow"))
    annotations = _mapping(doc, (*loc[:-2], "metadata", "annotations"), metadata.get("annotations"))
    short = annotations.get(SHORT_WINDOW)
    if short is None:
        short = prom_duration(parse_duration(long) / 12)
    return {
        "severity": severity,
        "long": long,
        "short": str(short),
        "burn_rate": rule.get("threshold"),
    }


__all__ = [
    "ALERTING",
    "API_VERSION",
    "BURN_WINDOWS",
    "MIN_EVENTS",
    "SHORT_WINDOW",
    "Located",
    "convert",
    "is_openslo",
]
