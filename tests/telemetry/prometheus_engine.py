"""A real Prometheus server for the tests: temp dir, free port, readiness probe, stop by PID."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO

#: How long Prometheus may take to report ready after it was started.
READY_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusServer:
    """One Prometheus process on loopback scraping ``targets`` every second."""

    def __init__(self, targets: list[str]) -> None:
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="reliant-prometheus-")
        self._targets = targets
        self.process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start Prometheus and wait (bounded) until ``/-/ready`` answers 200."""
        root = Path(self._dir.name)
        config = root / "prometheus.yml"
        config.write_text(
            json.dumps(  # JSON is YAML: no YAML writer needed
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {"job_name": "reliant", "static_configs": [{"targets": self._targets}]}
                    ],
                }
            )
        )
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self._log = (root / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=0.5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)  # poll interval of a bounded readiness loop
        raise RuntimeError(f"prometheus not ready after {READY_TIMEOUT}s: {self.log()[-2000:]}")

    def log(self) -> str:
        """What Prometheus wrote to its log so far."""
        path = Path(self._dir.name) / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Evaluate an instant PromQL query; return the result vector."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=2) as response:
            body = json.load(response)
        assert "success" == body["status"], body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def close(self) -> None:
        """Stop the process by PID and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
        self._dir.cleanup()
