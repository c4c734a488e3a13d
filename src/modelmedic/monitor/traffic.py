"""Logged production traffic as monitored windows after the reference period."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmedic.errors import DataError
from modelmedic.schema import DatasetSchema
from modelmedic.windows import Window, day_end, make_windows, select_period

if TYPE_CHECKING:
    import pandas as pd


def with_live_traffic(
    frame: pd.DataFrame,
    log: pd.DataFrame,
    schema: DatasetSchema,
    *,
    reference_start: str,
    reference_end: str,
    window: str = "1W",
) -> tuple[pd.DataFrame, list[Window]]:
    """Put logged production traffic after the reference period, ready for :func:`run`.

    ``log`` is the service's prediction log as a frame (``modelmedic.service.prediction_log.
    read_prediction_log``): its rows become the monitored windows, the reference period
    of ``frame`` stays the reference. Unlabelled rows keep a missing target, so
    performance is computed where labels exist only.

    Returns:
        The combined frame and the windows covering the logged traffic.

    Raises:
        DataError: when the log holds no prediction.
    """
    # lazy: pandas takes half a second to import; loaded where frames are handled
    import pandas as pd

    if log.empty:
        raise DataError("the prediction log holds no prediction yet: send some to POST /predict first")
    reference = select_period(frame, reference_start, reference_end)
    first, last = log.index.min().normalize(), log.index.max().normalize() + pd.Timedelta(days=1)
    if first < day_end(reference_end):
        raise DataError("the prediction log overlaps the reference period: choose an earlier --reference-end")
    columns = [c for c in reference.columns if c in log.columns or c == schema.target]
    traffic = log.reindex(columns=columns)
    combined = pd.concat([reference[columns], traffic]).sort_index(kind="stable")
    for col in schema.categorical:
        combined[col] = combined[col].astype("category")
    return combined, make_windows(first, last, window)
