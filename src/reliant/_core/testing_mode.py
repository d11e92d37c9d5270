"""Process-wide testing switch read by Retry (see :func:`reliant.testing.set_testing`)."""

from __future__ import annotations


class TestingMode:
    """When enabled, retries do not sleep and may be capped to fewer attempts."""

    __slots__ = ("attempts", "enabled")
    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.enabled = False
        self.attempts: int | None = None


TESTING = TestingMode()
