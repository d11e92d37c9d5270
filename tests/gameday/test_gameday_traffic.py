"""The game day's traffic: placeholders, judging answers, rates over a window."""

from __future__ import annotations

from reliant.gameday.scenario import Traffic
from reliant.gameday.traffic import DEGRADED, ERROR, OK, Rates, fill, judge

SPEC = Traffic(url="http://127.0.0.1:1/checkout", degraded={"payment": "pending"})


def test_fill_numbers_every_string() -> None:
    """{n} becomes the request's number in strings, nested dicts and lists."""
    body = {"order": "order-{n}", "items": ["sku-{n}", 3], "amount": 5}
    assert {"order": "order-7", "items": ["sku-7", 3], "amount": 5} == fill(body, 7)


def test_answers_are_ok_degraded_or_errors() -> None:
    """2xx is ok, 2xx with the degraded fields is degraded, anything else an error."""
    answers = [
        judge(SPEC, 200, {"payment": "charged"}),
        judge(SPEC, 200, {"payment": "pending"}),
        judge(SPEC, 503, {"payment": "pending"}),
        judge(SPEC, 200, None),
    ]
    assert [OK, DEGRADED, ERROR, OK] == answers


def test_without_degraded_fields_every_2xx_is_ok() -> None:
    """A traffic spec with no degraded fields never calls an answer degraded."""
    assert OK == judge(Traffic(url="http://x"), 200, {"payment": "pending"})


def test_rates() -> None:
    """Rates are fractions of the answers; served is ok plus degraded; none without answers."""
    rates = Rates(requests=20, ok=10, degraded=8, error=2, window=10.0)
    assert (0.5, 0.4, 0.1, 0.9, 2.0) == (
        rates.rate("ok"),
        rates.rate("degraded"),
        rates.rate("error"),
        rates.rate("served"),
        rates.per_second,
    )
    assert Rates(0, 0, 0, 0, 10.0).rate("ok") is None
