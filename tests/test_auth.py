"""Accounts and tokens: register, login, refresh rotation and reuse detection, logout,
throttling, forged tokens."""

from __future__ import annotations

import time
import uuid

import asyncpg
import jwt
import pytest

from server import throttle
from tests.conftest import Api


async def _count_users(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM users")


async def test_register_returns_user_and_working_tokens(api: Api) -> None:
    r = await api.post(
        "/v1/auth/register",
        json={
            "email": "Ada@Example.com",
            "username": "ada_l",
            "password": "analytical engine 1843",
        },
    )
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["user"]["username"] == "ada_l" and body["user"]["email"] == "Ada@Example.com"
    assert body["token_type"] == "Bearer" and body["expires_in"] == api.settings.access_token_ttl
    me = await api.get("/v1/me", token=body["access_token"])
    assert me.status == 200, await me.text()
    assert (await me.json())["id"] == body["user"]["id"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"sub", "exp", "iat", "iss", "aud", "sid"}
    assert "email" not in claims and "password" not in str(claims)


@pytest.mark.parametrize(("field", "value"), [("email", "ADA@example.COM"), ("username", "ADA")])
async def test_email_and_username_are_unique_regardless_of_case(
    api: Api, pool: asyncpg.Pool, field: str, value: str
) -> None:
    await api.register("ada")
    before = await _count_users(pool)
    body = {"email": "other@example.com", "username": "other", "password": "distinct phrase 42"}
    body[field] = value
    r = await api.post("/v1/auth/register", json=body)
    assert r.status == 409, await r.text()
    problem = await r.json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert problem["errors"][0]["field"] == field
    assert await _count_users(pool) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"username": "a"}, "username"),
        ({"username": "has space"}, "username"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "aaaaaaaaaaaa"}, "password"),
        ({"password": "xx grace_h xx"}, "password"),
        ({"is_verified": True}, "is_verified"),
    ],
)
async def test_register_rejects_bad_input(
    api: Api, pool: asyncpg.Pool, body: dict[str, object], field: str
) -> None:
    payload = {
        "email": "grace@example.com",
        "username": "grace_h",
        "password": "cobol compiler 1959",
        **body,
    }
    r = await api.post("/v1/auth/register", json=payload)
    assert r.status == 422, await r.text()
    assert field in [e["field"] for e in (await r.json())["errors"]]
    assert await _count_users(pool) == 0


async def test_malformed_json_is_a_400_problem(api: Api) -> None:
    for raw in (b"{not json", b"\xff\xfe\x00", b'{"a":' * 5000):
        r = await api.post(
            "/v1/auth/register", data=raw, headers={"Content-Type": "application/json"}
        )
        assert r.status == 400, await r.text()
        assert (await r.json())["status"] == 400


async def test_login_with_email_or_username(api: Api) -> None:
    await api.register("linus")
    for login in ("linus", "LINUS", "linus@example.com", "Linus@Example.com"):
        r = await api.post(
            "/v1/auth/login", json={"login": login, "password": "correct horse battery"}
        )
        assert r.status == 200, (login, await r.text())
        assert (await r.json())["user"]["username"] == "linus"


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    await api.register("linus")
    a = await api.post("/v1/auth/login", json={"login": "linus", "password": "wrong one!!"})
    b = await api.post("/v1/auth/login", json={"login": "nobody", "password": "wrong one!!"})
    assert a.status == b.status == 401
    assert (await a.json())["detail"] == (await b.json())["detail"]


async def test_refresh_rotates_and_the_old_token_stops_working(api: Api) -> None:
    user = await api.register("rot")
    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status == 200, await r.text()
    fresh = await r.json()
    assert fresh["refresh_token"] != user.refresh_token
    me = await api.get("/v1/me", token=fresh["access_token"])
    assert me.status == 200
    again = await api.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert again.status == 200


async def test_reusing_a_rotated_token_revokes_the_whole_family(api: Api) -> None:
    user = await api.register("victim")
    other_login = await api.post(
        "/v1/auth/login", json={"login": "victim", "password": "correct horse battery"}
    )
    other_session = (await other_login.json())["refresh_token"]

    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    stolen_next = (await r.json())["refresh_token"]
    # The old token shows up again: someone kept a copy.
    reuse = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status == 401
    assert "already used" in (await reuse.json())["detail"]
    # Every token of that family is dead now, including the newest one ...
    r = await api.post("/v1/auth/refresh", json={"refresh_token": stolen_next})
    assert r.status == 401
    # ... but the session from the separate login is untouched.
    r = await api.post("/v1/auth/refresh", json={"refresh_token": other_session})
    assert r.status == 200, await r.text()


async def test_unknown_and_expired_refresh_tokens(api: Api, pool: asyncpg.Pool) -> None:
    user = await api.register("exp")
    r = await api.post("/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert r.status == 401
    await pool.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status == 401


async def test_logout_revokes_this_session_only(api: Api) -> None:
    user = await api.register("bye")
    second = await api.post(
        "/v1/auth/login", json={"login": "bye", "password": "correct horse battery"}
    )
    second_refresh = (await second.json())["refresh_token"]
    r = await api.post("/v1/auth/logout", token=user.token)
    assert r.status == 204, await r.text()
    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status == 401
    r = await api.post("/v1/auth/refresh", json={"refresh_token": second_refresh})
    assert r.status == 200


async def test_logout_by_refresh_token_in_body(api: Api) -> None:
    user = await api.register("bye2")
    r = await api.post(
        "/v1/auth/logout", token=user.token, json={"refresh_token": user.refresh_token}
    )
    assert r.status == 204
    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status == 401


def _forge(api: Api, kind: str, sub: str) -> str:
    s = api.settings
    now = int(time.time())
    claims = {
        "sub": sub,
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "iat": now,
        "exp": now + 300,
        "typ": "access",
    }
    if kind == "wrong_key":
        return jwt.encode(claims, "x" * 40, algorithm="HS256")
    if kind == "alg_none":
        return jwt.encode(claims, None, algorithm="none")
    if kind == "expired":
        return jwt.encode({**claims, "iat": now - 900, "exp": now - 60}, s.jwt_secret)
    if kind == "wrong_audience":
        return jwt.encode({**claims, "aud": "another-app"}, s.jwt_secret)
    if kind == "wrong_issuer":
        return jwt.encode({**claims, "iss": "someone"}, s.jwt_secret)
    if kind == "refresh_typ":
        return jwt.encode({**claims, "typ": "refresh"}, s.jwt_secret)
    if kind == "no_exp":
        claims.pop("exp")
        return jwt.encode(claims, s.jwt_secret)
    return "garbage"


@pytest.mark.parametrize(
    "kind",
    [
        "wrong_key",
        "alg_none",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "refresh_typ",
        "no_exp",
        "garbage",
    ],
)
async def test_forged_access_tokens_are_refused(api: Api, kind: str) -> None:
    user = await api.register("target")
    r = await api.get("/v1/me", token=_forge(api, kind, user.id))
    assert r.status == 401, await r.text()
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_account_throttle_gives_429_with_retry_after(api: Api) -> None:
    await api.register("guessme")
    for _ in range(throttle.ACCOUNT.attempts):
        r = await api.post("/v1/auth/login", json={"login": "guessme", "password": "nope nope"})
        assert r.status == 401
    # Even the right password is refused now: the guesser learns nothing more.
    r = await api.post(
        "/v1/auth/login", json={"login": "GuessMe", "password": "correct horse battery"}
    )
    assert r.status == 429, await r.text()
    assert 0 < int(r.headers["Retry-After"]) <= throttle.ACCOUNT.window


async def test_address_throttle_spans_accounts(api: Api) -> None:
    for i in range(throttle.ADDRESS.attempts):
        r = await api.post("/v1/auth/login", json={"login": f"spray{i}", "password": "nope nope"})
        assert r.status == 401
    r = await api.post("/v1/auth/login", json={"login": "fresh-name", "password": "nope nope"})
    assert r.status == 429
    assert int(r.headers["Retry-After"]) > 0


async def test_successful_login_clears_the_account_counter(api: Api) -> None:
    await api.register("forgetful")
    for _ in range(throttle.ACCOUNT.attempts - 1):
        await api.post("/v1/auth/login", json={"login": "forgetful", "password": "nope nope"})
    ok = await api.post(
        "/v1/auth/login", json={"login": "forgetful", "password": "correct horse battery"}
    )
    assert ok.status == 200
    r = await api.post("/v1/auth/login", json={"login": "forgetful", "password": "nope nope"})
    assert r.status == 401


async def test_disabled_account_cannot_sign_in(api: Api, pool: asyncpg.Pool) -> None:
    user = await api.register("gone")
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", uuid.UUID(user.id))
    r = await api.post(
        "/v1/auth/login", json={"login": "gone", "password": "correct horse battery"}
    )
    assert r.status == 401
    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status == 401


async def test_tokens_of_disabled_or_deleted_accounts_stop_working(
    api: Api, pool: asyncpg.Pool
) -> None:
    disabled, deleted = await api.register("disabled"), await api.register("deleted")
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", uuid.UUID(disabled.id))
    await pool.execute("DELETE FROM users WHERE id = $1", uuid.UUID(deleted.id))
    for user in (disabled, deleted):
        r = await api.get("/v1/me", token=user.token)
        assert r.status == 401, await r.text()
        r = await api.post("/v1/posts", token=user.token, json={"caption": "ghost"})
        assert r.status == 401
    assert await pool.fetchval("SELECT count(*) FROM posts") == 0
