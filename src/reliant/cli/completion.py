"""``reliant completion bash|zsh``: a shell completion script built from the parser itself."""

from __future__ import annotations

import argparse
from typing import Any

SHELLS = ("bash", "zsh")


def register(subparsers: Any) -> None:
    """Add ``reliant completion``."""
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script: `source <(reliant completion bash)`, or for "
        "zsh `source <(reliant completion zsh)` in ~/.zshrc.",
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(run=_run)


def _words(parser: argparse.ArgumentParser) -> tuple[list[str], dict[str, argparse.ArgumentParser]]:
    """The option strings of ``parser`` and its sub-commands by name."""
    options: list[str] = []
    children: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            children.update(action.choices)
        else:
            options.extend(s for s in action.option_strings if s.startswith("--"))
    return options, children


def table(parser: argparse.ArgumentParser, path: str = "") -> dict[str, list[str]]:
    """Map each command path (``""``, ``"services"``, ``"services list"``) to its words."""
    options, children = _words(parser)
    rows = {path: sorted(children) + options}
    for name, child in children.items():
        rows.update(table(child, f"{path} {name}".strip()))
    return rows


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell``."""
    cases = "\n".join(
        f'        "{path}") words="{" ".join(words)}" ;;'
        for path, words in sorted(table(parser).items())
    )
    body = f"""_reliant_complete() {{
    local cur path word i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    path=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        [[ "$word" == -* ]] && continue
        case "$(_reliant_words "${{path:+$path }}$word")" in
            "") ;;
            *) path="${{path:+$path }}$word" ;;
        esac
    done
    COMPREPLY=($(compgen -W "$(_reliant_words "$path")" -- "$cur"))
}}
_reliant_words() {{
    local words=""
    case "$1" in
{cases}
    esac
    echo "$words"
}}
complete -o default -F _reliant_complete reliant
"""
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + body
    return body


def _run(args: argparse.Namespace) -> int:
    from reliant.cli import build_parser

    print(script(build_parser(), args.shell), end="")
    return 0
