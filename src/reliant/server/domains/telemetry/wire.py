"""Decoding an ingest body: identity or gzip, never holding more than the batch limit.

The gzip stream is inflated with ``zlib.decompressobj(...).decompress(data, max_length)``,
so a small body that inflates to gigabytes (a "zip bomb") costs at most the limit plus
one byte of memory before it is refused. Pure: fed chunk by chunk, no I/O.
"""

from __future__ import annotations

import zlib

from reliant.agent.protocol import MAX_BATCH_BYTES

#: Bytes gzip may add to its content (header, trailer, stored-block framing): a gzip body
#: larger than the limit plus this cannot inflate to at most the limit.
GZIP_OVERHEAD = 64 * 1024
#: ``Content-Encoding`` values accepted, and how each is decoded.
ENCODINGS = {"": "identity", "identity": "identity", "gzip": "gzip", "x-gzip": "gzip"}


class TooLarge(ValueError):
    """The body exceeds the limit (compressed or decompressed)."""


class Malformed(ValueError):
    """The body is not valid for its content encoding (truncated or corrupt gzip)."""


def encoding_of(header: str | None) -> str | None:
    """The decoding a ``Content-Encoding`` header asks for, or ``None`` when unsupported."""
    return ENCODINGS.get((header or "").strip().lower())


def wire_limit(encoding: str, limit: int = MAX_BATCH_BYTES) -> int:
    """The most bytes a body in ``encoding`` may take on the wire."""
    return limit + GZIP_OVERHEAD if encoding == "gzip" else limit


class BodyDecoder:
    """Collects a body chunk by chunk, inflating gzip, within ``limit`` decoded bytes.

    Args:
        encoding: ``"identity"`` or ``"gzip"`` (see :func:`encoding_of`).
        limit: the most decoded bytes accepted.

    Raises (from ``feed`` and ``finish``):
        TooLarge: more than ``limit`` decoded bytes, or too many bytes on the wire.
        Malformed: the gzip stream is corrupt, truncated or followed by extra bytes.
    """

    def __init__(self, encoding: str, limit: int = MAX_BATCH_BYTES) -> None:
        if encoding not in ("identity", "gzip"):
            raise ValueError(
                f"BodyDecoder: encoding must be 'identity' or 'gzip', got {encoding!r}"
            )
        self.limit = limit
        self.max_wire = wire_limit(encoding, limit)
        self.wire = 0
        self._out = bytearray()
        self._inflater = (
            zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if encoding == "gzip" else None
        )

    def feed(self, chunk: bytes) -> None:
        """Add the next bytes received."""
        self.wire += len(chunk)
        if self.wire > self.max_wire:
            raise TooLarge(f"the body is over {self.max_wire} bytes on the wire")
        inflater = self._inflater
        if inflater is None:
            self._out += chunk
            self._check_size()
            return
        data = chunk
        while data:
            if inflater.eof:
                raise Malformed("extra bytes after the end of the gzip stream")
            try:
                # max_length of at least 1: zlib reads 0 as "no limit".
                self._out += inflater.decompress(data, self.limit + 1 - len(self._out))
            except zlib.error as exc:
                raise Malformed(f"the body is not valid gzip: {exc}") from None
            self._check_size()
            data = inflater.unconsumed_tail or inflater.unused_data

    def _check_size(self) -> None:
        if len(self._out) > self.limit:
            raise TooLarge(f"the body is over {self.limit} bytes once decompressed")

    def finish(self) -> bytes:
        """The whole decoded body, once every chunk was fed."""
        if self._inflater is not None and not self._inflater.eof:
            raise Malformed("the gzip stream is truncated")
        return bytes(self._out)
