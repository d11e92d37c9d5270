"""Steps with their templates filled in: for execution, and with secrets masked for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reliant.spec.models import RunbookSpec, RunbookStep
from reliant.spec.runbooks import MASK, render


def values(
    spec: RunbookSpec,
    params: Mapping[str, str],
    *,
    run_id: int | None,
    runbook: str,
    service: str | None,
    incident: int | None,
    masked: bool,
) -> dict[str, dict[str, str]]:
    """What templates name: ``params.*`` (secrets as ``********`` when ``masked``), ``run.*``."""
    secret = {p.name for p in spec.parameters if p.secret}
    shown = {k: (MASK if masked and k in secret else v) for k, v in params.items()}
    run = {
        "id": "" if run_id is None else str(run_id),
        "incident": "" if incident is None else str(incident),
        "runbook": runbook,
        "service": service or "",
    }
    return {"params": shown, "run": run}


def rendered(step: RunbookStep, context: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The step as plain data with every templated field rendered."""
    data = step.model_dump(mode="json")
    for path, text in step.texts().items():
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = render(text, context)
    return data
