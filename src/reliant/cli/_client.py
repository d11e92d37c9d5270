"""What every command that talks to a control plane shares: connection, errors, output.

The server and token come from ``--url``/``--token``, else ``RELIANT_URL``/``RELIANT_TOKEN``,
else the file ``reliant login`` writes (``$XDG_CONFIG_HOME/reliant/config.json``, mode 600).
Errors become one line on stderr and exit code 1 (:class:`CommandError`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

DEFAULT_URL = "http://127.0.0.1:7474"
OUTPUTS = ("table", "json", "yaml")
#: Items asked for per request when a command lists everything.
PAGE_SIZE = 500


class CommandError(Exception):
    """A command failed for a reason the user can act on; printed as one line, exit 1."""


def config_path() -> Path:
    """Where ``reliant login`` keeps the server URL and token."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "reliant" / "config.json"


def load_config() -> dict[str, str]:
    """The saved login, or an empty mapping."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_config(url: str, token: str) -> Path:
    """Save a login readable by the current user only; return the file's path."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token}, f)
    return path


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--url`` and ``--token``."""
    parser.add_argument("--url", default=None, help="control plane URL (env RELIANT_URL)")
    parser.add_argument("--token", default=None, help="API token (env RELIANT_TOKEN)")


def add_output_arg(parser: argparse.ArgumentParser, default: str = "table") -> None:
    """Add ``--output/-o table|json|yaml``."""
    parser.add_argument("-o", "--output", choices=OUTPUTS, default=default, help="output format")


class Client:
    """A thin JSON client of the control plane API that turns problems into CommandError."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers["User-Agent"] = "reliant-cli"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Client:
        """A client for ``--url``/``--token``, the environment or the saved login."""
        saved = load_config()
        url = (
            getattr(args, "url", None)
            or os.environ.get("RELIANT_URL")
            or saved.get("url")
            or DEFAULT_URL
        )
        token = (
            getattr(args, "token", None) or os.environ.get("RELIANT_TOKEN") or saved.get("token")
        )
        if not token:
            raise CommandError(
                "no token: run `reliant login --url URL --token TOKEN` or set RELIANT_TOKEN"
            )
        return cls(url, token)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return the decoded JSON body (``None`` for an empty one).

        Raises:
            CommandError: the server is unreachable or answered an error.
        """
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CommandError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise CommandError(problem_line(response.status_code, response.text))
        if not response.content:
            return None
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        """PUT ``path``."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)

    def items(self, path: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list endpoint, following ``next`` cursors.

        Raises:
            CommandError: the server is unreachable or answered an error.
        """
        query: dict[str, Any] = {"limit": PAGE_SIZE, **(params or {})}
        found: list[Any] = []
        while True:
            page = self.get(path, params=query)
            found += page["items"]
            if not page.get("next"):
                return found
            query["cursor"] = page["next"]

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def problem_line(status: int, text: str) -> str:
    """One line from an error response: the problem's title and detail when it is one."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and "title" in body:
        detail = body.get("detail")
        return f"{status} {body['title']}" + (f": {detail}" if detail else "")
    return f"{status}: {text.strip()[:200] or 'no details'}"


def render(
    rows: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    fmt: str,
    columns: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Print rows (or one object) as an aligned table, JSON or YAML.

    Args:
        columns: the table's columns, in order (all keys of the first row when omitted);
            JSON and YAML always carry every field.
    """
    out = out or sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "yaml":
        import yaml

        yaml.safe_dump(
            rows if isinstance(rows, Mapping) else list(map(dict, rows)),
            out,
            sort_keys=False,
            default_flow_style=False,
        )
        return
    items = [rows] if isinstance(rows, Mapping) else list(rows)
    if not items:
        out.write("(none)\n")
        return
    cols = list(columns or items[0].keys())
    table = [[cell(row.get(c)) for c in cols] for row in items]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(cols)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    out.write("\n")
    for r in table:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")


def cell(value: Any) -> str:
    """A table cell: ``-`` for nothing, comma-joined lists, compact JSON for mappings."""
    if value is None or value == "":
        return "-"
    if isinstance(value, float) and value > 1e9:  # epoch seconds
        import datetime as dt

        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


class Progress:
    """A progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.label = label
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units done and redraw."""
        self.done = min(self.total, self.done + n)
        if self.live:
            filled = int(30 * self.done / self.total)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


def each(items: Iterable[Any], total: int, label: str) -> Iterable[Any]:
    """Iterate ``items`` showing progress."""
    bar = Progress(total, label)
    try:
        for item in items:
            yield item
            bar.advance()
    finally:
        bar.close()


def run_command(fn: Any, args: argparse.Namespace) -> int:
    """Run a command body, turning CommandError into one stderr line and exit code 1."""
    try:
        return int(fn(args) or 0)
    except CommandError as exc:
        print(f"reliant: {exc}", file=sys.stderr)
        return 1
