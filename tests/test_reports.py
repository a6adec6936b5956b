"""Reports, the admin role and what resolving a report does (CONTRACT.md, Safety), over the real
API, Postgres, Redis and sockets."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from db import admin as db_admin
from db import posts as db_posts
from drape import vocab
from drape.settings import Settings
from tests.conftest import ROOT, Api, EventLog, RunningApp, User
from tests.social_helpers import new_comment, new_post

PASSWORD = "correct horse battery"


# Helpers -----------------------------------------------------------------------------------------


async def _report(
    api: Api, user: User, target_type: str, target_id: str, reason: str = "spam", **extra: Any
) -> aiohttp.ClientResponse:
    body = {"target_type": target_type, "target_id": target_id, "reason": reason, **extra}
    return await api.post("/v1/reports", token=user.token, json=body)


async def _filed(api: Api, user: User, target_type: str, target_id: str, **kw: Any) -> str:
    r = await _report(api, user, target_type, target_id, **kw)
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _admin(api: Api, pool: asyncpg.Pool, username: str = "moderator") -> User:
    user = await api.register(username)
    async with pool.acquire() as conn:
        assert await db_admin.set_role(conn, username, admin=True) is True
    return user


async def _resolve(
    api: Api, admin: User, report_id: str, action: str, note: str | None = None
) -> aiohttp.ClientResponse:
    body = {"action": action, **({"note": note} if note is not None else {})}
    return await api.post(f"/v1/admin/reports/{report_id}/resolve", token=admin.token, json=body)


async def _resolved(api: Api, admin: User, report_id: str, action: str, **kw: Any) -> Any:
    r = await _resolve(api, admin, report_id, action, **kw)
    assert r.status == 200, await r.text()
    return await r.json()


async def _queue(api: Api, admin: User, **params: Any) -> Any:
    query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    r = await api.get("/v1/admin/reports", token=admin.token, params=query)
    assert r.status == 200, await r.text()
    return await r.json()


async def _quick_users(pool: asyncpg.Pool, api: Api, n: int, prefix: str) -> list[User]:
    """Many accounts without paying for n password hashes (tokens without a session)."""
    rows = await pool.fetch(
        "INSERT INTO users (email, username, password_hash)"
        " SELECT $1 || g || '@example.com', $1 || g, 'unused' FROM generate_series(1, $2) g"
        " RETURNING id, username",
        prefix,
        n,
    )
    return [User(str(r["id"]), r["username"], api.token_for(r["id"]), "") for r in rows]


async def _follow(api: Api, follower: User, author: User) -> None:
    r = await api.put(f"/v1/users/{author.username}/follow", token=follower.token)
    assert r.status in (200, 201), await r.text()


async def _captions(api: Api, user: User, path: str) -> list[str]:
    r = await api.get(path, token=user.token)
    assert r.status == 200, await r.text()
    return [p["caption"] for p in (await r.json())["items"]]


async def _post_count(api: Api, viewer: User, username: str) -> int:
    r = await api.get(f"/v1/users/{username}", token=viewer.token)
    assert r.status == 200, await r.text()
    return int((await r.json())["post_count"])


async def _problem(r: aiohttp.ClientResponse, status: int) -> Any:
    assert r.status == status, await r.text()
    assert r.content_type == "application/problem+json"
    return await r.json()


async def _actions(pool: asyncpg.Pool, action: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM moderation_actions WHERE action = $1 ORDER BY at", action
    )


async def _ended(client: socketio.AsyncClient, log: EventLog, timeout: float = 2.0) -> str:
    reasons = await log.wait_for(1, timeout=timeout)
    for _ in range(int(timeout / 0.05)):
        if not client.connected:
            break
        await asyncio.sleep(0.05)
    assert not client.connected
    return str(reasons[0]["reason"])


# Filing reports ----------------------------------------------------------------------------------


async def test_every_reason_and_target_type_files_a_report(api: Api) -> None:
    author, reporter = await api.register("author"), await api.register("reporter")
    posts = [await new_post(api, author, f"look {i}") for i in range(6)]
    comment = await new_comment(api, author, posts[0])
    targets = [("user", author.id), ("comment", comment)] + [("post", p) for p in posts]
    for (target_type, target_id), reason in zip(targets, vocab.REPORT_REASONS, strict=True):
        r = await _report(api, reporter, target_type, target_id, reason, comment=" see this ")
        assert r.status == 201, await r.text()
        body = await r.json()
        assert uuid.UUID(body.pop("id")) and body.pop("created_at").endswith("Z")
        assert body == {
            "target_type": target_type,
            "target_id": target_id,
            "reason": reason,
            "comment": "see this",
            "status": "open",
            "resolved_at": None,
        }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "rude"}, "reason"),
        ({"target_type": "garment"}, "target_type"),
        ({"target_id": "not-a-uuid"}, "target_id"),
        ({"comment": "x" * 1001}, "comment"),
        ({"severity": 5}, "severity"),
    ],
)
async def test_bad_reports_are_422_naming_the_field(
    api: Api, pool: asyncpg.Pool, change: dict[str, Any], field: str
) -> None:
    author, reporter = await api.register("author"), await api.register("reporter")
    body = {"target_type": "user", "target_id": author.id, "reason": "spam", **change}
    problem = await _problem(await api.post("/v1/reports", token=reporter.token, json=body), 422)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert await pool.fetchval("SELECT count(*) FROM reports") == 0


async def test_one_open_report_per_reporter_and_target(api: Api, pool: asyncpg.Pool) -> None:
    """A second report of the same target by the same account answers 200 with the open one,
    unchanged; once it is resolved, the account may report the target again."""
    author, reporter, other = [await api.register(n) for n in ("author", "reporter", "other")]
    admin = await _admin(api, pool)
    post = await new_post(api, author)
    first = await _report(api, reporter, "post", post, "spam")
    assert first.status == 201
    again = await _report(api, reporter, "post", post, "hate", comment="really")
    assert again.status == 200, await again.text()
    assert await again.json() == await first.json()  # the open one, not changed
    assert (await _report(api, other, "post", post, "hate")).status == 201
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE target_id = $1", post) == 2
    await _resolved(api, admin, (await first.json())["id"], "dismiss")
    later = await _report(api, reporter, "post", post, "hate")
    assert later.status == 201 and (await later.json())["id"] != (await first.json())["id"]


async def test_a_reporter_reports_only_what_they_can_see(api: Api) -> None:
    hidden, stranger = await api.register("hidden"), await api.register("stranger")
    r = await api.patch("/v1/me", token=hidden.token, json={"is_private": True})
    assert r.status == 200
    post = await new_post(api, hidden, "for followers")
    comment = await new_comment(api, hidden, post)
    for target_type, target_id in [("post", post), ("comment", comment)]:
        problem = await _problem(await _report(api, stranger, target_type, target_id), 404)
        assert target_type in problem["detail"]
    for target_type in vocab.REPORT_TARGETS:
        await _problem(await _report(api, stranger, target_type, str(uuid.uuid4())), 404)
    # A private account's profile is seen by anyone: it can be reported.
    assert (await _report(api, stranger, "user", hidden.id)).status == 201
    # Nobody reports themselves or what they wrote.
    for target_type, target_id in [("user", hidden.id), ("post", post), ("comment", comment)]:
        problem = await _problem(await _report(api, hidden, target_type, target_id), 422)
        assert problem["errors"][0]["field"] == "target_id"


async def test_reports_are_rate_limited(api: Api, settings: Settings) -> None:
    limit = settings.rate_report_account
    assert limit > 0
    author, reporter = await api.register("author"), await api.register("reporter")
    posts = [await new_post(api, author, f"p{i}") for i in range(limit + 1)]
    for post in posts[:limit]:
        assert (await _report(api, reporter, "post", post)).status == 201
    r = await _report(api, reporter, "post", posts[-1])
    await _problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0


# The admin role ----------------------------------------------------------------------------------


def _admin_calls(report_id: str, username: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/v1/admin/reports", None),
        ("GET", "/v1/admin/reports?status=resolved&grouped=true", None),
        ("POST", f"/v1/admin/reports/{report_id}/resolve", {"action": "remove_content"}),
        ("POST", f"/v1/admin/users/{username}/unsuspend", None),
        ("GET", "/v1/admin/actions", None),
    ]


async def test_admin_routes_are_for_admins_only(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    author, user = await api.register("author"), await api.register("plain")
    post = await new_post(api, author)
    report = await _filed(api, user, "post", post)
    calls = _admin_calls(report, author.username)
    # Every admin route of the app is in this list, so a new one cannot skip the check.
    routes = {
        (route.method, route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/v1/admin")
        and route.method != "HEAD"
    }
    listed = {(m, re.sub(r"\?.*", "", p).replace(report, "{id}")) for m, p, _ in calls}
    listed = {(m, p.replace(f"/{author.username}/", "/{username}/")) for m, p in listed}
    assert routes == listed
    for who in (user, author):
        for method, path, body in calls:
            r = await api.request(method, path, token=who.token, json=body)
            problem = await _problem(r, 403)
            assert problem["detail"] == "Only admins may do this.", (method, path)
    assert (await api.get(f"/v1/posts/{post}", token=user.token)).status == 200
    assert await pool.fetchval("SELECT status FROM reports WHERE id = $1", report) == "open"
    async with pool.acquire() as conn:
        await db_admin.set_role(conn, user.username, admin=True)
    assert (await api.get("/v1/admin/reports", token=user.token)).status == 200
    async with pool.acquire() as conn:
        await db_admin.set_role(conn, user.username, admin=False)
    await _problem(await api.get("/v1/admin/reports", token=user.token), 403)  # at once


async def _run(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_make_admin_grants_and_revokes_the_role(
    api: Api, pool: asyncpg.Pool, database_url: str
) -> None:
    moddy = await api.register("moddy")
    env = {**os.environ, "DATABASE_URL": database_url, "USER": "moddy"}
    # The virtualenv exists: its stamp is taken as made, so make installs nothing here.
    make = ["make", "-s", "STAMP=.venv/.test-stamp", "-o", ".venv/.test-stamp", "admin"]
    await _problem(await api.get("/v1/admin/reports", token=moddy.token), 403)

    # USER only in the environment (as the shell sets it) is not enough.
    code, out = await _run(*make, env=env)
    assert code == 2 and "usage: make admin USER=name" in out, out
    await _problem(await api.get("/v1/admin/reports", token=moddy.token), 403)

    code, out = await _run(*make, "USER=moddy", env=env)
    assert code == 0 and "moddy is an admin" in out, out
    assert (await api.get("/v1/admin/reports", token=moddy.token)).status == 200
    code, out = await _run(*make, "USER=moddy", env=env)
    assert code == 0 and "already" in out, out
    code, out = await _run(sys.executable, "-m", "db.admin", "list", env=env)
    assert (code, out.split()) == (0, ["moddy"])

    code, out = await _run(*make, "USER=moddy", "REVOKE=1", env=env)
    assert code == 0 and "moddy is not an admin" in out, out
    await _problem(await api.get("/v1/admin/reports", token=moddy.token), 403)

    code, out = await _run(sys.executable, "-m", "db.admin", "grant", "nobody_here", env=env)
    assert code == 1 and "no user named 'nobody_here'" in out, out
    # Each change, without an admin, in the audit log.
    rows = await pool.fetch(
        "SELECT action, admin_id, target_id FROM moderation_actions ORDER BY at"
    )
    assert [(r["action"], r["admin_id"], str(r["target_id"])) for r in rows] == [
        ("grant_admin", None, moddy.id),
        ("revoke_admin", None, moddy.id),
    ]


# The queue ---------------------------------------------------------------------------------------


async def test_the_queue_shows_each_target_with_its_counts(api: Api, pool: asyncpg.Pool) -> None:
    author = await api.register("author")
    r1, r2, r3 = [await api.register(n) for n in ("rep_one", "rep_two", "rep_three")]
    admin = await _admin(api, pool)
    post = await new_post(api, author, "questionable")
    comment = await new_comment(api, author, post, "rude words")
    first = await _filed(api, r1, "post", post, reason="spam")
    await _filed(api, r2, "post", post, reason="hate")
    newest_on_post = await _filed(api, r3, "post", post, reason="spam", comment="again")
    await _filed(api, r1, "user", author.id, reason="harassment")
    await _filed(api, r2, "comment", comment, reason="other")

    page = await _queue(api, admin)
    assert len(page["items"]) == 5 and page["next_cursor"] is None
    item = next(i for i in page["items"] if i["id"] == newest_on_post)
    assert item["reporter"] == {"id": r3.id, "username": "rep_three"}
    assert item["comment"] == "again" and item["resolution"] is None
    assert item["counts"] == {"reports": 3, "reporters": 3, "reasons": {"spam": 2, "hate": 1}}
    owner = {"id": author.id, "username": "author", "is_active": True, "suspended_at": None}
    assert item["target"] == {
        "type": "post",
        "id": post,
        "exists": True,
        "owner": owner,
        "text": "questionable",
        "display_name": None,
        "post_id": post,
        "image_url": None,
        "hidden_at": None,
        "removed_at": None,
    }

    grouped = await _queue(api, admin, grouped=True)
    assert [i["target"]["type"] for i in grouped["items"]] == ["comment", "user", "post"]
    assert grouped["items"][2]["id"] == newest_on_post  # a target's newest report stands for it
    [on_comment] = (await _queue(api, admin, target_type="comment"))["items"]
    assert on_comment["target"]["text"] == "rude words" and on_comment["target"]["post_id"] == post
    [on_user] = (await _queue(api, admin, target_type="user"))["items"]
    assert on_user["target"]["display_name"] == "author" and on_user["target"]["owner"] == owner

    seen, cursor = [], None
    while True:
        got = await _queue(api, admin, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [i["id"] for i in got["items"]]
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in page["items"]]

    assert (await _queue(api, admin, status="resolved"))["items"] == []
    done = await _resolved(api, admin, first, "dismiss", note="fine by the rules")
    assert done["action"]["reports_resolved"] == 3
    resolved = await _queue(api, admin, status="resolved")
    assert {i["target"]["id"] for i in resolved["items"]} == {post}
    assert len(resolved["items"]) == 3
    assert all(i["status"] == "resolved" and i["resolved_at"] for i in resolved["items"])
    assert resolved["items"][0]["resolution"] == {
        "action": "dismiss",
        "note": "fine by the rules",
        "admin_id": admin.id,
    }
    assert resolved["items"][0]["counts"]["reports"] == 3
    assert len((await _queue(api, admin))["items"]) == 2
    await _problem(await _queue_raw(api, admin, "status=closed"), 422)
    await _problem(await _queue_raw(api, admin, "cursor=nonsense"), 422)


async def _queue_raw(api: Api, admin: User, query: str) -> aiohttp.ClientResponse:
    return await api.get(f"/v1/admin/reports?{query}", token=admin.token)


async def test_resolving_twice_is_409_and_unknown_reports_404(api: Api, pool: asyncpg.Pool) -> None:
    author, reporter, other = [await api.register(n) for n in ("author", "reporter", "other")]
    admin = await _admin(api, pool)
    post = await new_post(api, author)
    one = await _filed(api, reporter, "post", post)
    two = await _filed(api, other, "post", post)
    # Two admins at once on two reports of one target: one action resolves both.
    answers = await asyncio.gather(
        _resolve(api, admin, one, "dismiss"), _resolve(api, admin, two, "dismiss")
    )
    assert sorted(r.status for r in answers) == [200, 409]
    assert len(await _actions(pool, "dismiss")) == 1
    await _problem(await _resolve(api, admin, str(uuid.uuid4()), "dismiss"), 404)
    await _problem(await _resolve(api, admin, "not-an-id", "dismiss"), 404)
    problem = await _problem(await _resolve(api, admin, one, "ban"), 422)
    assert problem["errors"][0]["field"] == "action"
    # An account is not content; an admin does not suspend itself.
    on_user = await _filed(api, reporter, "user", author.id)
    problem = await _problem(await _resolve(api, admin, on_user, "remove_content"), 422)
    assert problem["errors"][0]["field"] == "action"
    on_admin = await _filed(api, reporter, "post", await new_post(api, admin, "admin's own"))
    await _problem(await _resolve(api, admin, on_admin, "suspend_user"), 422)
    assert await pool.fetchval("SELECT count(*) FROM reports WHERE status = 'open'") == 2


# Removing content --------------------------------------------------------------------------------


async def test_remove_content_takes_a_post_away_from_everyone(
    api: Api, pool: asyncpg.Pool, sio_connect: Any, run_jobs: Any
) -> None:
    author, follower, reporter = [await api.register(n) for n in ("author", "fan", "reporter")]
    admin = await _admin(api, pool)
    await _follow(api, follower, author)
    post = await new_post(api, author, "bad")
    await new_post(api, author, "fine")
    await new_comment(api, follower, post)
    assert (await api.put(f"/v1/posts/{post}/like", token=follower.token)).status == 200
    # The follower's home timeline is built and holds the post.
    assert await _captions(api, follower, "/v1/feed") == ["fine", "bad"]
    await run_jobs()
    assert await _captions(api, follower, "/v1/feed") == ["fine", "bad"]
    watcher = await sio_connect(follower.token)
    left = EventLog(watcher, "post:unsubscribed")
    assert (await watcher.call("subscribe", {"post_id": post}, timeout=5))["ok"]

    report = await _filed(api, reporter, "post", post, reason="nudity")
    done = await _resolved(api, admin, report, "remove_content", note="  nudity  ")
    assert done["report"]["status"] == "resolved" and done["report"]["resolved_at"]
    action = done["action"]
    assert uuid.UUID(action.pop("id")) and action.pop("at").endswith("Z")
    assert action == {
        "admin_id": admin.id,
        "action": "remove_content",
        "target_type": "post",
        "target_id": post,
        "user_id": author.id,
        "report_id": report,
        "reports_resolved": 1,
        "note": "nudity",
    }

    for who in (author, follower, reporter, admin):
        await _problem(await api.get(f"/v1/posts/{post}", token=who.token), 404)
    for who in (author, follower):
        assert await _captions(api, who, "/v1/feed") == ["fine"]
        assert await _captions(api, who, "/v1/posts?author=author") == ["fine"]
    assert await _captions(api, author, "/v1/posts") == ["fine"]
    feed = await db_posts.feed(pool, uuid.UUID(follower.id), None, 20)  # without timelines
    assert [r["caption"] for r in feed] == ["fine"]
    assert await _post_count(api, follower, "author") == 1
    for method, path, body in [
        ("PUT", f"/v1/posts/{post}/like", None),
        ("DELETE", f"/v1/posts/{post}/like", None),
        ("GET", f"/v1/posts/{post}/comments", None),
        ("POST", f"/v1/posts/{post}/comments", {"body": "still here?"}),
    ]:
        await _problem(await api.request(method, path, token=follower.token, json=body), 404)
    await _problem(await api.delete(f"/v1/posts/{post}", token=author.token), 404)
    await _problem(await _report(api, follower, "post", post), 404)
    # Its watchers left the room; it cannot be watched again.
    [gone] = await left.wait_for(1)
    assert gone == {"post_id": post, "reason": "access_lost"}
    assert not (await watcher.call("subscribe", {"post_id": post}, timeout=5))["ok"]
    await run_jobs()  # the removal also leaves the timelines
    assert await _captions(api, follower, "/v1/feed") == ["fine"]
    assert await pool.fetchval("SELECT removed_at IS NOT NULL FROM posts WHERE id = $1", post)
    [row] = await _actions(pool, "remove_content")
    assert (str(row["admin_id"]), str(row["report_id"])) == (admin.id, report)


async def test_remove_content_takes_a_comment_away(
    api: Api, pool: asyncpg.Pool, sio_connect: Any
) -> None:
    author, commenter, reporter = [await api.register(n) for n in ("author", "loud", "reporter")]
    admin = await _admin(api, pool)
    post = await new_post(api, author)
    rude = await new_comment(api, commenter, post, "rude")
    await new_comment(api, reporter, post, "kind")
    watcher = await sio_connect(author.token)
    deleted = EventLog(watcher, "post:comment_deleted")
    assert (await watcher.call("subscribe", {"post_id": post}, timeout=5))["ok"]

    report = await _filed(api, reporter, "comment", rude, reason="harassment")
    await _resolved(api, admin, report, "remove_content")
    for who in (commenter, author, reporter):
        r = await api.get(f"/v1/posts/{post}/comments", token=who.token)
        assert [c["body"] for c in (await r.json())["items"]] == ["kind"]
        r = await api.get(f"/v1/posts/{post}", token=who.token)
        assert (await r.json())["comment_count"] == 1
    await _problem(await api.delete(f"/v1/comments/{rude}", token=commenter.token), 404)
    await _problem(await api.delete(f"/v1/comments/{rude}", token=author.token), 404)
    await _problem(await _report(api, author, "comment", rude), 404)
    [event] = await deleted.wait_for(1)
    assert event == {"post_id": post, "comment_id": rude, "comment_count": 1}
    # Deleting the commenter's account leaves the count alone: the comment had already left it.
    r = await api.request("DELETE", "/v1/me", token=commenter.token, json={"password": PASSWORD})
    assert r.status == 202, await r.text()
    r = await api.get(f"/v1/posts/{post}", token=author.token)
    assert (await r.json())["comment_count"] == 1


# Suspending accounts -----------------------------------------------------------------------------


async def test_suspend_user_ends_its_sessions_at_once_until_lifted(
    api: Api, pool: asyncpg.Pool, sio_connect: Any
) -> None:
    offender, reporter = await api.register("offender"), await api.register("reporter")
    admin = await _admin(api, pool)
    post = await new_post(api, offender, "mean")
    other_report = await _filed(api, admin, "post", post, reason="harassment")
    report = await _filed(api, reporter, "post", post, reason="harassment")
    on_account = await _filed(api, reporter, "user", offender.id, reason="harassment")
    socket = await sio_connect(offender.token)
    ended = EventLog(socket, "session:ended")
    watcher = await sio_connect(reporter.token)
    left = EventLog(watcher, "post:unsubscribed")
    assert (await watcher.call("subscribe", {"post_id": post}, timeout=5))["ok"]

    done = await _resolved(api, admin, report, "suspend_user", note="repeated harassment")
    assert done["action"]["user_id"] == offender.id
    assert done["action"]["reports_resolved"] == 2  # both reports on the post
    problem = await _problem(await api.get("/v1/me", token=offender.token), 401)
    assert "suspended" in problem["detail"]
    assert await _ended(socket, ended) == "account_suspended"
    [gone] = await left.wait_for(1)
    assert gone["post_id"] == post
    r = await api.post("/v1/auth/refresh", json={"refresh_token": offender.refresh_token})
    await _problem(r, 401)
    login = {"login": "offender", "password": PASSWORD}
    await _problem(await api.post("/v1/auth/login", json=login), 401)
    await _problem(await api.get("/v1/users/offender", token=reporter.token), 404)
    await _problem(await api.get(f"/v1/posts/{post}", token=reporter.token), 404)
    await _problem(await _report(api, admin, "user", offender.id), 404)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_connect(offender.token)
    row = await pool.fetchrow(
        "SELECT is_active, suspended_at FROM users WHERE id = $1", uuid.UUID(offender.id)
    )
    assert row["is_active"] is False and row["suspended_at"] is not None
    live = "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL"
    assert await pool.fetchval(live, uuid.UUID(offender.id)) == 0
    status = "SELECT status FROM reports WHERE id = $1"
    assert await pool.fetchval(status, uuid.UUID(other_report)) == "resolved"
    assert await pool.fetchval(status, uuid.UUID(on_account)) == "open"  # another target

    # An admin lifts it: the account signs in again; its old sessions stay ended.
    r = await api.post("/v1/admin/users/offender/unsuspend", token=admin.token, json={"note": "ok"})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["user"] == {
        "id": offender.id,
        "username": "offender",
        "is_active": True,
        "suspended_at": None,
    }
    assert body["action"]["action"] == "unsuspend_user" and body["action"]["note"] == "ok"
    assert body["action"]["admin_id"] == admin.id
    await _problem(await api.post("/v1/admin/users/offender/unsuspend", token=admin.token), 409)
    await _problem(await api.post("/v1/admin/users/nobody_x/unsuspend", token=admin.token), 404)
    await _problem(await api.get("/v1/me", token=offender.token), 401)
    r = await api.post("/v1/auth/login", json=login)
    assert r.status == 200, await r.text()
    fresh = (await r.json())["access_token"]
    assert (await api.get("/v1/me", token=fresh)).status == 200
    assert (await api.get(f"/v1/posts/{post}", token=reporter.token)).status == 200
    by_admins = "SELECT action FROM moderation_actions WHERE admin_id IS NOT NULL ORDER BY at"
    assert [r["action"] for r in await pool.fetch(by_admins)] == ["suspend_user", "unsuspend_user"]


# Hidden by reports -------------------------------------------------------------------------------


async def test_a_post_reported_by_enough_accounts_is_hidden_until_reviewed(
    api: Api, pool: asyncpg.Pool, settings: Settings
) -> None:
    n = settings.report_hide_threshold
    assert n == 5  # the default
    author, fan = await api.register("author"), await api.register("fan")
    admin = await _admin(api, pool)
    await _follow(api, fan, author)
    post = await new_post(api, author, "contested")
    reporters = await _quick_users(pool, api, n + 1, "rep")
    # One account reporting again and again is one reporter.
    statuses = [(await _report(api, reporters[0], "post", post)).status for _ in range(n)]
    assert statuses == [201] + [200] * (n - 1)
    for reporter in reporters[1 : n - 1]:
        await _filed(api, reporter, "post", post)
    assert (await api.get(f"/v1/posts/{post}", token=fan.token)).status == 200
    assert await _post_count(api, fan, "author") == 1

    await _filed(api, reporters[n - 1], "post", post)  # the n-th distinct account
    await _problem(await api.get(f"/v1/posts/{post}", token=fan.token), 404)
    assert await _captions(api, fan, "/v1/feed") == []
    assert await _captions(api, fan, "/v1/posts?author=author") == []
    assert await _post_count(api, fan, "author") == 0
    await _problem(await _report(api, reporters[n], "post", post), 404)
    # Its author still sees it, pending review.
    assert (await api.get(f"/v1/posts/{post}", token=author.token)).status == 200
    assert await _captions(api, author, "/v1/posts") == ["contested"]
    assert await _captions(api, author, "/v1/feed") == ["contested"]
    [hide] = await _actions(pool, "hide")
    assert hide["admin_id"] is None and hide["note"] == f"{n} accounts reported it"
    [item] = (await _queue(api, admin, grouped=True))["items"]
    assert item["target"]["hidden_at"] is not None and item["counts"]["reporters"] == n

    done = await _resolved(api, admin, item["id"], "dismiss")
    assert done["action"]["reports_resolved"] == n
    assert (await api.get(f"/v1/posts/{post}", token=fan.token)).status == 200
    assert await _captions(api, fan, "/v1/feed") == ["contested"]
    assert await _post_count(api, fan, "author") == 1


async def test_a_comment_reported_by_enough_accounts_is_hidden_but_from_its_author(
    api: Api, pool: asyncpg.Pool, settings: Settings
) -> None:
    n = settings.report_hide_threshold
    author, commenter = await api.register("author"), await api.register("commenter")
    admin = await _admin(api, pool)
    post = await new_post(api, author)
    comment = await new_comment(api, commenter, post, "borderline")
    reporters = await _quick_users(pool, api, n, "rep")
    # Reported all at once: exactly one of them hides it, and the count drops once.
    answers = await asyncio.gather(*(_report(api, u, "comment", comment) for u in reporters))
    assert [r.status for r in answers] == [201] * n
    assert len(await _actions(pool, "hide")) == 1

    async def bodies(who: User) -> list[str]:
        r = await api.get(f"/v1/posts/{post}/comments", token=who.token)
        return [c["body"] for c in (await r.json())["items"]]

    assert await bodies(author) == [] and await bodies(reporters[0]) == []
    assert await bodies(commenter) == ["borderline"]
    r = await api.get(f"/v1/posts/{post}", token=author.token)
    assert (await r.json())["comment_count"] == 0
    # The post's owner cannot delete what it cannot see; its author can (the count stays 0).
    await _problem(await api.delete(f"/v1/comments/{comment}", token=author.token), 404)
    [item] = (await _queue(api, admin, grouped=True))["items"]
    await _resolved(api, admin, item["id"], "dismiss")
    assert await bodies(author) == ["borderline"]
    r = await api.get(f"/v1/posts/{post}", token=author.token)
    assert (await r.json())["comment_count"] == 1


async def test_report_hide_threshold_comes_from_the_environment() -> None:
    assert Settings.from_env({"REPORT_HIDE_THRESHOLD": "3"}).report_hide_threshold == 3
    assert Settings().report_hide_threshold == 5


# Schema and documents ----------------------------------------------------------------------------


MODERATION_CHECKS = {
    "reports_target_type_valid": vocab.REPORT_TARGETS,
    "reports_reason_valid": vocab.REPORT_REASONS,
    "moderation_actions_action_valid": vocab.MODERATION_ACTIONS,
    "moderation_actions_target_type_valid": vocab.REPORT_TARGETS,
}


@pytest.mark.parametrize("constraint", sorted(MODERATION_CHECKS))
async def test_schema_checks_list_the_moderation_vocabulary(
    pool: asyncpg.Pool, constraint: str
) -> None:
    definition = await pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", constraint
    )
    assert definition is not None, constraint
    found = sorted(set(re.findall(r"'([a-z_]+)'::text", definition)))
    assert found == sorted(MODERATION_CHECKS[constraint])


def _untyped_objects(schema: Any, components: dict[str, Any], seen: set[str]) -> list[str]:
    """Objects reachable from `schema` that say nothing of their members."""
    out: list[str] = []
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                out += _untyped_objects(components[name], components, seen)
            return out
        if schema.get("type") == "object" and "properties" not in schema:
            extra = schema.get("additionalProperties")
            if not isinstance(extra, dict) or not extra:
                out.append(str(schema))
        for value in schema.values():
            out += _untyped_objects(value, components, seen)
    elif isinstance(schema, list):
        for value in schema:
            out += _untyped_objects(value, components, seen)
    return out


async def test_the_moderation_endpoints_are_typed_in_openapi(api: Api) -> None:
    doc = await (await api.get("/openapi.json")).json()
    components = doc["components"]["schemas"]
    operations = {
        ("post", "/v1/reports"): ("201", {"200", "401", "404", "422", "429"}),
        ("get", "/v1/admin/reports"): ("200", {"401", "403", "422"}),
        ("post", "/v1/admin/reports/{id}/resolve"): ("200", {"401", "403", "404", "409", "422"}),
        ("post", "/v1/admin/users/{username}/unsuspend"): ("200", {"401", "403", "404", "409"}),
        ("get", "/v1/admin/actions"): ("200", {"401", "403", "422"}),
    }
    for (method, path), (ok, others) in operations.items():
        op = doc["paths"][path][method]
        assert set(op["responses"]) >= {ok, *others}, (path, sorted(op["responses"]))
        schema = op["responses"][ok]["content"]["application/json"]["schema"]
        assert "$ref" in schema, path
        assert _untyped_objects(op, components, set()) == [], path
        if method == "post":
            assert "$ref" in op["requestBody"]["content"]["application/json"]["schema"], path
    report_in = components["ReportIn"]["properties"]
    assert report_in["reason"]["enum"] == list(vocab.REPORT_REASONS)
    assert report_in["target_type"]["enum"] == list(vocab.REPORT_TARGETS)
