"""Turning scenario problems into one readable line each: file, line, key path and a hint."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from reliant.simulate.scenario import Scenario

Loc = tuple[str | int, ...]


class ScenarioProblems(ValueError):
    """Problems found by a cross-field check, each with its own key path.

    Raised inside the scenario's model validators; :func:`explain` expands it into one
    message per problem.

    Attributes:
        problems: ``(key path, message)`` pairs; paths are relative to the model checked.
    """

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(f"{render(loc)}: {message}" if loc else message for loc, message in problems)
        )


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


def load_yaml(model: type[Scenario], path: Path) -> Scenario:
    """Read, parse and validate the scenario file at ``path``.

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
            [
                f"{source}: the file is empty; a scenario needs name, duration, "
                "traffic and candidates"
            ],
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            source,
            [
                f"{source}:1: a scenario is a mapping of keys (name, duration, traffic, "
                f"dependency, candidates), not a {type(data).__name__}"
            ],
        )
    duplicates = [f"{source}:{line}: {message}" for line, message in _duplicate_keys(root)]
    if duplicates:
        raise ScenarioError(source, duplicates)
    return validate_mapping(model, data, source=source, root=root)


def validate_mapping(
    model: type[Scenario],
    data: Mapping[str, Any],
    *,
    source: str,
    root: yaml.Node | None = None,
) -> Scenario:
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
        for loc, message in _describe(err, model):
            line = _line_of(root, loc)
            where = f"{source}:{line}" if line else source
            path = render(loc)
            found.append(
                (line or 0, f"{where}: {path}: {message}" if path else f"{where}: {message}")
            )
    # In file order, which is how a reader fixes them; sorted() keeps ties in pydantic's order.
    return [message for _, message in sorted(found, key=lambda item: item[0])]


def _describe(err: ErrorDetails, model: type[BaseModel]) -> Iterator[tuple[Loc, str]]:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, ScenarioProblems):
        for sub, message in error.problems:
            yield loc + sub, message
        return
    if kind == "value_error":
        yield loc, str(error) if error is not None else err["msg"]
    elif kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        listing = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        yield loc, f"unknown key{guess}{listing}"
    elif kind == "missing":
        yield loc[:-1], f"missing required key {loc[-1]!r}"
    elif kind in {"model_type", "model_attributes_type", "dict_type"}:
        allowed = _allowed_keys(model, loc)
        keys = f" with keys such as {', '.join(allowed[:4])}" if allowed else ""
        if "pipeline" in loc:
            keys = " such as {kind: retry, attempts: 3}"
        yield loc, f"should be a mapping{keys}, got {_show(err['input'])}"
    elif kind in {"too_short", "string_too_short"}:
        least = (err.get("ctx") or {}).get("min_length", 1)
        unit = "character" if kind == "string_too_short" else "entry"
        yield loc, f"needs at least {least} {unit}{'' if least == 1 else 's'}"
    elif kind == "string_pattern_mismatch" and loc[-1] == "name":
        yield loc, f"use letters, digits, '_' and '-' only, got {_show(err['input'])}"
    else:
        message = err["msg"]
        if message.startswith("Input should"):
            message = message[len("Input ") :]
        yield loc, f"{message}, got {_show(err['input'])}"


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def render(loc: Loc) -> str:
    """Render a key path the way a reader writes it: ``candidates[1].pipeline``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Return the keys of the model found at ``loc`` under ``model`` (empty if none)."""
    target: Any = model
    for part in loc:
        target = _unwrap(target)
        if isinstance(part, int):
            args = typing.get_args(target)
            if typing.get_origin(target) is not list or not args:
                return []
            target = args[0]
        elif isinstance(target, type) and issubclass(target, BaseModel):
            field = target.model_fields.get(part)
            if field is None:
                return []
            target = field.annotation
        else:
            return []
    target = _unwrap(target)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """Return the 1-based line of the deepest node of ``loc`` found in the YAML tree."""
    if root is None:
        return None
    node: yaml.Node = root
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """Yield ``(line, message)`` for each key repeated within one mapping."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    yield (
                        line,
                        f"duplicate key {key.value!r} (first given on line {seen[key.value]}); "
                        "YAML would silently keep only the last",
                    )
                seen.setdefault(key.value, line)
            yield from _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item)
