"""``reliant alerts list|silence`` and ``reliant silences list|create|expire``.

Alerts are listed most recently activated first and filtered with Alertmanager matchers
(``--filter 'severity="page"'``, repeatable); ``alerts silence FINGERPRINT`` mutes exactly
that alert's label set. Silences take matchers in the same syntax and either ``--duration``
or ``--until`` (epoch seconds or ISO 8601).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
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

ALERT_COLUMNS = ["fingerprint", "alertname", "state", "severity", "service", "since", "muted"]
SILENCE_COLUMNS = ["id", "state", "matchers", "starts_at", "ends_at", "created_by", "comment"]
ALERT_STATES = ("pending", "firing", "resolved")
SILENCE_STATES = ("pending", "active", "expired")
#: How long ``alerts silence`` mutes an alert unless told.
DEFAULT_SILENCE = "2h"


def register(subparsers: Any) -> None:
    """Add ``reliant alerts`` and ``reliant silences`` with their verbs."""
    alerts = subparsers.add_parser("alerts", help="alert instances: list, silence one")
    verbs = alerts.add_subparsers(title="verbs", metavar="VERB")
    listing = verbs.add_parser("list", help="alerts, most recently activated first")
    listing.add_argument(
        "--state", action="append", choices=ALERT_STATES, default=[], help="repeatable"
    )
    listing.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="MATCHER",
        help='Alertmanager matcher, e.g. severity="page" (repeatable: all must match)',
    )
    listing.add_argument("--service", default=None)
    silence = verbs.add_parser("silence", help="silence exactly one alert's label set")
    silence.add_argument("fingerprint")
    _add_window(silence, default_duration=DEFAULT_SILENCE)
    alerts.set_defaults(run=lambda a: alerts.print_help(sys.stderr) or 2)

    silences = subparsers.add_parser("silences", help="silences: list, create, expire")
    silence_verbs = silences.add_subparsers(title="verbs", metavar="VERB")
    silence_list = silence_verbs.add_parser("list", help="silences, newest first")
    silence_list.add_argument(
        "--state", action="append", choices=SILENCE_STATES, default=[], help="repeatable"
    )
    create = silence_verbs.add_parser("create", help="silence the alerts matchers select")
    create.add_argument(
        "matchers", nargs="+", metavar="MATCHER", help='e.g. service="payments" severity=~"page"'
    )
    _add_window(create, default_duration=None)
    expire = silence_verbs.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    silences.set_defaults(run=lambda a: silences.print_help(sys.stderr) or 2)
    for parser, fn in (
        (listing, _list_alerts),
        (silence, _silence_alert),
        (silence_list, _list_silences),
        (create, _create_silence),
        (expire, _expire_silence),
    ):
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))


def _add_window(parser: argparse.ArgumentParser, *, default_duration: str | None) -> None:
    end = parser.add_mutually_exclusive_group()
    end.add_argument(
        "--duration",
        default=None,
        help="how long, e.g. 30m, 2h, 1d"
        + (f" (default {default_duration})" if default_duration else ""),
    )
    end.add_argument("--until", default=None, help="end: epoch seconds or ISO 8601")
    parser.add_argument(
        "--start", default=None, help="start: epoch seconds or ISO 8601 (default now)"
    )
    parser.add_argument("--comment", "-m", required=True, help="why (shown with the silence)")
    parser.set_defaults(default_duration=default_duration)


def parse_time(text: str, option: str) -> float:
    """Epoch seconds from epoch seconds or ISO 8601 text (UTC unless it has an offset).

    Raises:
        CommandError: neither.
    """
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{option}: {text!r} is neither epoch seconds nor ISO 8601 (2026-11-24T18:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _window(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"comment": args.comment}
    if args.start is not None:
        body["starts_at"] = parse_time(args.start, "--start")
    if args.until is not None:
        body["ends_at"] = parse_time(args.until, "--until")
    elif args.duration is not None or args.default_duration is not None:
        body["duration"] = args.duration or args.default_duration
    else:
        raise CommandError("say how long: --duration (e.g. 2h) or --until")
    return body


def _alert_row(alert: dict[str, Any]) -> dict[str, Any]:
    labels = alert["labels"]
    muted = [*(f"silence {s}" for s in alert["silenced_by"])]
    muted += [f"inhibited by {f}" for f in alert["inhibited_by"]]
    return {
        "fingerprint": alert["fingerprint"],
        "alertname": labels.get("alertname"),
        "state": alert["state"],
        "severity": labels.get("severity"),
        "service": labels.get("service"),
        "since": alert["active_since"],
        "muted": muted or None,
    }


def _list_alerts(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"state": args.state, "filter": args.filter}
    if args.service:
        params["service"] = args.service
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/alerts", params)
    finally:
        client.close()
    if args.output == "table":
        render([_alert_row(a) for a in items], "table", ALERT_COLUMNS)
    else:
        render(items, args.output)
    return 0


def _show_silence(silence: dict[str, Any], args: argparse.Namespace, verb: str) -> None:
    if args.output == "table":
        print(
            f"{verb} silence {silence['id']} ({silence['state']}): {', '.join(silence['matchers'])}"
        )
    else:
        render(silence, args.output)


def _silence_alert(args: argparse.Namespace) -> int:
    body = _window(args)
    client = Client.from_args(args)
    try:
        silence = client.post(
            f"/api/v1/alerts/{quote(args.fingerprint, safe='')}/silence", json=body
        )
    finally:
        client.close()
    _show_silence(silence, args, "created")
    return 0


def _list_silences(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/silences", {"state": args.state})
    finally:
        client.close()
    render(items, args.output, SILENCE_COLUMNS)
    return 0


def _create_silence(args: argparse.Namespace) -> int:
    body = {"matchers": args.matchers, **_window(args)}
    client = Client.from_args(args)
    try:
        silence = client.post("/api/v1/silences", json=body)
    finally:
        client.close()
    _show_silence(silence, args, "created")
    return 0


def _expire_silence(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        silence = client.delete(f"/api/v1/silences/{quote(args.id, safe='')}")
    finally:
        client.close()
    _show_silence(silence, args, "expired")
    return 0
