"""Account jobs: the password-reset mail (the web process queues the same job for every address
asked about, so its answer tells nobody who has an account; the lookup happens here) and the
purge of a deleted account, and the export of all of an account's data."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
import zipfile
from typing import Any, Final

import orjson

from db import accounts as db_accounts
from db import email_tokens
from db import users as db_users
from drape import mail
from drape.settings import Settings
from workers.jobs import JobRun, PermanentJobError, tracked

log = logging.getLogger(__name__)

RESET_TTL: Final = 3600


async def password_reset_mail(ctx: dict[str, Any], email: str) -> dict[str, Any]:
    """A single-use link, valid an hour, to the account that uses `email`, if one does."""
    settings: Settings = ctx["settings"]
    user = await db_users.get_by_email(ctx["pool"], email)
    if user is None or not user["is_active"] or not user["email"]:
        return {"sent": False}
    token = await email_tokens.issue(ctx["pool"], user["id"], "reset", user["email"], ttl=RESET_TTL)
    message = mail.render(
        "password_reset",
        user["locale"],
        to=user["email"],
        name=user["display_name"] or user["username"],
        link=mail.link(settings, mail.PASSWORD_RESET_PATH, token=token),
    )
    await mail.queue_mail(ctx["redis"], message)
    return {"sent": True}


async def purge_account(ctx: dict[str, Any], user_id: str) -> dict[str, Any]:
    """Remove every stored object and row of a deleted account. Idempotent: a worker killed
    halfway leaves a purge that the next run (the job's retry, or the cron) finishes."""
    account = uuid.UUID(user_id)
    store = ctx["store"]
    removed = 0
    for prefix in db_accounts.OBJECT_PREFIXES:
        async for key in store.keys(f"{prefix}/{account}/"):
            await store.delete(key)
            removed += 1
    async with ctx["pool"].acquire() as conn, conn.transaction():
        await db_accounts.purge_rows(conn, account)
    log.info("account purged", extra={"user_id": user_id, "objects": removed})
    return {"objects": removed}


# An account deleted this long ago and still there lost its purge job (Redis restarted, say).
PURGE_GRACE: Final = 120.0


async def purge_deleted_accounts(ctx: dict[str, Any]) -> int:
    """Cron: queue again the purges that did not finish."""
    pending = await db_accounts.pending_purges(ctx["pool"], PURGE_GRACE)
    for account in pending:
        await ctx["redis"].enqueue_job("purge_account", str(account), _job_id=f"purge:{account}")
    return len(pending)


EXPORT_LINK_TTL: Final = 7 * 24 * 3600


@tracked
async def export_account(run: JobRun) -> dict[str, Any]:
    """A ZIP of the user's data: one JSON file per table (every row that names the user, from the
    schema's foreign keys) and every stored object of theirs (images, meshes) under objects/."""
    user_id = run.user_id
    if user_id is None:
        raise PermanentJobError("an export belongs to a user")
    store = run.ctx["store"]
    rows = await db_accounts.export_rows(run.pool, user_id)
    keys = [
        key
        for prefix in db_accounts.OBJECT_PREFIXES
        if prefix != "exports"
        async for key in store.keys(f"{prefix}/{user_id}/")
    ]
    objects = {key: await store.get(key) for key in keys}
    await run.progress(0.5)
    data = await asyncio.to_thread(_zip, rows, objects)
    key = f"exports/{user_id}/{run.id}.zip"
    await store.put(key, data, "application/zip")
    return {
        "download_url": await store.url(key, expires=EXPORT_LINK_TTL),
        "bytes": len(data),
        "tables": len(rows),
        "objects": len(objects),
    }


def _zip(rows: dict[str, list[Any]], objects: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for table, items in rows.items():
            z.writestr(f"data/{table}.json", orjson.dumps(items, option=orjson.OPT_INDENT_2))
        for key, blob in objects.items():
            z.writestr(f"objects/{key}", blob, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()
