"""Who owns an email: an address is the account's (verified) only once a link mailed to it came
back; a change of address is pending until then. Mail goes through a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from drape.settings import Settings
from tests.conftest import Api
from tests.mail_helpers import Received, SmtpServer

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return settings.with_(smtp_url=smtp_server.url)


def _token(mail: Received) -> str:
    found = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", mail.body("plain"))
    assert found, mail.body("plain")
    return found.group(1)


async def test_an_email_change_is_pending_until_confirmed_from_the_new_address(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]], smtp_server: SmtpServer
) -> None:
    user = await api.register("mover")
    await pool.execute("UPDATE users SET email_verified_at = now(), is_verified = true")
    change = {"email": "new@example.com"}
    r = await api.patch("/v1/me", token=user.token, json=change)
    assert r.status == 422 and "current_password" in await r.text()
    r = await api.patch("/v1/me", token=user.token, json={**change, "current_password": PASSWORD})
    assert r.status == 200, await r.text()
    me = await r.json()
    assert me["email"] == "mover@example.com" and me["pending_email"] == "new@example.com"
    assert me["email_verified"] and me["is_verified"]  # the old, verified address still holds
    # Sign-in by the new address is not possible yet; by the old one it is.
    r = await api.post("/v1/auth/login", json={"login": "new@example.com", "password": PASSWORD})
    assert r.status == 401
    await run_jobs()
    [mail] = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["new@example.com"]
    token = _token(mail)
    r = await api.post("/v1/auth/verify-email", json={"token": token})
    assert r.status == 204, await r.text()
    me = await (await api.get("/v1/me", token=user.token)).json()
    assert me["email"] == "new@example.com" and me["pending_email"] is None
    assert me["email_verified"]
    r = await api.post("/v1/auth/verify-email", json={"token": token})
    assert r.status == 400  # once only


async def test_verifying_the_current_email(
    api: Api, run_jobs: Callable[[], Awaitable[int]], smtp_server: SmtpServer
) -> None:
    user = await api.register("checker")
    me = await (await api.get("/v1/me", token=user.token)).json()
    assert not me["email_verified"] and not me["is_verified"]
    r = await api.post("/v1/me/email-verification", token=user.token)
    assert r.status == 202, await r.text()
    await run_jobs()
    [mail] = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["checker@example.com"]
    r = await api.post("/v1/auth/verify-email", json={"token": _token(mail)})
    assert r.status == 204
    me = await (await api.get("/v1/me", token=user.token)).json()
    assert me["email_verified"] and me["is_verified"]
    r = await api.post("/v1/me/email-verification", token=user.token)
    assert r.status == 409


async def test_password_reset_by_mail_ends_every_session_and_works_once(
    api: Api, run_jobs: Callable[[], Awaitable[int]], smtp_server: SmtpServer
) -> None:
    user = await api.register("forgetful")
    known = await api.post("/v1/auth/password-reset", json={"email": "Forgetful@example.com"})
    unknown = await api.post("/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status == unknown.status == 202
    assert await known.json() == await unknown.json()
    await run_jobs()
    await run_jobs()  # the lookup job queues the mail job
    [mail] = await smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["forgetful@example.com"]
    token = _token(mail)
    weak = {"token": token, "new_password": "forgetful"}
    r = await api.post("/v1/auth/password-reset/confirm", json=weak)
    assert r.status == 422
    body = {"token": token, "new_password": "remembered at last"}
    r = await api.post("/v1/auth/password-reset/confirm", json=body)
    assert r.status == 204, await r.text()
    assert (await api.get("/v1/me", token=user.token)).status == 401
    r = await api.post("/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert r.status == 401
    r = await api.post("/v1/auth/login", json={"login": "forgetful", "password": PASSWORD})
    assert r.status == 401
    r = await api.post(
        "/v1/auth/login", json={"login": "forgetful", "password": "remembered at last"}
    )
    assert r.status == 200
    r = await api.post("/v1/auth/password-reset/confirm", json=body)
    assert r.status == 400
    assert len(smtp_server.received) == 1
