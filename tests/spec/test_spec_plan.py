"""The plan: a pure, ordered diff of the documents against the server's state."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant.spec.documents import Document
from reliant.spec.plan import (
    ABSENT,
    Action,
    Change,
    FieldChange,
    Plan,
    apply_to_state,
    diff,
    kind_order,
    make_plan,
    render,
    same,
)


def svc(name: str, **spec: Any) -> Document:
    """A Service document (the plan does not validate specs)."""
    return Document("Service", name, {"owner": "a", **spec})


def pol(name: str, **spec: Any) -> Document:
    """A Policy document."""
    return Document("Policy", name, {"service": "a", **spec})


def actions(plan: Plan) -> list[tuple[str, str, str]]:
    """(action, kind, name) of every change, in order."""
    return [(str(c.action), c.kind, c.name) for c in plan.changes]


def test_create_update_delete_unchanged_and_not_in_spec() -> None:
    """Each object gets the action its presence and equality call for."""
    current = {
        "Service": {"same": {"owner": "a"}, "old": {"owner": "a"}, "edit": {"owner": "a"}},
    }
    desired = [svc("same"), svc("edit", tier=1), svc("new")]
    assert [
        ("update", "Service", "edit"),
        ("create", "Service", "new"),
        ("unchanged", "Service", "same"),
        ("not-in-spec", "Service", "old"),
    ] == actions(make_plan(desired, current))
    assert [
        ("delete", "Service", "old"),
        ("update", "Service", "edit"),
        ("create", "Service", "new"),
        ("unchanged", "Service", "same"),
    ] == actions(make_plan(desired, current, prune=True))


def test_order_is_safe_to_apply() -> None:
    """Deletions go first, Policies before Services; then writes, Services before Policies."""
    current = {"Service": {"s-old": {}}, "Policy": {"p-old": {}}}
    desired = [pol("p2"), pol("p1"), svc("s2"), svc("s1")]
    assert [
        ("delete", "Policy", "p-old"),
        ("delete", "Service", "s-old"),
        ("create", "Service", "s1"),
        ("create", "Service", "s2"),
        ("create", "Policy", "p1"),
        ("create", "Policy", "p2"),
    ] == actions(make_plan(desired, current, prune=True))


def test_unknown_kinds_come_after_the_known_ones() -> None:
    """Kinds outside KINDS are ordered after it, alphabetically."""
    assert ["Service", "Policy", "Alpha", "Zeta"] == kind_order(
        ["Zeta", "Policy", "Alpha", "Service"]
    )


def test_field_level_differences_with_nested_paths() -> None:
    """Updates list each differing leaf: nested keys, list items, quoted odd keys."""
    before = {
        "owner": "a",
        "links": [{"title": "t", "url": "a"}, {"title": "gone", "url": "x"}],
        "labels": {"app.io/name": "web", "old": "1"},
    }
    after = {
        "owner": "a",
        "links": [{"title": "t", "url": "b"}],
        "labels": {"app.io/name": "api"},
        "tier": 1,
    }
    assert [
        FieldChange("links[0].url", "a", "b"),
        FieldChange("links[1]", {"title": "gone", "url": "x"}, ABSENT),
        FieldChange('labels["app.io/name"]', "web", "api"),
        FieldChange("labels.old", "1", ABSENT),
        FieldChange("tier", ABSENT, 1),
    ] == list(diff(before, after))


def test_json_equality_of_values() -> None:
    """1 and 1.0 are the same number; true is not 1; types otherwise must match."""
    assert (True, False, False, True) == (
        same(1, 1.0),
        same(True, 1),
        same("1", 1),
        same({"a": [1, {"b": 2.0}]}, {"a": [1.0, {"b": 2}]}),
    )
    assert [FieldChange("x", 1, True)] == list(diff({"x": 1}, {"x": True}))


def test_managed_objects_that_differ_are_drift() -> None:
    """An update of an object the spec manages is drift; unknown management is not."""
    current = {"Service": {"a": {"owner": "x"}, "b": {"owner": "x"}}, "Policy": {"p": {}}}
    desired = [svc("a"), svc("b"), pol("p")]
    plan = make_plan(desired, current, managed={"Service": ["a"]})
    assert [("a", True, True), ("b", False, False), ("p", None, False)] == [
        (c.name, c.managed, c.drift) for c in plan.changes
    ]
    assert 1 == plan.summary()["drift"]


def test_declaring_an_object_twice_is_refused() -> None:
    """The plan needs one document per kind and name."""
    with pytest.raises(ValueError, match="Service a is declared twice"):
        make_plan([svc("a"), svc("a")], {})


def test_fingerprint_follows_the_mutations_only() -> None:
    """Same mutations, same fingerprint; a different starting state, another one."""
    desired = [svc("a", tier=1)]
    base = make_plan(desired, {"Service": {"a": {"owner": "a"}}})
    noise = make_plan(desired, {"Service": {"a": {"owner": "a"}, "other": {}}})
    moved = make_plan(desired, {"Service": {"a": {"owner": "b"}}})
    assert base.fingerprint == noise.fingerprint != moved.fingerprint
    assert 64 == len(base.fingerprint)


def test_json_round_trip() -> None:
    """from_json(to_json()) gives the same plan, absent sides kept absent."""
    plan = make_plan(
        [svc("a", tier=1), pol("p")],
        {"Service": {"a": {"owner": "a", "x": None}, "gone": {}}},
        prune=True,
        managed={"Service": ["a"]},
    )
    data = plan.to_json()
    assert plan == Plan.from_json(data)
    assert {"path": "x", "before": None} == data["changes"][1]["fields"][0]
    assert {
        "create": 1,
        "update": 1,
        "delete": 1,
        "unchanged": 0,
        "not-in-spec": 0,
        "drift": 1,
    } == data["summary"]


def test_rendering_for_people() -> None:
    """One signed line per object, its fields below, and a summary line."""
    plan = make_plan(
        [svc("new", tier=1, labels={}), svc("edit", tier=2)],
        {"Service": {"edit": {"owner": "a", "tier": 1}, "old": {"owner": "a"}}},
        managed={"Service": ["edit"]},
    )
    assert (
        "~ Service edit  (drift: changed on the server since the last apply)\n"
        "    tier: 1 → 2\n"
        "+ Service new\n"
        '    owner: "a"\n'
        "    tier: 1\n"
        "? Service old  (not in spec: kept; --prune deletes it)\n"
        "Plan: 1 to create, 1 to update, 0 to delete; 0 unchanged, 1 not in spec, 1 drifted.\n"
    ) == render(plan)


def test_rendering_colours_only_when_asked() -> None:
    """ANSI colours appear with color=True and never otherwise."""
    plan = make_plan([svc("new")], {})
    assert "\x1b[32m+ Service new\x1b[0m" in render(plan, color=True)
    assert "\x1b" not in render(plan)


def test_rendering_without_changes() -> None:
    """Nothing to do reads 'No changes.'; unchanged objects are listed on request."""
    plan = make_plan([svc("a")], {"Service": {"a": {"owner": "a"}}})
    assert "No changes. (1 unchanged, 0 not in spec.)\n" == render(plan)
    assert "= Service a  (unchanged)\n" == render(plan, unchanged=True).splitlines(True)[0]
    assert not plan.has_changes


# -- property: applying a plan leaves nothing to plan ------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d"])
LEAVES = st.one_of(st.integers(-3, 3), st.booleans(), st.sampled_from(["x", "y"]), st.none())
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=6,
)
SPECS = st.dictionaries(st.sampled_from(["owner", "tier", "links", "labels"]), VALUES)
KINDS = st.sampled_from(["Service", "Policy"])
STATES = st.dictionaries(KINDS, st.dictionaries(NAMES, SPECS, max_size=4), max_size=2)
DESIRED = st.dictionaries(st.tuples(KINDS, NAMES), SPECS, max_size=6).map(
    lambda d: [Document(kind, name, spec) for (kind, name), spec in d.items()]
)


@given(desired=DESIRED, current=STATES, prune=st.booleans())
def test_applying_a_plan_leaves_nothing_to_plan(
    desired: list[Document], current: dict[str, dict[str, dict[str, Any]]], prune: bool
) -> None:
    """plan(desired, apply(plan(desired, current))) has no changes; with prune, state == file."""
    after = apply_to_state(current, make_plan(desired, current, prune=prune))
    again = make_plan(desired, after, prune=prune)
    assert [] == [
        c for c in again.changes if c.action not in (Action.UNCHANGED, Action.NOT_IN_SPEC)
    ]
    wanted = {(d.kind, d.name): d.spec for d in desired}
    held = {(k, n): s for k, names in after.items() for n, s in names.items()}
    if prune:
        assert wanted == held
    else:
        assert wanted.items() <= held.items()


@given(desired=DESIRED, current=STATES)
def test_update_fields_are_exactly_the_differences(
    desired: list[Document], current: dict[str, dict[str, dict[str, Any]]]
) -> None:
    """A change is an update iff its field list is non-empty, and unchanged specs are equal."""
    for change in make_plan(desired, current).changes:
        if change.action is Action.UPDATE:
            assert [] != list(change.fields)
        if change.action is Action.UNCHANGED:
            assert same(change.before, change.after)


def test_change_json_keeps_unknown_management() -> None:
    """A change's JSON says managed null when the kind cannot tell."""
    change = Change(Action.CREATE, "Service", "a", after={"owner": "a"})
    assert (None, False) == (change.to_json()["managed"], change.to_json()["drift"])
