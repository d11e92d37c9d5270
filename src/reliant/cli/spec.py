"""``reliant validate|plan|apply|export`` and ``reliant spec schema``: reliability as code.

``validate`` works offline; the others talk to the control plane. Each verb is also
available under the ``spec`` noun (``reliant spec plan ...``). Exit codes: 0 success,
1 the work failed (server error, cancelled), 2 invalid files; ``plan --detailed-exitcode``
answers 0 for no changes, 2 for changes and 1 for any error, as ``terraform plan`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from reliant.cli._client import (
    Client,
    CommandError,
    Progress,
    add_connection_args,
    run_command,
)

#: Exit code of ``plan --detailed-exitcode`` when there are changes.
CHANGES = 2
#: Exit code for files that do not validate.
INVALID = 2

Command = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> None:
    """Add ``validate``, ``plan``, ``apply``, ``export`` and ``spec`` with all five verbs."""
    noun = subparsers.add_parser("spec", help="reliability as code: reliant.yaml")
    verbs = noun.add_subparsers(title="verbs", metavar="VERB")
    schema = verbs.add_parser("schema", help="print the JSON Schema of a reliant.yaml document")
    schema.set_defaults(run=lambda a: run_command(_schema, a))
    noun.set_defaults(run=lambda a: noun.print_help(sys.stderr) or 2)
    for group in (subparsers, verbs):
        _add_verbs(group)


def _add_verbs(group: Any) -> None:
    validate = group.add_parser("validate", help="check reliant.yaml files offline")
    _add_files(validate)
    validate.set_defaults(run=lambda a: run_command(_validate, a))

    plan = group.add_parser("plan", help="show what apply would change on the server")
    _add_files(plan)
    _add_scope(plan)
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 without changes, 2 with changes, 1 on errors",
    )
    plan.add_argument("--unchanged", action="store_true", help="list unchanged objects too")
    plan.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    add_connection_args(plan)
    plan.set_defaults(run=lambda a: run_command(_plan, a))

    apply = group.add_parser("apply", help="make the server match the files (one transaction)")
    _add_files(apply)
    _add_scope(apply)
    apply.add_argument("-y", "--yes", action="store_true", help="apply without asking")
    apply.add_argument(
        "--expected",
        metavar="FINGERPRINT",
        default=None,
        help="apply only if the plan still has this fingerprint (from `plan -o json`)",
    )
    apply.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    add_connection_args(apply)
    apply.set_defaults(run=lambda a: run_command(_apply, a))

    export = group.add_parser("export", help="print the server's objects as reliant.yaml")
    export.add_argument("--kind", action="append", default=None, help="only this kind")
    export.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    add_connection_args(export)
    export.set_defaults(run=lambda a: run_command(_export, a))


def _add_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML files, directories of them, or -"
    )


def _add_scope(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prune", action="store_true", help="delete objects on the server the files leave out"
    )
    parser.add_argument(
        "--kind",
        action="append",
        default=None,
        help="only this kind (repeatable; default every kind the server manages)",
    )


class Invalid(CommandError):
    """The files do not validate; the problems were printed already."""


def _load(args: argparse.Namespace) -> list[Any]:
    """The files' documents, with a progress bar; problems go to stderr.

    Raises:
        Invalid: a file does not validate.
    """
    from reliant.spec.load import SpecError, expand, load_paths

    try:
        files = expand(args.files)
        bar = Progress(len(files), "loading")
        try:
            return load_paths(files, on_file=lambda _: bar.advance())
        finally:
            bar.close()
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        count = len(exc.problems)
        raise Invalid(f"{count} problem{'' if count == 1 else 's'}") from None


def _schema(args: argparse.Namespace) -> int:
    from reliant.spec.schema import dumps

    sys.stdout.write(dumps())
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        documents = _load(args)
    except Invalid as exc:
        print(f"reliant: {exc}", file=sys.stderr)
        return INVALID
    kinds: dict[str, int] = {}
    for doc in documents:
        kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
    listing = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    plural = "" if len(documents) == 1 else "s"
    print(f"OK: {len(documents)} document{plural}" + (f" ({listing})" if listing else ""))
    for line in warnings_of(documents):
        print(line, file=sys.stderr)
    return 0


def warnings_of(documents: list[Any]) -> list[str]:
    """Valid but probably unmeant: an SLO alert that can never fire, an absurd budget, ...

    One line per warning, prefixed with where the document is (``file:line: ``).
    """
    from reliant.spec.models import SLOSpec
    from reliant.spec.slo_plan import warning_lines

    lines = []
    for doc in documents:
        if doc.kind == "SLO":
            where = f"{doc.location}: " if doc.location else ""
            spec = SLOSpec.model_validate(doc.spec)
            lines += [where + line for line in warning_lines(doc.name, spec)]
    return lines


def _body(args: argparse.Namespace, documents: list[Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"documents": [d.to_dict() for d in documents], "prune": args.prune}
    if args.kind:
        body["kinds"] = args.kind
    return body


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _show(answer: dict[str, Any], args: argparse.Namespace) -> None:
    from reliant.spec.plan import Plan, render

    if args.output == "json":
        json.dump(answer, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.output == "yaml":
        import yaml

        yaml.safe_dump(answer, sys.stdout, sort_keys=False)
    else:
        shown = Plan.from_json(answer)
        sys.stdout.write(render(shown, color=_color(), unchanged=getattr(args, "unchanged", False)))


def _plan(args: argparse.Namespace) -> int:
    try:
        documents = _load(args)
    except Invalid as exc:
        print(f"reliant: {exc}; nothing was sent to the server", file=sys.stderr)
        return 1 if args.detailed_exitcode else INVALID
    client = Client.from_args(args)
    try:
        answer = client.post("/api/v1/spec/plan", json=_body(args, documents))
    finally:
        client.close()
    _show(answer, args)
    return CHANGES if args.detailed_exitcode and answer["has_changes"] else 0


def _interactive() -> bool:
    """Whether a person can answer a question on standard input."""
    return sys.stdin.isatty()


def _apply(args: argparse.Namespace) -> int:
    try:
        documents = _load(args)
    except Invalid as exc:
        print(f"reliant: {exc}; nothing was sent to the server", file=sys.stderr)
        return INVALID
    body = _body(args, documents)
    client = Client.from_args(args)
    try:
        planned = client.post("/api/v1/spec/plan", json=body)
        if args.output == "table" or not planned["has_changes"]:
            _show(planned, argparse.Namespace(output="table", unchanged=False))
        if not planned["has_changes"]:
            return 0
        if args.expected and args.expected != planned["fingerprint"]:
            raise CommandError(
                f"the plan changed since fingerprint {args.expected[:12]}… was taken (now "
                f"{planned['fingerprint'][:12]}…): review the plan above; nothing was applied"
            )
        if not args.yes and not _interactive():
            raise CommandError(
                "refusing to apply without --yes: standard input is not a terminal to confirm "
                "on (review with `reliant plan`, then run `reliant apply --yes`)"
            )
        if not args.yes:
            reply = input("Apply these changes? Only 'yes' is accepted: ").strip()
            if reply != "yes":
                print("Apply cancelled: nothing was changed.", file=sys.stderr)
                return 1
        body["expected"] = planned["fingerprint"]
        applied = client.post("/api/v1/spec/apply", json=body)
    finally:
        client.close()
    if args.output != "table":
        _show(applied, args)
        return 0
    counts = applied["summary"]
    print(
        f"Applied: {counts['create']} created, {counts['update']} updated, "
        f"{counts['delete']} deleted."
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    params = {"kind": args.kind} if args.kind else {}
    client = Client.from_args(args)
    try:
        documents = client.get("/api/v1/spec/export", params=params)["documents"]
    finally:
        client.close()
    if args.output == "json":
        json.dump(documents, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    import yaml

    if documents:
        yaml.safe_dump_all(
            documents, sys.stdout, sort_keys=False, explicit_start=True, allow_unicode=True
        )
    return 0
