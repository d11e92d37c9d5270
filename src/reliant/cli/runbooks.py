"""``reliant runbooks`` and ``reliant runs``: executable runbooks and their runs.

``runbooks list|get`` read runbooks; ``runbooks run NAME -p key=value`` starts a run
(``--dry-run`` shows every step rendered and runs nothing; ``--wait`` follows it step by
step until it ends, exiting 0 when it succeeded and 1 otherwise); ``runbooks disable``
and ``enable`` flip the kill switch (an admin token). ``runs list|get|cancel|approve|
reject|complete`` act on runs. Exit codes: 0 success, 1 the server refused or the run did
not succeed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from reliant.cli._client import (
    Client,
    CommandError,
    add_connection_args,
    add_output_arg,
    render,
    run_command,
)

#: Seconds between two looks at a run followed with ``--wait``.
POLL_SECONDS = 1.0
#: States a run ends in.
FINAL = ("succeeded", "failed", "cancelled")
#: How each step state is drawn in the progress view.
MARKS = {
    "pending": " ",
    "running": ">",
    "polling": "~",
    "waiting": "?",
    "succeeded": "+",
    "failed": "x",
    "skipped": "-",
    "cancelled": "x",
}

#: What ``--wait`` sleeps with (tests replace it).
sleep: Callable[[float], None] = time.sleep


def register(subparsers: Any) -> None:
    """Add the nouns ``runbooks`` and ``runs``."""
    noun = subparsers.add_parser("runbooks", help="executable runbooks: list, run, kill switch")
    noun.set_defaults(run=lambda a: noun.print_help(sys.stderr) or 2)
    verbs = noun.add_subparsers(title="verbs", metavar="VERB")
    listing = _verb(verbs, "list", "every runbook", _list_runbooks)
    listing.add_argument("--service", default=None, help="only this service's runbooks")
    _verb(verbs, "get", "one runbook's spec", _get_runbook).add_argument("name")
    start = _verb(verbs, "run", "start a run (or preview one with --dry-run)", _run)
    start.add_argument("name")
    start.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter"
    )
    start.add_argument("--incident", type=int, default=None, help="the incident it serves")
    start.add_argument("--dry-run", action="store_true", help="render every step; run nothing")
    start.add_argument(
        "--approve-destructive",
        action="store_true",
        help="approve its destructive steps now (no approval gate before them)",
    )
    start.add_argument("--wait", action="store_true", help="follow the run until it ends")
    for verb, enabled in (("disable", False), ("enable", True)):
        what = "stop automatic runs and new steps" if not enabled else "allow them again"
        _verb(verbs, verb, f"kill switch: {what}", partial(_switch, enabled=enabled))

    runs = subparsers.add_parser("runs", help="runbook runs: list, follow, approve, cancel")
    runs.set_defaults(run=lambda a: runs.print_help(sys.stderr) or 2)
    verbs = runs.add_subparsers(title="verbs", metavar="VERB")
    listing = _verb(verbs, "list", "runs, newest first", _list_runs)
    listing.add_argument("--runbook", default=None)
    listing.add_argument("--state", action="append", default=None, help="repeatable")
    listing.add_argument("--incident", type=int, default=None)
    _verb(verbs, "get", "one run with its steps", _get_run).add_argument("id", type=int)
    _verb(verbs, "cancel", "cancel a run", _cancel).add_argument("id", type=int)
    for verb in ("approve", "reject"):
        decide = _verb(verbs, verb, f"{verb} what the run waits for", _decide)
        decide.add_argument("id", type=int)
        decide.add_argument("--step", default=None, help="the step expected to wait")
        decide.add_argument("--comment", default="")
        decide.set_defaults(verb=verb)
    complete = _verb(verbs, "complete", "mark a manual step done", _complete)
    complete.add_argument("id", type=int)
    complete.add_argument("step")
    complete.add_argument("--comment", default="")


def _verb(
    verbs: Any, name: str, what: str, fn: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = verbs.add_parser(name, help=what)
    add_connection_args(parser)
    add_output_arg(parser)
    parser.set_defaults(run=lambda a: run_command(fn, a))
    return parser


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    client = Client.from_args(args)
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()


def _list_runbooks(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/runbooks", {"service": args.service} if args.service else {})
    finally:
        client.close()
    if args.output != "table":
        render(items, args.output)
        return 0
    rows = [
        {
            "name": r["name"],
            "service": r["service"],
            "steps": len(r["spec"]["steps"]),
            "triggers": len(r["spec"]["triggers"]) or None,
            "description": r["spec"]["description"][:60],
        }
        for r in items
    ]
    render(rows, "table", list(rows[0]) if rows else None)
    return 0


def _get_runbook(args: argparse.Namespace) -> int:
    found = _call(args, "GET", f"/api/v1/runbooks/{quote(args.name, safe='')}")
    if args.output != "table":
        render(found, args.output)
        return 0
    import yaml

    print(f"Runbook {found['name']} (managed by {found['managed_by']})")
    sys.stdout.write(yaml.safe_dump(found["spec"], sort_keys=False, default_flow_style=False))
    return 0


def _params(pairs: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"-p {pair!r}: write -p KEY=VALUE")
        found[key] = value
    return found


def _run(args: argparse.Namespace) -> int:
    body = {
        "params": _params(args.param),
        "incident": args.incident,
        "dry_run": args.dry_run,
        "approve_destructive": args.approve_destructive,
    }
    client = Client.from_args(args)
    try:
        found = client.post(f"/api/v1/runbooks/{quote(args.name, safe='')}/runs", json=body)
        if args.dry_run:
            return _show_preview(found, args.output)
        if not args.wait:
            _show_run(found, args.output)
            return 0
        print(f"run {found['id']} of {found['runbook']} started", file=sys.stderr)
        final = follow(client, found["id"])
    finally:
        client.close()
    _show_run(final, args.output)
    return 0 if final["state"] == "succeeded" else 1


def follow(client: Client, run_id: int) -> dict[str, Any]:
    """Poll a run, printing each step's changes on stderr, until it ends; return it."""
    seen: dict[str, str] = {}
    paused = False
    while True:
        found = client.get(f"/api/v1/runbook-runs/{run_id}")
        for line in progress_lines(found, seen):
            print(line, file=sys.stderr)
        if found["paused"] and not paused:
            print("  paused: the runbooks kill switch is off", file=sys.stderr)
        paused = found["paused"]
        if found["state"] in FINAL:
            return dict(found)
        sleep(POLL_SECONDS)


def progress_lines(run: dict[str, Any], seen: dict[str, str]) -> list[str]:
    """Lines for the steps whose state changed since ``seen`` (updated in place)."""
    lines = []
    for step in run["steps"]:
        state = step["state"]
        if seen.get(step["id"]) == state:
            continue
        seen[step["id"]] = state
        if state == "pending":
            continue
        label = f"  [{MARKS.get(state, ' ')}] {step['id']} ({step['kind']}): {state}"
        if step["duration"] is not None and state not in ("running", "polling", "waiting"):
            label += f" in {step['duration']:.1f}s"
        if state == "waiting":
            verb = (
                f"reliant runs complete {run['id']} {step['id']}"
                if step["waiting_for"] == "manual"
                else f"reliant runs approve {run['id']}"
            )
            label += (
                f" for {'a person' if step['waiting_for'] == 'manual' else 'an approval'}: {verb}"
            )
        if step["error"] and state == "failed":
            label += f": {step['error']}"
        lines.append(label)
    return lines


def _show_preview(found: dict[str, Any], fmt: str) -> int:
    if fmt != "table":
        render(found, fmt)
        return 0
    import yaml

    print(f"Dry run of {found['runbook']}: nothing ran.")
    if found["params"]:
        print("params: " + ", ".join(f"{k}={v}" for k, v in found["params"].items()))
    for step in found["steps"]:
        gate = " (needs approval)" if step["needs_approval"] else ""
        print(f"- {step['id']} ({step['kind']}){gate}")
        shown = {
            k: v
            for k, v in step["rendered"].items()
            if k not in ("id", "kind", "name", "timeout", "destructive", "on_failure", "on_success")
            and v not in (None, [], {}, "")
        }
        text = yaml.safe_dump(shown, sort_keys=False, default_flow_style=False)
        sys.stdout.write("".join(f"    {line}\n" for line in text.splitlines()))
    return 0


def _show_run(found: dict[str, Any], fmt: str) -> None:
    if fmt != "table":
        render(found, fmt)
        return
    print(
        f"Run {found['id']} of {found['runbook']}: {found['state']}"
        + (f" (at {found['current']})" if found["current"] else "")
        + (" - PAUSED by the kill switch" if found["paused"] else "")
    )
    if found["error"]:
        print(f"error: {found['error']}")
    rows = [
        {
            "step": s["id"],
            "kind": s["kind"],
            "state": s["state"],
            "duration": None if s["duration"] is None else f"{s['duration']:.1f}s",
            "error": s["error"],
        }
        for s in found["steps"]
    ]
    render(rows, "table", list(rows[0]))


def _switch(args: argparse.Namespace, *, enabled: bool) -> int:
    found = _call(args, "PUT", "/api/v1/settings/runbooks", json={"enabled": enabled})
    if args.output != "table":
        render(found, args.output)
    else:
        print(
            "runbook automation enabled: alerts start runs, runs start steps"
            if found["enabled"]
            else "runbook automation disabled: no automatic runs, no new steps"
        )
    return 0


def _list_runs(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    if args.runbook:
        params["runbook"] = args.runbook
    if args.state:
        params["state"] = args.state
    if args.incident is not None:
        params["incident"] = args.incident
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/runbook-runs", params)
    finally:
        client.close()
    columns = ["id", "runbook", "state", "current", "automatic", "incident", "created_at"]
    render(items, args.output, columns)
    return 0


def _get_run(args: argparse.Namespace) -> int:
    _show_run(_call(args, "GET", f"/api/v1/runbook-runs/{args.id}"), args.output)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    _show_run(_call(args, "POST", f"/api/v1/runbook-runs/{args.id}/cancel"), args.output)
    return 0


def _decide(args: argparse.Namespace) -> int:
    body = {"step": args.step, "comment": args.comment}
    path = f"/api/v1/runbook-runs/{args.id}/{args.verb}"
    _show_run(_call(args, "POST", path, json=body), args.output)
    return 0


def _complete(args: argparse.Namespace) -> int:
    path = f"/api/v1/runbook-runs/{args.id}/steps/{quote(args.step, safe='')}/complete"
    _show_run(_call(args, "POST", path, json={"comment": args.comment}), args.output)
    return 0
