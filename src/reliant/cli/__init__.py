"""The ``reliant`` command line: ``reliant <noun> <verb>``.

Each command lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``run`` (a function of the parsed arguments returning the exit code).
Exit codes: 0 success, 1 the work failed, 2 bad usage or bad input (argparse's code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

#: Modules that add a command; a later noun adds its module here.
COMMANDS = (
    "reliant.cli.simulate",
    "reliant.cli.gameday",
    "reliant.cli.server",
    "reliant.cli.login",
    "reliant.cli.tokens",
    "reliant.cli.completion",
    "reliant.cli.events",
    "reliant.cli.services",
    "reliant.cli.overrides",
    "reliant.cli.spec",
    "reliant.cli.slo",
    "reliant.cli.alerts",
    "reliant.cli.receivers",
    "reliant.cli.oncall",
    "reliant.cli.incidents",
    "reliant.cli.runbooks",
    "reliant.cli.postmortems",
)


def _version() -> str:
    try:
        return version("reliant")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Return the ``reliant`` argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="reliant",
        description="The reliability playbook as software: resilience SDK and control plane.",
    )
    parser.add_argument("--version", action="version", version=f"reliant {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``reliant`` command line and return its exit code.

    Args:
        argv: the arguments after the program name (``sys.argv[1:]`` when omitted).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print("reliant: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `reliant simulate ... | head`: the reader left
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


__all__ = ["COMMANDS", "build_parser", "main"]
