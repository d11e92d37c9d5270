"""OpenSLO v1 documents as reliant SLOs: ratio metrics, windows, budgeting, alert policies."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from reliant.spec.documents import Document, Location
from reliant.spec.load import SpecError
from reliant.spec.models import SLOSpec
from reliant.spec.openslo import Located, convert, is_openslo
from reliant.spec.prometheus import alert_windows

GOOD = 'sum(rate(http_requests_total{code!~"5.."}[{{.window}}]))'
BAD = 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))'
TOTAL = "sum(rate(http_requests_total[{{.window}}]))"


def source(query: str, **extra: Any) -> dict[str, Any]:
    """A Prometheus metric source."""
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}, **extra}}


def slo(**spec: Any) -> dict[str, Any]:
    """An OpenSLO SLO on service web with an inline good/total indicator, target 0.999."""
    body: dict[str, Any] = {
        "service": "web",
        "indicator": {
            "metadata": {"name": "web-availability"},
            "spec": {
                "ratioMetric": {"counter": True, "good": source(GOOD), "total": source(TOTAL)}
            },
        },
        "budgetingMethod": "Occurrences",
        "objectives": [{"displayName": "ok", "target": 0.999}],
    }
    body.update(spec)
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "web-slo"},
        "spec": body,
    }


def located(*documents: dict[str, Any], source_name: str = "openslo.yaml") -> list[Located]:
    """The documents as read from one file, with their YAML nodes for line numbers."""
    text = yaml.safe_dump_all(documents, sort_keys=False)
    roots = list(yaml.compose_all(text))
    return [
        Located(data, Location(source_name, root.start_mark.line + 1), root)
        for data, root in zip(yaml.safe_load_all(text), roots, strict=True)
    ]


def one(*documents: dict[str, Any]) -> Document:
    """Convert documents holding one SLO."""
    [document] = convert(located(*documents))
    return document


def problems(*documents: dict[str, Any]) -> list[str]:
    """The problems converting ``documents``."""
    with pytest.raises(SpecError) as caught:
        convert(located(*documents))
    return caught.value.problems


def test_detects_openslo_documents() -> None:
    """Any openslo/ apiVersion is OpenSLO's (other versions are then refused by name)."""
    assert (True, True, False) == (
        is_openslo({"apiVersion": "openslo/v1"}),
        is_openslo({"apiVersion": "openslo/v1alpha"}),
        is_openslo({"version": "prometheus/v1"}),
    )


def test_good_and_total_become_a_promql_pair() -> None:
    """Bad events are (total) - (good); the target fraction becomes a percent; 30d default."""
    document = one(slo())
    assert ("SLO", "web-slo", "openslo.yaml:1") == (
        document.kind,
        document.name,
        str(document.location),
    )
    spec = document.spec
    assert (
        "web",
        99.9,
        {"error_query": f"({TOTAL}) - ({GOOD})", "total_query": TOTAL},
        {"rolling": "30d", "calendar": None, "timezone": "UTC"},
        "occurrences",
    ) == (
        spec["service"],
        spec["objective"],
        spec["sli"]["prometheus"],
        spec["window"],
        spec["budgeting"],
    )


def test_indicator_ref_with_bad_total_and_a_data_source() -> None:
    """indicatorRef finds the SLI; a source typed by its DataSource is Prometheus too."""
    sli = {
        "apiVersion": "openslo/v1",
        "kind": "SLI",
        "metadata": {"name": "errors"},
        "spec": {
            "ratioMetric": {
                "counter": True,
                "bad": {"metricSource": {"metricSourceRef": "prom", "spec": {"query": BAD}}},
                "total": source(TOTAL),
            }
        },
    }
    datasource = {
        "apiVersion": "openslo/v1",
        "kind": "DataSource",
        "metadata": {"name": "prom"},
        "spec": {"type": "Prometheus", "connectionDetails": {"url": "http://prometheus:9090"}},
    }
    body = slo(indicatorRef="errors", objectives=[{"targetPercent": 99.5}])
    del body["spec"]["indicator"]
    document = one(sli, datasource, body)
    assert ({"error_query": BAD, "total_query": TOTAL}, 99.5) == (
        document.spec["sli"]["prometheus"],
        document.spec["objective"],
    )


def test_labels_description_and_windows() -> None:
    """Labels (lists joined), description, rolling weeks and calendar months in a zone."""
    body = slo(
        description="Web availability",
        timeWindow=[
            {
                "duration": "1M",
                "isRolling": False,
                "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Paris"},
            }
        ],
    )
    body["metadata"]["labels"] = {"team": ["web", "edge"], "tier": "1"}
    spec = one(body).spec
    assert (
        {"team": "web,edge", "tier": "1"},
        "Web availability",
        {"rolling": None, "calendar": "month", "timezone": "Europe/Paris"},
    ) == (spec["labels"], spec["description"], spec["window"])
    rolling = one(slo(timeWindow=[{"duration": "4w", "isRolling": True}])).spec["window"]
    assert "4w" == rolling["rolling"]


def test_timeslices_budgeting() -> None:
    """Timeslices take the objective's slice target and window (a bare number is minutes)."""
    objective = {"target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": 2}
    spec = one(slo(budgetingMethod="Timeslices", objectives=[objective])).spec
    assert ("timeslices", {"duration": "2m", "target": 0.95}) == (
        spec["budgeting"],
        spec["timeslices"],
    )


def test_alert_policies_become_burn_windows() -> None:
    """Inline and referenced policies and conditions; short windows are L/12 or annotated."""
    inline = {
        "kind": "AlertPolicy",
        "metadata": {"name": "fast"},
        "spec": {
            "alertWhenBreaching": True,
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": "fast-burn"},
                    "spec": {
                        "severity": "page",
                        "condition": {
                            "kind": "burnrate",
                            "op": "gt",
                            "threshold": 14.4,
                            "lookbackWindow": "1h",
                        },
                    },
                }
            ],
        },
    }
    policy = {
        "apiVersion": "openslo/v1",
        "kind": "AlertPolicy",
        "metadata": {"name": "slow"},
        "spec": {"conditions": [{"conditionRef": "slow-burn"}], "notificationTargets": []},
    }
    condition = {
        "apiVersion": "openslo/v1",
        "kind": "AlertCondition",
        "metadata": {"name": "slow-burn", "annotations": {"reliant.dev/short-window": "6h"}},
        "spec": {
            "severity": "ticket",
            "condition": {"op": "gte", "threshold": 1, "lookbackWindow": "3d", "alertAfter": "0m"},
        },
    }
    document = one(slo(alertPolicies=[inline, {"alertPolicyRef": "slow"}]), policy, condition)
    assert [
        {"severity": "page", "long": "1h", "short": "5m", "burn_rate": 14.4},
        {"severity": "ticket", "long": "3d", "short": "6h", "burn_rate": 1.0},
    ] == document.spec["alerting"]["windows"]


def test_the_reliant_extension_annotations() -> None:
    """burn-windows pairs long and short windows; min-events and alerting are set too."""
    body = slo()
    body["metadata"]["annotations"] = {
        "reliant.dev/burn-windows": "[{severity: page, long: 1h, short: 5m, burn_rate: 13.44},"
        " {severity: ticket, long: 3d, short: 6h, burn_rate: 0.93}]",
        "reliant.dev/min-events": "50",
    }
    spec = SLOSpec.model_validate(one(body).spec)
    assert [("page", 3600.0, 300.0, 13.44), ("ticket", 259200.0, 21600.0, 0.93)] == [
        (w.severity, w.long, w.short, w.burn_rate) for w in alert_windows(spec)
    ]
    assert 50 == spec.alerting.min_events
    body["metadata"]["annotations"] = {"reliant.dev/alerting": "disabled"}
    assert False is one(body).spec["alerting"]["enabled"]


def test_without_policies_the_workbook_alerts_apply() -> None:
    """No alertPolicies and no extension: reliant's defaults (the workbook's four)."""
    assert [] == one(slo()).spec["alerting"]["windows"]


def with_sli(sli: dict[str, Any]) -> dict[str, Any]:
    """An SLO whose inline indicator's spec is ``sli``."""
    document = slo()
    document["spec"]["indicator"]["spec"] = sli
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            slo(timeWindow=[{"duration": "1M", "isRolling": True}]),
            "openslo.yaml:28: OpenSLO SLO web-slo: spec.timeWindow[0].duration: months, quarters "
            "and years have no fixed length; use days, got '1M'",
        ),
        (
            slo(timeWindow=[{"duration": "1Q", "calendar": {"timeZone": "UTC"}}]),
            "spec.timeWindow[0].duration: calendar windows are one week (1w) or one month (1M)",
        ),
        (
            slo(timeWindow=[{"duration": "1M", "calendar": {"startTime": "2024-01-15 00:00:00"}}]),
            "spec.timeWindow[0].calendar.startTime: reliant's calendar months start at midnight on "
            "the first day of a month, got '2024-01-15 00:00:00'",
        ),
        (
            slo(budgetingMethod="RatioTimeslices"),
            "spec.budgetingMethod: only Occurrences and Timeslices",
        ),
        (
            slo(objectives=[{"target": 0.9}, {"target": 0.99}]),
            "spec.objectives: give exactly one objective",
        ),
        (
            slo(objectives=[{"op": "lte", "value": 1, "target": 0.9}]),
            "spec.objectives[0].op: threshold",
        ),
        (
            slo(objectives=[{"target": 0.9, "indicatorRef": "x"}]),
            "spec.objectives[0].indicatorRef: composite",
        ),
        (slo(indicatorRef="missing", indicator=None), "spec.indicatorRef: no SLI named 'missing'"),
        (
            with_sli({"thresholdMetric": {"metricSource": {}}}),
            "spec.indicator.spec.thresholdMetric: threshold metrics are not supported",
        ),
        (
            with_sli({"ratioMetric": {"raw": {}, "rawType": "success"}}),
            "spec.indicator.spec.ratioMetric.raw: raw (precomputed) ratios are not supported",
        ),
        (
            with_sli({"ratioMetric": {"good": source(GOOD), "total": source("x", type="Datadog")}}),
            "spec.indicator.spec.ratioMetric.total.metricSource.type: only Prometheus sources are "
            "supported, got 'Datadog'",
        ),
        (
            slo(alertPolicies=[{"alertPolicyRef": "nope"}]),
            "spec.alertPolicies[0]: no AlertPolicy named 'nope'",
        ),
        (
            {**slo(), "apiVersion": "openslo/v1alpha"},
            "OpenSLO SLO web-slo: apiVersion: only openslo/v1 is supported, got 'openslo/v1alpha'",
        ),
        (
            slo(service="Web Site"),
            "SLO web-slo: spec.service: should be a name of lowercase letters",
        ),
    ],
)
def test_unsupported_constructs_name_file_document_and_field(
    document: dict[str, Any], message: str
) -> None:
    """Each problem names the file and line, the OpenSLO document and the field."""
    found = problems(document)
    assert any(message in p and p.startswith("openslo.yaml:") for p in found), found


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"severity": "sev1"},
            "spec.conditions[0].spec.severity: should be page or ticket, got 'sev1'",
        ),
        ({"condition": {"op": "lt", "threshold": 2, "lookbackWindow": "1h"}}, "use gt, got 'lt'"),
        (
            {"condition": {"op": "gt", "threshold": 2, "lookbackWindow": "1h", "alertAfter": "5m"}},
            "alertAfter",
        ),
        ({"condition": {"kind": "budget", "op": "gt"}}, "only burnrate conditions"),
    ],
)
def test_unsupported_alert_conditions_are_refused(condition: dict[str, Any], message: str) -> None:
    """Conditions must be burnrate, above a threshold, page or ticket, without alertAfter."""
    spec = {
        "severity": "page",
        "condition": {"kind": "burnrate", "op": "gt", "threshold": 2, "lookbackWindow": "1h"},
        **condition,
    }
    policy = {
        "apiVersion": "openslo/v1",
        "kind": "AlertPolicy",
        "metadata": {"name": "p"},
        "spec": {
            "conditions": [{"kind": "AlertCondition", "metadata": {"name": "c"}, "spec": spec}]
        },
    }
    found = problems(slo(alertPolicies=[{"alertPolicyRef": "p"}]), policy)
    assert any("OpenSLO AlertPolicy p:" in p and message in p for p in found), found


def test_every_problem_of_every_slo_is_reported() -> None:
    """Two broken SLOs give two problems, each at its own document's line."""
    second = slo(objectives=[])
    second["metadata"]["name"] = "second"
    found = problems(slo(budgetingMethod="RatioTimeslices"), second)
    assert 2 == len(found)
    assert ["openslo.yaml", "openslo.yaml"] == [p.split(":")[0] for p in found]
    assert "OpenSLO SLO web-slo:" in found[0]
    assert "OpenSLO SLO second:" in found[1]
    assert found[0].split(":")[1] != found[1].split(":")[1]
