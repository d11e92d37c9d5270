"""Decoding ingest bodies: identity and gzip within the limit, bombs and garbage refused."""

from __future__ import annotations

import gzip
import zlib

import pytest

from reliant.server.domains.telemetry.wire import (
    GZIP_OVERHEAD,
    BodyDecoder,
    Malformed,
    TooLarge,
    encoding_of,
)


def _decode(encoding: str, body: bytes, *, limit: int = 1000, chunk: int = 7) -> bytes:
    decoder = BodyDecoder(encoding, limit)
    for i in range(0, len(body), chunk):
        decoder.feed(body[i : i + chunk])
    return decoder.finish()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "identity"),
        ("", "identity"),
        ("Identity", "identity"),
        (" gzip ", "gzip"),
        ("x-gzip", "gzip"),
        ("br", None),
        ("deflate", None),
        ("gzip, gzip", None),
    ],
)
def test_encodings(header: str | None, expected: str | None) -> None:
    """gzip and identity are accepted; every other content encoding is not."""
    assert expected == encoding_of(header)


def test_identity_passes_through() -> None:
    """An identity body comes back as sent, whatever the chunking."""
    assert b"x" * 1000 == _decode("identity", b"x" * 1000)


def test_identity_over_the_limit() -> None:
    """One byte over the limit is refused."""
    with pytest.raises(TooLarge):
        _decode("identity", b"x" * 1001)


def test_gzip_is_inflated() -> None:
    """A gzip body is inflated, fed in any chunk size."""
    body = b'{"a": 1}' * 100
    for chunk in (1, 7, 10_000):
        assert body == _decode("gzip", gzip.compress(body), limit=len(body), chunk=chunk)


def test_gzip_bomb_is_refused_with_bounded_memory() -> None:
    """64 MiB of zeros in 64 KiB of gzip stops at the limit, before inflating the rest."""
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    decoder = BodyDecoder("gzip", 1000)
    with pytest.raises(TooLarge, match="once decompressed"):
        decoder.feed(bomb)
    assert len(decoder._out) <= 1001


def test_too_many_bytes_on_the_wire() -> None:
    """A compressed body larger than any valid batch is refused unread."""
    decoder = BodyDecoder("gzip", 10)
    with pytest.raises(TooLarge, match="on the wire"):
        decoder.feed(bytes(10 + GZIP_OVERHEAD + 1))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b"hello", mtime=0)[:-4], "truncated"),
        (gzip.compress(b"hello", mtime=0) + b"trailing", "extra bytes"),
        (gzip.compress(b"hello", mtime=0) + gzip.compress(b"again", mtime=0), "extra bytes"),
        (zlib.compress(b"hello"), "not valid gzip"),
    ],
)
def test_malformed_gzip(body: bytes, message: str) -> None:
    """Corrupt, truncated or padded gzip streams are malformed bodies."""
    with pytest.raises(Malformed, match=message):
        _decode("gzip", body)


def test_unknown_encoding_is_a_programming_error() -> None:
    """The decoder only knows identity and gzip."""
    with pytest.raises(ValueError, match="'identity' or 'gzip'"):
        BodyDecoder("br")
