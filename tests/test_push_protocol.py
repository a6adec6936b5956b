"""The push protocol pieces of drape/push.py, without I/O."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from datetime import time as clock
from email.utils import formatdate

import http_ece
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drape import push as proto


def a_push(actor: str = "bob", badge: int = 3) -> proto.Push:
    return proto.Push(seq=7, type="like", actor=actor, post_id="p-1", comment_id=None, badge=badge)


def test_payloads_stay_under_4_kb_with_the_badge_and_collapse_key() -> None:
    long = a_push(actor="x" * 10_000)
    fcm = orjson.loads(proto.fcm_message(long, "tok"))["message"]
    assert len(proto.fcm_message(long, "tok")) <= proto.MAX_PAYLOAD
    assert fcm["notification"]["body"].endswith("…")
    assert fcm["data"]["badge"] == "3" and fcm["android"]["collapse_key"] == "like:p-1"
    _, headers, body = proto.apns_request(long, "ab" * 32, "app.topic")
    assert len(body) <= proto.MAX_PAYLOAD
    assert orjson.loads(body)["aps"]["badge"] == 3
    assert headers["apns-collapse-id"] == "like:p-1"
    assert len(proto.webpush_payload(long)) <= proto.WEBPUSH_MAX_PLAINTEXT
    short = orjson.loads(proto.fcm_message(a_push(), "tok"))["message"]
    assert short["notification"]["body"] == "bob liked your post"


def test_webpush_body_decrypts_with_the_subscription_key() -> None:
    browser = ec.generate_private_key(ec.SECP256R1())
    public = browser.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = b"0123456789abcdef"
    payload = proto.webpush_payload(a_push())
    body = proto.webpush_encrypt(payload, proto.b64url(public), proto.b64url(auth))
    assert len(body) <= proto.MAX_PAYLOAD
    assert http_ece.decrypt(body, private_key=browser, auth_secret=auth) == payload
    assert len(proto.webpush_topic("like:" + "p" * 100)) == 32


def test_vapid_authorization_is_an_es256_jwt_for_the_push_service_origin() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    value = proto.vapid_authorization(
        proto.load_vapid(pem), "https://push.example:8443/a/b", "mailto:a@b.c", time.time()
    )
    scheme, params = value.split(" ", 1)
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert scheme == "vapid"
    claims = jwt.decode(
        parts["t"], key.public_key(), algorithms=["ES256"], audience="https://push.example:8443"
    )
    assert claims["sub"] == "mailto:a@b.c"
    assert 0 < claims["exp"] - time.time() <= 24 * 3600


def test_the_apns_provider_token_is_renewed_within_its_hour() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    tokens = proto.ApnsToken(pem, "KEY", "TEAM")
    first = tokens.current(now=1_000_000.0)
    assert tokens.current(now=1_000_000.0 + 49 * 60) == first
    renewed = tokens.current(now=1_000_000.0 + 50 * 60)
    assert renewed != first
    claims = jwt.decode(renewed, key.public_key(), algorithms=["ES256"])
    assert claims == {"iss": "TEAM", "iat": 1_000_000 + 50 * 60}
    assert jwt.get_unverified_header(renewed)["kid"] == "KEY"
    tokens.expire()
    assert tokens.current(now=1_000_000.0 + 51 * 60) != renewed


def test_answers_are_classified() -> None:
    unregistered = orjson.dumps(
        {"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}}
    )
    assert proto.fcm_outcome(404, unregistered, {}).kind == "gone"
    assert proto.fcm_outcome(400, unregistered, {}).kind == "gone"
    limited = proto.fcm_outcome(429, b"{}", {"retry-after": "30"})
    assert (limited.kind, limited.retry_after) == ("retry", 30.0)
    assert proto.fcm_outcome(400, b"{}", {}).kind == "failed"
    assert proto.apns_outcome(410, b'{"reason":"Unregistered"}', {}).kind == "gone"
    assert proto.apns_outcome(400, b'{"reason":"BadDeviceToken"}', {}).kind == "gone"
    assert proto.apns_outcome(503, b"{}", {}).kind == "retry"
    assert proto.apns_outcome(413, b'{"reason":"PayloadTooLarge"}', {}).kind == "failed"
    assert proto.webpush_outcome(201, {}).kind == "sent"
    assert proto.webpush_outcome(404, {}).kind == "gone"
    assert proto.webpush_outcome(410, {}).kind == "gone"
    assert proto.webpush_outcome(503, {"retry-after": "5"}).retry_after == 5.0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = time.time()
    assert proto.retry_after("120") == 120.0
    later = proto.retry_after(formatdate(now + 60, usegmt=True), now=now)
    assert later is not None and 58 <= later <= 61
    assert proto.retry_after(formatdate(now - 60, usegmt=True), now=now) == 0.0
    assert proto.retry_after("soon") is None and proto.retry_after(None) is None
    assert proto.backoff(1) == 2.0 and proto.backoff(20) == proto.MAX_BACKOFF


def test_quiet_hours_in_the_users_time_zone_across_midnight() -> None:
    at = datetime(2026, 1, 10, 22, 30, tzinfo=UTC)  # 23:30 in Paris, 07:30 next day in Tokyo
    night = (clock(23, 0), clock(7, 0))
    assert proto.in_quiet_hours(*night, "Europe/Paris", at)
    assert not proto.in_quiet_hours(*night, "Asia/Tokyo", at)
    assert proto.in_quiet_hours(clock(7, 0), clock(8, 0), "Asia/Tokyo", at)
    assert not proto.in_quiet_hours(None, None, "UTC", at)


def test_only_configured_push_services_are_webpush_endpoints() -> None:
    hosts = ("fcm.googleapis.com", "*.push.apple.com", "127.0.0.1:9000")
    assert proto.webpush_allowed("https://fcm.googleapis.com/fcm/send/x", hosts)
    assert proto.webpush_allowed("https://web.push.apple.com/abc", hosts)
    assert proto.webpush_allowed("http://127.0.0.1:9000/p", hosts)
    assert not proto.webpush_allowed("http://127.0.0.1:9001/p", hosts)
    assert not proto.webpush_allowed("https://push.apple.com.evil.example/", hosts)
    assert not proto.webpush_allowed("https://169.254.169.254/latest", hosts)
    assert not proto.webpush_allowed("file:///etc/passwd", hosts)
