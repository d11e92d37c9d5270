"""Build policies and pipelines from plain dicts — the shape ``reliant.yaml`` uses.

A policy spec is a mapping with a ``kind`` and that policy's options::

    {"kind": "retry", "attempts": 3, "backoff": {"kind": "exponential", "initial": "100ms"}}

Durations accept seconds or strings such as ``"250ms"``/``"2s"``/``"5m"``; exception
types accept builtin names (``"ConnectionError"``) or import paths
(``"httpx.ConnectError"``, ``"pkg.mod:Error"``). Every error is a ``ValueError`` whose
message starts with the path of the offending option.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from reliant._core.clock import Clock
from reliant._core.durations import parse_duration
from reliant._core.policy import Policy
from reliant.resilience.backoff import Backoff
from reliant.resilience.budget import RetryBudget
from reliant.resilience.pipeline import Pipeline

if TYPE_CHECKING:
    import random

Spec = Mapping[str, Any]
T = TypeVar("T")

#: Window sizes a breaker spec gets when its window mapping leaves them out.
DEFAULT_COUNT_WINDOW = 100
DEFAULT_TIME_WINDOW = 60

_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")
_MISSING = re.compile(r"missing \d+ required (?:keyword-only |positional )?arguments?: '(\w+)'")
#: The shape of reliant._core.validate messages: "Owner: option must be ..., got ...".
_BAD_OPTION = re.compile(r"^[^:\n]+: (\w+) must be ")
#: Parameters the registry fills in itself, never listed as options.
_INJECTED = frozenset({"clock", "rng"})


def _options(spec: Mapping[Any, Any], path: str) -> dict[str, Any]:
    """Copy a spec's options, refusing keys that cannot be keyword arguments of a policy."""
    for key in spec:
        if not isinstance(key, str):
            raise ValueError(f"{path}: option names must be strings, got {key!r}")
        if key in _INJECTED:
            raise ValueError(f"{path}.{key}: set by the registry for every policy, not in a spec")
    return dict(spec)


def _construct(target: Callable[..., T], path: str, what: str, /, **options: Any) -> T:
    """Call ``target(**options)``, turning a bad or missing keyword into a located error."""
    try:
        return target(**options)
    except TypeError as exc:
        text = str(exc)
        unexpected, missing = _UNEXPECTED.search(text), _MISSING.search(text)
        if unexpected is not None:
            known = [p for p in inspect.signature(target).parameters if p not in _INJECTED]
            raise ValueError(
                f"{path}.{unexpected[1]}: unknown option of {what} (known: {', '.join(known)})"
            ) from None
        if missing is not None:
            raise ValueError(f"{path}.{missing[1]}: required by {what}") from None
        raise ValueError(f"{path} ({what}): {text}") from None
    except ValueError as exc:
        raise ValueError(_locate(str(exc), path, what, options)) from None


def _locate(message: str, path: str, what: str, options: Mapping[str, Any]) -> str:
    """Prefix ``message`` with the path of the option it is about, when it names one."""
    if message.startswith(path):
        return message
    bad = _BAD_OPTION.match(message)
    if bad is not None and bad[1] in options:
        return f"{path}.{bad[1]}: {message}"
    return f"{path} ({what}): {message}"


class _Context:
    """What a builder needs besides the spec: clock, randomness and shared budgets."""

    __slots__ = ("budgets", "clock", "rng")

    def __init__(
        self, clock: Clock | None, rng: random.Random | None, budgets: Mapping[str, RetryBudget]
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.budgets = budgets

    def child_rng(self) -> random.Random | None:
        """A generator for one policy, derived from the shared seed so runs repeat."""
        if self.rng is None:
            return None
        import random  # imported on first use, not with the module

        return random.Random(self.rng.getrandbits(64))


def _duration(options: dict[str, Any], key: str, path: str, *, signed: bool = False) -> None:
    if key in options and options[key] is not None:
        value = options[key]
        if signed and isinstance(value, int | float) and not isinstance(value, bool):
            options[key] = float(value)
        else:
            options[key] = parse_duration(value, option=f"{path}.{key}")


#: Whether exception import paths are imported (a server validating untrusted specs
#: checks their shape only: importing a named module runs its code).
_RESOLVE_IMPORTS: ContextVar[bool] = ContextVar("reliant_registry_resolve_imports", default=True)
_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*|\.[A-Za-z_]\w*)$")


class UnresolvedException(Exception):
    """Stands for an exception named by import path while imports are off."""


@contextmanager
def without_imports() -> Iterator[None]:
    """Check specs without importing modules they name: import paths are checked by shape.

    For validating specs from untrusted sources (the control plane's API): the pipeline
    built inside this block is for checking only, never for use.
    """
    token = _RESOLVE_IMPORTS.set(False)
    try:
        yield
    finally:
        _RESOLVE_IMPORTS.reset(token)


def exception_type(value: object, path: str) -> type[BaseException]:
    """Resolve an exception class from a name or import path."""
    if isinstance(value, type) and issubclass(value, BaseException):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{path}: expected an exception name such as 'ConnectionError', got {value!r}"
        )
    found: object = getattr(builtins, value, None)
    if found is None and not _RESOLVE_IMPORTS.get():
        if not _IMPORT_PATH.match(value):
            raise ValueError(
                f"{path}: {value!r} is not an exception name or import path; use a builtin "
                "name ('TimeoutError') or an import path ('httpx.ConnectError')"
            )
        return UnresolvedException
    if found is None:
        module_name, sep, attr = value.partition(":")
        if not sep:
            module_name, _, attr = value.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attr) if module_name else None
        except (ImportError, AttributeError, ValueError):
            found = None
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ValueError(
            f"{path}: {value!r} is not an exception class; use a builtin name "
            "('TimeoutError') or an import path ('httpx.ConnectError')"
        )
    return found


def _exceptions(options: dict[str, Any], key: str, path: str) -> None:
    if key not in options:
        return
    value = options[key]
    if isinstance(value, list | tuple):
        options[key] = tuple(exception_type(v, f"{path}.{key}[{i}]") for i, v in enumerate(value))
    else:
        options[key] = (exception_type(value, f"{path}.{key}"),)


_BACKOFFS: dict[str, Callable[..., Backoff]] = {
    "constant": Backoff.constant,
    "linear": Backoff.linear,
    "exponential": Backoff.exponential,
    "decorrelated": Backoff.decorrelated,
}


def _backoff(spec: object, path: str) -> Backoff:
    if isinstance(spec, Backoff):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{path}: expected a mapping like {{kind: exponential, initial: 100ms}}, got {spec!r}"
        )
    options = _options(spec, path)
    kind = options.pop("kind", "exponential")
    if not isinstance(kind, str) or kind not in _BACKOFFS:
        raise ValueError(f"{path}.kind: expected one of {', '.join(_BACKOFFS)}, got {kind!r}")
    for key in ("initial", "step", "max", "delay"):
        _duration(options, key, path)
    return _construct(_BACKOFFS[kind], path, f"{kind} backoff", **options)


def _build_retry(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.retry import Retry

    if "backoff" in options:
        options["backoff"] = _backoff(options["backoff"], f"{path}.backoff")
    _duration(options, "max_elapsed", path)
    retry_on = options.get("retry_on")
    if not (callable(retry_on) and not isinstance(retry_on, type)):  # a predicate stays
        _exceptions(options, "retry_on", path)
    budget = options.get("budget")
    if isinstance(budget, str):
        if budget not in ctx.budgets:
            known = ", ".join(sorted(ctx.budgets)) or "none defined"
            raise ValueError(f"{path}.budget: no retry budget named {budget!r} (known: {known})")
        options["budget"] = ctx.budgets[budget]
    elif isinstance(budget, Mapping):
        options["budget"] = build_budget(budget, f"{path}.budget", ctx.clock)
    return _construct(Retry, path, "retry", **options, clock=ctx.clock, rng=ctx.child_rng())


def _open_for(value: object, path: str) -> object:
    if isinstance(value, Mapping):
        spec = {"kind": "exponential", **value}
        if spec["kind"] == "exponential":
            spec.setdefault("jitter", "none")
        backoff = _backoff(spec, path)
        import random  # imported on first use, not with the module

        rng = random.Random(0)  # jitter is "none" unless asked; seeded for repeatability
        return lambda openings: backoff.delay(openings, 0.0, rng)
    return parse_duration(value, option=path) if not callable(value) else value


def _build_breaker(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.circuit_breaker import CircuitBreaker
    from reliant.resilience.windows import CountWindow, TimeWindow

    window = options.get("window")
    if isinstance(window, Mapping):
        where = f"{path}.window"
        w = _options(window, where)
        kind = w.pop("kind", "count")
        if kind == "count":
            w.setdefault("size", DEFAULT_COUNT_WINDOW)
            options["window"] = _construct(CountWindow, where, "count window", **w)
        elif kind == "time":
            given = w.get("seconds", DEFAULT_TIME_WINDOW)
            seconds = parse_duration(given, option=f"{where}.seconds")
            if not seconds.is_integer():
                raise ValueError(
                    f"{where}.seconds: a time window counts whole seconds, got {given!r}"
                )
            w["seconds"] = int(seconds)
            options["window"] = _construct(TimeWindow, where, "time window", **w)
        else:
            raise ValueError(f"{where}.kind: expected 'count' or 'time', got {kind!r}")
    for key in ("slow_call", "max_half_open_wait"):
        _duration(options, key, path)
    if "open_for" in options:
        options["open_for"] = _open_for(options["open_for"], f"{path}.open_for")
    _exceptions(options, "record", path)
    _exceptions(options, "ignore", path)
    return _construct(CircuitBreaker, path, "circuit_breaker", **options, clock=ctx.clock)


def _build_timeout(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.timeout import Timeout

    _duration(options, "seconds", path)
    if "seconds" not in options:
        raise ValueError(f"{path}.seconds: a timeout needs seconds, e.g. seconds: 2s")
    return _construct(Timeout, path, "timeout", **options, clock=ctx.clock)


def _build_bulkhead(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.bulkhead import Bulkhead

    _duration(options, "max_wait", path)
    return _construct(Bulkhead, path, "bulkhead", **options, clock=ctx.clock)


def _build_rate_limiter(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.ratelimit import RateLimiter

    algorithm = options.pop("algorithm", "gcra")
    factories: dict[str, Callable[..., Policy]] = {
        "gcra": RateLimiter.gcra,
        "token_bucket": RateLimiter.token_bucket,
        "sliding_window": RateLimiter.sliding_window,
    }
    if not isinstance(algorithm, str) or algorithm not in factories:
        raise ValueError(
            f"{path}.algorithm: expected one of {', '.join(factories)}, got {algorithm!r}"
        )
    for key in ("per", "max_wait"):
        _duration(options, key, path)
    return _construct(
        factories[algorithm], path, f"{algorithm} rate_limiter", **options, clock=ctx.clock
    )


def _build_fallback(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.fallback import Fallback

    _exceptions(options, "on", path)
    return _construct(Fallback, path, "fallback", **options, clock=ctx.clock)


def _build_hedge(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.hedge import Hedge

    _duration(options, "delay", path, signed=True)
    _exceptions(options, "on", path)
    return _construct(Hedge, path, "hedge", **options, clock=ctx.clock)


def _build_adaptive(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.adaptive import AdaptiveLimit

    _duration(options, "timeout", path)
    _exceptions(options, "drop_on", path)
    return _construct(
        AdaptiveLimit, path, "adaptive_limit", **options, clock=ctx.clock, rng=ctx.child_rng()
    )


def _build_throttle(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.resilience.throttle import Throttle

    _duration(options, "window", path)
    _exceptions(options, "overload", path)
    return _construct(Throttle, path, "throttle", **options, clock=ctx.clock, rng=ctx.child_rng())


def _build_fault(options: dict[str, Any], path: str, ctx: _Context) -> Policy:
    from reliant.faults.fault import Fault

    _duration(options, "latency", path)
    error = options.get("error")
    if error is not None and not isinstance(error, BaseException):
        options["error"] = exception_type(error, f"{path}.error")
    return _construct(Fault, path, "fault", **options, clock=ctx.clock, rng=ctx.child_rng())


_BUILDERS: dict[str, Callable[[dict[str, Any], str, _Context], Policy]] = {
    "retry": _build_retry,
    "circuit_breaker": _build_breaker,
    "timeout": _build_timeout,
    "bulkhead": _build_bulkhead,
    "rate_limiter": _build_rate_limiter,
    "fallback": _build_fallback,
    "hedge": _build_hedge,
    "adaptive_limit": _build_adaptive,
    "throttle": _build_throttle,
    "fault": _build_fault,
}

#: The policy kinds a spec may name.
KINDS = tuple(_BUILDERS)


def build_budget(spec: Spec, path: str = "budget", clock: Clock | None = None) -> RetryBudget:
    """Build a :class:`RetryBudget` from ``{ratio, min_per_second, window}``."""
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{path}: expected a mapping like {{ratio: 0.2, min_per_second: 10}}, got {spec!r}"
        )
    options = _options(spec, path)
    _duration(options, "window", path)
    return _construct(RetryBudget, path, "retry budget", **options, clock=clock)


def _build(spec: object, path: str, ctx: _Context) -> Policy:
    if isinstance(spec, Policy):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(f"{path}: expected a mapping with a 'kind', got {spec!r}")
    options = _options(spec, path)
    kind = options.pop("kind", None)
    if not isinstance(kind, str) or kind not in _BUILDERS:
        raise ValueError(f"{path}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    try:
        return _BUILDERS[kind](options, path, ctx)
    except ValueError as exc:
        raise ValueError(_locate(str(exc), path, kind, spec)) from None
    except TypeError as exc:  # every error in a spec is reported as a ValueError
        raise ValueError(f"{path} ({kind}): {exc}") from None


def build_policy(
    spec: Spec | Policy,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    budgets: Mapping[str, RetryBudget] | None = None,
    path: str = "policy",
) -> Policy:
    """Build one policy from ``{"kind": ..., **options}`` (a policy object passes through).

    Raises:
        ValueError: naming the option path, for an unknown kind or a bad option.
    """
    return _build(spec, path, _Context(clock, rng, budgets or {}))


def build_pipeline(
    specs: Sequence[Spec | Policy],
    *,
    name: str = "",
    clock: Clock | None = None,
    rng: random.Random | None = None,
    budgets: Mapping[str, RetryBudget] | None = None,
) -> Pipeline:
    """Build a :class:`Pipeline` from policy specs (or policy objects), outermost first."""
    prefix = f"pipeline {name!r}" if name else "pipeline"
    given: object = specs  # plain data from YAML: check it whatever the annotation says
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise ValueError(f"{prefix}: expected a list of policy specs, got {specs!r}")
    ctx = _Context(clock, rng, budgets or {})
    return Pipeline(
        *(_build(spec, f"{prefix}[{i}]", ctx) for i, spec in enumerate(specs)), name=name
    )


class Registry:
    """Named pipelines built once from plain data and looked up by name.

    The input maps each name to a list of policy specs (or one spec), plus an optional
    ``budgets`` entry of named retry budgets that retry specs refer to by name::

        Registry.from_dict({
            "budgets": {"shared": {"ratio": 0.1}},
            "payments": [{"kind": "timeout", "seconds": "2s"},
                         {"kind": "retry", "attempts": 3, "budget": "shared"}],
        })
    """

    __slots__ = ("_pipelines", "budgets")

    def __init__(self, pipelines: Mapping[str, Pipeline], budgets: Mapping[str, RetryBudget]):
        self._pipelines = dict(pipelines)
        self.budgets = dict(budgets)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> Registry:
        """Build every named pipeline in ``data``; see the class docstring for its shape."""
        if not isinstance(data, Mapping):
            raise ValueError(f"registry: expected a mapping of names to pipelines, got {data!r}")
        raw_budgets = data.get("budgets", {})
        if not isinstance(raw_budgets, Mapping):
            raise ValueError("registry.budgets: expected a mapping of names to budget options")
        budgets = {str(k): build_budget(v, f"budgets.{k}", clock) for k, v in raw_budgets.items()}
        pipelines = {}
        for name, specs in data.items():
            if name == "budgets":
                continue
            items = [specs] if isinstance(specs, Mapping) else specs
            pipelines[str(name)] = build_pipeline(
                items, name=str(name), clock=clock, rng=rng, budgets=budgets
            )
        return cls(pipelines, budgets)

    def get(self, name: str) -> Pipeline:
        """Return the pipeline called ``name``.

        Raises:
            KeyError: naming the known pipelines.
        """
        try:
            return self._pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self._pipelines)) or "none"
            raise KeyError(f"no pipeline named {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._pipelines

    def __iter__(self) -> Iterator[str]:
        return iter(self._pipelines)

    def __len__(self) -> int:
        return len(self._pipelines)
