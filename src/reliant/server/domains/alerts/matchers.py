"""Label matchers in Alertmanager's syntax: ``name="value"``, ``!=``, ``=~``, ``!~``.

A port of Alertmanager's classic parser (``pkg/labels/parse.go``): a label name, an operator,
and a value that may be enclosed in double quotes, whitespace around each ignored. Inside the
value ``\\"`` is a quote, ``\\n`` a line feed and ``\\\\`` a backslash; any other backslash is
literal. A list is comma-separated, optionally wrapped in ``{…}``, and may end with a comma:
``{severity="page", service=~"pay.*"}``. As in Alertmanager, a label the alert lacks has the
value ``""`` (so ``team=""`` matches alerts without ``team``), and regular expressions are
anchored at both ends (``=~"5.."`` matches ``500``, not ``1500``).

Label names that are not classic Prometheus names (``[a-zA-Z_:][a-zA-Z0-9_:]*``) are written
in double quotes, as Alertmanager prints them: ``"k8s.pod"="api-0"``.

Regular expressions use Python's engine on Alertmanager's (RE2) syntax: a leading ``(?i)``
and other flags work; constructs RE2 lacks — look-arounds, back-references, conditionals —
are refused, so a configuration valid here is valid in Alertmanager too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reliant.server.domains.alerts.errors import ConfigError

#: Longest matcher text accepted.
MAX_MATCHER = 8192
_WS = "[ \t\n\f\r]"
_MATCHER = re.compile(
    rf'^{_WS}*([a-zA-Z_:][a-zA-Z0-9_:]*|"(?:[^"\\]|\\.)*"){_WS}*(=~|=|!=|!~){_WS}*(.*?){_WS}*\Z',
    re.S,
)
_CLASSIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LEADING_FLAGS = re.compile(r"^\(\?([imsU]+)\)")
#: Python-only regular expression constructs that RE2 (and so Alertmanager) rejects.
_NOT_RE2 = re.compile(r"\(\?(?:=|!|<=|<!|P=|\()|\\[1-9]")


class MatchType(StrEnum):
    """How a matcher compares a label's value."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label; ``str(m)`` reads back through :func:`parse_matcher`."""

    name: str
    type: MatchType
    value: str
    regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False, hash=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label counts as ``""``)."""
        value = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(value) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        name = self.name if _CLASSIC_NAME.match(self.name) else f'"{escape(self.name)}"'
        return f'{name}{self.type.value}"{escape(self.value)}"'


def escape(value: str) -> str:
    """OpenMetrics escaping, as Alertmanager writes matcher values: ``\\``, line feed, ``"``."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def compile_regex(value: str) -> re.Pattern[str]:
    """The anchored pattern of a regex matcher's value.

    Raises:
        ValueError: the value is not a regular expression both RE2 and Python accept.
    """
    if _NOT_RE2.search(value):
        raise ValueError(
            f"{value!r}: look-arounds, back-references and conditionals are not supported "
            "(Alertmanager's RE2 syntax has none)"
        )
    flags = ""
    body = value
    if found := _LEADING_FLAGS.match(value):
        flags, body = found.group(1), value[found.end() :]
        if "U" in flags:
            raise ValueError(f"{value!r}: the ungreedy flag (?U) is not supported")
    try:
        return re.compile(f"(?{flags})(?:{body})" if flags else f"(?:{body})")
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None


def matcher(name: str, type_: MatchType | str, value: str) -> Matcher:
    """A matcher, its regular expression compiled.

    Raises:
        ValueError: an empty name or an invalid regular expression.
    """
    kind = MatchType(type_)
    if not name:
        raise ValueError("a matcher needs a label name")
    regex = compile_regex(value) if kind in (MatchType.REGEX, MatchType.NOT_REGEX) else None
    return Matcher(name, kind, value, regex)


def _unescape(raw: str, text: str, *, quoted: bool) -> str:
    out: list[str] = []
    escaped = False
    expect_quote = quoted
    last = len(raw) - 1
    for i, char in enumerate(raw):
        if escaped:
            escaped = False
            if char == "n":
                out.append("\n")
            elif char in '"\\':
                out.append(char)
            else:  # a spurious escape: the backslash is literal
                out.append("\\" + char)
            continue
        if char == "\\":
            if i < last:
                escaped = True
                continue
            out.append("\\")
        elif char == '"':
            if not expect_quote or i < last:
                raise ValueError(f"{text!r}: unescaped double quote in the value")
            expect_quote = False
        else:
            out.append(char)
    if expect_quote:
        raise ValueError(f"{text!r}: the value's closing double quote is missing")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher, e.g. ``severity="page"`` or ``code =~ 5..``.

    Raises:
        ValueError: saying what is wrong with ``text``.
    """
    if len(text) > MAX_MATCHER:
        raise ValueError(f"a matcher is at most {MAX_MATCHER} characters")
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f'{text!r} is not a matcher: write name="value" (operators =, !=, =~, !~)')
    name, op, raw = found.groups()
    if name.startswith('"'):
        name = _unescape(name[1:], text, quoted=True)
    quoted = raw.startswith('"')
    value = _unescape(raw[1:] if quoted else raw, text, quoted=quoted)
    return matcher(name, op, value)


def split(text: str) -> list[str]:
    """The matcher texts of a comma-separated list (commas inside quotes do not split)."""
    if text.startswith("{"):
        text = text[1:]
    if text.endswith("}"):
        text = text[:-1]
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for char in text:
        if char == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if escaped:
                escaped = False
            else:
                inside = not inside
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    if last := "".join(token).strip():
        tokens.append(last)
    return tokens


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a list such as ``{alertname="Down", severity=~"page|ticket",}``.

    Raises:
        ValueError: naming the matcher that is wrong.
    """
    return [parse_matcher(token) for token in split(text)]


def parse_list(items: object, path: Sequence[str | int]) -> tuple[Matcher, ...]:
    """The matchers of a configuration list of strings, each holding one or more matchers.

    Raises:
        ConfigError: at ``path`` (and the item's index) for anything that is not a matcher.
    """
    if not isinstance(items, list):
        raise ConfigError(path, 'expected a list of matchers like ["severity=\\"page\\""]')
    out: list[Matcher] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ConfigError([*path, index], f"expected a matcher string, got {item!r}")
        try:
            out.extend(parse_matchers(item))
        except ValueError as exc:
            raise ConfigError([*path, index], str(exc)) from None
    return tuple(out)


def sort_key(m: Matcher) -> tuple[str, str, int]:
    """Alertmanager's order of matchers: by name, value, then operator."""
    return (m.name, m.value, list(MatchType).index(m.type))


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """``{a="b",c=~"d"}``: the matchers in Alertmanager's text form."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches ``labels`` (true for no matchers)."""
    return all(m.matches(labels) for m in matchers)
