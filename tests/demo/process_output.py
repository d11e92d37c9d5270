"""Reading what a demo process prints, line by line, with a deadline."""

from __future__ import annotations

import select
import subprocess
import time

#: Seconds a process may take to print the line a test waits for.
DEADLINE = 30.0


def read_until(process: subprocess.Popen[bytes], marker: str) -> list[str]:
    """Lines the process prints, up to the one holding ``marker`` (fails after DEADLINE)."""
    assert process.stdout is not None
    end = time.monotonic() + DEADLINE
    lines: list[str] = []
    while (left := end - time.monotonic()) > 0:
        if not select.select([process.stdout], [], [], left)[0]:
            break
        line = process.stdout.readline().decode()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in the output: {lines}")
