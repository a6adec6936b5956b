"""Local push providers speaking the real protocols, for the push tests and bench/push.py.

- FcmServer: an OAuth token endpoint that checks the service account's JWT grant (RS256, signed
  with a key generated here) and issues bearer tokens, and the FCM HTTP v1 send endpoint that
  accepts only those tokens.
- ApnsServer: HTTP/2 over TLS (hypercorn, with a certificate generated here) that verifies the
  ES256 provider JWT of every request.
- WebPushServer: a push service whose subscriptions have browser keys generated here; it checks
  the VAPID JWT (RFC 8292) and decrypts the aes128gcm body (RFC 8291).

Each can be told, per device, to answer as a provider does when the device is gone (404
UNREGISTERED / 410), to refuse a number of times with 429 or 503 and Retry-After, or to hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drape.push import FCM_SCOPE, b64url, b64url_decode
from tests.harness import free_port, self_signed_cert


@dataclass
class Received:
    token: str
    at: float
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    size: int


@dataclass
class Behaviour:
    """How the fake provider answers each device token (or subscription id)."""

    gone: set[str] = field(default_factory=set)
    # token -> [(status, retry_after), ...] answered in turn before the push is accepted
    refuse: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def accepted(self, token: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.status in (200, 201) and (token is None or r.token == token)
        ]

    def received_for(self, token: str) -> list[Received]:
        return [r for r in self.received if r.token == token]

    def answer(self, token: str) -> tuple[int, str | None] | None:
        """(status, Retry-After) to refuse with, None to accept; raises to hang."""
        if token in self.gone:
            return 410, None
        queue = self.refuse.get(token)
        if queue:
            return queue.pop(0)
        return None


def _pem_private(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def _run_site(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


# FCM --------------------------------------------------------------------------------------------


class FcmServer(Behaviour):
    project = "drape-test"
    client_email = "push@drape-test.iam.gserviceaccount.com"

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tokens: set[str] = set()
        self.grants: list[dict[str, Any]] = []
        self.unauthorized = 0
        self.single_use = False  # forget each access token once it sent a message
        self.service_account_file = workdir / "fcm-service-account.json"
        self.service_account_file.write_bytes(
            orjson.dumps(
                {
                    "type": "service_account",
                    "project_id": self.project,
                    "private_key_id": "test-key-1",
                    "private_key": _pem_private(self.key),
                    "client_email": self.client_email,
                    "client_id": "1",
                    "token_uri": f"{self.base}/token",
                }
            )
        )
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v1/projects/{project}/messages:send", self.send)
        self._runner = await _run_site(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = jwt.decode(
                str(form.get("assertion")),
                self.key.public_key(),
                algorithms=["RS256"],
                # What Google's token endpoint expects, wherever the grant is sent.
                audience="https://oauth2.googleapis.com/token",
                issuer=self.client_email,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWTError as e:
            return web.json_response({"error": "invalid_grant", "detail": str(e)}, status=400)
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return web.json_response({"error": "invalid_scope"}, status=400)
        self.grants.append(claims)
        token = "ya29." + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        )

    async def send(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            self.unauthorized += 1
            return web.json_response(
                {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401
            )
        if self.single_use:
            self.tokens.discard(auth[7:])
        if request.match_info["project"] != self.project:
            return web.json_response(
                {"error": {"code": 403, "status": "PERMISSION_DENIED"}}, status=403
            )
        raw = await request.read()
        body = orjson.loads(raw)
        token = body["message"]["token"]
        answer = self.answer(token)
        status = 200 if answer is None else answer[0]
        if token in self.gone:
            status = 404
        self.received.append(
            Received(token, time.time(), status, dict(request.headers), body, len(raw))
        )
        self.arrived.set()
        if token in self.hang:
            await asyncio.sleep(3600)
        if status == 404:
            details = [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "UNREGISTERED",
                }
            ]
            error = {"code": 404, "status": "NOT_FOUND", "details": details}
            return web.json_response({"error": error}, status=404)
        if answer is not None:
            headers = {"Retry-After": answer[1]} if answer[1] else {}
            error = {
                "code": status,
                "status": "UNAVAILABLE" if status == 503 else "RESOURCE_EXHAUSTED",
            }
            return web.json_response({"error": error}, status=status, headers=headers)
        return web.json_response({"name": f"projects/{self.project}/messages/{len(self.received)}"})


# APNs -------------------------------------------------------------------------------------------


class ApnsServer(Behaviour):
    team_id = "TEAM123456"
    key_id = "KEY1234567"
    topic = "app.drape.ios"

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.key_file = workdir / "AuthKey_test.p8"
        self.key_file.write_text(_pem_private(self.signing_key))
        self.cert_file, self._tls_key = self_signed_cert(workdir, prefix="apns-")
        self.provider_tokens: set[str] = set()
        self.http_versions: set[str] = set()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.certfile = str(self.cert_file)
        config.keyfile = str(self._tls_key)
        config.alpn_protocols = ["h2"]
        config.accesslog = None
        config.errorlog = None
        self._task = asyncio.create_task(
            serve(self.app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        )
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("the APNs test server did not start")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    def _check_jwt(self, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return "MissingProviderToken"
        token = auth[7:]
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.signing_key.public_key(), algorithms=["ES256"])
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return "InvalidProviderToken"
        if time.time() - int(claims["iat"]) > 3600:
            return "ExpiredProviderToken"
        self.provider_tokens.add(token)
        return None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.http_versions.add(scope["http_version"])
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        token = path.rsplit("/", 1)[-1]
        status, reply, extra = await self._answer(scope, path, token, headers, raw)

        body = orjson.dumps(reply) if reply else b""
        out = [(b"apns-id", secrets.token_hex(16).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, scope: dict[str, Any], path: str, token: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any] | None, list[tuple[bytes, bytes]]]:
        if scope["method"] != "POST" or not path.startswith("/3/device/"):
            return 404, {"reason": "BadPath"}, []
        if scope["http_version"] != "2":
            return 400, {"reason": "NotHTTP2"}, []
        if (why := self._check_jwt(headers)) is not None:
            return 403, {"reason": why}, []
        if headers.get("apns-topic") != self.topic:
            return 400, {"reason": "BadTopic"}, []
        answer = self.answer(token)
        status = 200 if answer is None else answer[0]
        body = orjson.loads(raw)
        self.received.append(Received(token, time.time(), status, headers, body, len(raw)))
        self.arrived.set()
        if token in self.hang:
            await asyncio.sleep(3600)
        if status == 410:
            return 410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)}, []
        if answer is not None:
            extra = [(b"retry-after", answer[1].encode())] if answer[1] else []
            reason = "TooManyRequests" if status == 429 else "ServiceUnavailable"
            return status, {"reason": reason}, extra
        return 200, None, []


# Web Push ---------------------------------------------------------------------------------------


@dataclass
class Subscription:
    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    def json(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


class WebPushServer(Behaviour):
    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.subscriptions: dict[str, Subscription] = {}
        vapid = ec.generate_private_key(ec.SECP256R1())
        self.vapid_public = vapid.public_key()
        self.vapid_key_file = workdir / "vapid.pem"
        self.vapid_key_file.write_text(_pem_private(vapid))
        self.problems: list[str] = []
        self._runner: web.AppRunner | None = None

    def subscribe(self) -> Subscription:
        sub_id = secrets.token_urlsafe(12)
        sub = Subscription(
            id=sub_id,
            endpoint=f"{self.base}/push/{sub_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
        )
        self.subscriptions[sub_id] = sub
        return sub

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{id}", self.push)
        self._runner = await _run_site(app, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _check_vapid(self, header: str) -> str | None:
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            return "not a vapid authorization"
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(parts["k"])
        )
        if public.public_numbers() != self.vapid_public.public_numbers():
            return "k is not the server's VAPID key"
        try:
            claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=self.base)
        except jwt.PyJWTError as e:
            return f"bad JWT: {e}"
        if not 0 < int(claims["exp"]) - time.time() <= 24 * 3600:
            return "exp is not within 24 h"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return "no sub contact"
        return None

    async def push(self, request: web.Request) -> web.Response:
        sub = self.subscriptions.get(request.match_info["id"])
        if sub is None:
            return web.Response(status=404)
        why = self._check_vapid(request.headers.get("Authorization", ""))
        if why is None and request.headers.get("Content-Encoding") != "aes128gcm":
            why = "not aes128gcm"
        if why is None and not request.headers.get("TTL", "").isdigit():
            why = "no TTL"
        if why is not None:
            self.problems.append(why)
            return web.Response(status=401 if "JWT" in why or "vapid" in why else 400, text=why)
        raw = await request.read()
        plain = http_ece.decrypt(
            raw, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
        )
        answer = self.answer(sub.id)
        status = 201 if answer is None else answer[0]
        headers = dict(request.headers)
        self.received.append(
            Received(sub.id, time.time(), status, headers, orjson.loads(plain), len(raw))
        )
        self.arrived.set()
        if sub.id in self.hang:
            await asyncio.sleep(3600)
        if answer is not None:
            extra = {"Retry-After": answer[1]} if answer[1] else {}
            return web.Response(status=status, headers=extra)
        return web.Response(status=201, headers={"Location": f"{self.base}/message/1"})


@dataclass
class Providers:
    fcm: FcmServer
    apns: ApnsServer
    webpush: WebPushServer

    def settings(self) -> dict[str, Any]:
        """Settings fields that point the push worker at these servers."""
        return {
            "fcm_service_account_file": str(self.fcm.service_account_file),
            "fcm_url": self.fcm.base,
            "apns_key_file": str(self.apns.key_file),
            "apns_key_id": self.apns.key_id,
            "apns_team_id": self.apns.team_id,
            "apns_topic": self.apns.topic,
            "apns_url": self.apns.base,
            "webpush_vapid_key_file": str(self.webpush.vapid_key_file),
            "webpush_hosts": ("127.0.0.1",),
            "push_ca_file": str(self.apns.cert_file),
        }

    def env(self) -> dict[str, str]:
        """The same, as a worker process's environment."""
        return {
            k.upper(): ",".join(v) if isinstance(v, tuple) else str(v)
            for k, v in self.settings().items()
        }


@contextlib.asynccontextmanager
async def push_providers(workdir: Path) -> AsyncIterator[Providers]:
    providers = Providers(FcmServer(workdir), ApnsServer(workdir), WebPushServer(workdir))
    servers = (providers.fcm, providers.apns, providers.webpush)
    for s in servers:
        await s.start()
    try:
        yield providers
    finally:
        for s in servers:
            await s.stop()
