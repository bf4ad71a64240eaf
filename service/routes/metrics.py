"""GET /metrics: Prometheus exposition of the service's metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service import metrics

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def prometheus_metrics() -> Response:
    """Request, latency, inference, batch, input-length and OOV metrics in Prometheus format."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
