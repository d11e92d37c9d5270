"""``reliant postmortems``: generate, read, move and export postmortems; see the policies.

Verbs: ``list [--state --required]``, ``get ID``, ``generate INCIDENT``, ``refresh ID``,
``state ID draft|in_review|published``, ``export ID --format markdown|html [-o FILE]`` and
``policy`` (the error-budget policies in force). Exit codes: 0 success, 1 the server
refused (e.g. a move the lifecycle does not allow: its reason names the allowed ones) or
could not be reached, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
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

STATES = ("draft", "in_review", "published")
LIST_COLUMNS = ["id", "incident", "state", "required", "due", "title", "services", "updated_at"]
POLICY_COLUMNS = [
    "name",
    "builtin",
    "services",
    "severity_at_most",
    "budget_consumed_over",
    "due_business_days",
]
#: Figures shown by ``get``: fact key → label.
FIGURES = {
    "duration": "duration",
    "time_to_detect": "time to detect",
    "time_to_acknowledge": "time to acknowledge",
    "time_to_mitigate": "time to mitigate",
    "time_to_resolve": "time to resolve",
}


def register(subparsers: Any) -> None:
    """Add ``reliant postmortems`` and its verbs."""
    noun = subparsers.add_parser("postmortems", help="postmortems: generate, edit state, export")
    verbs = noun.add_subparsers(title="verbs", metavar="VERB")
    noun.set_defaults(run=lambda a: noun.print_help(sys.stderr) or 2)
    commands: list[tuple[argparse.ArgumentParser, Any]] = []

    listing = verbs.add_parser("list", help="postmortems, newest first")
    listing.add_argument("--state", choices=STATES, default=None)
    listing.add_argument("--required", action="store_true", help="only required ones")
    listing.add_argument("--service", default=None)
    commands.append((listing, _list))

    get = verbs.add_parser("get", help="one postmortem with its facts")
    get.add_argument("id", type=int)
    commands.append((get, _get))

    generate = verbs.add_parser("generate", help="generate the draft postmortem of an incident")
    generate.add_argument("incident", type=int)
    commands.append((generate, _generate))

    refresh = verbs.add_parser("refresh", help="recompute its facts (edited text stays)")
    refresh.add_argument("id", type=int)
    commands.append((refresh, _refresh))

    state = verbs.add_parser("state", help="move it: draft → in_review → published")
    state.add_argument("id", type=int)
    state.add_argument("state", choices=STATES)
    commands.append((state, _state))

    export = verbs.add_parser("export", help="download it as Markdown or HTML")
    export.add_argument("id", type=int)
    export.add_argument("--format", choices=("markdown", "html"), default="markdown")
    export.add_argument("-o", "--out", default=None, help="file to write (default: stdout)")
    add_connection_args(export)
    export.set_defaults(run=lambda a: run_command(_export, a))

    policy = verbs.add_parser("policy", help="the error-budget policies in force")
    commands.append((policy, _policy))

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


def _list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {}
    if args.state:
        params["state"] = args.state
    if args.required:
        params["required"] = "true"
    if args.service:
        params["service"] = args.service
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/postmortems", params)
    finally:
        client.close()
    rows = [{**i, "services": i["services"] or None} for i in items]
    render(rows if args.output == "table" else items, args.output, LIST_COLUMNS)
    return 0


def describe(postmortem: dict[str, Any]) -> str:
    """A postmortem as text: headline, requirement, figures, budgets, action items."""
    lines = [
        f"Postmortem #{postmortem['id']} of incident #{postmortem['incident']} "
        f"[{postmortem['state']}, version {postmortem['version']}]: {postmortem['title']}"
    ]
    if postmortem["required"]:
        lines.append(f"required: {postmortem['required_reason']} (due {cell(postmortem['due'])})")
    facts = postmortem.get("facts") or {}
    figures = [f"{label} {_span(facts.get(key))}" for key, label in FIGURES.items()]
    lines.append("   ".join(figures))
    lines.append(
        f"requests failed: {cell(facts.get('requests_failed'))} of "
        f"{cell(facts.get('requests_total'))}"
    )
    for b in facts.get("slos", []):
        consumed = b.get("consumed_percent")
        shown = "—" if consumed is None else f"{consumed:.1f} %"
        lines.append(f"SLO {b['name']}: {shown} of its budget consumed {b.get('reason') or ''}")
    for a in postmortem.get("action_items", []):
        done = "x" if a.get("done") else " "
        lines.append(
            f"[{done}] {a['priority']} {a['type']}: {a['title']} (owner {a.get('owner') or '—'})"
        )
    lines.append(f"export: reliant postmortems export {postmortem['id']} --format html")
    return "\n".join(lines)


def _span(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    s = round(seconds)
    return (
        f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
        if s >= 3600
        else f"{s // 60}m{s % 60:02d}s"
    )


def _show(postmortem: dict[str, Any], args: argparse.Namespace) -> int:
    if args.output != "table":
        render(postmortem, args.output)
    else:
        print(describe(postmortem))
    return 0


def _get(args: argparse.Namespace) -> int:
    return _show(_call(args, "GET", f"/api/v1/postmortems/{args.id}"), args)


def _generate(args: argparse.Namespace) -> int:
    return _show(_call(args, "POST", f"/api/v1/incidents/{args.incident}/postmortem"), args)


def _refresh(args: argparse.Namespace) -> int:
    return _show(_call(args, "POST", f"/api/v1/postmortems/{args.id}/refresh"), args)


def _state(args: argparse.Namespace) -> int:
    body = {"state": args.state}
    return _show(_call(args, "POST", f"/api/v1/postmortems/{args.id}/state", json=body), args)


def _export(args: argparse.Namespace) -> int:
    import httpx

    client = Client.from_args(args)
    try:
        response = client.http.get(
            f"/api/v1/postmortems/{args.id}/export", params={"format": args.format}
        )
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot reach {client.url}: {exc}") from None
    finally:
        client.close()
    if response.status_code >= 400:
        raise CommandError(problem_line(response.status_code, response.text))
    if args.out is None:
        sys.stdout.write(response.text)
        return 0
    Path(args.out).write_text(response.text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _policy(args: argparse.Namespace) -> int:
    found = _call(args, "GET", "/api/v1/postmortems/policy")
    if args.output != "table":
        render(found, args.output)
        return 0
    rows = [{**p, "services": p["services"] or "(all)"} for p in found["items"]]
    render(rows, args.output, POLICY_COLUMNS)
    print(found["rule"])
    return 0
