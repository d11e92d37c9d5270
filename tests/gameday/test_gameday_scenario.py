"""Game-day files: what validates, and how problems are worded."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliant.cli.gameday import DEMO
from reliant.gameday.scenario import Comparison, Expectation, GameDay
from reliant.simulate.errors import ScenarioError

MINIMAL = """\
name: tiny
phases:
  - name: only
    expect:
      - traffic: {ok_rate: ">= 95%"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gameday.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        GameDay.from_yaml(write(tmp_path, text))
    return str(caught.value)


def test_the_demo_game_day_validates() -> None:
    """The shipped storefront game day loads: three services, a pager, nine phases."""
    game = GameDay.from_yaml(DEMO)
    assert (["inventory", "payments", "storefront"], "pager", 9) == (
        [p.name for p in game.fleet],
        game.pager.receiver if game.pager else None,
        len(game.phases),
    )


def test_the_example_is_the_demo() -> None:
    """examples/gameday is the demo's own directory, so the two never drift apart."""
    example = Path(__file__).parents[2] / "examples" / "gameday" / "gameday.yaml"
    assert DEMO.read_text(encoding="utf-8") == example.read_text(encoding="utf-8")


def test_a_minimal_game_day_has_defaults(tmp_path: Path) -> None:
    """Only a name and phases are required; a phase waits 90 s by default."""
    game = GameDay.from_yaml(write(tmp_path, MINIMAL))
    assert ([], None, 90.0) == (game.fleet, game.pager, game.phases[0].timeout)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">= 95%", (">=", 0.95)),
        ("< 0.05", ("<", 0.05)),
        ("==1", ("==", 1.0)),
        ("> 20 %", (">", 0.2)),
    ],
)
def test_comparisons_read_fractions_and_percentages(text: str, expected: tuple[str, float]) -> None:
    """A bound is an operator and a number; a % sign divides by 100."""
    bound = Expectation.model_validate({"traffic": {"ok_rate": text}}).traffic
    assert bound is not None
    assert bound.ok_rate is not None
    assert expected == (bound.ok_rate.op, bound.ok_rate.value)


def test_comparison_holds() -> None:
    """A bound holds for numbers on its side, never for a missing measurement."""
    bound = Comparison(op=">=", value=0.9)
    assert (True, False, False) == (bound.holds(0.9), bound.holds(0.89), bound.holds(None))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            MINIMAL.replace('">= 95%"', '"about 95"'),
            "gameday.yaml:5: phases[0].expect[0].traffic.ok_rate: "
            "expected a comparison such as '>= 0.95'",
        ),
        (
            MINIMAL.replace('traffic: {ok_rate: ">= 95%"}', "{}"),
            "an expectation has exactly one of traffic, event, alert",
        ),
        (
            MINIMAL + "    do:\n      - {wait: 1s, say: hi}\n",
            "an action has exactly one of override, http, postmortem, wait, say; got wait, say",
        ),
        (
            MINIMAL + "    do:\n      - override: {service: payments, enabled: true}\n",
            "give exactly one of fault, breaker, limiter",
        ),
        (
            MINIMAL + "    do:\n      - override: {service: payments, fault: f}\n",
            "say what to set (enabled: ...) or remove: true",
        ),
        (MINIMAL + "  - name: only\n", "phases: names must be unique, ['only'] appear twice"),
        ("name: x\n", "gameday.yaml: missing required key 'phases'"),
        ("", "gameday.yaml: the file is empty; it needs name, fleet, apply, traffic, phases"),
    ],
)
def test_problems_name_the_line_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    """Each problem is one line with the file, line and key path, and what to write instead."""
    assert message in problems(tmp_path, text)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    """A typo in a key is named, not ignored."""
    assert "phases[0].hodl" in problems(tmp_path, MINIMAL + "    hodl: 5s\n")


def test_longest_adds_holds_waits_and_timeouts(tmp_path: Path) -> None:
    """The bound on a run: every hold, wait and (for phases that expect) timeout."""
    text = MINIMAL + "    hold: 5s\n    timeout: 20s\n    do:\n      - wait: 2s\n"
    assert 27.0 == GameDay.from_yaml(write(tmp_path, text)).longest
