"""The SLO pages: the list (budget, burn rates, alert state, sorting) and one SLO's page."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import ADMIN, token_for
from slo_helpers import T0, push, put, slo, steady

from reliant.server.db import transaction
from reliant.server.domains.slo import evaluate_all

#: Pages are UI rendering: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

PROMQL = {
    "prometheus": {
        "error_query": "sum(rate(errors_total[{{.window}}]))",
        "total_query": "sum(rate(requests_total[{{.window}}]))",
    }
}


def _login(client: TestClient, token: str = ADMIN) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == response.status_code, response.text


def _seed(client: TestClient) -> None:
    """Three SLOs of one operation failing 1% of its calls for two hours: 99.9% (budget
    spent ten times over), 98% (half left) and 90% (nine tenths left)."""
    put(client, "beta", slo(objective=99.9))
    put(client, "gamma", slo(objective=98))
    put(client, "alpha", slo(objective=90))
    push(client, steady(T0 - 7200, T0, good=99, bad=1))


def _evaluate(app: FastAPI) -> None:
    """One evaluation cycle at T0 reporting to the real alerts domain."""
    with transaction(app.state.sessions) as session:
        evaluate_all(session, float(T0))


def _order(html: str) -> list[str]:
    return re.findall(r'<tr class="row-\w+" data-slo="([^"]+)">', html)


def _chart(html: str, name: str) -> dict[str, Any]:
    found = re.search(rf'id="chart-{name}" data-chart="([^"]*)"', html)
    assert found is not None, f"no {name} chart"
    value: dict[str, Any] = json.loads(html_lib.unescape(found[1]))
    return value


def test_the_list_shows_budget_burn_rates_and_alert_state(
    client: TestClient, anonymous: TestClient
) -> None:
    """Each SLO with its service, objective, window, SLI kind, budget left, each condition's
    burn rates against its threshold (over it: highlighted) and whether it pages."""
    _seed(client)
    _login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/slos").text
    beta = html[html.index('data-slo="beta"') :]
    beta = beta[: beta.index("</tr>")]
    assert '<a class="strong slo-name" href="/slos/checkout/beta">beta</a>' in beta
    assert '<a href="/services/checkout">checkout</a>' in beta
    assert "99.9%" in beta
    assert "rolling 30d" in beta
    assert '<span class="chip">ratio</span>' in beta
    assert '<span class="budget-value">-900.0%</span>' in beta
    assert re.search(
        r'<span class="burn-window">6h/30m</span>\s*<span class="burn-rate burn-over">10×</span>',
        beta,
    )
    assert re.search(r'<span class="burn-window">1h/5m</span>\s*<span class="burn-rate">10×', beta)
    assert "≥ 14.4×" in beta
    assert "paging</span>" in beta
    alpha = html[html.index('data-slo="alpha"') :]
    assert '<span class="budget-value">90.0%</span>' in alpha[: alpha.index("</tr>")]
    assert "not firing</span>" in alpha[: alpha.index("</tr>")]


def test_the_list_sorts_by_budget_remaining(client: TestClient, anonymous: TestClient) -> None:
    """By name by default; by budget left, least first, then the other way round."""
    _seed(client)
    _login(anonymous)
    assert ["alpha", "beta", "gamma"] == _order(anonymous.get("/slos").text)
    by_budget = anonymous.get("/slos?sort=budget").text
    assert ["beta", "gamma", "alpha"] == _order(by_budget)
    assert 'href="/slos?sort=budget&amp;order=desc" aria-sort="ascending"' in by_budget
    assert ["alpha", "gamma", "beta"] == _order(anonymous.get("/slos?sort=budget&order=desc").text)
    assert 422 == anonymous.get("/slos?sort=nonsense").status_code


def test_the_list_filters_by_service_and_says_how_to_add_slos(
    client: TestClient, anonymous: TestClient
) -> None:
    """The service filter narrows the list; an empty list says how to declare SLOs."""
    _login(anonymous)
    assert "No SLOs yet" in anonymous.get("/slos").text
    put(client, "search-latency", slo(service="search"))
    put(client, "checkout-ok", slo())
    assert ["search-latency"] == _order(anonymous.get("/slos?service=search").text)
    assert "No SLO matches" in anonymous.get("/slos?service=nothing").text


def test_an_slo_page_explains_its_state_and_charts_it(
    client: TestClient, anonymous: TestClient
) -> None:
    """Objective, window and SLI in words, the budget with its forecast, the conditions, and
    two charts whose data travels in data attributes (no inline script)."""
    _seed(client)
    _login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/slos/checkout/gamma").text
    assert "98% over a rolling 30d window" in html
    assert "calls of charge that end in success" in html
    assert "50.0%" in html
    assert "The objective 98% over a rolling 30d window allows 2% of events to be bad" in html
    assert "At the last hour&#39;s rate (0.5×): <strong>runs out" in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert " style=" not in html
    assert "/static/uPlot.iife.min.js?v=" in html
    assert "/static/charts.js?v=" in html
    budget = _chart(html, "budget")
    assert ("%", ["budget remaining"]) == (budget["unit"], [s["label"] for s in budget["series"]])
    assert len(budget["times"]) == len(budget["series"][0]["values"]) > 200
    assert 50.0 == budget["series"][0]["values"][-1]
    assert 100.0 == budget["series"][0]["values"][0]
    burn = _chart(html, "burn")
    labels = [s["label"] for s in burn["series"]]
    assert ["1h burn rate", "6h burn rate", "1d burn rate", "3d burn rate"] == labels
    assert [14.4, 6.0, 3.0, 1.0] == [t["value"] for t in burn["thresholds"]]
    assert [0, 1, 2, 3] == [t["series"] for t in burn["thresholds"]]
    assert 0.5 == burn["series"][0]["values"][-1]
    assert "page 1h/5m: fires when both windows burn faster than 14.4x" in html


def test_an_slo_page_loads_its_alerts_from_the_alerts_pages(
    app: FastAPI, client: TestClient, anonymous: TestClient
) -> None:
    """The page fetches the alerts labelled with its name; they link back to it."""
    _seed(client)
    _evaluate(app)
    _login(anonymous)
    html = anonymous.get("/slos/checkout/beta").text
    found = re.search(r'id="slo-alerts" hx-get="([^"]+)" hx-trigger="load', html)
    assert found is not None
    url = html_lib.unescape(found[1])
    assert "/alerts?filter=sloth_slo%3D%22beta%22&filter=sloth_service%3D%22checkout%22" == url
    fragment = anonymous.get(url, headers={"HX-Request": "true"}).text
    assert "<html" not in fragment
    assert 2 == fragment.count('<a href="/slos/checkout/beta">SLO beta →</a>')
    assert "severity=</span>page" in fragment
    assert "severity=</span>ticket" in fragment
    assert "sloth_slo=</span>gamma" not in fragment


def test_a_promql_slo_page_says_prometheus_evaluates_it(
    client: TestClient, anonymous: TestClient
) -> None:
    """No budget or charts for a PromQL SLI: the reason, and still its alerts."""
    put(client, "prom", slo(sli=PROMQL))
    _login(anonymous)
    html = anonymous.get("/slos/checkout/prom").text
    assert "Not evaluated here" in html
    assert "reliant slo rules" in html
    assert "data-chart" not in html
    assert 'id="slo-alerts"' in html
    assert "not evaluated here" in anonymous.get("/slos").text


def test_unknown_slos_and_wrong_services_are_404(client: TestClient, anonymous: TestClient) -> None:
    """The service in the path must be the SLO's own."""
    put(client, "beta", slo())
    _login(anonymous)
    assert 200 == anonymous.get("/slos/checkout/beta").status_code
    wrong = anonymous.get("/slos/search/beta")
    assert 404 == wrong.status_code
    assert "No SLO named &#39;beta&#39; belongs to the service &#39;search&#39;" in wrong.text
    assert 404 == anonymous.get("/slos/checkout/nope").status_code


def test_text_from_the_spec_is_escaped(client: TestClient, anonymous: TestClient) -> None:
    """A description holding markup renders as text."""
    put(client, "beta", slo(description='<img src=x onerror="alert(1)">'))
    _login(anonymous)
    for path in ("/slos", "/slos/checkout/beta"):
        html = anonymous.get(path).text
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_the_pages_need_a_session_and_are_in_the_nav(anonymous: TestClient) -> None:
    """Without a session the pages send to the login form; signed in, the nav links them."""
    response = anonymous.get("/slos", follow_redirects=False)
    assert (303, "/login?next=/slos") == (response.status_code, response.headers["location"])
    _login(anonymous)
    html = anonymous.get("/slos").text
    assert '<a href="/slos" aria-current="page">SLOs</a>' in html
