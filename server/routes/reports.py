"""Reports on users, posts and comments (CONTRACT.md, Safety)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field

from db import reports as db_reports
from db.common import iso
from drape import vocab
from server import moderation, ratelimit
from server.auth import user_id
from server.context import POOL, SETTINGS
from server.errors import invalid, not_found
from server.openapi import endpoint
from server.params import json_response
from server.routes.users import Input

TargetType = Literal[vocab.REPORT_TARGETS]  # type: ignore[valid-type]
Reason = Literal[vocab.REPORT_REASONS]  # type: ignore[valid-type]


class ReportIn(Input):
    target_type: TargetType
    target_id: uuid.UUID
    reason: Reason
    comment: Annotated[str, Field(max_length=1000)] | None = None


class Report(BaseModel):
    id: str
    target_type: TargetType
    target_id: str
    reason: Reason
    comment: str
    status: Literal["open", "resolved"]
    created_at: str
    resolved_at: str | None


def report_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "target_type": row["target_type"],
        "target_id": str(row["target_id"]),
        "reason": row["reason"],
        "comment": row["comment"],
        "status": row["status"],
        "created_at": iso(row["created_at"]),
        "resolved_at": iso(row["resolved_at"]),
    }


@endpoint(
    "Report a user, post or comment: 201 with the new report, or 200 with the reporter's open "
    "report on the same target (one open report per reporter and target; it is not changed)",
    tags=["safety"],
    body=ReportIn,
    response=Report,
    status=201,
    extra_responses={200: Report},
    errors=(404,),
    limit=ratelimit.Action.REPORT,
)
async def create_report(request: web.Request, body: ReportIn) -> web.Response:
    try:
        filed = await db_reports.file_report(
            request.app[POOL],
            reporter=user_id(request),
            target_type=body.target_type,
            target_id=body.target_id,
            reason=body.reason,
            comment=(body.comment or "").strip(),
            hide_threshold=request.app[SETTINGS].report_hide_threshold,
        )
    except db_reports.NotVisible:
        raise not_found(body.target_type) from None
    except db_reports.OwnTarget:
        raise invalid("target_id", "you cannot report yourself or what you wrote") from None
    await moderation.announce(request, filed.hidden)
    return json_response(report_json(filed.report), 201 if filed.created else 200)
