"""Rate limits per account and per client address on what spam is made of (registrations,
comments, likes, follows, job starts), and no repeated notification for a repeated action."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp import ClientResponse
from redis.asyncio import Redis

from drape.settings import Settings
from server import ratelimit
from tests.conftest import Api, User

# Low limits of this module's own (the shared test settings leave address limits off, since all
# test traffic comes from 127.0.0.1). Windows are short so nothing outlives the test.
LIMITS = {
    "rate_register_address": 3,
    "rate_register_window": 60,
    "rate_comment_account": 5,
    "rate_comment_address": 8,
    "rate_comment_window": 60,
    "rate_like_account": 5,
    "rate_like_address": 50,
    "rate_like_window": 60,
    "rate_follow_account": 5,
    "rate_follow_address": 50,
    "rate_follow_window": 60,
    "rate_job_account": 3,
    "rate_job_address": 5,
    "rate_job_window": 60,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(**LIMITS)


async def _quick_users(pool: asyncpg.Pool, api: Api, n: int, prefix: str) -> list[User]:
    """Accounts made in SQL, so that they do not count as registrations."""
    rows = await pool.fetch(
        "INSERT INTO users (email, username, password_hash)"
        " SELECT $1 || g || '@example.com', $1 || g, 'unused' FROM generate_series(1, $2) g"
        " RETURNING id, username",
        prefix,
        n,
    )
    users = [
        User(
            id=str(r["id"]), username=r["username"], token=api.token_for(r["id"]), refresh_token=""
        )
        for r in rows
    ]
    return sorted(users, key=lambda u: u.username)


async def _post(api: Api, user: User) -> str:
    r = await api.post("/v1/posts", token=user.token, json={"caption": "look"})
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def assert_limited(r: ClientResponse, scope: str) -> None:
    assert r.status == 429, await r.text()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    body = await r.json()
    assert body["status"] == 429
    assert f"this {scope}" in body["detail"] and "try again in" in body["detail"], body


async def _notes(pool: asyncpg.Pool, user: User) -> list[tuple[int, str]]:
    rows = await pool.fetch(
        "SELECT seq, type FROM notifications WHERE user_id = $1 ORDER BY seq", uuid.UUID(user.id)
    )
    return [(r["seq"], r["type"]) for r in rows]


async def test_registrations_from_one_address_are_limited(api: Api, pool: asyncpg.Pool) -> None:
    for i in range(3):
        await api.register(f"spam{i}")
    r = await api.post(
        "/v1/auth/register",
        json={"email": "spam3@example.com", "username": "spam3", "password": "correct horse x"},
    )
    await assert_limited(r, "address")
    assert await pool.fetchval("SELECT count(*) FROM users") == 3


class TestBehindAProxy:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(trusted_proxies=("127.0.0.0/8",))

    async def test_the_forwarded_address_is_counted(self, api: Api, pool: asyncpg.Pool) -> None:
        async def register(name: str, forwarded: str) -> ClientResponse:
            body = {"email": f"{name}@example.com", "username": name, "password": "horse x y z"}
            return await api.post(
                "/v1/auth/register", json=body, headers={"X-Forwarded-For": forwarded}
            )

        # What a client puts before the proxy's entry does not change its address.
        for i, spoof in enumerate(["", "192.0.2.1, ", "192.0.2.2, "]):
            r = await register(f"prox{i}", f"{spoof}198.51.100.7")
            assert r.status == 201, await r.text()
        await assert_limited(await register("prox3", "192.0.2.3, 198.51.100.7"), "address")
        r = await register("other", "198.51.100.8, 127.0.0.1")  # through two proxies
        assert r.status == 201, await r.text()
        assert await pool.fetchval("SELECT count(*) FROM users") == 4


async def test_comments_are_limited_per_account_then_per_address(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice, bob, carol = await _quick_users(pool, api, 3, "com")
    post = await _post(api, alice)
    path = f"/v1/posts/{post}/comments"
    burst = await asyncio.gather(
        *(api.post(path, token=bob.token, json={"body": "hi"}) for _ in range(8))
    )
    assert sorted(r.status for r in burst) == [201] * 5 + [429] * 3
    await assert_limited(next(r for r in burst if r.status == 429), "account")
    # Another account from the same address has its own budget, up to the address's 8.
    for _ in range(3):
        r = await api.post(path, token=carol.token, json={"body": "hey"})
        assert r.status == 201, await r.text()
    await assert_limited(await api.post(path, token=carol.token, json={"body": "hey"}), "address")
    counts = await pool.fetchrow(
        "SELECT comment_count, (SELECT count(*) FROM comments WHERE post_id = $1) AS real"
        " FROM posts WHERE id = $1",
        uuid.UUID(post),
    )
    assert counts["comment_count"] == counts["real"] == 8
    # Eight comments by two people: one notification each, seq gap-free.
    assert await _notes(pool, alice) == [(1, "comment"), (2, "comment")]


async def test_like_toggling_is_limited_and_notifies_once(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await _quick_users(pool, api, 2, "lik")
    post = await _post(api, alice)
    path = f"/v1/posts/{post}/like"
    for _ in range(5):
        r = await api.put(path, token=bob.token)
        assert r.status == 200 and (await r.json())["liked"] is True, await r.text()
        r = await api.delete(path, token=bob.token)
        assert r.status == 200 and (await r.json())["liked"] is False, await r.text()
    await assert_limited(await api.put(path, token=bob.token), "account")
    row = await pool.fetchrow(
        "SELECT like_count, (SELECT count(*) FROM likes WHERE post_id = $1) AS real"
        " FROM posts WHERE id = $1",
        uuid.UUID(post),
    )
    assert row["like_count"] == row["real"] == 0
    assert await _notes(pool, alice) == [(1, "like")]


async def test_a_repeat_notifies_again_once_the_window_has_passed(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice, bob = await _quick_users(pool, api, 2, "win")
    post = await _post(api, alice)
    path = f"/v1/posts/{post}/like"
    assert (await api.put(path, token=bob.token)).status == 200
    assert (await api.delete(path, token=bob.token)).status == 200
    await pool.execute("UPDATE notification_marks SET at = at - interval '11 minutes'")
    assert (await api.put(path, token=bob.token)).status == 200
    assert (await api.delete(path, token=bob.token)).status == 200
    assert (await api.put(path, token=bob.token)).status == 200
    assert await _notes(pool, alice) == [(1, "like"), (2, "like")]


async def test_follow_toggling_is_limited_and_notifies_once(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob, carol = await _quick_users(pool, api, 3, "fol")
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", uuid.UUID(carol.id))
    for _ in range(3):
        r = await api.put(f"/v1/users/{alice.username}/follow", token=bob.token)
        assert r.status == 200 and (await r.json())["status"] == "active", await r.text()
        assert (
            await api.delete(f"/v1/users/{alice.username}/follow", token=bob.token)
        ).status == 200
    for _ in range(2):  # a follow request withdrawn and sent again
        r = await api.put(f"/v1/users/{carol.username}/follow", token=bob.token)
        assert r.status == 200 and (await r.json())["status"] == "pending", await r.text()
        assert (
            await api.delete(f"/v1/users/{carol.username}/follow", token=bob.token)
        ).status == 200
    await assert_limited(
        await api.put(f"/v1/users/{alice.username}/follow", token=bob.token), "account"
    )
    assert await pool.fetchval("SELECT count(*) FROM follows") == 0
    assert await _notes(pool, alice) == [(1, "follow")]
    assert await _notes(pool, carol) == [(1, "follow_request")]


async def test_job_starts_share_one_limit(api: Api, pool: asyncpg.Pool, settings: Settings) -> None:
    alice, bob, carol = await _quick_users(pool, api, 3, "job")
    for path in ("/v1/recommendations", "/v1/style-analysis", "/v1/explore"):
        r = await api.post(
            path, token=alice.token, json={} if path == "/v1/recommendations" else None
        )
        assert r.status == 202, await r.text()
    await assert_limited(
        await api.post("/v1/recommendations", token=alice.token, json={}), "account"
    )
    avatar = {"measurements": {"height": 172, "bust": 92, "waist": 74, "hips": 100, "inseam": 79}}
    await assert_limited(await api.post("/v1/avatars", token=alice.token, json=avatar), "account")
    for _ in range(2):
        r = await api.post("/v1/recommendations", token=bob.token, json={})
        assert r.status == 202, await r.text()
    await assert_limited(
        await api.post("/v1/recommendations", token=carol.token, json={}), "address"
    )
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 5
    assert await pool.fetchval("SELECT count(*) FROM avatars") == 0
    redis = Redis.from_url(settings.redis_url)
    try:
        assert await redis.zcard(settings.arq_queue) == 5
    finally:
        await redis.aclose()


async def test_the_limiter_serves_any_action(settings: Settings) -> None:
    """Reports (no endpoint yet) or anything else: one call with the subjects to count."""
    redis = Redis.from_url(settings.redis_url)
    account = ("account", uuid.uuid4().hex, ratelimit.Rate(count=2, window=60))
    address = ("address", "192.0.2.7", ratelimit.Rate(count=3, window=60))
    try:
        assert await ratelimit.consume(redis, ratelimit.Action.REPORT, [account, address]) is None
        assert await ratelimit.consume(redis, ratelimit.Action.REPORT, [account, address]) is None
        refused = await ratelimit.consume(redis, ratelimit.Action.REPORT, [account, address])
        assert refused is not None and refused.scope == "account", refused
        assert 1 <= refused.retry_after <= 30
        # The refused attempt counted against neither: the address has one left.
        other = ("account", uuid.uuid4().hex, ratelimit.Rate(count=2, window=60))
        assert await ratelimit.consume(redis, ratelimit.Action.REPORT, [other, address]) is None
        refused = await ratelimit.consume(redis, ratelimit.Action.REPORT, [other, address])
        assert refused is not None and refused.scope == "address", refused
        keys = {k.decode() async for k in redis.scan_iter("rate:report:*")}
        assert (
            "rate:report:address:192.0.2.7" in keys and f"rate:report:account:{account[1]}" in keys
        )
    finally:
        await redis.aclose()


async def test_a_limit_too_high_to_reach_still_counts(settings: Settings) -> None:
    """A bucket that refills faster than Redis's millisecond (a bench's 10**9 a minute) must
    not make the script fail with an expire time of 0."""
    redis = Redis.from_url(settings.redis_url)
    limit = ("account", uuid.uuid4().hex, ratelimit.Rate(count=10**9, window=60))
    try:
        for _ in range(3):
            assert await ratelimit.consume(redis, ratelimit.Action.LIKE, [limit]) is None
    finally:
        await redis.aclose()


def test_limits_are_settings_with_production_defaults() -> None:
    s = Settings.from_env({"RATE_LIKE_ACCOUNT": "7", "RATE_LIKE_WINDOW": "30"})
    assert ratelimit.rates(s, ratelimit.Action.LIKE).account == ratelimit.Rate(7, 30)
    d = Settings()
    assert ratelimit.rates(d, ratelimit.Action.REGISTER).address == ratelimit.Rate(10, 3600)
    assert ratelimit.rates(d, ratelimit.Action.COMMENT).account == ratelimit.Rate(30, 60)
    assert ratelimit.rates(d, ratelimit.Action.LIKE).account == ratelimit.Rate(120, 60)
    assert ratelimit.rates(d, ratelimit.Action.FOLLOW).account == ratelimit.Rate(60, 60)
    assert ratelimit.rates(d, ratelimit.Action.JOB).account == ratelimit.Rate(20, 600)
    for action in ratelimit.Action:
        rates = ratelimit.rates(d, action)
        assert rates.address.count > 0 and rates.address.count >= rates.account.count
    with pytest.raises(ValueError, match="RATE_JOB_WINDOW"):
        Settings(rate_job_window=0)
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Settings(trusted_proxies=("10.0.0.0/33",))
