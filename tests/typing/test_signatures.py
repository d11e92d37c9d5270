"""Type checkers see through reliant's decorators: signatures and return types survive."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def test_decorated_functions_keep_their_signatures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mypy reveals the original signatures and rejects a call with a wrong argument type."""
    # Analyse reliant from source: the package has no py.typed marker yet, so mypy would
    # otherwise skip the installed copy as untyped.
    monkeypatch.setenv("MYPYPATH", str(ROOT / "src"))
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(HERE / "decorated.py"),
        ]
    )
    lines = [re.sub(r"^.*decorated\.py:(\d+): ", r"\1: ", line) for line in stdout.splitlines()]
    assert [
        '22: note: Revealed type is "def (a: int, b: int =) -> int"',
        '23: note: Revealed type is "def (url: str, *, retries: int =) '
        '-> typing.Coroutine[Any, Any, bytes]"',
        '24: note: Revealed type is "int"',
        '25: error: Argument 1 to "add" has incompatible type "str"; expected "int"  [arg-type]',
    ] == lines
    assert ("", 1) == (stderr, status)
