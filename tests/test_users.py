"""Me, public profiles, UserProfile, StyleProfile, privacy and the authorization matrix."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.conftest import Api


async def test_patch_me_changes_only_what_is_sent(api: Api) -> None:
    user = await api.register("patchy")
    r = await api.patch(
        "/v1/me",
        token=user.token,
        json={
            "display_name": "Patchy P",
            "bio": "I like denim.",
            "is_private": True,
            "preferences": {"units": "metric"},
            "website": "https://patchy.example",
        },
    )
    assert r.status == 200, await r.text()
    me = await r.json()
    assert me["display_name"] == "Patchy P" and me["is_private"] is True
    assert me["preferences"] == {"units": "metric"} and me["email"] == "patchy@example.com"
    r = await api.patch("/v1/me", token=user.token, json={"bio": "Still denim."})
    me = await r.json()
    assert me["display_name"] == "Patchy P" and me["bio"] == "Still denim."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bio": "x" * 501}, "bio"),
        ({"display_name": "x" * 61}, "display_name"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"is_verified": True}, "is_verified"),
        ({"follower_count": 10**6}, "follower_count"),
        ({"username": "no spaces please"}, "username"),
        ({"preferences": {"k": "v" * 5000}}, "preferences"),
        ({"is_private": "maybe"}, "is_private"),
    ],
)
async def test_patch_me_rejects_bad_input_and_changes_nothing(
    api: Api, body: dict[str, object], field: str
) -> None:
    user = await api.register("strict")
    before = await (await api.get("/v1/me", token=user.token)).json()
    r = await api.patch("/v1/me", token=user.token, json=body)
    assert r.status == 422, await r.text()
    assert field in [e["field"] for e in (await r.json())["errors"]]
    after = await (await api.get("/v1/me", token=user.token)).json()
    assert after == before


async def test_username_change_collides_case_insensitively(api: Api) -> None:
    await api.register("taken")
    user = await api.register("mover")
    r = await api.patch("/v1/me", token=user.token, json={"username": "TAKEN"})
    assert r.status == 409
    assert (await r.json())["errors"][0]["field"] == "username"
    r = await api.patch("/v1/me", token=user.token, json={"username": "moved"})
    assert r.status == 200 and (await r.json())["username"] == "moved"


async def test_public_profile_hides_private_fields(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    r = await api.get("/v1/users/ALICE", token=bob.token)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["id"] == alice.id and body["username"] == "alice"
    for secret in ("email", "preferences", "password_hash", "firebase_uid", "last_login_at"):
        assert secret not in body
    assert (await api.get("/v1/users/nobody_here", token=bob.token)).status == 404


async def test_private_account_content_is_for_followers(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob, carol = [await api.register(n) for n in ("alice", "bob", "carol")]
    await api.patch("/v1/me", token=alice.token, json={"is_private": True})
    await pool.execute(
        "INSERT INTO follows (follower_id, followee_id, status) VALUES ($1, $2, 'active'),"
        " ($3, $2, 'pending')",
        uuid.UUID(bob.id),
        uuid.UUID(alice.id),
        uuid.UUID(carol.id),
    )
    as_bob = await (await api.get("/v1/users/alice", token=bob.token)).json()
    as_carol = await (await api.get("/v1/users/alice", token=carol.token)).json()
    as_alice = await (await api.get("/v1/users/alice", token=alice.token)).json()
    assert as_bob["can_view_content"] is True and as_bob["follow_status"] == "active"
    assert as_carol["can_view_content"] is False and as_carol["follow_status"] == "pending"
    assert as_alice["can_view_content"] is True


async def test_profile_round_trip_and_validation(api: Api) -> None:
    user = await api.register("prof")
    r = await api.get("/v1/me/profile", token=user.token)
    assert r.status == 200 and (await r.json())["updated_at"] is None
    body = {
        "full_name": "Pro Filer",
        "gender": "female",
        "birth_date": "1990-04-01",
        "country": "FR",
        "city": "Lyon",
        "height_cm": 171.5,
        "weight_kg": 60,
    }
    r = await api.put("/v1/me/profile", token=user.token, json=body)
    assert r.status == 200, await r.text()
    got = await (await api.get("/v1/me/profile", token=user.token)).json()
    assert got["height_cm"] == 171.5 and got["birth_date"] == "1990-04-01"
    for bad, field in [
        ({"height_cm": 400}, "height_cm"),
        ({"gender": "robot"}, "gender"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"country": "fr"}, "country"),
    ]:
        r = await api.put("/v1/me/profile", token=user.token, json={**body, **bad})
        assert r.status == 422, (bad, await r.text())
        assert field in [e["field"] for e in (await r.json())["errors"]]
    assert (await (await api.get("/v1/me/profile", token=user.token)).json())["height_cm"] == 171.5


async def test_style_profile_round_trip_and_validation(api: Api) -> None:
    user = await api.register("stylish")
    body = {
        "preferred_styles": ["minimalist", "classic", "minimalist"],
        "preferred_colors": ["navy", "#A0B0C0"],
        "avoided_colors": ["orange"],
        "fit": "relaxed",
        "sizes": {"top": "M", "shoe": "42"},
        "budget_min": 20,
        "budget_max": 150.5,
        "currency": "EUR",
        "body_shape": "pear",
        "occasions": ["work", "date"],
    }
    r = await api.put("/v1/me/style-profile", token=user.token, json=body)
    assert r.status == 200, await r.text()
    got = await (await api.get("/v1/me/style-profile", token=user.token)).json()
    assert got["preferred_styles"] == ["minimalist", "classic"]
    assert got["preferred_colors"] == ["navy", "#a0b0c0"]
    assert got["budget_max"] == 150.5 and got["sizes"] == {"top": "M", "shoe": "42"}
    for bad, field in [
        ({"preferred_styles": ["goth-ninja"]}, "preferred_styles.0"),
        ({"preferred_colors": ["#12345"]}, "preferred_colors.0"),
        ({"fit": "baggy"}, "fit"),
        ({"budget_min": -1}, "budget_min"),
        ({"sizes": {"hat": "L"}}, "sizes.hat"),
        ({"occasions": ["war"]}, "occasions.0"),
    ]:
        r = await api.put("/v1/me/style-profile", token=user.token, json={**body, **bad})
        assert r.status == 422, (bad, await r.text())
        fields = [e["field"] for e in (await r.json())["errors"]]
        assert any(f.startswith(field) for f in fields), (field, fields)
    r = await api.put(
        "/v1/me/style-profile",
        token=user.token,
        json={**body, "budget_min": 200, "budget_max": 100},
    )
    assert r.status == 422
    got2 = await (await api.get("/v1/me/style-profile", token=user.token)).json()
    assert got2 == got


# Every identity route: anonymous callers are refused; a user only ever reaches their own data.
ME_ROUTES = [
    ("GET", "/v1/me", None),
    ("PATCH", "/v1/me", {"bio": "hi"}),
    ("GET", "/v1/me/profile", None),
    ("PUT", "/v1/me/profile", {"city": "Oslo"}),
    ("GET", "/v1/me/style-profile", None),
    ("PUT", "/v1/me/style-profile", {"fit": "slim"}),
    ("GET", "/v1/users/owner", None),
    ("POST", "/v1/auth/logout", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ME_ROUTES)
async def test_authorization_matrix(
    api: Api, method: str, path: str, body: dict[str, object] | None
) -> None:
    owner, other = await api.register("owner"), await api.register("other")
    await api.patch("/v1/me", token=owner.token, json={"bio": "owner-marker"})
    await api.put("/v1/me/profile", token=owner.token, json={"city": "owner-marker"})
    await api.put("/v1/me/style-profile", token=owner.token, json={"sizes": {"top": "marker"}})
    anon = await api.request(method, path, json=body, token="")
    assert anon.status == 401, await anon.text()
    as_owner = await api.request(method, path, json=body, token=owner.token)
    assert as_owner.status in (200, 204), await as_owner.text()
    as_other = await api.request(method, path, json=body, token=other.token)
    assert as_other.status in (200, 204)
    if path.startswith("/v1/me") and method == "GET":
        # "me" is always the caller: the other user sees their own record, never the owner's.
        assert "marker" in await as_owner.text()
        assert "marker" not in await as_other.text()
