"""/api/doctor: the doctor's report (fakecloud/doctor) as JSON, for the status page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from fakecloud.doctor.run import run_doctor
from fakecloud.web.deps import RuntimeDep, ViewerDep

router = APIRouter(tags=["health"])


@router.get("/api/doctor")
async def doctor(request: Request, runtime: RuntimeDep, _viewer: ViewerDep) -> dict[str, Any]:
    """Every check with its status (ok, warn, fail, skip), what was found, why it matters and
    the fix. Security consideration: it names processes and addresses, so like the full
    status it is for trusted networks and signed-in accounts only."""
    here = str(request.base_url).rstrip("/")
    report = await run_doctor(runtime.settings, runtime.status(), here)
    return report.as_json()
