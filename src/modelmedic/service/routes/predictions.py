"""``POST /predict`` and ``POST /feedback``: predictions in, labels back, all logged."""

import asyncio
import datetime as dt
import time
import uuid
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Depends, HTTPException, status
from fastapi.responses import JSONResponse

from modelmedic.service.prediction_log import PredictionStoreTimeout
from modelmedic.service.schemas import (
    EXAMPLE_INSTANCE,
    FEATURE_NAMES,
    BikeFeatures,
    ErrorBody,
    Feedback,
    FeedbackResponse,
    PredictResponse,
    feedback_request_model,
    predict_request_model,
)
from modelmedic.service.security import require_token
from modelmedic.service.state import ServiceState, get_state

UNAVAILABLE = {
    503: {"model": ErrorBody, "description": "No model loaded, or the prediction log unavailable: nothing stored."}
}
LABEL_MAX_FACTOR = 100  # the default plausible maximum: this times the reference's largest target
LABEL_MAX_WITHOUT_REFERENCE = 1e6


def label_limit(state: ServiceState) -> float:
    """The largest label ``/feedback`` accepts: ``MODELMEDIC_LABEL_MAX``, else 100 times the
    reference's largest target, else (no reference known) a million."""
    if state.settings.label_max is not None:
        return state.settings.label_max
    reference = state.reference
    if reference is not None and reference.target_max is not None:
        return LABEL_MAX_FACTOR * reference.target_max
    return LABEL_MAX_WITHOUT_REFERENCE


def predictions_router(max_batch: int) -> APIRouter:
    """The prediction and feedback routes, with bodies bounded by ``max_batch`` instances."""
    router = APIRouter(tags=["predictions"])
    predict_body = predict_request_model(max_batch)
    feedback_body = feedback_request_model(max_batch)

    @router.post("/predict", response_model=PredictResponse, responses=UNAVAILABLE)
    async def predict(
        body: Annotated[predict_body, Body(openapi_examples=_PREDICT_EXAMPLES)],
        state: ServiceState = Depends(get_state),
    ) -> Any:
        """Predict the hourly rental count of one instance or a batch of ``instances``.

        Every prediction is logged (and on disk) before the answer; quote its ``id`` in
        ``POST /feedback`` when the actual count is known.
        """
        served = state.served
        if served is None or state.writer is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model loaded yet")
        instances: list[BikeFeatures] = [body] if isinstance(body, BikeFeatures) else body.instances
        values = [[getattr(item, name) for name in FEATURE_NAMES] for item in instances]
        predicted = served.predict(np.asarray(values, dtype=float))
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows, answers = [], []
        for row_values, cnt in zip(values, predicted.tolist(), strict=True):
            prediction_id = uuid.uuid4().hex
            rows.append(
                {
                    "id": prediction_id,
                    "created_at": now,
                    "model_version": served.version,
                    **dict(zip(FEATURE_NAMES, row_values, strict=True)),
                    "prediction": cnt,
                }
            )
            answers.append({"id": prediction_id, "cnt": cnt})
        await state.writer.write(rows)
        state.metrics.predictions.labels(served.version).inc(len(rows))
        return JSONResponse({"predictions": answers, "model_version": served.version})

    @router.post(
        "/feedback",
        response_model=FeedbackResponse,
        dependencies=[Depends(require_token)],
        responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, **UNAVAILABLE},
    )
    async def feedback(body: feedback_body, state: ServiceState = Depends(get_state)) -> Any:
        """Record the actual count of earlier predictions: one ``{id, cnt}`` or a list.

        Labels must lie between 0 and the plausible maximum (``MODELMEDIC_LABEL_MAX``,
        default 100 times the reference's largest count), else 422 and nothing is stored.
        Ids the log does not know are listed in ``unknown`` and nothing is stored for them.
        A different label for a prediction labelled before corrects it: listed in
        ``corrected``, the earlier label kept; the same label again changes nothing.
        """
        store = state.store
        if store is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the prediction log is not open")
        items = [body] if isinstance(body, Feedback) else body
        limit = label_limit(state)
        implausible = [
            {
                "field": "cnt" if isinstance(body, Feedback) else f"[{i}].cnt",
                "loc": ["body", "cnt"] if isinstance(body, Feedback) else ["body", i, "cnt"],
                "msg": f"{item.cnt:g} is above the plausible maximum {limit:g} (MODELMEDIC_LABEL_MAX)",
                "type": "less_than_equal",
            }
            for i, item in enumerate(items)
            if item.cnt > limit
        ]
        if implausible:
            return JSONResponse({"detail": implausible}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
        labels = {item.id: item.cnt for item in items}
        timeout = state.settings.db_timeout_seconds
        deadline = time.monotonic() + timeout
        work = asyncio.get_running_loop().run_in_executor(None, store.record_feedback, labels, deadline)
        try:  # the thread commits only before the deadline: a 503 here means nothing was stored
            outcome = await asyncio.wait_for(work, timeout)
        except TimeoutError:
            raise PredictionStoreTimeout(store.timeout_message()) from None
        state.metrics.feedback.inc(outcome.accepted)
        state.metrics.feedback_unknown.inc(len(outcome.unknown))
        state.metrics.label_corrections.inc(len(outcome.corrected))
        return FeedbackResponse(accepted=outcome.accepted, unknown=outcome.unknown, corrected=outcome.corrected)

    return router


_PREDICT_EXAMPLES = {
    "one": {"summary": "One hour", "value": EXAMPLE_INSTANCE},
    "batch": {"summary": "A batch of instances", "value": {"instances": [EXAMPLE_INSTANCE] * 2}},
}
