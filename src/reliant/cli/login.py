"""``reliant login`` / ``logout`` / ``whoami``: remember which control plane to talk to."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from reliant.cli._client import (
    DEFAULT_URL,
    Client,
    CommandError,
    add_connection_args,
    add_output_arg,
    config_path,
    load_config,
    render,
    run_command,
    save_config,
)


def register(subparsers: Any) -> None:
    """Add ``reliant login``, ``reliant logout`` and ``reliant whoami``."""
    login = subparsers.add_parser(
        "login",
        help="save the control plane URL and a token",
        description="Check a token against a control plane and save both for later commands "
        "(in $XDG_CONFIG_HOME/reliant/config.json, readable by you only).",
    )
    login.add_argument("--url", default=None, help=f"control plane URL (default {DEFAULT_URL})")
    login.add_argument("--token", default=None, help="API token (prompted for when omitted)")
    login.set_defaults(run=lambda a: run_command(_login, a))
    logout = subparsers.add_parser("logout", help="forget the saved token")
    logout.set_defaults(run=lambda a: run_command(_logout, a))
    whoami = subparsers.add_parser("whoami", help="show who the token belongs to")
    add_connection_args(whoami)
    add_output_arg(whoami)
    whoami.set_defaults(run=lambda a: run_command(_whoami, a))


def _login(args: argparse.Namespace) -> int:
    url = args.url or load_config().get("url") or DEFAULT_URL
    token = args.token
    if not token:
        if not sys.stdin.isatty():
            token = sys.stdin.readline().strip()
        else:
            token = getpass.getpass("Token: ").strip()
    if not token:
        raise CommandError("no token given: pass --token or type it at the prompt")
    client = Client(url, token)
    try:
        who = client.get("/api/v1/whoami")
    finally:
        client.close()
    path = save_config(url, token)
    print(f"Logged in to {url} as {who['name']} ({who['role']}); saved in {path}")
    return 0


def _logout(_args: argparse.Namespace) -> int:
    path = config_path()
    saved = load_config()
    if not saved:
        print("Not logged in.")
        return 0
    path.unlink()
    print(f"Logged out of {saved.get('url', 'the control plane')}.")
    return 0


def _whoami(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        who = client.get("/api/v1/whoami")
    finally:
        client.close()
    render({"url": client.url, **who}, args.output, ["url", "name", "role", "service"])
    return 0
