"""Tests for reliant.exceptions: the tree and the pickling of carried data."""

from __future__ import annotations

import copy
import pickle

import pytest

from reliant import exceptions
from reliant.exceptions import (
    BulkheadFullError,
    CircuitOpenError,
    ConcurrencyLimitError,
    InjectedFault,
    RateLimitedError,
    RejectedError,
    ReliantError,
    ThrottledError,
    TimeoutExceeded,
)

REJECTIONS = [
    CircuitOpenError,
    BulkheadFullError,
    RateLimitedError,
    ConcurrencyLimitError,
    ThrottledError,
]


@pytest.mark.parametrize("cls", REJECTIONS)
def test_rejections_share_a_base(cls: type[RejectedError]) -> None:
    """Every rejection is a RejectedError and a ReliantError."""
    assert issubclass(cls, RejectedError)
    assert issubclass(cls, ReliantError)
    assert issubclass(cls, Exception)


def test_timeout_exceeded_is_also_a_builtin_timeout_error() -> None:
    """TimeoutExceeded is caught by `except TimeoutError` and is not a rejection."""
    assert issubclass(TimeoutExceeded, TimeoutError)
    assert issubclass(TimeoutExceeded, ReliantError)
    assert not issubclass(TimeoutExceeded, RejectedError)


def test_injected_fault_is_a_connection_error() -> None:
    """InjectedFault is handled by code that handles a lost dependency."""
    assert issubclass(InjectedFault, ConnectionError)
    assert issubclass(InjectedFault, ReliantError)


def test_all_lists_the_tree_sorted() -> None:
    """__all__ names every exception class of the module, sorted."""
    names = sorted(
        name
        for name, obj in vars(exceptions).items()
        if isinstance(obj, type) and issubclass(obj, BaseException) and not name.startswith("_")
    )
    assert names == exceptions.__all__
    assert sorted(exceptions.__all__) == exceptions.__all__


def test_rejected_error_carries_policy_and_retry_after() -> None:
    """A rejection carries the refusing policy's name and when to try again."""
    err = RateLimitedError("too many", policy="api", retry_after=1.5)
    assert "too many" == str(err)
    assert "api" == err.policy
    assert 1.5 == err.retry_after


def test_rejected_error_defaults() -> None:
    """Without keywords, policy is empty and retry_after unknown."""
    err = BulkheadFullError("full")
    assert "" == err.policy
    assert err.retry_after is None


@pytest.mark.parametrize("cls", [RejectedError, *REJECTIONS])
@pytest.mark.parametrize("retry_after", [None, 0.0, 2.5])
def test_rejections_pickle_with_attributes(
    cls: type[RejectedError], retry_after: float | None
) -> None:
    """A pickled rejection comes back as the same class with the same data."""
    err = cls("refused", policy="db", retry_after=retry_after)
    back = pickle.loads(pickle.dumps(err))
    assert cls is type(back)
    assert ("refused", "db", retry_after) == (str(back), back.policy, back.retry_after)


def test_timeout_exceeded_pickles_with_timeout() -> None:
    """A pickled TimeoutExceeded keeps its message and timeout."""
    err = TimeoutExceeded("slow", timeout=0.25)
    back = pickle.loads(pickle.dumps(err))
    assert TimeoutExceeded is type(back)
    assert ("slow", 0.25) == (str(back), back.timeout)


def test_timeout_exceeded_subclass_pickles_as_itself() -> None:
    """A subclass of TimeoutExceeded keeps its class across pickling."""
    back = pickle.loads(pickle.dumps(CustomTimeout("late", timeout=3.0)))
    assert CustomTimeout is type(back)
    assert 3.0 == back.timeout


class CustomTimeout(TimeoutExceeded):
    """A user's own timeout error (module level so pickle can find it)."""


def test_copy_keeps_attributes() -> None:
    """copy.copy of a rejection and of a timeout keeps their data."""
    rejected = copy.copy(CircuitOpenError("open", policy="cb", retry_after=9.0))
    timed_out = copy.copy(TimeoutExceeded("t", timeout=1.0))
    assert ("cb", 9.0) == (rejected.policy, rejected.retry_after)
    assert 1.0 == timed_out.timeout


def test_injected_fault_pickles() -> None:
    """InjectedFault round-trips through pickle."""
    back = pickle.loads(pickle.dumps(InjectedFault("injected")))
    assert InjectedFault is type(back)
    assert "injected" == str(back)


def test_docstring_draws_every_class() -> None:
    """The module docstring's tree names every exception in __all__."""
    doc = exceptions.__doc__ or ""
    assert [name for name in exceptions.__all__ if name not in doc] == []
