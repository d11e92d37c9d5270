"""`reliant demo`, end to end: every phase happens, and nothing is left running after it."""

from __future__ import annotations

import json
from pathlib import Path

from demo_process import SET_UP, demo

from reliant.cli.gameday import DEMO
from reliant.gameday.scenario import GameDay


def test_the_demo_plays_every_phase(tmp_path: Path) -> None:
    """`reliant demo --exit` passes every phase, writes the postmortem, stops its processes."""
    game = GameDay.from_yaml(DEMO)
    with demo(tmp_path) as process:
        output, _ = process.communicate(timeout=SET_UP + game.longest)
    assert 0 == process.returncode, output
    summary = output[output.index("game day storefront-payments-outage: every phase passed") :]
    for phase in game.phases:
        assert f"✔ {phase.name} " in summary, output
    postmortem = next(tmp_path.glob("postmortem-*.md")).read_text(encoding="utf-8")
    assert "# Postmortem: Checkout charges failing (StorefrontChargesBurn)" in postmortem
    assert "PAGE firing   StorefrontChargesBurn" in (tmp_path / "pager.log").read_text()
    pids = [int(p) for p in json.loads((tmp_path / "pids.json").read_text()).values()]
    assert [] == pids  # pids.json lists the running children: none
    assert "stopped 5 processes" in output
