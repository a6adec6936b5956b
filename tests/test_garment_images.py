"""Garment images through presigned uploads, on both object stores; the dominant-colour job."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import socketio
from PIL import Image

from db import jobs as db_jobs
from drape.storage import ObjectStore
from server.context import ARQ, POOL, STORE
from tests.conftest import Api, EventLog, RunningApp
from tests.wardrobe_helpers import (
    fetch,
    garment,
    image_bytes,
    post_form,
    quick_users,
    upload_image,
)

RED, GREEN = "#c62828", "#2e8b57"


async def _upload_row(pool: asyncpg.Pool, key: str) -> asyncpg.Record:
    return await pool.fetchrow("SELECT status, purpose, target_id FROM uploads WHERE key = $1", key)


def _store(server: RunningApp) -> ObjectStore:
    return server.app[STORE]


async def test_uploaded_image_becomes_a_thumbnail(
    store_kind: str, api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, colors=[{"hex": RED}])
    path = f"/v1/garments/{g['id']}/image"
    form, done = await upload_image(api, alice, path, image_bytes("JPEG"), "image/jpeg")
    assert form["method"] == "POST" and form["max_bytes"] == api.settings.upload_max_bytes
    assert form["key"].startswith(f"garments/{alice.id}/{g['id']}/")
    assert form["key"].endswith(".jpg") and form["content_type"] == "image/jpeg"
    assert done.status == 200, await done.text()
    body = await done.json()
    assert body["job"] is None  # the user gave colours: nothing to extract
    got = body["garment"]
    assert got["colors"] == g["colors"]

    status, data = await fetch(got["thumbnail_url"])
    assert status == 200
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "WEBP" and thumb.size == (320, 240)
    status, data = await fetch(got["image_url"])
    assert status == 200
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP" and image.size == (800, 600)
    # The served copies replace the upload, which the form could still overwrite.
    assert await _store(server).head(form["key"]) is None
    assert (await _upload_row(pool, form["key"]))["status"] == "accepted"

    r = await api.get(f"/v1/garments/{g['id']}", token=alice.token)
    assert (await r.json())["thumbnail_url"] is not None
    # A retried confirm answers the same garment.
    again = await api.post(f"{path}/complete", token=alice.token, json={"key": form["key"]})
    assert again.status == 200, await again.text()
    assert (await again.json())["garment"]["id"] == g["id"]


async def test_replacing_and_removing_an_image_deletes_the_old_objects(
    store_kind: str, api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, colors=[{"hex": RED}])
    path = f"/v1/garments/{g['id']}/image"
    await upload_image(api, alice, path, image_bytes("PNG"))
    first = await pool.fetchrow("SELECT image_key, thumbnail_key FROM garments")
    webp = image_bytes("WEBP", size=(300, 400))
    _, done = await upload_image(api, alice, path, webp, "image/webp")
    assert done.status == 200, await done.text()
    second = await pool.fetchrow("SELECT image_key, thumbnail_key FROM garments")
    store = _store(server)
    assert set(first.values()).isdisjoint(second.values())
    for key in first.values():
        assert await store.head(key) is None
    for key in second.values():
        assert await store.head(key) is not None

    r = await api.delete(path, token=alice.token)
    assert r.status == 200, await r.text()
    assert (await r.json())["image_url"] is None
    for key in second.values():
        assert await store.head(key) is None


async def test_oversized_upload_is_refused_and_deleted(
    store_kind: str, api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice)
    path = f"/v1/garments/{g['id']}/image"
    r = await api.post(path, token=alice.token, json={"content_type": "image/jpeg"})
    form = await r.json()
    big = b"\xff\xd8\xff\xe0" + bytes(50 * 1024 * 1024)
    uploaded = await post_form(form, big, "image/jpeg")
    # The local store stops reading at the limit; moto stores anything, so the confirm must check.
    assert uploaded == 413 if store_kind == "local" else uploaded in (200, 204)
    r = await api.post(f"{path}/complete", token=alice.token, json={"key": form["key"]})
    assert r.status in (413, 422), await r.text()
    assert r.content_type == "application/problem+json"
    if store_kind == "s3":
        assert r.status == 413
        assert (await _upload_row(pool, form["key"]))["status"] == "rejected"
    assert await _store(server).head(form["key"]) is None
    after = await (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).json()
    assert after == g


async def test_text_posing_as_jpeg_is_refused(
    store_kind: str, api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice)
    path = f"/v1/garments/{g['id']}/image"
    form, done = await upload_image(
        api, alice, path, b"just some text, honest\n" * 50, "image/jpeg"
    )
    assert done.status == 422, await done.text()
    problem = await done.json()
    assert problem["errors"] == [{"field": "image", "message": "is not a JPEG image"}]
    assert await _store(server).head(form["key"]) is None
    assert (await _upload_row(pool, form["key"]))["status"] == "rejected"
    after = await (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).json()
    assert after == g
    # A refused upload cannot be confirmed again.
    again = await api.post(f"{path}/complete", token=alice.token, json={"key": form["key"]})
    assert again.status == 409, await again.text()


async def test_images_that_lie_or_explode_are_refused(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice)
    path = f"/v1/garments/{g['id']}/image"
    # A PNG declared as JPEG; a truncated PNG; a small file that decodes to 400 MP.
    whole = image_bytes("PNG", colors=(RED, GREEN))
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")
    cases = [
        (whole, "image/jpeg", "is not a JPEG image"),
        (whole[: len(whole) // 2], "image/png", "is not a whole, readable PNG image"),
        (bomb.getvalue(), "image/png", "pixels"),
    ]
    for data, content_type, message in cases:
        _, done = await upload_image(api, alice, path, data, content_type)
        assert done.status == 422, await done.text()
        assert message in (await done.json())["errors"][0]["message"]
    assert await pool.fetchval("SELECT image_key FROM garments") is None
    r = await api.post(path, token=alice.token, json={"content_type": "image/gif"})
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "content_type"


async def test_upload_keys_are_bound_to_their_owner_and_garment(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    a1, a2 = await garment(api, alice), await garment(api, alice)
    b1 = await garment(api, bob)
    r = await api.post(
        f"/v1/garments/{b1['id']}/image", token=bob.token, json={"content_type": "image/png"}
    )
    bob_form = await r.json()
    assert await post_form(bob_form, image_bytes(), "image/png") in (200, 204)
    r = await api.post(
        f"/v1/garments/{a1['id']}/image", token=alice.token, json={"content_type": "image/png"}
    )
    alice_form = await r.json()
    attempts = [
        (a1, bob_form["key"], 422),  # bob's upload on alice's garment
        (a2, alice_form["key"], 422),  # alice's upload for a1, confirmed on a2
        (a1, f"garments/{alice.id}/{a1['id']}/nope.png", 422),  # never handed out
        (a1, alice_form["key"], 422),  # handed out, nothing uploaded yet
    ]
    for target, key, status in attempts:
        r = await api.post(
            f"/v1/garments/{target['id']}/image/complete", token=alice.token, json={"key": key}
        )
        assert r.status == status, (key, await r.text())
        assert (await r.json())["errors"][0]["field"] == "key"
    assert (await _upload_row(pool, alice_form["key"]))["status"] == "pending"
    assert (await _upload_row(pool, bob_form["key"]))["status"] == "pending"
    assert await pool.fetchval("SELECT count(image_key) FROM garments") == 0
    # Bob's garment is not alice's to upload to.
    r = await api.post(
        f"/v1/garments/{b1['id']}/image", token=alice.token, json={"content_type": "image/png"}
    )
    assert r.status == 404


async def test_deleting_a_garment_deletes_its_image(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, colors=[{"hex": RED}])
    await upload_image(api, alice, f"/v1/garments/{g['id']}/image", image_bytes())
    keys = await pool.fetchrow("SELECT image_key, thumbnail_key FROM garments")
    assert (await api.delete(f"/v1/garments/{g['id']}", token=alice.token)).status == 204
    for key in keys.values():
        assert await _store(server).head(key) is None


async def _run_colour_jobs(run_jobs: Callable[[], Awaitable[int]], pool: asyncpg.Pool) -> None:
    """Run the queue with a burst worker; every colour job must be done after it (other jobs,
    such as cron jobs run at start-up, may run alongside)."""
    await run_jobs()
    rows = await pool.fetch("SELECT status FROM jobs WHERE kind = 'garment_colors'")
    assert rows and {r["status"] for r in rows} == {"done"}, rows


async def test_dominant_colours_job_sets_the_colours_of_a_garment_without_any(
    store_kind: str,
    api: Api,
    pool: asyncpg.Pool,
    server: RunningApp,
    run_jobs: Callable[[], Awaitable[int]],
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    updates = EventLog(await sio_connect(alice.token), "job:update")
    g = await garment(api, alice)  # no colours given
    _, done = await upload_image(
        api, alice, f"/v1/garments/{g['id']}/image", image_bytes(colors=(RED, GREEN))
    )
    assert done.status == 200, await done.text()
    job = (await done.json())["job"]
    assert job["kind"] == "garment_colors" and job["status"] == "queued"

    await _run_colour_jobs(run_jobs, pool)
    events = await updates.wait_for(3)  # running, running with progress, done
    assert [(e["status"], e["progress"]) for e in events if e["id"] == job["id"]] == [
        ("running", 0),
        ("running", 0.5),
        ("done", 1),
    ]
    got = await (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).json()
    assert got["color_source"] == "image"
    assert [c["family"] for c in got["colors"]] == ["red", "green"]
    assert abs(got["colors"][0]["share"] - 0.6) < 0.03
    assert abs(got["colors"][1]["share"] - 0.4) < 0.03
    r = await api.get(f"/v1/jobs/{job['id']}", token=alice.token)
    assert (await r.json())["result"]["colors"] == got["colors"]

    # Running it again changes nothing.
    await db_jobs.enqueue(
        server.app[POOL],
        server.app[ARQ],
        function="garment_colors",
        kind="garment_colors",
        user_id=uuid.UUID(alice.id),
        args={"garment_id": g["id"]},
    )
    await _run_colour_jobs(run_jobs, pool)
    again = await (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).json()
    assert again["colors"] == got["colors"]


async def test_colours_a_user_sets_win_over_the_job(
    api: Api, pool: asyncpg.Pool, server: RunningApp, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice)
    _, done = await upload_image(
        api, alice, f"/v1/garments/{g['id']}/image", image_bytes(colors=(RED, GREEN))
    )
    assert (await done.json())["job"] is not None
    # The user names the colours before the job runs: the job must leave them alone.
    blue = [{"hex": "#3d6fb6"}]
    r = await api.patch(f"/v1/garments/{g['id']}", token=alice.token, json={"colors": blue})
    assert r.status == 200
    await _run_colour_jobs(run_jobs, pool)
    got = await (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).json()
    assert got["color_source"] == "user" and [c["family"] for c in got["colors"]] == ["blue"]
    # Clearing them asks the image again.
    r = await api.patch(f"/v1/garments/{g['id']}", token=alice.token, json={"colors": []})
    assert r.status == 200
    await _run_colour_jobs(run_jobs, pool)
    got = await (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).json()
    assert got["color_source"] == "image" and len(got["colors"]) == 2


async def test_concurrent_confirms_attach_one_image_and_leave_no_orphans(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, colors=[{"hex": RED}])
    path = f"/v1/garments/{g['id']}/image"
    r = await api.post(path, token=alice.token, json={"content_type": "image/png"})
    form = await r.json()
    assert await post_form(form, image_bytes(), "image/png") in (200, 204)
    confirms = [
        api.post(f"{path}/complete", token=alice.token, json={"key": form["key"]}) for _ in range(4)
    ]
    statuses = sorted(r.status for r in await asyncio.gather(*confirms))
    assert 200 in statuses and set(statuses) <= {200, 409}, statuses
    keys = await pool.fetchrow("SELECT image_key, thumbnail_key FROM garments")
    root = server.app[STORE].root  # type: ignore[attr-defined]
    stored = {str(p.relative_to(root)) for p in (root / "garments").rglob("*") if p.is_file()}
    assert stored == set(keys.values())
