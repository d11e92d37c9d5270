"""The two readers of a batch: the fast one (reader.read) never accepts what BatchIn refuses,
reads what it accepts exactly as BatchIn does, and refuses only what pydantic's lax mode
coerces."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reliant.server.domains.telemetry.reader import Batch, from_model, read
from reliant.server.domains.telemetry.schemas import BatchIn

GOOD_HISTOGRAM = [0, 3, 10, 20, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]
#: Valid values first, then edge cases and invalid ones, per member.
POINT_VALUES: dict[str, list[Any]] = {
    "operation": ["charge", "a", "x" * 200, "ok:/._-9", "x" * 201, "bad name!", "", "op\n", 5],
    "outcome": ["success", "failure", "rejected", "timeout", "meh", None, "Success"],
    "bucket": [0, 10, 1800000000, 10**11, 5, -10, 10**11 + 10, 10.0, 10.5, "10", True, None],
    "count": [0, 1, 10**12, -1, 10**12 + 1, 1.0, 1.5, "3", False],
    "sum": [0.0, 1, 1.234, 1e15, -0.1, 1e16, "1.5", None, 10**400],
    "histogram": [
        GOOD_HISTOGRAM,
        [10**12] * 14,
        GOOD_HISTOGRAM[:13],
        [*GOOD_HISTOGRAM, 0],
        [*GOOD_HISTOGRAM[:13], -1],
        [*GOOD_HISTOGRAM[:13], 10**12 + 1],
        [*GOOD_HISTOGRAM[:13], 1.0],
        [*GOOD_HISTOGRAM[:13], 1.5],
        [*GOOD_HISTOGRAM[:13], "1"],
        None,
    ],
}
BATCH_VALUES: dict[str, list[Any]] = {
    "protocol": [1, 2, "1", 1.0],
    "service": ["payments", "a", "Payments", "-x", "x" * 100, "x" * 101],
    "instance": ["host:1:abcd", "é ü", "", "a\tb", "x" * 201],
    "sdk": ["0.1.0", "", "x" * 51],
    "sent_at": [1800000000.5, 0, -1.0, "x", None],
    "dropped": [0, 7, 2**62, -1, 2**62 + 1],
}
EVENTS = [
    {"time": 1.5, "kind": "retry.exhausted"},
    {"time": 1.5, "kind": "NoDots"},
    {"time": 1.5, "kind": "a.b", "name": "", "severity": "loud"},
]
MISSING = object()


@st.composite
def _batches(draw: st.DrawFn) -> dict[str, Any]:
    """A valid batch with up to two members changed to another value (or removed)."""
    batch: dict[str, Any] = {k: v[0] for k, v in BATCH_VALUES.items()}
    batch["telemetry"] = [
        {k: v[0] for k, v in POINT_VALUES.items()} for _ in range(draw(st.integers(0, 3)))
    ]
    batch["events"] = draw(st.lists(st.sampled_from(EVENTS), max_size=2))
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from([batch, *batch["telemetry"]]))
        members = BATCH_VALUES if target is batch else POINT_VALUES
        name = draw(st.sampled_from(sorted(members)))
        value = draw(st.sampled_from([*members[name], MISSING]))
        if value is MISSING:
            target.pop(name, None)
        else:
            target[name] = value
    if draw(st.booleans()):
        batch["future"] = {"x": 1}
    return batch


def _careful(body: bytes) -> Batch | None:
    try:
        return from_model(BatchIn.model_validate_json(body))
    except ValidationError:
        return None


def _lax(batch: dict[str, Any]) -> bool:
    """Whether the batch holds a value pydantic coerces (a string, float or boolean for an
    int, a string or boolean for a float), which the fast reader leaves to the careful one."""

    def coerced(value: Any, integer: bool) -> bool:
        if isinstance(value, list):
            return any(coerced(v, integer) for v in value)
        return isinstance(value, str | bool) or (integer and isinstance(value, float))

    members = [(batch, {"protocol", "dropped"}, {"sent_at"})]
    members += [(p, {"bucket", "count", "histogram"}, {"sum"}) for p in batch["telemetry"]]
    return any(
        name in target and coerced(target[name], integer)
        for target, integers, floats in members
        for integer, names in ((True, integers), (False, floats))
        for name in names
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_both_readers_agree(batch: dict[str, Any]) -> None:
    """A body the fast reader accepts, BatchIn accepts and reads the same; a body BatchIn
    accepts, the fast reader accepts too unless it holds a value pydantic coerces."""
    body = json.dumps(batch).encode()
    fast, careful = read(body), _careful(body)
    if fast is None and careful is not None:
        assert _lax(batch)
    else:
        assert careful == fast


def test_the_valid_example_reads_the_same() -> None:
    """A whole valid batch reads the same both ways, unknown members dropped."""
    body = {
        **{k: v[0] for k, v in BATCH_VALUES.items()},
        "telemetry": [{**{k: v[0] for k, v in POINT_VALUES.items()}, "new": 1}],
        "events": [EVENTS[0]],
        "future": {"x": 1},
    }
    raw = json.dumps(body).encode()
    fast = read(raw)
    assert fast is not None
    assert from_model(BatchIn.model_validate_json(raw)) == fast
    assert 1 == len(fast.telemetry)
    assert 1 == len(fast.events)
