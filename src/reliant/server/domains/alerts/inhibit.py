"""Inhibition: a firing source alert mutes target alerts that share its ``equal`` labels. Pure.

A rule has ``source_matchers``, ``target_matchers`` and ``equal`` (label names). An alert
matching the target matchers is inhibited while some *firing* alert matching the source
matchers has the same values of every ``equal`` label (a label both lack counts as equal).
As in Alertmanager, an alert that matches both sides is never inhibited by an alert that
also matches both sides — so no alert inhibits itself. Silenced or inhibited sources still
inhibit; pending ones do not (they are not firing).

reliant ships one rule by default (:data:`DEFAULT_RULE`): an SLO's page inhibits the same
SLO's ticket (``equal: [sloth_id]``), so a fast burn does not also open a ticket. Its source
requires a non-empty ``sloth_id``, so alerts from elsewhere, which lack it, are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reliant.server.domains.alerts.errors import ConfigError
from reliant.server.domains.alerts.matchers import Matcher, matches_all, parse_list

#: The inhibition rule of the default routing document.
DEFAULT_RULE: dict[str, Any] = {
    "source_matchers": ['severity="page"', 'sloth_id!=""'],
    "target_matchers": ['severity="ticket"'],
    "equal": ["sloth_id"],
}


@dataclass(frozen=True, slots=True, kw_only=True)
class InhibitRule:
    """One inhibition rule."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


def parse_rules(doc: object, path: Sequence[str | int]) -> tuple[InhibitRule, ...]:
    """Rules from ``[{source_matchers, target_matchers, equal}, …]``.

    Raises:
        ConfigError: at the path of the first thing that is wrong.
    """
    if not isinstance(doc, list):
        raise ConfigError(path, "expected a list of {source_matchers, target_matchers, equal}")
    rules = []
    for index, item in enumerate(doc):
        where = [*path, index]
        if not isinstance(item, dict):
            raise ConfigError(where, "expected {source_matchers, target_matchers, equal}")
        for key in item:
            if key not in ("source_matchers", "target_matchers", "equal"):
                raise ConfigError([*where, key], "unknown field")
        equal = item.get("equal", [])
        if not isinstance(equal, list) or not all(isinstance(e, str) and e for e in equal):
            raise ConfigError([*where, "equal"], "expected a list of label names")
        rules.append(
            InhibitRule(
                source=parse_list(item.get("source_matchers", []), [*where, "source_matchers"]),
                target=parse_list(item.get("target_matchers", []), [*where, "target_matchers"]),
                equal=tuple(equal),
            )
        )
    return tuple(rules)


class Inhibitor:
    """Answers "what inhibits this alert?" against a snapshot of firing alerts.

    Args:
        rules: the inhibition rules.
        firing: ``(fingerprint, labels)`` of every firing alert (suppressed ones included).
    """

    def __init__(
        self, rules: Sequence[InhibitRule], firing: Iterable[tuple[str, Mapping[str, str]]]
    ) -> None:
        self.rules = tuple(rules)
        alerts = sorted(firing, key=lambda a: a[0])
        #: Per rule: equal-label values → sources (fingerprint, also matches the target side).
        self._sources: list[dict[tuple[str, ...], list[tuple[str, bool]]]] = []
        for rule in self.rules:
            index: dict[tuple[str, ...], list[tuple[str, bool]]] = {}
            for fp, labels in alerts:
                if matches_all(rule.source, labels):
                    key = tuple(labels.get(n, "") for n in rule.equal)
                    both = matches_all(rule.target, labels)
                    index.setdefault(key, []).append((fp, both))
            self._sources.append(index)

    def inhibited_by(self, labels: Mapping[str, str]) -> str | None:
        """The fingerprint of a firing alert inhibiting ``labels``, or ``None``."""
        for rule, index in zip(self.rules, self._sources, strict=True):
            if not matches_all(rule.target, labels):
                continue
            two_sided = matches_all(rule.source, labels)
            key = tuple(labels.get(n, "") for n in rule.equal)
            for fp, both in index.get(key, ()):
                if two_sided and both:
                    continue
                return fp
        return None
