"""Posts and comments made through the API, for tests that need some to act on."""

from __future__ import annotations

from tests.conftest import Api, User


async def new_post(api: Api, author: User, caption: str = "look") -> str:
    r = await api.post("/v1/posts", token=author.token, json={"caption": caption})
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def new_comment(api: Api, user: User, post_id: str, body: str = "nice") -> str:
    r = await api.post(f"/v1/posts/{post_id}/comments", token=user.token, json={"body": body})
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])
