"""Judging an SLO from counts: conditions, firing severities, budget and forecast."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slo_helpers import slo

from reliant.server.domains.slo import compile_plan
from reliant.server.domains.slo.assess import Counted, assess, judge_slices, slice_range
from reliant.spec import slo_budget as b
from reliant.spec.models import SLOSpec

DAY = 86400.0
NOW = 1_800_000_000.0
PLAN = compile_plan("checkout-availability", SLOSpec.model_validate(slo()))
PERIOD = b.rolling_period(30 * DAY, NOW)


def _windows(ratios: dict[float, tuple[int, int]]) -> dict[float, Counted]:
    return {w: Counted(t - bad, t, t) for w, (bad, t) in ratios.items()}


counts = st.tuples(st.integers(0, 2000), st.integers(0, 2000)).map(
    lambda p: (min(p), max(p))  # (bad, total) with bad <= total
)


@given(st.fixed_dictionaries(dict.fromkeys(PLAN.lookbacks, counts)), st.sampled_from([0, 10, 500]))
def test_firing_is_what_the_conditions_say(
    ratios: dict[float, tuple[int, int]], least: int
) -> None:
    """The cycle's fast firing check and the detailed conditions always agree."""
    plan = compile_plan("x", SLOSpec.model_validate(slo(alerting={"min_events": least})))
    a = assess(plan, NOW, PERIOD, Counted(0, 0, 0), _windows(ratios))
    detailed = {c.window.severity for c in a.conditions() if c.firing}
    assert detailed == set(a.firing)
    for c in a.conditions():
        expected = b.fires(c.long.ratio, c.short.ratio, c.long.events, c.threshold, least)
        assert expected == c.firing


def test_page_fires_when_both_page_windows_burn_above_14_4x() -> None:
    """2% errors in both 1h and 5m (20x) page; the 5m window at 1% (10x) does not."""
    windows = {w: Counted(1000, 1000, 1000) for w in PLAN.lookbacks}
    windows[3600.0] = Counted(980, 1000, 1000)
    windows[300.0] = Counted(980, 1000, 1000)
    assert ("page",) == assess(PLAN, NOW, PERIOD, Counted(0, 0, 0), windows).firing
    windows[300.0] = Counted(990, 1000, 1000)
    assert () == assess(PLAN, NOW, PERIOD, Counted(0, 0, 0), windows).firing


def test_forecast_at_the_1h_rate_and_the_period_rate() -> None:
    """60% of the budget left; burning 2x over the hour: 9 days left; 0.4x on average."""
    windows = {w: Counted(1000, 1000, 1000) for w in PLAN.lookbacks}
    windows[3600.0] = Counted(998, 1000, 1000)  # 0.2% errors: 2x
    period = Counted(999_600, 1_000_000, 1_000_000)  # 400 bad of 1000 allowed
    a = assess(PLAN, NOW, PERIOD, period, windows)
    assert 0.6 == pytest.approx(a.budget.remaining)
    assert (2.0, 0.4) == (pytest.approx(a.burn_1h), pytest.approx(a.burn_period))
    assert 9 * DAY == pytest.approx(a.exhaustion_1h)
    assert 45 * DAY == pytest.approx(a.exhaustion_period)


def test_slice_range_judges_only_whole_slices() -> None:
    """From origin 0 with 300 s slices, [1000, 2000) holds whole slices 4, 5 (1200-1800)."""
    assert range(4, 6) == slice_range(0, 300, 1000.0, 2000.0)
    assert range(4, 4) == slice_range(0, 300, 1000.0, 1400.0)


def test_judge_slices_counts_quiet_slices_good() -> None:
    """Slices without traffic are good; each window judges its last whole slices."""
    plan = compile_plan(
        "sliced",
        SLOSpec.model_validate(
            slo(window={"rolling": "1h"}, budgeting="timeslices", timeslices={"duration": "5m"})
        ),
    )
    now = 3600.0 * 1000 + 10
    period = plan.period(now)
    first = int((now - 3600) // 300) + 1
    slices = {first: (90, 100), first + 5: (99, 100)}  # one bad, one good, the rest quiet
    counted, windows = judge_slices(
        plan, slices, origin=0, now=now, period=period, events={}, period_events=200
    )
    assert (10, 11, 200) == tuple(counted)  # 11 whole slices in the last hour, one bad
    assert (1, 1) == (windows[300.0].good, windows[300.0].total)
    assert (11, 12) == (windows[3600.0].good, windows[3600.0].total)
