"""A tiny benchmark harness: time cases, compare them with reliant, render tables.

A *case* is a library's way of doing one thing (a retrying call, a breaker-guarded
call, a limiter decision). Its ``make`` builds the callable once; the harness checks
one result, warms it up while picking a call count so that one repeat lasts about
``Config.repeat_seconds``, then times ``Config.repeats`` repeats of that many calls with
the garbage collector off, interleaving the cases of a table round by round, and keeps
each case's median. Every table has one reference row (reliant); ``ratio`` is the row's
figure divided by the reference's, so ``ratio > 1`` means the peer costs more.

A case whose library is not installed, or whose ``make`` fails, still yields its row,
with no figure and the reason in ``note``: every run produces every row.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Result every benchmarked function returns; a case that gets anything else is broken.
RESULT = 42


@dataclass(frozen=True)
class Config:
    """How hard to measure."""

    quick: bool = False
    repeats: int = 7
    repeat_seconds: float = 0.1
    min_calls: int = 1_000
    max_calls: int = 200_000

    @classmethod
    def make(cls, *, quick: bool) -> Config:
        """The full configuration, or a smoke-test one that only checks every row runs."""
        if quick:
            return cls(quick=True, repeats=2, repeat_seconds=0.0, min_calls=50, max_calls=50)
        return cls()


# -- results ----------------------------------------------------------------------------


@dataclass
class Row:
    """One library's figure in a table (``value`` is ``None`` when it could not run)."""

    library: str
    value: float | None = None
    ratio: float | None = None
    extras: dict[str, float] = field(default_factory=dict)
    note: str = ""
    reference: bool = False


@dataclass
class Target:
    """A budget from DESIGN.md or the issue, checked against this run's figures."""

    description: str
    passed: bool | None  # None: a figure it needs is missing
    detail: str


@dataclass
class Table:
    """Rows measured the same way, with one reference row for the ratios."""

    title: str
    unit: str
    rows: list[Row]
    extra_columns: tuple[str, ...] = ("peak RSS MiB",)
    ratio_label: str = "ratio (peer/reliant)"

    def row(self, library: str) -> Row:
        """Return the row of ``library``."""
        for row in self.rows:
            if row.library == library:
                return row
        raise KeyError(library)

    def value(self, library: str) -> float | None:
        """Return the figure of ``library``'s row, or ``None`` if it did not run."""
        return self.row(library).value

    def fill_ratios(self) -> None:
        """Set every row's ratio to its figure over the reference row's."""
        ref = next((r for r in self.rows if r.reference), None)
        base = ref.value if ref is not None else None
        for row in self.rows:
            if row.value is not None and base:
                row.ratio = row.value / base


@dataclass
class Section:
    """A titled group of tables and the targets checked on them."""

    key: str
    title: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux's ``VmHWM`` where there is one: ``getrusage``'s ``ru_maxrss`` survives
    ``exec``, so a process started by a bigger one (``uv run``) would report its
    parent's peak. Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def ratio_target(
    description: str, table: Table, cheap: str, costly: str, at_least: float
) -> Target:
    """Pass when ``costly`` costs at least ``at_least`` times ``cheap`` in ``table``."""
    a, b = table.value(cheap), table.value(costly)
    if a is None or b is None:
        return Target(description, None, "not measured")
    ratio = b / a
    return Target(description, ratio >= at_least, f"{costly} / {cheap} = {ratio:.2f}×")


def below_target(description: str, figure: float | None, limit: float, unit: str) -> Target:
    """Pass when ``figure`` is under ``limit``."""
    if figure is None:
        return Target(description, None, "not measured")
    return Target(description, figure < limit, f"{_fmt(figure)} {unit} (limit {limit:g} {unit})")


# -- timing -----------------------------------------------------------------------------

Make = Callable[[], Any]


@dataclass(frozen=True)
class Case:
    """How one library does the measured thing.

    ``make`` builds and returns the callable to time — or ``(callable, close)`` when
    something must be shut down afterwards (a limiter's background thread). It may
    raise ``ImportError`` when the library is missing. ``check`` validates one result.
    """

    library: str
    make: Make
    reference: bool = False
    check: Callable[[Any], bool] = lambda result: result == RESULT


def _build(case: Case) -> tuple[Any, Callable[[], None] | None]:
    built = case.make()
    if isinstance(built, tuple):
        return built[0], built[1]
    return built, None


def why(exc: BaseException) -> str:
    """The note of a row that could not run."""
    if isinstance(exc, ImportError):
        return f"not installed ({exc.name or exc})"
    return f"failed: {type(exc).__name__}: {exc}"


def _sync_loop(fn: Callable[[], Any], calls: int) -> int:
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in itertools.repeat(None, calls):
            fn()
        return time.perf_counter_ns() - start
    finally:
        if enabled:
            gc.enable()


async def _async_loop(fn: Callable[[], Awaitable[Any]], calls: int) -> int:
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in itertools.repeat(None, calls):
            await fn()
        return time.perf_counter_ns() - start
    finally:
        if enabled:
            gc.enable()


def _calls(cfg: Config, per_call_ns: float) -> int:
    if cfg.quick:
        return cfg.min_calls
    wanted = int(cfg.repeat_seconds * 1e9 / max(per_call_ns, 1.0))
    return max(cfg.min_calls, min(cfg.max_calls, wanted))


class _Timed:
    """One case being timed: its callable, its event loop if async, and its call count."""

    def __init__(self, cfg: Config, case: Case, fn: Any, is_async: bool) -> None:
        self.fn = fn
        self.runner = asyncio.Runner() if is_async else None
        self.samples: list[float] = []
        try:
            result = self._once(fn) if self.runner is not None else fn()
            if not case.check(result):
                raise AssertionError(f"unexpected result {result!r}")
            probe = cfg.min_calls
            self.calls = _calls(cfg, self._loop(probe) / probe)  # the warm-up calibrates
        except BaseException:
            self.close()
            raise

    def _once(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async def once() -> Any:
            return await fn()

        assert self.runner is not None
        return self.runner.run(once())

    def _loop(self, calls: int) -> int:
        if self.runner is None:
            return _sync_loop(self.fn, calls)
        return self.runner.run(_async_loop(self.fn, calls))

    def repeat(self) -> None:
        """Time one repeat and keep its µs per call."""
        self.samples.append(self._loop(self.calls) / self.calls / 1000)

    def close(self) -> None:
        """Close the event loop, if any."""
        if self.runner is not None:
            self.runner.close()


def table(
    cfg: Config, title: str, cases: Iterable[Case], *, is_async: bool, unit: str = "µs/call"
) -> Table:
    """Measure every case into one table and fill in the ratios.

    Repeats are interleaved — one repeat of every case, then the next round — so
    that a change of load on a shared machine falls on all rows alike. A row's peak
    RSS is read after its first repeat, the only one not interleaved with the others.
    """
    rows: list[Row] = []
    timed: list[tuple[Row, _Timed]] = []
    closers: list[Callable[[], None]] = []
    for case in cases:
        row = Row(case.library, reference=case.reference)
        rows.append(row)
        try:
            fn, close = _build(case)
        except Exception as exc:
            row.note = why(exc)
            continue
        if close is not None:
            closers.append(close)
        try:
            t = _Timed(cfg, case, fn, is_async)
            t.repeat()
        except Exception as exc:
            row.note = why(exc)
            continue
        row.extras["peak RSS MiB"] = peak_rss_mib()
        timed.append((row, t))
    try:
        for _ in range(cfg.repeats - 1):
            for row, t in timed:
                t.repeat()
        for row, t in timed:
            row.value = statistics.median(t.samples)
    finally:
        for _, t in timed:
            t.close()
        for close in closers:
            close()
    result = Table(title, unit, rows)
    result.fill_ratios()
    return result


# -- rendering --------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _ratio(row: Row) -> str:
    if row.ratio is None:
        return "—"
    return "1.00 (ref)" if row.reference else f"{row.ratio:.2f}×"


def _cells(t: Table) -> tuple[list[str], list[list[str]]]:
    head = ["library", t.unit, t.ratio_label, *t.extra_columns, "note"]
    body = [
        [
            r.library,
            _fmt(r.value),
            _ratio(r),
            *(_fmt(r.extras.get(c)) for c in t.extra_columns),
            r.note,
        ]
        for r in t.rows
    ]
    return head, body


def _mark(target: Target) -> str:
    return {True: "PASS", False: "FAIL", None: "N/A"}[target.passed]


def render_text(sections: list[Section], header: list[str]) -> str:
    """Aligned plain-text tables, one block per section."""
    out = [*header, ""]
    for s in sections:
        out.append(f"== {s.title}  (peak RSS {s.peak_rss_mib:.1f} MiB, {s.seconds:.1f} s)")
        for t in s.tables:
            head, body = _cells(t)
            widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
            right = {1, 2, *range(3, 3 + len(t.extra_columns))}

            def line(cells: list[str], widths: list[int] = widths, right: set[int] = right) -> str:
                return "  ".join(
                    c.rjust(w) if i in right else c.ljust(w)
                    for i, (c, w) in enumerate(zip(cells, widths, strict=True))
                ).rstrip()

            out += ["", f"-- {t.title}", line(head), line(["-" * w for w in widths])]
            out += [line(b) for b in body]
        if s.targets:
            out.append("")
            out += [f"  [{_mark(g)}] {g.description}: {g.detail}" for g in s.targets]
        out += [f"  note: {n}" for n in s.notes]
        out.append("")
    return "\n".join(out)


def render_markdown(sections: list[Section]) -> str:
    """The same tables in Markdown."""
    out: list[str] = []
    for s in sections:
        out += [f"## {s.title}", "", f"Peak RSS after this section: {s.peak_rss_mib:.1f} MiB.", ""]
        for t in s.tables:
            head, body = _cells(t)
            out += [f"**{t.title}**", "", "| " + " | ".join(head) + " |"]
            out.append("|" + "|".join([":--", *(["--:"] * (len(head) - 2)), ":--"]) + "|")
            out += ["| " + " | ".join(b) + " |" for b in body]
            out.append("")
        if s.targets:
            out += ["| target | result | figure |", "|:--|:--|:--|"]
            out += [f"| {g.description} | **{_mark(g)}** | {g.detail} |" for g in s.targets]
            out.append("")
        out += [f"- {n}" for n in s.notes]
        if s.notes:
            out.append("")
    return "\n".join(out)


def as_json(sections: list[Section]) -> list[dict[str, Any]]:
    """Plain data for tools and the smoke test."""
    return [
        {
            "key": s.key,
            "title": s.title,
            "peak_rss_mib": s.peak_rss_mib,
            "seconds": s.seconds,
            "tables": [
                {
                    "title": t.title,
                    "unit": t.unit,
                    "rows": [
                        {
                            "library": r.library,
                            "value": r.value,
                            "ratio": r.ratio,
                            "extras": r.extras,
                            "note": r.note,
                            "reference": r.reference,
                        }
                        for r in t.rows
                    ],
                }
                for t in s.tables
            ],
            "targets": [
                {"description": g.description, "passed": g.passed, "detail": g.detail}
                for g in s.targets
            ],
        }
        for s in sections
    ]
