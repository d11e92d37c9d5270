"""The dependency graph: nodes, edges, cycles and neighbourhoods (pure logic, no I/O).

An edge ``a → b`` means service ``a`` declares a dependency on ``b``. A target that is not
in the catalog is still a node, marked undeclared. A cycle is listed once, as the services
along it starting from the alphabetically first (``["a", "b"]`` is ``a → b → a``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: At most this many cycles are listed; ``Graph.cycles_truncated`` says when there were more.
MAX_CYCLES = 100
#: Work budget (edges followed) of the cycle enumeration, which is exponential at worst.
MAX_STEPS = 200_000


@dataclass(frozen=True, slots=True)
class Node:
    """A service in the graph; undeclared ones have no tier or owner."""

    name: str
    tier: int | None
    owner: str | None
    declared: bool


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` depends on ``target``; ``kind`` is ``"hard"`` or ``"soft"``."""

    source: str
    target: str
    kind: str


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes sorted by name, edges by (source, target), and the cycles among them."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    cycles: tuple[tuple[str, ...], ...]
    cycles_truncated: bool = False


def build(
    services: Mapping[str, tuple[int, str]],
    edges: Iterable[Edge],
    *,
    center: str | None = None,
    depth: int = 1,
) -> Graph:
    """The graph of ``services`` (name → (tier, owner)) and their dependency ``edges``.

    Args:
        center: keep only the services within ``depth`` hops of this one, in either
            direction (what it depends on and what depends on it).
        depth: hops from ``center``; 0 keeps ``center`` alone.

    Raises:
        KeyError: ``center`` is neither a service nor the target of a dependency.
    """
    all_edges = sorted(set(edges), key=lambda e: (e.source, e.target))
    names = set(services) | {e.source for e in all_edges} | {e.target for e in all_edges}
    if center is not None:
        if center not in names:
            raise KeyError(center)
        names = neighbourhood(((e.source, e.target) for e in all_edges), center, depth)
        all_edges = [e for e in all_edges if e.source in names and e.target in names]
    nodes = tuple(
        Node(n, services[n][0], services[n][1], True)
        if n in services
        else Node(n, None, None, False)
        for n in sorted(names)
    )
    cycles, truncated = find_cycles((e.source, e.target) for e in all_edges)
    return Graph(nodes, tuple(all_edges), tuple(map(tuple, cycles)), truncated)


def neighbourhood(edges: Iterable[tuple[str, str]], center: str, depth: int) -> set[str]:
    """The nodes at most ``depth`` hops from ``center``, following edges either way."""
    adjacent: dict[str, set[str]] = {}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    seen = {center}
    frontier = deque([(center, 0)])
    while frontier:
        node, hops = frontier.popleft()
        if hops == depth:
            continue
        for other in adjacent.get(node, ()):
            if other not in seen:
                seen.add(other)
                frontier.append((other, hops + 1))
    return seen


def strongly_connected(adjacency: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components (Tarjan's algorithm, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(sorted(adjacency.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(adjacency.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def find_cycles(
    edges: Iterable[tuple[str, str]], *, limit: int = MAX_CYCLES, max_steps: int = MAX_STEPS
) -> tuple[list[list[str]], bool]:
    """Every elementary cycle, each once, starting from its smallest name; sorted.

    Args:
        limit: the most cycles to return.
        max_steps: the most edges to follow while enumerating.

    Returns:
        the cycles, and whether the enumeration stopped early (``limit`` or ``max_steps``).
    """
    adjacency: dict[str, set[str]] = {}
    for a, b in edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set())
    cycles: list[list[str]] = []
    steps = 0
    # Johnson's outer loop: take a component's smallest member, list the cycles through it,
    # then drop it and split the rest into components again (so acyclic leftovers cost
    # nothing, where a plain search from every member would be quadratic on one long cycle).
    pending = strongly_connected(adjacency)
    while pending:
        component = pending.pop()
        start = component[0]
        if len(component) == 1 and start not in adjacency[start]:
            continue  # a lone node without a self-loop is no cycle
        members = set(component)
        path = [start]
        on_path = {start}
        work = [iter(sorted(adjacency[start] & members))]
        while work:
            nxt = next(work[-1], None)
            if nxt is None:
                work.pop()
                on_path.discard(path.pop())
                continue
            steps += 1
            if steps > max_steps:
                return sorted(cycles), True
            if nxt == start:
                if len(cycles) == limit:
                    return sorted(cycles), True
                cycles.append(list(path))
            elif nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                work.append(iter(sorted(adjacency[nxt] & members)))
        members.discard(start)
        rest = {n: adjacency[n] & members for n in members}
        pending.extend(strongly_connected(rest))
    return sorted(cycles), False
