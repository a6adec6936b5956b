"""Authentication over every route and every Socket.IO event, read from the app itself: a route
or an event added later without a sign-in check fails here without anyone listing it.

Which signed-in user may do what is checked per resource in the resource test files."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from aiohttp import web

from realtime.context import SIO
from server.openapi import OP_ATTR, PATH_PARAM
from tests.conftest import Api, RunningApp
from tests.test_hostile import RawSocket

PUBLIC_V1 = {
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/firebase"),
    ("POST", "/v1/auth/verify-email"),
    ("POST", "/v1/auth/password-reset"),
    ("POST", "/v1/auth/password-reset/confirm"),
}
# Outside /v1 only these; the object routes check a signature of their own instead of a token,
# and profile photos are public like the avatar_url that names them.
OUTSIDE_V1 = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/objects",
    "/objects/{key}",
    "/photos/{id}",
}
OUTSIDE_V1 |= {"/asyncapi.json", "/problems", "/problems/{code}"}  # the client documents
# The docs and the playground are public pages; the playground's script signs in through /v1.
OUTSIDE_V1_PREFIXES = ("/docs", "/socket.io", "/playground")


def _routes(app: web.Application) -> list[tuple[str, str, web.AbstractRoute]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or info.get("prefix") or ""
        out.append((route.method, PATH_PARAM.sub(r"{\1}", path), route))
    return out


def _v1_routes(server: RunningApp) -> list[tuple[str, str, web.AbstractRoute]]:
    routes = [r for r in _routes(server.app) if r[1].startswith("/v1/")]
    assert len(routes) > 50  # the whole API, not an empty router
    return routes


def _fill(path: str, ids: dict[str, str]) -> str:
    for name in PATH_PARAM.findall(path):
        path = path.replace("{" + name + "}", ids.get(name, str(uuid.uuid4())))
    return path


def _tokens(api: Api, user_id: str) -> dict[str, str | None]:
    """Authorization headers that must all count as anonymous."""
    s = api.settings
    now = int(time.time())
    claims = {
        "sub": user_id,
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "typ": "access",
    }
    return {
        "none": None,
        "empty bearer": "Bearer ",
        "garbage": "Bearer not.a.jwt",
        "basic": "Basic ZnV6emVyOmNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==",
        "alg none": "Bearer " + jwt.encode(claims, None, algorithm="none"),
        "wrong key": "Bearer " + jwt.encode(claims, "not-the-secret", algorithm="HS256"),
        "expired": "Bearer "
        + jwt.encode({**claims, "iat": now - 1200, "exp": now - 600}, s.jwt_secret),
        "wrong audience": "Bearer " + jwt.encode({**claims, "aud": "elsewhere"}, s.jwt_secret),
        "not an access token": "Bearer " + jwt.encode({**claims, "typ": "refresh"}, s.jwt_secret),
    }


def test_every_route_is_known(server: RunningApp) -> None:
    """A new route outside /v1 must be added here on purpose; every /v1 route is an
    @endpoint (so it is in /openapi.json and authenticated unless it says otherwise)."""
    for method, path, route in _routes(server.app):
        if path.startswith("/v1/"):
            spec = getattr(route.handler, OP_ATTR, None)
            assert spec is not None, f"{method} {path} is not declared with @endpoint"
            public = (method, path) in PUBLIC_V1
            assert spec.auth is not public, f"{method} {path}: auth={spec.auth}"
        else:
            assert path in OUTSIDE_V1 or path.startswith(OUTSIDE_V1_PREFIXES), (method, path)


async def test_the_document_marks_every_v1_operation_but_sign_in_as_secured(api: Api) -> None:
    doc = await (await api.get("/openapi.json")).json()
    for path, operations in doc["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in operations.items():
            secured = op.get("security") == [{"bearer": []}]
            assert secured is not ((method.upper(), path) in PUBLIC_V1), (method, path)
            if secured:
                assert "401" in op["responses"], (method, path)


async def test_anonymous_calls_to_every_v1_route_are_401(server: RunningApp, api: Api) -> None:
    victim = await api.register("victim")
    r = await api.post("/v1/posts", token=victim.token, json={"caption": "mine"})
    ids = {"id": (await r.json())["id"], "username": victim.username}
    checked = 0
    for method, path, _ in _v1_routes(server):
        if (method, path) in PUBLIC_V1:
            continue
        url = _fill(path, ids)
        body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
        for name, header in _tokens(api, victim.id).items():
            headers = {"Authorization": header} if header is not None else {}
            r = await api.request(method, url, token="", headers=headers, **body)
            assert r.status == 401, (method, path, name, r.status, await r.text())
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
            if method != "HEAD":
                assert r.content_type == "application/problem+json", (method, path)
            checked += 1
    assert checked > 50 * 8
    # The victim's post is untouched by all of it.
    r = await api.get(f"/v1/posts/{ids['id']}", token=victim.token)
    assert r.status == 200 and (await r.json())["caption"] == "mine"


async def test_sign_in_routes_answer_without_a_token(server: RunningApp, api: Api) -> None:
    routes = {(m, p) for m, p, _ in _v1_routes(server)}
    assert routes >= PUBLIC_V1
    for method, path in PUBLIC_V1:
        r = await api.request(method, path, json={})
        assert r.status == 422, (method, path, r.status, await r.text())


def _events(server: RunningApp) -> list[str]:
    handlers = server.app[SIO].namespace_handlers["/"].handled()
    assert {"connect", "disconnect", "subscribe", "sync"} <= set(handlers)
    return sorted(set(handlers) - {"connect", "disconnect"})


PAYLOAD: dict[str, Any] = {
    "post_id": str(uuid.uuid4()),
    "avatar_id": str(uuid.uuid4()),
    "after_seq": 0,
}


@pytest.mark.parametrize("auth", ["no packet", "no auth", "no token", "bad token", "not a dict"])
async def test_no_event_handler_runs_for_a_socket_that_is_not_signed_in(
    server: RunningApp, api: Api, auth: str
) -> None:
    """Every registered handler ("*" included), reached the way a hostile client would: events
    sent before, or after a refused, namespace connect get no answer and change nothing."""
    from realtime.metrics import SOCKET_EVENTS

    before = {e: SOCKET_EVENTS.labels(e, "ok")._value.get() for e in _events(server)}
    raw = await RawSocket.open(api.session, server.base)
    connect = {
        "no auth": "40",
        "no token": "40" + json.dumps({"user": "victim"}),
        "bad token": "40" + json.dumps({"token": "Bearer not.a.jwt"}),
        "not a dict": "40" + json.dumps(["token"]),
    }
    if auth in connect:
        await raw.send(connect[auth])
        reply = await raw.receive()
        assert reply is not None and reply.startswith("44"), reply  # CONNECT_ERROR
        assert "unauthorized" in reply
    events = [*_events(server), "an-unknown-event"]
    for n, event in enumerate(events):
        await raw.send(f"42{n + 1}" + json.dumps([event if event != "*" else "x", PAYLOAD]))
    reply = await raw.receive(timeout=0.5)
    while reply is not None:
        assert not reply.startswith("43"), (auth, reply)  # an ACK: a handler ran
        reply = await raw.receive(timeout=0.5)
    await asyncio.sleep(0)
    after = {e: SOCKET_EVENTS.labels(e, "ok")._value.get() for e in _events(server)}
    assert after == before
    await raw.ws.close()
