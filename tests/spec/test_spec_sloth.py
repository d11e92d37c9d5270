"""Sloth ``prometheus/v1`` files as reliant SLOs, and rules that match what Sloth writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from reliant.spec.documents import Document, Location
from reliant.spec.load import SpecError
from reliant.spec.prometheus import Source, dump, rule_groups
from reliant.spec.sloth import VERSION, convert, is_sloth, workbook_windows

DATA = Path(__file__).parent / "data" / "sloth"
IN_BASE = DATA / "in-base.yaml"
#: Sloth v0.16.0's own output for in-base.yaml (its integration test's golden file).
OUT_BASE = DATA / "out-base.yaml"
#: Sloth's alert expression term: ``max(<metric>{...} > (<factor> * <budget>)) without ...``.
TERM = re.compile(r"max\((slo:sli_error:ratio_rate\w+)\{[^}]*\} > \(([-\d.e+]+) \* ([-\d.e+]+)\)\)")


def sloth_file(**changes: Any) -> dict[str, Any]:
    """in-base.yaml with slo02's raw SLI as the equivalent events pair (raw is unsupported)."""
    data: dict[str, Any] = yaml.safe_load(IN_BASE.read_text())
    raw = data["slos"][1]["sli"].pop("raw")["error_ratio_query"]
    error, total = (part.strip() for part in raw.split("\n/\n"))
    data["slos"][1]["sli"]["events"] = {"error_query": error, "total_query": total}
    data.update(changes)
    return data


def rules_of(data: Any, *, period: str = "30d") -> dict[str, Any]:
    """The rule file reliant writes for a Sloth document, parsed back."""
    documents = convert(data, Location("in-base.yaml", 1), period=period)
    groups = rule_groups([Source(d, VERSION) for d in documents])
    parsed: dict[str, Any] = yaml.safe_load(dump(groups))
    return parsed


def by_group(rules: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Group name → its rules."""
    return {g["name"]: g["rules"] for g in rules["groups"]}


def flat(expr: str, *, parens: bool = True) -> str:
    """An expression without whitespace (and without parentheses unless ``parens``)."""
    text = re.sub(r"\s+", "", expr)
    return text if parens else text.replace("(", "").replace(")", "")


def thresholds(expr: str) -> list[tuple[str, float, float]]:
    """Each alert term's window metric, burn-rate factor and error budget."""
    return [(m, float(f), float(b)) for m, f, b in TERM.findall(expr)]


def convert_one(slo: dict[str, Any], **top: Any) -> Document:
    """Convert a Sloth file holding one SLO."""
    data = {"version": VERSION, "service": "svc", "slos": [slo], **top}
    [document] = convert(data, Location("sloth.yaml", 1))
    return document


EVENTS = {"error_query": "sum(rate(e[{{.window}}]))", "total_query": "sum(rate(t[{{.window}}]))"}


def test_detects_sloth_files() -> None:
    """Only version prometheus/v1 documents are Sloth's."""
    assert (True, False, False) == (
        is_sloth({"version": "prometheus/v1"}),
        is_sloth({"apiVersion": "reliant.dev/v1"}),
        is_sloth(["version"]),
    )


def test_converts_sloth_slos_to_reliant_documents() -> None:
    """Names, objective, events SLI, merged labels, alert name and labels carry over."""
    documents = convert(sloth_file(), Location("in-base.yaml", 2))
    first = documents[0]
    assert ("SLO", "slo1", "in-base.yaml:2") == (first.kind, first.name, str(first.location))
    spec = first.spec
    assert (
        "svc01",
        99.9,
        "This is SLO 01.",
        {"rolling": "30d", "calendar": None, "timezone": "UTC"},
        {"global01k1": "global01v1", "global02k1": "global02v1"},
    ) == (spec["service"], spec["objective"], spec["description"], spec["window"], spec["labels"])
    assert (
        'sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
        "[{{.window}}]))"
    ) == spec["sli"]["prometheus"]["error_query"]
    alerting = spec["alerting"]
    assert (
        True,
        0,
        {"alert01k1": "alert01v1", "alertname": "myServiceAlert"},
        {"alert02k1": "alert02k2"},
        {"alert03k1": "alert03v1"},
        {"alert04k1": "alert04v1"},
        [],
    ) == (
        alerting["enabled"],
        alerting["min_events"],
        alerting["labels"],
        alerting["annotations"],
        alerting["page_labels"],
        alerting["ticket_labels"],
        alerting["windows"],
    )
    assert False is documents[1].spec["alerting"]["enabled"]


def test_rule_names_and_labels_match_sloth() -> None:
    """Every group, record and alert name and every label Sloth writes, for both SLOs."""
    sloth = by_group(yaml.safe_load(OUT_BASE.read_text()))
    ours = by_group(rules_of(sloth_file()))
    assert list(sloth) == list(ours)
    for name, rules in sloth.items():
        assert [r.get("record", r.get("alert")) for r in rules] == [
            r.get("record", r.get("alert")) for r in ours[name]
        ]
        for theirs, mine in zip(rules, ours[name], strict=True):
            if "record" in theirs:
                expected = {k: v for k, v in theirs["labels"].items() if k != "sloth_version"}
                actual = {k: v for k, v in mine["labels"].items() if k != "sloth_version"}
                assert expected == actual
            else:
                # reliant adds severity and service (the native alerts' labels) and sloth_id
                # (already on the series; keeps same-named alerts of SLOs distinct rules).
                severity = theirs["labels"]["sloth_severity"]
                added = {"severity": severity, "service": "svc01", "sloth_id": "svc01-slo1"}
                assert {**theirs["labels"], **added} == mine["labels"]
                assert theirs["annotations"] == mine["annotations"]


def test_window_and_meta_expressions_match_sloth() -> None:
    """Window SLIs and meta recordings are Sloth's expressions (slo02 differs in parentheses)."""
    sloth = by_group(yaml.safe_load(OUT_BASE.read_text()))
    ours = by_group(rules_of(sloth_file()))
    for slo, parens in (("slo1", True), ("slo02", False)):
        windows = sloth[f"sloth-slo-sli-recordings-svc01-{slo}"][:-1]
        mine = ours[f"sloth-slo-sli-recordings-svc01-{slo}"][:-1]
        assert [flat(r["expr"], parens=parens) for r in windows] == [
            flat(r["expr"], parens=parens) for r in mine
        ]
        meta = sloth[f"sloth-slo-meta-recordings-svc01-{slo}"]
        assert [flat(r["expr"]) for r in meta] == [
            flat(r["expr"]) for r in ours[f"sloth-slo-meta-recordings-svc01-{slo}"]
        ]


def test_period_rule_is_the_exact_count_by_design() -> None:
    """Sloth averages 5m ratios over 30d; reliant divides the 30d counts (the queries at 30d)."""
    sloth = by_group(yaml.safe_load(OUT_BASE.read_text()))["sloth-slo-sli-recordings-svc01-slo1"]
    ours = by_group(rules_of(sloth_file()))["sloth-slo-sli-recordings-svc01-slo1"]
    assert "sum_over_time" in sloth[-1]["expr"]
    expected = (
        '(sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[30d])))'
        '/(sum(rate(http_request_duration_seconds_count{job="myservice"}[30d])))'
    )
    assert ("slo:sli_error:ratio_rate30d", expected) == (ours[-1]["record"], flat(ours[-1]["expr"]))


def test_alert_thresholds_match_sloth_numerically() -> None:
    """Page and ticket alerts test the same windows against the same factors and budget."""
    sloth = by_group(yaml.safe_load(OUT_BASE.read_text()))["sloth-slo-alerts-svc01-slo1"]
    ours = by_group(rules_of(sloth_file()))["sloth-slo-alerts-svc01-slo1"]
    for theirs, mine in zip(sloth, ours, strict=True):
        expected, actual = thresholds(theirs["expr"]), thresholds(mine["expr"])
        assert [m for m, _, _ in expected] == [m for m, _, _ in actual]
        assert [pytest.approx((f, b), rel=1e-12) for _, f, b in expected] == [
            (f, b) for _, f, b in actual
        ]


@pytest.mark.parametrize(
    ("period", "factors"),
    [
        # out-base-28d.yaml.tpl (sloth generate --default-slo-period 28d)
        ("28d", [13.44, 5.6000000000000005, 2.8000000000000003, 0.9333333333333333]),
        ("30d", [14.4, 6, 3, 1]),
    ],
)
def test_period_scales_the_thresholds_as_sloth(period: str, factors: list[float]) -> None:
    """The workbook's budget percents give Sloth's factors for 28 and 30 days."""
    rules = by_group(rules_of(sloth_file(), period=period))
    page, ticket = rules["sloth-slo-alerts-svc01-slo1"]
    found = [f for _, f, _ in thresholds(page["expr"]) + thresholds(ticket["expr"])]
    assert [pytest.approx(f, rel=1e-12) for f in factors for _ in (0, 1)] == found
    days = rules["sloth-slo-meta-recordings-svc01-slo1"][2]
    assert f"vector({period[:-1]})" == days["expr"]


def test_custom_windows_match_sloths_7d_windows_file() -> None:
    """Sloth's 7d windows file written as alerting.windows gives its factors and records."""
    windows = [
        {"severity": "page", "long": "1h", "short": "5m", "burn_rate": 13.44},
        {"severity": "page", "long": "6h", "short": "30m", "burn_rate": 3.5},
        {"severity": "ticket", "long": "1d", "short": "2h", "burn_rate": 1.4000000000000001},
        {"severity": "ticket", "long": "3d", "short": "6h", "burn_rate": 0.98},
    ]
    document = convert(sloth_file(), Location("in-base.yaml", 1), period="7d")[0]
    spec = {**document.spec, "alerting": {**document.spec["alerting"], "windows": windows}}
    groups = rule_groups([Source(Document("SLO", "slo1", spec), VERSION)])
    rules = by_group(yaml.safe_load(dump(groups)))
    sli = [r["record"] for r in rules["sloth-slo-sli-recordings-svc01-slo1"]]
    assert "slo:sli_error:ratio_rate1w" == sli[-1]
    page, ticket = rules["sloth-slo-alerts-svc01-slo1"]
    found = [f for _, f, _ in thresholds(page["expr"]) + thresholds(ticket["expr"])]
    assert [w["burn_rate"] for w in windows for _ in (0, 1)] == found


def test_one_disabled_alert_keeps_the_others_windows() -> None:
    """A disabled ticket alert leaves the two page windows, written out for the period."""
    slo = {
        "name": "a",
        "objective": 99,
        "sli": {"events": EVENTS},
        "alerting": {"ticket_alert": {"disable": True}},
    }
    document = convert_one(slo)
    assert workbook_windows("30d", "page") == document.spec["alerting"]["windows"]
    assert [
        {"severity": "page", "long": "1h", "short": "5m", "burn_rate": 14.4},
        {"severity": "page", "long": "6h", "short": "30m", "burn_rate": 6.0},
    ] == document.spec["alerting"]["windows"]


def test_both_alerts_disabled_write_no_alert_group() -> None:
    """Like Sloth's slo02: recordings and meta recordings only."""
    names = [g["name"] for g in rules_of(sloth_file())["groups"]]
    assert ["sloth-slo-sli-recordings-svc01-slo02", "sloth-slo-meta-recordings-svc01-slo02"] == [
        n for n in names if n.endswith("slo02")
    ]


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        (
            {"name": "a", "objective": 99, "sli": {"raw": {"error_ratio_query": "x"}}},
            "sloth.yaml:1: Sloth SLO a: slos[0].sli.raw: raw error-ratio queries are not supported",
        ),
        (
            {"name": "a", "objective": 99, "sli": {"plugin": {"id": "x"}}},
            "sloth.yaml:1: Sloth SLO a: slos[0].sli.plugin: SLI plugins are not supported",
        ),
        (
            {"name": "a", "objective": 99, "sli": {"events": EVENTS}, "budget": 1},
            "sloth.yaml:1: Sloth SLO a: slos[0].budget: unknown key",
        ),
        (
            {
                "name": "a",
                "objective": 99,
                "sli": {"events": EVENTS},
                "alerting": {"page_alert": {"annotations": {"x": "y"}}},
            },
            "slos[0].alerting.page_alert.annotations: per-severity annotations are not supported",
        ),
        (
            {"name": "Bad Name", "objective": 99, "sli": {"events": EVENTS}},
            "sloth.yaml:1: SLO Bad Name: metadata.name: should be a name of lowercase",
        ),
        (
            {"name": "a", "objective": 100, "sli": {"events": EVENTS}},
            "SLO a: spec.objective: should be less than 100",
        ),
    ],
)
def test_unsupported_constructs_name_file_slo_and_field(slo: dict[str, Any], message: str) -> None:
    """Each problem starts with file:line, then the SLO and the field."""
    with pytest.raises(SpecError) as caught:
        convert_one(slo)
    assert any(p.startswith(message) or message in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_problems_point_at_the_line_of_the_field() -> None:
    """With the YAML node tree, a problem carries the line of its own key."""
    text = IN_BASE.read_text()
    root = yaml.compose(text)
    with pytest.raises(SpecError) as caught:
        convert(yaml.safe_load(text), Location("in-base.yaml", 2), root)
    assert [
        "in-base.yaml:34: Sloth SLO slo02: slos[1].sli.raw: raw error-ratio queries are not "
        "supported: reliant counts bad and total events exactly; give sli.events with "
        "error_query and total_query"
    ] == caught.value.problems


def test_slo_plugins_and_missing_service_are_refused() -> None:
    """File-level problems name the file and the key."""
    data = {"version": VERSION, "slos": [], "slo_plugins": {"chain": [{"id": "x"}]}}
    with pytest.raises(SpecError) as caught:
        convert(data, Location("s.yaml", 1))
    assert [
        "s.yaml:1: Sloth file: service: missing: the service the SLOs belong to",
        "s.yaml:1: Sloth file: slo_plugins: SLO plugins are not supported by reliant",
        "s.yaml:1: Sloth file: slos: should be a non-empty list of SLOs",
    ] == caught.value.problems
