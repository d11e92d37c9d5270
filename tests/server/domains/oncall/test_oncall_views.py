"""The on-call pages of the web UI: ``/oncall`` and ``/pages``, with their operator forms."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from oncall_helpers import SCHEDULE, Desk
from server_helpers import ADMIN, token_for

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def login(app_client: TestClient, token: str) -> str:
    """Sign in through the form; the session's CSRF token."""
    answer = app_client.post("/login", data={"token": token}, follow_redirects=False)
    assert 303 == answer.status_code, answer.text
    match = CSRF_META.search(app_client.get("/oncall").text)
    assert match is not None
    return match[1]


@pytest.mark.store_agnostic
def test_oncall_shows_who_is_on_call_and_adds_and_deletes_an_override(
    desk: Desk, anonymous: TestClient
) -> None:
    """alice is on call; an operator adds an override for carol (times in the schedule's
    zone) and she is on call; deleting it puts alice back."""
    desk.setup()
    csrf = login(anonymous, ADMIN)
    before = anonymous.get("/oncall")
    made = anonymous.post(
        "/oncall/overrides",
        data={
            "csrf_token": csrf,
            "schedule": SCHEDULE,
            "member": "carol",
            "starts_at": "",
            "ends_at": "2027-01-15T10:00",
        },
        follow_redirects=False,
    )
    during = anonymous.get("/oncall")
    deleted = anonymous.post(
        f"/oncall/schedules/{SCHEDULE}/overrides/1/delete",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    after = anonymous.get("/oncall")
    assert (
        (200, True),
        (303, "/oncall?created=1"),
        True,
        (303, True),
    ) == (
        (before.status_code, '<strong class="oncall-member">alice</strong>' in before.text),
        (made.status_code, made.headers["location"]),
        '<strong class="oncall-member">carol</strong>' in during.text,
        (deleted.status_code, '<strong class="oncall-member">alice</strong>' in after.text),
    )


@pytest.mark.store_agnostic
def test_override_form_errors_are_shown(desk: Desk, anonymous: TestClient) -> None:
    """An end in the past re-renders the page with the problem (422)."""
    desk.setup()
    csrf = login(anonymous, ADMIN)
    answer = anonymous.post(
        "/oncall/overrides",
        data={
            "csrf_token": csrf,
            "schedule": SCHEDULE,
            "member": "carol",
            "ends_at": "2020-01-01T00:00",
        },
    )
    assert (422, True) == (answer.status_code, "ends_at must be after starts_at" in answer.text)


@pytest.mark.store_agnostic
def test_viewers_see_no_forms_and_cannot_post(desk: Desk, anonymous: TestClient) -> None:
    """A viewer reads /oncall and /pages without forms; a post is refused (403)."""
    desk.setup()
    csrf = login(anonymous, token_for(desk.client, "viewer"))
    page = anonymous.get("/oncall")
    posted = anonymous.post(
        "/oncall/overrides",
        data={
            "csrf_token": csrf,
            "schedule": SCHEDULE,
            "member": "x",
            "ends_at": "2027-02-01T00:00",
        },
    )
    assert (200, False, 200, 403) == (
        page.status_code,
        'action="/oncall/overrides"' in page.text,
        anonymous.get("/pages").status_code,
        posted.status_code,
    )


def test_pages_lists_open_pages_and_acknowledges_with_the_csrf_token(
    desk: Desk, anonymous: TestClient
) -> None:
    """The open page shows with an Acknowledge button; posting it without the CSRF token is
    refused, with it the page is acknowledged by the signed-in token."""
    desk.setup()
    desk.report()
    desk.run_until(lambda: bool(desk.outbox()), within=10, step=1)
    csrf = login(anonymous, ADMIN)
    listed = anonymous.get("/pages")
    refused = anonymous.post("/pages/1/acknowledge", data={"csrf_token": "wrong"})
    done = anonymous.post("/pages/1/acknowledge", data={"csrf_token": csrf}, follow_redirects=False)
    assert (
        (200, True, True),
        403,
        (303, "/pages?done=acknowledged#page-1"),
        ("acknowledged", "bootstrap-admin"),
    ) == (
        (
            listed.status_code,
            'id="page-1"' in listed.text,
            'action="/pages/1/acknowledge"' in listed.text,
        ),
        refused.status_code,
        (done.status_code, done.headers["location"]),
        (desk.page()["state"], desk.page()["acknowledged_by"]),
    )
