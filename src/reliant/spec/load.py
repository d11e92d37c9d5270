"""Load and validate ``reliant.yaml`` files: every problem as ``file:line: what: path: hint``.

A file holds one or more documents separated by ``---``; a directory stands for every
``*.yaml``/``*.yml`` file under it (sorted, recursively); ``-`` reads standard input::

    documents = load_paths(["reliant.yaml", "services/"])

Each document is checked against its kind's model (:data:`~reliant.spec.models.KINDS`);
a kind and name declared twice, in one file or across files, is an error naming both places.
All problems of all files are collected before :class:`SpecError` is raised.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reliant.spec._yaml import describe, duplicate_keys, line_of, render
from reliant.spec.documents import DOCUMENT_MODELS, Document, Location
from reliant.spec.models import API_VERSION, KINDS, NAME_HINT, NAME_PATTERN

#: File name endings a directory is searched for.
SUFFIXES = (".yaml", ".yml")
#: Hints for the string patterns of the models, in place of the bare regex.
PATTERN_HINTS = {
    NAME_PATTERN: f"should be a name of {NAME_HINT}",
    r"^https?://\S+$": "should be an http:// or https:// URL without spaces",
}


class SpecError(Exception):
    """Documents could not be loaded; ``str()`` gives one line per problem.

    Attributes:
        problems: one message per problem, each starting with where it is.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """The files ``paths`` stand for: files as given, directories searched for YAML files.

    ``-`` (standard input) is kept as ``Path("-")``.

    Raises:
        SpecError: a path does not exist, or a directory holds no YAML file.
    """
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if str(raw) == "-":
            files.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{path}: no *.yaml or *.yml file in this directory")
            files += found
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or directory")
    if problems:
        raise SpecError(problems)
    return files


def load_paths(
    paths: Iterable[str | Path], *, on_file: Callable[[Path], None] | None = None
) -> list[Document]:
    """Load every document of the files and directories in ``paths``.

    Args:
        paths: files, directories, or ``-`` for standard input.
        on_file: called after each file is read (e.g. to advance a progress bar).

    Raises:
        SpecError: with every problem found, in file order.
    """
    documents: list[Document] = []
    problems: list[str] = []
    for path in expand(paths):
        source = "<stdin>" if str(path) == "-" else str(path)
        try:
            text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{source}: cannot read the file: {exc}")
        else:
            try:
                documents += load_text(text, source)
            except SpecError as exc:
                problems += exc.problems
        if on_file is not None:
            on_file(path)
    problems += duplicates(documents)
    if problems:
        raise SpecError(problems)
    return documents


def load_text(text: str, source: str) -> list[Document]:
    """Parse and validate the documents of one YAML text (duplicates are not checked).

    Raises:
        SpecError: with every problem found.
    """
    try:
        roots = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        datas = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        where = f"{source}:{exc.problem_mark.line + 1}" if exc.problem_mark else source
        raise SpecError([f"{where}: not valid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"{source}: not valid YAML: {exc}"]) from None
    documents: list[Document] = []
    problems: list[str] = []
    for root, data in zip(roots, datas, strict=True):
        if data is None:
            continue  # an empty document, e.g. after a trailing '---'
        repeated = [f"{source}:{line}: {message}" for line, message in duplicate_keys(root)]
        if repeated:
            problems += repeated
            continue
        location = Location(source, root.start_mark.line + 1)
        try:
            documents.append(validate(data, location, root))
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    return documents


def validate_all(items: Sequence[Any], *, source: str = "documents") -> list[Document]:
    """Validate documents given as plain data (an API body): paths like ``documents[2]``.

    Raises:
        SpecError: with every problem found, duplicates included.
    """
    documents: list[Document] = []
    problems: list[str] = []
    for i, data in enumerate(items):
        try:
            documents.append(validate(data, Location(f"{source}[{i}]")))
        except SpecError as exc:
            problems += exc.problems
    problems += duplicates(documents)
    if problems:
        raise SpecError(problems)
    return documents


def validate(data: Any, location: Location, root: yaml.Node | None = None) -> Document:
    """Validate one document's data against the model of its kind.

    Args:
        data: the parsed document.
        location: where it starts, to begin each message with.
        root: its YAML node tree, for the line of each problem.

    Raises:
        SpecError: with one message per problem.
    """
    known = ", ".join(KINDS)
    if not isinstance(data, Mapping):
        raise SpecError(
            [
                f"{location}: a document is a mapping with apiVersion, kind, metadata and "
                f"spec, not {type(data).__name__}"
            ]
        )
    kind = data.get("kind")
    if kind is None:
        raise SpecError([f"{location}: missing required key 'kind' (one of: {known})"])
    if not isinstance(kind, str) or kind not in KINDS:
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        where = _where(location, root, ("kind",))
        raise SpecError([f"{where}: kind: unknown kind {kind!r}{guess} (known kinds: {known})"])
    model = DOCUMENT_MODELS[kind]
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    label = f"{kind} {name}" if isinstance(name, str) and name else kind
    try:
        checked = model.model_validate(data)
    except ValidationError as exc:
        found: list[tuple[int, str]] = []
        for err in exc.errors(include_url=False):
            for loc, message in describe(err, model, pattern_hints=PATTERN_HINTS):
                if loc == ("apiVersion",):
                    message = f"use apiVersion: {API_VERSION}, got {data.get('apiVersion')!r}"
                path = render(loc)
                text = f"{path}: {message}" if path else message
                line = line_of(root, loc)
                found.append((line or 0, f"{_where(location, root, loc)}: {label}: {text}"))
        raise SpecError([m for _, m in sorted(found, key=lambda item: item[0])]) from None
    spec = checked.spec  # type: ignore[attr-defined]
    return Document(kind, str(name), spec.model_dump(mode="json"), location)


def _where(location: Location, root: yaml.Node | None, loc: tuple[str | int, ...]) -> str:
    line = line_of(root, loc)
    return str(Location(location.source, line)) if line else str(location)


def duplicates(documents: Sequence[Document]) -> list[str]:
    """One message per document whose kind and name an earlier one already declared."""
    first: dict[tuple[str, str], Document] = {}
    problems: list[str] = []
    for doc in documents:
        key = (doc.kind, doc.name)
        if key in first:
            problems.append(
                f"{doc.location}: {doc.kind} {doc.name} is declared twice: "
                f"first at {first[key].location}; keep one of them"
            )
        else:
            first[key] = doc
    return problems
