"""The wire constants shared with the server, and what importing them costs."""

from __future__ import annotations

import json
import subprocess
import sys

from reliant.agent import protocol


def test_the_constants_match_the_protocol() -> None:
    """Bucket size, histogram bounds, outcomes, limits and paths as both sides expect."""
    assert (1, 10, 13, ("success", "failure", "rejected", "timeout"), 4 * 1024 * 1024) == (
        protocol.PROTOCOL_VERSION,
        protocol.BUCKET_SECONDS,
        len(protocol.LATENCY_BOUNDS),
        protocol.OUTCOMES,
        protocol.MAX_BATCH_BYTES,
    )
    assert list(protocol.LATENCY_BOUNDS) == sorted(protocol.LATENCY_BOUNDS)
    assert "/api/v1/ingest" == protocol.INGEST_PATH


def test_config_paths_quote_the_service() -> None:
    """The service is one path segment."""
    assert "/api/v1/services/payments/config" == protocol.config_path("payments")
    assert "/api/v1/services/a%2Fb/config/stream" == protocol.config_stream_path("a/b")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def test_importing_the_protocol_loads_no_agent_machinery() -> None:
    """The server imports the constants without the agent's threads or HTTP client."""
    loaded = _modules_after("import reliant.agent.protocol")
    assert set() == loaded & {"reliant.agent.agent", "threading", "http.client", "ssl"}


def test_import_reliant_does_not_load_the_agent() -> None:
    """Nothing of reliant.agent is imported until connect is used."""
    assert not any(m.startswith("reliant.agent") for m in _modules_after("import reliant"))


def test_the_agent_loads_no_http_client_before_connecting() -> None:
    """http.client (and ssl) load in the agent's threads, on first use."""
    loaded = _modules_after("from reliant.agent import connect")
    assert set() == loaded & {"http.client", "ssl", "asyncio", "logging"}
