"""``reliant demo`` and ``reliant gameday run FILE``: a game day, end to end, on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: The demo's game day, shipped with reliant (also in examples/gameday/).
DEMO = (
    Path(__file__).resolve().parent.parent / "gameday" / "scenarios" / "storefront" / "gameday.yaml"
)


def register(subparsers: Any) -> None:
    """Add ``reliant demo`` and ``reliant gameday`` to the command line."""
    demo = subparsers.add_parser(
        "demo",
        help="a game day, end to end: a fleet fails, reliant contains it, pages, mitigates",
        description=(
            "Start a control plane on a temporary SQLite store and a small fleet of real "
            "services (storefront calling payments and inventory), then play a scripted game "
            "day: a fault in payments, breakers and fallbacks, the SLO burns, the pager rings, "
            "an incident opens and its runbook mitigates, recovery, a postmortem. About two "
            "minutes. Exits non-zero naming the phase whose outcome did not happen."
        ),
    )
    _common(demo)
    demo.set_defaults(run=run_demo)

    gameday = subparsers.add_parser(
        "gameday",
        help="run game days written as YAML",
        description="Run game days written as YAML (docs/gameday.md).",
    )
    actions = gameday.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run a game day file",
        description=(
            "Run the game day in FILE: start its fleet, apply its reliant.yaml, send its "
            "traffic, play its phases and judge each phase's expected outcome."
        ),
    )
    run.add_argument("file", metavar="FILE", type=Path, help="the game day (YAML)")
    run.add_argument(
        "--server", metavar="URL", help="use this control plane instead of an embedded one"
    )
    run.add_argument("--token", metavar="TOKEN", help="an admin token of --server")
    _common(run)
    run.set_defaults(run=run_file)
    check = actions.add_parser("validate", help="check a game day file without running it")
    check.add_argument("file", metavar="FILE", type=Path, help="the game day (YAML)")
    check.set_defaults(run=validate_file)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exit", action="store_true", help="end when the phases are done (for scripts and CI)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="run directory: logs, store, postmortem (default: a new temporary one)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="print the story line by line instead of a live board"
    )


def run_demo(args: argparse.Namespace) -> int:
    """``reliant demo``."""
    args.file, args.server, args.token = DEMO, None, None
    return run_file(args)


def _load(path: Path) -> Any:
    from reliant.gameday.scenario import GameDay
    from reliant.simulate.errors import ScenarioError

    try:
        return GameDay.from_yaml(path)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return None


def validate_file(args: argparse.Namespace) -> int:
    """``reliant gameday validate FILE``."""
    game = _load(args.file)
    if game is None:
        return 2
    print(f"OK: game day {game.name}: {len(game.fleet)} processes, {len(game.phases)} phases")
    return 0


def run_file(args: argparse.Namespace) -> int:
    """``reliant gameday run FILE``."""
    try:
        from reliant.gameday.runner import GameDayRun, RunOptions
    except ImportError as exc:  # pragma: no cover - without the server extra
        print(
            f"reliant gameday: needs the server extra (pip install 'reliant[server]'): {exc}",
            file=sys.stderr,
        )
        return 2
    game = _load(args.file)
    if game is None:
        return 2
    if args.token and not args.server:
        print("reliant gameday: --token goes with --server", file=sys.stderr)
        return 2
    options = RunOptions(
        exit=args.exit,
        server=args.server,
        token=args.token,
        out=args.out,
        live=False if args.plain else None,
    )
    return GameDayRun(game, args.file, options, sys.stdout).run()
