"""A socket lives as long as its access token: it ends at expiry unless `auth:refresh` gives
it a fresh token of the same account."""

from __future__ import annotations

import uuid

import pytest

from drape.settings import Settings
from drape.tokens import issue_access_token
from tests.conftest import Api, EventLog, RunningApp
from tests.test_trust import Connect, _ended


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(access_token_ttl=3)


async def test_a_socket_ends_when_its_token_expires_unless_refreshed(
    api: Api, server: RunningApp, sio_connect: Connect
) -> None:
    user = await api.register("expiring")
    expires = await sio_connect(user.token)
    refreshed = await sio_connect(user.token)
    ended = EventLog(expires, "session:ended")
    fresh = issue_access_token(server.settings.with_(access_token_ttl=60), uuid.UUID(user.id))
    ack = await refreshed.call("auth:refresh", {"token": fresh}, timeout=5)
    assert ack["ok"], ack
    stranger = await api.register("stranger")
    ack = await refreshed.call("auth:refresh", {"token": stranger.token}, timeout=5)
    assert not ack["ok"] and ack["error"]["code"] == "unauthorized"
    assert await _ended(expires, ended, timeout=6) == "token_expired"
    assert refreshed.connected
    ack = await refreshed.call("sync", {"after_seq": 0}, timeout=5)
    assert ack["ok"]
