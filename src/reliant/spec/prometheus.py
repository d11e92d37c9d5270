"""Prometheus recording and alerting rules for SLOs, with Sloth's names and labels. Pure.

Per SLO, three rule groups as ``sloth generate`` writes them (Sloth v0.16):

- ``sloth-slo-sli-recordings-<id>``: ``slo:sli_error:ratio_rate<w>`` for every alert window
  ``w`` and for the period ``P``, labelled ``sloth_id``/``sloth_service``/``sloth_slo``/
  ``sloth_window`` plus the SLO's labels. The period rule is reliant's own: the **exact**
  bad/total ratio of events over ``P`` (the SLI's queries with ``{{.window}}`` = ``P``),
  where Sloth averages the 5m ratios; under time-slice budgeting it is the fraction of bad
  slices over ``P``.
- ``sloth-slo-meta-recordings-<id>``: ``slo:objective:ratio``, ``slo:error_budget:ratio``,
  ``slo:time_period:days``, ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
  ``slo:period_error_budget_remaining:ratio`` and ``sloth_slo_info``.
- ``sloth-slo-alerts-<id>``: a page and a ticket alert, each the ``or`` of its multiwindow
  conditions ``max(r_S > BR*B) and max(r_L > BR*B)``, with a minimum-traffic term when
  ``alerting.min_events > 0``; absent when alerting is disabled.

SLIs on the SDK's own metrics (``ratio``, ``latency``) become queries on
``reliant_calls_total{service, policy, outcome}`` and the
``reliant_call_duration_seconds`` histogram, selected by the ``service`` label the scrape
configuration must add. See ``docs/slo-prometheus.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from reliant._core.durations import parse_duration
from reliant.spec.documents import Document
from reliant.spec.load import SpecError
from reliant.spec.models import API_VERSION, SLOSpec
from reliant.spec.slo_budget import CALENDAR_NOMINAL, DAY, HOUR, WORKBOOK_WINDOWS
from reliant.spec.slo_plan import DEFAULT_ALERT_NAME

#: The SDK's metric name prefix (``reliant.telemetry.prometheus.instrument(namespace=)``).
DEFAULT_NAMESPACE = "reliant"
#: The label naming the service on the SDK's metrics, added by the scrape configuration.
DEFAULT_SERVICE_LABEL = "service"
#: Every call outcome the SDK records.
OUTCOMES = ("success", "failure", "rejected", "timeout")

SLI_METRIC = "slo:sli_error:ratio_rate"
OBJECTIVE_METRIC = "slo:objective:ratio"
BUDGET_METRIC = "slo:error_budget:ratio"
PERIOD_DAYS_METRIC = "slo:time_period:days"
CURRENT_BURN_METRIC = "slo:current_burn_rate:ratio"
PERIOD_BURN_METRIC = "slo:period_burn_rate:ratio"
REMAINING_METRIC = "slo:period_error_budget_remaining:ratio"
INFO_METRIC = "sloth_slo_info"
ID_LABELS = ("sloth_id", "sloth_service", "sloth_slo")
WINDOW_LABEL = "sloth_window"
SEVERITY_LABEL = "sloth_severity"
RESERVED_LABELS = (*ID_LABELS, WINDOW_LABEL)

#: Sloth's window placeholder in a query.
WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAMESPACE = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)?$")
_PERIOD_NOTE = (
    "reliant: exact-count period SLI: bad/total events over the whole period from the "
    "SLI's own queries, not Sloth's average of 5m ratios"
)


class RuleError(ValueError):
    """An SLO that cannot be written as Prometheus rules.

    Attributes:
        field: the key path of the offending field in the document (``spec.labels``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleOptions:
    """How rules are written.

    Attributes:
        namespace: the prefix of the SDK's metrics (``reliant_calls_total``); may be empty.
        service_label: the label carrying the service name on the SDK's metrics.
        page_for: the page alert's ``for`` (none by default: the windows already debounce).
        ticket_for: the ticket alert's ``for``.
    """

    namespace: str = DEFAULT_NAMESPACE
    service_label: str = DEFAULT_SERVICE_LABEL
    page_for: str | None = None
    ticket_for: str | None = None

    def __post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace):
            raise ValueError(
                f"RuleOptions: namespace must be letters, digits and '_' not starting with a "
                f"digit, got {self.namespace!r}"
            )
        if not LABEL_NAME.match(self.service_label) or self.service_label.startswith("__"):
            raise ValueError(
                f"RuleOptions: service_label must be a Prometheus label name, got "
                f"{self.service_label!r}"
            )
        for option in ("page_for", "ticket_for"):
            value = getattr(self, option)
            if value is not None:
                parse_duration(value, option=f"RuleOptions: {option}")


@dataclass(frozen=True, slots=True)
class Window:
    """One multiwindow burn-rate condition, in seconds."""

    severity: str
    long: float
    short: float
    burn_rate: float


@dataclass(frozen=True, slots=True)
class Rule:
    """One recording or alerting rule; ``comment`` is written above it."""

    body: dict[str, Any]
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """A rule group."""

    name: str
    rules: tuple[Rule, ...]


# -- numbers and durations as Sloth (Go) writes them ------------------------------------


def go_float(value: float) -> str:
    """``value`` as Go's ``%g`` writes it: shortest digits, ``1e-05``, ``30`` (not ``30.0``)."""
    sign, digits, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    if text == "0":
        return "0"
    point = len(text) + exponent
    exp10 = point - 1
    minus = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def plain_float(value: float) -> str:
    """``value`` in plain decimal without a needless ``.0`` (Go's ``'f', -1``): ``99.9``."""
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def prom_duration(seconds: float) -> str:
    """``seconds`` as Prometheus writes a duration: ``5m``, ``1d``, ``1w``, ``4w``, ``30d``."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    out = ""
    for unit, size, exact in (
        ("y", 365 * 86_400_000, True),
        ("w", 7 * 86_400_000, True),
        ("d", 86_400_000, False),
        ("h", 3_600_000, False),
        ("m", 60_000, False),
        ("s", 1000, False),
        ("ms", 1, False),
    ):
        if exact and ms % size:
            continue
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def burn_rate_factor(budget_percent: float, period: float, long: float) -> float:
    """Sloth's ``getBurnRateFactor``: the burn rate spending ``budget_percent`` within ``long``."""
    hours = budget_percent * (period / HOUR) / 100.0
    return hours / (long / HOUR)


def period_seconds(spec: SLOSpec) -> float:
    """The SLO's period in seconds; calendar periods as their nominal length."""
    window = spec.window
    if window.rolling is not None:
        return parse_duration(window.rolling, option="window.rolling")
    return CALENDAR_NOMINAL[str(window.calendar)]


def alert_windows(spec: SLOSpec) -> tuple[Window, ...]:
    """The SLO's conditions: ``alerting.windows`` as given, else the workbook's, scaled."""
    given = spec.alerting.windows
    if given:
        return tuple(
            Window(
                w.severity,
                parse_duration(w.long, option="long"),
                parse_duration(w.short, option="short"),
                w.burn_rate,
            )
            for w in given
        )
    period = period_seconds(spec)
    return tuple(
        Window(severity, long, short, burn_rate_factor(pct, period, long))
        for severity, long, short, pct in WORKBOOK_WINDOWS
    )


# -- SLI queries -------------------------------------------------------------------------


def _string(value: str) -> str:
    return json.dumps(value)


def _selector(labels: dict[str, str]) -> str:
    """Sloth's label filter: ``{a="1", b="2"}``, keys sorted."""
    return "{" + ", ".join(f"{k}={_string(v)}" for k, v in sorted(labels.items())) + "}"


def sli_queries(spec: SLOSpec, options: RuleOptions) -> tuple[str, str]:
    """The SLI's bad-events and all-events queries, with Sloth's ``{{.window}}`` placeholder.

    A latency SLI counting only some outcomes selects them on the duration histogram's
    ``outcome`` label.
    """
    sli = spec.sli
    if sli.prometheus is not None:
        return sli.prometheus.error_query.strip(), sli.prometheus.total_query.strip()
    prefix = f"{options.namespace}_" if options.namespace else ""
    if sli.ratio is not None:
        match = (
            f"{options.service_label}={_string(spec.service)},policy={_string(sli.ratio.operation)}"
        )
        calls = f"{prefix}calls_total"
        total = f"sum(rate({calls}{{{match}}}[{{{{.window}}}}]))"
        good = "|".join(sorted(set(sli.ratio.good)))
        if set(OUTCOMES) <= set(sli.ratio.good):
            return "vector(0)", total
        bad = f'sum(rate({calls}{{{match},outcome!~"{good}"}}[{{{{.window}}}}]))'
        # The SDK creates an outcome's series on its first call: no failure yet is 0, not absent.
        return f"{bad} or vector(0)", total
    assert sli.latency is not None
    latency = sli.latency
    match = f"{options.service_label}={_string(spec.service)},policy={_string(latency.operation)}"
    if set(latency.outcomes) != set(OUTCOMES):
        match += f',outcome=~"{"|".join(sorted(set(latency.outcomes)))}"'
    seconds = parse_duration(latency.threshold, option="threshold")
    bound = repr(float(seconds))
    # prometheus_client writes le="1.0"; Prometheus 3 normalises it to le="1".
    le = f'le=~"{bound[:-2]}|{bound}"' if bound.endswith(".0") else f'le="{bound}"'
    histogram = f"{prefix}call_duration_seconds"
    total = f"sum(rate({histogram}_count{{{match}}}[{{{{.window}}}}]))"
    fast = f"sum(rate({histogram}_bucket{{{match},{le}}}[{{{{.window}}}}]))"
    return f"{total} - {fast}", total


def at_window(query: str, seconds: float) -> str:
    """``query`` with ``{{.window}}`` replaced by the Prometheus duration of ``seconds``."""
    return WINDOW_PLACEHOLDER.sub(prom_duration(seconds), query)


# -- rules -------------------------------------------------------------------------------


def _check_labels(field: str, labels: dict[str, str], reserved: Sequence[str] = ()) -> None:
    for key in labels:
        if not LABEL_NAME.match(key) or key.startswith("__"):
            raise RuleError(
                f"{field}[{key!r}]",
                "not a Prometheus label name (letters, digits and '_', not starting with a "
                "digit or '__')",
            )
        if key in reserved:
            raise RuleError(f"{field}[{key!r}]", "this label is set by the rules themselves")


def _sorted(labels: dict[str, str]) -> dict[str, str]:
    """Labels sorted by name, as Prometheus (and Sloth's output) lists them."""
    return dict(sorted(labels.items()))


def _ratio(error: str, total: str) -> str:
    return f"({error})\n/\n({total})"


def slo_groups(
    name: str,
    spec: SLOSpec,
    *,
    options: RuleOptions | None = None,
    spec_format: str = API_VERSION,
    version: str = "",
) -> list[Group]:
    """The three rule groups of one SLO (two when alerting is disabled).

    Args:
        name: the SLO's name (``sloth_slo``).
        spec: the SLO.
        options: query and alert options.
        spec_format: the format it was written in, for ``sloth_slo_info``'s ``sloth_spec``.
        version: reliant's version, for ``sloth_slo_info``'s ``sloth_version``.

    Raises:
        RuleError: the SLO uses something Prometheus rules cannot express.
    """
    options = options or RuleOptions()
    alerting = spec.alerting
    _check_labels("spec.labels", spec.labels, RESERVED_LABELS)
    _check_labels("spec.alerting.labels", alerting.labels)
    _check_labels("spec.alerting.page_labels", alerting.page_labels)
    _check_labels("spec.alerting.ticket_labels", alerting.ticket_labels)
    _check_labels("spec.alerting.annotations", alerting.annotations)
    error, total = sli_queries(spec, options)
    sloth_id = f"{spec.service}-{name}"
    ids = {"sloth_id": sloth_id, "sloth_service": spec.service, "sloth_slo": name}
    sel = _selector(ids)
    base = _sorted({**spec.labels, **ids})
    windows = alert_windows(spec)
    info = {
        "sloth_mode": "cli-gen-prom",
        "sloth_objective": plain_float(spec.objective),
        "sloth_spec": spec_format,
        "sloth_version": f"reliant-{version}" if version else "reliant",
    }
    groups = [
        Group(
            f"sloth-slo-sli-recordings-{sloth_id}", _sli_rules(spec, windows, error, total, base)
        ),
        Group(f"sloth-slo-meta-recordings-{sloth_id}", _meta_rules(spec, windows, sel, base, info)),
    ]
    alerts = _alerts(spec, sloth_id, windows, sel, total, options) if alerting.enabled else []
    if alerts:
        groups.append(Group(f"sloth-slo-alerts-{sloth_id}", tuple(alerts)))
    return groups


def _record(metric: str, expr: str, labels: dict[str, str], comment: str = "") -> Rule:
    return Rule({"record": metric, "expr": expr, "labels": _sorted(labels)}, comment)


def _sli_rules(
    spec: SLOSpec, windows: Sequence[Window], error: str, total: str, base: dict[str, str]
) -> tuple[Rule, ...]:
    """The SLI of every alert window, ascending, and the period's."""
    spans = sorted({w.short for w in windows} | {w.long for w in windows})
    rules = [
        _record(
            SLI_METRIC + prom_duration(w),
            _ratio(at_window(error, w), at_window(total, w)),
            {**base, WINDOW_LABEL: prom_duration(w)},
        )
        for w in spans
    ]
    period = _period_rule(spec, error, total, base)
    record = period.body["record"]
    if all(r.body["record"] != record for r in rules):
        return (*rules, period)
    if spec.budgeting == "timeslices":
        raise RuleError(
            "spec.window",
            f"the period {record.removeprefix(SLI_METRIC)} is also an alert window: under "
            "time-slice budgeting its SLI rule would need two meanings; change the period or "
            "windows",
        )
    # The exact period SLI of events is the window's own rule: write it once.
    return tuple(period if r.body["record"] == record else r for r in rules)


def _meta_rules(
    spec: SLOSpec,
    windows: Sequence[Window],
    sel: str,
    base: dict[str, str],
    info: dict[str, str],
) -> tuple[Rule, ...]:
    """Sloth's meta recordings: objective, budget, period, burn rates, remaining, info."""
    period = period_seconds(spec)
    current = SLI_METRIC + prom_duration(min(w.short for w in windows))
    ratio = go_float(spec.objective / 100)
    return (
        _record(OBJECTIVE_METRIC, f"vector({ratio})", base),
        _record(BUDGET_METRIC, f"vector(1-{ratio})", base),
        _record(PERIOD_DAYS_METRIC, f"vector({go_float(period / DAY)})", base),
        _record(CURRENT_BURN_METRIC, _burn(current, sel), base),
        _record(PERIOD_BURN_METRIC, _burn(SLI_METRIC + prom_duration(period), sel), base),
        _record(REMAINING_METRIC, f"1 - {PERIOD_BURN_METRIC}{sel}", base),
        _record(INFO_METRIC, "vector(1)", {**base, **info}),
    )


def _period_rule(spec: SLOSpec, error: str, total: str, base: dict[str, str]) -> Rule:
    """The SLI over the whole period: exact counts, or the bad-slice fraction."""
    period = period_seconds(spec)
    window = prom_duration(period)
    comment = _PERIOD_NOTE
    if spec.budgeting == "timeslices":
        slices = spec.timeslices
        length = parse_duration(slices.duration, option="timeslices.duration")
        step = prom_duration(length)
        slice_ratio = _ratio(at_window(error, length), at_window(total, length))
        expr = (
            f"avg_over_time((\n({slice_ratio})\n> bool (1 - {go_float(slices.target)})\n"
            f")[{window}:{step}])"
        )
        comment = (
            f"reliant: time-slice budgeting: the fraction of bad {step} slices over {window} "
            f"(a slice is bad when its good ratio is under {go_float(slices.target)})"
        )
    else:
        expr = _ratio(at_window(error, period), at_window(total, period))
    if spec.window.calendar is not None:
        comment += (
            f"; the calendar {spec.window.calendar} is approximated by a rolling {window} "
            "(Prometheus has no calendar-aligned range)"
        )
    return _record(SLI_METRIC + window, expr, {**base, WINDOW_LABEL: window}, comment)


def _burn(metric: str, sel: str) -> str:
    return (
        f"{metric}{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n{BUDGET_METRIC}{sel}"
    )


def _condition(window: Window, sel: str, budget: str, total: str, min_events: int) -> str:
    """One multiwindow condition (Sloth's layout), with the traffic guard when asked."""
    threshold = f"({go_float(window.burn_rate)} * {budget})"
    lines = [
        f"    max({SLI_METRIC}{prom_duration(window.short)}{sel} > {threshold}) "
        f"without ({WINDOW_LABEL})",
        "    and",
        f"    max({SLI_METRIC}{prom_duration(window.long)}{sel} > {threshold}) "
        f"without ({WINDOW_LABEL})",
    ]
    if min_events > 0:
        # A per-second rate times the window's seconds is the window's event count.
        traffic = at_window(total, window.long)
        lines += ["    and on()", f"    (({traffic}) * {go_float(window.long)} >= {min_events})"]
    return "(\n" + "\n".join(lines) + "\n)"


def _alerts(
    spec: SLOSpec,
    sloth_id: str,
    windows: Sequence[Window],
    sel: str,
    total: str,
    options: RuleOptions,
) -> list[Rule]:
    """The page and the ticket alert: each the ``or`` of its severity's conditions."""
    alerting = spec.alerting
    budget = go_float((100 - spec.objective) / 100)
    rules: list[Rule] = []
    for severity in ("page", "ticket"):
        pairs = [w for w in windows if w.severity == severity]
        if not pairs:
            continue
        extra = alerting.page_labels if severity == "page" else alerting.ticket_labels
        expr = "\nor\n".join(_condition(w, sel, budget, total, alerting.min_events) for w in pairs)
        # sloth_id (also on the series) keeps rules of SLOs sharing an alert name distinct
        # for promtool's duplicate-rule lint; severity and service match the native alerts.
        labels = {
            SEVERITY_LABEL: severity,
            "severity": severity,
            "service": spec.service,
            **alerting.labels,
            **extra,
            "sloth_id": sloth_id,
        }
        # As the native evaluator: the SLO's alertname first, then the severity's.
        name = alerting.labels.get("alertname") or extra.get("alertname") or DEFAULT_ALERT_NAME
        labels.pop("alertname", None)
        annotations = {
            "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
            "SLO error budget burn rate is too fast.",
            "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn "
            "rate is over expected.",
            **alerting.annotations,
        }
        body: dict[str, Any] = {"alert": name, "expr": expr}
        wait = options.page_for if severity == "page" else options.ticket_for
        if wait is not None:
            body["for"] = prom_duration(parse_duration(wait, option=f"{severity}_for"))
        body["labels"] = _sorted(labels)
        body["annotations"] = _sorted(annotations)
        rules.append(Rule(body))
    return rules


# -- the rule file -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """An SLO document to write rules for, and the format it was written in."""

    document: Document
    spec_format: str = API_VERSION


def rule_groups(
    sources: Sequence[Source], *, options: RuleOptions | None = None, version: str = ""
) -> list[Group]:
    """The rule groups of every SLO of ``sources`` (other kinds are skipped).

    Raises:
        SpecError: one problem per SLO that cannot be written, naming where it is declared,
            the SLO and the field.
    """
    groups: list[Group] = []
    problems: list[str] = []
    owners: dict[str, str] = {}
    for source in sources:
        doc = source.document
        if doc.kind != "SLO":
            continue
        where = f"{doc.location}: " if doc.location else ""
        sloth_id = f"{doc.spec['service']}-{doc.name}"
        if sloth_id in owners:
            problems.append(
                f"{where}SLO {doc.name}: metadata.name: its Sloth id {sloth_id!r} "
                f"(<service>-<slo>) is also the id of SLO {owners[sloth_id]}; rename one"
            )
            continue
        owners[sloth_id] = doc.name
        try:
            spec = SLOSpec.model_validate(doc.spec)
            groups += slo_groups(
                doc.name, spec, options=options, spec_format=source.spec_format, version=version
            )
        except RuleError as exc:
            problems.append(f"{where}SLO {doc.name}: {exc}")
    if problems:
        raise SpecError(problems)
    return groups


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so expressions read as written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(groups: Sequence[Group], header: Sequence[str] = ()) -> str:
    """The rule file: ``header`` lines as comments, then ``groups:``."""
    lines = [f"# {line}".rstrip() for line in header]
    lines.append("groups:" if groups else "groups: []")
    for group in groups:
        lines.append(f"- name: {group.name}")
        lines.append("  rules:")
        for rule in group.rules:
            if rule.comment:
                lines.append(f"  # {rule.comment}")
            text = yaml.dump(
                rule.body, Dumper=_Dumper, sort_keys=False, width=10**9, allow_unicode=True
            )
            first, *rest = text.splitlines()
            lines.append(f"  - {first}")
            lines += [f"    {line}".rstrip() for line in rest]
    return "\n".join(lines) + "\n"


__all__ = [
    "DEFAULT_ALERT_NAME",
    "DEFAULT_NAMESPACE",
    "DEFAULT_SERVICE_LABEL",
    "Group",
    "Rule",
    "RuleError",
    "RuleOptions",
    "Source",
    "Window",
    "alert_windows",
    "burn_rate_factor",
    "dump",
    "go_float",
    "prom_duration",
    "rule_groups",
    "sli_queries",
    "slo_groups",
]
