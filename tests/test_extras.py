"""Commands that need ``modelmedic[monitor]`` say so in one line when it is not installed.

Each command runs in a child process in which the extra's packages cannot be imported
(``sys.modules[name] = None``: ``import`` raises ``ModuleNotFoundError`` and
``importlib.util.find_spec`` answers ``None``, as without the packages).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelmedic.errors import MissingExtraError
from modelmedic.extras import require, require_installed

MONITOR_PACKAGES = ("evidently", "plotly", "matplotlib", "pyarrow", "flask")
WITHOUT_MONITOR = (
    "import sys\n"
    f"for name in {MONITOR_PACKAGES!r}:\n"
    "    sys.modules[name] = None\n"
    "from modelmedic.cli import main\n"
    "sys.argv = ['modelmedic', *sys.argv[1:]]\n"
    "main()\n"
)


def run_without_monitor(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MODELMEDIC_")) and k != "DATABASE_URL"}
    env["MODELMEDIC_HOME"] = str(home)
    env["MODELMEDIC_DATA_DIR"] = os.environ.get("MODELMEDIC_DATA_DIR", "")
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_MONITOR, *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_require_imports_or_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "plotly" or n.startswith("plotly.")] or ["plotly"]:
        monkeypatch.setitem(sys.modules, name, None)  # also when an earlier test imported it

    assert require("json").dumps([1]) == "[1]"
    with pytest.raises(
        MissingExtraError, match=r"^plotly \(charts\) is not installed: pip install 'modelmedic\[monitor\]'$"
    ):
        require("plotly.graph_objects", purpose="plotly (charts)")
    with pytest.raises(
        MissingExtraError, match=r"^x needs plotly, not installed: pip install 'modelmedic\[monitor\]'$"
    ):
        require_installed("json", "plotly", purpose="x")


@pytest.mark.parametrize(
    "args",
    [
        ["monitor", "--html", "none"],
        ["backtest", "-s", "never"],
        ["ui", "--port", "1"],
        ["drift", "{data}/hour.csv", "{data}/hour.csv", "--engine", "evidently"],
    ],
    ids=["monitor", "backtest", "ui", "drift-evidently"],
)
def test_commands_needing_the_monitor_extra_say_so_in_one_line(args: list[str], bike_dir: Path, tmp_path: Path) -> None:
    done = run_without_monitor([a.format(data=bike_dir) for a in args], tmp_path / "home")

    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(lines) == 1 and "pip install 'modelmedic[monitor]'" in lines[0], done.stderr[-2000:]
