"""GET /v1/jobs/{id}: the state of one of my background jobs."""

from __future__ import annotations

from aiohttp import web

from db import jobs as db_jobs
from realtime.schemas import Job, JobResult, JobStatus
from server.auth import user_id
from server.context import POOL
from server.errors import not_found
from server.openapi import endpoint
from server.params import path_uuid

__all__ = ["Job", "JobResult", "JobStatus", "get_job"]


@endpoint("A background job's state", tags=["jobs"], response=Job, errors=(404,))
async def get_job(request: web.Request) -> web.Response:
    row = await db_jobs.get_job(request.app[POOL], path_uuid(request, "id", "job"))
    if row is None or row["user_id"] != user_id(request):
        raise not_found("job")
    return web.json_response(db_jobs.job_json(row))
