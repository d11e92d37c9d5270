"""Control-plane settings: defaults, environment, overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliant.server.settings import DEFAULT_PORT, Settings


def test_defaults_use_sqlite_in_the_data_dir() -> None:
    """Without a database URL the store is reliant.db in the data directory."""
    settings = Settings(data_dir=Path("/tmp/x"))
    assert ("sqlite:////tmp/x/reliant.db", "127.0.0.1", DEFAULT_PORT) == (
        settings.url,
        settings.host,
        settings.port,
    )


def test_environment_then_overrides() -> None:
    """RELIANT_* variables are read; explicit overrides win; None overrides are skipped."""
    env = {
        "RELIANT_DATA_DIR": "/srv/reliant",
        "RELIANT_DATABASE_URL": "postgresql://db/reliant",
        "RELIANT_BOOTSTRAP_TOKEN": "rlt_x",
    }
    settings = Settings.from_env(env, port=9000, host=None, data_dir="/override")
    assert (Path("/override"), "postgresql://db/reliant", "rlt_x", 9000, "127.0.0.1") == (
        settings.data_dir,
        settings.url,
        settings.bootstrap_token,
        settings.port,
        settings.host,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("port", 0, "port must be in 1..65535"),
        ("event_retention", 0.0, "event_retention must be > 0"),
        ("bucket_seconds", 0, "bucket_seconds must be > 0"),
        ("lease_ttl", -1.0, "lease_ttl must be > 0"),
    ],
)
def test_invalid_settings_are_refused(field: str, value: object, message: str) -> None:
    """Out-of-range settings raise ValueError naming the setting."""
    with pytest.raises(ValueError, match=message):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_job_intervals_from_the_environment() -> None:
    """RELIANT_JOB_INTERVALS takes name=duration items, in seconds or with a unit."""
    env = {"RELIANT_JOB_INTERVALS": "slo.evaluate=2s, incidents.declare=0.5,runbooks.trigger=1m"}
    settings = Settings.from_env(env)
    expected = {"slo.evaluate": 2.0, "incidents.declare": 0.5, "runbooks.trigger": 60.0}
    assert expected == dict(settings.job_intervals)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slo.evaluate", "is not name=duration"),
        ("=2s", "is not name=duration"),
        ("slo.evaluate=soon", "slo.evaluate"),
    ],
)
def test_bad_job_intervals_are_refused(text: str, message: str) -> None:
    """A malformed RELIANT_JOB_INTERVALS item is refused, naming it."""
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"RELIANT_JOB_INTERVALS": text})


def test_job_intervals_must_be_positive() -> None:
    """A zero interval is refused at construction."""
    with pytest.raises(ValueError, match=r"job_intervals\['slo.evaluate'\] must be > 0"):
        Settings(job_intervals={"slo.evaluate": 0.0})
