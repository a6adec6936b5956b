"""The push job: one notification to every device of a user who had no live socket for it.

Each (device, seq) is claimed in Postgres before it is sent (db/push.py), so a retried job, or
one taken over after its worker died, never pushes the same notification to a device twice.
Providers that ask to wait (429/503, Retry-After) get the job retried after that long, and only
the deliveries they deferred are sent again; a device the provider no longer knows is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import orjson
import requests
from arq import Retry
from google.auth import exceptions as google_errors
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account
from prometheus_client import Counter

from db import push as db_push
from drape import push as proto
from drape.settings import Settings

log = logging.getLogger(__name__)

JOB: Final = "push_notification"
MAX_TRIES: Final = 6
TIMEOUT: Final = 60
KEEP_RESULT: Final = 3600
# Sending to a host that could not be reached sends nothing, and can be tried again; any other
# failure mid-request may have delivered the push, so it is not sent again (at most once).
UNSENT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

PUSHES = Counter("drape_pushes_total", "Pushes to devices by outcome", ["platform", "outcome"])


class Fcm:
    """FCM HTTP v1 with the service account's OAuth access token (google-auth: a JWT grant
    signed with the account's key, sent to its token_uri), renewed before it expires."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        info = orjson.loads(Path(settings.fcm_service_account_file).read_bytes())
        if settings.fcm_token_uri:
            info["token_uri"] = settings.fcm_token_uri
        self.credentials = service_account.Credentials.from_service_account_info(
            info, scopes=[proto.FCM_SCOPE]
        )
        self.url = proto.fcm_send_url(
            settings.fcm_url, settings.fcm_project_id or info["project_id"]
        )
        session = requests.Session()
        if settings.push_ca_file:
            session.verify = settings.push_ca_file
        self._request = GoogleRequest(session)
        self._lock = asyncio.Lock()
        self.http = http

    async def access_token(self) -> str:
        async with self._lock:
            if not self.credentials.valid:
                await asyncio.to_thread(self.credentials.refresh, self._request)
        return str(self.credentials.token)

    async def send(self, push: proto.Push, device: asyncpg.Record) -> proto.Outcome:
        headers = {
            "Authorization": f"Bearer {await self.access_token()}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        body = proto.fcm_message(push, device["token"])
        r = await self.http.post(self.url, content=body, headers=headers)
        if r.status_code == 401:
            self.credentials.token = None  # refused: fetch a new one on the next try
        return proto.fcm_outcome(r.status_code, r.content, dict(r.headers))


class Apns:
    """APNs over HTTP/2 with token auth: an ES256 provider JWT, renewed within its hour."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        key = Path(settings.apns_key_file).read_text()
        self.token = proto.ApnsToken(key, settings.apns_key_id, settings.apns_team_id)
        self.base = settings.apns_url.rstrip("/")
        self.topic = settings.apns_topic
        self.http = http

    async def send(self, push: proto.Push, device: asyncpg.Record) -> proto.Outcome:
        path, headers, body = proto.apns_request(push, device["token"], self.topic)
        headers["authorization"] = f"bearer {self.token.current()}"
        r = await self.http.post(self.base + path, content=body, headers=headers)
        outcome = proto.apns_outcome(r.status_code, r.content, dict(r.headers))
        if outcome.detail == "ExpiredProviderToken":
            self.token.expire()
        return outcome


class WebPush:
    """RFC 8030 push with a VAPID JWT (RFC 8292) and an aes128gcm body (RFC 8291)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.vapid = proto.load_vapid(Path(settings.webpush_vapid_key_file).read_text())
        self.subject = settings.webpush_subject
        self.hosts = settings.webpush_hosts
        self.http = http
        self._auth: dict[str, tuple[float, str]] = {}  # origin -> (made at, Authorization)

    def authorization(self, endpoint: str) -> str:
        origin = endpoint.split("/", 3)[2]
        now = time.time()
        made, value = self._auth.get(origin, (0.0, ""))
        if now - made > proto.VAPID_LIFETIME / 2:
            value = proto.vapid_authorization(self.vapid, endpoint, self.subject, now)
            self._auth[origin] = (now, value)
        return value

    async def send(self, push: proto.Push, device: asyncpg.Record) -> proto.Outcome:
        endpoint = device["token"]
        if not proto.webpush_allowed(endpoint, self.hosts):
            return proto.Outcome("gone", detail="endpoint not on an allowed push service")
        body = proto.webpush_encrypt(proto.webpush_payload(push), device["p256dh"], device["auth"])
        headers = {**proto.webpush_headers(push), "Authorization": self.authorization(endpoint)}
        r = await self.http.post(endpoint, content=body, headers=headers)
        return proto.webpush_outcome(r.status_code, dict(r.headers))


@dataclass
class Providers:
    fcm: Fcm | None
    apns: Apns | None
    webpush: WebPush | None

    async def send(self, push: proto.Push, device: asyncpg.Record) -> proto.Outcome:
        provider = getattr(self, device["platform"], None)
        if provider is None:
            outcome = proto.Outcome("failed", detail="no provider configured")
        else:
            try:
                outcome = await provider.send(push, device)
            except (*UNSENT_ERRORS, google_errors.GoogleAuthError) as e:
                outcome = proto.Outcome("retry", None, type(e).__name__)
            except (httpx.HTTPError, OSError) as e:
                outcome = proto.Outcome("failed", detail=f"outcome unknown: {type(e).__name__}")
        PUSHES.labels(device["platform"], outcome.kind).inc()
        return outcome


@contextlib.asynccontextmanager
async def open_providers(settings: Settings) -> AsyncIterator[Providers]:
    """The providers whose credentials are configured, over one HTTP/2-capable client."""
    tls = ssl.create_default_context()
    if settings.push_ca_file:
        tls.load_verify_locations(settings.push_ca_file)
    timeout = httpx.Timeout(10.0, connect=5.0)
    async with httpx.AsyncClient(http2=True, verify=tls, timeout=timeout) as http:
        s = settings
        yield Providers(
            fcm=Fcm(s, http) if s.fcm_service_account_file else None,
            apns=Apns(s, http) if s.apns_key_file else None,
            webpush=WebPush(s, http) if s.webpush_vapid_key_file else None,
        )


def _skip(info: asyncpg.Record | None) -> str | None:
    """Why this notification is not pushed at all, if it is not."""
    if info is None or not info["is_active"]:
        return "gone"
    if info["read"]:
        return "read"
    if info["type"] in (info["muted_types"] or ()):
        return "muted"
    if proto.in_quiet_hours(info["quiet_start"], info["quiet_end"], info["time_zone"] or "UTC"):
        return "quiet_hours"
    return None


def _push(seq: int, info: asyncpg.Record) -> proto.Push:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return proto.Push(
        seq=seq,
        type=info["type"],
        actor=info["actor_username"],
        post_id=text(info["post_id"]),
        comment_id=text(info["comment_id"]),
        badge=max(0, int(info["badge"])),
    )


async def push_notification(ctx: dict[str, Any], user_id: str, seq: int) -> dict[str, Any]:
    pool: asyncpg.Pool = ctx["pool"]
    providers: Providers = ctx["push"]
    uid = uuid.UUID(user_id)
    info = await db_push.push_info(pool, uid, seq)
    if (why := _skip(info)) is not None:
        return {"seq": seq, "skipped": why}
    assert info is not None
    devices = await db_push.claim(pool, uid, seq)
    if not devices:
        return {"seq": seq, "devices": 0}
    push = _push(seq, info)
    outcomes = await asyncio.gather(*(providers.send(push, d) for d in devices))
    attempt: int = ctx.get("job_try", 1)
    last = attempt >= MAX_TRIES
    kinds = {
        d["id"]: "failed" if o.kind == "retry" and last else o.kind
        for d, o in zip(devices, outcomes, strict=True)
    }
    await db_push.record(pool, seq, kinds)
    result: dict[str, Any] = {"seq": seq, "devices": len(devices)}
    for kind in kinds.values():
        result[kind] = result.get(kind, 0) + 1
    deferred = [o for o in outcomes if o.kind == "retry"]
    if deferred and not last:
        wait = max(
            proto.backoff(attempt) if o.retry_after is None else o.retry_after for o in deferred
        )
        log.info("push deferred", extra={**result, "retry_in": wait, "attempt": attempt})
        raise Retry(defer=min(wait, proto.MAX_BACKOFF))
    return result
