"""Reading inbound requests: bad input is reported without flooding the log or memory."""

from __future__ import annotations

import logging

import pytest

from reliant.integrations._keys import (
    LOGGER_NAME,
    MAX_REPORT_REASONS,
    REPORT_INTERVAL,
    BadInput,
    ClientAddress,
    Request,
)
from reliant.testing import VirtualClock


class _Request(Request):
    """A request from ``peer`` carrying an X-Forwarded-For header."""

    __slots__ = ("_forwarded",)

    def __init__(self, peer: str, forwarded: str) -> None:
        super().__init__(peer, "GET", "/")
        self._forwarded = forwarded

    def header(self, name: str) -> str | None:
        return self._forwarded if name == "x-forwarded-for" else None


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]


def test_spoofing_from_many_untrusted_peers_logs_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """5000 peers spoofing X-Forwarded-For: one line naming the first, one throttle entry."""
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    report = BadInput()
    client = ClientAddress((), "x-forwarded-for", report)
    peers = [f"2001:db8::{i:x}" for i in range(5000)]
    assert peers == [client(_Request(peer, "1.2.3.4")) for peer in peers]
    assert [
        ["reliant: ignored x-forwarded-for header from untrusted peer 2001:db8::0: '1.2.3.4'"],
        1,
    ] == [_lines(caplog), len(report._last)]


def test_the_next_line_counts_the_suppressed_reports(caplog: pytest.LogCaptureFixture) -> None:
    """After the interval the next spoofing peer is logged with the count suppressed."""
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    clock = VirtualClock()
    client = ClientAddress((), "x-forwarded-for", BadInput(clock=clock))
    for i in range(10):
        client(_Request(f"192.0.2.{i}", "1.2.3.4"))
    clock.advance(REPORT_INTERVAL)
    client(_Request("198.51.100.1", "1.2.3.4"))
    assert [
        "reliant: ignored x-forwarded-for header from untrusted peer 192.0.2.0: '1.2.3.4'",
        "reliant: ignored x-forwarded-for header from untrusted peer 198.51.100.1: '1.2.3.4' "
        "(9 more since the last report)",
    ] == _lines(caplog)


def test_the_throttle_memory_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """However many distinct reasons are reported, at most MAX_REPORT_REASONS are kept."""
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    report = BadInput()
    for i in range(3 * MAX_REPORT_REASONS):
        report(f"reason {i}", "x")
        report(f"reason {i}", "x")
    assert [True, True] == [
        len(report._last) <= MAX_REPORT_REASONS,
        len(report._suppressed) <= MAX_REPORT_REASONS,
    ]
