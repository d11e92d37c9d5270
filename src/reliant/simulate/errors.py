"""Turning scenario problems into one readable line each: file, line, key path and a hint.

The format-neutral parts (line numbers, key paths, hints) live in :mod:`reliant.spec._yaml`,
shared with ``reliant.yaml`` loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from reliant.spec._yaml import Loc, Problems, describe, duplicate_keys, line_of, render

#: The model a file is validated into (a simulator scenario, a game day, ...).
M = TypeVar("M", bound=BaseModel)
#: The top-level keys named when a scenario file is empty or not a mapping.
SCENARIO_KEYS = "name, duration, traffic, dependency, candidates"

__all__ = [
    "Loc",
    "ScenarioError",
    "ScenarioProblems",
    "explain",
    "load_yaml",
    "render",
    "validate_mapping",
]


class ScenarioProblems(Problems):
    """Problems found by a cross-field check, each with its own key path.

    Raised inside the scenario's model validators; :func:`explain` expands it into one
    message per problem.

    Attributes:
        problems: ``(key path, message)`` pairs; paths are relative to the model checked.
    """


class ScenarioError(Exception):
    """A scenario file could not be loaded; ``str()`` gives one line per problem.

    Attributes:
        source: the file (or label) the scenario came from.
        problems: one message per problem, each starting with ``source``.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.source = source
        self.problems = problems


def load_yaml(model: type[M], path: Path, *, keys: str = SCENARIO_KEYS) -> M:
    """Read, parse and validate the scenario file at ``path``.

    Args:
        model: the model of the file's contents.
        path: the file.
        keys: its top-level keys, named when the file is empty or not a mapping.

    Raises:
        ScenarioError: with one message per problem.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, [f"{source}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [f"{source}: cannot read the file: {exc}"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        where = f"{source}:{exc.problem_mark.line + 1}" if exc.problem_mark else source
        raise ScenarioError(source, [f"{where}: not valid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [f"{source}: not valid YAML: {exc}"]) from None
    if data is None:
        raise ScenarioError(
            source,
            [f"{source}: the file is empty; it needs {keys}"],
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            source,
            [f"{source}:1: a scenario is a mapping of keys ({keys}), not a {type(data).__name__}"],
        )
    duplicates = [f"{source}:{line}: {message}" for line, message in duplicate_keys(root)]
    if duplicates:
        raise ScenarioError(source, duplicates)
    return validate_mapping(model, data, source=source, root=root)


def validate_mapping(
    model: type[M],
    data: Mapping[str, Any],
    *,
    source: str,
    root: yaml.Node | None = None,
) -> M:
    """Validate parsed scenario data, translating pydantic's errors.

    Raises:
        ScenarioError: with one message per problem.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, explain(exc, model, source=source, root=root)) from None


def explain(
    exc: ValidationError, model: type[BaseModel], *, source: str, root: yaml.Node | None = None
) -> list[str]:
    """Return one readable message per problem in ``exc``.

    Args:
        exc: what pydantic reported.
        model: the model that was validated (to list the keys allowed where one is unknown).
        source: the file name to start each message with.
        root: the YAML node tree of the file, to add line numbers.
    """
    found: list[tuple[int, str]] = []
    for err in exc.errors(include_url=False):
        for loc, message in describe(err, model):
            line = line_of(root, loc)
            where = f"{source}:{line}" if line else source
            path = render(loc)
            found.append(
                (line or 0, f"{where}: {path}: {message}" if path else f"{where}: {message}")
            )
    # In file order, which is how a reader fixes them; sorted() keeps ties in pydantic's order.
    return [message for _, message in sorted(found, key=lambda item: item[0])]
