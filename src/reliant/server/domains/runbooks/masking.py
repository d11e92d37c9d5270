"""Secrets out of sight, output within bounds. Pure.

Secret parameter values are replaced by ``********`` wherever they appear — in outputs,
errors, events and answers — before anything is stored. Captured output is capped at
:data:`OUTPUT_LIMIT` bytes, saying how much was cut.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reliant.spec.runbooks import MASK

#: Bytes of a step's output kept (stdout and stderr together, or a response body).
OUTPUT_LIMIT = 64 * 1024
#: Characters of output an event carries.
EXCERPT = 500


class Masker:
    """Replaces secret values in text and in JSON-like data.

    Args:
        secrets: the values to hide (empty ones are ignored).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.longest = len(self.secrets[0]) if self.secrets else 0

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``********``."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """``value`` (str, list, dict, scalar) with secrets replaced in every string."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        return value


def decode(data: bytes) -> str:
    """Bytes as text a store keeps: UTF-8 with replacements, NUL characters shown as ``\\0``."""
    return data.decode("utf-8", errors="replace").replace("\x00", "\\0")


def capped(kept: bytes, total: int, masker: Masker, *, limit: int = OUTPUT_LIMIT) -> str:
    """The output to store: the first ``limit`` bytes, masked, then ``… N bytes cut``.

    Args:
        kept: the start of the output (at least ``limit`` bytes plus the longest secret
            when there was that much, so a secret across the cut is masked too).
        total: how many bytes the output had in all.
    """
    text = masker.text(decode(kept))
    if total <= limit:
        return text
    # Masked before the cut, so a secret across it never shows a prefix.
    head = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return f"{head}\n… {total - limit} bytes cut"


def excerpt(text: str | None, limit: int = EXCERPT) -> str | None:
    """The end of an output, at most ``limit`` characters (``…`` first when cut)."""
    if text is None or len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :]
