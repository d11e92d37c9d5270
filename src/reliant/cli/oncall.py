"""``reliant oncall now|shifts|override|overrides|override-delete`` and
``reliant pages list|ack|resolve``.

``oncall now`` shows who is on call on every schedule, until when, and who is next;
``oncall shifts SCHEDULE`` the shifts of a range (default the next 7 days). Times are shown
in each schedule's time zone; options take epoch seconds or ISO 8601 (UTC unless the text
has an offset). ``oncall override`` puts a member on call from ``--start`` (default now)
until ``--end`` (or for ``--duration``). ``pages ack`` and ``pages resolve`` act as the
token's name, exactly as the API does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from reliant.cli._client import (
    Client,
    CommandError,
    add_connection_args,
    add_output_arg,
    render,
    run_command,
)
from reliant.cli.alerts import parse_time

PAGE_STATES = ("triggered", "acknowledged", "resolved")
PAGE_COLUMNS = ["id", "state", "level", "policy", "title", "triggered", "by", "notified"]


def register(subparsers: Any) -> None:
    """Add ``reliant oncall`` and ``reliant pages`` with their verbs."""
    oncall = subparsers.add_parser("oncall", help="on-call schedules: who is on call, overrides")
    verbs = oncall.add_subparsers(title="verbs", metavar="VERB")
    now = verbs.add_parser("now", help="who is on call on every schedule, until when, next")
    shifts = verbs.add_parser("shifts", help="a schedule's shifts (default: the next 7 days)")
    shifts.add_argument("schedule")
    shifts.add_argument("--since", default=None, help="epoch seconds or ISO 8601 (default now)")
    shifts.add_argument("--until", default=None, help="epoch seconds or ISO 8601")
    override = verbs.add_parser("override", help="put a member on call for a while")
    override.add_argument("schedule")
    override.add_argument("--member", required=True, help="a notify receiver")
    override.add_argument("--start", default=None, help="epoch seconds or ISO 8601 (default now)")
    end = override.add_mutually_exclusive_group(required=True)
    end.add_argument("--end", default=None, help="epoch seconds or ISO 8601")
    end.add_argument("--duration", default=None, help="how long, e.g. 4h, 2d")
    listing = verbs.add_parser("overrides", help="a schedule's current and future overrides")
    listing.add_argument("schedule")
    remove = verbs.add_parser("override-delete", help="delete an override")
    remove.add_argument("schedule")
    remove.add_argument("id", type=int)
    oncall.set_defaults(run=lambda a: oncall.print_help(sys.stderr) or 2)

    pages = subparsers.add_parser("pages", help="pages: list, acknowledge, resolve")
    page_verbs = pages.add_subparsers(title="verbs", metavar="VERB")
    page_list = page_verbs.add_parser("list", help="pages, newest first")
    page_list.add_argument(
        "--state", action="append", choices=PAGE_STATES, default=[], help="repeatable"
    )
    ack = page_verbs.add_parser("ack", help="acknowledge a page: escalation stops")
    ack.add_argument("id", type=int)
    resolve = page_verbs.add_parser("resolve", help="resolve a page")
    resolve.add_argument("id", type=int)
    pages.set_defaults(run=lambda a: pages.print_help(sys.stderr) or 2)
    for parser, fn in (
        (now, _now),
        (shifts, _shifts),
        (override, _override),
        (listing, _overrides),
        (remove, _delete_override),
        (page_list, _pages),
        (ack, _ack),
        (resolve, _resolve),
    ):
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))


def local(t: float | None, zone: str) -> str | None:
    """An epoch time in ``zone``: ``2027-03-28 09:00 CEST``."""
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _schedule_path(name: str, suffix: str = "") -> str:
    return f"/api/v1/oncall/schedules/{quote(name, safe='')}{suffix}"


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    client = Client.from_args(args)
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()


def _now(args: argparse.Namespace) -> int:
    answer = _call(args, "GET", "/api/v1/oncall/now")
    if args.output != "table":
        render(answer, args.output)
        return 0
    rows = []
    for s in answer["schedules"]:
        zone, current, upcoming = s["timezone"], s["on_call"], s["next"]
        rows.append(
            {
                "schedule": s["schedule"],
                "on_call": current["member"] if current else "(nobody)",
                "source": current["source"] if current else None,
                "until": local(s["until"], zone),
                "next": upcoming["member"] if upcoming else None,
                "next_from": local(upcoming["start"], zone) if upcoming else None,
            }
        )
    render(rows, "table", ["schedule", "on_call", "source", "until", "next", "next_from"])
    return 0


def _shifts(args: argparse.Namespace) -> int:
    params: dict[str, float] = {}
    if args.since is not None:
        params["since"] = parse_time(args.since, "--since")
    if args.until is not None:
        params["until"] = parse_time(args.until, "--until")
    answer = _call(args, "GET", _schedule_path(args.schedule, "/shifts"), params=params)
    if args.output != "table":
        render(answer, args.output)
        return 0
    zone = answer["timezone"]
    rows = [
        {
            "member": s["member"],
            "start": local(s["start"], zone),
            "end": local(s["end"], zone),
            "source": s["source"],
        }
        for s in answer["shifts"]
    ]
    render(rows, "table", ["member", "start", "end", "source"])
    return 0


def _override(args: argparse.Namespace) -> int:
    from reliant._core.durations import parse_duration

    body: dict[str, Any] = {"member": args.member}
    start = parse_time(args.start, "--start") if args.start is not None else None
    if start is not None:
        body["starts_at"] = start
    if args.end is not None:
        body["ends_at"] = parse_time(args.end, "--end")
    else:
        try:
            length = parse_duration(args.duration, option="--duration")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        body["ends_at"] = (start if start is not None else time.time()) + length
    made = _call(args, "POST", _schedule_path(args.schedule, "/overrides"), json=body)
    if args.output != "table":
        render(made, args.output)
        return 0
    print(
        f"Override {made['id']}: {made['member']} is on call on {made['schedule']} from "
        f"{_utc(made['starts_at'])} until {_utc(made['ends_at'])}."
    )
    for warning in made["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _overrides(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        items = client.items(_schedule_path(args.schedule, "/overrides"))
    finally:
        client.close()
    render(items, args.output, ["id", "member", "starts_at", "ends_at", "created_by"])
    return 0


def _delete_override(args: argparse.Namespace) -> int:
    _call(args, "DELETE", _schedule_path(args.schedule, f"/overrides/{args.id}"))
    print(f"Override {args.id} of {args.schedule} deleted.")
    return 0


def _page_row(page: dict[str, Any]) -> dict[str, Any]:
    by = page["resolved_by"] if page["state"] == "resolved" else page["acknowledged_by"]
    return {
        "id": page["id"],
        "state": page["state"] + (" (exhausted)" if page["exhausted"] else ""),
        "level": page["level"],
        "policy": page["policy"],
        "title": page["title"],
        "triggered": page["triggered_at"],
        "by": by,
        "notified": page["notified"],
    }


def _pages(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/oncall/pages", {"state": args.state} if args.state else {})
    finally:
        client.close()
    if args.output != "table":
        render(items, args.output)
        return 0
    render([_page_row(p) for p in items], "table", PAGE_COLUMNS)
    return 0


def _act(args: argparse.Namespace, action: str, done: str) -> int:
    page = _call(args, "POST", f"/api/v1/oncall/pages/{args.id}/{action}")
    if args.output != "table":
        render(page, args.output)
        return 0
    by = page["acknowledged_by"] if action == "acknowledge" else page["resolved_by"]
    print(f"Page {page['id']} {done} by {by}: {page['title']}")
    return 0


def _ack(args: argparse.Namespace) -> int:
    return _act(args, "acknowledge", "acknowledged")


def _resolve(args: argparse.Namespace) -> int:
    return _act(args, "resolve", "resolved")
