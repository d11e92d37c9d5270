"""Import cost: what ``import X`` adds to a fresh interpreter, in time and memory.

Each import runs in a new ``python -X importtime`` process. The time is the sum of the
cumulative times importtime reports for the statement's top-level imports (interpreter
start-up excluded). The memory is the growth of resident memory across the statement,
read inside the same process: ``VmRSS`` on Linux (``getrusage``'s ``ru_maxrss`` survives
``exec``, so a child of a big process would report its parent's peak), ``ru_maxrss``
elsewhere. Median of a few runs after one that warms the bytecode cache.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from benchmarks.harness import Config, Row, Section, Table, below_target, peak_rss_mib, why

TITLE = "Import cost — fresh interpreter, python -X importtime"

#: ``import reliant`` budgets from DESIGN.md.
BUDGET_MS = 50.0
BUDGET_MIB = 5.0
RUNS = 5

_PROBE = """
import resource, sys
def rss():
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak, peak
before, _ = rss()
{statement}
after, peak = rss()
sys.stdout.write(f"{{after - before}} {{peak}}")
"""

REF = "import reliant"

#: (row label, statement, top-level package whose importtime lines are summed)
IMPORTS = (
    (REF, "import reliant", "reliant"),
    (
        "reliant: the six sync policies used",
        "import reliant as r; r.Retry, r.CircuitBreaker, r.Timeout, r.Bulkhead, "
        "r.RateLimiter, r.Pipeline",
        "reliant",
    ),
    (
        "reliant: every public name used",
        "import reliant as r; [getattr(r, n) for n in r.__all__]",
        "reliant",
    ),
    ("tenacity", "import tenacity", "tenacity"),
    ("stamina", "import stamina", "stamina"),
    ("backoff", "import backoff", "backoff"),
    ("pybreaker", "import pybreaker", "pybreaker"),
    ("circuitbreaker", "import circuitbreaker", "circuitbreaker"),
    ("aiobreaker", "import aiobreaker", "aiobreaker"),
    ("purgatory", "import purgatory", "purgatory"),
    ("limits", "import limits, limits.strategies, limits.storage", "limits"),
    ("pyrate_limiter", "import pyrate_limiter", "pyrate_limiter"),
)


def _importtime_ms(stderr: str, package: str) -> float:
    """Sum the top-level cumulative times from the first line of ``package`` on."""
    total_us = 0
    started = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        name = parts[2].rstrip()[1:]  # one space separates the column from the name
        if name.startswith(" ") or not parts[1].strip().isdigit():
            continue  # a nested import (indented), or the header line
        if name == package or name.startswith(package + "."):
            started = True
        if started:
            total_us += int(parts[1])
    if not started:
        raise RuntimeError(f"no importtime line for {package}")
    return total_us / 1000


def _once(statement: str, package: str) -> tuple[float, float, float]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        if "ModuleNotFoundError" in last:
            raise ImportError(last, name=last.split("'")[-2] if "'" in last else package)
        raise RuntimeError(last)
    added, peak = (int(kib) / 1024 for kib in proc.stdout.split())
    return _importtime_ms(proc.stderr, package), added, peak


def _row(label: str, statement: str, package: str, runs: int) -> Row:
    row = Row(label, reference=label == REF)
    try:
        if runs > 1:
            _once(statement, package)  # warm the bytecode cache
        samples = [_once(statement, package) for _ in range(runs)]
    except Exception as exc:
        row.note = why(exc)
        return row
    row.value = statistics.median(ms for ms, _, _ in samples)
    row.extras["RSS added MiB"] = statistics.median(mib for _, mib, _ in samples)
    row.extras["process peak RSS MiB"] = statistics.median(mib for _, _, mib in samples)
    return row


def run(cfg: Config) -> Section:
    """Time every import and check reliant's budgets."""
    runs = 1 if cfg.quick else RUNS
    section = Section("imports", TITLE)
    t = Table(
        "import",
        "ms",
        [_row(label, stmt, pkg, runs) for label, stmt, pkg in IMPORTS],
        extra_columns=("RSS added MiB", "process peak RSS MiB"),
    )
    t.fill_ratios()
    section.tables.append(t)
    ref = t.row(REF)
    section.targets += [
        below_target("import reliant < 50 ms", ref.value, BUDGET_MS, "ms"),
        below_target(
            "import reliant adds < 5 MiB RSS", ref.extras.get("RSS added MiB"), BUDGET_MIB, "MiB"
        ),
    ]
    section.notes.append(
        f"this process's own peak RSS: {peak_rss_mib():.1f} MiB (the imports run elsewhere)."
    )
    return section
