"""The text of runbooks: templates, wait-until conditions and the order of steps. Pure.

Shared by the ``Runbook`` kind's model (``reliant validate`` checks runbooks offline with
it) and the server, which renders and judges with the same code.

- **Templates** are ``{{ params.NAME }}`` (a parameter), ``{{ run.id }}``,
  ``{{ run.incident }}``, ``{{ run.runbook }}``, ``{{ run.service }}`` and, in a trigger's
  parameters, ``{{ labels.NAME }}`` (a label of the alert). Nothing else is evaluated: a
  substitution, never an expression language.
- **Conditions** are ``<metric> <operator> <number>``, e.g. ``burn_rate_1h < 1``.
- **Flow**: steps run in order; ``on_success``/``on_failure`` may jump forward with
  ``goto``. A backward jump would let a run loop forever, so it is refused.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

#: ``{{ namespace.name }}``, spaces inside the braces optional.
TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: What ``{{ run.NAME }}`` may name.
RUN_FIELDS = ("id", "incident", "runbook", "service")
#: Metrics a wait-until step may test, by what it polls.
SLO_METRICS = ("budget_remaining", "burn_rate_1h", "burn_rate_period", "error_ratio")
TELEMETRY_METRICS = ("error_ratio", "requests", "errors")
_CONDITION = re.compile(
    r"^\s*([a-z_0-9]+)\s*(<=|>=|==|!=|<|>)\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$"
)
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
#: Shown in place of a secret parameter's value.
MASK = "********"


def references(text: str) -> list[tuple[str, str]]:
    """The ``(namespace, name)`` pairs ``text`` refers to, in order.

    Raises:
        ValueError: ``{{`` that does not open a template of the form ``{{ params.NAME }}``.
    """
    found = [(m[1], m[2]) for m in TEMPLATE.finditer(text)]
    rest = TEMPLATE.sub("", text)
    if "{{" in rest:
        start = rest.index("{{")
        bad = rest[start : start + 40]
        raise ValueError(
            f"{bad!r} is not a template: write {{{{ params.NAME }}}}, {{{{ run.id }}}} or "
            "another name of the runbook's"
        )
    return found


def check_template(text: str, params: Sequence[str], *, labels: bool = False) -> list[str]:
    """What is wrong with the templates of ``text`` (an empty list when nothing is).

    Args:
        params: the runbook's parameter names.
        labels: whether ``{{ labels.NAME }}`` is allowed (a trigger's parameters).
    """
    try:
        refs = references(text)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    spaces = ["params", "run", *(["labels"] if labels else [])]
    for space, name in refs:
        if space == "params" and name not in params:
            known = ", ".join(params) or "none declared"
            problems.append(f"unknown parameter {name!r} in {{{{ params.{name} }}}} ({known})")
        elif space == "run" and name not in RUN_FIELDS:
            problems.append(
                f"unknown run field {name!r} in {{{{ run.{name} }}}} "
                f"(one of {', '.join(RUN_FIELDS)})"
            )
        elif space not in spaces:
            problems.append(
                f"unknown name {space}.{name} "
                f"(templates name {', '.join(s + '.*' for s in spaces)})"
            )
    return problems


def render(text: str, values: Mapping[str, Mapping[str, str]]) -> str:
    """``text`` with each template replaced by its value (``""`` for an unknown one)."""
    return TEMPLATE.sub(lambda m: values.get(m[1], {}).get(m[2], ""), text)


@dataclass(frozen=True, slots=True)
class Condition:
    """``metric op threshold``; ``str()`` reads it back."""

    metric: str
    op: str
    threshold: float

    def holds(self, observed: float | None) -> bool:
        """Whether the observed value satisfies it; an unknown value (no traffic) never does."""
        if observed is None or math.isnan(observed):
            return False
        return _OPERATORS[self.op](observed, self.threshold)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


def parse_condition(text: str, metrics: Sequence[str]) -> Condition:
    """Parse ``burn_rate_1h < 1`` against the metrics allowed.

    Raises:
        ValueError: saying what is wrong and what is allowed.
    """
    found = _CONDITION.match(text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a condition: write <metric> <op> <number>, e.g. "
            f"'{metrics[0]} < 1' (operators <, <=, >, >=, ==, !=)"
        )
    metric, op, number = found.groups()
    if metric not in metrics:
        raise ValueError(f"unknown metric {metric!r} here (one of {', '.join(metrics)})")
    threshold = float(number)
    if not math.isfinite(threshold):
        raise ValueError(f"{text!r}: the threshold must be a finite number")
    return Condition(metric, op, threshold)


def flow_problems(
    ids: Sequence[str], jumps: Sequence[tuple[int, str, str]]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Key paths and messages for jumps to unknown steps and backward jumps.

    Args:
        ids: the step ids, in order (assumed unique).
        jumps: ``(step index, "on_success" or "on_failure", target id)`` of each ``goto``.
    """
    index = {step_id: i for i, step_id in enumerate(ids)}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, where, target in jumps:
        loc: tuple[str | int, ...] = ("steps", i, where, "goto")
        if target not in index:
            problems.append((loc, f"no step has id {target!r} (ids: {', '.join(ids)})"))
        elif index[target] <= i:
            loop = " → ".join([*ids[index[target] : i + 1], target])
            problems.append(
                (
                    loc,
                    f"jumping back to {target!r} makes a cycle ({loop}) that could run "
                    "forever; goto may only jump to a later step",
                )
            )
    return problems
