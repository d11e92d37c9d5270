"""``reliant receivers list|get|put|delete|test`` and ``reliant notifications list|get|retry``.

A receiver's body comes from ``--file`` (YAML or JSON, ``-`` for stdin) and/or ``--set
KEY=VALUE`` pairs (a VALUE that parses as JSON is taken as JSON: ``send_resolved=false``,
``port=587``, ``to=["oncall@example.com"]``). Keep secrets out of shell history with
``KEY=@env:VARIABLE`` or ``KEY=@file:PATH``. Secrets are never shown back: the server
shows them as ``********``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
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

RECEIVER_COLUMNS = ["name", "type", "destination", "send_resolved", "failures", "last_error"]
NOTIFICATION_COLUMNS = [
    "id",
    "receiver",
    "status",
    "state",
    "attempts",
    "created_at",
    "dedup_key",
    "last_error",
]
STATES = ("pending", "delivered", "dead")


def register(subparsers: Any) -> None:
    """Add ``reliant receivers`` and ``reliant notifications`` with their verbs."""
    receivers = subparsers.add_parser(
        "receivers", help="notification receivers: PagerDuty, Opsgenie, Slack, webhook, email"
    )
    verbs = receivers.add_subparsers(title="verbs", metavar="VERB")
    listing = verbs.add_parser("list", help="every receiver and how its deliveries go")
    get = verbs.add_parser("get", help="one receiver (secrets shown as stored)")
    get.add_argument("name")
    put = verbs.add_parser("put", help="create or replace a receiver")
    put.add_argument("name")
    put.add_argument(
        "--type", choices=("pagerduty", "opsgenie", "slack", "webhook", "email"), default=None
    )
    put.add_argument("--file", "-f", default=None, help="the body, YAML or JSON (- for stdin)")
    put.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a field (repeatable); VALUE may be @env:NAME or @file:PATH",
    )
    delete = verbs.add_parser("delete", help="remove a receiver (its pending notifications die)")
    delete.add_argument("name")
    test = verbs.add_parser("test", help="send a test notification now and say what came back")
    test.add_argument("name")
    receivers.set_defaults(run=lambda a: receivers.print_help(sys.stderr) or 2)

    notifications = subparsers.add_parser(
        "notifications", help="the notification outbox: deliveries and dead letters"
    )
    nverbs = notifications.add_subparsers(title="verbs", metavar="VERB")
    nlist = nverbs.add_parser(
        "list", help="notifications, newest first (--state dead: dead letters)"
    )
    nlist.add_argument("--state", choices=STATES, default=None)
    nlist.add_argument("--receiver", default=None)
    nget = nverbs.add_parser("get", help="one notification with its delivery attempts")
    nget.add_argument("id", type=int)
    retry = nverbs.add_parser("retry", help="send a dead letter again")
    retry.add_argument("id", type=int)
    notifications.set_defaults(run=lambda a: notifications.print_help(sys.stderr) or 2)
    for parser, fn in (
        (listing, _list),
        (get, _get),
        (put, _put),
        (delete, _delete),
        (test, _test),
        (nlist, _list_notifications),
        (nget, _get_notification),
        (retry, _retry),
    ):
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))


def _path(name: str, suffix: str = "") -> str:
    return f"/api/v1/receivers/{quote(name, safe='')}{suffix}"


def _destination(receiver: dict[str, Any]) -> str | None:
    settings = receiver["settings"]
    for key in ("url", "host", "region"):
        if isinstance(settings.get(key), str) and not settings[key].startswith("*"):
            return str(settings[key])
    return None


def _list(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/receivers")
    finally:
        client.close()
    if args.output == "table":
        render([{**r, "destination": _destination(r)} for r in items], "table", RECEIVER_COLUMNS)
    else:
        render(items, args.output)
    return 0


def _get(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        receiver = client.get(_path(args.name))
    finally:
        client.close()
    if args.output == "table":
        rows = [{"field": k, "value": v} for k, v in receiver.items() if k != "settings"]
        rows += [{"field": f"settings.{k}", "value": v} for k, v in receiver["settings"].items()]
        render(rows, "table", ["field", "value"])
    else:
        render(receiver, args.output)
    return 0


def value_of(text: str) -> Any:
    """A ``--set`` value: ``@env:NAME``, ``@file:PATH``, JSON, or the text itself.

    Raises:
        CommandError: the variable is unset or the file unreadable.
    """
    if text.startswith("@env:"):
        name = text[5:]
        if name not in os.environ:
            raise CommandError(f"--set: environment variable {name} is not set")
        return os.environ[name]
    if text.startswith("@file:"):
        try:
            return Path(text[6:]).read_text().strip()
        except OSError as exc:
            raise CommandError(f"--set: cannot read {text[6:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError:
        return text


def body_of(args: argparse.Namespace) -> dict[str, Any]:
    """The receiver body from ``--file``, ``--set`` and ``--type``, in that order.

    Raises:
        CommandError: the file is unreadable or not a mapping, or a pair has no ``=``.
    """
    body: dict[str, Any] = {}
    if args.file is not None:
        import yaml

        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
            loaded = yaml.safe_load(text)
        except OSError as exc:
            raise CommandError(f"--file: cannot read {args.file}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CommandError(f"--file: {args.file} is not YAML or JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CommandError(f"--file: {args.file} must hold a mapping of receiver fields")
        body.update(loaded)
    for pair in args.set:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--set: {pair!r} is not KEY=VALUE")
        body[key] = value_of(text)
    if args.type is not None:
        body["type"] = args.type
    if "type" not in body:
        raise CommandError("say the receiver's type: --type pagerduty|opsgenie|slack|webhook|email")
    return body


def _put(args: argparse.Namespace) -> int:
    body = body_of(args)
    client = Client.from_args(args)
    try:
        receiver = client.put(_path(args.name), json=body)
    finally:
        client.close()
    if args.output == "table":
        print(f"receiver {receiver['name']} ({receiver['type']}) saved")
    else:
        render(receiver, args.output)
    return 0


def _delete(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        client.delete(_path(args.name))
    finally:
        client.close()
    if args.output == "table":
        print(f"deleted receiver {args.name}")
    else:
        render({"name": args.name, "deleted": True}, args.output)
    return 0


def _test(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        result = client.post(_path(args.name, "/test"))
    finally:
        client.close()
    if args.output == "table":
        verdict = "delivered" if result["delivered"] else f"NOT delivered ({result['outcome']})"
        print(f"test notification to {result['receiver']}: {verdict}: {result['detail']}")
    else:
        render(result, args.output)
    return 0 if result["delivered"] else 1


def _list_notifications(args: argparse.Namespace) -> int:
    params = {k: v for k in ("state", "receiver") if (v := getattr(args, k))}
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/notifications", params)
    finally:
        client.close()
    render(items, args.output, NOTIFICATION_COLUMNS)
    return 0


def _get_notification(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        found = client.get(f"/api/v1/notifications/{args.id}")
    finally:
        client.close()
    if args.output != "table":
        render(found, args.output)
        return 0
    shown = {k: v for k, v in found.items() if k not in ("history", "payload")}
    render([{"field": k, "value": v} for k, v in shown.items()], "table", ["field", "value"])
    print()
    render(found["history"], "table", ["at", "outcome", "status_code", "detail"])
    return 0


def _retry(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        found = client.post(f"/api/v1/notifications/{args.id}/retry")
    finally:
        client.close()
    if args.output == "table":
        print(f"notification {found['id']} to {found['receiver']} queued again ({found['state']})")
    else:
        render(found, args.output)
    return 0
