"""The wire protocol between the SDK and the control plane (standard library only).

Both sides import these names: the SDK's agent (``reliant.agent``) and the server's
telemetry and config domains. See ``docs/connect.md`` for the message shapes.
"""

from __future__ import annotations

from urllib.parse import quote

#: Version of the push body (``"protocol"`` field); the server rejects unknown versions.
PROTOCOL_VERSION = 1

#: Telemetry buckets are aligned to this many seconds of wall time.
BUCKET_SECONDS = 10

#: Upper bounds (seconds) of the latency histogram. A histogram has
#: ``len(LATENCY_BOUNDS) + 1`` counts: ``counts[i]`` is the number of calls with a
#: duration ``<= LATENCY_BOUNDS[i]`` and ``>`` the previous bound; the last is +Inf.
#: Counts are not cumulative.
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: Every call outcome; ``"failure"`` is a call that raised or failed.
OUTCOMES = ("success", "failure", "rejected", "timeout")

#: The largest decompressed push body the server accepts, in bytes.
MAX_BATCH_BYTES = 4 * 1024 * 1024

#: Where the SDK pushes its batches (``POST``).
INGEST_PATH = "/api/v1/ingest"


def config_path(service: str) -> str:
    """Return the path of ``service``'s config document.

    Args:
        service: the service name.

    Returns:
        ``/api/v1/services/{service}/config``.
    """
    return f"/api/v1/services/{quote(service, safe='')}/config"


def config_stream_path(service: str) -> str:
    """Return the path of ``service``'s config stream (Server-Sent Events).

    Args:
        service: the service name.

    Returns:
        ``/api/v1/services/{service}/config/stream``.
    """
    return config_path(service) + "/stream"


__all__ = [
    "BUCKET_SECONDS",
    "INGEST_PATH",
    "LATENCY_BOUNDS",
    "MAX_BATCH_BYTES",
    "OUTCOMES",
    "PROTOCOL_VERSION",
    "config_path",
    "config_stream_path",
]
