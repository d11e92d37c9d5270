"""Tests for reliant.resilience.registry: policies and pipelines from plain dicts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from reliant.exceptions import InjectedFault, RateLimitedError
from reliant.faults.fault import Fault
from reliant.resilience.adaptive import AdaptiveLimit
from reliant.resilience.backoff import Backoff
from reliant.resilience.budget import RetryBudget
from reliant.resilience.bulkhead import Bulkhead
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.fallback import Fallback
from reliant.resilience.hedge import Hedge
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.ratelimit import RateLimiter
from reliant.resilience.registry import (
    KINDS,
    Registry,
    _construct,
    build_budget,
    build_pipeline,
    build_policy,
    exception_type,
)
from reliant.resilience.retry import Retry
from reliant.resilience.throttle import Throttle
from reliant.resilience.timeout import Timeout
from reliant.resilience.windows import CountWindow, TimeWindow
from reliant.testing import VirtualClock


def error_of(specs: list[Any], **kwargs: Any) -> str:
    """Build pipeline 'x' from ``specs`` and return the ValueError's message."""
    with pytest.raises(ValueError) as info:
        build_pipeline(specs, name="x", **kwargs)
    return str(info.value)


# -- every kind ---------------------------------------------------------------------


def test_every_kind_is_listed() -> None:
    """KINDS names every policy a spec may build."""
    assert (
        "retry",
        "circuit_breaker",
        "timeout",
        "bulkhead",
        "rate_limiter",
        "fallback",
        "hedge",
        "adaptive_limit",
        "throttle",
        "fault",
    ) == KINDS


def test_retry_with_its_options() -> None:
    """A retry spec sets attempts, a backoff mapping, durations and exception names."""
    retry = build_policy(
        {
            "kind": "retry",
            "name": "payments",
            "attempts": 5,
            "backoff": {"kind": "exponential", "initial": "100ms", "max": "2s", "jitter": "equal"},
            "max_elapsed": "30s",
            "retry_on": ["ConnectionError", "TimeoutError"],
        }
    )
    assert isinstance(retry, Retry)
    o = retry.options
    assert ("payments", 5, 30.0) == (retry.name, o.attempts, o.max_elapsed)
    assert Backoff.exponential(initial=0.1, max=2.0, jitter="equal") == o.backoff
    assert (ConnectionError, TimeoutError) == o.retry_on


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"kind": "constant", "delay": "250ms"}, Backoff.constant(0.25)),
        ({"kind": "linear", "initial": 1, "step": "500ms"}, Backoff.linear(1.0, 0.5)),
        ({"initial": "1s"}, Backoff.exponential(initial=1.0)),
        ({"kind": "exponential", "max": None}, Backoff.exponential(max=None)),
        ({"kind": "decorrelated", "initial": "50ms", "max": "1m"}, Backoff.decorrelated(0.05, 60)),
    ],
)
def test_every_backoff_kind(spec: dict[str, Any], expected: Backoff) -> None:
    """Each backoff kind builds from a mapping; exponential is the default kind."""
    retry = build_policy({"kind": "retry", "backoff": spec})
    assert isinstance(retry, Retry)
    assert expected == retry.options.backoff


def test_backoff_instances_pass_through() -> None:
    """A Backoff object in a Python dict is used as is."""
    backoff = Backoff.constant(3.0)
    retry = build_policy({"kind": "retry", "backoff": backoff})
    assert isinstance(retry, Retry)
    assert backoff is retry.options.backoff


def test_retry_on_accepts_a_predicate_from_python() -> None:
    """A Python dict may give retry_on as a predicate."""

    def transient(exc: BaseException) -> bool:
        return True

    retry = build_policy({"kind": "retry", "retry_on": transient})
    assert isinstance(retry, Retry)
    assert transient is retry.options.retry_on


def test_timeout_bulkhead_fallback_hedge_fault() -> None:
    """The standard-library-only kinds build with durations and exception names."""
    timeout = build_policy({"kind": "timeout", "seconds": "1.5s", "hard": True})
    bulkhead = build_policy({"kind": "bulkhead", "max_concurrent": 4, "max_wait": "200ms"})
    fallback = build_policy({"kind": "fallback", "value": [], "on": "LookupError"})
    hedge = build_policy({"kind": "hedge", "delay": "50ms", "max_hedges": 2, "on": ["OSError"]})
    fault = build_policy(
        {"kind": "fault", "rate": 0.5, "error": "TimeoutError", "latency": "1s", "enabled": True}
    )
    assert isinstance(timeout, Timeout)
    assert (1.5, True) == (timeout.options.seconds, timeout.options.hard)
    assert isinstance(bulkhead, Bulkhead)
    assert (4, 0.2) == (bulkhead.options.max_concurrent, bulkhead.options.max_wait)
    assert isinstance(fallback, Fallback)
    assert ([], (LookupError,)) == (fallback.options.value, fallback.options.on)
    assert isinstance(hedge, Hedge)
    assert (0.05, 2, (OSError,)) == (
        hedge.options.delay,
        hedge.options.max_hedges,
        hedge.options.on,
    )
    assert isinstance(fault, Fault)
    assert (0.5, TimeoutError, 1.0, True) == (
        fault.rate,
        fault.options.error,
        fault.options.latency,
        fault.enabled,
    )


def test_hedge_delay_may_be_negative() -> None:
    """A hedge's delay is signed (negative: fallback mode), so numbers pass unparsed."""
    hedge = build_policy({"kind": "hedge", "delay": -1})
    assert isinstance(hedge, Hedge)
    assert -1.0 == hedge.options.delay


def test_fault_error_none_and_instances() -> None:
    """A fault may inject a result (error: null) or, from Python, an exception instance."""
    error = InjectedFault("scripted")
    latency = build_policy({"kind": "fault", "error": None, "latency": "2s"})
    instance = build_policy({"kind": "fault", "error": error})
    assert isinstance(latency, Fault)
    assert isinstance(instance, Fault)
    assert (None, error) == (latency.options.error, instance.options.error)


def test_circuit_breaker() -> None:
    """A breaker spec takes windows, durations, an open_for schedule and exception names."""
    breaker = build_policy(
        {
            "kind": "circuit_breaker",
            "failure_rate": 0.25,
            "window": {"kind": "time", "seconds": "1m"},
            "min_calls": 10,
            "slow_call": "2s",
            "open_for": "30s",
            "record": ["ConnectionError"],
            "ignore": "KeyError",
        }
    )
    assert isinstance(breaker, CircuitBreaker)
    o = breaker.options
    assert (0.25, TimeWindow(60), 10, 2.0, 30.0) == (
        o.failure_rate,
        o.window,
        o.min_calls,
        o.slow_call,
        o.open_for,
    )
    assert ((ConnectionError,), (KeyError,)) == (o.record, o.ignore)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"kind": "count", "size": 20}, CountWindow(20)),
        ({"size": 20}, CountWindow(20)),
        ({"kind": "count"}, CountWindow(100)),
        ({"kind": "time"}, TimeWindow(60)),
        ({"kind": "time", "seconds": 90}, TimeWindow(90)),
    ],
)
def test_breaker_windows(window: dict[str, Any], expected: object) -> None:
    """Window mappings build count (default 100) or time (default 60 s) windows."""
    breaker = build_policy({"kind": "circuit_breaker", "window": window})
    assert isinstance(breaker, CircuitBreaker)
    assert expected == breaker.options.window


def test_breaker_open_for_schedule() -> None:
    """open_for as a mapping is an exponential schedule without jitter, by opening count."""
    breaker = build_policy(
        {"kind": "circuit_breaker", "open_for": {"initial": "10s", "multiplier": 3, "max": "1m"}}
    )
    assert isinstance(breaker, CircuitBreaker)
    open_for = breaker.options.open_for
    assert callable(open_for)
    assert [10.0, 30.0, 60.0, 60.0] == [open_for(n) for n in range(1, 5)]


def test_breaker_open_for_other_schedules() -> None:
    """open_for may name another backoff kind, such as a constant wait."""
    breaker = build_policy(
        {"kind": "circuit_breaker", "open_for": {"kind": "linear", "initial": "5s", "step": "5s"}}
    )
    assert isinstance(breaker, CircuitBreaker)
    open_for = breaker.options.open_for
    assert callable(open_for)
    assert [5.0, 10.0, 15.0] == [open_for(n) for n in range(1, 4)]


@pytest.mark.parametrize("algorithm", ["gcra", "token_bucket", "sliding_window"])
def test_rate_limiter(algorithm: str) -> None:
    """Each rate-limiter algorithm builds, with durations for per and max_wait."""
    limiter = build_policy(
        {"kind": "rate_limiter", "algorithm": algorithm, "rate": 5, "per": "1m", "max_wait": "1s"}
    )
    assert isinstance(limiter, RateLimiter)
    o = limiter.options
    assert (algorithm, 5, 60.0, 1.0) == (o.algorithm, o.rate, o.per, o.max_wait)


def test_rate_limiter_defaults_to_gcra() -> None:
    """Without an algorithm the limiter is GCRA."""
    limiter = build_policy({"kind": "rate_limiter", "rate": 10, "burst": 3})
    assert isinstance(limiter, RateLimiter)
    assert ("gcra", 3) == (limiter.options.algorithm, limiter.options.burst)


def test_adaptive_limit() -> None:
    """An adaptive limit takes its algorithm, a duration timeout and drop_on names."""
    limit = build_policy(
        {"kind": "adaptive_limit", "algorithm": "aimd", "timeout": "5s", "drop_on": "TimeoutError"}
    )
    assert isinstance(limit, AdaptiveLimit)
    o = limit.options
    assert ("aimd", 5.0, (TimeoutError,)) == (o.algorithm, o.timeout, o.drop_on)


def test_throttle() -> None:
    """A throttle takes k, a duration window and overload exception names."""
    throttle = build_policy(
        {
            "kind": "throttle",
            "k": 1.5,
            "window": "2m",
            "overload": "reliant.exceptions.RateLimitedError",
        }
    )
    assert isinstance(throttle, Throttle)
    o = throttle.options
    assert (1.5, 120.0, (RateLimitedError,)) == (o.k, o.window, o.overload)


def test_policy_instances_pass_through() -> None:
    """A ready-made policy among the specs is used as is."""
    retry = Retry()
    pipeline = build_pipeline([retry, {"kind": "timeout", "seconds": 1}])
    assert retry is pipeline.policies[0]


def test_clock_reaches_every_policy() -> None:
    """The clock given to the builder is the clock of every policy built."""
    clock = VirtualClock()
    pipeline = build_pipeline(
        [{"kind": "timeout", "seconds": 1}, {"kind": "retry"}, {"kind": "fault"}], clock=clock
    )
    assert [clock, clock, clock] == [p.clock for p in pipeline]


def test_seeded_builds_repeat() -> None:
    """The same seed gives every policy the same random draws, build after build."""

    def draws(seed: int) -> list[str]:
        fault = build_policy(
            {"kind": "fault", "rate": 0.5, "enabled": True}, rng=random.Random(seed)
        )
        seen = []
        for _ in range(40):
            try:
                fault.call(lambda: None)
                seen.append("ok")
            except InjectedFault:
                seen.append("fault")
        return seen

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


# -- exception names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ConnectionError", ConnectionError),
        ("TimeoutError", TimeoutError),
        ("reliant.exceptions.InjectedFault", InjectedFault),
        ("reliant.exceptions:RateLimitedError", RateLimitedError),
        ("asyncio.CancelledError", __import__("asyncio").CancelledError),
        (KeyError, KeyError),
    ],
)
def test_exception_names_resolve(name: object, expected: type[BaseException]) -> None:
    """Builtin names, dotted and colon import paths and classes all resolve."""
    assert expected is exception_type(name, "p")


@pytest.mark.parametrize(
    "name", ["ConectionError", "print", "os.path", "no.such.module.Error", "reliant:Nope", "", 5]
)
def test_bad_exception_names_are_refused(name: object) -> None:
    """A name that is not an exception class fails, naming the path."""
    with pytest.raises(ValueError, match=r"^policy\.retry_on: "):
        build_policy({"kind": "retry", "retry_on": name})


def test_bad_name_in_a_list_gives_its_index() -> None:
    """In a list of exception names, the path ends with the bad item's index."""
    message = error_of([{"kind": "retry", "retry_on": ["OSError", "Nope"]}])
    assert message.startswith("pipeline 'x'[0].retry_on[1]: 'Nope' is not an exception class")


# -- budgets ------------------------------------------------------------------------


def test_budgets_are_shared_by_name() -> None:
    """Retry specs naming one budget get the very same RetryBudget, across pipelines."""
    clock = VirtualClock()
    registry = Registry.from_dict(
        {
            "budgets": {"shared": {"ratio": 0.1, "min_per_second": 1, "window": "30s"}},
            "payments": [{"kind": "retry", "budget": "shared"}],
            "search": [{"kind": "timeout", "seconds": 1}, {"kind": "retry", "budget": "shared"}],
        },
        clock=clock,
    )
    shared = registry.budgets["shared"]
    payments = registry.get("payments").policies[0]
    search = registry.get("search").policies[1]
    assert isinstance(payments, Retry)
    assert isinstance(search, Retry)
    assert shared is payments.options.budget is search.options.budget
    assert (0.1, 1.0, 30.0) == (
        shared.options.ratio,
        shared.options.min_per_second,
        shared.options.window,
    )


def test_inline_budget() -> None:
    """A retry may define its own budget inline."""
    retry = build_policy({"kind": "retry", "budget": {"ratio": 0.5, "window": "1m"}})
    assert isinstance(retry, Retry)
    assert isinstance(retry.options.budget, RetryBudget)
    assert 60.0 == retry.options.budget.options.window


def test_budgets_passed_to_the_builder() -> None:
    """build_pipeline resolves budget names from the budgets it is given."""
    budget = RetryBudget()
    pipeline = build_pipeline([{"kind": "retry", "budget": "b"}], budgets={"b": budget})
    retry = pipeline.policies[0]
    assert isinstance(retry, Retry)
    assert budget is retry.options.budget


def test_unknown_budget_name() -> None:
    """Naming a budget that does not exist lists the known ones."""
    message = error_of([{"kind": "retry", "budget": "shard"}], budgets={"shared": RetryBudget()})
    assert "pipeline 'x'[0].budget: no retry budget named 'shard' (known: shared)" == message


@pytest.mark.parametrize(
    ("spec", "start"),
    [
        ({"ratio": -1}, "budget.ratio: RetryBudget: ratio must be"),
        ({"window": "forever"}, "budget.window: expected a duration"),
        ({"percent": 20}, "budget.percent: unknown option of retry budget"),
        (0.2, "budget: expected a mapping"),
    ],
)
def test_bad_budgets(spec: Any, start: str) -> None:
    """Budget errors name the budget's path and the option."""
    with pytest.raises(ValueError) as info:
        build_budget(spec)
    assert str(info.value).startswith(start)


# -- error messages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "start"),
    [
        ([{"kind": "retry"}, {"kind": "retyr"}], "pipeline 'x'[1].kind: expected one of retry,"),
        ([{"attempts": 3}], "pipeline 'x'[0].kind: expected one of"),
        ([{"kind": ["retry"]}], "pipeline 'x'[0].kind: expected one of"),
        (["retry"], "pipeline 'x'[0]: expected a mapping with a 'kind', got 'retry'"),
        (
            [{"kind": "timeout", "seconds": 1}, {"kind": "retry", "backoff": {"kind": "fib"}}],
            "pipeline 'x'[1].backoff.kind: expected one of constant, linear, exponential",
        ),
        ([{"kind": "retry", "backoff": 0.5}], "pipeline 'x'[0].backoff: expected a mapping"),
        (
            [{"kind": "retry", "tries": 3}],
            "pipeline 'x'[0].tries: unknown option of retry (known: attempts, backoff,",
        ),
        (
            [{"kind": "retry", "backoff": {"kind": "constant", "initial": 1}}],
            "pipeline 'x'[0].backoff.initial: unknown option of constant backoff (known: delay,",
        ),
        (
            [{"kind": "retry", "attempts": 0}],
            "pipeline 'x'[0].attempts: Retry: attempts must be an integer >= 1, got 0",
        ),
        (
            [{"kind": "retry", "backoff": {"jitter": "gaussian"}}],
            "pipeline 'x'[0].backoff.jitter: Backoff.exponential: jitter must be one of",
        ),
        (
            [{"kind": "retry", "backoff": {"initial": "1s", "max": "100ms"}}],
            "pipeline 'x'[0].backoff.max: Backoff.exponential: max must be >= initial",
        ),
        (
            [{"kind": "retry", "max_elapsed": "soon"}],
            "pipeline 'x'[0].max_elapsed: expected a duration like",
        ),
        ([{"kind": "timeout"}], "pipeline 'x'[0].seconds: a timeout needs seconds"),
        ([{"kind": "timeout", "seconds": -1}], "pipeline 'x'[0].seconds: a duration must be >= 0"),
        ([{"kind": "timeout", "seconds": 0}], "pipeline 'x'[0].seconds: Timeout: seconds must be"),
        ([{"kind": "rate_limiter"}], "pipeline 'x'[0].rate: required by gcra rate_limiter"),
        (
            [{"kind": "rate_limiter", "algorithm": "leaky", "rate": 1}],
            "pipeline 'x'[0].algorithm: expected one of gcra, token_bucket, sliding_window",
        ),
        (
            [{"kind": "circuit_breaker", "window": {"kind": "sliding"}}],
            "pipeline 'x'[0].window.kind: expected 'count' or 'time'",
        ),
        (
            [{"kind": "circuit_breaker", "window": {"kind": "count", "length": 5}}],
            "pipeline 'x'[0].window.length: unknown option of count window (known: size)",
        ),
        (
            [{"kind": "circuit_breaker", "window": {"kind": "count", "size": 0}}],
            "pipeline 'x'[0].window.size: CountWindow: size must be an integer >= 1",
        ),
        (
            [{"kind": "circuit_breaker", "window": {"kind": "time", "seconds": "1.5s"}}],
            "pipeline 'x'[0].window.seconds: a time window counts whole seconds",
        ),
        (
            [{"kind": "circuit_breaker", "failure_rate": 2}],
            "pipeline 'x'[0].failure_rate: CircuitBreaker: failure_rate must be",
        ),
        ([{"kind": "fault", "rate": 2}], "pipeline 'x'[0].rate: Fault: rate must be in [0, 1]"),
        ([{"kind": "fault", "error": "Boom"}], "pipeline 'x'[0].error: 'Boom' is not an exception"),
        ([{"kind": "fallback"}], "pipeline 'x'[0] (fallback): Fallback: give exactly one of"),
        ([{"kind": "bulkhead", "max_concurrent": 0}], "pipeline 'x'[0].max_concurrent: Bulkhead"),
        ([{"kind": "hedge", "max_hedges": 11}], "pipeline 'x'[0].max_hedges: Hedge: max_hedges"),
        ([{"kind": "throttle", "k": 0.5}], "pipeline 'x'[0].k: Throttle: k must be"),
        (
            [{"kind": "adaptive_limit", "algorithm": "pid"}],
            "pipeline 'x'[0].algorithm: AdaptiveLimit: algorithm must be",
        ),
        (
            [{"kind": "adaptive_limit", "initial": 0}],
            "pipeline 'x'[0].initial: AdaptiveLimit(algorithm='gradient2'): initial must be",
        ),
        ([{"kind": "retry", "clock": None}], "pipeline 'x'[0].clock: set by the registry"),
        ([{"kind": "fault", "rng": 1}], "pipeline 'x'[0].rng: set by the registry"),
        ([{"kind": "retry", 1: 2}], "pipeline 'x'[0]: option names must be strings, got 1"),
        (
            [{"kind": "retry", "budget": {"clock": None}}],
            "pipeline 'x'[0].budget.clock: set by the registry",
        ),
    ],
)
def test_errors_start_with_the_path(specs: list[Any], start: str) -> None:
    """Unknown kinds, unknown options and bad values are ValueErrors naming their path."""
    message = error_of(specs)
    assert message.startswith(start), message


def test_type_errors_inside_a_constructor_become_value_errors() -> None:
    """A TypeError raised while building is reported as a ValueError under the path."""

    def broken(**options: Any) -> None:
        raise TypeError("unsupported operand")

    with pytest.raises(ValueError, match=r"^p\.q \(thing\): unsupported operand$"):
        _construct(broken, "p.q", "thing", size=1)


def test_pipeline_must_be_a_list() -> None:
    """A pipeline is a list of specs, not a string or a mapping."""
    with pytest.raises(ValueError, match=r"^pipeline 'x': expected a list of policy specs"):
        build_pipeline("retry", name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^pipeline: expected a list"):
        build_pipeline({"kind": "retry"})  # type: ignore[arg-type]


def test_build_policy_path_defaults_to_policy() -> None:
    """build_policy reports errors under 'policy', or the path it is given."""
    with pytest.raises(ValueError, match=r"^policy\.attempts: "):
        build_policy({"kind": "retry", "attempts": -1})
    with pytest.raises(ValueError, match=r"^spec\.retries\[2\]\.kind: "):
        build_policy({"kind": "nope"}, path="spec.retries[2]")


# -- the registry -------------------------------------------------------------------


def test_registry_builds_named_pipelines() -> None:
    """from_dict builds one pipeline per name; a single spec is a one-policy pipeline."""
    registry = Registry.from_dict(
        {
            "payments": [{"kind": "timeout", "seconds": "2s"}, {"kind": "retry"}],
            "search": {"kind": "fallback", "value": []},
        }
    )
    assert ["payments", "search"] == list(registry)
    assert 2 == len(registry)
    assert "search" in registry
    assert "budgets" not in registry
    payments, search = registry.get("payments"), registry.get("search")
    assert isinstance(payments, Pipeline)
    assert ("payments", "search") == (payments.name, search.name)
    assert [Timeout, Retry] == [type(p) for p in payments]

    def broken() -> object:
        raise ZeroDivisionError

    assert [] == search.call(broken)


def test_registry_errors_name_the_pipeline() -> None:
    """A bad option in a registry names the pipeline and the position."""
    with pytest.raises(ValueError, match=r"^pipeline 'search'\[0\]\.value2: unknown option"):
        Registry.from_dict({"search": [{"kind": "fallback", "value2": 1}]})


def test_registry_lookup_of_an_unknown_name() -> None:
    """get() of an unknown name raises KeyError listing the known pipelines."""
    registry = Registry.from_dict({"a": [], "b": []})
    with pytest.raises(KeyError, match=r"no pipeline named 'c' \(known: a, b\)"):
        registry.get("c")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "registry: expected a mapping of names to pipelines"),
        ({"budgets": []}, "registry.budgets: expected a mapping"),
        ({"budgets": {"b": 5}}, "budgets.b: expected a mapping"),
        ({"budgets": {"b": {"ratio": "x"}}}, "budgets.b.ratio: RetryBudget: ratio must be"),
        ({"p": "retry"}, "pipeline 'p': expected a list of policy specs"),
    ],
)
def test_registry_shape_errors(data: Any, message: str) -> None:
    """A registry that is not shaped as names to pipelines is refused with a path."""
    with pytest.raises(ValueError) as info:
        Registry.from_dict(data)
    assert str(info.value).startswith(message)


def test_without_imports_checks_paths_by_shape_only() -> None:
    """Inside without_imports(), import paths are not imported, only checked by shape."""
    import sys

    from reliant.resilience.registry import UnresolvedException, exception_type, without_imports

    sys.modules.pop("this", None)
    with without_imports():
        assert UnresolvedException is exception_type("this:Anything", "retry_on")
        assert ConnectionError is exception_type("ConnectionError", "retry_on")
        with pytest.raises(ValueError, match="not an exception name or import path"):
            exception_type("os system; rm -rf", "retry_on")
    assert "this" not in sys.modules
    with pytest.raises(ValueError, match="not an exception class"):
        exception_type("this:Anything", "retry_on")  # outside the block it is resolved
