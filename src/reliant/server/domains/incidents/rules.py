"""Incident rules compiled for matching alerts: matchers, severity, group key, title. No I/O.

Rules are tried in name order; the first whose matchers, service scope and severity mapping
accept an alert's labels takes it. The values of its ``group_by`` labels name the alert's
group: while an incident of that rule and group is open, the alert attaches to it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reliant.server.domains.alerts import Matcher, matches_all, parse_matchers
from reliant.spec.models import IncidentRuleSpec

#: Longest title an incident may have.
TITLE_LENGTH = 500
_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


class RuleError(ValueError):
    """A rule that cannot be used; ``path`` locates the offending field in its spec.

    Args:
        path: e.g. ``["matchers", 1]``.
        message: what is wrong and how to fix it.
    """

    def __init__(self, path: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.path = list(path)
        self.message = message

    def where(self, prefix: str = "") -> str:
        """The path in dotted form, after ``prefix`` (``body.matchers.1``)."""
        return ".".join(str(p) for p in [*([prefix] if prefix else []), *self.path])


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledRule:
    """A rule ready to match alerts' labels."""

    name: str
    spec: IncidentRuleSpec
    matchers: tuple[Matcher, ...]

    def severity_of(self, labels: Mapping[str, str]) -> str | None:
        """The incident severity for ``labels``; ``None`` when the mapping has none."""
        if self.spec.severity is not None:
            return self.spec.severity
        mapping = self.spec.severity_from
        assert mapping is not None  # the spec holds exactly one of the two
        return mapping.map.get(labels.get(mapping.label, ""), mapping.default)

    def accepts(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with ``labels`` is this rule's: matchers, services, severity."""
        if self.spec.services and labels.get("service", "") not in self.spec.services:
            return False
        return matches_all(self.matchers, labels) and self.severity_of(labels) is not None

    def group_of(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The values of the ``group_by`` labels (``""`` for a missing one)."""
        return {name: labels.get(name, "") for name in self.spec.group_by}

    def title_of(self, labels: Mapping[str, str], summary: str) -> str:
        """The title of an incident this rule declares for an alert."""
        if self.spec.title:
            text = _PLACEHOLDER.sub(lambda m: labels.get(m[1], ""), self.spec.title)
        else:
            name = labels.get("alertname", "alert")
            text = f"{name}: {summary}" if summary else name
        return " ".join(text.split())[:TITLE_LENGTH] or self.name


def compile_rule(name: str, spec: IncidentRuleSpec) -> CompiledRule:
    """Parse a rule's matchers.

    Raises:
        RuleError: at ``["matchers", index]`` for text that is not a matcher, or a
            regular expression Alertmanager would refuse.
    """
    found: list[Matcher] = []
    for index, text in enumerate(spec.matchers):
        try:
            parsed = parse_matchers(text)
        except ValueError as exc:
            raise RuleError(["matchers", index], str(exc)) from None
        if not parsed:
            raise RuleError(["matchers", index], 'an empty matcher: write name="value"')
        found.extend(parsed)
    return CompiledRule(name=name, spec=spec, matchers=tuple(found))


def first_match(
    rules: Iterable[CompiledRule], labels: Mapping[str, str]
) -> tuple[CompiledRule, str] | None:
    """The first rule (in the given order) that takes an alert, with the severity it maps."""
    for rule in rules:
        if rule.accepts(labels):
            severity = rule.severity_of(labels)
            assert severity is not None
            return rule, severity
    return None


def group_hash(rule: str, group: Mapping[str, str]) -> str:
    """A fixed-length key of a rule's group, for finding its open incident."""
    text = json.dumps([rule, sorted(group.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
