"""Hardening: security headers on every answer, a Server header without versions, cross-origin
browsers only from configured origins (HTTP and Socket.IO), and comment deletion that does not
tell whether a post one cannot see exists."""

from __future__ import annotations

import json
import uuid

import pytest
import socketio
from aiohttp import ClientResponse

from drape.settings import Settings
from tests.conftest import Api, RunningApp

APP = "https://app.example"
EVIL = "https://evil.example"
LOCAL = "http://localhost:5173"
PASSWORD = "correct horse battery"


def assert_hardened(name: str, r: ClientResponse) -> None:
    h = r.headers
    assert h.get("X-Content-Type-Options") == "nosniff", name
    assert h.get("X-Frame-Options") == "DENY", name
    assert "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""), name
    assert h.get("Referrer-Policy") == "no-referrer", name
    assert h.get("Server") == "drape", (name, h.get("Server"))


async def test_every_answer_is_hardened(api: Api) -> None:
    body = {"email": "alice@example.com", "username": "alice", "password": PASSWORD}
    register = await api.post("/v1/auth/register", json=body)
    assert register.status == 201, await register.text()
    session = await register.json()
    login = await api.post("/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    assert login.status == 200, await login.text()
    refresh = await api.post(
        "/v1/auth/refresh", json={"refresh_token": (await login.json())["refresh_token"]}
    )
    assert refresh.status == 200, await refresh.text()
    token = session["access_token"]
    me = await api.get("/v1/me", token=token)
    profile = await api.get("/v1/me/profile", token=token)
    problem = await api.get(f"/v1/posts/{uuid.uuid4()}", token=token)
    assert problem.status == 404 and problem.content_type == "application/problem+json"
    answers = {
        "register": register,
        "login": login,
        "refresh": refresh,
        "me": me,
        "me/profile": profile,
        "problem": problem,
        "unauthorized": await api.get("/v1/me"),
        "no such route": await api.get("/nope"),
        "wrong method": await api.request("PATCH", "/healthz"),
        "healthz": await api.get("/healthz"),
        "openapi": await api.get("/openapi.json"),
        "docs": await api.get("/docs/"),
        "docs script": await api.get("/docs/static/swagger-ui-bundle.js"),
    }
    for name, r in answers.items():
        assert_hardened(name, r)
    for name in ("register", "login", "refresh", "me", "me/profile", "unauthorized"):
        assert "no-store" in answers[name].headers.get("Cache-Control", ""), name
    # API answers allow nothing to run; the docs page keeps its scripts and styles.
    assert "default-src 'none'" in me.headers["Content-Security-Policy"]
    docs = answers["docs"]
    assert docs.status == 200 and answers["docs script"].status == 200
    assert docs.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


async def _preflight(api: Api, origin: str, path: str = "/v1/me") -> ClientResponse:
    return await api.request(
        "OPTIONS",
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


async def _sio(base: str, token: str, origin: str | None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        base,
        auth={"token": token},
        headers={"Origin": origin} if origin else {},
        transports=["websocket"],
        wait_timeout=5,
    )
    return client


async def assert_sio_origins(
    api: Api, server: RunningApp, token: str, *, allowed: list[str | None], refused: list[str]
) -> None:
    for origin in refused:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await _sio(server.base, token, origin)
    for origin in allowed:
        client = await _sio(server.base, token, origin)
        assert client.connected, origin
        await client.disconnect()
    # The long-polling transport's handshake, by hand (a polling client takes a ping interval
    # to disconnect); Engine.IO answers CORS there itself, once.
    handshake = "/socket.io/?EIO=4&transport=polling"
    for origin in refused:
        r = await api.get(handshake, headers={"Origin": origin})
        assert r.status == 400 and "Access-Control-Allow-Origin" not in r.headers, origin
    for origin in allowed:
        r = await api.get(handshake, headers={"Origin": origin} if origin else {})
        assert r.status == 200, (origin, await r.text())
        if origin:
            assert r.headers.getall("Access-Control-Allow-Origin") == [origin]
        sid = json.loads((await r.text())[1:])["sid"]
        await api.post(f"{handshake}&sid={sid}", data=b"1")  # an Engine.IO close packet


class TestConfiguredOrigins:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(cors_origins=(APP,))

    async def test_http_answers_only_configured_origins(self, api: Api) -> None:
        pre = await _preflight(api, APP)
        assert pre.status == 204, await pre.text()
        assert pre.headers["Access-Control-Allow-Origin"] == APP
        assert "PATCH" in pre.headers["Access-Control-Allow-Methods"]
        allowed_headers = pre.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed_headers and "content-type" in allowed_headers
        assert "Origin" in pre.headers["Vary"]
        assert int(pre.headers["Access-Control-Max-Age"]) > 0
        ok = await api.get("/healthz", headers={"Origin": APP})
        assert ok.headers["Access-Control-Allow-Origin"] == APP and "Origin" in ok.headers["Vary"]
        # A browser app must be able to read a refusal and its Retry-After.
        problem = await api.get("/v1/me", headers={"Origin": APP})
        assert problem.status == 401 and problem.headers["Access-Control-Allow-Origin"] == APP
        assert "Retry-After" in problem.headers["Access-Control-Expose-Headers"]

        for origin in (EVIL, LOCAL, "null"):
            pre = await _preflight(api, origin)
            assert pre.status == 403, (origin, await pre.text())
            assert "Access-Control-Allow-Origin" not in pre.headers
            r = await api.get("/healthz", headers={"Origin": origin})
            assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
            assert "Origin" in r.headers["Vary"]

    async def test_socketio_refuses_a_foreign_origin(self, api: Api, server: RunningApp) -> None:
        user = await api.register("sio")
        await assert_sio_origins(
            api, server, user.token, allowed=[APP, None], refused=[EVIL, LOCAL]
        )


async def test_development_default_allows_local_origins_only(api: Api, server: RunningApp) -> None:
    assert api.settings.cors_origins == () and api.settings.environment == "development"
    pre = await _preflight(api, LOCAL)
    assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == LOCAL
    assert (await _preflight(api, EVIL)).status == 403
    user = await api.register("dev")
    await assert_sio_origins(
        api, server, user.token, allowed=[LOCAL, "http://127.0.0.1:3000", None], refused=[EVIL]
    )


class TestProduction:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(environment="production")

    async def test_no_origins_configured_means_no_cross_origin_browser(
        self, api: Api, server: RunningApp
    ) -> None:
        assert (await _preflight(api, LOCAL)).status == 403
        assert (await _preflight(api, EVIL)).status == 403
        user = await api.register("prod")
        await assert_sio_origins(api, server, user.token, allowed=[None], refused=[LOCAL, EVIL])


def test_production_refuses_any_origin_and_malformed_ones() -> None:
    secret = {"JWT_SECRET": "a-real-secret-" + uuid.uuid4().hex, "ENVIRONMENT": "production"}
    for origins in ("*", f"{APP},*"):
        with pytest.raises(ValueError, match="CORS_ORIGINS"):
            Settings.from_env({**secret, "CORS_ORIGINS": origins})
    for origin in (f"{APP}/", "app.example", f"{APP}/path"):
        with pytest.raises(ValueError, match="CORS_ORIGINS"):
            Settings(cors_origins=(origin,))
    prod = Settings.from_env({**secret, "CORS_ORIGINS": f"{APP}, https://admin.example"})
    assert prod.allows_origin(APP) and prod.allows_origin("https://admin.example")
    assert not prod.allows_origin(EVIL) and not prod.allows_origin(None)
    assert not Settings.from_env(secret).allows_origin(LOCAL)
    # Development may say "*" outright; by default it allows local origins.
    assert Settings(cors_origins=("*",)).allows_origin(EVIL)
    assert Settings().allows_origin("http://[::1]:8080") and not Settings().allows_origin(EVIL)


async def test_deleting_a_comment_under_a_post_one_cannot_see_is_404(api: Api) -> None:
    alice, bob, eve = [await api.register(n) for n in ("alice", "bob", "eve")]
    r = await api.post("/v1/posts", token=alice.token, json={"caption": "look"})
    post = (await r.json())["id"]
    ids = {}
    for user in (bob, eve):
        r = await api.post(f"/v1/posts/{post}/comments", token=user.token, json={"body": "hi"})
        assert r.status == 201, await r.text()
        ids[user.username] = (await r.json())["id"]
    r = await api.delete(f"/v1/comments/{ids['bob']}", token=eve.token)
    assert r.status == 403, "a visible post's comment: it exists, but is not eve's to delete"

    assert (await api.patch("/v1/me", token=alice.token, json={"is_private": True})).status == 200
    r = await api.delete(f"/v1/comments/{ids['bob']}", token=eve.token)
    assert r.status == 404, await r.text()
    assert (await r.json())["detail"] == "No such comment."
    assert (await api.delete(f"/v1/comments/{uuid.uuid4()}", token=eve.token)).status == 404
    # What one wrote stays one's own to take back; the owner of the post may still clean up.
    assert (await api.delete(f"/v1/comments/{ids['eve']}", token=eve.token)).status == 204
    assert (await api.delete(f"/v1/comments/{ids['bob']}", token=alice.token)).status == 204
    seen = await (await api.get(f"/v1/posts/{post}", token=alice.token)).json()
    assert seen["comment_count"] == 0
