"""Label-free performance estimation: Direct Loss Estimation (DLE), as in NannyML.

A second model, the *loss estimator*, learns on labelled rows the monitored model did not
train on which absolute error the model makes for given features and a given prediction
(``features + prediction -> |error|``). On a later window without labels it estimates each
row's absolute error, and their mean estimates the window's MAE before any label arrives.

What it can see: the model moving into regions of the feature space where it was found to
be bad (covariate shift), and larger errors where the prediction is larger. What it cannot
see: concept drift, a change of the target given the features (the bike data's growth
from 2011 to 2012), because nothing in the features or the prediction tells it apart.

Example:
    >>> estimator = LossEstimator(schema).fit(held_out, model_predictions, held_out[schema.target])
    >>> estimator.estimate(window, predictions).mean()   # the window's estimated MAE
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from modelmedic.errors import DataError
from modelmedic.windows import day_end

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelmedic.schema import DatasetSchema

# A small, fast gradient boosting model: the loss is noisier than the target, and the
# estimator is fitted once per deployed model in a backtest.
LOSS_ESTIMATOR_PARAMS: dict[str, Any] = {
    "max_iter": 50,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "early_stopping": False,
}
MIN_ROWS = 24  # fewer labelled rows than a day of hours: no estimator


class LossEstimator:
    """Direct Loss Estimation: learns ``features + prediction -> |error|`` of one model.

    Args:
        schema: The data set's column roles (its features are the estimator's inputs).
        seed: Random state of the estimator.
    """

    def __init__(self, schema: DatasetSchema, seed: int = 42) -> None:
        self.schema = schema
        self.seed = seed
        self._model: Any = None
        self.fitted_mae = float("nan")

    def _inputs(self, frame: pd.DataFrame, predictions: np.ndarray) -> pd.DataFrame:
        # lazy: modelmedic.model imports numpy
        from modelmedic.model import feature_frame

        inputs = feature_frame(frame, self.schema)
        inputs["__prediction__"] = predictions
        return inputs

    def fit(self, frame: pd.DataFrame, predictions: np.ndarray, actual: np.ndarray | pd.Series) -> LossEstimator:
        """Learn the absolute error of ``predictions`` against ``actual`` on ``frame``'s features.

        Only rows with a known target count.

        Raises:
            DataError: with fewer than :data:`MIN_ROWS` labelled rows.
        """
        # lazy: numpy only where arrays are computed
        import numpy as np

        # lazy: modelmedic.model imports numpy
        from modelmedic.model import build_model

        actual = np.asarray(actual, dtype=float)
        predictions = np.asarray(predictions, dtype=float)
        known = ~np.isnan(actual)
        if int(known.sum()) < MIN_ROWS:
            raise DataError(f"too few labelled rows ({int(known.sum())}) to fit a loss estimator; need {MIN_ROWS}")
        loss = np.abs(predictions[known] - actual[known])
        inputs = self._inputs(frame.loc[known], predictions[known])
        schema = replace(self.schema, numerical=(*self.schema.numerical, "__prediction__"))
        self._model = build_model("hgb", schema, self.seed, **LOSS_ESTIMATOR_PARAMS)
        self._model.fit(inputs, loss)
        self.fitted_mae = float(loss.mean())
        return self

    def estimate(self, frame: pd.DataFrame, predictions: np.ndarray) -> np.ndarray:
        """The estimated absolute error of each row of ``frame`` (never below zero).

        Raises:
            DataError: when the estimator was not fitted.
        """
        # lazy: numpy only where arrays are computed
        import numpy as np

        if self._model is None:
            raise DataError("the loss estimator is not fitted: call fit() on labelled rows first")
        if len(frame) == 0:
            return np.empty(0, dtype=float)
        values = self._model.predict(self._inputs(frame, np.asarray(predictions, dtype=float)))
        return np.clip(np.asarray(values, dtype=float), 0.0, None)


ESTIMATE_COLUMN = "__estimated_abs_error__"


def add_loss_estimates(
    data: pd.DataFrame, schema: DatasetSchema, reference_end: str, weeks: int, seed: int = 42
) -> str:
    """Add each row's estimated absolute error to ``data`` (:data:`ESTIMATE_COLUMN`), in place.

    The estimator is fitted, as NannyML does, on labelled rows the model did not train on:
    the ``weeks`` after the reference period (the rows the monitor's reference error comes
    from; estimates there are in-sample). ``data`` holds the features, the target and the
    model's predictions (:func:`modelmedic.monitor.monitored_frame`).

    Returns:
        Where the estimator learned, for the report; or why there is no estimate (then no column).
    """
    # lazy: pandas costs ~0.4 s to import
    import pandas as pd

    if schema.target not in data.columns:
        return "no estimate: the data have no target column to learn errors from"
    begin = day_end(reference_end)
    held = data.iloc[data.index.searchsorted(begin) : data.index.searchsorted(begin + pd.Timedelta(weeks=weeks))]
    try:
        estimator = LossEstimator(schema, seed).fit(held, held[schema.prediction].to_numpy(), held[schema.target])
    except DataError as exc:
        return f"no estimate: {exc}"
    data[ESTIMATE_COLUMN] = estimator.estimate(data, data[schema.prediction].to_numpy())
    return f"Direct Loss Estimation fitted on {weeks} labelled weeks after the reference, {begin:%Y-%m-%d} on"
