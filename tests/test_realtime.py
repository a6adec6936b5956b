"""Socket.IO connect: only valid tokens get in, and a socket lands in its own user room."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import jwt
import pytest
import socketio

from realtime.emit import worker_emitter
from tests.conftest import Api, EventLog, RunningApp


async def test_token_of_a_deleted_account_is_refused(
    api: Api, sio_connect: Callable[..., Awaitable[socketio.AsyncClient]]
) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_connect(api.token_for(uuid.uuid4()))


async def test_connect_without_token_is_refused(
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_connect(None)


@pytest.mark.parametrize("forge", ["wrong_key", "alg_none", "expired", "wrong_audience", "garbage"])
async def test_forged_tokens_are_refused(
    api: Api, forge: str, sio_connect: Callable[..., Awaitable[socketio.AsyncClient]]
) -> None:
    s = api.settings
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "iat": now,
        "exp": now + 60,
        "typ": "access",
    }
    if forge == "wrong_key":
        token = jwt.encode(claims, "not-the-secret", algorithm="HS256")
    elif forge == "alg_none":
        token = jwt.encode(claims, None, algorithm="none")
    elif forge == "expired":
        token = jwt.encode({**claims, "exp": now - 60, "iat": now - 120}, s.jwt_secret)
    elif forge == "wrong_audience":
        token = jwt.encode({**claims, "aud": "someone-else"}, s.jwt_secret)
    else:
        token = "not.a.jwt"
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_connect(token)


async def test_worker_emit_reaches_only_the_users_room(
    server: RunningApp, api: Api, sio_connect: Callable[..., Awaitable[socketio.AsyncClient]]
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    a = await sio_connect(alice.token)
    b = await sio_connect(bob.token)
    a_log, b_log = EventLog(a, "job:update"), EventLog(b, "job:update")

    emitter = worker_emitter(server.settings)
    await emitter.job_update(alice.id, {"id": "j1", "status": "done"})
    await emitter.aclose()

    assert (await a_log.wait_for(1))[0] == {"id": "j1", "status": "done"}
    await b.sleep(0.3)
    assert b_log.items == []
