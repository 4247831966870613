"""Liveness and status for people, Docker healthchecks and monitoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/status")
async def status(request: Request) -> dict[str, Any]:
    return request.app.state.runtime.status()
