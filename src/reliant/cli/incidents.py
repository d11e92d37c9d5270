"""``reliant incidents``: declare and run incidents, follow their timelines, read metrics.

Verbs: ``list``, ``get``, ``declare``, ``ack``/``mitigate``/``resolve``/``close``/``reopen``,
``update`` (a status update), ``note`` (a manual timeline entry), ``assign`` (a role),
``task add|done``, ``merge DUP --into PRIMARY``, ``timeline [--follow]`` and ``metrics``.
Exit codes: 0 success, 1 the server refused (e.g. a transition the lifecycle does not
allow: its reason names the allowed ones) or could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from reliant.cli._client import (
    Client,
    CommandError,
    add_connection_args,
    add_output_arg,
    cell,
    problem_line,
    render,
    run_command,
)
from reliant.cli.events import RECONNECT_MAX, RECONNECT_MIN, parse_sse

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
STATES = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
ROLES = ("commander", "communications", "scribe")
#: Verb → the state it moves an incident to.
MOVES = {
    "ack": "acknowledged",
    "mitigate": "mitigated",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "triggered",
}
LIST_COLUMNS = ["id", "severity", "state", "title", "services", "commander", "created_at"]
ENTRY_COLUMNS = ["time", "key", "kind", "by", "text", "pinned"]
#: Seconds without a byte (the server sends a keepalive every 15 s) before reconnecting.
READ_TIMEOUT = 45.0


def register(subparsers: Any) -> None:
    """Add ``reliant incidents`` and its verbs."""
    noun = subparsers.add_parser("incidents", help="incidents: declare, respond, timeline, metrics")
    verbs = noun.add_subparsers(title="verbs", metavar="VERB")
    noun.set_defaults(run=lambda a: noun.print_help(sys.stderr) or 2)
    commands: list[tuple[argparse.ArgumentParser, Any]] = []

    listing = verbs.add_parser("list", help="incidents, newest first")
    listing.add_argument("--state", action="append", choices=STATES, default=[], help="repeatable")
    listing.add_argument(
        "--severity", action="append", choices=SEVERITIES, default=[], help="repeatable"
    )
    listing.add_argument("--service", default=None)
    commands.append((listing, _list))

    get = verbs.add_parser("get", help="one incident with its links, updates and tasks")
    get.add_argument("id", type=int)
    commands.append((get, _get))

    declare = verbs.add_parser("declare", help="declare an incident by hand")
    declare.add_argument("--title", required=True)
    declare.add_argument("--severity", required=True, choices=SEVERITIES)
    declare.add_argument("--summary", default="")
    declare.add_argument("--service", action="append", default=[], help="repeatable")
    declare.add_argument("--slo", action="append", default=[], help="repeatable")
    declare.add_argument("--alert", action="append", default=[], help="fingerprint; repeatable")
    for role in ROLES:
        declare.add_argument(f"--{role}", default=None, help="a person's name")
    commands.append((declare, _declare))

    for verb, state in MOVES.items():
        move = verbs.add_parser(verb, help=f"move an incident to {state}")
        move.add_argument("id", type=int)
        move.set_defaults(to=state)
        commands.append((move, _move))

    update = verbs.add_parser("update", help="post a status update (sent to its receivers)")
    update.add_argument("id", type=int)
    update.add_argument("-m", "--message", required=True)
    update.add_argument("--no-notify", action="store_true", help="do not send it to receivers")
    commands.append((update, _update))

    note = verbs.add_parser("note", help="add a manual entry to the timeline")
    note.add_argument("id", type=int)
    note.add_argument("-m", "--message", required=True)
    note.add_argument("--by", default=None, help="who (default: the token's name)")
    note.add_argument("--at", type=float, default=None, help="when, epoch seconds (default now)")
    commands.append((note, _note))

    assign = verbs.add_parser("assign", help="give a role to a person ('' unassigns)")
    assign.add_argument("id", type=int)
    assign.add_argument("--role", required=True, choices=ROLES)
    assign.add_argument("--person", required=True)
    commands.append((assign, _assign))

    task = verbs.add_parser("task", help="follow-up tasks: add, done")
    task_verbs = task.add_subparsers(title="verbs", metavar="VERB")
    task.set_defaults(run=lambda a: task.print_help(sys.stderr) or 2)
    add = task_verbs.add_parser("add", help="add a follow-up task")
    add.add_argument("id", type=int)
    add.add_argument("--title", required=True)
    add.add_argument("--owner", default=None)
    add.add_argument("--due", default=None, help="YYYY-MM-DD")
    done = task_verbs.add_parser("done", help="mark a task done")
    done.add_argument("id", type=int)
    done.add_argument("task", type=int)
    commands += [(add, _task_add), (done, _task_done)]

    merge = verbs.add_parser("merge", help="merge a duplicate incident into its primary")
    merge.add_argument("duplicate", type=int)
    merge.add_argument("--into", type=int, required=True)
    commands.append((merge, _merge))

    timeline = verbs.add_parser(
        "timeline",
        help="an incident's timeline; --follow streams it live (Ctrl-C stops)",
        description="Print an incident's timeline oldest first; with --follow, stream it from "
        "its start and then live, reconnecting after a dropped connection without gaps.",
    )
    timeline.add_argument("id", type=int)
    timeline.add_argument("--pinned", action="store_true", help="only pinned entries")
    timeline.add_argument("--follow", "-f", action="store_true", help="stream it live")
    timeline.add_argument("--max", type=int, default=None, help="with --follow: stop after N")
    commands.append((timeline, _timeline))

    metrics = verbs.add_parser("metrics", help="MTTA, MTTR and MTBF with their definitions")
    metrics.add_argument("--since", help="epoch seconds, RFC 3339 or a duration ago (30d)")
    metrics.add_argument("--until", help="as --since (default now)")
    metrics.add_argument("--group-by", choices=("service", "team", "severity"), default=None)
    metrics.add_argument("--bucket", choices=("day", "week"), default=None, help="trend")
    commands.append((metrics, _metrics))

    for parser, fn in commands:
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    client = Client.from_args(args)
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()


def _row(incident: dict[str, Any]) -> dict[str, Any]:
    return {**incident, "services": incident["services"] or None}


def _list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"state": args.state, "severity": args.severity}
    if args.service:
        params["service"] = args.service
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/incidents", params)
    finally:
        client.close()
    render([_row(i) for i in items] if args.output == "table" else items, args.output, LIST_COLUMNS)
    return 0


def _show(incident: dict[str, Any], args: argparse.Namespace) -> None:
    if args.output != "table":
        render(incident, args.output)
        return
    print(describe(incident))


def describe(incident: dict[str, Any]) -> str:
    """An incident as text: headline, roles, links, times, alerts, updates, tasks."""
    merged = f" (merged into #{incident['merged_into']})" if incident.get("merged_into") else ""
    lines = [
        f"Incident #{incident['id']} [{incident['severity']}] {incident['state']}{merged}: "
        f"{incident['title']}"
    ]
    if incident.get("summary"):
        lines.append(f"  {incident['summary']}")
    roles = ", ".join(f"{r}: {cell(incident.get(r))}" for r in ROLES)
    lines.append(f"roles: {roles}")
    lines.append(
        f"services: {cell(incident['services'] or None)}   "
        f"slos: {cell(incident.get('slos') or None)}   "
        f"rule: {cell(incident.get('rule'))}"
    )
    times = [("declared", "created_at"), ("acknowledged", "acknowledged_at")]
    times += [("mitigated", "mitigated_at"), ("resolved", "resolved_at"), ("closed", "closed_at")]
    lines.append("   ".join(f"{label} {cell(incident.get(key))}" for label, key in times))
    for alert in incident.get("alerts", []):
        lines.append(f"alert {alert['fingerprint']} {alert['alertname']} ({alert['state']})")
    if incident.get("updates"):
        lines.append("updates:")
        lines += [f"  {cell(u['at'])}  {u['by']}: {u['text']}" for u in incident["updates"]]
    if incident.get("tasks"):
        lines.append("tasks:")
        for t in incident["tasks"]:
            mark = "x" if t["done"] else " "
            extra = ", ".join(x for x in (t.get("owner"), t.get("due")) if x)
            lines.append(f"  [{mark}] {t['id']} {t['title']}" + (f" ({extra})" if extra else ""))
    lines.append(f"next: {', '.join(incident.get('allowed', [])) or 'none (closed)'}")
    return "\n".join(lines)


def _get(args: argparse.Namespace) -> int:
    _show(_call(args, "GET", f"/api/v1/incidents/{args.id}"), args)
    return 0


def _declare(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "title": args.title,
        "severity": args.severity,
        "summary": args.summary,
        "services": args.service,
        "slos": args.slo,
        "alerts": args.alert,
    }
    body.update({r: getattr(args, r) for r in ROLES if getattr(args, r)})
    _show(_call(args, "POST", "/api/v1/incidents", json=body), args)
    return 0


def _move(args: argparse.Namespace) -> int:
    path = f"/api/v1/incidents/{args.id}/transition"
    _show(_call(args, "POST", path, json={"to": args.to}), args)
    return 0


def _update(args: argparse.Namespace) -> int:
    body = {"text": args.message, "notify": not args.no_notify}
    found = _call(args, "POST", f"/api/v1/incidents/{args.id}/updates", json=body)
    if args.output == "table":
        print(f"posted update {found['id']} to incident #{args.id}")
    else:
        render(found, args.output)
    return 0


def _note(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"text": args.message}
    if args.by:
        body["by"] = args.by
    if args.at is not None:
        body["at"] = args.at
    found = _call(args, "POST", f"/api/v1/incidents/{args.id}/timeline", json=body)
    if args.output == "table":
        print(f"added {found['key']} to incident #{args.id}'s timeline")
    else:
        render(found, args.output)
    return 0


def _assign(args: argparse.Namespace) -> int:
    path = f"/api/v1/incidents/{args.id}/roles/{args.role}"
    _show(_call(args, "PUT", path, json={"person": args.person or None}), args)
    return 0


def _task_add(args: argparse.Namespace) -> int:
    body = {"title": args.title, "owner": args.owner, "due": args.due}
    found = _call(args, "POST", f"/api/v1/incidents/{args.id}/tasks", json=body)
    if args.output == "table":
        print(f"added task {found['id']} to incident #{args.id}: {found['title']}")
    else:
        render(found, args.output)
    return 0


def _task_done(args: argparse.Namespace) -> int:
    path = f"/api/v1/incidents/{args.id}/tasks/{args.task}"
    found = _call(args, "PATCH", path, json={"done": True})
    if args.output == "table":
        print(f"task {found['id']} of incident #{args.id} is done: {found['title']}")
    else:
        render(found, args.output)
    return 0


def _merge(args: argparse.Namespace) -> int:
    path = f"/api/v1/incidents/{args.duplicate}/merge"
    _show(_call(args, "POST", path, json={"into": args.into}), args)
    return 0


def entry_line(entry: dict[str, Any]) -> str:
    """A timeline entry as a line: time (UTC), key, kind, who, what; pinned ones marked."""
    mark = "* " if entry.get("pinned") else "  "
    return (
        f"{mark}{cell(float(entry['time']))}  {entry['key']:<14} {entry['kind']}  {entry['text']}"
    )


def _timeline(args: argparse.Namespace) -> int:
    if args.follow:
        return _follow(args)
    client = Client.from_args(args)
    try:
        params = {"pinned": "true"} if args.pinned else {}
        items = client.items(f"/api/v1/incidents/{args.id}/timeline", params)
    finally:
        client.close()
    if args.output == "table":
        for entry in items:
            print(entry_line(entry))
        if not items:
            print("(none)")
    else:
        render(items, args.output, ENTRY_COLUMNS)
    return 0


def _follow(args: argparse.Namespace) -> int:
    import httpx

    client = Client.from_args(args)
    after: int | None = None
    shown, delay, connected = 0, RECONNECT_MIN, False
    try:
        while True:
            try:
                for event_id, data in _stream(client, args.id, after):
                    connected = True
                    after = event_id
                    if data is None:
                        continue
                    entry = json.loads(data)
                    if args.pinned and not entry.get("pinned"):
                        continue
                    print(data if args.output == "json" else entry_line(entry), flush=True)
                    shown += 1
                    delay = RECONNECT_MIN
                    if args.max is not None and shown >= args.max:
                        return 0
            except httpx.TransportError as exc:
                if not connected:
                    raise CommandError(f"cannot reach {client.url}: {exc}") from None
                reason = f"connection lost ({type(exc).__name__})"
            else:
                reason = "the server ended the stream"
            print(f"reliant: {reason}; reconnecting in {delay:g}s", file=sys.stderr, flush=True)
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()


def _stream(client: Client, incident: int, after: int | None) -> Iterator[tuple[int, str | None]]:
    """The timeline stream's entries as ``(event id, data)``, resuming after ``after``.

    Raises:
        CommandError: the server refused (no such incident, bad token).
    """
    import httpx

    headers = {"Accept": "text/event-stream"}
    if after is not None:
        headers["Last-Event-ID"] = str(after)
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT)
    path = f"/api/v1/incidents/{incident}/timeline/stream"
    with client.http.stream("GET", path, headers=headers, timeout=timeout) as response:
        if response.status_code >= 400:
            response.read()
            raise CommandError(problem_line(response.status_code, response.text))
        yield from parse_sse(response.iter_lines())


def duration(seconds: float | None) -> str:
    """``1h02m03s``-style text for seconds (``-`` for none)."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{u}" for n, u in parts if n)
    return text or "0s"


def _metric_rows(items: list[dict[str, Any]], start: float | None = None) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        row = {
            "group": item["group"] if item["group"] is not None else "(none)",
            "incidents": item["incidents"],
            "mtta": duration(item["mtta"]["seconds"]),
            "acked": item["mtta"]["count"],
            "mttr": duration(item["mttr"]["seconds"]),
            "resolved": item["mttr"]["count"],
            "mtbf": duration(item["mtbf"]["seconds"]),
        }
        rows.append({"bucket": start, **row} if start is not None else row)
    return rows


def _metrics(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("since", args.since), ("until", args.until)) if v}
    if args.group_by:
        params["group_by"] = args.group_by
    if args.bucket:
        params["bucket"] = args.bucket
    found = _call(args, "GET", "/api/v1/incidents/metrics", params=params)
    if args.output != "table":
        render(found, args.output)
        return 0
    print(f"from {cell(found['since'])} to {cell(found['until'])} (UTC)")
    render(_metric_rows(found["items"]), "table")
    trend = [r for b in found.get("trend") or [] for r in _metric_rows(b["items"], b["start"])]
    if trend:
        print()
        render(trend, "table")
    print()
    for name, text in found["definitions"].items():
        print(f"{name.upper()}: {text}")
    return 0
