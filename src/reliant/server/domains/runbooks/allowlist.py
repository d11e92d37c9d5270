"""The executables shell steps may run: ``RELIANT_RUNBOOK_EXECUTABLES``.

The variable holds comma-separated absolute paths or names; a name is resolved with
``shutil.which`` when the list is read. A step's ``command[0]`` must be one of the paths,
or the name of one (``echo`` for ``/usr/bin/echo``); the resolved absolute path is what
runs. Without the variable, no shell step is allowed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The environment variable listing the allowed executables.
ENV = "RELIANT_RUNBOOK_EXECUTABLES"


@dataclass(frozen=True, slots=True)
class AllowList:
    """Allowed executables: absolute path → itself, and base name → absolute path."""

    paths: tuple[str, ...]
    unresolved: tuple[str, ...]

    def resolve(self, executable: str) -> str | None:
        """The absolute path ``executable`` runs as, or ``None`` when it is not allowed."""
        if executable in self.paths:
            return executable
        if "/" not in executable:
            for path in self.paths:
                if Path(path).name == executable:
                    return path
        return None

    def describe(self) -> str:
        """The list for a message: what may run, and how to change it."""
        if not self.paths:
            example = f"{ENV}=curl,/usr/bin/systemctl"
            return f"no executable is allowed: set {ENV} on the server (e.g. {example})"
        return f"allowed: {', '.join(self.paths)} (set by {ENV})"

    def refusal(self, executable: str) -> str:
        """Why ``executable`` may not run."""
        return f"{executable!r} is not on the server's allow-list of executables; {self.describe()}"


def read(env: Mapping[str, str] | None = None) -> AllowList:
    """The allow-list in ``env`` (``os.environ`` when omitted), names resolved now."""
    raw = (os.environ if env is None else env).get(ENV, "")
    paths: list[str] = []
    unresolved: list[str] = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        path = entry if os.path.isabs(entry) else shutil.which(entry)
        if path is None or not os.path.isabs(path):
            unresolved.append(entry)
        elif path not in paths:
            paths.append(os.path.normpath(path))
    return AllowList(tuple(paths), tuple(unresolved))
