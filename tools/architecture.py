"""Measure the package's large-scale shape: import cycles, MLflow's doors, module and function sizes.

Every import counts, at module level or inside a function (a lazy import still couples two
modules). Run from the repository root::

    python tools/architecture.py            # the figures
    python tools/architecture.py --cycles   # and every cycle, shortest first

Prints one figure a line; exits 0 (the figures are read by people and by the architecture test).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "modelmedic"
SRC = Path(__file__).resolve().parents[1] / "src"
MODULE_LIMIT = 400


@dataclass(frozen=True)
class Module:
    """One module of the package: its dotted name, file, lines and the imports it makes."""

    name: str
    path: Path
    lines: int
    imports: frozenset[str]
    tree: ast.Module


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_names(tree: ast.Module, name: str, is_package: bool) -> Iterator[str]:
    """Every module name imported anywhere in ``tree`` (relative imports resolved)."""
    base = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                module = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def load_modules(src: Path = SRC) -> dict[str, Module]:
    """Parse every module of the package under ``src``."""
    modules = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        name = module_name(path, src)
        text = path.read_text()
        tree = ast.parse(text)
        imports = frozenset(imported_names(tree, name, path.name == "__init__.py"))
        modules[name] = Module(name, path, len(text.splitlines()), imports, tree)
    return modules


def internal_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Edges between the package's modules (an import of ``a.b.c`` where only ``a.b`` is a
    module counts as an edge to ``a.b``; a package's ``__init__`` is not an edge from its
    own submodules' imports of siblings)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in modules.items():
        for target in module.imports:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return sorted(found, key=len)


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph seen from above: each module folded into its top-level part
    (``modelmedic.service.app`` into ``modelmedic.service``)."""

    def top(name: str) -> str:
        return ".".join(name.split(".")[:2])

    folded: dict[str, set[str]] = {top(name): set() for name in graph}
    for name, targets in graph.items():
        folded[top(name)] |= {top(t) for t in targets if top(t) != top(name) and top(t) != PACKAGE}
    return folded


def importers_of(modules: dict[str, Module], library: str) -> list[str]:
    """The modules that import ``library`` (or any of its submodules)."""
    return sorted(
        name
        for name, module in modules.items()
        if any(i == library or i.startswith(library + ".") for i in module.imports)
    )


def longest_function(modules: dict[str, Module]) -> tuple[int, str]:
    """(lines, "module.function") of the longest function or method."""
    best = (0, "")
    for name, module in modules.items():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                best = max(best, (length, f"{name}.{node.name}"))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", action="store_true", help="list every cycle")
    args = parser.parse_args(argv)
    modules = load_modules()
    found = cycles(internal_graph(modules))
    large = sorted((m.lines, n) for n, m in modules.items() if m.lines > MODULE_LIMIT)
    length, where = longest_function(modules)
    print(f"modules: {len(modules)}, lines: {sum(m.lines for m in modules.values())}")
    print(f"modules over {MODULE_LIMIT} lines: {len(large)}" + "".join(f"\n  {n} ({lines})" for lines, n in large))
    print(f"longest function: {where} ({length} lines)")
    print(f"import cycles (strongly connected groups): {len(found)}")
    if args.cycles:
        for component in found:
            print("  " + " <-> ".join(component))
    above = cycles(package_graph(internal_graph(modules)))
    print(f"import cycles between top-level packages: {len(above)}")
    if args.cycles:
        for component in above:
            print("  " + " <-> ".join(component))
    mlflow = importers_of(modules, "mlflow")
    print(f"modules importing mlflow: {len(mlflow)}" + "".join(f"\n  {n}" for n in mlflow))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
