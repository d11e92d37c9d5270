"""asyncio, imported on first use.

A sync program never needs asyncio (≈50 ms and ≈11 MiB with ssl and
concurrent.futures), so SDK modules do not import it at module level: async code
paths call :func:`aio` for the module. Hot paths bind what they need once instead.
"""

from __future__ import annotations

from types import ModuleType

_asyncio: ModuleType | None = None


def aio() -> ModuleType:
    """Return the ``asyncio`` module, importing it on the first call.

    Cheaper than an ``import asyncio`` statement in a function (a global read
    instead of an import-machinery lookup); attributes of the result are untyped.
    """
    global _asyncio
    module = _asyncio
    if module is None:
        import asyncio

        module = _asyncio = asyncio
    return module
