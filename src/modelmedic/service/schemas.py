"""Request and response bodies of the prediction service (pydantic models).

The bike features carry their UCI names and ranges; unknown fields, missing fields, wrong
types (strict: ``"3"`` is not an integer) and out-of-range values answer 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from modelmedic.schema import DatasetSchema, builtin_schema

_STRICT = ConfigDict(extra="forbid", strict=True)


# 8 am on Wednesday 5 January 2011, as in hour.csv: the documented example of a request.
EXAMPLE_INSTANCE: dict[str, int | float] = dict(
    season=1, yr=0, mnth=1, hr=8, holiday=0, weekday=3, workingday=1, weathersit=1,
    temp=0.24, atemp=0.2879, hum=0.81, windspeed=0.0,
)  # fmt: skip


class BikeFeatures(BaseModel):
    """One hour of the UCI Bike Sharing data: the inputs of the demand model."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE_INSTANCE]})

    season: int = Field(ge=1, le=4, description="1 winter, 2 spring, 3 summer, 4 fall.")
    yr: int = Field(ge=0, le=1, description="Year index: 0 for 2011, 1 for 2012.")
    mnth: int = Field(ge=1, le=12, description="Month, 1 to 12.")
    hr: int = Field(ge=0, le=23, description="Hour of the day, 0 to 23.")
    holiday: int = Field(ge=0, le=1, description="1 on a public holiday.")
    weekday: int = Field(ge=0, le=6, description="Day of the week, 0 (Sunday) to 6.")
    workingday: int = Field(ge=0, le=1, description="1 when neither weekend nor holiday.")
    weathersit: int = Field(ge=1, le=4, description="1 clear … 4 heavy rain, snow, fog.")
    temp: float = Field(ge=0, le=1, allow_inf_nan=False, description="Temperature, normalised.")
    atemp: float = Field(ge=0, le=1, allow_inf_nan=False, description="Felt temperature, normalised.")
    hum: float = Field(ge=0, le=1, allow_inf_nan=False, description="Humidity, normalised.")
    windspeed: float = Field(ge=0, le=1, allow_inf_nan=False, description="Wind speed, normalised.")


FEATURE_NAMES: tuple[str, ...] = tuple(BikeFeatures.model_fields)
SERVICE_SCHEMA = "bike-hour"


def service_schema() -> DatasetSchema:
    """The data set description of the service's requests (the hourly bike data)."""
    return builtin_schema(SERVICE_SCHEMA)


def feature_column_types() -> dict[str, type]:
    """The Python type (``int`` or ``float``) of each feature, in request order."""
    return {name: field.annotation for name, field in BikeFeatures.model_fields.items()}  # type: ignore[misc]


def _body_kind(value: Any) -> str:
    return BATCH_TAG if isinstance(value, dict) and "instances" in value else INSTANCE_TAG


INSTANCE_TAG, BATCH_TAG = "instance", "batch"


def predict_request_model(max_batch: int) -> Any:
    """Return the ``POST /predict`` body type: one object or ``{"instances": [...]}``.

    The batch bound is part of the model (and so of the OpenAPI schema): a longer list
    answers 422 naming ``instances``. The body's shape picks the branch, so errors name
    the fields of that branch only (tagged ``instance`` or ``batch`` in ``loc``).
    """
    batch = create_model(
        "PredictBatch",
        __config__=_STRICT,
        instances=(
            Annotated[list[BikeFeatures], Field(min_length=1, max_length=max_batch)],
            Field(description=f"1 to {max_batch} instances, predicted in order."),
        ),
    )
    return Annotated[
        Annotated[BikeFeatures, Tag(INSTANCE_TAG)] | Annotated[batch, Tag(BATCH_TAG)],
        Discriminator(_body_kind),
    ]


class Prediction(BaseModel):
    """One prediction: its id (quote it in ``/feedback``) and the predicted count."""

    id: str
    cnt: float


class PredictResponse(BaseModel):
    """The predictions, in the order of the instances, and the model version that made them."""

    predictions: list[Prediction]
    model_version: str


class Feedback(BaseModel):
    """The actual count observed for an earlier prediction."""

    model_config = _STRICT

    id: str = Field(min_length=1, max_length=64)
    cnt: float = Field(ge=0, allow_inf_nan=False, description="The actual count of rentals.")


def feedback_request_model(max_batch: int) -> Any:
    """Return the ``POST /feedback`` body type: one ``{id, cnt}`` or a list of 1 to ``max_batch``."""
    many = Annotated[list[Feedback], Field(min_length=1, max_length=max_batch)]
    return Annotated[
        Annotated[Feedback, Tag("label")] | Annotated[many, Tag("labels")],
        Discriminator(lambda value: "labels" if isinstance(value, list) else "label"),
    ]


class FeedbackResponse(BaseModel):
    """How many labels were stored, the ids the log does not know (nothing stored for them)
    and the ids whose earlier, different label this one corrected (the earlier one is kept)."""

    accepted: int
    unknown: list[str]
    corrected: list[str] = Field(
        default_factory=list,
        description="Ids labelled before with another value: the new label is used, the earlier one "
        "is kept with its time in the log's label_corrections table.",
    )


class ModelDescription(BaseModel):
    """The model being served."""

    uri: str
    version: str
    run_id: str | None = None
    training_start: str | None = None
    training_end: str | None = None
    estimator: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    loaded_at: datetime


class ReloadResponse(BaseModel):
    """The outcome of ``POST /admin/reload``."""

    previous_version: str
    model_version: str
    uri: str
    workers: dict[str, str] = Field(
        default_factory=dict, description="The version each worker of this server serves, by process id."
    )
    complete: bool = Field(default=True, description="Whether every worker serves it (waited for a bounded time).")


class Readiness(BaseModel):
    """Whether the service can answer predictions."""

    ready: bool
    model_loaded: bool
    store_reachable: bool
    model_version: str | None = None


class PerformanceReport(BaseModel):
    """Regression metrics of the labelled live predictions since a time."""

    since: datetime | None
    rows: int
    labelled: int
    metrics: dict[str, float | None]
    model_versions: list[str]


class DriftReport(BaseModel):
    """Drift of the live traffic against the model's reference profile."""

    since: datetime | None
    rows: int
    engine: str
    reference: str
    dataset: dict[str, Any]
    columns: dict[str, dict[str, Any]]


class ErrorBody(BaseModel):
    """Every error answer: a message that tells what to do, never a stack trace."""

    detail: str
