"""The runnable examples in examples/ keep working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_serves_every_request() -> None:
    """The quickstart's pipeline answers all 50 sync and 50 async requests (real or fallback)."""
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("sync:  ")
    assert lines[1].startswith("async: ")
    for line in lines[:2]:
        real, fallbacks = line.split(":", 1)[1].split(" real prices, ")
        assert 50 == int(real.split("/")[0]) + int(fallbacks.split()[0])
