"""The layout, kept: no import cycles, faces ask a Session and read typed events, the store stands on its own.

The import graph is read from the source with ``ast``: every ``import`` and ``from … import`` anywhere in a module
counts, inside functions and under ``TYPE_CHECKING`` too (a cycle that only type checking or a deferred import
hides is still two modules that cannot be understood one without the other). An import names the module it loads
(``from salon.store import database`` → ``salon.store.database``; ``from salon.store import Store`` →
``salon.store``, the package's ``__init__``); the parent packages Python also runs on the way are not counted, or
every module would sit in a cycle with its package's re-exports.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
PACKAGE = APP / "salon"



@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({module_path(self.source)}:{self.line})"


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name; a package is its ``__init__.py``."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(APP).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def module_path(name: str) -> str:
    return str(MODULES[name].relative_to(APP.parent))


def _existing(name: str) -> str:
    """The module an import of ``name`` loads last: ``name`` itself, or the package that holds the attribute."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "salon" or alias.name.startswith("salon."):
                    yield _existing(alias.name), node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if base != "salon" and not base.startswith("salon."):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in MODULES else _existing(base)), node.lineno


def import_graph() -> dict[str, list[Edge]]:
    """module → its imports of other salon modules (the first line of each)."""
    graph: dict[str, list[Edge]] = {}
    for name, path in MODULES.items():
        seen: dict[str, Edge] = {}
        for target, line in _imports(name, path):
            if target != name and target not in seen:
                seen[target] = Edge(name, target, line)
        graph[name] = list(seen.values())
    return graph


GRAPH = import_graph()


def strongly_connected(nodes: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's strongly connected components with more than one node (each holds at least one cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(nodes.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def a_cycle(component: frozenset[str], nodes: Mapping[str, set[str]]) -> list[str]:
    """One shortest cycle through the component's first node (breadth first), as a list that ends where it began."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for other in sorted(nodes[node] & component):
                if other == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if other not in came_from:
                    came_from[other] = node
                    following.append(other)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


@dataclass(frozen=True, slots=True)
class Level:
    """One folder seen from inside: each of its own modules is a unit, each subfolder one unit, whole.

    Seen from the root, ``salon.tui`` is one unit (whatever its screens and widgets import among themselves) beside
    ``salon.api`` and ``salon.events``; seen from ``salon.tui``, ``screens`` and ``widgets`` are two. A cycle of
    units at any level is a cycle between packages. The root's own modules are units of their own because the root
    holds both the public surface (``api``, which uses every package) and the core values (``events``, which every
    package uses).
    """

    folder: str

    def unit(self, module: str) -> str | None:
        if module == self.folder:
            return module
        if not module.startswith(self.folder + "."):
            return None
        return f"{self.folder}.{module[len(self.folder) + 1:].split('.')[0]}"

    def graph(self) -> tuple[dict[str, set[str]], dict[tuple[str, str], list[Edge]]]:
        units: dict[str, set[str]] = {}
        why: dict[tuple[str, str], list[Edge]] = {}
        for module, edges in GRAPH.items():
            source = self.unit(module)
            if source is None:
                continue
            units.setdefault(source, set())
            for edge in edges:
                target = self.unit(edge.target)
                if target is None or target == source:
                    continue
                units[source].add(target)
                units.setdefault(target, set())
                why.setdefault((source, target), []).append(edge)
        return units, why


def folders() -> list[str]:
    return sorted({name for name, path in MODULES.items() if path.name == "__init__.py"})


def module_cycles() -> dict[frozenset[str], str]:
    nodes = {name: {edge.target for edge in edges} for name, edges in GRAPH.items()}
    found = {}
    for component in strongly_connected(nodes):
        cycle = a_cycle(component, nodes)
        steps = [next(e for e in GRAPH[a] if e.target == b) for a, b in pairwise(cycle)]
        found[component] = f"{' -> '.join(cycle)}\n" + "".join(f"    {step}\n" for step in steps)
    return found


def package_cycles() -> dict[tuple[str, frozenset[str]], str]:
    found = {}
    for folder in folders():
        units, why = Level(folder).graph()
        for component in strongly_connected(units):
            if not any(unit != folder and MODULES[unit].name == "__init__.py" for unit in component):
                continue  # modules only, no subfolder: test_no_import_cycle_between_modules names it
            cycle = a_cycle(component, units)
            lines = [f"in {folder}: {' -> '.join(cycle)}"]
            for a, b in pairwise(cycle):
                lines += [f"    {edge}" for edge in why[a, b]]
            found[folder, component] = "\n".join(lines)
    return found


def test_no_import_cycle_between_modules() -> None:
    found = module_cycles()
    assert list(found.values()) == [], "import cycles:\n" + "\n".join(found.values())


def test_no_import_cycle_between_packages() -> None:
    found = package_cycles()
    assert list(found.values()) == [], "import cycles between packages:\n" + "\n".join(found.values())


def test_the_graph_sees_every_kind_of_import() -> None:
    # Proof that the reader counts what a line-based check would miss, on imports the code has today.
    def targets(module: str) -> set[str]:
        return {edge.target for edge in GRAPH[module]}

    assert "salon.api" in targets("salon")  # under TYPE_CHECKING
    assert "salon.cli.dispatch" in targets("salon.cli")  # inside a function
    assert "salon.store.database" in targets("salon.store")  # a submodule named by `from package import …`
    nodes = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(nodes) == [frozenset("abc")]
    assert a_cycle(frozenset("abc"), nodes) == ["a", "b", "c", "a"]


def test_the_store_stands_on_its_own() -> None:
    # The store keeps what faces give it; it never reaches for a provider, the run or the user's config itself.
    forbidden = ("salon.providers", "salon.runner", "salon.config")
    found = {(edge.source, edge.target): edge for name, edges in GRAPH.items()
             if name == "salon.store" or name.startswith("salon.store.")
             for edge in edges if edge.target.startswith(forbidden)}
    assert [str(edge) for _, edge in sorted(found.items())] == []


def faces() -> list[Path]:
    return [*sorted((PACKAGE / "tui").rglob("*.py")), *sorted((PACKAGE / "serve").rglob("*.py")),
            *sorted((PACKAGE / "cli").rglob("*.py"))]


def test_no_face_imports_a_provider():
    # A new provider (gguf next) must need no change in the TUI or the CLI: they ask the Session instead.
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for path in faces()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if "salon.providers" in line]
    assert offenders == []


def test_no_face_matches_errors_by_class_name():
    # Errors travel as types (RunFailed.exception); a renamed class must break loudly, not fall through a string.
    by_name = re.compile(r"error_type\s*(==|!=|in\b)|\"(ServerUnreachable|ModelNotFound|StreamInterrupted)\"")
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for path in faces()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if by_name.search(line)]
    assert offenders == []
