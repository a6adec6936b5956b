"""Posts, likes, comments and the home feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from db import follows as db_follows
from db import posts as db_posts
from db import timelines as db_timelines
from db import users as db_users
from db.common import encode_cursor, iso
from drape import timelines
from drape.images import DISPLAY_SIDE
from drape.storage import ObjectStore
from realtime.context import EMITTER
from realtime.schemas import Actor, IdStr, ServerEvent
from server import images, moderation, ratelimit
from server.auth import user_id
from server.context import ARQ, POOL, SETTINGS, STORE
from server.errors import Problem, forbidden, invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_uuid
from server.routes.users import Input


class PostIn(Input):
    caption: Annotated[str, Field(max_length=2200)] = ""
    outfit_id: uuid.UUID | None = None


class PageQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None


class ImageOrderIn(Input):
    # The current positions in the order wanted: [2, 0, 1] moves the third image first.
    positions: Annotated[
        list[Annotated[int, Field(ge=0, le=9)]], Field(min_length=1, max_length=10)
    ]

    @field_validator("positions")
    @classmethod
    def _each_once(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("each position may appear only once")
        return v


class PostPatch(Input):
    caption: Annotated[str, Field(max_length=2200)]


class Liker(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None
    is_verified: bool
    liked_at: str


class LikerPage(BaseModel):
    items: list[Liker]
    next_cursor: str | None


class PostsQuery(PageQuery):
    author: Annotated[str, Field(max_length=30)] | None = None


class CommentIn(Input):
    body: Annotated[str, Field(min_length=1, max_length=1000)]
    parent_id: uuid.UUID | None = None  # a reply to this top-level comment of the post


class Author(BaseModel):
    id: str
    username: str
    display_name: str | None = None
    avatar_url: str | None = None


class ItemColor(BaseModel):
    hex: str
    family: str


class OutfitItemSummary(BaseModel):
    """A garment of a posted outfit, as anyone who may see the post sees it."""

    garment_id: str
    slot: str = Field(description="Where it is worn in the outfit (see OutfitItem.slot)")
    position: int = Field(ge=0, le=31)
    name: str
    category: str
    colors: list[ItemColor]
    thumbnail_url: str | None


class OutfitSummary(BaseModel):
    id: str
    name: str
    items: list[OutfitItemSummary]


class PostImage(BaseModel):
    position: int
    url: str


class Post(BaseModel):
    id: str
    author: Author
    caption: str
    outfit: OutfitSummary | None
    image_url: str | None  # the first of images
    images: list[PostImage]
    like_count: int
    comment_count: int
    liked_by_me: bool
    created_at: str


class PostPage(BaseModel):
    items: list[Post]
    next_cursor: str | None


class Comment(BaseModel):
    id: str
    post_id: str
    parent_id: str | None  # set on a reply
    author: Author
    body: str
    reply_count: int
    like_count: int
    liked_by_me: bool
    created_at: str


class CommentLikeState(BaseModel):
    comment_id: str
    liked: bool
    like_count: int


class CommentPage(BaseModel):
    items: list[Comment]
    next_cursor: str | None


class LikeState(BaseModel):
    post_id: str
    liked: bool
    like_count: int


# Socket.IO events emitted from here (to a post's room, or to followers), catalogued for
# GET /asyncapi.json beside realtime/schemas.py's.


class PostLike(BaseModel):
    post_id: IdStr
    like_count: int = Field(ge=0, description="The absolute count after this change")
    actor_liked: bool = Field(description="Whether the actor now likes it (false: unliked)")
    liked: bool = Field(
        description="The same as actor_liked: the ACTOR's state, not the receiver's (kept for"
        " older clients; REST `liked`/`liked_by_me` are the caller's own)"
    )
    actor: Author


class PostComment(BaseModel):
    post_id: IdStr
    comment: Comment
    comment_count: int = Field(ge=0)
    actor: Actor = Field(description="Who commented (the comment's author)")


class PostCommentDeleted(BaseModel):
    post_id: IdStr
    comment_id: IdStr
    comment_count: int = Field(ge=0)


class FeedPost(BaseModel):
    post: Post


SOCKET_EVENTS = (
    ServerEvent("post:like", PostLike, "A like or unlike, to the post's subscribers"),
    ServerEvent("post:comment", PostComment, "A new comment, to the post's subscribers"),
    ServerEvent("post:comment_deleted", PostCommentDeleted, "A comment went (deleted or removed)"),
    ServerEvent("feed:post", FeedPost, "A new post, to its author's followers who are online"),
)


async def posts_json(
    conn: asyncpg.Pool | asyncpg.Connection, store: ObjectStore, rows: list[asyncpg.Record]
) -> list[dict[str, Any]]:
    """A page of posts with their outfits, fetched together (no query per post). Rows selected
    with db.posts.POST_FIELDS carry their image keys; others have them looked up here."""
    outfits = await db_posts.outfit_summaries(
        conn, list({r["outfit_id"] for r in rows if r["outfit_id"] is not None})
    )
    for outfit in outfits.values():
        outfit["items"] = [await _item_json(store, item) for item in outfit["items"]]
    pictures = {r["id"]: keys for r in rows if (keys := r.get("image_keys")) is not None}
    pictures.update(
        await db_posts.images_of(conn, [r["id"] for r in rows if r["id"] not in pictures])
    )
    out = []
    for r in rows:
        out.append(
            {
                "id": str(r["id"]),
                "author": {
                    "id": str(r["author_id"]),
                    "username": r["author_username"],
                    "display_name": r["author_display_name"],
                    "avatar_url": r["author_avatar_url"],
                },
                "caption": r["caption"],
                "outfit": outfits.get(r["outfit_id"]) if r["outfit_id"] else None,
                "image_url": await store.url(r["image_key"]) if r["image_key"] else None,
                "images": [
                    {"position": i, "url": await store.url(k)}
                    for i, k in enumerate(pictures.get(r["id"], []))
                ],
                "like_count": r["like_count"],
                "comment_count": r["comment_count"],
                "liked_by_me": r["liked_by_me"],
                "created_at": iso(r["created_at"]),
            }
        )
    return out


async def _item_json(store: ObjectStore, item: dict[str, Any]) -> dict[str, Any]:
    key = item.get("thumbnail_key")
    return {
        **{k: item[k] for k in ("garment_id", "slot", "position", "name", "category")},
        "colors": [{"hex": c["hex"], "family": c["family"]} for c in item.get("colors") or []],
        "thumbnail_url": await store.url(key) if key else None,
    }


def comment_json(r: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "post_id": str(r["post_id"]),
        "author": {
            "id": str(r["author_id"]),
            "username": r["author_username"],
            "avatar_url": r["author_avatar_url"],
        },
        "body": r["body"],
        "parent_id": str(r["parent_id"]) if r.get("parent_id") else None,
        "reply_count": r.get("reply_count") or 0,
        "like_count": r.get("like_count") or 0,
        "liked_by_me": bool(r.get("liked_by_me")),
        "created_at": iso(r["created_at"]),
    }


async def _page(request: web.Request, rows: list[asyncpg.Record], limit: int) -> web.Response:
    items = await posts_json(request.app[POOL], request.app[STORE], rows)
    return json_response({"items": items, "next_cursor": next_cursor(rows, limit)})


async def _push(request: web.Request, notes: list[tuple[uuid.UUID, dict[str, Any]]]) -> None:
    for recipient, note in notes:
        await request.app[EMITTER].notification(recipient, note)


async def _me(request: web.Request) -> asyncpg.Record:
    me = await db_users.get_user(request.app[POOL], user_id(request))
    if me is None or not me["is_active"]:
        raise Problem(401, "This account no longer exists.", code="account_inactive")
    return me


@endpoint("Publish a post", tags=["social"], body=PostIn, response=Post, status=201)
async def create_post(request: web.Request, body: PostIn) -> web.Response:
    moderation.screen(request, caption=body.caption)
    me = await _me(request)
    try:
        row = await db_posts.create_post(
            request.app[POOL],
            author_id=me["id"],
            caption=body.caption,
            outfit_id=body.outfit_id,
            image_key=None,
        )
    except PermissionError:
        raise invalid("outfit_id", "is not one of your outfits") from None
    [post] = await posts_json(request.app[POOL], request.app[STORE], [row])
    await _push(
        request, await db_posts.mention_in_caption(request.app[POOL], row["id"], me, body.caption)
    )
    settings = request.app[SETTINGS]
    await timelines.published(request.app[ARQ], settings, (row["id"], me["id"], row["created_at"]))
    # Followers of an account merged at read time see its post when they read their feed; a
    # live event to each of them would be the per-follower fan-out that merging avoids.
    if me["follower_count"] <= settings.timeline_fanout_max_followers:
        followers = await db_follows.follower_ids(request.app[POOL], me["id"])
        await request.app[EMITTER].to_users(followers, "feed:post", {"post": post})
    return json_response(post, 201)


@endpoint(
    "A user's posts (mine by default)",
    tags=["social"],
    description="A private account's list answers 403 `private_account` to a viewer who does"
    " not follow it: the account itself is visible (its profile says `can_view_content:"
    " false`), so the app can offer to follow. One post of it (GET /v1/posts/{id}) answers 404"
    " `not_found` instead, like any post the viewer may not see: a post id reveals nothing.",
    query=PostsQuery,
    response=PostPage,
    errors=(403, 404),
)
async def list_posts(request: web.Request, query: PostsQuery) -> web.Response:
    pool, viewer = request.app[POOL], user_id(request)
    author = None
    if query.author:
        author = await db_users.get_seen_by_username(pool, query.author, viewer)
        if author is None:
            raise not_found("user")
    if author is not None and not await db_users.can_see_content(pool, viewer, author):
        raise forbidden(
            "This account is private; follow it to see its posts.", code="private_account"
        )
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_posts.author_posts(
        pool, viewer, author["id"] if author else viewer, before, query.limit
    )
    return await _page(request, rows, query.limit)


@endpoint("One post", tags=["social"], response=Post, errors=(404,))
async def get_post(request: web.Request) -> web.Response:
    row = await db_posts.get_visible_post(
        request.app[POOL], path_uuid(request, "id", "post"), user_id(request)
    )
    if row is None:
        raise not_found("post")
    [post] = await posts_json(request.app[POOL], request.app[STORE], [row])
    return json_response(post)


@endpoint("Delete my post and its stored images", tags=["social"], status=204, errors=(404,))
async def delete_post(request: web.Request) -> web.Response:
    post_id, me = path_uuid(request, "id", "post"), user_id(request)
    keys = await db_posts.delete_post(request.app[POOL], post_id, me)
    if keys is None:
        raise not_found("post")
    await timelines.forget_post(request.app[ARQ], post_id, me)
    await images.delete_objects(request, keys)
    return web.Response(status=204)


@endpoint(
    "My home feed: posts of the accounts I follow and mine, newest first",
    tags=["social"],
    query=PageQuery,
    response=PostPage,
)
async def feed(request: web.Request, query: PageQuery) -> web.Response:
    app, viewer = request.app, user_id(request)
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    if app[SETTINGS].timelines:
        rows = await db_timelines.feed(
            app[POOL], app[ARQ], app[SETTINGS], viewer, before, query.limit
        )
    else:
        rows = await db_posts.feed(app[POOL], viewer, before, query.limit)
    return await _page(request, rows, query.limit)


async def _like_response(
    request: web.Request, change: db_posts.Change | None, liked: bool
) -> web.Response:
    if change is None:
        raise not_found("post")
    if change.changed:
        emitter = request.app[EMITTER]
        await emitter.notification(change.author_id, change.notification)
        actor = {"id": str(user_id(request)), "username": change.extra["actor_username"]}
        await emitter.to_post(
            change.post_id,
            "post:like",
            {
                "post_id": str(change.post_id),
                "like_count": change.like_count,
                "actor_liked": liked,
                "liked": liked,
                "actor": actor,
            },
        )
    return json_response(
        {"post_id": str(change.post_id), "liked": liked, "like_count": change.like_count}
    )


@endpoint(
    "Like a post (idempotent)",
    tags=["social"],
    response=LikeState,
    errors=(404,),
    limit=ratelimit.Action.LIKE,
)
async def like(request: web.Request) -> web.Response:
    change = await db_posts.like(
        request.app[POOL], path_uuid(request, "id", "post"), user_id(request)
    )
    return await _like_response(request, change, liked=True)


@endpoint("Take back a like (idempotent)", tags=["social"], response=LikeState, errors=(404,))
async def unlike(request: web.Request) -> web.Response:
    change = await db_posts.unlike(
        request.app[POOL], path_uuid(request, "id", "post"), user_id(request)
    )
    return await _like_response(request, change, liked=False)


@endpoint(
    "A post's comments, oldest first",
    tags=["social"],
    query=PageQuery,
    response=CommentPage,
    errors=(404,),
)
async def list_comments(request: web.Request, query: PageQuery) -> web.Response:
    pool = request.app[POOL]
    post_id = path_uuid(request, "id", "post")
    viewer = user_id(request)
    if await db_posts.get_visible_post(pool, post_id, viewer) is None:
        raise not_found("post")
    after = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_posts.comments(pool, post_id, after, query.limit, viewer)
    return json_response(
        {"items": [comment_json(r) for r in rows], "next_cursor": next_cursor(rows, query.limit)}
    )


@endpoint(
    "Comment on a post",
    tags=["social"],
    body=CommentIn,
    response=Comment,
    status=201,
    errors=(404,),
    limit=ratelimit.Action.COMMENT,
)
async def add_comment(request: web.Request, body: CommentIn) -> web.Response:
    me = await _me(request)
    text = body.body.strip()
    if not text:
        raise invalid("body", "must not be blank")
    moderation.screen(request, body=text)
    try:
        change = await db_posts.add_comment(
            request.app[POOL], path_uuid(request, "id", "post"), me, text, body.parent_id
        )
    except db_posts.NoSuchParent:
        raise invalid("parent_id", "is not a top-level comment of this post") from None
    if change is None or change.comment is None:
        raise not_found("post")
    comment = comment_json(change.comment)
    emitter = request.app[EMITTER]
    await emitter.notification(change.author_id, change.notification)
    await _push(request, change.extra["mentions"])
    await emitter.to_post(
        change.post_id,
        "post:comment",
        {
            "post_id": str(change.post_id),
            "comment": comment,
            "comment_count": change.comment_count,
            "actor": {"id": str(me["id"]), "username": me["username"]},
        },
    )
    return json_response(comment, 201)


@endpoint(
    "Delete a comment (its author or the post's owner)",
    tags=["social"],
    status=204,
    errors=(403, 404),
)
async def delete_comment(request: web.Request) -> web.Response:
    result = await db_posts.delete_comment(
        request.app[POOL], path_uuid(request, "id", "comment"), user_id(request)
    )
    if result is None:
        raise not_found("comment")
    if result is False:
        raise forbidden("Only the comment's author or the post's owner may delete it.")
    assert isinstance(result, db_posts.Change)
    await request.app[EMITTER].to_post(
        result.post_id,
        "post:comment_deleted",
        {
            "post_id": str(result.post_id),
            "comment_id": result.extra["comment_id"],
            "comment_count": result.comment_count,
        },
    )
    return web.Response(status=204)


@endpoint(
    "Start uploading my post's image",
    tags=["social"],
    body=images.UploadIn,
    response=images.PresignedUpload,
    status=201,
    errors=(404,),
)
async def start_image(request: web.Request, body: images.UploadIn) -> web.Response:
    me, post_id = user_id(request), path_uuid(request, "id", "post")
    post = await db_posts.get_visible_post(request.app[POOL], post_id, me)
    if post is None or post["author_id"] != me:
        raise not_found("post")
    form = await images.start_upload(
        request,
        owner_id=me,
        purpose="post_image",
        target_id=post_id,
        prefix=f"posts/{me}/{post_id}",
        content_type=body.content_type,
    )
    return json_response(form, 201)


@endpoint(
    "Confirm my post's uploaded image",
    tags=["social"],
    body=images.CompleteIn,
    response=Post,
    errors=(404, 409, 413),
)
async def complete_image(request: web.Request, body: images.CompleteIn) -> web.Response:
    pool, me, post_id = request.app[POOL], user_id(request), path_uuid(request, "id", "post")
    post = await db_posts.get_visible_post(pool, post_id, me)
    if post is None or post["author_id"] != me:
        raise not_found("post")
    if not images.is_copy_of(post["image_key"], body.key):  # not a retried confirm
        got = await images.receive(
            request,
            key=body.key,
            owner_id=me,
            purpose="post_image",
            target_id=post_id,
            sides=(DISPLAY_SIDE,),
        )
        unused = await db_posts.set_image(
            pool, me, post_id, upload_key=body.key, image_key=got.keys[DISPLAY_SIDE]
        )
        if unused is None:
            await images.delete_objects(request, list(got.keys.values()))
            raise Problem(
                409,
                "The post or the upload changed meanwhile; start a new upload.",
                code="upload_stale",
            )
        await images.delete_objects(request, [body.key, *unused])
        post = await db_posts.get_visible_post(pool, post_id, me)
    [out] = await posts_json(pool, request.app[STORE], [post])
    return json_response(out)


@endpoint(
    "Edit my post's caption (hashtags parsed again; accounts newly mentioned are notified)",
    tags=["social"],
    body=PostPatch,
    response=Post,
    errors=(404,),
)
async def patch_post(request: web.Request, body: PostPatch) -> web.Response:
    moderation.screen(request, caption=body.caption)
    me, post_id = await _me(request), path_uuid(request, "id", "post")
    edited = await db_posts.edit_caption(request.app[POOL], post_id, me, body.caption)
    if edited is None:
        raise not_found("post")
    row, notes = edited
    await _push(request, notes)
    [post] = await posts_json(request.app[POOL], request.app[STORE], [row])
    return json_response(post)


@endpoint(
    "Who liked a post, the latest first", tags=["social"], query=PageQuery, response=LikerPage
)
async def likers(request: web.Request, query: PageQuery) -> web.Response:
    pool, viewer, post_id = request.app[POOL], user_id(request), path_uuid(request, "id", "post")
    if await db_posts.get_visible_post(pool, post_id, viewer) is None:
        raise not_found("post")
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_posts.likers(pool, viewer, post_id, before, query.limit)
    items = [
        {
            **{k: r[k] for k in ("username", "display_name", "avatar_url", "is_verified")},
            "id": str(r["id"]),
            "liked_at": iso(r["created_at"]),
        }
        for r in rows
    ]
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})


@endpoint(
    "Save a post to my private collection (idempotent)", tags=["social"], status=204, errors=(404,)
)
async def save_post(request: web.Request) -> web.Response:
    post_id = path_uuid(request, "id", "post")
    if not await db_posts.save(request.app[POOL], user_id(request), post_id):
        raise not_found("post")
    return web.Response(status=204)


@endpoint(
    "Take a post out of my saved ones (idempotent)", tags=["social"], status=204, errors=(404,)
)
async def unsave_post(request: web.Request) -> web.Response:
    await db_posts.unsave(request.app[POOL], user_id(request), path_uuid(request, "id", "post"))
    return web.Response(status=204)


@endpoint(
    "My saved posts (only I see them), the latest saved first",
    tags=["social"],
    query=PageQuery,
    response=PostPage,
)
async def saved_posts(request: web.Request, query: PageQuery) -> web.Response:
    pool = request.app[POOL]
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_posts.saved(pool, user_id(request), before, query.limit)
    items = await posts_json(pool, request.app[STORE], rows)
    last = rows[-1] if len(rows) == query.limit else None
    cursor = encode_cursor(last["saved_at"], last["id"]) if last else None
    return json_response({"items": items, "next_cursor": cursor})


@endpoint(
    "A comment's replies, oldest first",
    tags=["social"],
    query=PageQuery,
    response=CommentPage,
    errors=(404,),
)
async def list_replies(request: web.Request, query: PageQuery) -> web.Response:
    pool, viewer = request.app[POOL], user_id(request)
    comment_id = path_uuid(request, "id", "comment")
    if await db_posts.visible_comment(pool, comment_id, viewer) is None:
        raise not_found("comment")
    after = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_posts.replies(pool, viewer, comment_id, after, query.limit)
    return json_response(
        {"items": [comment_json(r) for r in rows], "next_cursor": next_cursor(rows, query.limit)}
    )


async def _comment_like(request: web.Request, liked: bool) -> web.Response:
    comment_id = path_uuid(request, "id", "comment")
    count = await db_posts.like_comment(
        request.app[POOL], comment_id, user_id(request), liked=liked
    )
    if count is None:
        raise not_found("comment")
    return json_response({"comment_id": str(comment_id), "liked": liked, "like_count": count})


@endpoint(
    "Like a comment (idempotent)",
    tags=["social"],
    response=CommentLikeState,
    errors=(404,),
    limit=ratelimit.Action.LIKE,
)
async def like_comment(request: web.Request) -> web.Response:
    return await _comment_like(request, liked=True)


@endpoint(
    "Take back a like of a comment (idempotent)",
    tags=["social"],
    response=CommentLikeState,
    errors=(404,),
)
async def unlike_comment(request: web.Request) -> web.Response:
    return await _comment_like(request, liked=False)


@endpoint(
    f"Add an uploaded image to my post, after the others (at most {db_posts.MAX_IMAGES}); the "
    "upload form comes from POST /v1/posts/{id}/image",
    tags=["social"],
    body=images.CompleteIn,
    response=Post,
    status=201,
    errors=(404, 409, 413),
)
async def add_image(request: web.Request, body: images.CompleteIn) -> web.Response:
    pool, me, post_id = request.app[POOL], user_id(request), path_uuid(request, "id", "post")
    post = await db_posts.get_visible_post(pool, post_id, me)
    if post is None or post["author_id"] != me:
        raise not_found("post")
    got = await images.receive(
        request, key=body.key, owner_id=me, purpose="post_image", target_id=post_id,
        sides=(DISPLAY_SIDE,),
    )  # fmt: skip
    try:
        added = await db_posts.add_image(pool, me, post_id, body.key, got.keys[DISPLAY_SIDE])
    except db_posts.TooManyImages:
        added = None
    if not added:
        await images.delete_objects(request, list(got.keys.values()))
        raise Problem(409, f"The post has {db_posts.MAX_IMAGES} images, or changed meanwhile.")
    await images.delete_objects(request, [body.key])
    return await _my_post(request, post_id, 201)


@endpoint(
    "Remove one image of my post (the later ones move up)",
    tags=["social"],
    response=Post,
    errors=(404,),
)
async def remove_image(request: web.Request) -> web.Response:
    pool, me, post_id = request.app[POOL], user_id(request), path_uuid(request, "id", "post")
    try:
        position = int(request.match_info["position"])
    except ValueError:
        raise not_found("image") from None
    gone = await db_posts.remove_image(pool, me, post_id, position)
    if gone is None:
        raise not_found("image")
    await images.delete_objects(request, [gone])
    return await _my_post(request, post_id)


@endpoint(
    "Put my post's images in a new order (the first is the cover, image_url)",
    tags=["social"],
    body=ImageOrderIn,
    response=Post,
    errors=(404, 409),
)
async def reorder_images(request: web.Request, body: ImageOrderIn) -> web.Response:
    pool, me, post_id = request.app[POOL], user_id(request), path_uuid(request, "id", "post")
    try:
        if not await db_posts.reorder_images(pool, me, post_id, body.positions):
            raise not_found("post")
    except db_posts.ImagesChanged as e:
        raise Problem(
            409,
            f"positions must name each of the post's images once: {e}.",
            code="images_changed",
        ) from None
    return await _my_post(request, post_id)


async def _my_post(request: web.Request, post_id: uuid.UUID, status: int = 200) -> web.Response:
    """The answer of an edit of my post: the post as it is now."""
    pool, me = request.app[POOL], user_id(request)
    [out] = await posts_json(
        pool, request.app[STORE], [await db_posts.get_visible_post(pool, post_id, me)]
    )
    return json_response(out, status)
