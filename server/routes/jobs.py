"""GET /v1/jobs/{id}: the state of one of my background jobs."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from db import jobs as db_jobs
from server.auth import user_id
from server.context import POOL
from server.errors import not_found
from server.openapi import endpoint
from server.params import path_uuid


class Job(BaseModel):
    id: str
    kind: str
    status: str
    progress: float
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None


@endpoint("A background job's state", tags=["jobs"], response=Job, errors=(404,))
async def get_job(request: web.Request) -> web.Response:
    row = await db_jobs.get_job(request.app[POOL], path_uuid(request, "id", "job"))
    if row is None or row["user_id"] != user_id(request):
        raise not_found("job")
    return web.json_response(db_jobs.job_json(row))
