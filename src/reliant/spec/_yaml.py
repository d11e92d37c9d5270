"""Readable problems for YAML files checked by pydantic: line numbers, key paths, hints.

Shared by ``reliant.yaml`` loading (:mod:`reliant.spec.load`) and the simulator's scenario
files (:mod:`reliant.simulate.errors`). Nothing here knows either format: it turns a
pydantic error into ``(key path, message)`` pairs, finds the line of a key path in the
YAML node tree, renders paths the way a reader writes them and spots repeated keys.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

#: A key path into a document: keys and list indexes, outermost first.
Loc = tuple[str | int, ...]

#: The registry's located messages: ``pipeline[1].backoff.initial (retry): ...``.
_REGISTRY_PATH = re.compile(
    r"^pipeline(?: '[^']*')?\[(\d+)\]((?:\.\w+|\[\d+\])*)(?: \((\w+)\))?: (.*)$", re.S
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Problems(ValueError):
    """Problems found by a cross-field check, each with its own key path.

    Raised inside model validators; :func:`describe` expands it into one message each.

    Attributes:
        problems: ``(key path, message)`` pairs; paths are relative to the model checked.
    """

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(f"{render(loc)}: {message}" if loc else message for loc, message in problems)
        )


def registry_problem(message: str) -> tuple[Loc, str]:
    """Split the registry's ``pipeline[1].backoff.initial: ...`` into a key path and a message.

    Returns:
        the path relative to the pipeline list (``(1, "backoff", "initial")``) and the rest
        of the message; ``((), message)`` when the message names no path.
    """
    match = _REGISTRY_PATH.match(message)
    if match is None:
        return (), message
    loc: list[str | int] = [int(match[1])]
    for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", match[2]):
        loc.append(key if key else int(index))
    return tuple(loc), match[4]


def describe(
    err: ErrorDetails,
    model: type[BaseModel],
    *,
    pattern_hints: Mapping[str, str] | None = None,
) -> Iterator[tuple[Loc, str]]:
    """Yield ``(key path, message)`` for one pydantic error, with a hint where one helps.

    Args:
        err: one entry of ``ValidationError.errors()``.
        model: the model validated (to list the keys allowed where one is unknown).
        pattern_hints: regex pattern → message for ``string_pattern_mismatch`` errors.
    """
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    context = err.get("ctx") or {}
    error = context.get("error")
    if isinstance(error, Problems):
        for sub, message in error.problems:
            yield loc + sub, message
        return
    if kind == "value_error":
        message = str(error) if error is not None else err["msg"]
        if loc and loc[-1] == "pipeline":
            sub, message = registry_problem(message)
            loc += sub
        yield loc, message
    elif kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        listing = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        yield loc, f"unknown key{guess}{listing}"
    elif kind == "missing":
        yield loc[:-1], f"missing required key {loc[-1]!r}"
    elif kind in {"model_type", "model_attributes_type", "dict_type"}:
        allowed = allowed_keys(model, loc)
        keys = f" with keys such as {', '.join(allowed[:4])}" if allowed else ""
        if "pipeline" in loc:
            keys = " such as {kind: retry, attempts: 3}"
        yield loc, f"should be a mapping{keys}, got {show(err['input'])}"
    elif kind in {"too_short", "string_too_short"}:
        least = context.get("min_length", 1)
        unit = "character" if kind == "string_too_short" else "entry"
        yield loc, f"needs at least {least} {unit}{'' if least == 1 else 's'}"
    elif kind == "string_pattern_mismatch" and context.get("pattern") in (pattern_hints or {}):
        hint = (pattern_hints or {})[context["pattern"]]
        yield loc, f"{hint}, got {show(err['input'])}"
    elif kind == "string_pattern_mismatch" and loc and loc[-1] == "name":
        yield loc, f"use letters, digits, '_' and '-' only, got {show(err['input'])}"
    else:
        message = err["msg"]
        if message.startswith("Input should"):
            message = message[len("Input ") :]
        yield loc, f"{message}, got {show(err['input'])}"


def show(value: object) -> str:
    """A short description of a bad value: ``repr`` for scalars, the type for containers."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def render(loc: Loc) -> str:
    """Render a key path the way a reader writes it: ``candidates[1].pipeline``.

    Keys that are not plain identifiers are quoted: ``labels["app.io/name"]``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _IDENTIFIER.match(part):
            out += "[" + _quote(part) + "]"
        else:
            out += f".{part}" if out else part
    return out


def _quote(key: str) -> str:
    import json

    return json.dumps(key, ensure_ascii=False)


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
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


def line_of(root: yaml.Node | None, loc: Loc) -> int | None:
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


def duplicate_keys(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
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
            yield from duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from duplicate_keys(item)
