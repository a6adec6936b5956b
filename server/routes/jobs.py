"""My background jobs: one job's state, and the list of recent ones (so an app restarted while
a job runs can show its progress again)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from db import jobs as db_jobs
from realtime.schemas import Job, JobResult, JobStatus
from server.auth import user_id
from server.context import POOL
from server.errors import not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_uuid

__all__ = ["Job", "JobResult", "JobStatus", "get_job"]


@endpoint("A background job's state", tags=["jobs"], response=Job, errors=(404,))
async def get_job(request: web.Request) -> web.Response:
    row = await db_jobs.get_job(request.app[POOL], path_uuid(request, "id", "job"))
    if row is None or row["user_id"] != user_id(request):
        raise not_found("job")
    return web.json_response(db_jobs.job_json(row))


class JobsQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None
    # ?status=queued&status=running: the jobs still going
    status: Annotated[list[JobStatus], Field(max_length=4)] | None = None
    kind: Annotated[str, Field(min_length=1, max_length=40)] | None = None


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None


@endpoint(
    "My recent background jobs, newest first (filter by status or kind)",
    tags=["jobs"],
    query=JobsQuery,
    response=JobPage,
)
async def list_jobs(request: web.Request, query: JobsQuery) -> web.Response:
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_jobs.user_jobs(
        request.app[POOL],
        user_id(request),
        before,
        query.limit,
        statuses=list(query.status) if query.status else None,
        kind=query.kind,
    )
    items = [db_jobs.job_json(r) for r in rows]
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})
