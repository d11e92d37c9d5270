"""The limit algorithms, step by step against hand-computed sequences."""

from __future__ import annotations

import random

import pytest

from reliant.resilience.limits import (
    AIMD,
    AIMDOptions,
    Gradient2,
    Gradient2Options,
    Vegas,
    VegasOptions,
    log10_root,
)

# -- AIMD ------------------------------------------------------------------------------


def test_aimd_defaults_match_netflix() -> None:
    """AIMD starts at 20 within [20, 200], backs off by 0.9 and treats 5 s as a timeout."""
    assert AIMDOptions(initial=20, min_limit=20, max_limit=200, backoff_ratio=0.9, timeout=5.0) == (
        AIMD().options
    )
    assert AIMD().limit == 20


def test_aimd_grows_by_one_when_half_the_limit_is_in_flight() -> None:
    """2·inflight >= L adds one; fewer in flight leaves the limit alone."""
    aimd = AIMD()
    assert [
        aimd.update(0.1, 10, False),  # 20 >= 20
        aimd.update(0.1, 10, False),  # 20 < 21
        aimd.update(0.1, 11, False),  # 22 >= 21
        aimd.update(0.1, 1, False),
    ] == [21, 21, 22, 22]


def test_aimd_drop_and_slow_call_back_off_multiplicatively() -> None:
    """A drop or an RTT above the timeout sets floor(0.9·L); an RTT equal to it does not."""
    aimd = AIMD(AIMDOptions(initial=50, min_limit=5))
    assert [
        aimd.update(0.1, 1, True),  # floor(45.0)
        aimd.update(0.1, 1, True),  # floor(40.5)
        aimd.update(5.5, 1, False),  # slower than 5 s: a drop
        aimd.update(5.0, 18, False),  # exactly 5 s is not; 36 >= 36 grows
    ] == [45, 40, 36, 37]


def test_aimd_clamps_to_min_and_max() -> None:
    """Neither a drop at the floor nor growth at the ceiling leaves the range."""
    at_floor = AIMD()
    at_ceiling = AIMD(AIMDOptions(initial=200))
    assert (at_floor.update(0.1, 1, True), at_ceiling.update(0.1, 200, False)) == (20, 200)


def test_aimd_backoff_ratio_is_configurable() -> None:
    """backoff_ratio 0.5 halves the limit on a drop."""
    aimd = AIMD(AIMDOptions(initial=40, min_limit=1, backoff_ratio=0.5))
    assert [aimd.update(0.1, 1, True) for _ in range(6)] == [20, 10, 5, 2, 1, 1]


# -- Vegas -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(1, 1), (9, 1), (10, 1), (99.9, 1), (100, 2), (999, 2), (1000, 3), (12345, 4)],
)
def test_log10_root(limit: float, expected: int) -> None:
    """Vegas's step is max(1, floor(log10 L)) of the integer limit."""
    assert expected == log10_root(limit)


def vegas(**options: int | float) -> Vegas:
    return Vegas(VegasOptions(**options), rng=random.Random(7))  # type: ignore[arg-type]


def test_vegas_first_sample_only_records_the_noload_rtt() -> None:
    """The first RTT becomes rtt_noload and leaves the limit at 20."""
    v = vegas()
    assert (v.update(0.1, 20, False), v.rtt_noload) == (20, 0.1)


def test_vegas_thresholds_in_order() -> None:
    """At L in [10, 100): log = 1, α = 3, β = 6; queue ≤ 1 → +6, < 3 → +1, > 6 → −1, else 0."""
    v = vegas()
    v.update(0.1, 20, False)
    steps = [
        v.update(0.1, 20, False),  # queue ceil(20·0) = 0 ≤ 1: +β → 26
        v.update(0.2, 20, False),  # queue ceil(26·0.5) = 13 > 6: −1 → 25
        v.update(0.105, 20, False),  # queue ceil(25·0.0476) = 2 < 3: +1 → 26
        v.update(0.115, 20, False),  # queue ceil(26·0.1304) = 4 in [3, 6]: no change
        v.update(0.1, 20, True),  # drop: −1 → 25
    ]
    assert steps == [26, 25, 26, 26, 25]


def test_vegas_uses_larger_steps_above_100() -> None:
    """At L = 150, log = 2: no queue adds β = 12, a long queue subtracts 2."""
    v = vegas(initial=150)
    v.update(0.1, 150, False)
    assert [v.update(0.1, 150, False), v.update(0.2, 150, False)] == [162, 160]


def test_vegas_does_not_grow_while_underused() -> None:
    """With fewer than L/2 calls in flight the limit stays, even with no queue."""
    v = vegas()
    v.update(0.1, 20, False)
    assert v.update(0.1, 9, False) == 20


def test_vegas_drop_shrinks_even_while_underused_and_keeps_noload() -> None:
    """A drop decreases the limit whatever the inflight count; its RTT is not a new minimum."""
    v = vegas()
    v.update(0.1, 20, False)
    assert (v.update(0.001, 1, True), v.rtt_noload) == (19, 0.1)


def test_vegas_new_minimum_rtt_resets_noload_without_moving_the_limit() -> None:
    """A faster sample replaces rtt_noload and changes nothing else."""
    v = vegas()
    v.update(0.1, 20, False)
    assert (v.update(0.05, 20, False), v.rtt_noload) == (20, 0.05)


def test_vegas_ignores_samples_without_a_measurable_rtt() -> None:
    """An RTT of zero (a coarse clock) neither sets rtt_noload nor moves the limit."""
    v = vegas()
    assert (v.update(0.0, 20, False), v.rtt_noload) == (20, None)


def test_vegas_clamps_to_min_and_max() -> None:
    """Growth stops at max_limit and a drop at min_limit."""
    high = vegas(initial=995)
    high.update(0.1, 995, False)
    low = vegas(initial=1)
    assert (high.update(0.1, 995, False), low.update(0.1, 1, True)) == (1000, 1)


def test_vegas_smoothing_blends_the_new_estimate() -> None:
    """With smoothing 0.5, a +6 step moves the estimate by 3."""
    v = vegas(smoothing=0.5)
    v.update(0.1, 20, False)
    assert (v.update(0.1, 20, False), v.estimate) == (23, 23.0)


def test_vegas_reprobes_noload_after_jittered_sample_count() -> None:
    """After jitter·probe_multiplier·L samples the current RTT becomes rtt_noload."""
    jitter = random.Random(3).uniform(0.5, 1.0)  # the same draw Vegas makes
    v = Vegas(VegasOptions(probe_multiplier=1), rng=random.Random(3))
    v.update(0.1, 1, False)
    noloads = []
    for _ in range(25):
        v.update(0.3, 1, False)
        noloads.append(v.rtt_noload)
    first_probe = next(n for n in range(1, 30) if jitter * 20 <= n)  # samples counted from 1
    assert [0.1] * (first_probe - 2) + [0.3] == noloads[: first_probe - 1]


# -- Gradient2 -------------------------------------------------------------------------


def test_gradient2_defaults_match_netflix() -> None:
    """Gradient2 starts at 20 in [20, 200], smoothing 0.2, queue 4, tolerance 1.5."""
    expected = Gradient2Options(
        initial=20,
        min_limit=20,
        max_limit=200,
        smoothing=0.2,
        queue_size=4,
        tolerance=1.5,
        long_window=600,
    )
    assert expected == Gradient2().options


def test_gradient2_sequence() -> None:
    """L ← 0.8·L + 0.2·(L·g + 4), with no change while inflight < L/2."""
    g2 = Gradient2(Gradient2Options(min_limit=1))
    steps = [
        g2.update(0.1, 10, False),  # g = 1: 0.8·20 + 0.2·24 = 20.8
        g2.update(0.1, 10, False),  # 10 < 10.4: app-limited, no change
        g2.update(0.1, 20, False),  # 0.8·20.8 + 0.2·24.8 = 21.6
    ]
    assert steps == [20, 20, 21]
    assert pytest.approx(g2.estimate) == 21.6
    # long = mean(0.1, 0.1, 0.1, 0.4) = 0.175; g = 1.5·0.175/0.4 = 0.65625
    # 0.8·21.6 + 0.2·(21.6·0.65625 + 4) = 20.915
    assert g2.update(0.4, 20, False) == 20
    assert (pytest.approx(g2.estimate), pytest.approx(g2.long_rtt)) == (20.915, 0.175)


def test_gradient2_tolerance_absorbs_moderate_inflation() -> None:
    """An RTT up to tolerance × the long RTT still gives g = 1."""
    g2 = Gradient2(Gradient2Options(min_limit=1))
    g2.update(0.1, 20, False)  # 20.8
    # long = mean(0.1, 0.14) = 0.12; 1.5·0.12/0.14 > 1: g = 1 → 0.8·20.8 + 0.2·24.8 = 21.6
    g2.update(0.14, 20, False)
    assert pytest.approx(g2.estimate) == 21.6


def test_gradient2_gradient_never_below_half() -> None:
    """A very slow sample cuts the estimate as if g were 0.5."""
    g2 = Gradient2(Gradient2Options(min_limit=1, initial=100))
    for _ in range(9):
        g2.update(0.1, 1, False)  # app-limited: only the long RTT moves
    # long = (0.9 + 100)/10 = 10.09; 1.5·10.09/100 < 0.5, so g = 0.5:
    # 0.8·100 + 0.2·(50 + 4) = 90.8
    assert (g2.update(100.0, 100, False), pytest.approx(g2.estimate)) == (90, 90.8)


def test_gradient2_drop_applies_steepest_gradient_and_skips_average() -> None:
    """A drop uses g = 0.5 even when underused and leaves the long RTT untouched."""
    g2 = Gradient2(Gradient2Options(min_limit=1, initial=100))
    g2.update(0.1, 100, False)  # 100.8, long 0.1
    assert g2.update(0.001, 1, True) == 91  # 0.8·100.8 + 0.2·(50.4 + 4) = 91.52
    assert pytest.approx(g2.long_rtt) == 0.1


def test_gradient2_long_rtt_warms_up_then_averages_exponentially() -> None:
    """The first 10 samples are averaged plainly, then the factor is 2/(window + 1)."""
    g2 = Gradient2(Gradient2Options(long_window=3))
    for _ in range(10):
        g2.update(1.0, 1, False)
    g2.update(2.0, 1, False)  # 1.0·0.5 + 2.0·0.5
    assert pytest.approx(g2.long_rtt) == 1.5


def test_gradient2_long_rtt_decays_when_far_above_the_sample() -> None:
    """When long > 2·short, the long RTT also decays by 5 %."""
    g2 = Gradient2(Gradient2Options(long_window=3))
    for _ in range(10):
        g2.update(1.0, 1, False)
    g2.update(0.1, 1, False)  # EMA 0.55 > 0.2, then ×0.95
    assert pytest.approx(g2.long_rtt) == 0.55 * 0.95


def test_gradient2_clamps_to_min_and_max() -> None:
    """The estimate stays within [min_limit, max_limit]."""
    at_ceiling = Gradient2(Gradient2Options(initial=200))
    at_floor = Gradient2()
    assert (at_ceiling.update(0.1, 200, False), at_floor.update(0.1, 20, True)) == (200, 20)


def test_gradient2_zero_rtt_counts_as_no_queueing() -> None:
    """A sample of 0 s (a coarse clock) grows the limit as g = 1 would."""
    g2 = Gradient2(Gradient2Options(min_limit=1))
    g2.update(0.0, 20, False)
    assert pytest.approx(g2.estimate) == 20.8


# -- options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (AIMDOptions, {"backoff_ratio": 1.0}, "backoff_ratio must be in [0.5, 1)"),
        (AIMDOptions, {"backoff_ratio": 0.4}, "backoff_ratio must be in [0.5, 1)"),
        (AIMDOptions, {"timeout": 0}, "timeout must be a finite number > 0"),
        (AIMDOptions, {"initial": 10}, "initial must be in [min_limit, max_limit]"),
        (AIMDOptions, {"min_limit": 300}, "min_limit must be <= max_limit"),
        (AIMDOptions, {"max_limit": 0}, "max_limit must be an integer >= 1"),
        (VegasOptions, {"smoothing": 0.0}, "smoothing must be in (0, 1]"),
        (VegasOptions, {"smoothing": 1.5}, "smoothing must be in [0, 1]"),
        (VegasOptions, {"probe_multiplier": 0}, "probe_multiplier must be an integer >= 1"),
        (Gradient2Options, {"tolerance": 0.9}, "tolerance must be a finite number >= 1"),
        (Gradient2Options, {"queue_size": -1}, "queue_size must be an integer >= 0"),
        (Gradient2Options, {"long_window": 0}, "long_window must be an integer >= 1"),
        (Gradient2Options, {"initial": 2.5}, "initial must be an integer >= 1"),
    ],
)
def test_bad_options_raise_value_error(
    cls: type[AIMDOptions | VegasOptions | Gradient2Options],
    options: dict[str, float],
    message: str,
) -> None:
    """Out-of-range options are rejected at construction, naming the option and range."""
    with pytest.raises(ValueError, match="AdaptiveLimit") as caught:
        cls(**options)  # type: ignore[arg-type]
    assert message in str(caught.value)
