"""Push to devices of users without a live socket, against local FCM, APNs and Web Push servers
that speak the real protocols (tests/push_servers.py); the read marker; preferences and quiet
hours."""

from __future__ import annotations

import asyncio
import secrets
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import socketio
from redis.asyncio import Redis

from drape.queue import create_queue
from drape.settings import Settings
from tests.conftest import Api, EventLog, User
from tests.harness import Stack
from tests.push_servers import Providers, push_providers
from tests.social_helpers import new_comment, new_post

Run = Callable[[], Awaitable[int]]


@pytest.fixture
async def providers(tmp_path: Path) -> AsyncIterator[Providers]:
    async with push_providers(tmp_path) as p:
        yield p


@pytest.fixture
def settings(settings: Settings, providers: Providers) -> Settings:
    return settings.with_(**providers.settings())


def fcm_token() -> str:
    return "fcm:" + secrets.token_urlsafe(40)


async def add_device(api: Api, user: User, body: dict[str, Any], status: int = 201) -> str:
    r = await api.post("/v1/me/devices", token=user.token, json=body)
    assert r.status == status, await r.text()
    return str((await r.json())["id"])


async def three_devices(api: Api, user: User, providers: Providers) -> dict[str, str]:
    """An FCM, an APNs and a Web Push device; returns each one's token (subscription id)."""
    tokens = {"fcm": fcm_token(), "apns": secrets.token_hex(32)}
    sub = providers.webpush.subscribe()
    await add_device(api, user, {"platform": "fcm", "token": tokens["fcm"]})
    await add_device(api, user, {"platform": "apns", "token": tokens["apns"]})
    await add_device(api, user, {"platform": "webpush", "subscription": sub.json()})
    return {**tokens, "webpush": sub.id}


async def like(api: Api, user: User, post_id: str) -> None:
    r = await api.put(f"/v1/posts/{post_id}/like", token=user.token)
    assert r.status == 200, await r.text()


async def test_devices_are_registered_listed_and_deleted(api: Api, providers: Providers) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    token = fcm_token()
    first = await add_device(api, ann, {"platform": "fcm", "token": token})
    assert await add_device(api, ann, {"platform": "fcm", "token": token}, status=200) == first
    sub = providers.webpush.subscribe().json()
    await add_device(api, ann, {"platform": "webpush", "subscription": sub})
    r = await api.get("/v1/me/devices", token=ann.token)
    assert r.status == 200, await r.text()
    items = (await r.json())["items"]
    assert sorted(d["platform"] for d in items) == ["fcm", "webpush"]

    bad = [
        {"platform": "fcm"},
        {"platform": "apns", "token": "not-hex"},
        {"platform": "sms", "token": token},
        {"platform": "webpush", "subscription": {**sub, "endpoint": "https://evil.example/x"}},
        {"platform": "webpush", "subscription": {**sub, "keys": {**sub["keys"], "auth": "A" * 20}}},
        {
            "platform": "webpush",
            "subscription": {**sub, "keys": {**sub["keys"], "p256dh": "B" * 87}},
        },
    ]
    for body in bad:
        r = await api.post("/v1/me/devices", token=ann.token, json=body)
        assert r.status == 422, (body, await r.text())
        assert r.content_type == "application/problem+json"
    r = await api.post("/v1/me/devices", json={"platform": "fcm", "token": token})
    assert r.status == 401

    # Bob cannot delete Ann's device; the same token registered by Bob moves to him.
    r = await api.delete(f"/v1/me/devices/{first}", token=bob.token)
    assert r.status == 404, await r.text()
    moved = await add_device(api, bob, {"platform": "fcm", "token": token})
    assert moved != first
    r = await api.get("/v1/me/devices", token=ann.token)
    assert [d["platform"] for d in (await r.json())["items"]] == ["webpush"]
    r = await api.delete(f"/v1/me/devices/{moved}", token=bob.token)
    assert r.status == 204, await r.text()
    r = await api.get("/v1/me/devices", token=bob.token)
    assert (await r.json())["items"] == []


async def test_a_user_without_a_socket_is_pushed_on_every_provider(
    api: Api, providers: Providers, run_jobs: Run, settings: Settings
) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    tokens = await three_devices(api, ann, providers)
    post = await new_post(api, ann)
    await like(api, bob, post)
    assert await run_jobs() >= 1

    fcm, apns, webpush = providers.fcm, providers.apns, providers.webpush
    [f] = fcm.accepted(tokens["fcm"])
    assert fcm.grants and fcm.unauthorized == 0
    message = f.body["message"]
    assert message["notification"]["body"] == "bob liked your post"
    assert message["data"]["badge"] == "1" and message["data"]["post_id"] == post
    assert message["android"]["collapse_key"] == f"like:{post}"
    assert message["apns"]["payload"]["aps"]["badge"] == 1
    assert f.size < 4096

    [a] = apns.accepted(tokens["apns"])
    assert apns.http_versions == {"2"}
    assert a.headers["apns-collapse-id"] == f"like:{post}"
    assert a.headers["apns-push-type"] == "alert"
    assert a.body["aps"]["badge"] == 1
    assert a.body["aps"]["alert"]["body"] == "bob liked your post"
    assert a.size < 4096

    [w] = webpush.accepted(tokens["webpush"])
    assert not webpush.problems
    assert w.body["body"] == "bob liked your post" and w.body["badge"] == "1"
    assert w.body["seq"] == "1" and w.body["group_key"] == f"like:{post}"
    assert 0 < len(w.headers["Topic"]) <= 32
    assert w.size < 4096

    # The same notification queued again (another job id) pushes nothing more.
    queue = await create_queue(settings)
    try:
        await queue.enqueue_job("push_notification", ann.id, 1, _job_id="again")
    finally:
        await queue.aclose()
    assert await run_jobs() == 1
    assert len(fcm.received) == len(apns.received) == len(webpush.received) == 1


async def test_a_user_with_a_socket_is_not_pushed(
    api: Api,
    providers: Providers,
    run_jobs: Run,
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    ann, bob, cat = await api.register("ann"), await api.register("bob"), await api.register("cat")
    tokens = await three_devices(api, ann, providers)
    post = await new_post(api, ann)
    client = await sio_connect(ann.token)
    notes = EventLog(client, "notification")
    await like(api, bob, post)
    await notes.wait_for(1)
    await run_jobs()
    assert providers.fcm.received == providers.apns.received == providers.webpush.received == []

    await client.disconnect()
    await asyncio.sleep(0.2)  # the server's side of the disconnect
    await like(api, cat, post)
    await run_jobs()
    [f] = providers.fcm.accepted(tokens["fcm"])
    assert f.body["message"]["data"]["seq"] == "2"
    assert f.body["message"]["data"]["badge"] == "2"
    assert len(providers.apns.accepted()) == len(providers.webpush.accepted()) == 1


async def test_gone_devices_are_pruned(
    api: Api, providers: Providers, run_jobs: Run, pool: asyncpg.Pool
) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    tokens = await three_devices(api, ann, providers)
    kept = fcm_token()
    await add_device(api, ann, {"platform": "fcm", "token": kept})
    providers.fcm.gone.add(tokens["fcm"])
    providers.apns.gone.add(tokens["apns"])
    providers.webpush.gone.add(tokens["webpush"])
    await like(api, bob, await new_post(api, ann))
    await run_jobs()
    assert [r.status for r in providers.fcm.received if r.token == tokens["fcm"]] == [404]
    assert [r.status for r in providers.apns.received] == [410]
    assert [r.status for r in providers.webpush.received] == [410]
    assert len(providers.fcm.accepted(kept)) == 1
    r = await api.get("/v1/me/devices", token=ann.token)
    assert [d["platform"] for d in (await r.json())["items"]] == ["fcm"]
    assert await pool.fetchval("SELECT count(*) FROM push_devices") == 1


async def test_retry_after_is_honoured_and_only_the_deferred_are_sent_again(
    api: Api, providers: Providers, run_jobs: Run
) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    tokens = await three_devices(api, ann, providers)
    fine = fcm_token()
    await add_device(api, ann, {"platform": "fcm", "token": fine})
    providers.fcm.refuse[tokens["fcm"]] = [(429, "1")]
    providers.apns.refuse[tokens["apns"]] = [(503, "1")]
    providers.webpush.refuse[tokens["webpush"]] = [(429, "2")]
    await like(api, bob, await new_post(api, ann))
    await run_jobs()  # a burst worker waits for the deferred try

    assert len(providers.fcm.received_for(fine)) == 1
    for server, token, wait in (
        (providers.fcm, tokens["fcm"], 1),
        (providers.apns, tokens["apns"], 1),
        (providers.webpush, tokens["webpush"], 2),
    ):
        tries = server.received_for(token)
        assert [t.status for t in tries][-1] in (200, 201), tries
        assert tries[0].status in (429, 503)
        # Every try after the refusal came at least Retry-After later, and exactly one landed.
        assert tries[1].at - tries[0].at >= wait - 0.05
        assert len(server.accepted(token)) == 1


async def test_a_worker_killed_while_pushing_does_not_push_again(
    api: Api,
    providers: Providers,
    run_jobs: Run,
    settings: Settings,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    token = fcm_token()
    await add_device(api, ann, {"platform": "fcm", "token": token})
    providers.fcm.hang.add(token)
    await like(api, bob, await new_post(api, ann))

    # A real worker process takes the job and dies (SIGKILL) while the push is in flight.
    stack = Stack(settings, logdir=tmp_path)
    try:
        worker = await stack.worker(**providers.env(), JOB_TIMEOUT="5")
        await asyncio.wait_for(providers.fcm.arrived.wait(), 60)
        await worker.stop(signal.SIGKILL)
    finally:
        await stack.aclose()
    assert len(providers.fcm.received) == 1
    providers.fcm.hang.clear()  # from now on a push to the device would land, and be seen

    # arq hands the job to another worker once the dead one's claim on it expires.
    redis = Redis.from_url(settings.redis_url)
    try:
        key = f"arq:in-progress:push:{ann.id}:1"
        for _ in range(80):
            if not await redis.exists(key):
                break
            await asyncio.sleep(0.5)
        assert not await redis.exists(key)
        assert await redis.zscore(settings.arq_queue, f"push:{ann.id}:1") is not None
    finally:
        await redis.aclose()
    assert await run_jobs() == 1
    assert len(providers.fcm.received) == 1
    status = await pool.fetchval("SELECT status FROM push_deliveries")
    assert status == "sending"  # claimed by the dead try: never sent again


async def test_read_marker_moves_forward_only_and_reaches_other_sockets(
    api: Api,
    providers: Providers,
    run_jobs: Run,
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    ann = await api.register("ann")
    fans = [await api.register(f"fan{i}") for i in range(4)]
    token = fcm_token()
    await add_device(api, ann, {"platform": "fcm", "token": token})
    post = await new_post(api, ann)
    phone, tablet = await sio_connect(ann.token), await sio_connect(ann.token)
    reads = [EventLog(phone, "notification:read"), EventLog(tablet, "notification:read")]
    for fan in fans[:3]:
        await like(api, fan, post)

    r = await api.get("/v1/notifications/unread-count", token=ann.token)
    assert r.status == 200, await r.text()
    assert await r.json() == {"up_to_seq": 0, "unread_count": 3, "last_seq": 3}

    r = await api.post("/v1/notifications/read", token=ann.token, json={"up_to_seq": 2})
    assert r.status == 200, await r.text()
    assert await r.json() == {"up_to_seq": 2, "unread_count": 1, "last_seq": 3}
    for log in reads:
        assert await log.wait_for(1) == [{"up_to_seq": 2, "unread_count": 1}]

    r = await api.post("/v1/notifications/read", token=ann.token, json={"up_to_seq": 1})
    assert await r.json() == {"up_to_seq": 2, "unread_count": 1, "last_seq": 3}
    for bad in ({"up_to_seq": -1}, {"up_to_seq": "3"}, {}):
        r = await api.post("/v1/notifications/read", token=ann.token, json=bad)
        assert r.status == 422, await r.text()
    r = await api.post("/v1/notifications/read", token=ann.token, json={"up_to_seq": 99})
    assert await r.json() == {"up_to_seq": 3, "unread_count": 0, "last_seq": 3}
    for log in reads:
        assert [e["up_to_seq"] for e in await log.wait_for(2)] == [2, 3]
    await asyncio.sleep(0.2)
    assert all(len(log.items) == 2 for log in reads)  # the refused move back sent nothing

    # The next push's badge counts from the marker.
    await phone.disconnect()
    await tablet.disconnect()
    await asyncio.sleep(0.2)
    await like(api, fans[3], post)
    await run_jobs()
    [f] = providers.fcm.accepted(token)
    assert f.body["message"]["data"]["seq"] == "4"
    assert f.body["message"]["data"]["badge"] == "1"


def quiet_around_now(zone: str) -> dict[str, str]:
    from zoneinfo import ZoneInfo

    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "time_zone": zone}


async def test_preferences_and_quiet_hours(api: Api, providers: Providers, run_jobs: Run) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    token = fcm_token()
    await add_device(api, ann, {"platform": "fcm", "token": token})
    post = await new_post(api, ann)
    r = await api.get("/v1/me/notification-settings", token=ann.token)
    assert r.status == 200, await r.text()
    defaults = await r.json()
    assert defaults["push"]["like"] is True and defaults["quiet_hours"] is None

    body = {"push": {"like": False}}
    r = await api.put("/v1/me/notification-settings", token=ann.token, json=body)
    assert r.status == 200, await r.text()
    saved = await r.json()
    assert saved["push"]["like"] is False and saved["push"]["comment"] is True
    await like(api, bob, post)
    await new_comment(api, bob, post)
    await run_jobs()
    assert [r.body["message"]["data"]["type"] for r in providers.fcm.received] == ["comment"]

    for bad in (
        {"quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "Mars/Olympus"}},
        {"quiet_hours": {"start": "25:00", "end": "07:00", "time_zone": "UTC"}},
        {"push": {"likes": False}},
    ):
        r = await api.put("/v1/me/notification-settings", token=ann.token, json=bad)
        assert r.status == 422, await r.text()
    r = await api.get("/v1/me/notification-settings", token=ann.token)
    assert await r.json() == saved  # refused bodies changed nothing

    quiet = quiet_around_now("Asia/Tokyo")
    r = await api.put("/v1/me/notification-settings", token=ann.token, json={"quiet_hours": quiet})
    assert r.status == 200, await r.text()
    assert (await r.json())["quiet_hours"] == quiet
    await new_comment(api, bob, post, "again")
    await run_jobs()
    assert len(providers.fcm.received) == 1  # quiet hours: nothing more

    away = {**quiet, "start": quiet["end"], "end": quiet["start"]}  # the other 22 hours
    r = await api.put("/v1/me/notification-settings", token=ann.token, json={"quiet_hours": away})
    assert r.status == 200, await r.text()
    cat = await api.register("cat")
    await new_comment(api, cat, post)
    await run_jobs()
    assert len(providers.fcm.received) == 2


async def test_account_purge_removes_devices(
    api: Api, providers: Providers, pool: asyncpg.Pool
) -> None:
    from db import accounts

    ann = await api.register("ann")
    await three_devices(api, ann, providers)
    assert await pool.fetchval("SELECT count(*) FROM push_devices") == 3
    async with pool.acquire() as conn:
        await accounts.close_account(conn, uuid.UUID(ann.id))
        await accounts.purge_rows(conn, uuid.UUID(ann.id))
    assert await pool.fetchval("SELECT count(*) FROM push_devices") == 0


async def test_a_refused_fcm_access_token_is_replaced_by_a_fresh_grant(
    api: Api, providers: Providers, run_jobs: Run
) -> None:
    ann, bob, cat = await api.register("ann"), await api.register("bob"), await api.register("cat")
    token = fcm_token()
    await add_device(api, ann, {"platform": "fcm", "token": token})
    post = await new_post(api, ann)
    providers.fcm.single_use = True  # each access token is refused after its first message
    await like(api, bob, post)
    await like(api, cat, post)
    await run_jobs()  # one worker: its second push meets 401, takes a new grant, tries again
    assert providers.fcm.unauthorized == 1
    assert len(providers.fcm.grants) == 2
    seqs = sorted(r.body["message"]["data"]["seq"] for r in providers.fcm.accepted(token))
    assert seqs == ["1", "2"]
