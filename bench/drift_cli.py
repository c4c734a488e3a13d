"""Start-up cost of ``modelmedic drift --engine fast`` on two Parquet files, against evidently.

Two synthetic Parquet files of 300,000 rows x 12 numerical columns (``bench/drift_scale.py``'s
data) are compared three ways, each in a fresh process as a user runs it:

- ``library``: the fast engine on the files (``FastEngine.fit_parquet`` /
  ``calculate_parquet``), the library's fast path: drift engine and Parquet reading;
- ``fast``: the whole command, ``modelmedic drift REF CUR --engine fast --json``;
- ``evidently``: the same command with ``--engine evidently``.

For each: the wall time (best of ``--repeat`` runs) and the import time, the sum of the
top-level imports that ``python -X importtime`` reports (best run), with the heaviest
packages; then the end-to-end ratio evidently / fast. Wall times suffer when other jobs
share the cores: compare figures taken together.

Run: ``.venv/bin/python bench/drift_cli.py`` (``--rows 100000`` for a smaller run).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from drift_scale import COLUMNS, SEED, synthetic  # noqa: E402  (the same data as the scale bench)

LIBRARY = """
import sys
from modelmedic.drift import DriftOptions, get_engine
options = DriftOptions(numerical=tuple(f"x{i}" for i in range(int(sys.argv[3]))))
result = get_engine("fast", options).fit_parquet(sys.argv[1]).calculate_parquet(sys.argv[2])
print(result.share)
"""
IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (.*)$")
HEAVY = ("pandas", "scipy", "pyarrow", "numpy", "evidently", "typer", "rich", "pydantic_settings")


def command(kind: str, reference: Path, current: Path) -> list[str]:
    """The command line of one way to compare the files."""
    if kind == "library":
        return [sys.executable, "-c", LIBRARY, str(reference), str(current), str(COLUMNS)]
    return [sys.executable, "-m", "modelmedic", "drift", str(reference), str(current), "--engine", kind, "--json"]


def imports(stderr: str) -> tuple[float, dict[str, float]]:
    """Seconds of top-level imports in ``-X importtime`` output, and those of the heavy packages."""
    total, heavy = 0.0, dict.fromkeys(HEAVY, 0.0)
    for line in stderr.splitlines():
        found = IMPORT_LINE.match(line)
        if not found:
            continue
        seconds, name = int(found[1]) / 1e6, found[2].strip()
        if not found[2].startswith(" "):  # a top-level import: its cumulative time
            total += seconds
        if name in heavy:  # a heavy package, wherever it was first imported
            heavy[name] += seconds
    return total, {k: v for k, v in heavy.items() if v}


def measure(kind: str, reference: Path, current: Path, repeat: int) -> dict[str, object]:
    """Best wall time and best import time of ``repeat`` fresh processes.

    Raises:
        RuntimeError: when the command fails.
    """
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT / "src"))}
    walls, imported = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        done = subprocess.run(command(kind, reference, current), capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise RuntimeError(f"{kind} failed: {done.stderr[-2000:]}")
        traced = subprocess.run(
            [sys.executable, "-X", "importtime", *command(kind, reference, current)[1:]],
            capture_output=True,
            text=True,
            env=env,
        )
        imported.append(imports(traced.stderr))
    best = min(imported, key=lambda pair: pair[0])
    return {"wall": min(walls), "imports": best[0], "heavy": best[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="rows of each file (default 300,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast ways (evidently: 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        reference, current = Path(folder) / "reference.parquet", Path(folder) / "current.parquet"
        synthetic(args.rows, SEED, 0.0).to_parquet(reference)
        synthetic(args.rows, SEED + 1, 0.05).to_parquet(current)
        print(f"modelmedic drift on two Parquet files of {args.rows:,} rows x {COLUMNS} columns")
        print(f"{'way':<10} {'wall s':>7} {'imports s':>9}  heaviest imports (s)")
        found = {}
        for kind in ("library", "fast", "evidently"):
            found[kind] = measure(kind, reference, current, 1 if kind == "evidently" else args.repeat)
            heavy = ", ".join(f"{k} {v:.2f}" for k, v in sorted(found[kind]["heavy"].items(), key=lambda kv: -kv[1]))
            print(f"{kind:<10} {found[kind]['wall']:7.2f} {found[kind]['imports']:9.2f}  {heavy}")
    ratio = found["evidently"]["wall"] / found["fast"]["wall"]
    print(f"end to end: evidently / fast = {ratio:.1f}x (command); library fast path {found['library']['wall']:.2f} s")


if __name__ == "__main__":
    main()
