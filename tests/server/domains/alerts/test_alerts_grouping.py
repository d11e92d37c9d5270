"""Flush decisions: Alertmanager's dedup rules, muting, and who leaves the group."""

from __future__ import annotations

from reliant.server.domains.alerts import grouping
from reliant.server.domains.alerts.grouping import Entry, Member, flush, needs_update

REPEAT = 4 * 3600.0


def member(fp: str, *, firing: bool = True, muted: bool = False) -> Member:
    return Member(
        fingerprint=fp, labels={"alertname": fp}, annotations={}, firing=firing, muted=muted
    )


def entry(firing: set[str], resolved: set[str] = set(), at: float = 0.0) -> Entry:  # noqa: B006
    return Entry(frozenset(firing), frozenset(resolved), at)


def test_first_notification_needs_a_firing_alert() -> None:
    """No entry: notify when something fires, not for resolved-only groups."""
    assert (grouping.FIRST, None) == (
        needs_update(None, frozenset({"a"}), frozenset(), repeat=REPEAT, now=1.0),
        needs_update(None, frozenset(), frozenset({"a"}), repeat=REPEAT, now=1.0),
    )


def test_new_firing_alerts_notify() -> None:
    """An alert the last notification did not list triggers one."""
    assert grouping.NEW_ALERTS == needs_update(
        entry({"a"}), frozenset({"a", "b"}), frozenset(), repeat=REPEAT, now=10.0
    )


def test_after_a_resolution_the_next_firing_is_a_first_notification() -> None:
    """An entry with nothing firing followed by a firing alert restarts the stream."""
    assert grouping.FIRST == needs_update(
        entry(set(), {"a"}), frozenset({"a"}), frozenset(), repeat=REPEAT, now=10.0
    )


def test_all_resolved_notifies_only_if_something_was_notified_firing() -> None:
    """Everything resolved: notify if the receiver heard of firing alerts, else nothing."""
    assert (grouping.ALL_RESOLVED, None) == (
        needs_update(entry({"a"}), frozenset(), frozenset({"a"}), repeat=REPEAT, now=10.0),
        needs_update(
            entry(set(), {"a"}), frozenset(), frozenset({"a", "b"}), repeat=REPEAT, now=10.0
        ),
    )


def test_partial_resolution_notifies() -> None:
    """One of two alerts resolved since the last notification: notify."""
    assert grouping.NEW_RESOLVED == needs_update(
        entry({"a", "b"}), frozenset({"a"}), frozenset({"b"}), repeat=REPEAT, now=10.0
    )


def test_unchanged_groups_repeat_after_the_repeat_interval() -> None:
    """Nothing new: notify only once repeat_interval has passed since the last one."""
    last = entry({"a"}, at=100.0)
    assert (None, grouping.REPEAT) == (
        needs_update(last, frozenset({"a"}), frozenset(), repeat=REPEAT, now=100.0 + REPEAT - 1),
        needs_update(last, frozenset({"a"}), frozenset(), repeat=REPEAT, now=100.0 + REPEAT),
    )


def test_muted_alerts_are_left_out_and_a_fully_muted_group_sends_nothing() -> None:
    """Silenced or inhibited members are not listed; if none remain, no notification."""
    decision = flush([member("a"), member("b", muted=True)], None, repeat=REPEAT, now=1.0)
    assert (grouping.FIRST, ["a"]) == (decision.reason, [m.fingerprint for m in decision.alerts])
    quiet = flush([member("b", muted=True)], None, repeat=REPEAT, now=1.0)
    assert (None, None) == (quiet.reason, quiet.entry)


def test_time_muted_routes_send_nothing_but_still_drop_resolved_alerts() -> None:
    """Inside a mute interval nothing is sent; resolved alerts still leave the group."""
    decision = flush(
        [member("a"), member("b", firing=False)], None, repeat=REPEAT, now=1.0, time_muted=True
    )
    assert (None, ("b",)) == (decision.reason, decision.drop)


def test_resolved_only_flush_status_and_entry() -> None:
    """A flush whose listed alerts all resolved has status resolved and logs none firing."""
    decision = flush([member("a", firing=False)], entry({"a"}), repeat=REPEAT, now=5.0)
    assert ("resolved", frozenset(), frozenset({"a"}), ("a",)) == (
        decision.status,
        decision.entry.firing if decision.entry else None,
        decision.entry.resolved if decision.entry else None,
        decision.drop,
    )


def test_first_flush_waits_group_wait_from_the_first_firing() -> None:
    """group_wait after the alert fired; at once if that moment has passed."""
    assert (130.0, 500.0) == (
        grouping.first_flush(100.0, 30.0, now=101.0),
        grouping.first_flush(100.0, 30.0, now=500.0),
    )


def test_common_labels_and_keys() -> None:
    """commonLabels keep only shared pairs; keys follow Alertmanager's form."""
    assert {"a": "1"} == grouping.common([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}])
    assert {} == grouping.common([])
    key = grouping.group_key("{}", {"alertname": "X"})
    assert ('{}:{alertname="X"}', 'pd:{}:{alertname="X"}') == (key, grouping.dedup_key("pd", key))
