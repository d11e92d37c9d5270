"""Retry on the success path: a decorated function that returns at once.

reliant ``Retry(attempts=3)`` against tenacity, stamina and backoff configured the same
way (three attempts in all, any exception). Nothing fails, so this is the toll every
call pays for being retryable.
"""

from __future__ import annotations

from typing import Any

import reliant as r
from benchmarks.harness import RESULT, Case, Config, Section, ratio_target, table

TITLE = "Retry — success path, decorated function"


def _f() -> int:
    return RESULT


async def _af() -> int:
    return RESULT


def _reliant(fn: Any) -> Any:
    return r.Retry(attempts=3)(fn)


def _tenacity(fn: Any) -> Any:
    import tenacity

    return tenacity.retry(stop=tenacity.stop_after_attempt(3))(fn)


def _stamina(fn: Any) -> Any:
    import stamina

    return stamina.retry(on=Exception, attempts=3)(fn)


def _backoff(fn: Any) -> Any:
    import backoff

    return backoff.on_exception(backoff.expo, Exception, max_tries=3)(fn)


def cases(fn: Any) -> list[Case]:
    """The rows of one table, for ``fn`` sync or async."""
    return [
        Case("(undecorated function)", lambda: fn),
        Case("reliant Retry(attempts=3)", lambda: _reliant(fn), reference=True),
        Case("tenacity @retry(stop_after_attempt(3))", lambda: _tenacity(fn)),
        Case("stamina @retry(on=Exception, attempts=3)", lambda: _stamina(fn)),
        Case("backoff @on_exception(expo, max_tries=3)", lambda: _backoff(fn)),
    ]


def run(cfg: Config) -> Section:
    """Measure the sync and async tables and check the tenacity target."""
    section = Section("retry", TITLE)
    sync = table(cfg, "sync", cases(_f), is_async=False)
    asyn = table(cfg, "asyncio", cases(_af), is_async=True)
    section.tables += [sync, asyn]
    ref, peer = "reliant Retry(attempts=3)", "tenacity @retry(stop_after_attempt(3))"
    section.targets += [
        ratio_target("sync: reliant ≥ 10× cheaper than tenacity", sync, ref, peer, 10.0),
        ratio_target("async: reliant ≥ 10× cheaper than tenacity", asyn, ref, peer, 10.0),
    ]
    return section
