"""``POST /predict`` and ``POST /feedback``: predictions in, labels back, all logged."""

import datetime as dt
import uuid
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Depends, HTTPException, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

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

UNAVAILABLE = {503: {"model": ErrorBody, "description": "No model loaded or prediction log unavailable."}}


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

        Ids the log does not know are listed in ``unknown`` and nothing is stored for them.
        """
        if state.store is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the prediction log is not open")
        items = [body] if isinstance(body, Feedback) else body
        labels = {item.id: item.cnt for item in items}
        accepted, unknown = await run_in_threadpool(state.store.record_feedback, labels)
        state.metrics.feedback.inc(accepted)
        state.metrics.feedback_unknown.inc(len(unknown))
        return FeedbackResponse(accepted=accepted, unknown=unknown)

    return router


_PREDICT_EXAMPLES = {
    "one": {"summary": "One hour", "value": EXAMPLE_INSTANCE},
    "batch": {"summary": "A batch of instances", "value": {"instances": [EXAMPLE_INSTANCE] * 2}},
}
