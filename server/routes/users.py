"""Me, other users, UserProfile and StyleProfile."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from db import follows as db_follows
from db import users as db_users
from db.common import iso
from drape import access, timelines, vocab
from server import email_flows, moderation, passwords
from server.auth import user_id
from server.context import ARQ, POOL, REDIS, SETTINGS
from server.errors import Problem, invalid, not_found
from server.openapi import endpoint
from server.params import USERNAME_PATTERN, JsonValue, json_response, path_username

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"

Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
Email = Annotated[
    str, StringConstraints(pattern=EMAIL_PATTERN, max_length=254, strip_whitespace=True)
]
HexOrFamily = Annotated[str, StringConstraints(pattern=r"^(#[0-9a-fA-F]{6}|[a-z]+)$")]


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s]{1,2000}$", value):
        raise ValueError("must be an http(s) URL")
    return value


HttpUrl = Annotated[str | None, AfterValidator(_http_url)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublicUser(BaseModel):
    id: str
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    is_verified: bool
    is_private: bool
    follower_count: int
    following_count: int
    post_count: int
    created_at: str
    follow_status: Literal["active", "pending"] | None = None
    can_view_content: bool = True


class Me(PublicUser):
    email: str | None
    email_verified: bool
    pending_email: str | None  # a new address waiting for its confirmation link
    website: str | None
    locale: str
    timezone: str
    preferences: dict[str, JsonValue] = Field(description="The client's own settings, as sent")
    has_password: bool
    firebase_linked: bool
    last_login_at: str | None
    updated_at: str


def public_user(row: asyncpg.Record, **viewer: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "username": row["username"],
        "display_name": row["display_name"],
        "bio": row["bio"],
        "avatar_url": row["avatar_url"],
        "is_verified": row["is_verified"],
        "is_private": row["is_private"],
        "follower_count": row["follower_count"],
        "following_count": row["following_count"],
        "post_count": row["post_count"],
        "created_at": iso(row["created_at"]),
        **viewer,
    }


def own_user(row: asyncpg.Record) -> dict[str, Any]:
    return {
        **public_user(row),
        "email": row["email"],
        "website": row["website"],
        "locale": row["locale"],
        "timezone": row["timezone"],
        "preferences": row["preferences"],
        "email_verified": row["email_verified_at"] is not None,
        "pending_email": row["pending_email"],
        "has_password": row["password_hash"] is not None,
        "firebase_linked": row["firebase_uid"] is not None,
        "last_login_at": iso(row["last_login_at"]),
        "updated_at": iso(row["updated_at"]),
    }


@endpoint("My account", tags=["users"], response=Me)
async def get_me(request: web.Request) -> web.Response:
    row = await db_users.get_user(request.app[POOL], user_id(request))
    if row is None:
        raise not_found("user")
    return json_response(own_user(row))


class MeUpdate(Input):
    username: Username | None = None
    email: Email | None = None
    display_name: Annotated[str, Field(max_length=60)] | None = None
    bio: Annotated[str, Field(max_length=500)] | None = None
    avatar_url: HttpUrl = None
    website: HttpUrl = None
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] | None = None
    timezone: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+\-]+){0,2}$")] | None
    ) = None
    is_private: bool | None = None
    preferences: dict[str, JsonValue] | None = Field(
        None, description="Any JSON object the client keeps here, at most 4 KB"
    )
    # Needed to change the email of an account that has a password.
    current_password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None

    @field_validator("preferences")
    @classmethod
    def small_preferences(cls, v: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if v is not None and len(orjson.dumps(v)) > 4096:
            raise ValueError("must be at most 4 KB of JSON")
        return v


@endpoint("Change my account", tags=["users"], body=MeUpdate, response=Me, errors=(409,))
async def patch_me(request: web.Request, body: MeUpdate) -> web.Response:
    changes = body.model_dump(exclude_unset=True)
    # Columns that cannot be null take an explicit null as "no change".
    changes = {k: v for k, v in changes.items() if v is not None or k in {"avatar_url", "website"}}
    moderation.screen(
        request,
        username=changes.get("username"),
        display_name=changes.get("display_name"),
        bio=changes.get("bio"),
    )
    email, password = changes.pop("email", None), changes.pop("current_password", None)
    row = await db_users.update_user(request.app[POOL], user_id(request), changes)
    if row is None:
        raise not_found("user")
    if email is not None and email.lower() != (row["email"] or "").lower():
        row = await _change_email(request, row, email, password)
    if changes.get("is_private") is True:  # strangers watching my posts lose them now
        await access.recheck(request.app[REDIS], request.app[SETTINGS], row["id"])
    if changes.get("is_private") is False:
        # Going public answers every waiting follow request with yes.
        accepted = await db_follows.accept_all(request.app[POOL], row["id"])
        await timelines.merge_author(request.app[ARQ], row["id"], accepted)
        row = await db_users.get_user(request.app[POOL], row["id"])
    return json_response(own_user(row))


async def _change_email(
    request: web.Request, row: asyncpg.Record, email: str, password: str | None
) -> asyncpg.Record:
    """The new address stays pending until the link mailed to it comes back; changing it takes
    the password of an account that has one."""
    stored = row["password_hash"]
    if stored is not None and (
        password is None or not await passwords.verify_password(stored, password)
    ):
        raise invalid("current_password", "the account's password is needed to change its email")
    if await db_users.get_by_email(request.app[POOL], email) is not None:
        raise Problem(409, "This email belongs to another account.", code="email_taken")
    return await email_flows.start_change(request, row, email)


@endpoint("A user's public profile", tags=["users"], response=PublicUser, errors=(404,))
async def get_user(request: web.Request) -> web.Response:
    pool, viewer = request.app[POOL], user_id(request)
    row = await db_users.get_seen_by_username(pool, path_username(request), viewer)
    if row is None:
        raise not_found("user")
    status = await db_users.follow_status(pool, viewer, row["id"])
    visible = not row["is_private"] or viewer == row["id"] or status == "active"
    return json_response(public_user(row, follow_status=status, can_view_content=visible))


# UserProfile -------------------------------------------------------------------------------------


class ProfileIn(Input):
    full_name: Annotated[str, Field(max_length=120)] = ""
    pronouns: Annotated[str, Field(max_length=40)] = ""
    gender: Literal[vocab.GENDERS] | None = None  # type: ignore[valid-type]
    birth_date: date | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    city: Annotated[str, Field(max_length=120)] = ""
    height_cm: Annotated[Decimal, Field(ge=50, le=260, decimal_places=1)] | None = None
    weight_kg: Annotated[Decimal, Field(ge=20, le=400, decimal_places=1)] | None = None

    @field_validator("birth_date")
    @classmethod
    def plausible_birth_date(cls, v: date | None) -> date | None:
        if v is not None and not date(1900, 1, 1) <= v <= date.today():
            raise ValueError("must be between 1900-01-01 and today")
        return v


class Profile(BaseModel):
    full_name: str
    pronouns: str
    gender: str | None
    birth_date: str | None
    country: str | None
    city: str
    height_cm: float | None
    weight_kg: float | None
    updated_at: str | None


def profile_json(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {**ProfileIn().model_dump(mode="json"), "updated_at": None}
    out = {f: row[f] for f in db_users.PROFILE_FIELDS}
    out["birth_date"] = row["birth_date"].isoformat() if row["birth_date"] else None
    for f in ("height_cm", "weight_kg"):
        out[f] = float(row[f]) if row[f] is not None else None
    out["updated_at"] = iso(row["updated_at"])
    return out


@endpoint("My profile", tags=["users"], response=Profile)
async def get_profile(request: web.Request) -> web.Response:
    return json_response(
        profile_json(await db_users.get_profile(request.app[POOL], user_id(request)))
    )


@endpoint("Replace my profile", tags=["users"], body=ProfileIn, response=Profile)
async def put_profile(request: web.Request, body: ProfileIn) -> web.Response:
    row = await db_users.put_profile(request.app[POOL], user_id(request), body.model_dump())
    return json_response(profile_json(row))


# StyleProfile ------------------------------------------------------------------------------------

Style = Literal[vocab.STYLE_ARCHETYPES]  # type: ignore[valid-type]
Occasion = Literal[vocab.OCCASIONS]  # type: ignore[valid-type]
Money = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=2)]


def _color(value: str) -> str:
    if value.startswith("#"):
        return value.lower()
    if value not in vocab.COLOR_FAMILIES:
        raise ValueError(f"must be #rrggbb or one of {', '.join(vocab.COLOR_FAMILIES)}")
    return value


Color = Annotated[HexOrFamily, AfterValidator(_color)]


class StyleProfileIn(Input):
    preferred_styles: Annotated[list[Style], Field(max_length=10)] = []
    preferred_colors: Annotated[list[Color], Field(max_length=20)] = []
    avoided_colors: Annotated[list[Color], Field(max_length=20)] = []
    fit: Literal[vocab.FITS] | None = None  # type: ignore[valid-type]
    sizes: dict[Literal[vocab.SIZE_KEYS], Annotated[str, Field(max_length=12)]] = {}  # type: ignore[valid-type]
    budget_min: Money | None = None
    budget_max: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    body_shape: Literal[vocab.BODY_SHAPES] | None = None  # type: ignore[valid-type]
    occasions: Annotated[list[Occasion], Field(max_length=len(vocab.OCCASIONS))] = []

    @model_validator(mode="after")
    def budget_in_order(self) -> StyleProfileIn:
        if self.budget_min is not None and self.budget_max is not None:
            if self.budget_min > self.budget_max:
                raise ValueError("budget_max must not be below budget_min")
        return self


class StyleProfile(BaseModel):
    preferred_styles: list[str]
    preferred_colors: list[str]
    avoided_colors: list[str]
    fit: str | None
    sizes: dict[str, str]
    budget_min: float | None
    budget_max: float | None
    currency: str
    body_shape: str | None
    occasions: list[str]
    updated_at: str | None


def style_json(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {**StyleProfileIn().model_dump(mode="json"), "updated_at": None}
    out = {f: row[f] for f in db_users.STYLE_FIELDS}
    for f in ("budget_min", "budget_max"):
        out[f] = float(row[f]) if row[f] is not None else None
    out["updated_at"] = iso(row["updated_at"])
    return out


@endpoint("My style profile", tags=["users"], response=StyleProfile)
async def get_style_profile(request: web.Request) -> web.Response:
    row = await db_users.get_style_profile(request.app[POOL], user_id(request))
    return json_response(style_json(row))


@endpoint("Replace my style profile", tags=["users"], body=StyleProfileIn, response=StyleProfile)
async def put_style_profile(request: web.Request, body: StyleProfileIn) -> web.Response:
    values = body.model_dump()
    # Keep order, drop repeats: ["casual", "casual"] is one preference.
    for key in ("preferred_styles", "preferred_colors", "avoided_colors", "occasions"):
        values[key] = list(dict.fromkeys(values[key]))
    row = await db_users.put_style_profile(request.app[POOL], user_id(request), values)
    return json_response(style_json(row))
