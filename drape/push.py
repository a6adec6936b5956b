"""The push protocols without I/O: what is pushed, the requests of FCM HTTP v1, APNs and Web Push
(RFC 8030 with VAPID, RFC 8292, and aes128gcm, RFC 8291), the APNs provider token, quiet hours,
and what each provider's answer means. workers/push.py sends them."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import http_ece
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

PUSH_TYPES: Final = ("like", "comment", "follow", "follow_request", "follow_accepted")
PLATFORMS: Final = ("fcm", "apns", "webpush")
# FCM and APNs take at most 4096 bytes of payload; a push service must accept 4096 bytes of
# encrypted Web Push body, which is the plaintext plus an 86-byte header, a 16-byte tag and
# the padding delimiter (RFC 8291 section 4).
MAX_PAYLOAD: Final = 4096
WEBPUSH_MAX_PLAINTEXT: Final = MAX_PAYLOAD - 86 - 16 - 1
FCM_SCOPE: Final = "https://www.googleapis.com/auth/firebase.messaging"
# APNs refuses a provider token older than an hour and one renewed more often than every 20
# minutes: renew at 50.
APNS_TOKEN_LIFETIME: Final = 50 * 60
VAPID_LIFETIME: Final = 12 * 3600  # at most 24 h (RFC 8292 section 2)
PUSH_TTL: Final = 24 * 3600  # a push no device could take within a day is dropped
MAX_BACKOFF: Final = 300.0

ALERTS: Final = {
    "like": "{actor} liked your post",
    "comment": "{actor} commented on your post",
    "follow": "{actor} started following you",
    "follow_request": "{actor} asked to follow you",
    "follow_accepted": "{actor} accepted your follow request",
}


@dataclass(frozen=True, slots=True)
class Push:
    """One notification as it is pushed to every device of its recipient."""

    seq: int
    type: str
    actor: str | None
    post_id: str | None
    comment_id: str | None
    badge: int

    @property
    def group_key(self) -> str:
        return group_key(self.type, self.post_id)

    @property
    def alert(self) -> str:
        return ALERTS.get(self.type, "{actor}: something new").format(actor=self.actor or "Someone")

    def data(self) -> dict[str, str]:
        """The app's own fields, as strings (FCM's data map takes nothing else)."""
        out = {"seq": str(self.seq), "type": self.type, "group_key": self.group_key}
        out["badge"] = str(self.badge)
        if self.post_id:
            out["post_id"] = self.post_id
        if self.comment_id:
            out["comment_id"] = self.comment_id
        return out


def group_key(type_: str, post_id: str | None) -> str:
    """One group per type and post: the collapse key, so a newer push of the group replaces
    an older one still waiting on the device or the provider."""
    return f"{type_}:{post_id}" if post_id else type_


def webpush_topic(key: str) -> str:
    """RFC 8030 Topic: at most 32 characters of the URL-safe base64 alphabet."""
    return b64url(hashlib.sha256(key.encode()).digest())[:32]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fit(build: Any, alert: str, limit: int) -> bytes:
    """The payload `build(alert)` encodes to, the alert shortened until it fits `limit`."""
    while True:
        body = orjson.dumps(build(alert))
        if len(body) <= limit or not alert:
            return body
        alert = alert[: max(0, len(alert) - (len(body) - limit) - 1)] + "…"
        if len(alert) <= 1:
            alert = ""


# FCM HTTP v1 -----------------------------------------------------------------------------------


def fcm_send_url(base: str, project_id: str) -> str:
    return f"{base.rstrip('/')}/v1/projects/{project_id}/messages:send"


def fcm_message(push: Push, token: str) -> bytes:
    def build(alert: str) -> dict[str, Any]:
        return {
            "message": {
                "token": token,
                "notification": {"body": alert},
                "data": push.data(),
                "android": {
                    "collapse_key": push.group_key,
                    "ttl": f"{PUSH_TTL}s",
                    "notification": {"tag": push.group_key, "notification_count": push.badge},
                },
                "apns": {
                    "headers": {"apns-collapse-id": push.group_key},
                    "payload": {"aps": {"badge": push.badge, "thread-id": push.group_key}},
                },
            }
        }

    return _fit(build, push.alert, MAX_PAYLOAD)


# APNs ------------------------------------------------------------------------------------------


class ApnsToken:
    """The provider token (an ES256 JWT of the team, with the key's id), made again once it is
    APNS_TOKEN_LIFETIME old or APNs said it expired."""

    def __init__(self, key_pem: str, key_id: str, team_id: str) -> None:
        self._key = key_pem
        self._key_id = key_id
        self._team_id = team_id
        self._token = ""
        self._issued = 0.0

    def current(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if not self._token or now - self._issued >= APNS_TOKEN_LIFETIME:
            self._issued = now
            self._token = jwt.encode(
                {"iss": self._team_id, "iat": int(now)},
                self._key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
        return self._token

    def expire(self) -> None:
        self._token = ""


def apns_request(push: Push, device_token: str, topic: str) -> tuple[str, dict[str, str], bytes]:
    """Path, headers (without the authorization) and body of one APNs push."""

    def build(alert: str) -> dict[str, Any]:
        aps = {"alert": {"body": alert}, "badge": push.badge, "sound": "default"}
        return {"aps": {**aps, "thread-id": push.group_key}, **push.data()}

    headers = {
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(int(time.time()) + PUSH_TTL),
        "apns-collapse-id": push.group_key[:64],
    }
    return f"/3/device/{device_token}", headers, _fit(build, push.alert, MAX_PAYLOAD)


# Web Push --------------------------------------------------------------------------------------


def webpush_allowed(endpoint: str, hosts: tuple[str, ...]) -> bool:
    """An endpoint on one of the configured push services (the worker POSTs to it, so it must
    not be a URL of the user's choosing)."""
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not host:
        return False
    for allowed in hosts:
        name, _, want_port = allowed.partition(":")
        if want_port and str(port) != want_port:
            continue
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


def webpush_payload(push: Push) -> bytes:
    def build(alert: str) -> dict[str, Any]:
        return {"title": "Drape", "body": alert, "tag": push.group_key, **push.data()}

    return _fit(build, push.alert, WEBPUSH_MAX_PLAINTEXT)


def webpush_encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """aes128gcm with a fresh sender key per message (RFC 8291)."""
    sender = ec.generate_private_key(ec.SECP256R1())
    return bytes(
        http_ece.encrypt(
            payload,
            salt=None,
            private_key=sender,
            dh=b64url_decode(p256dh),
            auth_secret=b64url_decode(auth),
            version="aes128gcm",
        )
    )


def load_vapid(pem: str) -> Vapid02:
    return Vapid02.from_pem(pem.encode())


def vapid_authorization(vapid: Vapid02, endpoint: str, subject: str, now: float) -> str:
    """`vapid t=<JWT for the push service's origin>, k=<the public key>` (RFC 8292)."""
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": subject}
    claims["exp"] = int(now) + VAPID_LIFETIME  # type: ignore[assignment]
    return str(vapid.sign(claims)["Authorization"])


def webpush_headers(push: Push) -> dict[str, str]:
    return {
        "TTL": str(PUSH_TTL),
        "Urgency": "normal",
        "Topic": webpush_topic(push.group_key),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
    }


# What an answer means ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """sent; gone (the device no longer exists: prune it); retry (later, after retry_after
    seconds when the provider said); failed (this push will never go: drop it)."""

    kind: Literal["sent", "gone", "retry", "failed"]
    retry_after: float | None = None
    detail: str = ""


RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int) -> float:
    """Seconds before try `attempt + 1` when the provider did not say."""
    return float(min(MAX_BACKOFF, 2 ** max(1, attempt)))


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def fcm_outcome(status: int, body: bytes, headers: dict[str, str]) -> Outcome:
    if status == 200:
        return Outcome("sent")
    error = _json(body).get("error") or {}
    codes = {
        d.get("errorCode")
        for d in (error.get("details") or [])
        if isinstance(d, dict) and d.get("errorCode")
    }
    detail = str(error.get("status") or status)
    if status == 404 or "UNREGISTERED" in codes:
        return Outcome("gone", detail="UNREGISTERED")
    if status in RETRY_STATUSES or "QUOTA_EXCEEDED" in codes or "UNAVAILABLE" in codes:
        return Outcome("retry", retry_after(headers.get("retry-after")), detail)
    if status == 401:  # the access token expired under us: a fresh one next try
        return Outcome("retry", 0.0, detail)
    return Outcome("failed", detail=detail)


def apns_outcome(status: int, body: bytes, headers: dict[str, str]) -> Outcome:
    if status == 200:
        return Outcome("sent")
    reason = str(_json(body).get("reason") or status)
    if status == 410 or reason in ("BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"):
        return Outcome("gone", detail=reason)
    if status in RETRY_STATUSES:
        return Outcome("retry", retry_after(headers.get("retry-after")), reason)
    if reason in ("ExpiredProviderToken", "InvalidProviderToken"):
        return Outcome("retry", 0.0, reason)
    return Outcome("failed", detail=reason)


def webpush_outcome(status: int, headers: dict[str, str]) -> Outcome:
    if status in (200, 201, 202):
        return Outcome("sent")
    if status in (404, 410):
        return Outcome("gone", detail=str(status))
    if status in RETRY_STATUSES:
        return Outcome("retry", retry_after(headers.get("retry-after")), str(status))
    return Outcome("failed", detail=str(status))


# Quiet hours -----------------------------------------------------------------------------------


def in_quiet_hours(
    start: clock | None, end: clock | None, time_zone: str, now: datetime | None = None
) -> bool:
    """Whether `now` falls in [start, end) local time; start after end spans midnight."""
    if start is None or end is None or start == end:
        return False
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(time_zone)).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end
