"""The maintenance banner as data: whether writes are frozen and why."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.maintenance import current_status
from app.payloads import MaintenanceOut

router = APIRouter(tags=["status"])


@router.get("/status", response_model=MaintenanceOut)
async def get_status(request: Request) -> MaintenanceOut:
    """``maintenance`` is true while writes are frozen; ``message`` is the operator's note."""
    status = await run_in_threadpool(current_status, request.app)
    return MaintenanceOut(maintenance=status.enabled, message=status.message)
