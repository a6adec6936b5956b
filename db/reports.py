"""Reports on users, posts and comments, their resolution by admins, the audit of every
moderation action, and the states these put content and accounts in
(migrations/0007_moderation.sql).

What a report is about (its target) is locked for the length of the transaction that files or
resolves one (an advisory lock on the target's id), so a count of reporters sees every report
filed before it and a resolution resolves every open report on the target.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db import tokens
from db.common import KEYSET_TOP
from db.posts import COMMENT_VISIBLE, VISIBLE

# The first key of the two-key advisory locks on report targets: a space of its own.
LOCK_CLASS = 7007


class NotVisible(Exception):
    """No such target, or not one the reporter may see."""


class OwnTarget(Exception):
    """The reporter is the account reported, or wrote the content."""


class AlreadyResolved(Exception):
    pass


class NotApplicable(ValueError):
    """The action cannot apply to this report (its message says why)."""


class NotSuspended(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ContentChange:
    """A post or comment whose moderation state changed, for what is told after commit."""

    target_type: str
    target_id: uuid.UUID
    author_id: uuid.UUID
    post_id: uuid.UUID
    shown: bool  # neither hidden nor removed now
    removed: bool
    comment_count: int | None = None  # the post's, when a comment changed


@dataclass(frozen=True, slots=True)
class Filed:
    report: asyncpg.Record
    created: bool
    hidden: ContentChange | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    report: asyncpg.Record
    action: asyncpg.Record
    content: ContentChange | None = None
    suspended: uuid.UUID | None = None  # the account suspended by this resolution
    # Its sessions that could still refresh: their access tokens stay refused after a lift.
    ended_sessions: tuple[uuid.UUID, ...] = ()


REPORT_COLUMNS = """
id, reporter_id, target_type, target_id, owner_id, reason, comment, status, created_at,
resolved_at, action_id
"""

ACTION_COLUMNS = """
id, admin_id, action, target_type, target_id, user_id, report_id, reports_resolved, note, at
"""


async def _lock_target(conn: asyncpg.Connection, target_id: uuid.UUID) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, str(target_id))


# A target as the reporter ($1; an account's profile is seen by anyone) may see it, with the
# account it belongs to and, for content, its post.
TARGET_USER = """
SELECT id AS owner_id, NULL::uuid AS post_id FROM users WHERE id = $1 AND is_active
"""

TARGET_POST = f"""
SELECT p.author_id AS owner_id, p.id AS post_id
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $2 AND u.is_active AND {VISIBLE}
"""

TARGET_COMMENT = f"""
SELECT c.author_id AS owner_id, c.post_id
FROM comments c JOIN users a ON a.id = c.author_id
JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = p.author_id
WHERE c.id = $2 AND a.is_active AND {COMMENT_VISIBLE} AND u.is_active AND {VISIBLE}
"""


INSERT_REPORT = f"""
INSERT INTO reports (reporter_id, target_type, target_id, owner_id, reason, comment)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (reporter_id, target_type, target_id) WHERE status = 'open' DO NOTHING
RETURNING {REPORT_COLUMNS}
"""

SELECT_OPEN_REPORT = f"""
SELECT {REPORT_COLUMNS} FROM reports
WHERE reporter_id = $1 AND target_type = $2 AND target_id = $3 AND status = 'open'
"""

# Distinct accounts, still active, with an open report on the target.
OPEN_REPORTERS = """
SELECT count(DISTINCT r.reporter_id) FROM reports r JOIN users u ON u.id = r.reporter_id
WHERE r.target_id = $1 AND r.target_type = $2 AND r.status = 'open' AND u.is_active
"""

INSERT_ACTION = f"""
INSERT INTO moderation_actions (admin_id, action, target_type, target_id, user_id, report_id,
                                note)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {ACTION_COLUMNS}
"""


async def file_report(
    pool: asyncpg.Pool,
    *,
    reporter: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID,
    reason: str,
    comment: str,
    hide_threshold: int,
) -> Filed:
    """One open report per reporter and target: filing again returns the open one unchanged.
    The report that brings the distinct reporters of a post or comment to `hide_threshold`
    hides it (0: never). Raises NotVisible, OwnTarget."""
    async with pool.acquire() as conn, conn.transaction():
        if target_type == "user":
            target = await conn.fetchrow(TARGET_USER, target_id)
        else:
            sql = TARGET_POST if target_type == "post" else TARGET_COMMENT
            target = await conn.fetchrow(sql, reporter, target_id)
        if target is None:
            raise NotVisible(target_type)
        if target["owner_id"] == reporter:
            raise OwnTarget(target_type)
        await _lock_target(conn, target_id)
        args = (reporter, target_type, target_id)
        row = await conn.fetchrow(INSERT_REPORT, *args, target["owner_id"], reason, comment)
        if row is None:
            return Filed(await conn.fetchrow(SELECT_OPEN_REPORT, *args), created=False)
        hidden = None
        if target_type != "user" and hide_threshold > 0:
            reporters = await conn.fetchval(OPEN_REPORTERS, target_id, target_type)
            if reporters >= hide_threshold:
                hidden = await set_state(conn, target_type, target_id, "hide")
                if hidden is not None:
                    await conn.execute(
                        INSERT_ACTION, None, "hide", target_type, target_id,
                        target["owner_id"], row["id"], f"{reporters} accounts reported it",
                    )  # fmt: skip
        return Filed(row, created=True, hidden=hidden)


# $2: 'hide', 'unhide' or 'remove'. `was_shown` and `shown`: neither hidden nor removed, before
# and after; the author's post_count follows the difference.
SET_POST_STATE = """
WITH old AS (
    SELECT id, hidden_at IS NULL AND removed_at IS NULL AS shown FROM posts WHERE id = $1
), new AS (
    UPDATE posts p SET
        hidden_at = CASE $2 WHEN 'hide' THEN coalesce(p.hidden_at, now())
                            WHEN 'unhide' THEN NULL ELSE p.hidden_at END,
        removed_at = CASE $2 WHEN 'remove' THEN coalesce(p.removed_at, now())
                             ELSE p.removed_at END
    FROM old WHERE p.id = old.id
    RETURNING p.id, p.author_id, p.id AS post_id, old.shown AS was_shown,
              p.hidden_at IS NULL AND p.removed_at IS NULL AS shown,
              p.removed_at IS NOT NULL AS removed
), bump AS (
    UPDATE users u
    SET post_count = greatest(u.post_count + CASE WHEN new.shown THEN 1 ELSE -1 END, 0)
    FROM new WHERE u.id = new.author_id AND new.shown <> new.was_shown
)
SELECT id, author_id, post_id, was_shown, shown, removed, NULL::int AS comment_count FROM new
"""

# The post's row first: deleting or adding a comment locks it before the comment's (db/posts.py).
LOCK_COMMENT_POST = """
SELECT p.id FROM posts p JOIN comments c ON c.post_id = p.id WHERE c.id = $1 FOR UPDATE OF p
"""

SET_COMMENT_STATE = """
WITH old AS (
    SELECT id, hidden_at IS NULL AND removed_at IS NULL AS shown FROM comments WHERE id = $1
), new AS (
    UPDATE comments c SET
        hidden_at = CASE $2 WHEN 'hide' THEN coalesce(c.hidden_at, now())
                            WHEN 'unhide' THEN NULL ELSE c.hidden_at END,
        removed_at = CASE $2 WHEN 'remove' THEN coalesce(c.removed_at, now())
                             ELSE c.removed_at END
    FROM old WHERE c.id = old.id
    RETURNING c.id, c.author_id, c.post_id, old.shown AS was_shown,
              c.hidden_at IS NULL AND c.removed_at IS NULL AS shown,
              c.removed_at IS NOT NULL AS removed
), bump AS (
    -- A suspended author's comments are out of the count already (AUTHOR_COMMENTS).
    UPDATE posts p
    SET comment_count = greatest(p.comment_count + CASE WHEN new.shown THEN 1 ELSE -1 END, 0)
    FROM new JOIN users a ON a.id = new.author_id
    WHERE p.id = new.post_id AND new.shown <> new.was_shown AND a.is_active
    RETURNING p.comment_count
)
SELECT new.id, new.author_id, new.post_id, new.was_shown, new.shown, new.removed,
       coalesce((SELECT comment_count FROM bump),
                (SELECT comment_count FROM posts WHERE id = new.post_id)) AS comment_count
FROM new
"""


async def set_state(
    conn: asyncpg.Connection, target_type: str, target_id: uuid.UUID, change: str
) -> ContentChange | None:
    """Hide, unhide or remove a post or comment, keeping the counters of what is shown. None if
    it is gone or the change changed nothing."""
    if target_type == "comment":
        await conn.execute(LOCK_COMMENT_POST, target_id)
        row = await conn.fetchrow(SET_COMMENT_STATE, target_id, change)
    else:
        row = await conn.fetchrow(SET_POST_STATE, target_id, change)
    if row is None or (row["was_shown"] == row["shown"] and change != "remove"):
        return None
    return ContentChange(
        target_type=target_type,
        target_id=target_id,
        author_id=row["author_id"],
        post_id=row["post_id"],
        shown=row["shown"],
        removed=row["removed"],
        comment_count=row["comment_count"],
    )


SELECT_REPORT = f"SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"

SUSPEND = """
UPDATE users SET is_active = false, suspended_at = now() WHERE id = $1 AND is_active
RETURNING id
"""

# A comment counts in its post's comment_count while it is shown and its author is active: a
# suspension takes the author's shown comments out ($2 = -1), lifting it puts them back (+1).
# The posts are locked first and by id, the order every writer of posts and comments keeps.
LOCK_COMMENTED_POSTS = """
SELECT id FROM posts WHERE id IN (SELECT post_id FROM comments WHERE author_id = $1)
ORDER BY id FOR UPDATE
"""

AUTHOR_COMMENTS = """
UPDATE posts p SET comment_count = greatest(p.comment_count + $2 * d.n, 0)
FROM (
    SELECT post_id, count(*) AS n FROM comments
    WHERE author_id = $1 AND hidden_at IS NULL AND removed_at IS NULL
    GROUP BY post_id
) d
WHERE p.id = d.post_id
"""


async def count_comments_of(conn: asyncpg.Connection, author: uuid.UUID, sign: int) -> None:
    """Take the author's shown comments out of their posts' counts (-1) or put them back (+1)."""
    await conn.execute(LOCK_COMMENTED_POSTS, author)
    await conn.execute(AUTHOR_COMMENTS, author, sign)


# Every open report on the target is resolved by the action, recorded with how many.
RESOLVE = f"""
WITH done AS (
    UPDATE reports SET status = 'resolved', resolved_at = now(), action_id = $1
    WHERE target_id = $5 AND target_type = $4 AND status = 'open'
    RETURNING id
)
INSERT INTO moderation_actions (id, admin_id, action, target_type, target_id, user_id,
                                report_id, note, reports_resolved)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, count(*) FROM done
RETURNING {ACTION_COLUMNS}
"""


async def resolve(
    pool: asyncpg.Pool, report_id: uuid.UUID, *, admin: uuid.UUID, action: str, note: str
) -> Resolution | None:
    """Resolve the report, and with it every open report on its target, by `action`: dismiss
    (shows hidden content again), remove_content (a post or comment), suspend_user (the account
    reported or the content's author: inactive, its refresh tokens revoked). None if there is no
    such report; raises AlreadyResolved, NotApplicable."""
    async with pool.acquire() as conn, conn.transaction():
        report = await conn.fetchrow(SELECT_REPORT, report_id)
        if report is None:
            return None
        await _lock_target(conn, report["target_id"])
        report = await conn.fetchrow(SELECT_REPORT, report_id)  # as it is once the target is ours
        if report["status"] != "open":
            raise AlreadyResolved()
        target_type, target_id = report["target_type"], report["target_id"]
        owner = report["owner_id"]
        content = suspended = None
        ended: set[uuid.UUID] = set()
        if action == "dismiss" and target_type != "user":
            content = await set_state(conn, target_type, target_id, "unhide")
        elif action == "remove_content":
            if target_type == "user":
                raise NotApplicable("an account is not content: suspend it instead")
            content = await set_state(conn, target_type, target_id, "remove")
        elif action == "suspend_user":
            if owner == admin:
                raise NotApplicable("you cannot suspend your own account")
            suspended = await conn.fetchval(SUSPEND, owner)
            if suspended is not None:
                await count_comments_of(conn, owner, -1)
                ended = await tokens.revoke_other_families(conn, owner, None)
        row = await conn.fetchrow(
            RESOLVE, uuid.uuid4(), admin, action, target_type, target_id, owner, report_id, note
        )
        report = await conn.fetchrow(SELECT_REPORT, report_id)
        return Resolution(report, row, content, suspended, tuple(ended))


SELECT_SUSPENDABLE = """
SELECT id, username, suspended_at FROM users WHERE lower(username) = lower($1) FOR UPDATE
"""

UNSUSPEND = """
UPDATE users SET is_active = true, suspended_at = NULL WHERE id = $1
RETURNING id, username, is_active, suspended_at
"""


async def unsuspend(
    pool: asyncpg.Pool, username: str, *, admin: uuid.UUID, note: str
) -> tuple[asyncpg.Record, asyncpg.Record] | None:
    """Lift an account's suspension: (the account, the audit row); None if there is no such
    account; raises NotSuspended."""
    async with pool.acquire() as conn, conn.transaction():
        user = await conn.fetchrow(SELECT_SUSPENDABLE, username)
        if user is None:
            return None
        if user["suspended_at"] is None:
            raise NotSuspended()
        account = await conn.fetchrow(UNSUSPEND, user["id"])
        await count_comments_of(conn, user["id"], +1)
        action = await conn.fetchrow(
            INSERT_ACTION, admin, "unsuspend_user", "user", user["id"], user["id"], None, note
        )
        return account, action


# The admin queue. One row per report, or (grouped) per target and round: the newest report of
# those open on a target, or of those one action resolved. Each with the counts of its round
# and a summary of the target as it is now, whatever its state.
SELECT_QUEUE = """
SELECT r.id, r.target_type, r.target_id, r.reason, r.comment, r.status, r.created_at,
       r.resolved_at, r.action_id,
       r.reporter_id, rep.username AS reporter_username,
       r.owner_id, own.username AS owner_username, own.is_active AS owner_is_active,
       own.suspended_at AS owner_suspended_at,
       m.action AS resolution, m.note AS resolution_note, m.admin_id AS resolved_by,
       n.report_count, n.reporter_count, n.reasons,
       coalesce(tp.id, tc.id, tu.id) IS NOT NULL AS target_exists,
       coalesce(tp.caption, tc.body, tu.bio) AS target_text,
       tu.display_name AS target_display_name,
       coalesce(tp.id, tc.post_id) AS target_post_id,
       tp.image_key AS target_image_key,
       coalesce(tp.hidden_at, tc.hidden_at) AS target_hidden_at,
       coalesce(tp.removed_at, tc.removed_at) AS target_removed_at
FROM reports r
JOIN users rep ON rep.id = r.reporter_id
JOIN users own ON own.id = r.owner_id
LEFT JOIN moderation_actions m ON m.id = r.action_id
LEFT JOIN posts tp ON r.target_type = 'post' AND tp.id = r.target_id
LEFT JOIN comments tc ON r.target_type = 'comment' AND tc.id = r.target_id
LEFT JOIN users tu ON r.target_type = 'user' AND tu.id = r.target_id
CROSS JOIN LATERAL (
    SELECT sum(g.n)::int AS report_count, sum(g.reporters)::int AS reporter_count,
           jsonb_object_agg(g.reason, g.n) AS reasons
    FROM (
        SELECT x.reason, count(*)::int AS n, count(DISTINCT x.reporter_id) AS reporters
        FROM reports x
        WHERE x.target_id = r.target_id AND x.target_type = r.target_type
          AND x.status = r.status AND x.action_id IS NOT DISTINCT FROM r.action_id
        GROUP BY x.reason
    ) g
) n
WHERE r.status = $1 AND (r.created_at, r.id) < ($2, $3)
  AND ($5::text IS NULL OR r.target_type = $5)
  AND (NOT $6 OR NOT EXISTS (
      SELECT 1 FROM reports y
      WHERE y.target_id = r.target_id AND y.target_type = r.target_type
        AND y.status = r.status AND y.action_id IS NOT DISTINCT FROM r.action_id
        AND (y.created_at, y.id) > (r.created_at, r.id)))
ORDER BY r.created_at DESC, r.id DESC
LIMIT $4
"""


async def queue(
    pool: asyncpg.Pool,
    *,
    status: str,
    grouped: bool,
    target_type: str | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    created_at, report_id = before or KEYSET_TOP
    return await pool.fetch(
        SELECT_QUEUE, status, created_at, report_id, limit, target_type, grouped
    )


SELECT_ACTIONS = """
SELECT m.id, m.admin_id, m.action, m.target_type, m.target_id, m.user_id, m.report_id,
       m.reports_resolved, m.note, m.at, a.username AS admin_username
FROM moderation_actions m LEFT JOIN users a ON a.id = m.admin_id
WHERE (m.at, m.id) < ($1, $2)
ORDER BY m.at DESC, m.id DESC
LIMIT $3
"""


async def actions(
    pool: asyncpg.Pool, before: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """The audit log, newest first."""
    at, action_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_ACTIONS, at, action_id, limit)
