"""Loading what a server process serves: the proved model with its drift reference, and the log.

Used at start-up (:mod:`~modelmedic.service.app`, :mod:`~modelmedic.service.lifecycle`)
and by every model swap (:mod:`~modelmedic.service.model_refresh`).
"""

from __future__ import annotations

from modelmedic.config import Settings
from modelmedic.schema import DatasetSchema
from modelmedic.service.live_reports import LiveReference, load_reference
from modelmedic.service.prediction_log import PredictionStore
from modelmedic.service.predictor import ServedModel, load_served_model
from modelmedic.service.schemas import FEATURE_NAMES


def load_model_and_reference(
    settings: Settings, schema: DatasetSchema, version: str | None = None
) -> tuple[ServedModel, LiveReference]:
    """Load the model to serve (``version`` of the followed alias if given), prove it and fit
    the live drift reference for it.

    Raises:
        ModelNotFoundError: when there is no model to serve.
        UntrustedModelError, ModelRejectedError: when the model is refused.
    """
    served = load_served_model(settings, schema, FEATURE_NAMES, version)
    return served, load_reference(settings, served, schema)


def open_store(settings: Settings) -> PredictionStore:
    """Open and migrate the prediction log named by the settings.

    Raises:
        PredictionStoreError: when the database cannot be reached.
    """
    return PredictionStore.from_settings(settings).open()
