"""GET /metrics: Prometheus' text format (fakecloud/integrations/metrics.py; docs/metrics.md)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from fakecloud.integrations.metrics import MetricsPart
from fakecloud.web.deps import RuntimeDep, ViewerDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
async def metrics(_: ViewerDep, runtime: RuntimeDep) -> Response:
    """Security consideration: the figures tell when cameras are online and who logs in, so
    only trusted networks and accounts may read them (the viewer policy of web/deps.py)."""
    part = runtime.part("metrics")
    if not isinstance(part, MetricsPart):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "metrics are not running")
    return Response(part.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
