"""The prediction log's rows shaped like the data set: what ``modelmedic monitor`` reads.

:meth:`~modelmedic.service.prediction_log.PredictionStore.read_frame` selects the rows of
:func:`log_columns`; :func:`log_frame` turns them into the frame every data source gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from modelmedic.schema import DatasetSchema


def log_columns(feature_types: Mapping[str, type]) -> list[str]:
    """The log's columns a frame is made of, in the order :func:`log_frame` expects."""
    return ["created_at", *feature_types, "prediction", "cnt", "model_version", "id"]


def log_frame(rows: Sequence[Sequence[Any]], feature_types: Mapping[str, type], schema: DatasetSchema) -> pd.DataFrame:
    """The rows of :func:`log_columns` as a data set frame.

    Returns:
        A DataFrame with a ``DatetimeIndex`` named ``datetime`` (prediction time, UTC), the
        feature columns (categorical ones as pandas ``category``), the prediction column,
        the target (NaN where no label arrived), ``model_version`` and ``id``.
    """
    # lazy: pandas only for the batch readers of the log, never on the service's hot path
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=log_columns(feature_types))
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("created_at")), name="datetime")
    for name, kind in feature_types.items():
        frame[name] = frame[name].astype("int64" if kind is int else "float64")
    frame["prediction"] = frame["prediction"].astype("float64")
    frame["cnt"] = frame["cnt"].astype("float64")
    frame = frame.rename(columns={"prediction": schema.prediction, "cnt": schema.target})
    for col in schema.categorical:
        if col in frame:
            frame[col] = frame[col].astype("category")
    return frame
