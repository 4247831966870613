"""Liveness and status for people, Docker healthchecks and monitoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from fakecloud.web.deps import RuntimeDep, current_viewer

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/status")
async def status(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Everything for trusted-network clients and logged-in accounts; only which parts run for
    anyone else."""
    full = runtime.status()
    try:
        await current_viewer(request, runtime)
    except HTTPException:
        # Security consideration: the full status lists camera ids, sessions and peers.
        return {
            "version": full["version"],
            "parts": sorted(full["parts"]),
            "detail": "log in (or ask from a trusted network) for the full status",
        }
    return full
