"""Tasks (`/api/v1alpha/tasks`): Semaphore's name for schedules, served by the same routes."""

from __future__ import annotations

from fastapi import APIRouter

from blockpost.api.schedules import routes

router = APIRouter()
router.include_router(routes, prefix="/api/v1alpha/tasks", tags=["tasks"])
