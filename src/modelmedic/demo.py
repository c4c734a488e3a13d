"""The end-to-end demo on the bike data: every step of modelmedic in one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from modelmedic.config import Settings


def run_demo(settings: Settings, data: Path | None, out: Console, err: Console) -> None:
    """Load the data, train and register the champion, then print what to run next."""
    from modelmedic.data import load_dataset
    from modelmedic.training import data_source_label, train_and_register

    began = time.perf_counter()
    out.rule("modelmedic demo: UCI Bike Sharing, hourly, 2011-2012")
    with err.status("[1/2] loading and verifying the data…"):
        frame, schema = load_dataset(data, None, settings, progress=False)
    out.print(f"[1/2] data: {len(frame):,} hourly rows, {frame.index.min():%Y-%m-%d} to {frame.index.max():%Y-%m-%d}")
    with err.status("[2/2] training the champion on the reference period…"):
        result = train_and_register(frame, schema, settings=settings, source=data_source_label(data, settings))
    m = result.metrics
    out.print(
        f"[2/2] model: {result.params['estimator']} trained on {result.params['reference_start']}.."
        f"{result.params['reference_end']}; next 4 weeks MAE {m['eval/mae']:.1f} "
        f"(hour-of-day baseline {m['baseline/mae']:.1f}); registered as version {result.version}, alias champion"
    )
    out.rule(f"done in {time.perf_counter() - began:.0f} s")
    out.print("next: [bold]modelmedic ui[/] to browse the runs in MLflow")
