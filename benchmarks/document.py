"""The prose around the tables of ``docs/benchmarks.md``; ``--markdown`` prints it all."""

from __future__ import annotations

from pathlib import Path

#: What is measured and how, ahead of the generated results.
HEAD = Path(__file__).with_name("preamble.md").read_text(encoding="utf-8")


def results_head(machine: list[str], quick: bool) -> str:
    """The heading of the results part, naming where and when they were measured."""
    lines = ["## Results", "", *(f"- {line}" for line in machine), ""]
    if quick:
        lines += ["> `--quick` run: too few iterations for the figures to mean anything.", ""]
    return "\n".join(lines)
