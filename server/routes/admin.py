"""Admin endpoints: the report queue, resolutions, lifting suspensions and the audit log. Only
for accounts with the admin role (`make admin USER=name`); others get 403."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field

from db import reports as db_reports
from db.common import encode_cursor, iso
from drape import access, vocab
from realtime.context import REVOKED
from server import moderation
from server.context import POOL, REDIS, SETTINGS, STORE
from server.errors import Problem, invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_username, path_uuid
from server.routes.reports import Reason, Report, TargetType, report_json
from server.routes.users import Input

Resolution = Literal[vocab.REPORT_RESOLUTIONS]  # type: ignore[valid-type]
ActionName = Literal[vocab.MODERATION_ACTIONS]  # type: ignore[valid-type]


class PageQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None


class QueueQuery(PageQuery):
    status: Literal["open", "resolved"] = "open"
    # One item per target (its newest report, with the counts of all) instead of per report.
    grouped: bool = False
    target_type: TargetType | None = None


class Account(BaseModel):
    id: str
    username: str
    is_active: bool
    suspended_at: str | None


class Reporter(BaseModel):
    id: str
    username: str


class TargetSummary(BaseModel):
    """The target as it is now, whatever its state (an admin sees hidden and removed content)."""

    type: TargetType
    id: str
    exists: bool  # false once deleted by its author
    owner: Account  # the account reported, or the content's author
    text: str | None  # the caption, the comment, or the account's bio
    display_name: str | None  # an account's
    post_id: str | None  # a post's own id, or a comment's post
    image_url: str | None
    hidden_at: str | None
    removed_at: str | None


class ReportCounts(BaseModel):
    """Of the reports on the same target in the same round (open ones, or those one action
    resolved)."""

    reports: int
    reporters: int
    reasons: dict[Reason, int]


class ResolutionSummary(BaseModel):
    action: Resolution
    note: str
    admin_id: str | None


class QueuedReport(Report):
    reporter: Reporter
    target: TargetSummary
    counts: ReportCounts
    resolution: ResolutionSummary | None


class QueuePage(BaseModel):
    items: list[QueuedReport]
    next_cursor: str | None


class ResolveIn(Input):
    action: Resolution
    note: Annotated[str, Field(max_length=2000)] | None = None


class ModerationAction(BaseModel):
    id: str
    admin_id: str | None  # null: content hidden by reports, or a role set from the command line
    action: ActionName
    target_type: TargetType
    target_id: str
    user_id: str | None
    report_id: str | None
    reports_resolved: int
    note: str
    at: str


class Resolved(BaseModel):
    report: Report
    action: ModerationAction


class NoteIn(Input):
    note: Annotated[str, Field(max_length=2000)] | None = None


class Unsuspended(BaseModel):
    user: Account
    action: ModerationAction


class ActionPage(BaseModel):
    items: list[ModerationAction]
    next_cursor: str | None


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def action_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "admin_id": _id(row["admin_id"]),
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": str(row["target_id"]),
        "user_id": _id(row["user_id"]),
        "report_id": _id(row["report_id"]),
        "reports_resolved": row["reports_resolved"],
        "note": row["note"],
        "at": iso(row["at"]),
    }


async def _queued_json(request: web.Request, r: asyncpg.Record) -> dict[str, Any]:
    image = r["target_image_key"]
    return {
        **report_json(r),
        "reporter": {"id": str(r["reporter_id"]), "username": r["reporter_username"]},
        "target": {
            "type": r["target_type"],
            "id": str(r["target_id"]),
            "exists": r["target_exists"],
            "owner": {
                "id": str(r["owner_id"]),
                "username": r["owner_username"],
                "is_active": r["owner_is_active"],
                "suspended_at": iso(r["owner_suspended_at"]),
            },
            "text": r["target_text"],
            "display_name": r["target_display_name"],
            "post_id": _id(r["target_post_id"]),
            "image_url": await request.app[STORE].url(image) if image else None,
            "hidden_at": iso(r["target_hidden_at"]),
            "removed_at": iso(r["target_removed_at"]),
        },
        "counts": {
            "reports": r["report_count"],
            "reporters": r["reporter_count"],
            "reasons": r["reasons"],
        },
        "resolution": None
        if r["resolution"] is None
        else {
            "action": r["resolution"],
            "note": r["resolution_note"],
            "admin_id": _id(r["resolved_by"]),
        },
    }


@endpoint(
    "Reports, newest first: open or resolved, one per report or one per target (grouped)",
    tags=["admin"],
    query=QueueQuery,
    response=QueuePage,
    errors=(403,),
)
async def list_reports(request: web.Request, query: QueueQuery) -> web.Response:
    await moderation.require_admin(request)
    rows = await db_reports.queue(
        request.app[POOL],
        status=query.status,
        grouped=query.grouped,
        target_type=query.target_type,
        before=cursor_values(query.cursor, datetime, uuid.UUID),
        limit=query.limit,
    )
    items = [await _queued_json(request, r) for r in rows]
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})


@endpoint(
    "Resolve a report, and every other open report on its target, with one action",
    tags=["admin"],
    body=ResolveIn,
    response=Resolved,
    errors=(403, 409),
)
async def resolve_report(request: web.Request, body: ResolveIn) -> web.Response:
    admin = await moderation.require_admin(request)
    try:
        done = await db_reports.resolve(
            request.app[POOL],
            path_uuid(request, "id", "report"),
            admin=admin,
            action=body.action,
            note=(body.note or "").strip(),
        )
    except db_reports.AlreadyResolved:
        raise Problem(409, "This report is already resolved.", code="already_done") from None
    except db_reports.NotApplicable as e:
        raise invalid("action", str(e)) from None
    if done is None:
        raise not_found("report")
    if done.suspended is not None:
        redis, settings = request.app[REDIS], request.app[SETTINGS]
        await access.revoke(
            redis,
            settings,
            sessions=done.ended_sessions,
            users=[done.suspended],
            reason="account_suspended",
            mirror=request.app[REVOKED],
        )
        await access.recheck(redis, settings, done.suspended)  # its posts' watchers lose them
    await moderation.announce(request, done.content)
    return json_response({"report": report_json(done.report), "action": action_json(done.action)})


@endpoint(
    "Lift an account's suspension: it may sign in again (its old sessions stay ended)",
    tags=["admin"],
    body=NoteIn,
    optional_body=True,
    response=Unsuspended,
    errors=(403, 409),
)
async def unsuspend_user(request: web.Request, body: NoteIn | None) -> web.Response:
    admin = await moderation.require_admin(request)
    note = ((body.note if body else None) or "").strip()
    try:
        done = await db_reports.unsuspend(
            request.app[POOL], path_username(request), admin=admin, note=note
        )
    except db_reports.NotSuspended:
        raise Problem(409, "This account is not suspended.", code="already_done") from None
    if done is None:
        raise not_found("user")
    user, action = done
    app = request.app
    await access.restore_user(app[REDIS], app[SETTINGS], user["id"], mirror=app[REVOKED])
    account = {
        "id": str(user["id"]),
        "username": user["username"],
        "is_active": user["is_active"],
        "suspended_at": iso(user["suspended_at"]),
    }
    return json_response({"user": account, "action": action_json(action)})


@endpoint(
    "The audit log of moderation actions, newest first",
    tags=["admin"],
    query=PageQuery,
    response=ActionPage,
    errors=(403,),
)
async def list_actions(request: web.Request, query: PageQuery) -> web.Response:
    await moderation.require_admin(request)
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_reports.actions(request.app[POOL], before, query.limit)
    cursor = encode_cursor(rows[-1]["at"], rows[-1]["id"]) if len(rows) == query.limit else None
    return json_response({"items": [action_json(r) for r in rows], "next_cursor": cursor})
