"""Tests for reliant._core.durations: durations as people write them in YAML."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant._core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("2s", 2.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1m30s", 90.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("0.5s", 0.5),
        ("0s", 0.0),
        (" 1m 30s ", 90.0),
        ("1s500ms", 1.5),
    ],
)
def test_parses_number_unit_strings(text: str, seconds: float) -> None:
    """Strings of number-unit parts add up to float seconds."""
    assert seconds == parse_duration(text)


@pytest.mark.parametrize("value", [0, 5, 2.5, 0.0])
def test_numbers_are_seconds(value: float) -> None:
    """A plain non-negative number is already seconds, returned as a float."""
    result = parse_duration(value)
    assert float(value) == result
    assert float is type(result)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "5",
        "-5s",
        "5x",
        "s",
        "1.5.5s",
        "1e3s",
        "5 parsecs",
        "ms5",
        "5S",
        True,
        None,
        [1],
        -1,
        -0.001,
        math.nan,
    ],
)
def test_rejects_anything_else(value: object) -> None:
    """Unit-less strings, unknown units, negatives, NaN, bools and non-numbers are refused."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_error_names_the_option() -> None:
    """The message starts with the option path so a config error can be located."""
    with pytest.raises(ValueError) as info:
        parse_duration("soon", option="pipeline 'x'[0].seconds")
    assert str(info.value).startswith("pipeline 'x'[0].seconds: ")
    assert "'soon'" in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0ms"),
        (0.25, "250ms"),
        (0.0015, "1.5ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (59.9, "59.9s"),
        (90, "90s"),
        (60, "1m"),
        (120, "2m"),
        (5400, "90m"),
        (3600, "1h"),
        (86400, "24h"),
        (1234567, "1234567s"),
        (0.1 + 0.2, "300ms"),
        (-1.5, "-1.5s"),
    ],
)
def test_formats_short_human_forms(seconds: float, text: str) -> None:
    """The largest unit that divides evenly is used; no exponent ever appears."""
    assert text == format_duration(seconds)


def test_format_of_infinity() -> None:
    """An unbounded duration formats as 'inf'."""
    assert "inf" == format_duration(math.inf)


def test_format_of_a_large_value_has_no_exponent() -> None:
    """Values that %g would print with an exponent still read back."""
    text = format_duration(1e20)
    assert "e" not in text
    assert 1e20 == parse_duration(text)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_format_reads_back(seconds: float) -> None:
    """parse_duration(format_duration(x)) gives x back to 12 significant digits."""
    assert seconds == pytest.approx(parse_duration(format_duration(seconds)), rel=1e-11, abs=1e-12)
