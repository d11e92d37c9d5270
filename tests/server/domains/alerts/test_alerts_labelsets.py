"""Label sets: Alertmanager's fingerprint, its text form, and what may be stored."""

from __future__ import annotations

import pytest

from reliant.server.domains.alerts.labelsets import check_labels, fingerprint, format_labels


def test_fingerprint_matches_alertmanager_vectors() -> None:
    """prometheus/common's test vectors: the empty set and a two-label set."""
    assert ("cbf29ce484222325", "507a62d79ee76c9a") == (
        fingerprint({}),
        fingerprint({"name": "garland, briggs", "fear": "love is not enough"}),
    )


def test_fingerprint_ignores_insertion_order_and_separates_names_from_values() -> None:
    """Order does not matter; moving text between a name and its value does."""
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})


def test_fingerprint_hashes_utf8_bytes() -> None:
    """Non-ASCII text is hashed as UTF-8, sorted by code point (= byte order)."""
    assert 16 == len(fingerprint({"alertname": "Überlast", "é": "ü"}))
    assert fingerprint({"é": "1", "z": "2"}) == fingerprint({"z": "2", "é": "1"})


def test_format_labels_is_alertmanagers() -> None:
    """Sorted name="value" pairs joined by ", ", values Go-quoted."""
    assert '{alertname="Down", path="a\\"b\\\\c\\n"}' == format_labels(
        {"path": 'a"b\\c\n', "alertname": "Down"}
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"severity": "page"}, "alertname is required"),
        ({"alertname": ""}, "alertname is required"),
        ({"alertname": "x", "": "v"}, "is not a label name"),
        ({"alertname": "x\x00"}, "no NUL"),
        ({"alertname": "x", "a\x00": "v"}, "is not a label name"),
        ({"alertname": "x" * 5000}, "at most 4096"),
    ],
)
def test_check_labels_refuses_what_cannot_be_stored(labels: dict[str, str], message: str) -> None:
    """No alertname, empty names, NUL characters and huge values are refused."""
    with pytest.raises(ValueError, match=message):
        check_labels(labels)


def test_check_labels_caps_the_count() -> None:
    """At most 100 labels."""
    with pytest.raises(ValueError, match="at most 100 labels"):
        check_labels({"alertname": "x", **{f"l{i}": "v" for i in range(100)}})
