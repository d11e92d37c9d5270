"""Label sets: Alertmanager's fingerprint and text form, and what a storable label set is.

The fingerprint is the one Alertmanager (``prometheus/common`` ``model.LabelSet.Fingerprint``)
computes, so an alert has the same fingerprint in reliant as in Alertmanager: a 64-bit
FNV-1a hash over the label names in sorted (byte) order, each name and each value as UTF-8
followed by the separator byte ``0xff``, written as 16 lowercase hex digits. The empty set
hashes to the FNV-1a offset basis, ``cbf29ce484222325``.
"""

from __future__ import annotations

from collections.abc import Mapping

#: FNV-1a 64-bit offset basis and prime.
FNV_OFFSET = 14695981039346656037
FNV_PRIME = 1099511628211
#: The byte between names and values: it never occurs in valid UTF-8.
SEPARATOR = 0xFF
_MASK = (1 << 64) - 1

#: Most labels one alert may carry.
MAX_LABELS = 100
#: Longest label name, label value and annotation value, in characters.
MAX_NAME = 256
MAX_VALUE = 4096
MAX_ANNOTATION = 16384


def fingerprint(labels: Mapping[str, str]) -> str:
    """The alert's fingerprint: FNV-1a 64 of its sorted labels, as 16 hex digits."""
    h = FNV_OFFSET
    for name in sorted(labels):  # code point order is UTF-8 byte order
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * FNV_PRIME) & _MASK
            h = ((h ^ SEPARATOR) * FNV_PRIME) & _MASK
    return f"{h:016x}"


def quote(value: str) -> str:
    """``value`` in double quotes, escaped as Go's ``%q`` does for printable text."""
    out = ['"']
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def format_labels(labels: Mapping[str, str]) -> str:
    """The label set as Alertmanager writes it: ``{alertname="X", service="y"}``, sorted."""
    return "{" + ", ".join(sorted(f"{k}={quote(v)}" for k, v in labels.items())) + "}"


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def check_labels(labels: Mapping[str, str], *, what: str = "labels") -> dict[str, str]:
    """A copy of ``labels`` after checking it can be stored and matched.

    Raises:
        ValueError: saying which label is wrong: a name that is empty, too long or holds NUL;
            a value too long or holding NUL; more than :data:`MAX_LABELS` labels; or no
            ``alertname`` (when ``what`` is ``labels``).
    """
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{what}: at most {MAX_LABELS} labels, got {len(labels)}")
    out: dict[str, str] = {}
    for name, value in labels.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"{what}: names and values must be strings, got {name!r}")
        if not name or len(name) > MAX_NAME or not _storable(name):
            raise ValueError(
                f"{what}: {name!r} is not a label name (1..{MAX_NAME} characters, no NUL)"
            )
        limit = MAX_VALUE if what == "labels" else MAX_ANNOTATION
        if len(value) > limit or not _storable(value):
            raise ValueError(f"{what}.{name}: at most {limit} characters and no NUL")
        out[name] = value
    if what == "labels" and not out.get("alertname"):
        raise ValueError("labels: the label alertname is required (and must not be empty)")
    return out
