"""Generating a postmortem from an incident: facts by hand, idempotence, refresh."""

from __future__ import annotations

from fastapi.testclient import TestClient
from postmortems_helpers import SLO, T0, events, generate, push, steady, the_incident

from reliant.testing import VirtualClock


def test_facts_match_the_hand_computed_figures(client: TestClient, clock: VirtualClock) -> None:
    """The worked example's facts, by hand.

    Times (T0 = impact start = the alert's startsAt): declared T0+120, acknowledged T0+300,
    mitigated T0+900, resolved T0+1800. TTD = 120 - 0 = 120 s; TTA = 300 - 120 = 180 s;
    TTM = 900 - 120 = 780 s; TTR = duration = 1800 - 120 = 1680 s.
    Window [T0, T0+1800): 180 buckets of 10 s, each 98 good + 2 bad: 360 bad of 18,000.
    The 30-day rolling period ending T0+1800 holds T0-5400..T0+1800: 540 buckets of 100
    calls before plus the window's 18,000 = 72,000 calls; a 99 % objective allows
    1 % of them: 720 bad events. Consumed = 360 / 720 = 50 %.
    """
    incident = the_incident(client, clock)
    made = generate(client, incident)
    facts = made["facts"]
    assert (T0, T0 + 120.0, T0 + 1800.0) == (
        facts["impact_start"],
        facts["declared_at"],
        facts["resolved_at"],
    )
    assert (120.0, 180.0, 780.0, 1680.0, 1680.0) == (
        facts["time_to_detect"],
        facts["time_to_acknowledge"],
        facts["time_to_mitigate"],
        facts["time_to_resolve"],
        facts["duration"],
    )
    [budget] = facts["slos"]
    assert (SLO, 360, 18000, 720.0, 50.0) == (
        budget["name"],
        budget["bad"],
        budget["total"],
        round(budget["allowed"], 6),
        round(budget["consumed_percent"], 6),
    )
    assert (360, 18000) == (facts["requests_failed"], facts["requests_total"])
    assert {"time_to_detect", "time_to_acknowledge", "budget_consumed"} <= set(made["definitions"])
    assert ("draft", 1, f"/api/v1/postmortems/{made['id']}") == (
        made["state"],
        made["version"],
        made["url"],
    )


def test_the_draft_is_built_from_the_incident(client: TestClient, clock: VirtualClock) -> None:
    """Title, summary, impact and detection text, the timeline with lifecycle and alert
    entries, a required SEV2 due 5 business days after a Friday resolution, and the burn
    chart's range: an hour before the impact to an hour after the resolution, cut at now."""
    incident = the_incident(client, clock)
    made = generate(client, incident)
    assert "Postmortem: Checkout errors" == made["title"]
    assert made["summary"].startswith(f"SEV2 incident #{incident} affecting checkout")
    assert "SLO checkout-availability consumed 50.0 % of its error budget." in made["impact"]
    assert made["detection"].startswith("Detected by the alert CheckoutErrors")
    kinds = [e["kind"] for e in made["timeline"]]
    for kind in ("alert.firing", "incident.declared", "incident.acknowledged", "incident.resolved"):
        assert kind in kinds
    assert [e["at"] for e in made["timeline"]] == sorted(e["at"] for e in made["timeline"])
    assert (True, "2027-01-22") == (made["required"], made["due"])
    assert "SEV2 ≤ SEV2" in made["required_reason"]
    assert "checkout-availability consumed 50.0 % of its budget (> 20 %)" in made["required_reason"]
    chart = made["facts"]["chart"]
    assert (T0 - 3600.0, T0 + 3600.0) == (chart["since"], chart["until"])  # cut at now
    assert [SLO] == [s["name"] for s in chart["series"]]


def test_a_second_generation_is_a_conflict_naming_the_first(
    client: TestClient, clock: VirtualClock
) -> None:
    """POST twice: 409 with the existing postmortem's URL; one postmortem.created event."""
    incident = the_incident(client, clock)
    made = generate(client, incident)
    again = client.post(f"/api/v1/incidents/{incident}/postmortem")
    assert (409, made["url"], made["id"]) == (
        again.status_code,
        again.json()["url"],
        again.json()["postmortem"],
    )
    assert made["url"] in again.json()["detail"]
    assert ["postmortem.created"] == [e["kind"] for e in events(client)]
    by_incident = client.get(f"/api/v1/incidents/{incident}/postmortem")
    assert (200, made["id"]) == (by_incident.status_code, by_incident.json()["id"])


def test_unknown_incidents_are_not_found(client: TestClient) -> None:
    """Generating for, or reading the postmortem of, an unknown incident is a 404."""
    assert 404 == client.post("/api/v1/incidents/99/postmortem").status_code
    assert 404 == client.get("/api/v1/incidents/99/postmortem").status_code


def test_refresh_recomputes_facts_and_keeps_edited_text(
    client: TestClient, clock: VirtualClock
) -> None:
    """After an edit, refresh changes the facts (more failures arrived late) but not the
    edited summary; its version grows and it says what it changed."""
    incident = the_incident(client, clock, bad=1)
    made = generate(client, incident)
    assert 25.0 == round(made["facts"]["slos"][0]["consumed_percent"], 6)  # 180 of 720
    edited = client.put(
        f"/api/v1/postmortems/{made['id']}",
        json={"version": 1, "summary": "Our words.", "root_causes": ["a retry storm"]},
    )
    assert (200, 2) == (edited.status_code, edited.json()["version"])
    push(client, steady(T0, T0 + 1800, good=0, bad=1))  # late points: 180 more failures
    refreshed = client.post(f"/api/v1/postmortems/{made['id']}/refresh")
    assert 200 == refreshed.status_code, refreshed.text
    body = refreshed.json()
    assert ("Our words.", ["a retry storm"], 3) == (
        body["summary"],
        body["root_causes"],
        body["version"],
    )
    # 360 bad of the 72,180 calls of the period: 360 / 721.8 = 49.875...%
    assert 360 == body["facts"]["slos"][0]["bad"]
    assert 49.875 == round(body["facts"]["slos"][0]["consumed_percent"], 3)
    updated = [e for e in events(client) if e["kind"] == "postmortem.updated"]
    assert [["summary", "root_causes"], ["facts"]] == [e["attributes"]["changed"] for e in updated]
