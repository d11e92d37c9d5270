"""Compact before/after differences for the audit page."""

from __future__ import annotations

from reliant.server.web.diff import Change, changes, flatten


def test_nested_mappings_flatten_to_dotted_keys_down_to_two_levels() -> None:
    """{"a": {"b": {"c": 1}}} becomes {"a.b": {"c": 1}}: deeper values compare whole."""
    assert {"a.b": {"c": 1}, "x": 1, "e": {}} == flatten({"a": {"b": {"c": 1}}, "x": 1, "e": {}})


def test_changes_list_added_removed_and_changed_keys_in_order() -> None:
    """Only differing keys appear, sorted, each with its operation."""
    before = {"owner": "a", "tier": 1, "labels": {"x": "1"}, "same": True}
    after = {"owner": "b", "tier": 1, "labels": {"y": "2"}, "same": True}
    assert [
        Change("labels.x", "removed", old="1"),
        Change("labels.y", "added", new="2"),
        Change("owner", "changed", "a", "b"),
    ] == changes(before, after)


def test_creation_and_deletion_list_every_key() -> None:
    """No before: every key is added; no after: every key is removed."""
    assert [Change("k", "added", new=1)] == changes(None, {"k": 1})
    assert [Change("k", "removed", old=1)] == changes({"k": 1}, None)
    assert [] == changes(None, None)
