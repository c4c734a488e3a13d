"""The package's large-scale shape, measured by ``tools/architecture.py``: no import cycles
(imports inside functions count), one door to MLflow, lazy imports marked as such."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "architecture.py"
LAZY_MARK = "# lazy:"


@pytest.fixture(scope="module")
def architecture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module
    spec.loader.exec_module(module)
    graph = module.internal_graph(module.load_modules())
    # the tool still reads the sources: a known import is an edge
    assert "modelmedic.training" in graph["modelmedic.cli.train"] or any(
        target.startswith("modelmedic.training") for target in graph["modelmedic.cli.train"]
    ), graph["modelmedic.cli.train"]
    return module


def test_no_import_cycle_between_modules(architecture: ModuleType) -> None:
    modules = architecture.load_modules()
    assert architecture.cycles(architecture.internal_graph(modules)) == []


def test_no_import_cycle_between_packages(architecture: ModuleType) -> None:
    graph = architecture.internal_graph(architecture.load_modules())
    assert architecture.cycles(architecture.package_graph(graph)) == []


def test_only_the_tracking_package_imports_mlflow(architecture: ModuleType) -> None:
    importers = architecture.importers_of(architecture.load_modules(), "mlflow")
    assert importers and all(name.startswith("modelmedic.tracking") for name in importers), importers


def test_every_import_inside_a_function_says_why_it_is_lazy(architecture: ModuleType) -> None:
    """A lazy import keeps a heavy library off start-up; marking it keeps a reader from
    mistaking it for one that hides a cycle (the cycle tests above count it either way)."""
    unmarked = []
    for name, module in architecture.load_modules().items():
        lines = module.path.read_text().splitlines()
        for function in ast.walk(module.tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom) and not _in_marked_block(lines, node.lineno):
                    unmarked.append(f"{name}:{node.lineno}")
    assert unmarked == []


def _in_marked_block(lines: list[str], lineno: int) -> bool:
    """Consecutive import lines (blank lines between import groups included) share the mark
    above the first of them."""
    index = lineno - 2
    while index >= 0 and (not lines[index].strip() or lines[index].strip().startswith(("import ", "from "))):
        index -= 1
    return index >= 0 and lines[index].strip().startswith(LAZY_MARK)
