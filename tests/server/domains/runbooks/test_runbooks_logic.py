"""The runbooks domain's pure parts: masking and capping, flow, the allow-list."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from reliant.server.domains.runbooks import allowlist, flow
from reliant.server.domains.runbooks.masking import Masker, capped, excerpt
from reliant.spec.models import RunbookSpec


def test_masker_hides_every_secret_in_text_and_data() -> None:
    """Each secret (longest first) becomes ********, in strings nested anywhere."""
    masker = Masker(["abc", "abcdef", ""])
    assert "x ******** y ********" == masker.text("x abcdef y abc")
    assert {"k": ["********", 1, {"********": "********"}]} == masker.data(
        {"k": ["abc", 1, {"abc": "abcdef"}]}
    )
    assert "nothing" == Masker([]).text("nothing")


def test_capped_cuts_at_the_limit_and_says_how_much() -> None:
    """Output over the limit keeps its first bytes and says how many were cut."""
    masker = Masker([])
    assert "short" == capped(b"short", 5, masker, limit=10)
    assert "0123456789\n… 90 bytes cut" == capped(b"0123456789abc", 100, masker, limit=10)
    assert "bad \ufffd and \\0" == capped(b"bad \xff and \x00", 11, masker, limit=100)


def test_a_secret_across_the_cut_is_masked_before_cutting() -> None:
    """No prefix of a secret shows when the limit falls inside it."""
    masker = Masker(["SECRETVALUE"])
    kept = b"0123456SECRETVALUE"
    text = capped(kept, 1000, masker, limit=10)
    assert "0123456***\n… 990 bytes cut" == text
    assert "SEC" not in text


def test_excerpt_keeps_the_end() -> None:
    """Events carry the last characters of an output."""
    assert (None, "abc") == (excerpt(None), excerpt("abc", 5))
    assert "…789" == excerpt("0123456789", 4)


def steps(*rules: dict[str, Any]) -> Any:
    """Manual steps a, b, c, … with the given rules."""
    return RunbookSpec.model_validate(
        {"steps": [{"id": chr(97 + i), "kind": "manual", **r} for i, r in enumerate(rules)]}
    ).steps


@pytest.mark.parametrize(
    ("rules", "position", "succeeded", "expected"),
    [
        (({}, {}, {}), 0, True, flow.Next(1, (), None)),
        (({}, {}, {}), 2, True, flow.Next(3, (), "succeeded")),
        (({}, {}, {}), 0, False, flow.Next(3, (1, 2), "failed")),
        (({"on_failure": "continue"}, {}, {}), 0, False, flow.Next(1, (), None)),
        (({"on_failure": {"goto": "c"}}, {}, {}), 0, False, flow.Next(2, (1,), None)),
        (({"on_success": "end"}, {}, {}), 0, True, flow.Next(3, (1, 2), "succeeded")),
        (({"on_success": {"goto": "c"}}, {}, {}), 0, True, flow.Next(2, (1,), None)),
        (({}, {}, {"on_failure": "continue"}), 2, False, flow.Next(3, (), "succeeded")),
    ],
)
def test_where_a_run_goes_next(
    rules: tuple[dict[str, Any], ...], position: int, succeeded: bool, expected: flow.Next
) -> None:
    """on_success and on_failure decide the next step, the steps skipped and the end."""
    assert expected == flow.after(steps(*rules), position, succeeded=succeeded)


def test_approval_and_idempotence() -> None:
    """Destructive steps need approval unless approved up front (never in automatic runs);
    GET/HEAD, SDK and wait-until steps may run again, commands and other requests not."""
    spec = RunbookSpec.model_validate(
        {
            "service": "s",
            "steps": [
                {"id": "a", "kind": "shell", "command": ["x"], "destructive": True},
                {"id": "b", "kind": "http", "url": "http://x", "method": "HEAD"},
                {"id": "c", "kind": "http", "url": "http://x", "method": "POST"},
                {"id": "d", "kind": "sdk", "action": "close", "target": "db"},
                {"id": "e", "kind": "wait_until", "url": "http://x"},
            ],
        }
    )
    destructive = spec.steps[0]
    assert [True, False, True] == [
        flow.needs_approval(destructive, automatic=a, approve_destructive=p)
        for a, p in ((False, False), (False, True), (True, True))
    ]
    assert [False, True, False, True, True] == [flow.idempotent(s) for s in spec.steps]


def test_the_allow_list() -> None:
    """Names resolve on PATH; a command names an allowed path or its base name."""
    echo = shutil.which("echo")
    assert echo is not None
    allowed = allowlist.read(
        {"RELIANT_RUNBOOK_EXECUTABLES": " echo, /opt/tool ,no-such-program-x,"}
    )
    assert ((echo, "/opt/tool"), ("no-such-program-x",)) == (allowed.paths, allowed.unresolved)
    assert [echo, echo, "/opt/tool", "/opt/tool", None, None] == [
        allowed.resolve(x) for x in ("echo", echo, "tool", "/opt/tool", "/bin/rm", "rm")
    ]
    assert "allowed: " in allowed.refusal("rm")
    assert "no executable is allowed" in allowlist.read({}).describe()
