"""``reliant tokens list|create|revoke``: API tokens (admin role)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from reliant.cli._client import Client, add_connection_args, add_output_arg, render, run_command

ROLES = ("viewer", "operator", "admin", "ingest")
COLUMNS = ["name", "role", "service", "created_at", "last_used_at", "revoked_at"]


def register(subparsers: Any) -> None:
    """Add ``reliant tokens`` and its verbs."""
    tokens = subparsers.add_parser("tokens", help="manage API tokens")
    verbs = tokens.add_subparsers(title="verbs", metavar="VERB")
    listing = verbs.add_parser("list", help="list tokens (never their secrets)")
    create = verbs.add_parser("create", help="create a token; its secret is printed once")
    create.add_argument("name", help="a unique name, e.g. ci-deploy or payments-sdk")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--service", default=None, help="bind an ingest token to one service")
    revoke = verbs.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("name")
    for parser, fn in ((listing, _list), (create, _create), (revoke, _revoke)):
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))
    tokens.set_defaults(run=lambda a: tokens.print_help(sys.stderr) or 2)


def _list(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        render(client.get("/api/v1/tokens"), args.output, COLUMNS)
    finally:
        client.close()
    return 0


def _create(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    body = {"name": args.name, "role": args.role, "service": args.service}
    try:
        created = client.post("/api/v1/tokens", json=body)
    finally:
        client.close()
    if args.output == "table":
        print(created["token"])
        print(
            f"Created {created['role']} token {created['name']!r}; the secret above is shown "
            "only now.",
            file=sys.stderr,
        )
    else:
        render(created, args.output)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        revoked = client.delete(f"/api/v1/tokens/{args.name}")
    finally:
        client.close()
    render(revoked, args.output, COLUMNS)
    return 0
