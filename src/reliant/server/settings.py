"""Control-plane settings: defaults, the ``RELIANT_*`` environment and command-line overrides."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reliant._core.durations import parse_duration

#: Where the embedded store and other files live when nothing else is said.
DEFAULT_DATA_DIR = Path("~/.local/share/reliant")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7474
#: Events older than this are deleted by the retention job.
DEFAULT_EVENT_RETENTION = 30 * 86400.0
#: Telemetry rollups are kept per bucket of this many seconds.
DEFAULT_BUCKET_SECONDS = 10
#: A leader holds a job lease this long without renewing it.
DEFAULT_LEASE_TTL = 15.0
#: Request bodies over this many bytes are refused with 413.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a control-plane process needs to start.

    Attributes:
        data_dir: directory of the embedded SQLite store (created when missing).
        database_url: SQLAlchemy URL; ``None`` means SQLite in ``data_dir``. ``postgresql://``
            URLs use psycopg 3.
        host: address to bind; loopback unless told otherwise.
        port: TCP port to bind.
        bootstrap_token: the first admin token to create on an empty store (instead of a
            random one, printed once); for scripted set-ups and tests.
        event_retention: seconds an event is kept.
        bucket_seconds: width of the telemetry rollup buckets.
        lease_ttl: seconds a job leader's lease lasts without renewal.
        max_body_bytes: request bodies over this size are refused with 413.
        run_jobs: start the leader-elected background jobs with the app.
        secure_cookies: mark web cookies ``Secure`` (browsers treat loopback as secure).
        external_url: the URL people reach this server at (``https://reliant.example``),
            for links in notifications; empty means ``http://<host>:<port>``
            (see :attr:`public_url`).
        job_intervals: seconds between runs of the named background jobs instead of their
            defaults (``{"slo.evaluate": 2.0}``); for game days and demos that compress
            time. ``RELIANT_JOB_INTERVALS="slo.evaluate=2s,incidents.declare=1s"``.
        now: wall clock in epoch seconds; tests inject a virtual one.
    """

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    bootstrap_token: str | None = None
    event_retention: float = DEFAULT_EVENT_RETENTION
    bucket_seconds: int = DEFAULT_BUCKET_SECONDS
    lease_ttl: float = DEFAULT_LEASE_TTL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    run_jobs: bool = True
    secure_cookies: bool = True
    external_url: str = ""
    job_intervals: Mapping[str, float] = field(default_factory=dict)
    now: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"Settings: port must be in 1..65535, got {self.port}")
        if self.event_retention <= 0:
            raise ValueError("Settings: event_retention must be > 0 seconds")
        if self.bucket_seconds <= 0:
            raise ValueError("Settings: bucket_seconds must be > 0")
        if self.lease_ttl <= 0:
            raise ValueError("Settings: lease_ttl must be > 0 seconds")
        for job, seconds in self.job_intervals.items():
            if not seconds > 0:
                raise ValueError(f"Settings: job_intervals[{job!r}] must be > 0 seconds")
        if self.external_url and not self.external_url.startswith(("http://", "https://")):
            raise ValueError(
                f"Settings: external_url must start with http:// or https://, "
                f"got {self.external_url!r}"
            )

    @property
    def public_url(self) -> str:
        """Where people reach the server: ``external_url``, else ``http://<host>:<port>``."""
        return self.external_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL in use: ``database_url`` or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.expanduser() / 'reliant.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``RELIANT_*`` variables, then ``overrides`` (``None`` values skipped).

        Args:
            env: the environment to read (``os.environ`` when omitted).
            overrides: field values that win over the environment, e.g. from the CLI.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if data_dir := env.get("RELIANT_DATA_DIR"):
            values["data_dir"] = Path(data_dir)
        if url := env.get("RELIANT_DATABASE_URL"):
            values["database_url"] = url
        if token := env.get("RELIANT_BOOTSTRAP_TOKEN"):
            values["bootstrap_token"] = token
        if external := env.get("RELIANT_EXTERNAL_URL"):
            values["external_url"] = external
        if intervals := env.get("RELIANT_JOB_INTERVALS"):
            values["job_intervals"] = parse_job_intervals(intervals)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values.get("data_dir"), str):
            values["data_dir"] = Path(str(values["data_dir"]))
        return replace(cls(), **values)  # type: ignore[arg-type]


def parse_job_intervals(text: str) -> dict[str, float]:
    """``"slo.evaluate=2s,incidents.declare=1"`` as ``{job: seconds}``.

    Raises:
        ValueError: an item is not ``name=duration`` or the duration does not parse.
    """
    intervals: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(
                f"RELIANT_JOB_INTERVALS: {item!r} is not name=duration "
                "(e.g. slo.evaluate=2s,incidents.declare=1s)"
            )
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            seconds = parse_duration(value, option=f"RELIANT_JOB_INTERVALS: {name.strip()}")
        intervals[name.strip()] = seconds
    return intervals
