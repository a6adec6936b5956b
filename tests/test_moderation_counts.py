"""comment_count counts the comments that are shown and whose author is active, through
suspension, moderation and deletion; and closing an account takes the posts' rows in the order
moderation does, so the two never deadlock."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from db import accounts as db_accounts
from db import reports as db_reports
from tests.conftest import Api, User
from tests.social_helpers import new_comment, new_post
from tests.test_reports import _admin, _filed, _resolved


async def _count(api: Api, viewer: User, post_id: str) -> int:
    r = await api.get(f"/v1/posts/{post_id}", token=viewer.token)
    assert r.status == 200, await r.text()
    return int((await r.json())["comment_count"])


async def _listed(api: Api, viewer: User, post_id: str) -> int:
    r = await api.get(f"/v1/posts/{post_id}/comments", token=viewer.token)
    assert r.status == 200, await r.text()
    return len((await r.json())["items"])


async def test_a_suspended_accounts_comments_leave_the_count_until_it_is_lifted(
    api: Api, pool: asyncpg.Pool
) -> None:
    admin = await _admin(api, pool)
    alice, bob, carol = [await api.register(n) for n in ("alice", "bob", "carol")]
    post, other = await new_post(api, alice), await new_post(api, carol)
    bobs = [await new_comment(api, bob, post, f"bob {i}") for i in range(3)]
    await new_comment(api, bob, other)
    await new_comment(api, carol, post)
    assert await _count(api, alice, post) == 4

    hidden = await _filed(api, alice, "comment", bobs[0])  # resolved later
    report = await _filed(api, carol, "user", bob.id)
    await _resolved(api, admin, report, "suspend_user")
    assert await _count(api, alice, post) == 1 == await _listed(api, alice, post)
    assert await _count(api, carol, other) == 0 == await _listed(api, carol, other)

    # While bob is suspended: his comment hidden by a report and another deleted by the post's
    # owner move nothing, since neither counts now.
    async with pool.acquire() as conn, conn.transaction():
        await db_reports.set_state(conn, "comment", uuid.UUID(bobs[0]), "hide")
    assert (await api.delete(f"/v1/comments/{bobs[1]}", token=alice.token)).status == 204
    assert await _count(api, alice, post) == 1

    r = await api.post(f"/v1/admin/users/{bob.username}/unsuspend", token=admin.token, json={})
    assert r.status == 200, await r.text()
    assert await _count(api, alice, post) == 2 == await _listed(api, alice, post)
    assert await _count(api, carol, other) == 1 == await _listed(api, carol, other)
    await _resolved(api, admin, hidden, "dismiss")  # shown again: counted again
    assert await _count(api, alice, post) == 3 == await _listed(api, alice, post)


async def _waiting_on_a_lock(pool: asyncpg.Pool, pid: int) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
    )


async def test_closing_an_account_while_its_comment_is_hidden_does_not_deadlock(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    post = await new_post(api, alice)
    comment = uuid.UUID(await new_comment(api, bob, post))
    await new_comment(api, alice, post)
    hide = await pool.acquire()
    close = await pool.acquire()
    try:
        async with hide.transaction():
            # A moderator's hide has taken the post's row (its first step) ...
            await hide.execute(db_reports.LOCK_COMMENT_POST, comment)

            async def closing() -> list[uuid.UUID] | None:
                async with close.transaction():
                    return await db_accounts.close_account(close, uuid.UUID(bob.id))

            # ... when bob closes his account, which must now wait for that row before it
            # touches his comment ...
            task = asyncio.create_task(closing())
            pid = close.get_server_pid()
            for _ in range(200):
                if await _waiting_on_a_lock(pool, pid) or task.done():
                    break
                await asyncio.sleep(0.02)
            assert await _waiting_on_a_lock(pool, pid), "closing did not wait for the post"
            # ... so the hide takes the comment's row without a deadlock.
            await hide.fetchrow(db_reports.SET_COMMENT_STATE, comment, "hide")
        assert await asyncio.wait_for(task, 10) is not None
    finally:
        await pool.release(hide)
        await pool.release(close)
    assert (
        await pool.fetchval("SELECT comment_count FROM posts WHERE id = $1", uuid.UUID(post)) == 1
    )
