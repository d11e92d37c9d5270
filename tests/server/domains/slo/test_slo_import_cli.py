"""`reliant slo import` end to end: Sloth and OpenSLO files applied on a real control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer
from server_helpers import ADMIN

from reliant.cli import main

#: CLI wording and exit codes: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

SLOTH = """\
version: prometheus/v1
service: search
slos:
  - name: queries
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(search_errors_total[{{.window}}]))
        total_query: sum(rate(search_requests_total[{{.window}}]))
    alerting:
      name: SearchErrors
"""
OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-availability}
spec:
  service: web
  budgetingMethod: Occurrences
  indicatorRef: web-errors
  objectives: [{targetPercent: 99.9}]
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: web-errors}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(bad_total[{{.window}}]))'}}}
    total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(all_total[{{.window}}]))'}}}
"""


@pytest.fixture
def server(app: FastAPI, client: TestClient) -> Iterator[LiveServer]:
    """The test app on a real port; `client` inspects it in-process."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def test_import_creates_then_leaves_the_slos_unchanged(
    server: LiveServer,
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The server stores what --dry-run prints; importing again changes nothing."""
    files = [tmp_path / "sloth.yaml", tmp_path / "openslo.yaml"]
    files[0].write_text(SLOTH)
    files[1].write_text(OPENSLO)
    argv = ["slo", "import", *map(str, files), "--url", server.url, "--token", ADMIN]
    assert 0 == main(argv)
    assert "Imported 2 SLOs: 2 created, 0 updated, 0 unchanged.\n" == capsys.readouterr().out
    assert 0 == main([*argv, "--dry-run"])
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    exported = client.get("/api/v1/spec/export", params={"kind": "SLO"}).json()["documents"]
    assert printed == exported
    assert 0 == main(argv)
    assert "Imported 2 SLOs: 0 created, 0 updated, 2 unchanged.\n" == capsys.readouterr().out
