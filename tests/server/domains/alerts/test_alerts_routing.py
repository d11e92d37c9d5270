"""The routing tree: matching with continue, inheritance, group labels, validation paths."""

from __future__ import annotations

from typing import Any

import pytest

from reliant.server.domains.alerts.errors import ConfigError
from reliant.server.domains.alerts.routing import (
    DEFAULT_DOCUMENT,
    compile_config,
    receivers_of,
)

TREE: dict[str, Any] = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "group_wait": "10s",
        "routes": [
            {
                "matchers": ['severity="page"'],
                "receiver": "pager",
                "continue": True,
                "group_interval": "1m",
                "routes": [{"matchers": ['team="db"'], "receiver": "dba", "group_by": ["..."]}],
            },
            {"matchers": ['service=~"pay.*"'], "receiver": "payments"},
            {"matchers": ['service="checkout"'], "receiver": "checkout"},
        ],
    },
    "receivers": [{"name": n} for n in ("default", "pager", "dba", "payments", "checkout")],
}


def names(labels: dict[str, str]) -> list[str]:
    config = compile_config(TREE)
    return [r.receiver for r in config.route.match(labels)]


def test_first_matching_child_wins() -> None:
    """Without continue, the first matching sibling takes the alert."""
    assert ["payments"] == names({"alertname": "X", "service": "payments"})


def test_continue_lets_later_siblings_match_too() -> None:
    """A page for payments goes to the pager and, continuing, to payments."""
    assert ["pager", "payments"] == names(
        {"alertname": "X", "severity": "page", "service": "payments"}
    )


def test_deepest_match_takes_the_alert_instead_of_its_parent() -> None:
    """A db page goes to the dba child, not to the pager route itself."""
    assert ["dba", "checkout"] == names(
        {"alertname": "X", "severity": "page", "team": "db", "service": "checkout"}
    )


def test_unmatched_alerts_stay_at_the_root() -> None:
    """No child matches: the root's receiver."""
    assert ["default"] == names({"alertname": "X"})


def test_options_are_inherited_unless_set() -> None:
    """group_by and timings come from the parent; "..." means every label."""
    config = compile_config(TREE)
    pager = config.route.routes[0]
    dba = pager.routes[0]
    assert (("alertname",), 10.0, 60.0, 4 * 3600.0) == (
        pager.group_by,
        pager.group_wait,
        pager.group_interval,
        pager.repeat_interval,
    )
    assert (True, 60.0, {"a": "1", "alertname": "X"}) == (
        dba.group_by_all,
        dba.group_interval,
        dba.group_labels({"a": "1", "alertname": "X"}),
    )


def test_route_keys_follow_alertmanager() -> None:
    """The key is the path of matcher sets; ids add each route's index."""
    config = compile_config(TREE)
    dba = config.route.routes[0].routes[0]
    assert ('{}/{severity="page"}/{team="db"}', '{}/{severity="page"}/0/{team="db"}/0') == (
        dba.key,
        dba.id,
    )


def test_group_labels_take_only_present_labels() -> None:
    """Grouping by labels an alert lacks leaves them out of the group's labels."""
    config = compile_config(DEFAULT_DOCUMENT)
    assert {"alertname": "X", "severity": "page"} == config.route.group_labels(
        {"alertname": "X", "severity": "page", "instance": "a"}
    )


def test_receivers_of_dedupes_in_order() -> None:
    """Two routes to one receiver name it once."""
    doc = {
        "route": {
            "receiver": "a",
            "routes": [
                {"matchers": ["x=1"], "receiver": "b", "continue": True},
                {"matchers": ["x=1"], "receiver": "b"},
            ],
        },
        "receivers": [{"name": "a"}, {"name": "b"}],
    }
    assert ["b"] == receivers_of(compile_config(doc), {"alertname": "A", "x": "1"})


def test_time_intervals_mute_and_activate_routes() -> None:
    """mute_time_intervals mute inside them; active_time_intervals mute outside them."""
    doc = {
        "route": {
            "receiver": "a",
            "routes": [
                {"matchers": ["x=1"], "mute_time_intervals": ["nights"]},
                {"matchers": ["x=2"], "active_time_intervals": ["nights"]},
            ],
        },
        "receivers": [{"name": "a"}],
        "time_intervals": [
            {
                "name": "nights",
                "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "06:00"}]}],
            }
        ],
    }
    config = compile_config(doc)
    muted, active = config.route.routes
    night, day = 1_800_000_000.0 - 8 * 3600, 1_800_000_000.0  # 00:00 and 08:00 UTC
    assert (["nights"], [], [], ["nights"]) == (
        config.time_muted(muted, night),
        config.time_muted(muted, day),
        config.time_muted(active, night),
        config.time_muted(active, day),
    )


def test_the_default_document_compiles() -> None:
    """The built-in document is valid and ships the page-inhibits-ticket rule."""
    config = compile_config(DEFAULT_DOCUMENT)
    assert (("default",), 1, ("sloth_id",)) == (
        config.receivers,
        len(config.inhibit_rules),
        config.inhibit_rules[0].equal,
    )


def _with(route: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"route": route, "receivers": [{"name": "a"}], **top}


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        (_with({"receiver": "nope"}), ("route", "receiver"), "unknown receiver 'nope'"),
        (
            _with({"receiver": "a", "routes": [{"receiver": "b"}]}),
            ("route", "routes", 0, "receiver"),
            "unknown receiver",
        ),
        (
            _with({"receiver": "a", "routes": [{"matchers": ["ok=1", "bad"]}]}),
            ("route", "routes", 0, "matchers", 1),
            "is not a matcher",
        ),
        (
            _with({"receiver": "a", "routes": [{"routes": [{"group_wait": "soon"}]}]}),
            ("route", "routes", 0, "routes", 0, "group_wait"),
            "expected a duration",
        ),
        (
            _with({"receiver": "a", "group_interval": "0s"}),
            ("route", "group_interval"),
            "longer than 0s",
        ),
        (_with({"receiver": "a", "matchers": ["x=1"]}), ("route", "matchers"), "root route"),
        (_with({"receiver": "a", "group_by": ["...", "x"]}), ("route", "group_by"), "only entry"),
        (
            _with({"receiver": "a", "routes": [{"mute_time_intervals": ["nope"]}]}),
            ("route", "routes", 0, "mute_time_intervals", 0),
            "unknown time interval",
        ),
        (_with({"receiver": "a", "colour": "red"}), ("route", "colour"), "unknown field"),
        (
            _with({"receiver": "a"}, inhibit_rules=[{"source_matchers": ["x=~("]}]),
            ("inhibit_rules", 0, "source_matchers", 0),
            "regular expression",
        ),
        ({"receivers": []}, ("route",), "required"),
    ],
)
def test_invalid_documents_name_the_path(
    doc: dict[str, Any], path: tuple[Any, ...], message: str
) -> None:
    """Unknown receivers, bad matchers, bad durations, unknown fields: errors at their path."""
    with pytest.raises(ConfigError, match=message) as caught:
        compile_config(doc)
    assert path == caught.value.path
