"""Devices that receive pushes, and the notification settings: which types are pushed, quiet
hours, and whether one's presence shows."""

from __future__ import annotations

import re
import uuid
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, Field

from db import notification_settings as db_settings
from db import push as db_push
from db.common import iso
from drape import push as proto
from realtime.context import SIO
from realtime.presence import online, presence_room
from server.auth import user_id
from server.context import POOL, REDIS, SETTINGS
from server.errors import invalid, not_found
from server.openapi import endpoint
from server.params import json_response, path_uuid
from server.routes.users import Input

FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{20,4096}$")
APNS_TOKEN = re.compile(r"^[0-9a-fA-F]{64,200}$")
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["22:00"])]


class WebPushKeys(Input):
    p256dh: Annotated[str, Field(min_length=80, max_length=100)]
    auth: Annotated[str, Field(min_length=16, max_length=32)]


class WebPushSubscription(Input):
    """A browser's PushSubscription.toJSON()."""

    endpoint: Annotated[str, Field(min_length=10, max_length=2048)]
    keys: WebPushKeys
    expirationTime: int | None = None  # the browser's own name


class DeviceIn(Input):
    platform: Literal["fcm", "apns", "webpush"]
    token: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        None, description="The FCM registration token or the APNs device token (hex)"
    )
    subscription: WebPushSubscription | None = Field(None, description="For webpush")


class Device(BaseModel):
    id: str
    platform: Literal["fcm", "apns", "webpush"]
    created_at: str
    pushed_at: str | None


class DevicePage(BaseModel):
    items: list[Device]
    next_cursor: str | None


def _device(row: asyncpg.Record) -> dict[str, str | None]:
    return {
        "id": str(row["id"]),
        "platform": row["platform"],
        "created_at": iso(row["created_at"]),
        "pushed_at": iso(row["pushed_at"]),
    }


def _webpush_keys(sub: WebPushSubscription) -> tuple[str, str]:
    """The subscription's keys, once known to be a P-256 point and a 16-byte secret."""
    try:
        point = proto.b64url_decode(sub.keys.p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise invalid("subscription.keys.p256dh", "is not a P-256 public key") from None
    try:
        secret = proto.b64url_decode(sub.keys.auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise invalid("subscription.keys.auth", "is not a 16-byte secret in base64url")
    return sub.keys.p256dh, sub.keys.auth


def _device_token(request: web.Request, body: DeviceIn) -> tuple[str, str | None, str | None]:
    if body.platform == "webpush":
        if body.subscription is None:
            raise invalid("subscription", "is required for webpush")
        if not proto.webpush_allowed(
            body.subscription.endpoint, request.app[SETTINGS].webpush_hosts
        ):
            raise invalid("subscription.endpoint", "is not on a push service this server uses")
        return (body.subscription.endpoint, *_webpush_keys(body.subscription))
    pattern = FCM_TOKEN if body.platform == "fcm" else APNS_TOKEN
    if body.token is None or not pattern.fullmatch(body.token):
        raise invalid("token", f"is not an {body.platform.upper()} device token")
    return body.token, None, None


@endpoint(
    "Register this device for push (registering the same token again changes nothing)",
    tags=["notifications"],
    body=DeviceIn,
    response=Device,
    status=201,
    extra_responses={200: Device},
)
async def add_device(request: web.Request, body: DeviceIn) -> web.Response:
    token, p256dh, auth = _device_token(request, body)
    row = await db_push.add_device(
        request.app[POOL], user_id(request), body.platform, token, p256dh, auth
    )
    return json_response(_device(row), status=201 if row["created"] else 200)


@endpoint("My devices registered for push", tags=["notifications"], response=DevicePage)
async def list_devices(request: web.Request) -> web.Response:
    rows = await db_push.devices(request.app[POOL], user_id(request))
    return json_response({"items": [_device(r) for r in rows], "next_cursor": None})


@endpoint("Stop pushing to one of my devices", tags=["notifications"], status=204)
async def delete_device(request: web.Request) -> web.Response:
    device_id = path_uuid(request, "id", "device")
    if not await db_push.delete_device(request.app[POOL], device_id, user_id(request)):
        raise not_found("device")
    return web.Response(status=204)


# Settings --------------------------------------------------------------------------------------


class PushTypes(Input):
    """Whether each type of notification is pushed (all are stored and sent live either way)."""

    like: bool = True
    comment: bool = True
    follow: bool = True
    follow_request: bool = True
    follow_accepted: bool = True


class QuietHours(Input):
    """Local times in time_zone (an IANA name); start after end spans midnight."""

    start: Clock
    end: Clock
    time_zone: Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Paris"])]


class NotificationSettings(Input):
    push: PushTypes = Field(default_factory=PushTypes)
    quiet_hours: QuietHours | None = None
    hide_presence: Annotated[bool, Field(description="Appear offline to everyone")] = False


def _settings_json(row: asyncpg.Record | None) -> NotificationSettings:
    if row is None:
        return NotificationSettings()
    muted = set(row["muted_types"])
    quiet = None
    if row["quiet_start"] is not None:
        quiet = QuietHours(
            start=row["quiet_start"].strftime("%H:%M"),
            end=row["quiet_end"].strftime("%H:%M"),
            time_zone=row["time_zone"],
        )
    return NotificationSettings(
        push=PushTypes(**{t: t not in muted for t in proto.PUSH_TYPES}),
        quiet_hours=quiet,
        hide_presence=row["hide_presence"],
    )


@endpoint("My notification settings", tags=["notifications"], response=NotificationSettings)
async def get_settings(request: web.Request) -> web.Response:
    row = await db_settings.get(request.app[POOL], user_id(request))
    return json_response(_settings_json(row).model_dump())


def _clock(text: str) -> time:
    return time(int(text[:2]), int(text[3:]))


@endpoint(
    "Replace my notification settings",
    tags=["notifications"],
    body=NotificationSettings,
    response=NotificationSettings,
)
async def put_settings(request: web.Request, body: NotificationSettings) -> web.Response:
    quiet = body.quiet_hours
    if quiet is not None:
        try:
            ZoneInfo(quiet.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid("quiet_hours.time_zone", "is not a known time zone") from None
    me = user_id(request)
    row = await db_settings.put(
        request.app[POOL],
        me,
        muted_types=[t for t in proto.PUSH_TYPES if not getattr(body.push, t)],
        quiet_start=_clock(quiet.start) if quiet else None,
        quiet_end=_clock(quiet.end) if quiet else None,
        time_zone=quiet.time_zone if quiet else "UTC",
        hide_presence=body.hide_presence,
    )
    if row["was_hidden"] != row["hide_presence"]:
        await _presence_changed(request, me, shown=not row["hide_presence"])
    return json_response(_settings_json(row).model_dump())


async def _presence_changed(request: web.Request, uid: uuid.UUID, *, shown: bool) -> None:
    """Hiding (or showing again) one's presence while online tells the watchers at once."""
    if (await online(request.app[REDIS], request.app[SETTINGS], [uid]))[0]:
        data = {"user_id": str(uid), "online": shown}
        await request.app[SIO].emit("presence", data, room=presence_room(uid), namespace="/")
