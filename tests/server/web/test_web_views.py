"""The event stream page and the jobs page."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from server_helpers import START
from web_helpers import add_event, add_service, breaker_changed, login

from reliant.server.jobs import JobRun


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="ev ev-\w+" data-id="(\d+)">', html)


@pytest.mark.store_agnostic
def test_events_page_lists_events_newest_first(anonymous: TestClient) -> None:
    """The newest events come first, each with severity, service link, kind and details."""
    add_service(anonymous, "payments")
    first = add_event(anonymous, "deploy.finished", service="payments", attributes={"v": "1.2"})
    second = breaker_changed(anonymous, "payments", "db", "open")
    login(anonymous)
    html = anonymous.get("/events").text
    ids = _rows(html)
    assert [str(second), str(first)] == ids[:2]
    assert '<a href="/services/payments">payments</a>' in html
    assert '<span class="sev sev-warning">warning</span>' in html
    assert '<span class="kv-key">name</span>=<span class="kv-value">db</span>' in html


@pytest.mark.store_agnostic
def test_events_page_follows_the_stream_from_the_newest_id(anonymous: TestClient) -> None:
    """The table names the SSE stream, with the filters, and the id to follow from."""
    add_service(anonymous, "payments")
    newest = add_event(anonymous, "deploy.finished", service="payments")
    login(anonymous)
    html = anonymous.get("/events?service=payments&kind=deploy.*&severity=info").text
    assert (
        'data-event-stream="/api/v1/events/stream?service=payments&amp;kind=deploy.%2A'
        '&amp;severity=info"' in html
    )
    assert f'data-after="{newest}"' in html
    assert 'data-stream-toggle="event-stream"' in html


@pytest.mark.store_agnostic
def test_events_page_filters(anonymous: TestClient) -> None:
    """Service, kind (exact or glob) and minimum severity narrow the list."""
    add_service(anonymous, "a")
    add_service(anonymous, "b")
    in_a = add_event(anonymous, "deploy.finished", service="a")
    in_b = add_event(anonymous, "deploy.finished", service="b", severity="error")
    breaker = breaker_changed(anonymous, "a", "db", "open")
    login(anonymous)
    assert [str(breaker), str(in_a)] == _rows(anonymous.get("/events?service=a").text)[:2]
    assert [str(breaker)] == _rows(anonymous.get("/events?kind=circuit_breaker.*").text)
    assert [str(breaker), str(in_b)] == _rows(anonymous.get("/events?severity=warning").text)


@pytest.mark.store_agnostic
def test_bad_filters_are_explained_not_fatal(anonymous: TestClient) -> None:
    """An unknown severity or a malformed kind shows a note and is ignored."""
    add_event(anonymous, "deploy.finished")
    login(anonymous)
    response = anonymous.get("/events?kind=Not A Kind&severity=loud")
    assert 200 == response.status_code
    assert "Filter ignored: unknown severity &#39;loud&#39;" in response.text
    assert "Filter ignored: kind:" in response.text
    assert 1 <= len(_rows(response.text))


@pytest.mark.store_agnostic
def test_an_empty_log_says_so(anonymous: TestClient) -> None:
    """Without matching events the page says new ones will appear."""
    login(anonymous)
    html = anonymous.get("/events?service=nothing-here").text
    assert [] == _rows(html)
    assert "No matching events yet" in html


def test_jobs_page_shows_leaders_runs_and_errors(anonymous: TestClient, app: FastAPI) -> None:
    """Each job with its interval; after runs, its leader, ticks and crosses, the last error."""
    app.state.jobs.tick()
    with app.state.sessions() as session, session.begin():
        session.add(
            JobRun(
                job="jobs.prune-history",
                holder="other",
                started_at=START + 1,
                duration=0.5,
                error="OperationalError: disk full",
            )
        )
    login(anonymous)
    html = anonymous.get("/jobs").text
    row = html.split("<code>jobs.prune-history</code>")[1].split("</tr>")[0]
    assert 'class="run run-ok"' in row
    assert 'class="run run-failed"' in row
    assert "OperationalError: disk full" in row
    assert app.state.jobs.holder in row
