"""Matchers in Alertmanager's syntax: parsing edge cases, matching, and round trips."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant.server.domains.alerts.errors import ConfigError
from reliant.server.domains.alerts.matchers import (
    MatchType,
    format_matchers,
    matcher,
    parse_list,
    parse_matcher,
    parse_matchers,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="page"', ("severity", "=", "page")),
        ("severity=page", ("severity", "=", "page")),
        ('  severity  !=  "page"  ', ("severity", "!=", "page")),
        ('code=~"5.."', ("code", "=~", "5..")),
        ("code!~4..", ("code", "!~", "4..")),
        ('team=""', ("team", "=", "")),
        ("team=", ("team", "=", "")),
        ('msg="a, b"', ("msg", "=", "a, b")),
        (r'q="She said \"hi\""', ("q", "=", 'She said "hi"')),
        (r'p="C:\\tmp"', ("p", "=", "C:\\tmp")),
        (r'p="a\nb"', ("p", "=", "a\nb")),
        (r'p="a\qb"', ("p", "=", "a\\qb")),
        ('p="ends with backslash\\"', None),
        ('"k8s.pod"="api-0"', ("k8s.pod", "=", "api-0")),
        ("label:with_colon=x", ("label:with_colon", "=", "x")),
        ('x="unicode ✓"', ("x", "=", "unicode ✓")),
    ],
)
def test_parse_matcher_edge_cases(text: str, expected: tuple[str, str, str] | None) -> None:
    """Whitespace, quotes, escapes, empty values and quoted names parse as Alertmanager does."""
    if expected is None:
        with pytest.raises(ValueError, match="closing double quote"):
            parse_matcher(text)
        return
    m = parse_matcher(text)
    assert expected == (m.name, m.type.value, m.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "severity",
        '"unterminated="x"',
        "=value",
        '1abc="x"',
        'a="b"c"',
        'a=b"',
        'a=~"(unclosed"',
        'a=~"(?=lookahead)"',
        r'a=~"(x)\1"',
        'a=~"(?U)ungreedy"',
    ],
)
def test_parse_matcher_refuses_malformed_text(text: str) -> None:
    """Missing operators, stray quotes, bad names and non-RE2 regexes are errors."""
    with pytest.raises(ValueError):
        parse_matcher(text)


def test_parse_matchers_lists_braces_and_trailing_comma() -> None:
    """A list may be braced, separated by commas (not inside quotes), and end with a comma."""
    found = parse_matchers('{foo = "bar", dings != "bums", msg="a,b", }')
    assert [("foo", "=", "bar"), ("dings", "!=", "bums"), ("msg", "=", "a,b")] == [
        (m.name, m.type.value, m.value) for m in found
    ]
    assert [] == parse_matchers("")
    assert [] == parse_matchers("{}")


def test_parse_matchers_refuses_empty_items() -> None:
    """Two commas in a row leave an empty matcher, which is an error."""
    with pytest.raises(ValueError):
        parse_matchers("a=b,,c=d")


def test_regexes_are_anchored() -> None:
    """=~ must match the whole value, as Alertmanager anchors ^(?:…)$."""
    m = parse_matcher('code=~"5.."')
    assert (True, False, False) == (
        m.matches({"code": "503"}),
        m.matches({"code": "1503"}),
        m.matches({"code": "5030"}),
    )


def test_alternation_is_anchored_as_a_whole() -> None:
    """page|ticket matches either word exactly, not a value that merely contains one."""
    m = parse_matcher('severity=~"page|ticket"')
    assert (True, True, False) == (
        m.matches({"severity": "page"}),
        m.matches({"severity": "ticket"}),
        m.matches({"severity": "pager"}),
    )


def test_leading_flags_apply_to_the_whole_regex() -> None:
    """(?i) at the start works as in Go."""
    m = parse_matcher('severity=~"(?i)critical"')
    assert (True, False) == (m.matches({"severity": "CRITICAL"}), m.matches({"severity": "x"}))


def test_missing_labels_count_as_empty() -> None:
    """team="" matches alerts without team; team!="x" too; team=~".+" does not."""
    labels = {"alertname": "Down"}
    assert (True, True, False, True) == (
        parse_matcher('team=""').matches(labels),
        parse_matcher('team!="x"').matches(labels),
        parse_matcher('team=~".+"').matches(labels),
        parse_matcher('team!~".+"').matches(labels),
    )


def test_format_is_alertmanagers() -> None:
    """Values are always quoted and escaped; odd names are quoted too."""
    items = [
        matcher("a", "=", 'x"y'),
        matcher("b", "!~", "\\d+"),
        matcher("k8s.pod", "=", "p\nq"),
    ]
    assert '{a="x\\"y",b!~"\\\\d+","k8s.pod"="p\\nq"}' == format_matchers(items)


def test_parse_list_reports_the_failing_item() -> None:
    """Configuration lists name the index of a bad matcher."""
    with pytest.raises(ConfigError) as caught:
        parse_list(['a="b"', "broken"], ["route", "matchers"])
    assert ("route", "matchers", 1) == caught.value.path


names = st.one_of(
    st.from_regex(r"\A[a-zA-Z_:][a-zA-Z0-9_:]{0,20}\Z"),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1),
)
values = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


@st.composite
def matchers(draw: st.DrawFn) -> tuple[str, MatchType, str]:
    kind = draw(st.sampled_from(list(MatchType)))
    if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
        value = draw(
            st.one_of(
                st.sampled_from(["5..", ".*", "page|ticket", "(?i)crit.*", "[a-z]+", ""]),
                st.text(string.ascii_letters + string.digits + "_-", max_size=10),
            )
        )
    else:
        value = draw(values)
    return draw(names), kind, value


@given(st.lists(matchers(), max_size=5))
def test_format_then_parse_gives_the_same_matchers(items: list[tuple[str, MatchType, str]]) -> None:
    """Any matchers written by format_matchers read back equal (names, operators, values)."""
    built = [matcher(*item) for item in items]
    assert built == parse_matchers(format_matchers(built))


@given(matchers())
def test_each_matcher_round_trips_alone(item: tuple[str, MatchType, str]) -> None:
    """str(m) parses back to m."""
    m = matcher(*item)
    assert m == parse_matcher(str(m))
