"""Prometheus rules for SLOs: Sloth's names and labels, the exact period SLI, promtool-valid."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reliant.spec.documents import Document, Location
from reliant.spec.load import SpecError
from reliant.spec.models import SLOSpec
from reliant.spec.prometheus import (
    RuleError,
    RuleOptions,
    Source,
    alert_windows,
    dump,
    go_float,
    prom_duration,
    rule_groups,
    slo_groups,
)

BASE: dict[str, Any] = {
    "service": "shop",
    "objective": 99.9,
    "sli": {"ratio": {"operation": "pay"}},
}
PROMQL = {
    "error_query": 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
    "total_query": "sum(rate(http_requests_total[{{ .window }}]))",
}
ALL_OUTCOMES = ["success", "failure", "rejected", "timeout"]


def promtool() -> str:
    """The promtool binary (CI installs the `prometheus` Debian package, which ships it)."""
    found = shutil.which("promtool") or "/usr/bin/promtool"
    assert Path(found).exists(), "promtool is required: apt-get install prometheus"
    return found


def spec(**changes: Any) -> SLOSpec:
    """An SLO spec: BASE with ``changes``."""
    return SLOSpec.model_validate({**BASE, **changes})


def rules(name: str = "checkout", **changes: Any) -> dict[str, list[dict[str, Any]]]:
    """Group name → rules of one SLO, through the rule file's YAML."""
    groups = slo_groups(name, spec(**changes))
    return {g["name"]: g["rules"] for g in yaml.safe_load(dump(groups))["groups"]}


def rule_file(*slos: tuple[str, dict[str, Any]], options: RuleOptions | None = None) -> str:
    """The rule file of several SLOs given as (name, changes to BASE)."""
    sources = [
        Source(Document("SLO", name, spec(**changes).model_dump(mode="json")))
        for name, changes in slos
    ]
    return dump(rule_groups(sources, options=options), ["test"])


def check(tmp_path: Path, text: str) -> str:
    """Run `promtool check rules` on ``text``; return its output (it must succeed)."""
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.9990000000000001, "0.9990000000000001"),
        (1 - 0.9990000000000001, "0.0009999999999998899"),
        ((100 - 99.9) / 100, "0.0009999999999999432"),
        (30.0, "30"),
        (14.4, "14.4"),
        (5.6000000000000005, "5.6000000000000005"),
        (1e-05, "1e-05"),
        (1234567.0, "1.234567e+06"),
        (123456.0, "123456"),
        (0.0, "0"),
    ],
)
def test_numbers_are_written_as_go_writes_them(value: float, text: str) -> None:
    """Go's %g: shortest digits, no trailing .0, exponents below 1e-4 and from 1e6."""
    assert text == go_float(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (3600, "1h"),
        (86400, "1d"),
        (259200, "3d"),
        (604800, "1w"),
        (28 * 86400, "4w"),
        (30 * 86400, "30d"),
        (5400, "1h30m"),
        (450, "7m30s"),
        (0.25, "250ms"),
    ],
)
def test_durations_are_written_as_prometheus_writes_them(seconds: float, text: str) -> None:
    """Weeks only when exact (28d is 4w, 30d stays 30d), as Sloth's record names show."""
    assert text == prom_duration(seconds)


@pytest.mark.parametrize(
    ("window", "factors"),
    [
        ({"rolling": "30d"}, [14.4, 6.0, 3.0, 1.0]),
        ({"rolling": "28d"}, [13.44, 5.6, 2.8, 0.9333333333333333]),
        ({"rolling": "7d"}, [3.36, 1.4, 0.7, 0.2333333333333333]),
        ({"calendar": "month"}, [14.4, 6.0, 3.0, 1.0]),
        ({"calendar": "week"}, [3.36, 1.4, 0.7, 0.2333333333333333]),
    ],
)
def test_default_windows_scale_with_the_period(
    window: dict[str, str], factors: list[float]
) -> None:
    """The workbook's budget percents over the period (Sloth's getBurnRateFactor)."""
    found = alert_windows(spec(window=window))
    assert [pytest.approx(f, rel=1e-12) for f in factors] == [w.burn_rate for w in found]
    assert [(3600, 300), (21600, 1800), (86400, 7200), (259200, 21600)] == [
        (w.long, w.short) for w in found
    ]


def test_groups_records_and_labels_follow_sloth() -> None:
    """Three groups named by sloth_id, Sloth's record names, id and window labels."""
    groups = rules(labels={"team": "payments"})
    assert [
        "sloth-slo-sli-recordings-shop-checkout",
        "sloth-slo-meta-recordings-shop-checkout",
        "sloth-slo-alerts-shop-checkout",
    ] == list(groups)
    sli = groups["sloth-slo-sli-recordings-shop-checkout"]
    assert [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ] == [r["record"] for r in sli]
    assert {
        "sloth_id": "shop-checkout",
        "sloth_service": "shop",
        "sloth_slo": "checkout",
        "sloth_window": "5m",
        "team": "payments",
    } == sli[0]["labels"]
    meta = groups["sloth-slo-meta-recordings-shop-checkout"]
    assert [
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    ] == [r["record"] for r in meta]
    assert ["vector(0.9990000000000001)", "vector(1-0.9990000000000001)", "vector(30)"] == [
        r["expr"] for r in meta[:3]
    ]
    assert {
        "sloth_mode": "cli-gen-prom",
        "sloth_objective": "99.9",
        "sloth_spec": "reliant.dev/v1",
    } == {k: meta[-1]["labels"][k] for k in ("sloth_mode", "sloth_objective", "sloth_spec")}


def test_ratio_sli_counts_the_sdks_calls_by_outcome() -> None:
    """Bad calls are every outcome but the good ones, on reliant_calls_total{service, policy}."""
    first = rules(sli={"ratio": {"operation": "pay", "good": ["success", "rejected"]}})
    expr = first["sloth-slo-sli-recordings-shop-checkout"][0]["expr"]
    assert (
        '(sum(rate(reliant_calls_total{service="shop",policy="pay",outcome!~"rejected|success"}[5m]))'
        " or vector(0))\n/\n"
        '(sum(rate(reliant_calls_total{service="shop",policy="pay"}[5m])))'
    ) == expr


def test_namespace_and_service_label_are_options() -> None:
    """A different metric prefix and service label change the generated queries."""
    options = RuleOptions(namespace="app", service_label="job")
    [sli, *_] = slo_groups("checkout", spec(), options=options)
    assert 'app_calls_total{job="shop",policy="pay"}[5m]' in sli.rules[0].body["expr"]


def test_latency_sli_uses_the_histogram_bucket_of_the_threshold() -> None:
    """Slow calls are all calls minus the threshold's bucket; 1s matches le="1" and "1.0"."""
    sli = {"latency": {"operation": "pay", "threshold": "1s", "outcomes": ALL_OUTCOMES}}
    expr = rules(sli=sli)["sloth-slo-sli-recordings-shop-checkout"][0]["expr"]
    count = 'sum(rate(reliant_call_duration_seconds_count{service="shop",policy="pay"}[5m]))'
    bucket = (
        "sum(rate(reliant_call_duration_seconds_bucket"
        '{service="shop",policy="pay",le=~"1|1.0"}[5m]))'
    )
    assert f"({count} - {bucket})\n/\n({count})" == expr
    quarter = {"latency": {"operation": "pay", "threshold": "250ms", "outcomes": ALL_OUTCOMES}}
    assert 'le="0.25"' in rules(sli=quarter)["sloth-slo-sli-recordings-shop-checkout"][0]["expr"]


def test_latency_sli_of_some_outcomes_selects_them() -> None:
    """Counting only successful calls selects them on the histogram's outcome label."""
    [sli, *_] = slo_groups(
        "checkout", spec(sli={"latency": {"operation": "pay", "threshold": "1s"}})
    )
    expr = sli.rules[0].body["expr"]
    selector = '{service="shop",policy="pay",outcome=~"success"'
    assert (2, 1) == (
        expr.count(f"reliant_call_duration_seconds_count{selector}}}"),
        expr.count(f'reliant_call_duration_seconds_bucket{selector},le=~"1|1.0"}}'),
    )


def test_period_rule_is_the_exact_count_of_the_period() -> None:
    """The period SLI divides the queries over 30d, never averaging 5m ratios; a comment says so."""
    groups = slo_groups("checkout", spec(sli={"prometheus": PROMQL}))
    period = groups[0].rules[-1]
    assert (
        "slo:sli_error:ratio_rate30d",
        '(sum(rate(http_requests_total{code=~"5.."}[30d])))\n/\n(sum(rate(http_requests_total[30d])))',
        "30d",
    ) == (period.body["record"], period.body["expr"], period.body["labels"]["sloth_window"])
    assert period.comment.startswith("reliant: exact-count period SLI")
    text = dump(groups)
    assert f"  # {period.comment}\n  - record: slo:sli_error:ratio_rate30d\n" in text


def test_a_period_equal_to_an_alert_window_is_recorded_once() -> None:
    """A 3d period shares slo:sli_error:ratio_rate3d with the 3d window: one rule."""
    records = [
        r["record"]
        for r in rules(window={"rolling": "3d"})["sloth-slo-sli-recordings-shop-checkout"]
    ]
    assert 1 == records.count("slo:sli_error:ratio_rate3d")
    assert "slo:sli_error:ratio_rate3d" == records[-1]


def test_calendar_periods_are_rolling_ranges_with_a_note() -> None:
    """A calendar month is 30 rolling days for Prometheus; the comment says so."""
    groups = slo_groups("checkout", spec(window={"calendar": "month", "timezone": "Europe/Paris"}))
    period = groups[0].rules[-1]
    assert ("slo:sli_error:ratio_rate30d", "vector(30)") == (
        period.body["record"],
        groups[1].rules[2].body["expr"],
    )
    assert "calendar month is approximated by a rolling 30d" in period.comment


def test_timeslices_period_rule_is_the_fraction_of_bad_slices() -> None:
    """Under time-slice budgeting the period SLI averages bad-slice flags over the period."""
    groups = slo_groups(
        "checkout",
        spec(
            budgeting="timeslices",
            timeslices={"duration": "1m", "target": 0.95},
            sli={"prometheus": PROMQL},
        ),
    )
    expr = groups[0].rules[-1].body["expr"]
    assert expr.startswith("avg_over_time((\n")
    assert expr.endswith("> bool (1 - 0.95)\n)[30d:1m])")
    assert "[1m]" in expr


def test_timeslices_with_a_period_equal_to_a_window_is_refused() -> None:
    """One record name cannot be both the 1d window's event ratio and the slice fraction."""
    with pytest.raises(RuleError, match=r"^spec\.window: the period 1d is also an alert window"):
        slo_groups("checkout", spec(window={"rolling": "1d"}, budgeting="timeslices"))


def test_alerts_are_the_multiwindow_conditions_with_a_traffic_guard() -> None:
    """Page: 5m/1h at 14.4 and 30m/6h at 6; each pair needs min_events in its long window."""
    page, ticket = rules()["sloth-slo-alerts-shop-checkout"]
    sel = '{sloth_id="shop-checkout", sloth_service="shop", sloth_slo="checkout"}'
    total = 'sum(rate(reliant_calls_total{service="shop",policy="pay"}[1h]))'
    first = page["expr"].split("\nor\n")[0]
    over = "> (14.4 * 0.0009999999999999432)) without (sloth_window)"
    assert (
        "(\n"
        f"    max(slo:sli_error:ratio_rate5m{sel} {over}\n"
        "    and\n"
        f"    max(slo:sli_error:ratio_rate1h{sel} {over}\n"
        "    and on()\n"
        f"    (({total}) * 3600 >= 10)\n"
        ")"
    ) == first
    assert ("SLOErrorBudgetBurn", "ticket") == (ticket["alert"], ticket["labels"]["sloth_severity"])
    assert 2 == ticket["expr"].count("\n    and on()\n")


def test_no_guard_without_min_events() -> None:
    """min_events: 0 writes Sloth's expression exactly."""
    page, _ = rules(alerting={"min_events": 0})["sloth-slo-alerts-shop-checkout"]
    assert "on()" not in page["expr"]


def test_alert_name_labels_annotations_and_for() -> None:
    """alertname comes from alerting.labels; labels merge with the severity's; for is optional."""
    alerting = {
        "labels": {"alertname": "CheckoutBurn", "team": "pay"},
        "page_labels": {"severity": "critical"},
        "annotations": {"runbook": "https://runbooks/checkout"},
    }
    groups = slo_groups("checkout", spec(alerting=alerting), options=RuleOptions(page_for="2m"))
    page, ticket = (r.body for r in groups[2].rules)
    assert ("CheckoutBurn", "2m", None) == (page["alert"], page.get("for"), ticket.get("for"))
    assert {
        "service": "shop",
        "severity": "critical",
        "sloth_id": "shop-checkout",
        "sloth_severity": "page",
        "team": "pay",
    } == page["labels"]
    assert "https://runbooks/checkout" == ticket["annotations"]["runbook"]


def test_custom_windows_are_used_as_given() -> None:
    """Only page windows: one page alert, and only their windows are recorded."""
    windows = [{"severity": "page", "long": "2h", "short": "10m", "burn_rate": 10}]
    groups = rules(alerting={"windows": windows})
    assert [
        "slo:sli_error:ratio_rate10m",
        "slo:sli_error:ratio_rate2h",
        "slo:sli_error:ratio_rate30d",
    ] == [r["record"] for r in groups["sloth-slo-sli-recordings-shop-checkout"]]
    [page] = groups["sloth-slo-alerts-shop-checkout"]
    assert "> (10 * 0.0009999999999999432)" in page["expr"]
    current = groups["sloth-slo-meta-recordings-shop-checkout"][3]["expr"]
    assert current.startswith("slo:sli_error:ratio_rate10m{")


def test_alerting_disabled_writes_no_alert_group() -> None:
    """Recordings stay, for dashboards and budgets; alerts go."""
    assert 2 == len(rules(alerting={"enabled": False}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": {"team-name": "x"}}, "spec.labels['team-name']: not a Prometheus label name"),
        ({"labels": {"sloth_id": "x"}}, "spec.labels['sloth_id']: this label is set by the rules"),
        ({"alerting": {"annotations": {"run book": "x"}}}, "spec.alerting.annotations['run book']"),
    ],
)
def test_labels_must_be_prometheus_label_names(changes: dict[str, Any], message: str) -> None:
    """Label and annotation names Prometheus would refuse are reported by field."""
    with pytest.raises(RuleError, match=re.escape(message)):
        slo_groups("checkout", spec(**changes))


def test_problems_name_where_the_slo_is_declared() -> None:
    """rule_groups collects every SLO's problem with its location and name."""
    bad = spec(labels={"a b": "x"}).model_dump(mode="json")
    sources = [
        Source(Document("SLO", "one", bad, Location("reliant.yaml", 3))),
        Source(Document("Service", "shop", {"owner": "me"})),
        Source(Document("SLO", "two", bad, Location("reliant.yaml", 20))),
    ]
    with pytest.raises(SpecError) as caught:
        rule_groups(sources)
    assert [
        "reliant.yaml:3: SLO one: spec.labels['a b']: not a Prometheus label name (letters, "
        "digits and '_', not starting with a digit or '__')",
        "reliant.yaml:20: SLO two: spec.labels['a b']: not a Prometheus label name (letters, "
        "digits and '_', not starting with a digit or '__')",
    ] == caught.value.problems


def test_colliding_sloth_ids_are_refused() -> None:
    """Service a-b with SLO c and service a with SLO b-c would share id a-b-c."""
    one = spec(service="a-b").model_dump(mode="json")
    two = spec(service="a").model_dump(mode="json")
    with pytest.raises(SpecError, match="its Sloth id 'a-b-c'"):
        rule_groups([Source(Document("SLO", "c", one)), Source(Document("SLO", "b-c", two))])


def test_rule_options_are_validated() -> None:
    """A bad namespace, service label or for duration is refused at construction."""
    for options in ({"namespace": "1x"}, {"service_label": "a-b"}, {"page_for": "soon"}):
        with pytest.raises(ValueError, match="RuleOptions"):
            RuleOptions(**options)


def test_every_kind_of_slo_passes_promtool_check_rules(tmp_path: Path) -> None:
    """Ratio, latency, PromQL, calendar, time slices, custom windows, disabled alerting."""
    text = rule_file(
        ("ratio", {"labels": {"team": "pay"}, "alerting": {"labels": {"alertname": "PayBurn"}}}),
        (
            "latency",
            {
                "sli": {
                    "latency": {"operation": "pay", "threshold": "250ms", "outcomes": ALL_OUTCOMES}
                }
            },
        ),
        ("promql", {"sli": {"prometheus": PROMQL}, "window": {"rolling": "28d"}}),
        ("calendar", {"window": {"calendar": "week"}, "budgeting": "timeslices"}),
        (
            "custom",
            {
                "alerting": {
                    "windows": [{"severity": "ticket", "long": "4d", "short": "6h", "burn_rate": 1}]
                }
            },
        ),
        ("quiet", {"alerting": {"enabled": False}}),
        options=RuleOptions(page_for="2m", ticket_for="1h"),
    )
    assert "SUCCESS: 94 rules found" in check(tmp_path, text)


def series(start: str, outage: str) -> str:
    """A promtool input-series value list: 24h before the outage, 61 minutes of it."""
    return f"{start}x1440 {outage}x60"


def test_promtool_evaluates_a_total_outage(tmp_path: Path) -> None:
    """100% errors on a 99.9% SLO: page after one minute, ticket after two, exact period SLI.

    Traffic is 60 calls a minute for 24 hours, then every call fails. The 1h window's error
    ratio passes 14.4 x 0.001 after 0.864 minutes (the workbook's detection time), so the
    page fires at the first evaluation after the outage's first minute; the ticket's 6h/3d
    pair at 1x follows a minute later. A second SLO on the same calls with a traffic guard
    of 100,000 events never alerts.
    """
    text = rule_file(("checkout", {}), ("guarded", {"alerting": {"min_events": 100_000}}))
    (tmp_path / "rules.yaml").write_text(text)
    labels = {
        "sloth_id": "shop-checkout",
        "sloth_service": "shop",
        "sloth_slo": "checkout",
        "service": "shop",
    }

    def alert(severity: str) -> dict[str, Any]:
        return {
            "exp_labels": {**labels, "severity": severity, "sloth_severity": severity},
            "exp_annotations": {
                "title": f"({severity}) shop checkout SLO error budget burn rate is too fast.",
                "summary": "shop checkout SLO error budget burn rate is over expected.",
            },
        }

    calls = 'reliant_calls_total{service="shop",policy="pay",outcome="%s"}'
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        # Recordings before alerts, as written: promtool's default group order is random; a
        # real Prometheus may see the alert one evaluation interval later.
        "group_eval_order": [g["name"] for g in yaml.safe_load(text)["groups"]],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": calls % "success", "values": series("0+60", "86400+0")},
                    {"series": calls % "failure", "values": series("0+0", "60+60")},
                ],
                "alert_rule_test": [
                    {"eval_time": "24h", "alertname": "SLOErrorBudgetBurn", "exp_alerts": []},
                    {
                        "eval_time": "24h1m",
                        "alertname": "SLOErrorBudgetBurn",
                        "exp_alerts": [alert("page")],
                    },
                    {
                        "eval_time": "24h2m",
                        "alertname": "SLOErrorBudgetBurn",
                        "exp_alerts": [alert("page"), alert("ticket")],
                    },
                ],
                "promql_expr_test": [
                    {
                        # 600 failures among 87,000 calls: the exact count, not an average.
                        "expr": 'slo:sli_error:ratio_rate30d{sloth_slo="checkout"}',
                        "eval_time": "24h10m",
                        "exp_samples": [
                            {
                                "labels": 'slo:sli_error:ratio_rate30d{sloth_id="shop-checkout", '
                                'sloth_service="shop", sloth_slo="checkout", sloth_window="30d"}',
                                "value": 600 / 87000,
                            }
                        ],
                    },
                    {
                        "expr": 'slo:current_burn_rate:ratio{sloth_slo="checkout"}',
                        "eval_time": "24h10m",
                        "exp_samples": [
                            {
                                # Sloth's burn rates keep the 5m SLI's sloth_window.
                                "labels": 'slo:current_burn_rate:ratio{sloth_id="shop-checkout", '
                                'sloth_service="shop", sloth_slo="checkout", sloth_window="5m"}',
                                "value": 1 / (1 - 0.9990000000000001),
                            }
                        ],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run(
        [promtool(), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
