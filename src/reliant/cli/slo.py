"""``reliant slo list|get|status|rules|import``: SLOs on the server, and for Prometheus.

``list``, ``get`` and ``status`` read the server: every SLO with its budget left and what
fires; one SLO's spec and warnings; one SLO's budget, burn rate per alert window, forecast
and the explanation of each alert condition.
``rules`` works offline and prints one Prometheus rule file (Sloth's names and labels, with
reliant's exact-count period SLI). ``import`` converts Sloth and OpenSLO files to reliant
documents and applies them on the server (kind SLO only, nothing pruned); ``--dry-run``
or ``-o yaml|json`` prints the converted documents instead, offline. The format of each
YAML document is detected: ``version: prometheus/v1`` is Sloth, ``apiVersion: openslo/v1``
OpenSLO, anything else a reliant.yaml document. Exit codes: 0 success, 1 the server refused
or could not be reached, 2 invalid or unsupported input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

from reliant.cli._client import (
    Client,
    CommandError,
    add_connection_args,
    add_output_arg,
    render,
    run_command,
)

#: Exit code for files that cannot be read, validated or converted.
INVALID = 2


def register(subparsers: Any) -> None:
    """Add the ``slo`` noun with the verbs ``list``, ``get``, ``status``, ``rules``, ``import``."""
    noun = subparsers.add_parser(
        "slo", help="service level objectives: status, Prometheus rules, import"
    )
    verbs = noun.add_subparsers(title="verbs", metavar="VERB")
    noun.set_defaults(run=lambda a: noun.print_help(sys.stderr) or 2)
    _add_reads(verbs)
    _add_rules(verbs)
    _add_import(verbs)


def _add_reads(verbs: Any) -> None:
    listing = verbs.add_parser("list", help="every SLO with its budget left and what fires")
    listing.add_argument("--service", default=None, help="only this service's SLOs")
    get = verbs.add_parser("get", help="one SLO's spec, warnings and latest evaluation")
    get.add_argument("name")
    status = verbs.add_parser(
        "status", help="one SLO's budget, burn rate per window, forecast and explanation"
    )
    status.add_argument("name")
    for parser, fn in ((listing, _list), (get, _get), (status, _status)):
        add_connection_args(parser)
        add_output_arg(parser)
        parser.set_defaults(run=lambda a, fn=fn: run_command(fn, a))


def _slo_path(name: str, suffix: str = "") -> str:
    return f"/api/v1/slos/{quote(name, safe='')}{suffix}"


def _percent(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:.2f}%"


def _rate(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}x"


def _list(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        items = client.items("/api/v1/slos", {"service": args.service} if args.service else {})
    finally:
        client.close()
    if args.output != "table":
        render(items, args.output)
        return 0
    rows = []
    for slo in items:
        spec, status = slo["spec"], slo["status"] or {}
        window = spec["window"].get("rolling") or spec["window"].get("calendar")
        rows.append(
            {
                "name": slo["name"],
                "service": slo["service"],
                "objective": f"{spec['objective']}%",
                "window": window,
                "budget_left": _percent(status.get("budget_remaining")),
                "firing": status.get("firing") or None,
                "warnings": len(slo["warnings"]) or None,
            }
        )
    render(rows, "table", list(rows[0]) if rows else None)
    return 0


def _get(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        slo = client.get(_slo_path(args.name))
    finally:
        client.close()
    if args.output != "table":
        render(slo, args.output)
        return 0
    import yaml

    print(f"SLO {slo['name']} of {slo['service']} (managed by {slo['managed_by']})")
    sys.stdout.write(yaml.safe_dump(slo["spec"], sort_keys=False, default_flow_style=False))
    for warning in slo["warnings"]:
        print(f"warning [{warning['code']}]: {warning['message']}")
    return 0


def _status(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    try:
        status = client.get(_slo_path(args.name, "/status"))
    finally:
        client.close()
    if args.output != "table":
        render(status, args.output)
        return 0
    print("\n".join(status_lines(status)))
    return 0


def status_lines(status: dict[str, Any]) -> list[str]:
    """An SLO's status as text: budget, counts, the windows' burn rates, conditions, forecast."""
    head = f"SLO {status['name']} of {status['service']}: objective {status['objective']}%"
    if not status["evaluated"]:
        return [head, f"not evaluated: {status['reason']}"]
    budget, counts = status["budget"], status["counts"]
    if budget["left"] >= 0:
        left = (
            f"{budget['left']:g} of {budget['allowed']:g} bad {budget['unit']}; about "
            f"{budget['minutes_left']:.0f} minutes of total outage"
        )
    else:
        left = (
            f"overspent by {-budget['left']:g} bad {budget['unit']}; {budget['allowed']:g} allowed"
        )
    lines = [
        head + f", {status['sli']} SLI, {status['budgeting']} budgeting",
        f"budget left: {_percent(budget['remaining'])} ({left})"
        + (" - EXHAUSTED" if budget["exhausted"] else ""),
        f"period so far: {counts['good']} good of {counts['total']}",
        "",
    ]
    rows = [
        {
            "window": w["window"],
            "events": w["total"],
            "error_ratio": _percent(w["error_ratio"]),
            "burn_rate": _rate(w["burn_rate"]),
        }
        for w in status["windows"]
    ]
    lines += [*_table(rows), ""]
    conditions = [
        {
            "severity": c["severity"],
            "windows": f"{c['long']}/{c['short']}",
            "threshold": _rate(c["burn_rate"]),
            "long": _rate(c["long_burn_rate"]),
            "short": _rate(c["short_burn_rate"]),
            "firing": "FIRING" if c["firing"] else ("never fires" if not c["can_fire"] else "no"),
        }
        for c in status["conditions"]
    ]
    lines += _table(conditions)
    explanation = status.get("explanation") or {}
    said = [explanation[k] for k in ("budget", "burn_rate", "forecast") if k in explanation]
    lines += ["", *said]
    lines += [f"warning [{w['code']}]: {w['message']}" for w in status["warnings"]]
    return lines


def _table(rows: list[dict[str, Any]]) -> list[str]:
    import io

    out = io.StringIO()
    render(rows, "table", list(rows[0]) if rows else None, out=out)
    return out.getvalue().rstrip("\n").split("\n")


def _add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--default-slo-period",
        default="30d",
        metavar="DURATION",
        help="the period of Sloth SLOs, which carry none (default 30d, as sloth generate)",
    )


def _add_rules(verbs: Any) -> None:
    from reliant.spec.prometheus import DEFAULT_NAMESPACE, DEFAULT_SERVICE_LABEL

    rules = verbs.add_parser(
        "rules",
        help="print Prometheus recording and alerting rules for SLOs (offline)",
        description="Print one Prometheus rule file for the SLOs of reliant.yaml, Sloth "
        "(prometheus/v1) or OpenSLO (openslo/v1) files.",
    )
    rules.add_argument(
        "files",
        nargs="*",
        default=["reliant.yaml"],
        metavar="FILE",
        help="YAML files, directories of them, or - (default reliant.yaml)",
    )
    rules.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"prefix of the SDK's metrics (default {DEFAULT_NAMESPACE}: reliant_calls_total)",
    )
    rules.add_argument(
        "--service-label",
        default=DEFAULT_SERVICE_LABEL,
        help=f"label naming the service on the SDK's metrics (default {DEFAULT_SERVICE_LABEL})",
    )
    rules.add_argument("--page-for", metavar="DURATION", help="`for` of the page alerts")
    rules.add_argument("--ticket-for", metavar="DURATION", help="`for` of the ticket alerts")
    _add_period(rules)
    rules.set_defaults(run=lambda a: run_command(_rules, a))


def _add_import(verbs: Any) -> None:
    imported = verbs.add_parser(
        "import",
        help="load Sloth and OpenSLO files into the server as SLOs",
        description="Convert Sloth and OpenSLO files to reliant SLO documents and apply them "
        "(POST /api/v1/spec/apply, kind SLO, nothing deleted).",
    )
    imported.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML files, directories of them, or -"
    )
    imported.add_argument(
        "--dry-run",
        action="store_true",
        help="print the converted reliant.yaml and send nothing",
    )
    imported.add_argument(
        "-o",
        "--output",
        choices=("table", "yaml", "json"),
        default="table",
        help="yaml or json: print the converted documents and send nothing",
    )
    _add_period(imported)
    add_connection_args(imported)
    imported.set_defaults(run=lambda a: run_command(_import, a))


class Invalid(CommandError):
    """The files cannot be used; the problems were printed already."""


def read(paths: list[str], *, period: str = "30d") -> list[Any]:
    """The SLO sources of ``paths``: every document, converted from Sloth or OpenSLO.

    Returns:
        :class:`reliant.spec.prometheus.Source` items, in file order (all kinds).

    Raises:
        reliant.spec.load.SpecError: with every problem, each naming file, line and field.
    """
    import yaml

    from reliant.spec import openslo, sloth
    from reliant.spec._yaml import duplicate_keys
    from reliant.spec.documents import Location
    from reliant.spec.load import SpecError, duplicates, expand, validate
    from reliant.spec.models import API_VERSION
    from reliant.spec.prometheus import Source

    sources: list[Source] = []
    problems: list[str] = []
    foreign: list[openslo.Located] = []
    for path in expand(paths):
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            text = sys.stdin.read() if str(path) == "-" else Path(path).read_text("utf-8")
            roots = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
            datas = list(yaml.safe_load_all(text))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot read the file: {exc}")
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{name}:{mark.line + 1}" if mark is not None else name
            problems.append(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
            continue
        for root, data in zip(roots, datas, strict=True):
            if data is None:
                continue
            repeated = [f"{name}:{line}: {message}" for line, message in duplicate_keys(root)]
            if repeated:
                problems += repeated
                continue
            location = Location(name, root.start_mark.line + 1)
            try:
                if sloth.is_sloth(data):
                    docs = sloth.convert(data, location, root, period=period)
                    sources += [Source(d, sloth.VERSION) for d in docs]
                elif openslo.is_openslo(data):
                    foreign.append(openslo.Located(data, location, root))
                else:
                    sources.append(Source(validate(data, location, root), API_VERSION))
            except SpecError as exc:
                problems += exc.problems
    if foreign:
        try:
            sources += [Source(d, openslo.API_VERSION) for d in openslo.convert(foreign)]
        except SpecError as exc:
            problems += exc.problems
    problems += duplicates([s.document for s in sources])
    if problems:
        raise SpecError(problems)
    return sources


def _slos(args: argparse.Namespace) -> list[Any]:
    """The SLO sources of the files; problems go to stderr.

    Raises:
        Invalid: a file cannot be used or holds no SLO.
    """
    from reliant._core.durations import parse_duration
    from reliant.spec.load import SpecError

    try:
        parse_duration(args.default_slo_period, option="--default-slo-period")
    except ValueError as exc:
        _report([str(exc)])
    try:
        sources = read(args.files, period=args.default_slo_period)
    except SpecError as exc:
        _report(exc.problems)
    slos = [s for s in sources if s.document.kind == "SLO"]
    if not slos:
        _report([f"{', '.join(args.files)}: no SLO in the files given"])
    return slos


def _report(problems: list[str]) -> NoReturn:
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(problems)
    raise Invalid(f"{count} problem{'' if count == 1 else 's'}")


def _version() -> str:
    from reliant.cli import _version

    return _version()


def _rules(args: argparse.Namespace) -> int:
    from reliant.spec.load import SpecError
    from reliant.spec.prometheus import RuleOptions, dump, rule_groups

    try:
        options = RuleOptions(
            namespace=args.namespace,
            service_label=args.service_label,
            page_for=args.page_for,
            ticket_for=args.ticket_for,
        )
    except ValueError as exc:
        print(f"reliant: {exc}", file=sys.stderr)
        return INVALID
    try:
        slos = _slos(args)
        try:
            groups = rule_groups(slos, options=options, version=_version())
        except SpecError as exc:
            _report(exc.problems)
    except Invalid as exc:
        print(f"reliant: {exc}", file=sys.stderr)
        return INVALID
    header = [
        f"Generated by `reliant slo rules` (reliant {_version()}) from {', '.join(args.files)}.",
        "Sloth-compatible names and labels; slo:sli_error:ratio_rate<period> is the exact",
        "bad/total event ratio over the period, not Sloth's average of 5m ratios.",
        "DO NOT EDIT: change the SLOs and generate again.",
    ]
    sys.stdout.write(dump(groups, header))
    return 0


def _import(args: argparse.Namespace) -> int:
    from reliant.spec.documents import document

    try:
        slos = _slos(args)
    except Invalid as exc:
        print(f"reliant: {exc}; nothing was sent to the server", file=sys.stderr)
        return INVALID
    docs = [s.document for s in slos]
    if args.output == "json":
        json.dump([document(d.kind, d.name, d.spec) for d in docs], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.dry_run or args.output == "yaml":
        import yaml

        sys.stdout.write(f"# Converted by `reliant slo import` from {', '.join(args.files)}.\n")
        yaml.safe_dump_all(
            [document(d.kind, d.name, d.spec) for d in docs],
            sys.stdout,
            sort_keys=False,
            explicit_start=True,
            allow_unicode=True,
        )
        return 0
    body = {"documents": [d.to_dict() for d in docs], "kinds": ["SLO"], "prune": False}
    client = Client.from_args(args)
    try:
        applied = client.post("/api/v1/spec/apply", json=body)
    finally:
        client.close()
    counts = applied["summary"]
    print(
        f"Imported {len(docs)} SLO{'' if len(docs) == 1 else 's'}: {counts['create']} created, "
        f"{counts['update']} updated, {counts['unchanged']} unchanged."
    )
    return 0
