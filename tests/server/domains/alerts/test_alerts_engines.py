"""Real engines feed reliant: Prometheus posts alerts straight to it, and Alertmanager's
webhook delivers its notifications (firing, then resolved) to the receiver."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import LiveServer
from server_helpers import ADMIN, bearer
from server_processes import wait_for

from reliant.server.app import create_app
from reliant.server.settings import Settings

#: One store is enough: the engines, not the store, are under test (tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

#: Bound on every wait of these tests, in seconds.
DEADLINE = 40.0


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """reliant on the wall clock, without background jobs, over real HTTP."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, bootstrap_token=ADMIN, run_jobs=False
    )
    with LiveServer(create_app(settings)) as live:
        yield live


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Engine:
    """A Prometheus or Alertmanager process on loopback, stopped by its PID."""

    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self.ready, f"{argv[0]} to be ready", DEADLINE)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"exited: {self.log.read_text()[-2000:]}")
        return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def ingest_token(server: LiveServer) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/tokens",
        json={"name": "engines", "role": "ingest"},
        headers=bearer(ADMIN),
    )
    assert 201 == answer.status_code, answer.text
    return str(answer.json()["token"])


def alerts_of(server: LiveServer, alertname: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{server.url}/api/v1/alerts",
        params={"filter": f'alertname="{alertname}"'},
        headers=bearer(ADMIN),
    )
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_prometheus_posts_alerts_straight_to_reliant(server: LiveServer, tmp_path: Path) -> None:
    """Prometheus with path_prefix /api/v1/alertmanager and an ingest token as credentials
    delivers its firing alert to reliant (source api, with Prometheus' endsAt)."""
    token = ingest_token(server)
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: reliant-test\n  rules:\n  - alert: AlwaysFiring\n"
        "    expr: vector(1)\n    labels: {severity: page, service: payments}\n"
        "    annotations: {summary: always firing}\n"
    )
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s, scrape_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        "alerting:\n  alertmanagers:\n  - path_prefix: /api/v1/alertmanager\n"
        f"    authorization: {{credentials: {token}}}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    port = free_port()
    prometheus = Engine(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
        ],
        port,
        tmp_path / "prometheus.log",
    )
    try:
        found = wait_for(lambda: alerts_of(server, "AlwaysFiring"), "the alert", DEADLINE)
    finally:
        prometheus.stop()
    alert = found[0]
    assert ("firing", "api", "payments", "always firing") == (
        alert["state"],
        alert["source"],
        alert["labels"]["service"],
        alert["annotations"]["summary"],
    )
    assert (True, True) == (
        alert["ends_at"] is not None,
        alert["generator_url"].startswith("http://"),
    )


def test_alertmanager_webhook_delivers_firing_and_resolved(
    server: LiveServer, tmp_path: Path
) -> None:
    """A real Alertmanager's webhook_configs with http_config.authorization.credentials set
    to an ingest token: reliant sees the alert fire, then resolve, with source alertmanager."""
    token = ingest_token(server)
    (tmp_path / "alertmanager.yml").write_text(
        "route: {receiver: reliant, group_by: [alertname], group_wait: 1s, group_interval: 1s}\n"
        "receivers:\n- name: reliant\n  webhook_configs:\n"
        f"  - url: {server.url}/api/v1/alertmanager/webhook\n"
        f"    http_config: {{authorization: {{credentials: {token}}}}}\n"
    )
    port = free_port()
    manager = Engine(
        [
            "prometheus-alertmanager",
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        port,
        tmp_path / "alertmanager.log",
    )
    labels = {"alertname": "DiskFull", "severity": "ticket", "service": "db"}
    try:
        posted = httpx.post(f"{manager.url}/api/v2/alerts", json=[{"labels": labels}])
        assert 200 == posted.status_code, posted.text
        firing = wait_for(lambda: alerts_of(server, "DiskFull"), "the firing alert", DEADLINE)
        end = dt.datetime.now(dt.UTC).isoformat()
        httpx.post(f"{manager.url}/api/v2/alerts", json=[{"labels": labels, "endsAt": end}])
        resolved = wait_for(
            lambda: [a for a in alerts_of(server, "DiskFull") if a["state"] == "resolved"],
            "the resolution",
            DEADLINE,
        )
    finally:
        manager.stop()
    assert ("firing", "alertmanager", labels) == (
        firing[0]["state"],
        firing[0]["source"],
        firing[0]["labels"],
    )
    assert [firing[0]["fingerprint"]] == [a["fingerprint"] for a in resolved]


SLO_DOCUMENT = """\
apiVersion: reliant.dev/v1
kind: SLO
metadata: {name: availability}
spec:
  service: checkout
  objective: 99.9
  sli: {ratio: {operation: charge}}
"""


def test_prometheus_evaluates_generated_rules_and_alertmanager_pages_reliant(
    server: LiveServer, tmp_path: Path
) -> None:
    """The whole Prometheus path: a real service instrumented with the SDK loses its
    dependency; a real Prometheus scrapes it and evaluates the rules `reliant slo rules`
    wrote for the SLO; the page burn-rate alert goes to a real Alertmanager, whose webhook
    delivers it to reliant with Sloth's labels."""
    (tmp_path / "reliant.yaml").write_text(SLO_DOCUMENT)
    rules = subprocess.run(
        [sys.executable, "-m", "reliant", "slo", "rules", str(tmp_path / "reliant.yaml")],
        capture_output=True,
        text=True,
        check=True,
        timeout=DEADLINE,
    ).stdout
    (tmp_path / "rules.yml").write_text(rules)
    service_port, manager_port, prometheus_port = free_port(), free_port(), free_port()
    service = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("instrumented_service.py")),
            str(service_port),
        ]
    )
    token = ingest_token(server)
    (tmp_path / "alertmanager.yml").write_text(
        "route: {receiver: reliant, group_by: [sloth_id, severity], group_wait: 1s,"
        " group_interval: 1s}\n"
        "receivers:\n- name: reliant\n  webhook_configs:\n"
        f"  - url: {server.url}/api/v1/alertmanager/webhook\n"
        f"    http_config: {{authorization: {{credentials: {token}}}}}\n"
    )
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s, scrape_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n- job_name: checkout\n"
        f"  static_configs: [{{targets: ['127.0.0.1:{service_port}'],"
        " labels: {service: checkout}}]\n"
        "alerting:\n  alertmanagers:\n"
        f"  - static_configs: [{{targets: ['127.0.0.1:{manager_port}']}}]\n"
    )
    engines: list[Engine] = []
    try:
        wait_for(
            lambda: "reliant_calls_total" in _metrics(service_port),
            "the service's metrics",
            DEADLINE,
        )
        engines.append(
            Engine(
                [
                    "prometheus-alertmanager",
                    f"--config.file={tmp_path / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'am'}",
                    f"--web.listen-address=127.0.0.1:{manager_port}",
                    "--cluster.listen-address=",
                ],
                manager_port,
                tmp_path / "alertmanager.log",
            )
        )
        engines.append(
            Engine(
                [
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    "--rules.alert.resend-delay=1s",
                ],
                prometheus_port,
                tmp_path / "prometheus.log",
            )
        )
        pages = wait_for(
            lambda: [
                a
                for a in alerts_of(server, "SLOErrorBudgetBurn")
                if a["labels"]["severity"] == "page"
            ],
            "the page from Alertmanager",
            DEADLINE * 2,
        )
    finally:
        for engine in reversed(engines):
            engine.stop()
        service.terminate()
        service.wait(timeout=20)
    page = pages[0]
    assert ("firing", "alertmanager") == (page["state"], page["source"])
    assert {
        "alertname": "SLOErrorBudgetBurn",
        "severity": "page",
        "sloth_id": "checkout-availability",
        "sloth_service": "checkout",
        "sloth_slo": "availability",
    }.items() <= page["labels"].items()


def _metrics(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
    except httpx.HTTPError:
        return ""
