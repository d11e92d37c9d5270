"""``reliant simulate SCENARIO``: run candidate pipelines against a scripted dependency."""

from __future__ import annotations

import argparse
import sys
from typing import Any

#: Output formats of the report.
OUTPUTS = ("table", "json", "yaml")


def register(subparsers: Any) -> None:
    """Add the ``simulate`` command to the ``reliant`` parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="run candidate pipelines against a scripted dependency, on virtual time",
        description=(
            "Run each candidate pipeline of the scenario against its scripted dependency, "
            "on a virtual clock, and report what users would have seen. The same seed "
            "gives the same report."
        ),
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="the scenario file (YAML)")
    parser.add_argument(
        "--output", "-o", choices=OUTPUTS, default="table", help="report format (default: table)"
    )
    parser.add_argument(
        "--chart", metavar="FILE.png", help="also draw success rate and latency over time"
    )
    parser.add_argument(
        "--seed", type=_seed, metavar="N", help="override the scenario's seed (an integer >= 0)"
    )
    parser.set_defaults(run=run)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Load the scenario, simulate it and print the report; return the exit code."""
    # Imported here so `reliant --version` and other commands stay quick.
    import yaml

    from reliant.simulate import Scenario, ScenarioError, simulate

    try:
        scenario = Scenario.from_yaml(args.scenario)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    report = simulate(scenario, seed=args.seed)
    if args.output == "json":
        print(report.to_json())
    elif args.output == "yaml":
        print(yaml.safe_dump(report.to_dict(), sort_keys=False, allow_unicode=True), end="")
    else:
        print(report.format_table())
    if args.chart:
        from reliant.simulate.chart import ChartUnavailable, write_chart

        try:
            path = write_chart(report, args.chart)
        except ChartUnavailable as exc:
            print(f"reliant simulate: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"reliant simulate: cannot write the chart: {exc}", file=sys.stderr)
            return 1
        print(f"chart written to {path}", file=sys.stderr)
    return 0
