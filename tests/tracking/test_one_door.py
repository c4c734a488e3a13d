"""One door to MLflow: only the tracking package imports ``mlflow`` (counted as
``tools/architecture.py`` counts it: every import, at module level or inside a function)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parents[2] / "tools" / "architecture.py"


def architecture() -> ModuleType:
    """The project's architecture tool, loaded from ``tools/``."""
    spec = importlib.util.spec_from_file_location("architecture", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_only_the_tracking_package_imports_mlflow() -> None:
    tool = architecture()
    importers = tool.importers_of(tool.load_modules(), "mlflow")
    assert importers, "the tool found no importer at all: it no longer reads the sources"
    assert [name for name in importers if not name.startswith("modelmedic.tracking.")] == []
