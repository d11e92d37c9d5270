"""Inhibition rules (self-inhibition, equal labels, the default rule) and silences."""

from __future__ import annotations

import pytest

from reliant.server.domains.alerts.inhibit import DEFAULT_RULE, Inhibitor, parse_rules
from reliant.server.domains.alerts.labelsets import fingerprint
from reliant.server.domains.alerts.matchers import parse_matchers
from reliant.server.domains.alerts.silences import Silence, check_matchers, exact, silenced_by


def inhibitor(rules: list[dict[str, object]], *firing: dict[str, str]) -> Inhibitor:
    return Inhibitor(parse_rules(rules, ["inhibit_rules"]), [(fingerprint(f), f) for f in firing])


PAGE = {"alertname": "Burn", "severity": "page", "sloth_id": "api-avail"}
TICKET = {"alertname": "Burn", "severity": "ticket", "sloth_id": "api-avail"}
OTHER_TICKET = {"alertname": "Burn", "severity": "ticket", "sloth_id": "db-latency"}


def test_default_rule_page_inhibits_the_same_slos_ticket_only() -> None:
    """An SLO's page mutes that SLO's ticket, not another SLO's."""
    ih = inhibitor([DEFAULT_RULE], PAGE, TICKET, OTHER_TICKET)
    assert (fingerprint(PAGE), None, None) == (
        ih.inhibited_by(TICKET),
        ih.inhibited_by(OTHER_TICKET),
        ih.inhibited_by(PAGE),
    )


def test_default_rule_leaves_alerts_without_sloth_id_alone() -> None:
    """A page from elsewhere (no sloth_id) does not mute tickets that lack sloth_id."""
    page = {"alertname": "NodeDown", "severity": "page"}
    ticket = {"alertname": "DiskFilling", "severity": "ticket"}
    assert None is inhibitor([DEFAULT_RULE], page, ticket).inhibited_by(ticket)


def test_equal_labels_missing_on_both_sides_count_as_equal() -> None:
    """As Alertmanager: a label both lack is equal ("" == "")."""
    rule = {
        "source_matchers": ["severity=critical"],
        "target_matchers": ["severity=warning"],
        "equal": ["cluster"],
    }
    crit = {"alertname": "A", "severity": "critical"}
    warn = {"alertname": "B", "severity": "warning"}
    assert fingerprint(crit) == inhibitor([rule], crit, warn).inhibited_by(warn)


def test_an_alert_matching_both_sides_does_not_inhibit_itself() -> None:
    """Source and target both match "severity=~page|ticket": the alert is not self-muted."""
    rule = {
        "source_matchers": ['severity=~"page|ticket"'],
        "target_matchers": ['severity=~"page|ticket"'],
        "equal": ["sloth_id"],
    }
    ih = inhibitor([rule], PAGE)
    assert None is ih.inhibited_by(PAGE)


def test_two_sided_alerts_are_muted_only_by_one_sided_sources() -> None:
    """A target matching both sides is muted by a source matching only the source side."""
    rule = {
        "source_matchers": ['severity=~"page|critical"'],
        "target_matchers": ['severity=~"page|ticket"'],
        "equal": [],
    }
    critical = {"alertname": "C", "severity": "critical"}
    other_page = {"alertname": "P2", "severity": "page"}
    assert (None, fingerprint(critical)) == (
        inhibitor([rule], PAGE, other_page).inhibited_by(PAGE),
        inhibitor([rule], PAGE, critical).inhibited_by(PAGE),
    )


def test_silence_mutes_exactly_what_it_matches_while_active() -> None:
    """Active from starts_at (inclusive) to ends_at (exclusive), only for matching labels."""
    silence = Silence(
        id="s1", matchers=tuple(parse_matchers('service="api"')), starts_at=100.0, ends_at=200.0
    )
    api, db = {"alertname": "X", "service": "api"}, {"alertname": "X", "service": "db"}
    assert ([], ["s1"], ["s1"], [], []) == (
        silenced_by([silence], api, 99.9),
        silenced_by([silence], api, 100.0),
        silenced_by([silence], api, 199.9),
        silenced_by([silence], api, 200.0),
        silenced_by([silence], db, 150.0),
    )


def test_silence_matchers_must_not_all_match_empty() -> None:
    """A silence needs one matcher that does not match the empty string (as Alertmanager)."""
    with pytest.raises(ValueError, match="must not match the empty string"):
        check_matchers(['team=""', 'x=~".*"'])
    with pytest.raises(ValueError, match="at least one matcher"):
        check_matchers([])
    with pytest.raises(ValueError, match=r"matchers\[1\]"):
        check_matchers(['a="b"', "oops"])


def test_exact_matchers_select_only_that_label_set() -> None:
    """A silence made from an alert's labels matches it, and not a superset differing."""
    labels = {"alertname": "X", "path": 'a"b'}
    matchers = check_matchers(exact(labels))
    assert (True, False) == (
        all(m.matches(labels) for m in matchers),
        all(m.matches({**labels, "path": "other"}) for m in matchers),
    )
