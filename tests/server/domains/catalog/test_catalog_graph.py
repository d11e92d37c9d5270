"""The pure dependency-graph logic: cycles, components, neighbourhoods, building the graph."""

from __future__ import annotations

from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reliant.server.domains.catalog.graph import (
    Edge,
    Node,
    build,
    find_cycles,
    neighbourhood,
    strongly_connected,
)

NAMES = st.sampled_from("abcdef")
EDGE_LISTS = st.lists(st.tuples(NAMES, NAMES), max_size=14)


def _has_cycle(edges: list[tuple[str, str]]) -> bool:
    """Kahn's algorithm: a graph is acyclic iff every node can be peeled off."""
    nodes = {n for e in edges for n in e}
    succ = {n: {b for a, b in edges if a == n} for n in nodes}
    indegree = {n: sum(1 for m in nodes if n in succ[m]) for n in nodes}
    ready = [n for n in nodes if indegree[n] == 0]
    peeled = 0
    while ready:
        n = ready.pop()
        peeled += 1
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    return peeled < len(nodes)


def _brute_force_cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Every elementary cycle, by trying every ordering of every node subset."""
    edge_set = set(edges)
    nodes = sorted({n for e in edges for n in e})
    found = []
    for start in nodes:
        rest = [n for n in nodes if n > start]
        for size in range(len(rest) + 1):
            for middle in permutations(rest, size):
                path = [start, *middle]
                hops = zip(path, [*path[1:], start], strict=True)
                if all(hop in edge_set for hop in hops):
                    found.append(path)
    return sorted(found)


def test_acyclic_graph_has_no_cycles() -> None:
    """A chain and a diamond hold no cycle."""
    edges = [("a", "b"), ("b", "c"), ("a", "d"), ("d", "c")]
    assert ([], False) == find_cycles(edges)


def test_cycles_are_listed_once_from_their_smallest_member() -> None:
    """Each cycle appears once, rotated to start at its alphabetically first service."""
    edges = [("c", "a"), ("a", "b"), ("b", "c"), ("b", "a"), ("d", "d")]
    assert ([["a", "b"], ["a", "b", "c"], ["d"]], False) == find_cycles(edges)


def test_cycle_listing_stops_at_the_limit() -> None:
    """Past `limit` cycles the listing stops and says so; exactly `limit` is not truncated."""
    complete = [(a, b) for a in "abcde" for b in "abcde" if a != b]
    cycles, truncated = find_cycles(complete, limit=5)
    assert (5, True) == (len(cycles), truncated)
    two = [("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")]
    assert ([["a", "b"], ["c", "d"]], False) == find_cycles(two, limit=2)


def test_cycle_listing_stops_at_the_work_budget() -> None:
    """A dense graph stops after max_steps edges followed, marked truncated."""
    complete = [(a, b) for a in "abcdefghij" for b in "abcdefghij" if a != b]
    _, truncated = find_cycles(complete, limit=10**9, max_steps=1000)
    assert truncated


def test_long_cycle_does_not_recurse() -> None:
    """A cycle through 5,000 services is found without hitting the recursion limit."""
    names = [f"s{i:05d}" for i in range(5000)]
    edges = list(zip(names, [*names[1:], names[0]], strict=True))
    cycles, truncated = find_cycles(edges)
    assert ([names], False) == (cycles, truncated)


def test_strongly_connected_components() -> None:
    """Tarjan's components: mutual reachability, singletons included."""
    adjacency = {"a": ["b"], "b": ["a", "c"], "c": ["d"], "d": ["c"], "e": []}
    assert [["a", "b"], ["c", "d"], ["e"]] == sorted(strongly_connected(adjacency))


@settings(max_examples=300, deadline=None)
@given(EDGE_LISTS)
def test_cycles_match_brute_force(edges: list[tuple[str, str]]) -> None:
    """On small graphs the listed cycles are exactly the elementary cycles."""
    cycles, truncated = find_cycles(edges, limit=10**6)
    assert (_brute_force_cycles(edges), False) == (cycles, truncated)


@settings(max_examples=300, deadline=None)
@given(EDGE_LISTS)
def test_a_cycle_is_listed_iff_the_graph_is_cyclic(edges: list[tuple[str, str]]) -> None:
    """find_cycles finds something exactly when a topological order does not exist."""
    cycles, _ = find_cycles(edges)
    assert _has_cycle(edges) == bool(cycles)


@settings(max_examples=200, deadline=None)
@given(EDGE_LISTS, NAMES, st.integers(0, 4))
def test_neighbourhood_is_within_depth_hops(
    edges: list[tuple[str, str]], center: str, depth: int
) -> None:
    """The neighbourhood is the centre plus every node reachable in ≤ depth undirected hops."""
    reached = {center}
    for _ in range(depth):
        reached |= {b for a, b in edges if a in reached} | {a for a, b in edges if b in reached}
    assert reached == neighbourhood(edges, center, depth)


def test_build_marks_undeclared_targets() -> None:
    """A dependency on a service missing from the catalog is a node with declared=False."""
    graph = build({"api": (1, "team")}, [Edge("api", "db", "hard")])
    assert (
        Node("api", 1, "team", True),
        Node("db", None, None, False),
    ) == graph.nodes
    assert ((Edge("api", "db", "hard"),), ()) == (graph.edges, graph.cycles)


def test_build_neighbourhood_keeps_edges_inside_it() -> None:
    """Around a centre, only nodes within depth and the edges between them remain."""
    services = dict.fromkeys(["a", "b", "c", "d"], (3, "t"))
    edges = [Edge("a", "b", "hard"), Edge("b", "c", "soft"), Edge("c", "d", "hard")]
    graph = build(services, edges, center="b", depth=1)
    assert (["a", "b", "c"], edges[:2]) == ([n.name for n in graph.nodes], list(graph.edges))


def test_build_neighbourhood_of_an_unknown_centre_raises() -> None:
    """A centre that is no node is a KeyError."""
    with pytest.raises(KeyError):
        build({"a": (3, "t")}, [], center="zz")
