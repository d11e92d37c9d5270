"""``reliant services list|get|delete|graph``: the service catalog."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
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

COLUMNS = ["name", "owner", "tier", "environment", "dependencies", "managed_by"]
#: Services fetched per request while listing.
PAGE = 500


def register(subparsers: Any) -> None:
    """Add ``reliant services`` and its verbs."""
    services = subparsers.add_parser("services", help="the service catalog")
    verbs = services.add_subparsers(title="verbs", metavar="VERB")
    listing = verbs.add_parser("list", help="list services, filtered")
    listing.add_argument("--owner", default=None)
    listing.add_argument("--tier", type=int, choices=range(1, 5), default=None)
    listing.add_argument("--environment", default=None)
    listing.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    get = verbs.add_parser("get", help="show one service, with who depends on it")
    get.add_argument("name")
    delete = verbs.add_parser("delete", help="remove a service from the catalog")
    delete.add_argument("name")
    delete.add_argument(
        "--force", action="store_true", help="even if others declare a hard dependency on it"
    )
    graph = verbs.add_parser("graph", help="the dependency graph: edges, or a tree")
    graph.add_argument("--service", default=None, help="only the neighbourhood of this service")
    graph.add_argument("--depth", type=int, default=1, help="hops from --service (default 1)")
    graph.add_argument("--tree", action="store_true", help="draw each service's dependencies")
    for parser, fn in ((listing, _list), (get, _get), (delete, _delete), (graph, _graph)):
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))
    services.set_defaults(run=lambda a: services.print_help(sys.stderr) or 2)


def _path(name: str) -> str:
    return f"/api/v1/services/{quote(name, safe='')}"


def _list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": PAGE, "label": args.label}
    params |= {k: v for k in ("owner", "tier", "environment") if (v := getattr(args, k))}
    items: list[dict[str, Any]] = []
    client = Client.from_args(args)
    try:
        while True:
            page = client.get("/api/v1/services", params=params)
            items += page["items"]
            if not page["next"]:
                break
            params["cursor"] = page["next"]
    finally:
        client.close()
    if args.output == "table":
        render([{**s, "dependencies": _deps(s["dependencies"])} for s in items], "table", COLUMNS)
    else:
        render(items, args.output)
    return 0


def _get(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        detail = client.get(_path(args.name))
    finally:
        client.close()
    if args.output != "table":
        render(detail, args.output)
        return 0
    shown = {
        "name": detail["name"],
        **detail,
        "links": [f"{link['title']} <{link['url']}>" for link in detail["links"]],
        "dependencies": _deps(detail["dependencies"]),
        "dependents": _deps(detail["dependents"]),
        "labels": [f"{k}={v}" for k, v in detail["labels"].items()],
    }
    shown = {k: v if v != [] else None for k, v in shown.items()}
    render([{"field": k, "value": v} for k, v in shown.items()], "table", ["field", "value"])
    return 0


def _delete(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        deleted = client.delete(_path(args.name), params={"force": "true"} if args.force else {})
    finally:
        client.close()
    if args.output == "table":
        print(f"deleted service {deleted['name']}")
    else:
        render(deleted, args.output)
    return 0


def _graph(args: argparse.Namespace) -> int:
    if args.depth < 0:
        raise CommandError("--depth must be 0 or more")
    params: dict[str, Any] = {"service": args.service, "depth": args.depth} if args.service else {}
    client = Client.from_args(args)
    try:
        graph = client.get("/api/v1/graph", params=params)
    finally:
        client.close()
    if args.tree:
        print("\n".join(tree_lines(graph)) or "(no services)")
    elif args.output == "table":
        print("\n".join(edge_lines(graph)))
    else:
        render(graph, args.output)
    return 0


def _deps(deps: list[Mapping[str, str]]) -> list[str] | None:
    # None, not [], so that the table shows "-" for no dependencies.
    return [d["service"] + (" (soft)" if d["kind"] == "soft" else "") for d in deps] or None


def _cycle_lines(graph: Mapping[str, Any]) -> list[str]:
    lines = [f"cycle: {' -> '.join([*c, c[0]])}" for c in graph["cycles"]]
    if graph.get("cycles_truncated"):
        lines.append("cycle: ... (more cycles not listed)")
    return lines


def edge_lines(graph: Mapping[str, Any]) -> list[str]:
    """The graph as a table of edges, then its undeclared services and cycles."""
    undeclared = [n["name"] for n in graph["nodes"] if not n["declared"]]
    lonely = {n["name"] for n in graph["nodes"]}
    lonely -= {e["from"] for e in graph["edges"]} | {e["to"] for e in graph["edges"]}
    rows = [
        {
            "from": e["from"],
            "to": e["to"] + (" (undeclared)" if e["to"] in undeclared else ""),
            "kind": e["kind"],
        }
        for e in graph["edges"]
    ]
    if not rows and not graph["nodes"]:
        return ["(no services)"]
    lines = _table(rows, ["from", "to", "kind"]) if rows else ["(no dependencies)"]
    if lonely:
        lines.append(f"without dependencies: {', '.join(sorted(lonely))}")
    if undeclared:
        lines.append(f"undeclared: {', '.join(undeclared)}")
    return lines + _cycle_lines(graph)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    import io

    out = io.StringIO()
    render(rows, "table", columns, out=out)
    return out.getvalue().splitlines()


def tree_lines(graph: Mapping[str, Any]) -> list[str]:
    """Each service nobody depends on, with its dependencies drawn beneath it.

    A service already drawn in full is marked ``(see above)``; one that closes a loop back
    to a service on the current branch is marked ``(cycle)``. Services that only sit on
    cycles, with no root above them, start trees of their own.
    """
    declared = {n["name"]: n["declared"] for n in graph["nodes"]}
    children: dict[str, list[tuple[str, str]]] = {name: [] for name in declared}
    for e in graph["edges"]:
        children[e["from"]].append((e["to"], e["kind"]))
    has_parent = {e["to"] for e in graph["edges"]}
    lines: list[str] = []
    drawn: set[str] = set()

    def label(name: str, kind: str | None) -> str:
        text = name + (" (undeclared)" if not declared[name] else "")
        return text + (" [soft]" if kind == "soft" else "")

    def draw(name: str, prefix: str, branch: set[str]) -> None:
        kids = children[name]
        for i, (child, kind) in enumerate(kids):
            last = i == len(kids) - 1
            mark = " (cycle)" if child in branch else " (see above)" if child in drawn else ""
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label(child, kind)}{mark}")
            if not mark:
                drawn.add(child)
                draw(child, prefix + ("    " if last else "│   "), branch | {child})

    roots = [n for n in declared if n not in has_parent]
    for name in [*roots, *declared]:
        if name in drawn:
            continue
        drawn.add(name)
        lines.append(label(name, None))
        draw(name, "", {name})
    return lines + _cycle_lines(graph)
