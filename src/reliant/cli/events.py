"""``reliant events list|tail``: read the event log, or follow it live."""

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

SEVERITIES = ("debug", "info", "warning", "error", "critical")
COLUMNS = ["id", "time", "severity", "service", "kind", "attributes"]
#: Largest page the server answers.
PAGE = 500
#: Seconds ``tail`` waits before its first reconnection, and at most between two.
RECONNECT_MIN = 0.5
RECONNECT_MAX = 10.0
#: Seconds without a byte (the server sends a keepalive every 15 s) before reconnecting.
READ_TIMEOUT = 45.0


def register(subparsers: Any) -> None:
    """Add ``reliant events`` and its verbs."""
    events = subparsers.add_parser("events", help="read and follow the event log")
    verbs = events.add_subparsers(title="verbs", metavar="VERB")
    listing = verbs.add_parser("list", help="list events, newest first")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    add_output_arg(listing)
    tail = verbs.add_parser(
        "tail",
        help="follow the live event stream, one line per event (Ctrl-C stops)",
        description="Follow the live event stream; after a dropped connection it reconnects "
        "and resumes after the last event shown, so nothing is missed.",
    )
    start = tail.add_mutually_exclusive_group()
    start.add_argument("--from-start", action="store_true", help="first every stored event")
    start.add_argument("--after", type=int, default=None, help="first the events after this id")
    tail.add_argument("--max", type=int, default=None, help="exit after this many events")
    tail.add_argument(
        "-o", "--output", choices=("line", "json"), default="line", help="a line or JSON each"
    )
    for parser, fn in ((listing, _list), (tail, _tail)):
        parser.add_argument("--service", action="append", default=[], help="repeatable")
        parser.add_argument("--kind", action="append", default=[], help="e.g. breaker.*")
        parser.add_argument("--severity", choices=SEVERITIES, help="this severity or higher")
        parser.add_argument("--since", help="epoch seconds, RFC 3339, or a duration ago: 1h")
        if parser is listing:
            parser.add_argument("--until", help="as --since; exclusive")
        add_connection_args(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))
    events.set_defaults(run=lambda a: events.print_help(sys.stderr) or 2)


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {"service": args.service, "kind": args.kind}
    for name in ("severity", "since", "until"):
        if getattr(args, name, None):
            params[name] = getattr(args, name)
    return params


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    client = Client.from_args(args)
    rows: list[dict[str, Any]] = []
    cursor = None
    try:
        while len(rows) < args.limit:
            params = {**_filters(args), "limit": min(PAGE, args.limit - len(rows))}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/events", params=params)
            rows += page["items"]
            cursor = page["next"]
            if not cursor:
                break
    finally:
        client.close()
    render(rows, args.output, COLUMNS)
    return 0


def line(event: dict[str, Any]) -> str:
    """One event as a line: time, severity, service, kind, then attributes as key=value."""
    attributes = " ".join(
        f"{k}={v if isinstance(v, str) and v and ' ' not in v else json.dumps(v)}"
        for k, v in (event.get("attributes") or {}).items()
    )
    fields = [
        cell(float(event["time"])),
        str(event["severity"]).upper().ljust(8),
        event.get("service") or "-",
        event["kind"],
    ]
    return "  ".join(fields) + (f"  {attributes}" if attributes else "")


def _tail(args: argparse.Namespace) -> int:
    import httpx

    client = Client.from_args(args)
    after: int | None = 0 if args.from_start else args.after
    shown = 0
    delay = RECONNECT_MIN
    connected = False
    try:
        while True:
            try:
                for event_id, data in _stream(client, _filters(args), after, first=not connected):
                    connected = True
                    after = event_id
                    if data is None:
                        continue
                    print(data if args.output == "json" else line(json.loads(data)), flush=True)
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


def _stream(
    client: Client, params: dict[str, Any], after: int | None, *, first: bool
) -> Iterator[tuple[int, str | None]]:
    """The stream's events as ``(id, data)``; ``data`` is ``None`` for a position mark.

    Raises:
        CommandError: the server refused the request (bad token, bad filter).
    """
    import httpx

    headers = {"Accept": "text/event-stream"}
    if after is not None and not first:
        headers["Last-Event-ID"] = str(after)
    elif after is not None:
        params = {**params, "after": after}
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT)
    with client.http.stream(
        "GET", "/api/v1/events/stream", params=params, headers=headers, timeout=timeout
    ) as response:
        if response.status_code >= 400:
            response.read()
            raise CommandError(problem_line(response.status_code, response.text))
        yield from parse_sse(response.iter_lines())


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[int, str | None]]:
    """Server-Sent Events as ``(id, data)``: blocks with an id; comments skipped."""
    event_id: int | None = None
    data: list[str] = []
    for raw in lines:
        if not raw:
            if event_id is not None:
                yield event_id, "\n".join(data) if data else None
            event_id, data = None, []
            continue
        if raw.startswith(":"):
            continue
        name, _, value = raw.partition(":")
        value = value.removeprefix(" ")
        if name == "id" and value.isdigit():
            event_id = int(value)
        elif name == "data":
            data.append(value)
