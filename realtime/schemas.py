"""The Socket.IO channel's payloads as pydantic models, and the catalogue of its events.

GET /asyncapi.json is generated from these (server/asyncapi.py), the REST routes that return
the same shapes (jobs, notifications, avatars) use the same models, and tests check that every
event the code emits or handles is catalogued here (or beside its emitter, for the post events
of server/routes/posts.py) and that real payloads validate against the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# String formats for documents: the API writes ids and times as strings.
IdStr = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="UTC")]


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """An event the server emits to clients."""

    name: str
    payload: type[BaseModel]
    summary: str


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """An event a client emits; the server answers each with an ack."""

    name: str
    payload: type[BaseModel]
    ack: type[BaseModel]
    summary: str


# Jobs ---------------------------------------------------------------------------------------

JobStatus = Literal["queued", "running", "done", "failed"]


class PaletteColor(BaseModel):
    hex: str = Field(pattern=r"^#[0-9a-f]{6}$", description="sRGB, lower case")
    family: str = Field(description="Colour family name (drape vocabulary), e.g. navy")
    share: float | None = Field(None, ge=0, le=1, description="Share of the garment, 0-1")


class JobResult(BaseModel):
    """What a finished job hands back; which fields are present depends on `kind`."""

    # recommend
    batch_id: str | None = Field(None, description="recommend: GET /v1/recommendations batch")
    count: int | None = Field(None, ge=0, description="recommend: outfits made")
    requested: int | None = Field(None, ge=1, description="recommend: outfits asked for")
    reason: str | None = Field(
        None, description="recommend: why fewer outfits than asked came back (absent if none)"
    )
    garments: int | None = Field(None, ge=0, description="recommend, style_analysis: wardrobe size")
    # style_analysis
    analysis_id: str | None = Field(
        None, description="style_analysis: GET /v1/style-analysis/latest"
    )
    summary: str | None = Field(None, description="style_analysis: one or two sentences")
    # social (explore)
    posts: int | None = Field(None, ge=0, description="social: explore posts picked")
    people: int | None = Field(None, ge=0, description="social: people suggested")
    # avatar
    avatar_id: str | None = Field(None, description="avatar: the avatar built")
    revision: int | None = Field(None, ge=0, description="avatar: the revision built")
    mesh_key: str | None = Field(None, description="avatar: object key of the GLB")
    mesh_bytes: int | None = Field(None, ge=0, description="avatar: size of the GLB")
    timings_ms: dict[str, float] | None = Field(None, description="avatar: build steps, ms")
    superseded: bool | None = Field(
        None, description="avatar: a newer revision was asked for meanwhile; nothing stored"
    )
    # garment_colors
    garment_id: str | None = Field(None, description="garment_colors: the garment")
    colors: list[PaletteColor] | None = Field(None, description="garment_colors: found colours")
    skipped: str | None = Field(None, description="garment_colors: why nothing was done")
    # export
    download_url: str | None = Field(None, description="export: signed link to the ZIP")
    bytes: int | None = Field(None, ge=0, description="export: size of the ZIP")
    tables: int | None = Field(None, ge=0, description="export: tables exported")
    objects: int | None = Field(None, ge=0, description="export: images and meshes exported")
    # maintenance
    checked: int | None = Field(None, ge=0, description="maintenance: jobs checked")
    requeued: int | None = Field(None, ge=0, description="maintenance: jobs queued again")


class Job(BaseModel):
    id: IdStr
    kind: str = Field(
        description="avatar, recommend, style_analysis, social, garment_colors, export ..."
    )
    status: JobStatus = Field(description="queued -> running -> done | failed")
    progress: float = Field(ge=0, le=1)
    result: JobResult | None = Field(description="Set once done")
    error: str | None = Field(description="Set once failed")
    attempts: int = Field(ge=0)
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


# Notifications --------------------------------------------------------------------------------


class Actor(BaseModel):
    id: str
    username: str | None = Field(description="null if the account is gone")


class Notification(BaseModel):
    id: str
    seq: int = Field(ge=1, description="Per user, gap-free: give the last one to `sync`")
    type: str = Field(
        description="like, comment, follow, follow_request or follow_accepted (more may come:"
        " show a generic line for a type you do not know)"
    )
    actor: Actor | None
    post_id: str | None = Field(None, description="For like and comment")
    comment_id: str | None = Field(None, description="For comment")
    created_at: Timestamp
    group_key: str = Field(
        description="The group of GET /v1/notifications/grouped this one belongs to: merge it"
        " into the group shown with that key"
    )


# Avatars ------------------------------------------------------------------------------------

Point = Annotated[
    list[float],
    Field(min_length=3, max_length=3, description="x, y, z in metres, the GLB's own space (y up)"),
]


class Landmark(BaseModel):
    """Where one measurement was taken on the mesh. Positions are in metres (glTF units); the
    measured value is in centimetres, like every measurement of the API."""

    kind: Literal["length", "circumference"]
    value_cm: float = Field(ge=0, description="The measured value, cm")
    from_: Point | None = Field(None, alias="from", description="length: one end")
    to: Point | None = Field(None, description="length: the other end")
    origin: Point | None = Field(None, description="circumference: centre of the cut")
    normal: Point | None = Field(
        None, description="circumference: unit normal of the cutting plane (no unit)"
    )


AvatarStatus = Literal["pending", "processing", "ready", "failed"]


class Avatar(BaseModel):
    id: str
    name: str
    status: AvatarStatus = Field(description="pending -> processing -> ready | failed")
    revision: int
    is_primary: bool
    measurements: dict[str, float]
    measured: dict[str, float]
    landmarks: dict[str, Landmark] = Field(description="By measurement name")
    customization: dict[str, str]
    morph_targets: list[str]
    vertex_count: int | None
    mesh_bytes: int | None
    mesh_url: str | None
    preview_url: str | None
    error: str | None
    created_at: str
    updated_at: str


# Client -> server payloads --------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectAuth(_In):
    """The `auth` of the connect call: `io(url, {auth: {token}})`. A missing, invalid or
    revoked token is refused with a connect_error whose message starts with `unauthorized:`."""

    token: str = Field(description="An access token, as for the REST API")


class PostRef(_In):
    post_id: IdStr


class SyncIn(_In):
    after_seq: int = Field(ge=0, description="The last notification seq the client holds")


class AvatarRef(_In):
    avatar_id: IdStr


class AvatarSet(_In):
    avatar_id: IdStr
    measurements: dict[str, float] | None = Field(
        None, description="Partial: only the sliders moved (names as in AvatarMeasurements), cm"
    )
    customization: dict[str, str] | None = Field(None, description="Partial customization")


class UserIds(_In):
    user_ids: list[IdStr] = Field(max_length=200)


class AvatarFit(_In):
    avatar_id: IdStr
    chart_id: IdStr | None = Field(None, description="A chart I may read; or garment_id")
    garment_id: IdStr | None = Field(None, description="A garment of mine with a chart")
    size: str | None = Field(None, description="A size label to map; default the recommended")


class TokenIn(_In):
    token: str = Field(description="A fresh access token of the same account")


# Acks -----------------------------------------------------------------------------------------

AckCode = Literal[
    "invalid", "not_found", "too_many", "no_session", "unauthorized", "rate_limited",
    "internal", "unknown_event", "token_expired",
]  # fmt: skip


class AckErrorBody(BaseModel):
    code: AckCode = Field(
        description="invalid: payload refused; not_found: no such thing or not yours to see;"
        " too_many: too many post rooms; no_session: avatar:session first; unauthorized: token"
        " refused; rate_limited: over the per-socket limit; internal: our fault;"
        " unknown_event: no such event; token_expired: the socket is being closed"
    )
    message: str = Field(description="For people; may change")


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ErrorAck(BaseModel):
    """Every refused event is answered with this."""

    ok: Literal[False]
    error: AckErrorBody
    errors: list[FieldErrorOut] | None = Field(None, description="avatar:set: each field refused")


class SubscribeAck(BaseModel):
    ok: Literal[True]
    post_id: IdStr
    like_count: int = Field(ge=0)
    comment_count: int = Field(ge=0)


class UnsubscribeAck(BaseModel):
    ok: Literal[True]
    post_id: IdStr


class SyncAck(BaseModel):
    ok: Literal[True]
    items: list[Notification] = Field(description="Oldest first, at most 500")
    next_cursor: str | None = Field(description="Set when more remain: sync again from last_seq")
    last_seq: int = Field(ge=0)


class AvatarSessionAck(Avatar):
    ok: Literal[True]
    avatar_id: IdStr


class AvatarSetAck(BaseModel):
    ok: Literal[True]
    avatar_id: IdStr
    revision: int = Field(ge=0, description="avatar:mesh events for this revision will follow")


class PresenceAck(BaseModel):
    ok: Literal[True]
    statuses: dict[str, Literal["online", "offline"]] = Field(description="By user id")
    refused: list[IdStr] = Field(description="Accounts I may not watch")


class OkAck(BaseModel):
    ok: Literal[True]


class AvatarFitAck(BaseModel):
    ok: Literal[True]
    avatar_id: IdStr
    request_id: str = Field(description="The `avatar:fitmap` that answers carries it")
    chart_id: IdStr
    sizes: list[str]


class AuthRefreshAck(BaseModel):
    ok: Literal[True]
    expires_at: float = Field(description="The new token's expiry, Unix seconds")


# Server -> client payloads --------------------------------------------------------------------


class JobUpdate(Job):
    """Each transition of one of the user's jobs (the same shape as GET /v1/jobs/{id})."""


class AvatarMesh(BaseModel):
    """A new computed state of an avatar, in revision order. After a build: `mesh_url` and its
    variants; during a live session: `morph_weights`; for refused slider values: `errors`."""

    avatar_id: IdStr
    revision: int = Field(ge=0)
    measured: dict[str, float] | None = Field(None, description="Measured on the mesh, cm")
    mesh_url: str | None = Field(None, description="Signed link to the GLB (meshopt)")
    mesh_plain_url: str | None = Field(None, description="The same body without compression")
    mesh_lod_url: str | None = Field(None, description="A light mesh")
    preview_url: str | None = Field(None, description="Signed link to a PNG")
    morph_weights: dict[str, float] | None = Field(
        None, description="Live session: weight (0-1) of each morph target of the GLB"
    )
    morph_ranges_cm: dict[str, float] | None = Field(
        None, description="cm a morph target changes its measurement by at weight 1"
    )
    errors: list[FieldErrorOut] | None = Field(None, description="Slider values refused")


class SessionEnded(BaseModel):
    reason: str = Field(
        description="signed_out, password_changed, session_revoked, account_deleted,"
        " account_suspended, token_reused or token_expired; the socket is closed next and does"
        " not reconnect by itself"
    )


class PostUnsubscribed(BaseModel):
    post_id: IdStr
    reason: Literal["access_lost"] = Field(description="The viewer may no longer see the post")


class ServerRestart(BaseModel):
    reconnect: Literal[True] = Field(description="Reconnect: another process will answer")


class Presence(BaseModel):
    user_id: IdStr
    online: bool


class NotificationRead(BaseModel):
    """The read marker moved (on any device of the user)."""

    up_to_seq: int = Field(ge=0)
    unread_count: int = Field(ge=0, description="For the app's badge")


class SyncNeeded(BaseModel):
    reason: Literal["bus_gap"] = Field(
        description="Events may have been lost between processes: send `sync {after_seq}` and"
        " re-read what is shown live, as after a reconnect"
    )


class PostViewers(BaseModel):
    post_id: IdStr
    count: int = Field(ge=0, description="Accounts watching the post now (at most every 2 s)")


class FitDimension(BaseModel):
    name: str = Field(description="A measurement name, as the avatar's")
    label: Literal["tight", "fits", "loose"]
    margin_cm: float = Field(description="To the nearer edge of the size's range: > 0 inside")
    ease_cm: float = Field(description="The size's range centre minus the body")


class AvatarFitmap(BaseModel):
    """How one size fits the live body, answering an `avatar:fit` (same request_id)."""

    avatar_id: IdStr
    request_id: str
    revision: int
    chart_id: IdStr
    size: str | None
    confidence: float
    position: float | None
    abstained: bool
    abstain_reason: str | None
    alternatives: list[str]
    dimensions: list[FitDimension]
    vertex_count: int | None = None
    ease_half_cm_b64: str | None = Field(
        None, description="Per-vertex ease in half centimetres, int8, base64, in vertex order"
    )
    scale_cm: float | None = None


SERVER_EVENTS = (
    ServerEvent("notification", Notification, "A stored notification, with its seq"),
    ServerEvent("job:update", JobUpdate, "A job of the user changed state"),
    ServerEvent("avatar:mesh", AvatarMesh, "A new computed state of one of the user's avatars"),
    ServerEvent("session:ended", SessionEnded, "This socket's session ended; it closes next"),
    ServerEvent("post:unsubscribed", PostUnsubscribed, "Taken out of a post's room"),
    ServerEvent("server:restart", ServerRestart, "This process is stopping; reconnect"),
    ServerEvent("presence", Presence, "A watched account came online or went offline"),
    ServerEvent("notification:read", NotificationRead, "The read marker moved"),
    ServerEvent("sync:needed", SyncNeeded, "Live events may have been lost: sync"),
    ServerEvent("post:viewers", PostViewers, "How many watch a subscribed post"),
    ServerEvent("avatar:fitmap", AvatarFitmap, "A size's fit on the live avatar"),
)

CLIENT_EVENTS = (
    ClientEvent("subscribe", PostRef, SubscribeAck, "Live counters and comments of one post"),
    ClientEvent("unsubscribe", PostRef, UnsubscribeAck, "Stop following a post"),
    ClientEvent("sync", SyncIn, SyncAck, "Every notification after a seq"),
    ClientEvent("avatar:session", AvatarRef, AvatarSessionAck, "Open a live avatar session"),
    ClientEvent("avatar:set", AvatarSet, AvatarSetAck, "Move sliders; the latest wins"),
    ClientEvent("auth:refresh", TokenIn, AuthRefreshAck, "Keep the socket past the token's expiry"),
    ClientEvent("presence:watch", UserIds, PresenceAck, "Follow who of these is online"),
    ClientEvent("presence:unwatch", UserIds, OkAck, "Stop following their presence"),
    ClientEvent("avatar:fit", AvatarFit, AvatarFitAck, "A size's fit map on the live avatar"),
)
