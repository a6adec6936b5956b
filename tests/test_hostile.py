"""Hostile input over HTTP and Socket.IO: every refusal is a 4xx problem document (or an error
ack), never a 5xx, and the process goes on serving everyone else."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio
from aiohttp import web

from realtime.ratelimit import EventLimiter
from tests.conftest import Api, RunningApp, User

PROBLEM = "application/problem+json"
SQL_FRAGMENTS = ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE users; --", '" OR ""="']


async def assert_problem(r: aiohttp.ClientResponse, *statuses: int) -> dict[str, Any]:
    text = await r.text()
    assert r.status in statuses, (r.status, text[:500])
    assert r.content_type == PROBLEM, (r.content_type, text[:500])
    body = json.loads(text)
    assert body["status"] == r.status and body["title"], body
    return body


async def assert_alive(api: Api) -> None:
    r = await api.get("/healthz")
    assert r.status == 200, await r.text()


async def raw(
    api: Api,
    method: str,
    path: str,
    data: bytes | str,
    *,
    token: str | None,
    content_type: str = "application/json",
) -> aiohttp.ClientResponse:
    return await api.request(
        method,
        path,
        token=token,
        data=data.encode() if isinstance(data, str) else data,
        headers={"Content-Type": content_type},
    )


async def _post(api: Api, user: User, caption: str = "look") -> dict[str, Any]:
    r = await api.post("/v1/posts", token=user.token, json={"caption": caption})
    assert r.status == 201, await r.text()
    return await r.json()


# Sizes and shapes ---------------------------------------------------------------------------------


async def test_body_above_client_max_size_is_413(api: Api, pool: asyncpg.Pool) -> None:
    user = await api.register("big")
    limit = api.settings.client_max_size
    caption = "x" * (limit + 1)
    body = json.dumps({"caption": caption})
    r = await raw(api, "POST", "/v1/posts", body, token=user.token)
    await assert_problem(r, 413)

    async def chunks() -> Any:  # no Content-Length: the limit holds while reading
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536
        yield b"{}"

    r = await raw(api, "POST", "/v1/posts", chunks(), token=user.token)  # type: ignore[arg-type]
    await assert_problem(r, 413)
    r = await raw(api, "POST", "/v1/auth/register", body, token=None)
    await assert_problem(r, 413)
    assert await pool.fetchval("SELECT count(*) FROM posts") == 0
    await assert_alive(api)
    assert (await api.post("/v1/posts", token=user.token, json={"caption": "ok"})).status == 201


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("shape", ["list", "object"])
async def test_deeply_nested_json_is_400(api: Api, depth: int, shape: str) -> None:
    user = await api.register("deep")
    if shape == "list":
        body = "[" * depth + "]" * depth
    else:
        body = '{"a":' * depth + "1" + "}" * depth
    for path in ("/v1/posts", "/v1/auth/login"):
        r = await raw(api, "POST", path, body, token=user.token)
        await assert_problem(r, 400, 413)
    r = await raw(api, "PATCH", "/v1/me", '{"preferences":' + body + "}", token=user.token)
    await assert_problem(r, 400, 413)
    await assert_alive(api)


@pytest.mark.parametrize("depth", [100, 300, 900])
async def test_nesting_within_the_parser_limit_in_a_free_form_field(api: Api, depth: int) -> None:
    """Deep enough to pass json.loads but not orjson (255) or Postgres: 422, not 500."""
    user = await api.register("nest")
    nested: Any = 1
    for _ in range(depth):
        nested = {"a": nested}
    r = await api.patch("/v1/me", token=user.token, json={"preferences": {"n": nested}})
    if r.status == 200:
        assert (await r.json())["preferences"] == {"n": nested}
    else:
        body = await assert_problem(r, 422)
        assert "preferences" in [e["field"] for e in body["errors"]], body
    await assert_alive(api)


@pytest.mark.parametrize(
    "data",
    [
        b'{"caption": "\xff\xfe"}',
        b'{"caption": "caf\xc3"}',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark is not JSON
        b'{"caption": "\xed\xa0\x80"}',  # an encoded surrogate
    ],
)
async def test_invalid_utf8_is_400(api: Api, data: bytes) -> None:
    user = await api.register("bytes")
    r = await raw(api, "POST", "/v1/posts", data, token=user.token)
    await assert_problem(r, 400)


@pytest.mark.parametrize(
    "text", ['"\\ud800"', '"\\udfff tail"', '"pair \\ud83d"', '"\\udc00\\ud800"']
)
async def test_lone_surrogate_escapes_are_422(api: Api, pool: asyncpg.Pool, text: str) -> None:
    """Valid JSON, but no Unicode text: Postgres and UTF-8 cannot hold them."""
    user = await api.register("surrogate")
    for method, path, field in [
        ("POST", "/v1/posts", "caption"),
        ("PATCH", "/v1/me", "bio"),
        ("POST", "/v1/garments", "name"),
    ]:
        extra = ', "category": "tops"' if path == "/v1/garments" else ""
        r = await raw(api, method, path, f'{{"{field}": {text}{extra}}}', token=user.token)
        body = await assert_problem(r, 422)
        assert field in [e["field"] for e in body["errors"]], body
    r = await raw(api, "PATCH", "/v1/me", f'{{"preferences": {{{text}: 1}}}}', token=user.token)
    await assert_problem(r, 422)
    assert await pool.fetchval("SELECT count(*) FROM posts") == 0


# NUL and numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/posts", {"caption": "a\u0000b"}, "caption"),
        ("PATCH", "/v1/me", {"display_name": "\u0000"}, "display_name"),
        ("PATCH", "/v1/me", {"bio": "bio\u0000"}, "bio"),
        ("PATCH", "/v1/me", {"preferences": {"k": "v\u0000"}}, "preferences.k"),
        ("PATCH", "/v1/me", {"preferences": {"k\u0000": 1}}, "preferences"),
        ("PUT", "/v1/me/profile", {"city": "Par\u0000is"}, "city"),
        ("POST", "/v1/garments", {"name": "tee\u0000", "category": "tops"}, "name"),
        ("POST", "/v1/garments", {"name": "t", "category": "tops", "notes": "\u0000"}, "notes"),
        ("POST", "/v1/garments", {"name": "t", "category": "tops", "tags": ["a\u0000"]}, "tags.0"),
        ("POST", "/v1/avatars", {"measurements": {"height": 170}, "name": "\u0000"}, "name"),
        ("POST", "/v1/auth/login", {"login": "a\u0000", "password": "x"}, "login"),
        (
            "POST",
            "/v1/auth/register",
            {"email": "a@b.co", "username": "nul_user", "password": "pw\u0000pw pw pw pw"},
            "password",
        ),
    ],
)
async def test_nul_in_strings_is_422(
    api: Api, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    user = await api.register("nul")
    r = await api.request(method, path, token=user.token, json=body)
    problem = await assert_problem(r, 422)
    assert field in [e["field"] for e in problem["errors"]], problem


async def test_nul_in_query_and_path_is_refused(api: Api) -> None:
    user = await api.register("nulq")
    for path in (
        "/v1/garments?q=a%00b",
        "/v1/garments?tag=a%00",
        "/v1/posts?author=a%00",
        "/v1/posts?cursor=%00",
        "/v1/outfits?cursor=%00",
    ):
        r = await api.get(path, token=user.token)
        await assert_problem(r, 404, 422)
    for path in ("/v1/users/a%00b", "/v1/users/a%00b/followers", "/v1/posts/%00"):
        r = await api.get(path, token=user.token)
        await assert_problem(r, 404)
    r = await api.put("/v1/users/a%00b/follow", token=user.token)
    await assert_problem(r, 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/recommendations", '{"count": 1e400}'),
        ("POST", "/v1/recommendations", '{"count": 10000000000000000000000000000000000000000}'),
        ("POST", "/v1/recommendations", '{"weather": {"temperature_c": 1e400}}'),
        ("POST", "/v1/recommendations", '{"weather": {"temperature_c": -1e400}}'),
        ("POST", "/v1/garments", '{"name": "t", "category": "tops", "price": 1e400}'),
        ("POST", "/v1/garments", '{"name": "t", "category": "tops", "formality": 1e40}'),
        ("POST", "/v1/garments", '{"name": "t", "category": "tops", "warmth": -1e400}'),
        ("PUT", "/v1/me/profile", '{"height_cm": 1e400}'),
        ("PUT", "/v1/me/style-profile", '{"budget_max": 10000000000000000000000000000000000}'),
        ("POST", "/v1/avatars", '{"measurements": {"height": 1e400}}'),
        ("POST", "/v1/avatars", '{"measurements": {"height": -1e400}}'),
        ("POST", "/v1/avatars", '{"measurements": {"height": 1e-400}}'),
        ("PATCH", "/v1/me", '{"preferences": {"n": 10000000000000000000000000000000000000000}}'),
        ("PATCH", "/v1/me", '{"preferences": {"n": 1e400}}'),
    ],
)
async def test_huge_numbers_are_422(api: Api, method: str, path: str, body: str) -> None:
    user = await api.register("huge")
    r = await raw(api, method, path, body, token=user.token)
    await assert_problem(r, 422)
    await assert_alive(api)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(api: Api, literal: str) -> None:
    user = await api.register("nan")
    for method, path, body in [
        ("POST", "/v1/recommendations", f'{{"weather": {{"temperature_c": {literal}}}}}'),
        ("POST", "/v1/avatars", f'{{"measurements": {{"height": {literal}}}}}'),
        ("PATCH", "/v1/me", f'{{"preferences": {{"n": {literal}}}}}'),
        ("PUT", "/v1/me/profile", f'{{"height_cm": {literal}}}'),
    ]:
        r = await raw(api, method, path, body, token=user.token)
        await assert_problem(r, 400)


async def test_huge_integers_in_queries_are_422(api: Api) -> None:
    user = await api.register("bigq")
    for path in (
        "/v1/notifications?after_seq=10000000000000000000000000000000000000000",
        "/v1/notifications?after_seq=1e400",
        "/v1/notifications?limit=-10000000000000000000000000000000000000000",
        "/v1/feed?limit=NaN",
        "/v1/garments?limit=Infinity",
    ):
        r = await api.get(path, token=user.token)
        await assert_problem(r, 422)
    r = await api.get("/v1/notifications?after_seq=9223372036854775807", token=user.token)
    assert r.status == 200, await r.text()


# SQL fragments -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
async def test_sql_fragments_in_text_fields_are_stored_verbatim(
    api: Api, pool: asyncpg.Pool, fragment: str
) -> None:
    user = await api.register("sqli")
    post = await _post(api, user, fragment)
    assert post["caption"] == fragment
    r = await api.post(
        f"/v1/posts/{post['id']}/comments", token=user.token, json={"body": fragment}
    )
    assert r.status == 201 and (await r.json())["body"] == fragment.strip(), await r.text()
    r = await api.patch(
        "/v1/me", token=user.token, json={"bio": fragment, "display_name": fragment}
    )
    assert r.status == 200, await r.text()
    me = await r.json()
    assert me["bio"] == me["display_name"] == fragment
    r = await api.put("/v1/me/profile", token=user.token, json={"city": fragment})
    assert r.status == 200 and (await r.json())["city"] == fragment, await r.text()
    garment = {"name": f"tee {fragment}", "category": "tops", "brand": fragment, "notes": fragment}
    r = await api.post("/v1/garments", token=user.token, json=garment)
    assert r.status == 201, await r.text()
    got = await r.json()
    assert (got["name"], got["brand"], got["notes"]) == (f"tee {fragment}", fragment, fragment)
    r = await api.post(
        "/v1/avatars", token=user.token, json={"measurements": {"height": 170}, "name": fragment}
    )
    assert r.status == 202 and (await r.json())["avatar"]["name"] == fragment, await r.text()
    assert await pool.fetchval("SELECT count(*) FROM users") == 1
    assert await pool.fetchval("SELECT count(*) FROM posts") == 1


async def test_sql_fragments_in_queries_and_paths_match_nothing(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await _post(api, bob, "bob's")
    for name in ("Plain tee", "Red 100% wool", "under_score", "back\\slash"):
        r = await api.post(
            "/v1/garments", token=alice.token, json={"name": name, "category": "tops"}
        )
        assert r.status == 201, await r.text()
    expect = {
        "%": ["Red 100% wool"],
        "_": ["under_score"],
        "\\": ["back\\slash"],
        "' OR 1=1 --": [],
        "'; DROP TABLE users; --": [],
        '" OR ""="': [],
    }
    for fragment, names in expect.items():
        r = await api.get("/v1/garments", token=alice.token, params={"q": fragment})
        assert r.status == 200, await r.text()
        assert [g["name"] for g in (await r.json())["items"]] == names, fragment
        r = await api.get("/v1/garments", token=alice.token, params={"tag": fragment})
        assert r.status in (200, 422), await r.text()
        if r.status == 200:
            assert (await r.json())["items"] == []
        r = await api.get("/v1/posts", token=alice.token, params={"author": fragment})
        await assert_problem(r, 404)
        r = await api.get("/v1/posts", token=alice.token, params={"cursor": fragment})
        await assert_problem(r, 422)
        quoted = aiohttp.helpers.quote(fragment, safe="")  # type: ignore[attr-defined]
        for path in (f"/v1/users/{quoted}", f"/v1/users/{quoted}/following"):
            r = await api.get(path, token=alice.token)
            await assert_problem(r, 404)
        r = await api.get(f"/v1/posts/{quoted}", token=alice.token)
        await assert_problem(r, 404)


# Unicode -----------------------------------------------------------------------------------------

HOSTILE_USERNAMES = [
    "аdmin",  # Cyrillic a
    "admіn",  # Ukrainian i
    "ａｄｍｉｎ",  # full width
    "\u202eadmin",  # right-to-left override
    "ad\u200bmin",  # zero width space
    "admin\u0301",  # combining accent
    "emoji😀",
    "alice\n",
    " alice",
    "ali ce",
    "İstanbul",
    "ǆungla",
    "ß" * 3,
]


@pytest.mark.parametrize("username", HOSTILE_USERNAMES)
async def test_unicode_usernames_are_refused(api: Api, pool: asyncpg.Pool, username: str) -> None:
    body = {"email": "u@example.com", "username": username, "password": "correct horse battery"}
    r = await api.post("/v1/auth/register", json=body)
    problem = await assert_problem(r, 422)
    assert "username" in [e["field"] for e in problem["errors"]], problem
    user = await api.register("plain")
    r = await api.patch("/v1/me", token=user.token, json={"username": username})
    await assert_problem(r, 422)
    assert await pool.fetchval("SELECT array_agg(username) FROM users") == ["plain"]


UNICODE_TEXT = [
    "Zoë’s coat 🧥✨",
    "مرحبا بالعالم",
    "\u202eevil\u202c and \u200fmarks\u200e",
    "日本語のキャプション",
    "e\u0301 (decomposed) é (composed)",
    "👩🏽‍🦱👨‍👩‍👧 family",
    "\U0010fffd private use",
    "tab\tnew\nline",
]


@pytest.mark.parametrize("text", UNICODE_TEXT)
async def test_unicode_text_round_trips(api: Api, text: str) -> None:
    user = await api.register("uni")
    r = await api.patch("/v1/me", token=user.token, json={"display_name": text, "bio": text})
    assert r.status == 200, await r.text()
    me = await (await api.get("/v1/me", token=user.token)).json()
    assert (me["display_name"], me["bio"]) == (text, text)
    post = await _post(api, user, text)
    got = await (await api.get(f"/v1/posts/{post['id']}", token=user.token)).json()
    assert got["caption"] == text
    r = await api.post(f"/v1/posts/{post['id']}/comments", token=user.token, json={"body": text})
    assert r.status == 201 and (await r.json())["body"] == text.strip(), await r.text()
    r = await api.patch("/v1/me", token=user.token, json={"preferences": {text: text}})
    assert r.status == 200 and (await r.json())["preferences"] == {text: text}, await r.text()


# Content types, empty bodies, odd shapes ------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "image/png",
    ],
)
async def test_wrong_content_type_is_415(api: Api, pool: asyncpg.Pool, content_type: str) -> None:
    user = await api.register("ctype")
    r = await raw(
        api, "POST", "/v1/posts", '{"caption": "x"}', token=user.token, content_type=content_type
    )
    await assert_problem(r, 415)
    assert await pool.fetchval("SELECT count(*) FROM posts") == 0


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "Application/JSON",
    ],
)
async def test_json_content_types_are_accepted(api: Api, content_type: str) -> None:
    user = await api.register("ctype")
    r = await raw(
        api, "POST", "/v1/posts", '{"caption": "x"}', token=user.token, content_type=content_type
    )
    assert r.status == 201, await r.text()


@pytest.mark.parametrize("data", [b"", b" ", b"\n\t "])
async def test_empty_bodies_are_400(api: Api, data: bytes) -> None:
    user = await api.register("empty")
    for method, path in [("POST", "/v1/posts"), ("PATCH", "/v1/me"), ("POST", "/v1/auth/login")]:
        r = await raw(api, method, path, data, token=user.token)
        await assert_problem(r, 400)
    r = await api.request("POST", "/v1/posts", token=user.token)  # no body, no content type
    await assert_problem(r, 400)


@pytest.mark.parametrize("data", ["null", "[]", '"caption"', "42", "true", '[{"caption": "x"}]'])
async def test_json_that_is_not_an_object_is_422(api: Api, data: str) -> None:
    user = await api.register("shape")
    for method, path in [("POST", "/v1/posts"), ("PATCH", "/v1/me"), ("POST", "/v1/auth/login")]:
        r = await raw(api, method, path, data, token=user.token)
        await assert_problem(r, 422)


async def test_logout_body_is_checked_like_any_other(api: Api) -> None:
    user = await api.register("leaver")
    for data, status in [("{not json", 400), ('{"refresh_token": 5}', 422), ("[]", 422)]:
        r = await raw(api, "POST", "/v1/auth/logout", data, token=user.token)
        await assert_problem(r, status)
    r = await raw(api, "POST", "/v1/auth/logout", "{}", token=user.token, content_type="text/plain")
    await assert_problem(r, 415)


async def test_repeated_and_oversized_query_parameters(api: Api) -> None:
    user = await api.register("query")
    r = await api.get("/v1/feed?limit=5&limit=7&limit=3", token=user.token)
    assert r.status == 200, await r.text()
    r = await api.get("/v1/feed?limit=5&limit=0", token=user.token)
    await assert_problem(r, 422)
    r = await api.get("/v1/feed", token=user.token, params={"limit": "9" * 5000})
    await assert_problem(r, 422)
    r = await api.get("/v1/feed", token=user.token, params={"cursor": "c" * 5000})
    await assert_problem(r, 422)
    r = await api.get("/v1/garments", token=user.token, params={"q": "q" * 5000})
    await assert_problem(r, 422)
    many = "&".join(["tag=a"] * 500)
    r = await api.get(f"/v1/garments?{many}", token=user.token)
    await assert_problem(r, 422)
    many = "&".join(["category=tops"] * 500)
    r = await api.get(f"/v1/garments?{many}", token=user.token)
    await assert_problem(r, 422)
    r = await api.get("/v1/garments?unknown=1", token=user.token)
    await assert_problem(r, 422)
    # Past the HTTP parser's line limit the server answers before any handler runs.
    r = await api.get("/v1/feed?cursor=" + "c" * 20_000, token=user.token)
    assert 400 <= r.status < 500, r.status
    r = await api.get("/v1/feed", token=user.token, headers={"X-Big": "h" * 20_000})
    assert 400 <= r.status < 500, r.status
    await assert_alive(api)


@pytest.mark.parametrize(
    "segment",
    [
        "not-a-uuid",
        "1",
        "00000000-0000-0000-0000-00000000000g",
        "%27%20OR%201%3D1%20--",
        "x" * 2000,
        "%F0%9F%98%80",
        "..%2F..%2Fetc",
        "%00",
        "%ff%fe",
        "{id}",
    ],
)
async def test_path_ids_that_are_not_uuids_are_404(api: Api, segment: str) -> None:
    user = await api.register("paths")
    for method, template in [
        ("GET", "/v1/posts/{}"),
        ("DELETE", "/v1/posts/{}"),
        ("PUT", "/v1/posts/{}/like"),
        ("GET", "/v1/posts/{}/comments"),
        ("DELETE", "/v1/comments/{}"),
        ("GET", "/v1/garments/{}"),
        ("GET", "/v1/outfits/{}"),
        ("GET", "/v1/avatars/{}"),
        ("GET", "/v1/jobs/{}"),
        ("POST", "/v1/me/follow-requests/{}/accept"),
        ("POST", "/v1/outfits/{}/worn"),
        ("GET", "/v1/users/{}"),
    ]:
        r = await api.request(method, template.format(segment), token=user.token)
        await assert_problem(r, 404)
    await assert_alive(api)


# Socket.IO ---------------------------------------------------------------------------------------

Connect = Callable[..., Awaitable[socketio.AsyncClient]]

NESTED_JUNK: Any = {"post_id": [[[[{"a": {"b": [None, 1.5, "x" * 100]}}]]]], "avatar_id": {}}
for _ in range(50):
    NESTED_JUNK = {"x": [NESTED_JUNK]}

JUNK_PAYLOADS: list[Any] = [
    "string",
    ["post_id", "after_seq"],
    42,
    -1.5,
    None,
    True,
    {},
    {"post_id": 5, "avatar_id": 5, "after_seq": "5"},
    {"post_id": None, "avatar_id": None, "after_seq": None},
    {"post_id": ["x"], "avatar_id": {"$ne": None}, "after_seq": [0]},
    {"post_id": "' OR 1=1 --", "avatar_id": "%", "after_seq": -1},
    {"post_id": str(uuid.uuid4()), "avatar_id": str(uuid.uuid4()), "after_seq": 10**40},
    {"after_seq": 1e300, "post_id": "\u0000", "avatar_id": "\ud800"},
    NESTED_JUNK,
    {"post_id": "x" * 60_000},
    "y" * 60_000,
]


def user_events(server: RunningApp) -> list[str]:
    """Client -> server events the app registered (connect/disconnect are not events)."""
    from realtime.context import SIO

    names = set(server.app[SIO].namespace_handlers["/"].handled()) - {"connect", "disconnect", "*"}
    assert {"subscribe", "unsubscribe", "sync", "avatar:session", "avatar:set"} <= names
    return sorted(names)


async def test_events_with_wrong_payload_types_get_error_acks(
    server: RunningApp, api: Api, sio_connect: Connect
) -> None:
    user = await api.register("junk")
    for event in user_events(server):
        client = await sio_connect(user.token)  # one socket per event: stays under the limit
        for payload in JUNK_PAYLOADS:
            ack = await client.call(event, payload, timeout=5)
            post_id = payload.get("post_id") if isinstance(payload, dict) else None
            if event == "unsubscribe" and ack == {"ok": True, "post_id": post_id}:
                continue  # leaving a room one is not in is fine
            assert isinstance(ack, dict) and ack["ok"] is False, (event, payload, ack)
            assert ack["error"]["code"] in {"invalid", "not_found", "no_session"}, ack
        for args in [(), ("a", "b"), ({"post_id": "x"}, {"after_seq": 0}, 3)]:
            ack = await client.call(event, args, timeout=5) if args else await client.call(event)
            assert ack["ok"] is False and ack["error"]["code"] == "invalid", (event, args, ack)
        assert client.connected
        assert (await client.call("sync", {"after_seq": 0}, timeout=5))["ok"] is True
    await assert_alive(api)


async def test_a_frame_above_the_buffer_limit_drops_only_that_socket(
    api: Api, sio_connect: Connect
) -> None:
    a, b = await api.register("huge_a"), await api.register("huge_b")
    big, other = await sio_connect(a.token), await sio_connect(b.token)
    await big.emit("sync", {"after_seq": 0, "pad": "z" * 200_000})
    for _ in range(100):
        if not big.connected:
            break
        await asyncio.sleep(0.05)
    assert not big.connected
    assert (await other.call("sync", {"after_seq": 0}, timeout=5))["ok"] is True
    await assert_alive(api)


async def test_unknown_events_are_ignored_and_the_socket_stays_usable(
    api: Api, sio_connect: Connect
) -> None:
    user = await api.register("unknown")
    client = await sio_connect(user.token)
    for name in ("nope", "post:like", "notification", "__proto__", "x" * 1000, "message"):
        await client.emit(name, {"post_id": str(uuid.uuid4())})
        ack = await client.call(name, {"after_seq": 0}, timeout=5)
        assert ack["ok"] is False and ack["error"]["code"] == "unknown_event", (name, ack)
    assert client.connected
    ack = await client.call("sync", {"after_seq": 0}, timeout=5)
    assert ack["ok"] is True, ack


class RawSocket:
    """A Socket.IO client speaking the wire protocol itself, to send what no library would."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, base: str) -> RawSocket:
        ws = await session.ws_connect(f"{base}/socket.io/?EIO=4&transport=websocket")
        first = await ws.receive_str(timeout=5)
        assert first.startswith("0{"), first
        return cls(ws)

    async def send(self, frame: str) -> None:
        await self.ws.send_str(frame)

    async def receive(self, timeout: float = 5.0) -> str | None:
        """The next Socket.IO frame, skipping Engine.IO pings; None once the socket is closed
        or nothing came in time."""
        while True:
            try:
                msg = await self.ws.receive(timeout=timeout)
            except TimeoutError:
                return None
            if msg.type != aiohttp.WSMsgType.TEXT or msg.data == "1":  # "1": Engine.IO close
                return None
            if msg.data == "2":
                await self.ws.send_str("3")
                continue
            return str(msg.data)

    async def connect(self, token: str | None) -> str | None:
        await self.send("40" + (json.dumps({"token": token}) if token is not None else ""))
        return await self.receive()


async def test_reserved_event_names_from_clients_are_not_dispatched(
    server: RunningApp, api: Api
) -> None:
    """A client sending an event named "connect" or "disconnect" must not run those handlers
    (which would count a phantom disconnect or sign the socket in as someone else)."""
    from realtime.metrics import SOCKETS_CONNECTED

    alice, bob = await api.register("alice"), await api.register("bob")
    r = await api.put("/v1/users/alice/follow", token=bob.token)  # alice: one notification
    assert r.status == 200, await r.text()
    raw_ws = await RawSocket.open(api.session, server.base)
    assert (await raw_ws.connect(alice.token) or "").startswith("40{")
    connected = SOCKETS_CONNECTED._value.get()
    auth = json.dumps({"token": bob.token})
    for n, frame in enumerate(
        [
            '["disconnect"]',
            '["disconnect", "client namespace disconnect"]',
            f'["connect", {{}}, {auth}]',
            '["connect_error", {}]',
            "[]",
            "[null]",
            "[[]]",
            '[{"a": 1}]',
            "[5]",
            '{"a": 1}',
            '"sync"',
        ]
    ):
        await raw_ws.send(f"42{n + 1}{frame}")
    await raw_ws.send('429["sync",{"after_seq":0}]')
    reply = await raw_ws.receive()
    while reply is not None and not reply.startswith("439"):
        reply = await raw_ws.receive()
    ack = json.loads(reply[3:])[0] if reply else None
    assert ack is not None and ack["ok"] is True, reply
    assert [n["actor"]["username"] for n in ack["items"]] == ["bob"]  # still alice's socket
    assert SOCKETS_CONNECTED._value.get() == connected
    await raw_ws.ws.close()


@pytest.mark.parametrize(
    "frame", ["42[", '42["sync",', '42{"a"', "4z", "42-", '451-["sync",{"a":1}]x', "4" + "9" * 200]
)
async def test_undecodable_packets_drop_only_that_socket(
    server: RunningApp, api: Api, frame: str, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    bad = await RawSocket.open(api.session, server.base)
    good = await RawSocket.open(api.session, server.base)
    assert (await bad.connect(alice.token) or "").startswith("40{")
    assert (await good.connect(bob.token) or "").startswith("40{")
    await bad.send(frame)
    while (reply := await bad.receive()) is not None:
        assert not reply.startswith("43"), reply
    await good.send('421["sync",{"after_seq":0}]')
    reply = await good.receive()
    assert reply is not None and json.loads(reply[3:])[0]["ok"] is True, reply
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    await good.ws.close()


async def test_flood_is_rate_limited_then_disconnected(
    server: RunningApp, api: Api, sio_connect: Connect
) -> None:
    from realtime.metrics import SOCKET_EVENTS

    flooder, bystander = await api.register("flooder"), await api.register("bystander")
    noisy, calm = await sio_connect(flooder.token), await sio_connect(bystander.token)
    refused_before = SOCKET_EVENTS.labels("sync", "rate_limited")._value.get()

    async def one() -> dict[str, Any] | None:
        try:
            return await noisy.call("sync", {"after_seq": 0}, timeout=2)  # type: ignore[no-any-return]
        except socketio.exceptions.SocketIOError:  # unanswered: disconnected meanwhile
            return None

    limit = EventLimiter()
    flood = 2 * (limit.burst + limit.disconnect_after)
    acks = await asyncio.gather(*(one() for _ in range(flood)))
    ok = [a for a in acks if a is not None and a["ok"]]
    limited = [a for a in acks if a is not None and not a["ok"]]
    assert limit.burst <= len(ok) <= limit.burst + limit.rate, len(ok)
    assert limited and all(a["error"]["code"] == "rate_limited" for a in limited)
    refused = SOCKET_EVENTS.labels("sync", "rate_limited")._value.get() - refused_before
    assert refused >= max(len(limited), limit.disconnect_after + 1), (refused, len(limited))
    # Far past the limit (that many refusals within a second) the server drops the socket.
    for _ in range(100):
        if not noisy.connected:
            break
        await asyncio.sleep(0.05)
    assert not noisy.connected
    assert (await calm.call("sync", {"after_seq": 0}, timeout=5))["ok"] is True
    await assert_alive(api)
    again = await sio_connect(flooder.token)  # a fresh socket starts with a full bucket
    assert (await again.call("sync", {"after_seq": 0}, timeout=5))["ok"] is True


async def test_a_short_burst_is_refused_but_not_disconnected(
    api: Api, sio_connect: Connect
) -> None:
    user = await api.register("bursty")
    client = await sio_connect(user.token)
    limit = EventLimiter()
    n = limit.burst + limit.disconnect_after // 2
    acks = await asyncio.gather(
        *(client.call("unsubscribe", {"post_id": str(uuid.uuid4())}, timeout=5) for _ in range(n))
    )
    codes = [a["error"]["code"] if not a["ok"] else "ok" for a in acks]
    assert limit.burst <= codes.count("ok") < n and codes.count("rate_limited") > 0, codes
    assert client.connected
    await asyncio.sleep(1.0)  # `rate` tokens come back
    ack = await client.call("sync", {"after_seq": 0}, timeout=5)
    assert ack["ok"] is True, ack


async def test_every_registered_event_is_rate_limited(
    server: RunningApp, api: Api, sio_connect: Connect
) -> None:
    """Driven by the server's own handler table: an event registered without the guard fails."""
    user = await api.register("limited")
    for event in [*user_events(server), "not-registered"]:
        client = await sio_connect(user.token)
        n = EventLimiter().burst + 20
        acks = await asyncio.gather(*(client.call(event, "junk", timeout=5) for _ in range(n)))
        codes = {a["error"]["code"] for a in acks}
        assert "rate_limited" in codes, (event, codes)
        await client.disconnect()


def test_event_limiter_bucket() -> None:
    from realtime.ratelimit import EventLimiter, Verdict

    now = [0.0]
    limiter = EventLimiter(rate=20, burst=40, disconnect_after=100, clock=lambda: now[0])
    assert [limiter.check("a") for _ in range(40)] == [Verdict.ALLOW] * 40
    assert limiter.check("a") is Verdict.REFUSE
    assert limiter.check("b") is Verdict.ALLOW  # sockets do not share a bucket
    now[0] += 0.5  # 10 tokens back
    assert [limiter.check("a") for _ in range(10)] == [Verdict.ALLOW] * 10
    assert limiter.check("a") is Verdict.REFUSE
    verdicts = [limiter.check("a") for _ in range(100)]
    assert verdicts[:98] == [Verdict.REFUSE] * 98 and verdicts[-1] is Verdict.DISCONNECT
    assert limiter.check("a") is Verdict.REFUSE  # disconnecting once is enough
    now[0] += 10  # refusals leak away like tokens come back
    assert limiter.check("a") is Verdict.ALLOW
    limiter.forget("a")
    assert "a" not in limiter
    assert limiter.check("b") is Verdict.ALLOW
    now[0] += limiter.settled_after + 1  # "b" is idle: as good as new, so swept
    assert limiter.check("c") is Verdict.ALLOW
    assert "b" not in limiter and len(limiter) == 1


async def test_shutdown_is_bounded_when_sockets_do_not_finish_closing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing every socket waits for its send queue; a socket whose client vanished at that
    moment never drains (seen with clients that drop mid-handshake). Shutdown goes on anyway."""
    import realtime.server
    from realtime.context import SIO
    from server.app import create_app

    monkeypatch.setattr(realtime.server, "DISCONNECT_ALL_TIMEOUT", 0.2)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)  # then sockets are cut
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    async with aiohttp.ClientSession() as http:
        raw_ws = await RawSocket.open(http, f"http://127.0.0.1:{settings.port}")
        assert app[SIO].eio.sockets

        async def never_done(sid: str | None = None) -> None:
            await asyncio.Event().wait()

        monkeypatch.setattr(app[SIO].eio, "disconnect", never_done)
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(runner.cleanup(), 10)
        assert asyncio.get_running_loop().time() - started < 5
        await raw_ws.ws.close()
