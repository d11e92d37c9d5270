"""The test tree's one rule that pytest enforces only at collection: unique module names.

Test folders have no ``__init__.py``, so two test modules of one basename collide.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_names_are_unique() -> None:
    """No two Python files under tests/ share a basename (conftest.py aside)."""
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [] == sorted(name for name, n in names.items() if n > 1)
