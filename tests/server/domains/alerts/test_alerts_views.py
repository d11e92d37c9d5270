"""The alerts and silences pages: listing, filtering, one-click silences, the silence form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from alerts_helpers import Bench
from fastapi.testclient import TestClient
from server_helpers import ADMIN, START, token_for

from reliant.server.domains.alerts import fingerprint

#: Pages and forms are UI rendering: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

PAGE = {"alertname": "Down", "severity": "page", "service": "payments"}
TICKET = {"alertname": "Slow", "severity": "ticket", "service": "search"}
HTMX = {"HX-Request": "true"}


def _login(client: TestClient, token: str = ADMIN) -> str:
    """Sign in through the form; return the session's CSRF token."""
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == response.status_code, response.text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/alerts").text)
    assert found is not None
    return found[1]


def _operator(client: TestClient, anonymous: TestClient) -> str:
    return _login(anonymous, token_for(client, "operator", name="olga"))


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="alert-row [^"]+" data-fingerprint="([0-9a-f]+)">', html)


def _silences(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/api/v1/silences")
    assert 200 == response.status_code, response.text
    return list(response.json()["items"])


def _audit(client: TestClient, action: str) -> list[tuple[str, str]]:
    items = client.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    return [(r["actor"], r["target_id"]) for r in items if r["action"] == action]


def test_the_page_lists_pending_and_firing_alerts(
    bench: Bench, client: TestClient, anonymous: TestClient
) -> None:
    """Active alerts, newest first, with labels, state, since and source; resolved ones are
    left out; viewers get no Silence button."""
    bench.report(PAGE, annotations={"summary": "payments is down"})
    bench.clock.advance(60)
    bench.report(TICKET, for_seconds=600)
    bench.report({"alertname": "Gone", "severity": "page"})
    bench.report({"alertname": "Gone", "severity": "page"}, active=False)
    _login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/alerts").text
    assert [fingerprint(TICKET), fingerprint(PAGE)] == _rows(html)
    down = html[html.index(f'data-fingerprint="{fingerprint(PAGE)}"') :]
    down = down[: down.index("</tr>")]
    assert "pill-critical" in down
    assert "</span>firing</span>" in down
    assert (
        '<span class="chip label label-name"><span class="muted">alertname=</span>Down</span>'
        in down
    )
    assert '<span class="muted">service=</span>payments</span>' in down
    assert "payments is down" in down
    assert f'firing <time datetime="2027-01-15T08:00:00Z" data-ts="{START}"' in down
    assert "test</td>" in down
    slow = html[html.index(f'data-fingerprint="{fingerprint(TICKET)}"') :]
    assert "</span>pending</span>" in slow[: slow.index("</tr>")]
    assert "fires after 10 min" in slow
    assert "silence-form" not in html
    assert '<a href="/alerts" aria-current="page">Alerts</a>' in html


def test_the_filter_takes_alertmanager_matchers(bench: Bench, anonymous: TestClient) -> None:
    """The filter box narrows by matchers; a bad matcher is reported and ignored; a state
    can be chosen instead of pending-or-firing."""
    bench.report(PAGE)
    bench.report(TICKET)
    _login(anonymous)
    assert [fingerprint(PAGE)] == _rows(anonymous.get('/alerts?filter=severity="page"').text)
    both = anonymous.get('/alerts?filter=service=~"pay.*|sea.*", alertname!="x"').text
    assert 2 == len(_rows(both))
    assert [] == _rows(anonymous.get('/alerts?filter=severity="none"').text)
    bad = anonymous.get("/alerts?filter=severity").text
    assert "Filter ignored: &#39;severity&#39;: &#39;severity&#39; is not a matcher" in bad
    assert 2 == len(_rows(bad))
    bench.report(PAGE, active=False)
    assert [fingerprint(PAGE)] == _rows(anonymous.get("/alerts?state=resolved").text)
    assert "No pending or firing alerts" not in anonymous.get("/alerts").text
    assert (
        "No matching pending or firing alerts."
        in anonymous.get('/alerts?filter=severity="none"').text
    )


def test_an_slo_alert_links_to_its_slo(bench: Bench, anonymous: TestClient) -> None:
    """Alerts with Sloth's labels link to the SLO's page."""
    bench.report({**PAGE, "sloth_slo": "availability", "sloth_service": "payments"})
    _login(anonymous)
    html = anonymous.get("/alerts").text
    assert '<a href="/slos/payments/availability">SLO availability →</a>' in html


def test_an_operator_silences_an_alert_in_one_click(
    bench: Bench, client: TestClient, anonymous: TestClient
) -> None:
    """The button silences exactly the alert's labels for the chosen time, through the API's
    use case (audited, an event), and htmx gets the row back marked silenced."""
    bench.report(PAGE)
    bench.report(TICKET)
    csrf = _operator(client, anonymous)
    html = anonymous.get("/alerts").text
    assert '<option value="2h" selected>2h</option>' in html
    assert f'hx-post="/alerts/{fingerprint(PAGE)}/silence" hx-target="closest tr"' in html
    response = anonymous.post(
        f"/alerts/{fingerprint(PAGE)}/silence",
        data={"duration": "8h"},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )
    assert 200 == response.status_code, response.text
    row = response.text
    assert row.lstrip().startswith('<tr class="alert-row level-unknown"')
    assert "</span>silenced</span>" in row
    assert 'silenced until <time datetime="2027-01-15T16:00:00Z"' in row
    assert "silence-form" not in row
    [made] = _silences(client)
    assert sorted(['alertname="Down"', 'service="payments"', 'severity="page"']) == sorted(
        made["matchers"]
    )
    assert ("silenced from the UI by olga", START, START + 8 * 3600, "olga") == (
        made["comment"],
        made["starts_at"],
        made["ends_at"],
        made["created_by"],
    )
    assert [("olga", made["id"])] == _audit(client, "silence.create")
    events = client.get("/api/v1/events", params={"kind": "silence.created"}).json()["items"]
    assert [fingerprint(PAGE)] == [e["attributes"]["alert"] for e in events]
    page = anonymous.get("/alerts").text
    assert 1 == page.count("silence-form")  # the other alert keeps its button


def test_a_plain_form_post_silences_and_returns_to_the_list(
    bench: Bench, client: TestClient, anonymous: TestClient
) -> None:
    """Without htmx the form posts its CSRF field and the browser goes back to the list."""
    bench.report(PAGE)
    csrf = _operator(client, anonymous)
    response = anonymous.post(
        f"/alerts/{fingerprint(PAGE)}/silence",
        data={"duration": "1h", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert (303, "/alerts") == (response.status_code, response.headers["location"])
    assert START + 3600 == _silences(client)[0]["ends_at"]
    assert "</span>silenced</span>" in anonymous.get("/alerts").text


def test_silencing_is_refused_to_viewers_without_csrf_and_for_bad_input(
    bench: Bench, client: TestClient, anonymous: TestClient
) -> None:
    """Viewers get 403; a post without the CSRF token 403; an unknown duration 422; an
    unknown alert 404 (a problem document for htmx, which shows its detail)."""
    bench.report(PAGE)
    path = f"/alerts/{fingerprint(PAGE)}/silence"
    csrf = _login(anonymous, token_for(client, "viewer", name="vic"))
    viewer = anonymous.post(path, data={"duration": "2h", "csrf_token": csrf})
    assert 403 == viewer.status_code
    assert "This needs the operator role" in viewer.text
    csrf = _operator(client, anonymous)
    assert 403 == anonymous.post(path, data={"duration": "2h"}, headers=HTMX).status_code
    forged = anonymous.post(path, data={"duration": "2h", "csrf_token": "forged"})
    assert (403, True) == (forged.status_code, "Form expired" in forged.text)
    odd = anonymous.post(path, data={"duration": "7d", "csrf_token": csrf})
    assert 422 == odd.status_code
    missing = anonymous.post(
        "/alerts/0123456789abcdef/silence",
        data={"duration": "2h"},
        headers={**HTMX, "X-CSRF-Token": csrf},
    )
    assert (404, "application/problem+json") == (
        missing.status_code,
        missing.headers["content-type"],
    )
    assert 404 == anonymous.post("/alerts/nope/silence", data={"csrf_token": csrf}).status_code
    assert [] == _silences(client)


def test_label_values_render_as_text(bench: Bench, anonymous: TestClient) -> None:
    """Markup in labels and annotations is escaped, never markup."""
    bench.report(
        {"alertname": "X", "team": '<script>alert("x")</script>', "<b>k</b>": "v"},
        annotations={"summary": '<img src=x onerror="alert(1)">'},
    )
    _login(anonymous)
    html = anonymous.get("/alerts").text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "team=</span>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>" in html
    assert "&lt;b&gt;k&lt;/b&gt;=" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


# -- silences ----------------------------------------------------------------------------


def _create(client: TestClient, csrf: str, **form: str) -> Any:
    return client.post("/silences", data={"csrf_token": csrf, **form}, follow_redirects=False)


def test_the_silences_page_lists_active_pending_and_expired(
    bench: Bench, client: TestClient, anonymous: TestClient
) -> None:
    """Each section lists its silences with matchers, times, author and comment; active
    ones say how many alerts they match now; viewers get neither form nor buttons."""
    bench.report(PAGE)
    for body in (
        {"matchers": ['service="payments"'], "duration": "1h", "comment": "now"},
        {"matchers": ['service="search"'], "starts_at": START + 600, "duration": "1h",
         "comment": "later"},
        {"matchers": ['service="old"'], "duration": "1m", "comment": "before"},
    ):  # fmt: skip
        assert 201 == client.post("/api/v1/silences", json=body).status_code, body
    bench.clock.advance(120)
    _login(anonymous, token_for(client, "viewer", name="vic"))
    html = anonymous.get("/silences").text
    active = html[html.index("<h2>Active</h2>") : html.index("<h2>Pending</h2>")]
    pending = html[html.index("<h2>Pending</h2>") : html.index("<h2>Expired</h2>")]
    expired = html[html.index("<h2>Expired</h2>") :]
    assert '<code class="matcher">service=&#34;payments&#34;</code>' in active
    assert '<td class="num">1</td>' in active
    assert "bootstrap-admin" in active
    assert "later" in pending
    assert "before" in expired
    assert "New silence" not in html
    assert "Expire</button>" not in html


def test_an_operator_creates_a_silence_from_the_form(
    client: TestClient, anonymous: TestClient
) -> None:
    """Matchers one per line and a duration, or an end time in UTC; audited as the API."""
    csrf = _operator(client, anonymous)
    assert "New silence" in anonymous.get("/silences").text
    response = _create(
        anonymous,
        csrf,
        matchers='service="payments"\n\n severity=~"page|ticket" \n',
        duration="90m",
        comment="database upgrade",
    )
    assert 303 == response.status_code, response.text
    [made] = _silences(client)
    assert response.headers["location"] == f"/silences?created={made['id']}"
    assert (['service="payments"', 'severity=~"page|ticket"'], START + 5400, "olga") == (
        made["matchers"],
        made["ends_at"],
        made["created_by"],
    )
    assert f"Silence {made['id']} created." in anonymous.get(response.headers["location"]).text
    until = _create(
        anonymous, csrf, matchers='alertname="X"', ends_at="2027-01-15T10:30", comment="c"
    )
    assert 303 == until.status_code, until.text
    ends = {tuple(m["matchers"]): m["ends_at"] for m in _silences(client)}
    assert START + 9000 == ends[('alertname="X"',)]
    assert 2 == len(_audit(client, "silence.create"))


def test_form_errors_show_inline_and_keep_what_was_typed(
    client: TestClient, anonymous: TestClient
) -> None:
    """A bad matcher, a missing comment, a bad duration or end: 422 with the reason."""
    csrf = _operator(client, anonymous)
    bad = _create(anonymous, csrf, matchers="severity", duration="2h", comment="why")
    assert 422 == bad.status_code
    assert "Not created: body.matchers[0]:" in bad.text
    assert ">severity</textarea>" in bad.text
    nothing = _create(anonymous, csrf, matchers='a="b"', duration="2h", comment="")
    assert (422, True) == (nothing.status_code, "Not created: comment:" in nothing.text)
    odd = _create(anonymous, csrf, matchers='a="b"', duration="soon", comment="x")
    assert (422, True) == (odd.status_code, "Not created: body.duration:" in odd.text)
    when = _create(anonymous, csrf, matchers='a="b"', ends_at="tomorrow", comment="x")
    assert (422, True) == (when.status_code, "Not created: End: not a date and time." in when.text)
    past = _create(anonymous, csrf, matchers='a="b"', ends_at="2020-01-01T00:00", comment="x")
    assert (422, True) == (past.status_code, "ends_at: must be after" in past.text)
    empty = _create(anonymous, csrf, matchers="", duration="2h", comment="x")
    assert 422 == empty.status_code
    assert [] == _silences(client)


def test_an_operator_expires_a_silence(client: TestClient, anonymous: TestClient) -> None:
    """Expire ends it now, audited; viewers, forged posts and expired silences are refused."""
    body = {"matchers": ['service="payments"'], "duration": "1h", "comment": "now"}
    made = client.post("/api/v1/silences", json=body).json()
    path = f"/silences/{made['id']}/expire"
    csrf = _login(anonymous, token_for(client, "viewer", name="vic"))
    assert 403 == anonymous.post(path, data={"csrf_token": csrf}).status_code
    csrf = _operator(client, anonymous)
    html = anonymous.get("/silences").text
    assert f'action="{path}"' in html
    assert 'data-confirm="Expire this silence now?' in html
    assert 403 == anonymous.post(path, data={"csrf_token": "forged"}).status_code
    response = anonymous.post(path, data={"csrf_token": csrf}, follow_redirects=False)
    assert (303, f"/silences?expired={made['id']}") == (
        response.status_code,
        response.headers["location"],
    )
    assert ("expired", START) == (_silences(client)[0]["state"], _silences(client)[0]["ends_at"])
    assert [("olga", made["id"])] == _audit(client, "silence.expire")
    again = anonymous.post(path, data={"csrf_token": csrf})
    assert (409, True) == (again.status_code, "Cannot expire" in again.text)
    assert 404 == anonymous.post("/silences/nope/expire", data={"csrf_token": csrf}).status_code


def test_silence_text_renders_as_text(client: TestClient, anonymous: TestClient) -> None:
    """Markup in matchers and comments is escaped."""
    body = {"matchers": ['team="<script>x</script>"'], "duration": "1h", "comment": "<b>hi</b>"}
    assert 201 == client.post("/api/v1/silences", json=body).status_code
    _login(anonymous)
    html = anonymous.get("/silences").text
    assert "<script>x" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html


def test_the_pages_hold_no_inline_code(
    bench: Bench, client: TestClient, anonymous: TestClient
) -> None:
    """Both pages, with an alert and a silence and operator buttons, carry the UI's
    Content-Security-Policy and no inline script, style or event handler."""
    bench.report(PAGE)
    body = {"matchers": ['service="search"'], "duration": "1h", "comment": "c"}
    assert 201 == client.post("/api/v1/silences", json=body).status_code
    _operator(client, anonymous)
    for path in ("/alerts", "/silences"):
        response = anonymous.get(path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", response.text) is None
