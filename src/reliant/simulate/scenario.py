"""Scenario files: the traffic, the scripted dependency and the candidate pipelines to compare.

A scenario is plain YAML validated by the pydantic models below. Durations are
numbers of seconds or strings such as ``"250ms"``, ``"2s"``, ``"5m"``, ``"1h"``.
:meth:`Scenario.from_yaml` turns every problem into one readable line naming the
file, the line, the key path and a hint (see :mod:`reliant.simulate.errors`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from reliant._core.durations import parse_duration
from reliant.simulate.errors import ScenarioProblems
from reliant.spec._yaml import registry_problem

#: Length of one time-series bucket (report timeline and chart), seconds; runs shorter
#: than ten of them get ``duration / 10``.
DEFAULT_BUCKET = 10.0
#: Latency of the dependency when the scenario gives none, seconds.
DEFAULT_LATENCY = 0.05

_CANDIDATE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"


def _duration(value: object) -> float:
    """Parse a duration for a pydantic field (the key path is added by the caller)."""
    try:
        seconds = parse_duration(value, option="duration")
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("duration: ")) from None
    if seconds == math.inf:
        raise ValueError(f"a duration must be finite, got {value!r}")
    return seconds


def format_time(seconds: float) -> str:
    """Render seconds the way a scenario writes them: ``250ms``, ``45s``, ``3m30s``, ``1h``."""
    if seconds < 1.0:
        return f"{round(seconds * 1000, 3):g}ms"
    if seconds < 60.0:
        return f"{round(seconds, 3):g}s"
    hours, rest = divmod(round(seconds, 3), 3600.0)
    minutes, secs = divmod(rest, 60.0)
    text = f"{hours:g}h" if hours else ""
    text += f"{minutes:g}m" if minutes else ""
    return text + (f"{round(secs, 3):g}s" if secs else "")


Duration = Annotated[float, BeforeValidator(_duration)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_LATENCY_FIELDS = {
    "constant": ("value",),
    "uniform": ("min", "max"),
    "exponential": ("mean",),
    "lognormal": ("median", "p99"),
}
_LATENCY_EXAMPLE = {
    "constant": "{distribution: constant, value: 40ms} (or just 40ms)",
    "uniform": "{distribution: uniform, min: 20ms, max: 80ms}",
    "exponential": "{distribution: exponential, mean: 40ms}",
    "lognormal": "{distribution: lognormal, median: 40ms, p99: 400ms}",
}


def _latency_shorthand(value: object) -> object:
    # A bare duration means a constant latency: ``latency: 40ms``.
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"distribution": "constant", "value": value}
    return value


class Latency(_Model):
    """How long a call to the dependency takes.

    ``constant`` (``value``), ``uniform`` (``min``, ``max``), ``exponential`` (``mean``)
    or ``lognormal`` (``median``, ``p99``: the typical long-tailed service latency).
    """

    distribution: Literal["constant", "uniform", "exponential", "lognormal"] = "constant"
    value: Duration | None = None
    min: Duration | None = None
    max: Duration | None = None
    mean: Duration | None = None
    median: Duration | None = None
    p99: Duration | None = None

    @model_validator(mode="after")
    def _fields_match_distribution(self) -> Latency:
        given_keys = {
            key
            for key in ("value", "min", "max", "mean", "median", "p99")
            if getattr(self, key) is not None
        }
        if "distribution" not in self.model_fields_set and given_keys - {"value"}:
            guess = next(
                (kind for kind, keys in _LATENCY_FIELDS.items() if given_keys <= set(keys)),
                "lognormal",
            )
            raise ScenarioProblems(
                [((), f"say which distribution; e.g. {_LATENCY_EXAMPLE[guess]}")]
            )
        wanted = _LATENCY_FIELDS[self.distribution]
        example = _LATENCY_EXAMPLE[self.distribution]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for key in ("value", "min", "max", "mean", "median", "p99"):
            given = getattr(self, key) is not None
            if key in wanted and not given:
                problems.append(((), f"{self.distribution} latency needs {key}; e.g. {example}"))
            elif key not in wanted and given:
                problems.append(
                    ((key,), f"not an option of {self.distribution} latency; e.g. {example}")
                )
        low, high, median, p99 = self.min, self.max, self.median, self.p99
        if not problems and low is not None and high is not None and high < low:
            problems.append((("max",), f"must be >= min ({format_time(low)})"))
        if not problems and median is not None and p99 is not None:
            if median == 0:
                problems.append((("median",), "must be > 0"))
            elif p99 < median:
                problems.append((("p99",), f"must be >= median ({format_time(median)})"))
        if problems:
            raise ScenarioProblems(problems)
        return self


LatencyField = Annotated[Latency, BeforeValidator(_latency_shorthand)]


class Capacity(_Model):
    """What the dependency does beyond ``max_concurrent`` calls in flight.

    ``overload: fail`` answers the excess calls with an error at once; ``overload: slow``
    stretches every call's latency by ``in_flight / max_concurrent`` (queueing).
    """

    max_concurrent: int = Field(ge=1)
    overload: Literal["fail", "slow"] = "fail"


class Incident(_Model):
    """A time window in which the dependency behaves differently (outage, slow-down)."""

    start: Duration
    end: Duration
    name: str = ""
    failure_rate: Ratio | None = None
    latency: LatencyField | None = None
    latency_factor: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self) -> Incident:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.end <= self.start:
            problems.append((("end",), f"must be after start ({format_time(self.start)})"))
        if self.latency is not None and self.latency_factor is not None:
            problems.append((("latency_factor",), "give latency or latency_factor, not both"))
        if self.failure_rate is None and self.latency is None and self.latency_factor is None:
            problems.append(((), "changes nothing: give failure_rate, latency or latency_factor"))
        if problems:
            raise ScenarioProblems(problems)
        return self

    @property
    def label(self) -> str:
        """A short description for tables and charts (its name, or what it changes)."""
        if self.name:
            return self.name
        parts = []
        if self.failure_rate is not None:
            parts.append(f"failure_rate {self.failure_rate:g}")
        if self.latency_factor is not None:
            parts.append(f"latency ×{self.latency_factor:g}")
        if self.latency is not None:
            parts.append(f"{self.latency.distribution} latency")
        return ", ".join(parts)


class Dependency(_Model):
    """The scripted dependency every candidate pipeline calls."""

    latency: LatencyField = Field(
        default_factory=lambda: Latency(distribution="constant", value=DEFAULT_LATENCY)
    )
    failure_rate: Ratio = 0.0
    capacity: Capacity | None = None
    incidents: list[Incident] = Field(default_factory=list)


class RateChange(_Model):
    """From ``at`` on, requests arrive at ``rate`` per second."""

    at: Duration
    rate: float = Field(ge=0, allow_inf_nan=False)


class Traffic(_Model):
    """How requests arrive: ``poisson`` (random, seeded) or ``uniform`` (evenly spaced)."""

    rate: float = Field(ge=0, allow_inf_nan=False)
    arrivals: Literal["poisson", "uniform"] = "poisson"
    schedule: list[RateChange] = Field(default_factory=list)


class Candidate(_Model):
    """A named pipeline to try: a list of policy specs, outermost first."""

    name: str = Field(pattern=_CANDIDATE_NAME)
    description: str = ""
    pipeline: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("pipeline")
    @classmethod
    def _pipeline_builds(cls, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Build once on a throwaway clock so a bad option is reported at load time.
        from reliant.simulate.engine import build_candidate

        try:
            build_candidate("check", specs, seed=0)
        except ValueError as exc:
            raise ScenarioProblems([registry_problem(str(exc))]) from None
        return specs


class Scenario(_Model):
    """Everything one simulation needs; load it with :meth:`from_yaml`.

    Attributes:
        name: the scenario's name, shown in reports.
        description: what it shows, in a sentence or two.
        seed: seeds arrivals, the dependency and the policies: same seed, same report.
        duration: how long requests keep arriving (in-flight ones then finish).
        bucket: the time-series resolution of the timeline and the chart (default 10 s,
            or a tenth of the duration if that is shorter).
        traffic: the arrival process.
        dependency: the scripted dependency.
        candidates: the pipelines to compare, each run alone on the same traffic.
    """

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(default=0, ge=0)
    duration: Duration = Field(gt=0)
    bucket: Duration = Field(default=DEFAULT_BUCKET, gt=0)
    traffic: Traffic
    dependency: Dependency = Field(default_factory=Dependency)
    candidates: list[Candidate] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _default_bucket(cls, data: Any) -> Any:
        # Short runs get finer buckets: at least ten of them.
        if isinstance(data, Mapping) and "bucket" not in data:
            try:
                duration = _duration(data.get("duration"))
            except ValueError:
                return data
            if duration > 0:
                return {**data, "bucket": min(DEFAULT_BUCKET, duration / 10)}
        return data

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        end = format_time(self.duration)
        if self.bucket > self.duration:
            problems.append((("bucket",), f"must not exceed the duration ({end})"))
        last = -1.0
        for i, change in enumerate(self.traffic.schedule):
            if change.at >= self.duration:
                problems.append(
                    (("traffic", "schedule", i, "at"), f"must be before the end ({end})")
                )
            if change.at <= last:
                problems.append(
                    (
                        ("traffic", "schedule", i, "at"),
                        "rate changes must be in increasing time order",
                    )
                )
            last = change.at
        windows = sorted(enumerate(self.dependency.incidents), key=lambda item: item[1].start)
        for (_, before), (i, after) in itertools.pairwise(windows):
            if after.start < before.end:
                problems.append(
                    (
                        ("dependency", "incidents", i, "start"),
                        f"overlaps the incident from {format_time(before.start)} "
                        f"to {format_time(before.end)}; incidents must not overlap",
                    )
                )
        for i, incident in enumerate(self.dependency.incidents):
            if incident.end > self.duration:
                problems.append(
                    (("dependency", "incidents", i, "end"), f"is after the end of the run ({end})")
                )
        seen: dict[str, int] = {}
        for i, candidate in enumerate(self.candidates):
            if candidate.name in seen:
                first = seen[candidate.name]
                problems.append(
                    (
                        ("candidates", i, "name"),
                        f"{candidate.name!r} is already the name of candidates[{first}]",
                    )
                )
            seen.setdefault(candidate.name, i)
        if problems:
            raise ScenarioProblems(problems)
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        """Load and validate a scenario file.

        Raises:
            ScenarioError: the file is missing, is not valid YAML, or does not describe
                a valid scenario; its message has one line per problem.
        """
        from reliant.simulate.errors import load_yaml

        return load_yaml(cls, Path(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
        """Validate an already-parsed scenario, reporting problems like :meth:`from_yaml`.

        Raises:
            ScenarioError: the data does not describe a valid scenario.
        """
        from reliant.simulate.errors import validate_mapping

        return validate_mapping(cls, data, source=source)
