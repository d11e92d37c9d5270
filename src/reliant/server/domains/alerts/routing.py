"""The routing tree: which receivers an alert goes to, grouped how, and when. Pure.

A routing document is Alertmanager's shape (JSON or YAML)::

    route:                      # the root: matches every alert
      receiver: default
      group_by: [alertname, service]   # ["..."] groups by every label
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
      routes:
        - matchers: ['severity="page"']
          receiver: pagerduty
          continue: true        # keep looking at the next siblings
          mute_time_intervals: [maintenance]
    receivers: [{name: default}, {name: pagerduty}]
    inhibit_rules: [{source_matchers: [...], target_matchers: [...], equal: [...]}]
    time_intervals: [{name: maintenance, time_intervals: [...]}]

A route's children are tried in order; the first that matches takes the alert unless it
has ``continue: true``; a route none of whose children match takes the alert itself.
``receiver``, ``group_by`` and the three intervals are inherited from the parent when not
set; the time intervals are not. Receivers are named here and defined in the notify domain
(``/api/v1/receivers``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reliant._core.durations import parse_duration
from reliant.server.domains.alerts.errors import ConfigError
from reliant.server.domains.alerts.inhibit import DEFAULT_RULE, InhibitRule, parse_rules
from reliant.server.domains.alerts.intervals import Period, contains, parse_intervals
from reliant.server.domains.alerts.matchers import Matcher, format_matchers, parse_list, sort_key

#: Alertmanager's defaults, inherited by routes that do not set them (seconds).
GROUP_WAIT = 30.0
GROUP_INTERVAL = 300.0
REPEAT_INTERVAL = 4 * 3600.0
#: ``group_by: ["..."]``: group by every label (one group per alert).
GROUP_BY_ALL = "..."
#: Deepest route nesting and most routes in one document.
MAX_DEPTH = 16
MAX_ROUTES = 2000
#: The document in force until one is stored: everything to receiver ``default``, grouped
#: per alert name, service, SLO and severity, with the page-inhibits-ticket rule.
DEFAULT_DOCUMENT: dict[str, Any] = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname", "service", "sloth_id", "severity"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    },
    "receivers": [{"name": "default"}],
    "inhibit_rules": [DEFAULT_RULE],
    "time_intervals": [],
}
_ROUTE_FIELDS = (
    "receiver",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "matchers",
    "continue",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
)
_TOP_FIELDS = ("route", "receivers", "inhibit_rules", "time_intervals")


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One node of the compiled tree, its inherited options resolved.

    Attributes:
        id: unique in the tree: the parent's id, this route's matchers and its index.
        key: Alertmanager's route key (the matchers of the path), part of group keys.
    """

    id: str
    key: str
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    routes: tuple[Route, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes taking an alert with ``labels``, depth-first, left to right."""
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels naming the alert's group on this route (present ones only)."""
        if self.group_by_all:
            return dict(labels)
        return {n: labels[n] for n in self.group_by if n in labels}


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertingConfig:
    """A compiled routing document."""

    route: Route
    receivers: tuple[str, ...]
    inhibit_rules: tuple[InhibitRule, ...]
    time_intervals: dict[str, tuple[Period, ...]]
    routes: dict[str, Route] = field(default_factory=dict)

    def time_muted(self, route: Route, now: float) -> list[str]:
        """Names of the time intervals muting ``route`` at ``now`` (empty: not muted).

        A route is muted inside any of its ``mute_time_intervals``, and outside all of its
        ``active_time_intervals`` (when it has some).
        """
        muting = [n for n in route.mute_time_intervals if contains(self.time_intervals[n], now)]
        if muting:
            return muting
        active = route.active_time_intervals
        if active and not any(contains(self.time_intervals[n], now) for n in active):
            return list(active)
        return []


def _duration(doc: Mapping[str, Any], name: str, path: list[str | int], inherited: float) -> float:
    if doc.get(name) is None:
        return inherited
    try:
        seconds = parse_duration(doc[name], option=name)
    except ValueError as exc:
        raise ConfigError([*path, name], str(exc).partition(": ")[2]) from None
    if name != "group_wait" and seconds <= 0:
        raise ConfigError([*path, name], f"{name} must be longer than 0s")
    return seconds


def _names(doc: Mapping[str, Any], name: str, path: list[str | int]) -> tuple[str, ...]:
    value = doc.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError([*path, name], "expected a list of names")
    return tuple(value)


class _Compiler:
    def __init__(self, receivers: set[str], intervals: set[str]) -> None:
        self.receivers = receivers
        self.intervals = intervals
        self.count = 0
        self.routes: dict[str, Route] = {}

    def route(self, doc: object, path: list[str | int], parent: Route | None, index: int) -> Route:
        if not isinstance(doc, dict):
            raise ConfigError(path, "expected a route object")
        self.count += 1
        if self.count > MAX_ROUTES:
            raise ConfigError(path, f"at most {MAX_ROUTES} routes")
        if len(path) > 2 * MAX_DEPTH:
            raise ConfigError(path, f"routes nest at most {MAX_DEPTH} deep")
        for key in doc:
            if key not in _ROUTE_FIELDS:
                raise ConfigError(
                    [*path, key], f"unknown field (known: {', '.join(_ROUTE_FIELDS)})"
                )
        root = parent is None
        if doc.get("receiver") is not None and not isinstance(doc["receiver"], str):
            raise ConfigError([*path, "receiver"], "expected a receiver name")
        receiver = doc.get("receiver") or (parent.receiver if parent else "")
        if not receiver:
            raise ConfigError([*path, "receiver"], "the root route needs a receiver")
        if receiver not in self.receivers:
            known = ", ".join(sorted(self.receivers)) or "none"
            raise ConfigError(
                [*path, "receiver"],
                f"unknown receiver {receiver!r}: add it to receivers (known: {known})",
            )
        matchers = tuple(
            sorted(parse_list(doc.get("matchers", []), [*path, "matchers"]), key=sort_key)
        )
        if root and matchers:
            raise ConfigError([*path, "matchers"], "the root route must not have matchers")
        if not isinstance(doc.get("continue", False), bool):
            raise ConfigError([*path, "continue"], "expected true or false")
        if root and doc.get("continue"):
            raise ConfigError([*path, "continue"], "the root route cannot have continue")
        group_by, group_by_all = (parent.group_by, parent.group_by_all) if parent else ((), False)
        if doc.get("group_by") is not None:
            group_by = _names(doc, "group_by", path)
            group_by_all = GROUP_BY_ALL in group_by
            if group_by_all and len(group_by) > 1:
                raise ConfigError([*path, "group_by"], '"..." must be the only entry of group_by')
            if group_by_all:
                group_by = ()
        wait, interval, repeat = (
            _duration(doc, name, path, getattr(parent, name) if parent else default)
            for name, default in (
                ("group_wait", GROUP_WAIT),
                ("group_interval", GROUP_INTERVAL),
                ("repeat_interval", REPEAT_INTERVAL),
            )
        )
        times: dict[str, tuple[str, ...]] = {}
        for name in ("mute_time_intervals", "active_time_intervals"):
            times[name] = _names(doc, name, path)
            if root and times[name]:
                raise ConfigError([*path, name], "the root route cannot have time intervals")
            for i, named in enumerate(times[name]):
                if named not in self.intervals:
                    raise ConfigError(
                        [*path, name, i],
                        f"unknown time interval {named!r}: add it to time_intervals",
                    )
        key = format_matchers(matchers)
        rid = key
        if parent is not None:
            key = f"{parent.key}/{key}"
            rid = f"{parent.id}/{rid}/{index}"
        children = doc.get("routes") or []
        if not isinstance(children, list):
            raise ConfigError([*path, "routes"], "expected a list of routes")
        node = Route(
            id=rid,
            key=key,
            receiver=receiver,
            matchers=matchers,
            continue_=bool(doc.get("continue", False)),
            group_by=group_by,
            group_by_all=group_by_all,
            mute_time_intervals=times["mute_time_intervals"],
            active_time_intervals=times["active_time_intervals"],
            group_wait=wait,
            group_interval=interval,
            repeat_interval=repeat,
        )
        kids = tuple(self.route(c, [*path, "routes", i], node, i) for i, c in enumerate(children))
        node = dataclasses.replace(node, routes=kids)
        self.routes[rid] = node
        return node


def _receivers(doc: object) -> set[str]:
    if not isinstance(doc, list):
        raise ConfigError(["receivers"], "expected a list of {name: <receiver>}")
    names: set[str] = set()
    for index, item in enumerate(doc):
        if not isinstance(item, dict) or set(item) != {"name"} or not isinstance(item["name"], str):
            raise ConfigError(["receivers", index], "expected {name: <receiver name>}")
        if not item["name"]:
            raise ConfigError(["receivers", index, "name"], "must not be empty")
        if item["name"] in names:
            raise ConfigError(["receivers", index, "name"], f"{item['name']!r} is listed twice")
        names.add(item["name"])
    return names


def compile_config(doc: object) -> AlertingConfig:
    """Check a routing document and compile it.

    Raises:
        ConfigError: at the path of the first problem: an unknown field or receiver, a bad
            matcher, duration or time interval, a reference to an undefined interval.
    """
    if not isinstance(doc, dict):
        raise ConfigError(
            [], "expected an object with route, receivers, inhibit_rules, time_intervals"
        )
    for key in doc:
        if key not in _TOP_FIELDS:
            raise ConfigError([key], f"unknown field (known: {', '.join(_TOP_FIELDS)})")
    if "route" not in doc:
        raise ConfigError(["route"], "the root route is required")
    receivers = _receivers(doc.get("receivers", []))
    intervals = parse_intervals(doc.get("time_intervals") or [], ["time_intervals"])
    rules = parse_rules(doc.get("inhibit_rules") or [], ["inhibit_rules"])
    compiler = _Compiler(receivers, set(intervals))
    root = compiler.route(doc["route"], ["route"], None, 0)
    return AlertingConfig(
        route=root,
        receivers=tuple(sorted(receivers)),
        inhibit_rules=rules,
        time_intervals=intervals,
        routes=compiler.routes,
    )


def default_document() -> dict[str, Any]:
    """A fresh copy of :data:`DEFAULT_DOCUMENT`."""
    return copy.deepcopy(DEFAULT_DOCUMENT)


def receivers_of(config: AlertingConfig, labels: Mapping[str, str]) -> list[str]:
    """The receivers an alert with ``labels`` is routed to, in order, without repeats."""
    return list(dict.fromkeys(r.receiver for r in config.route.match(labels)))


def walk(route: Route) -> Sequence[Route]:
    """Every route of the tree, depth-first."""
    out = [route]
    for child in route.routes:
        out.extend(walk(child))
    return out
