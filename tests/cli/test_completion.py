"""``reliant completion``: the generated script completes nouns, verbs and flags in bash."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from reliant.cli import build_parser, main
from reliant.cli.completion import script, table


def complete(line: str) -> list[str]:
    """What bash offers after typing ``line`` (a trailing space completes a new word)."""
    words = line.split(" ")
    program = "\n".join(
        [
            script(build_parser(), "bash"),
            "COMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")",
            f"COMP_CWORD={len(words) - 1}",
            "_reliant_complete",
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
    )
    bash = shutil.which("bash")
    assert bash is not None
    out = subprocess.run([bash, "-c", program], capture_output=True, text=True, check=True)
    return [w for w in out.stdout.split("\n") if w]


def test_table_lists_every_command_path() -> None:
    """The table has the root, each noun and each verb with its flags."""
    rows = table(build_parser())
    assert {"tokens", "tokens create", "simulate"} <= set(rows)
    assert "--role" in rows["tokens create"]


def test_bash_completes_nouns() -> None:
    """After `reliant to` bash offers `tokens`."""
    assert ["tokens"] == complete("reliant to")


def test_bash_completes_verbs_and_flags() -> None:
    """After a noun, its verbs; after a verb, its flags."""
    assert ["create"] == complete("reliant tokens cr")
    assert ["--role"] == complete("reliant tokens create --ro")


def test_zsh_script_loads_bash_completion() -> None:
    """The zsh flavour enables bashcompinit first."""
    assert script(build_parser(), "zsh").startswith("autoload -U +X bashcompinit")


def test_completion_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    """`reliant completion bash` prints a script that registers the function."""
    assert 0 == main(["completion", "bash"])
    assert "complete -o default -F _reliant_complete reliant" in capsys.readouterr().out
