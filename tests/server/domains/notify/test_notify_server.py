"""A real `reliant server` without RELIANT_SECRET_KEY: it starts, and says what is missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from notify_smtp import free_port
from server_processes import wait_for

from reliant.server.domains.notify import SECRET_KEY_ENV


def test_server_starts_without_a_key_and_warns(tmp_path: Path) -> None:
    """The server answers /livez and has printed how to set RELIANT_SECRET_KEY."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != SECRET_KEY_ENV}
    argv = [sys.executable, "-m", "reliant", "server", "--port", str(port)]
    argv += ["--data-dir", str(tmp_path / "data"), "--log-level", "warning"]
    with (tmp_path / "stderr").open("wb") as stderr:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            live = wait_for(
                lambda: (
                    process.poll() is None
                    and httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200
                ),
                "reliant server to answer",
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    printed = (tmp_path / "stderr").read_text()
    assert (True, True) == (live, f"set {SECRET_KEY_ENV} to a Fernet key" in printed)
