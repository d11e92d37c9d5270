"""The plan: what ``reliant apply`` would change, as a pure diff of the file against the server.

Inputs are the validated documents and the current state, ``kind → name → spec dict``;
the output is an ordered list of changes, safe to apply in order: deletions first, in the
reverse order of :data:`~reliant.spec.models.KINDS` (a Policy goes before the Service it
names), then creations and updates in that order. Objects on the server but not in the file
are "not in spec", deleted only with ``prune``::

    plan = make_plan(documents, {"Service": {"web": {...}}}, prune=False)
    print(render(plan, color=sys.stdout.isatty()))
    plan.fingerprint   # apply refuses to run when the server's plan no longer matches it

Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reliant.spec._yaml import Loc
from reliant.spec._yaml import render as render_path
from reliant.spec.documents import Document
from reliant.spec.models import KINDS

State = Mapping[str, Mapping[str, Mapping[str, Any]]]


class Action(StrEnum):
    """What applying does to one object."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    #: On the server, not in the file, and no ``prune``: left alone, shown.
    NOT_IN_SPEC = "not-in-spec"


MUTATIONS = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})


class _Absent:
    """The value of a side of a field change where the field does not exist."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One leaf that differs: ``links[0].url: "a" → "b"``; a missing side is ``ABSENT``."""

    path: str
    before: Any = ABSENT
    after: Any = ABSENT

    def to_json(self) -> dict[str, Any]:
        """``{"path", "before"?, "after"?}``: an absent side is left out."""
        out: dict[str, Any] = {"path": self.path}
        if self.before is not ABSENT:
            out["before"] = self.before
        if self.after is not ABSENT:
            out["after"] = self.after
        return out


@dataclass(frozen=True, slots=True)
class Change:
    """One object's change.

    Attributes:
        before: its spec on the server (``None`` when it is created).
        after: its spec in the file (``None`` when it is deleted or not in the spec).
        fields: the differing leaves, for an update.
        managed: whether the server marks it as written by ``apply`` (``None``: unknown).
    """

    action: Action
    kind: str
    name: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    fields: tuple[FieldChange, ...] = ()
    managed: bool | None = None

    @property
    def drift(self) -> bool:
        """Managed by the spec, yet changed on the server since: someone edited it by hand."""
        return self.action is Action.UPDATE and self.managed is True

    def to_json(self) -> dict[str, Any]:
        """The change as plain data."""
        return {
            "action": str(self.action),
            "kind": self.kind,
            "name": self.name,
            "managed": self.managed,
            "drift": self.drift,
            "fields": [f.to_json() for f in self.fields],
            "before": self.before,
            "after": self.after,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        """Read a change written by :meth:`to_json`."""
        return cls(
            action=Action(data["action"]),
            kind=str(data["kind"]),
            name=str(data["name"]),
            before=data.get("before"),
            after=data.get("after"),
            fields=tuple(
                FieldChange(f["path"], f.get("before", ABSENT), f.get("after", ABSENT))
                for f in data.get("fields", ())
            ),
            managed=data.get("managed"),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered changes; mutations first, in the order to apply them."""

    changes: tuple[Change, ...]
    prune: bool = False

    @property
    def mutations(self) -> tuple[Change, ...]:
        """The creations, updates and deletions, in application order."""
        return tuple(c for c in self.changes if c.action in MUTATIONS)

    @property
    def has_changes(self) -> bool:
        """Whether applying would change anything."""
        return any(c.action in MUTATIONS for c in self.changes)

    def summary(self) -> dict[str, int]:
        """How many objects per action, plus ``drift``."""
        counts = {str(action): 0 for action in Action}
        for change in self.changes:
            counts[str(change.action)] += 1
        counts["drift"] = sum(c.drift for c in self.changes)
        return counts

    @property
    def fingerprint(self) -> str:
        """A digest of the mutations (with their before and after): equal plans, equal digests."""
        body = [[str(c.action), c.kind, c.name, c.before, c.after] for c in self.mutations]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The plan as plain data: what ``reliant plan -o json`` prints."""
        return {
            "fingerprint": self.fingerprint,
            "prune": self.prune,
            "has_changes": self.has_changes,
            "summary": self.summary(),
            "changes": [c.to_json() for c in self.changes],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan written by :meth:`to_json`."""
        changes = tuple(Change.from_json(c) for c in data.get("changes", ()))
        return cls(changes, bool(data.get("prune", False)))


def kind_order(kinds: Iterable[str]) -> list[str]:
    """``kinds`` in apply order: those of ``KINDS`` in its order, any others after, sorted."""
    given = set(kinds)
    return [k for k in KINDS if k in given] + sorted(given - set(KINDS))


def make_plan(
    desired: Sequence[Document],
    current: State,
    *,
    prune: bool = False,
    managed: Mapping[str, Iterable[str]] | None = None,
) -> Plan:
    """Diff the documents against the current state.

    Args:
        desired: validated documents, at most one per kind and name.
        current: kind → name → spec dict, as the server's handlers report them.
        prune: delete objects of the current state that the documents do not declare.
        managed: kind → the names the server marks as written by ``apply``; a kind left
            out has unknown management (``Change.managed`` is ``None``).

    Raises:
        ValueError: two documents share a kind and name.
    """
    wanted: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in desired:
        names = wanted.setdefault(doc.kind, {})
        if doc.name in names:
            raise ValueError(f"{doc.kind} {doc.name} is declared twice")
        names[doc.name] = doc.spec
    managed_sets = {kind: set(names) for kind, names in (managed or {}).items()}
    order = kind_order([*wanted, *current])

    def is_managed(kind: str, name: str) -> bool | None:
        names = managed_sets.get(kind)
        return None if names is None else name in names

    removals: list[Change] = []
    for kind in reversed(order):
        have = current.get(kind, {})
        for name in sorted(set(have) - set(wanted.get(kind, {}))):
            action = Action.DELETE if prune else Action.NOT_IN_SPEC
            removals.append(
                Change(action, kind, name, before=dict(have[name]), managed=is_managed(kind, name))
            )
    writes: list[Change] = []
    unchanged: list[Change] = []
    for kind in order:
        have = current.get(kind, {})
        for name, spec in sorted(wanted.get(kind, {}).items()):
            if name not in have:
                writes.append(Change(Action.CREATE, kind, name, after=spec))
                continue
            before = dict(have[name])
            fields = tuple(diff(before, spec))
            action = Action.UPDATE if fields else Action.UNCHANGED
            change = Change(action, kind, name, before, spec, fields, is_managed(kind, name))
            (writes if fields else unchanged).append(change)
    deletes = [c for c in removals if c.action is Action.DELETE]
    kept = [c for c in removals if c.action is Action.NOT_IN_SPEC]
    kept.sort(key=lambda c: (order.index(c.kind), c.name))
    return Plan((*deletes, *writes, *unchanged, *kept), prune)


def diff(before: Any, after: Any, loc: Loc = ()) -> Iterator[FieldChange]:
    """Yield the leaves that differ between two JSON values, keys and indexes as paths."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in [*before, *(k for k in after if k not in before)]:
            yield from diff(before.get(key, ABSENT), after.get(key, ABSENT), (*loc, key))
    elif isinstance(before, list) and isinstance(after, list):
        for i in range(max(len(before), len(after))):
            old = before[i] if i < len(before) else ABSENT
            new = after[i] if i < len(after) else ABSENT
            yield from diff(old, new, (*loc, i))
    elif not same(before, after):
        yield FieldChange(render_path(loc), before, after)


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``, containers compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def apply_to_state(current: State, plan: Plan) -> dict[str, dict[str, dict[str, Any]]]:
    """The state after applying ``plan`` to ``current`` (what the server would then hold)."""
    state = {kind: {n: dict(s) for n, s in names.items()} for kind, names in current.items()}
    for change in plan.mutations:
        names = state.setdefault(change.kind, {})
        if change.action is Action.DELETE:
            del names[change.name]
        else:
            assert change.after is not None
            names[change.name] = dict(change.after)
    return state


# -- rendering -------------------------------------------------------------------------

_COLORS = {"+": "32", "~": "33", "-": "31", "?": "2", "=": "2"}
_SIGNS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.NOT_IN_SPEC: "?",
    Action.UNCHANGED: "=",
}


def render(plan: Plan, *, color: bool = False, unchanged: bool = False) -> str:
    """The plan for people: one ``+``/``~``/``-`` line per object, field lines under it.

    Args:
        color: ANSI colours (for a terminal).
        unchanged: list unchanged objects too (they are always counted).
    """

    def paint(sign: str, text: str) -> str:
        return f"\x1b[{_COLORS[sign]}m{text}\x1b[0m" if color else text

    lines: list[str] = []
    for change in plan.changes:
        if change.action is Action.UNCHANGED and not unchanged:
            continue
        sign = _SIGNS[change.action]
        head = f"{sign} {change.kind} {change.name}"
        if change.drift:
            head += "  (drift: changed on the server since the last apply)"
        elif change.action is Action.NOT_IN_SPEC:
            head += "  (not in spec: kept; --prune deletes it)"
        elif change.action is Action.UNCHANGED:
            head += "  (unchanged)"
        lines.append(paint(sign, head))
        for text in _field_lines(change):
            lines.append(paint(sign, "    " + text))
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def _field_lines(change: Change) -> Iterator[str]:
    if change.action is Action.CREATE and change.after is not None:
        for key, value in change.after.items():
            if value not in ("", [], {}, None):
                yield f"{render_path((key,))}: {_show(value)}"
        return
    for f in change.fields:
        if f.before is ABSENT:
            yield f"+ {f.path}: {_show(f.after)}"
        elif f.after is ABSENT:
            yield f"- {f.path}: {_show(f.before)}"
        else:
            yield f"{f.path}: {_show(f.before)} → {_show(f.after)}"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to create, 2 to update, 0 to delete; 3 unchanged, 1 not in spec.``"""
    counts = plan.summary()
    rest = f"{counts['unchanged']} unchanged, {counts['not-in-spec']} not in spec"
    if counts["drift"]:
        rest += f", {counts['drift']} drifted"
    if not plan.has_changes:
        return f"No changes. ({rest}.)"
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete; {rest}."
    )
