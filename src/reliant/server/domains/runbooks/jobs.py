"""Background jobs of runbooks: execute runs' steps, start runs from firing alerts."""

from __future__ import annotations

from reliant.server.domains.runbooks.executor import Executor
from reliant.server.domains.runbooks.trigger import Trigger
from reliant.server.jobs import Job
from reliant.server.settings import Settings

#: Seconds between two looks at active runs.
EXECUTE_INTERVAL = 1.0
#: Seconds between two reads of new ``alert.firing`` events.
TRIGGER_INTERVAL = 2.0


def jobs(settings: Settings) -> list[Job]:
    """The runbooks domain's jobs."""
    return [
        Job(name="runbooks.execute", interval=EXECUTE_INTERVAL, run=Executor(settings).run),
        Job(name="runbooks.trigger", interval=TRIGGER_INTERVAL, run=Trigger().run),
    ]
