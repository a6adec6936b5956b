"""What a reconnect storm's sockets share: round trips (realtime/batch.py), where the batch
answers each caller as the single call would and one failure reaches only its batch; and a
packet JSON codec that decodes exactly as the library's own did."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from engineio import json as engineio_json

from db import posts as db_posts
from realtime.batch import MAX_BATCH, Batch
from realtime.server import PacketJson
from tests.conftest import Api
from tests.social_helpers import new_post


async def test_calls_in_one_moment_share_one_run_and_get_their_own_answers() -> None:
    runs: list[list[int]] = []

    async def square(items: list[int]) -> list[int]:
        runs.append(items)
        await asyncio.sleep(0)
        return [i * i for i in items]

    batch: Batch[int, int] = Batch(square)
    got = await asyncio.gather(*(batch(i) for i in range(10)))
    assert got == [i * i for i in range(10)]
    assert runs == [list(range(10))]
    # The next moment's calls are a new batch; a storm larger than MAX_BATCH is split.
    got = await asyncio.gather(*(batch(i) for i in range(MAX_BATCH + 3)))
    assert got == [i * i for i in range(MAX_BATCH + 3)]
    assert [len(r) for r in runs[1:]] == [MAX_BATCH, 3]
    assert batch.round_trips == 3


async def test_a_failed_run_fails_its_callers_and_a_caller_that_leaves_does_not_fail_others() -> (
    None
):
    release = asyncio.Event()
    fail = True

    async def run(items: list[str]) -> list[str]:
        await release.wait()
        if fail:
            raise ConnectionError("down")
        return [s.upper() for s in items]

    batch: Batch[str, str] = Batch(run)
    calls = [asyncio.create_task(batch(s)) for s in "abc"]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)

    fail = False
    release.clear()
    calls = [asyncio.create_task(batch(s)) for s in "xyz"]
    await asyncio.sleep(0.01)
    calls[0].cancel()  # that socket went away mid-connect
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == ["Y", "Z"]


async def test_answers_that_do_not_match_the_calls_fail_the_batch() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    batch: Batch[int, int] = Batch(short)
    results = await asyncio.gather(batch(1), batch(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


@pytest.mark.parametrize("order", ["as made", "reversed"])
async def test_subscribe_checks_in_one_query_agree_with_the_single_check(
    api: Api, pool: asyncpg.Pool, order: str
) -> None:
    """Public, private (followed or not), blocked, removed, hidden, missing and deactivated
    authors' posts, each asked by several viewers at once: the batched query says what
    get_visible_post says, pair by pair."""
    ann, ben, cat, dan = [await api.register(n) for n in ("ann", "ben", "cat", "dan")]
    public = await new_post(api, ann, "public")
    r = await api.patch("/v1/me", token=ben.token, json={"is_private": True})
    assert r.status == 200, await r.text()
    private = await new_post(api, ben, "private")
    r = await api.put(f"/v1/users/{ben.username}/follow", token=cat.token)
    assert r.status in (200, 201, 202), await r.text()
    await pool.execute(
        "UPDATE follows SET status = 'active' WHERE follower_id = $1", uuid.UUID(cat.id)
    )
    r = await api.put(f"/v1/users/{ann.username}/block", token=dan.token)
    assert r.status == 200, await r.text()
    removed = await new_post(api, cat, "removed")
    await pool.execute("UPDATE posts SET removed_at = now() WHERE id = $1", uuid.UUID(removed))
    hidden = await new_post(api, cat, "hidden")
    await pool.execute("UPDATE posts SET hidden_at = now() WHERE id = $1", uuid.UUID(hidden))
    gone = await new_post(api, dan, "by an account deactivated later")
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", uuid.UUID(dan.id))
    posts = [public, private, removed, hidden, gone, str(uuid.uuid4())]
    pairs = [(uuid.UUID(v.id), uuid.UUID(p)) for v in (ann, ben, cat, dan) for p in posts]
    if order == "reversed":
        pairs.reverse()

    batched = await db_posts.subscribable(pool, pairs)
    single = [await db_posts.get_visible_post(pool, p, v) for v, p in pairs]
    assert [b is not None for b in batched] == [s is not None for s in single]
    for b, s in zip(batched, single, strict=True):
        if s is not None:
            assert b is not None
            assert (b["author_id"], b["like_count"], b["comment_count"]) == (
                s["author_id"],
                s["like_count"],
                s["comment_count"],
            )
    # The rules did come into play: some pairs are refused, some allowed.
    allowed = {(str(v), str(p)) for (v, p), b in zip(pairs, batched, strict=True) if b}
    assert (cat.id, private) in allowed and (cat.id, hidden) in allowed
    assert (ann.id, private) not in allowed and (dan.id, public) not in allowed
    assert not any(p in (removed, gone) for _, p in allowed)


@pytest.mark.parametrize(
    "text",
    [
        '{"token":"abc","n":1,"f":1.5,"x":null,"ok":true,"list":[1,"two",{"three":3}]}',
        '["subscribe",{"post_id":"5d1c0f3a-0000-4000-8000-000000000000"}]',
        '{"caption":"caf\\u00e9 \\ud83d\\udc57 été"}',
        '{"after_seq":123456789012345678901234567890}',  # past 64 bits
        '{"lone":"\\ud800"}',  # a lone surrogate
        "[NaN, Infinity, -Infinity]",
    ],
)
def test_packet_json_decodes_what_the_library_decoded(text: str) -> None:
    mine, theirs = PacketJson.loads(text), engineio_json.loads(text)
    assert repr(mine) == repr(theirs)  # repr: NaN != NaN
    assert (
        engineio_json.loads(PacketJson.dumps(theirs))
        == engineio_json.loads(engineio_json.dumps(theirs))
        or "NaN" in text
    )


@pytest.mark.parametrize("text", ['{"n":' + "9" * 101 + "}", "{bad json", '{"a":1,}', ""])
def test_packet_json_refuses_what_the_library_refused(text: str) -> None:
    with pytest.raises(ValueError):
        engineio_json.loads(text)
    with pytest.raises(ValueError):
        PacketJson.loads(text)


def test_packet_json_encodes_what_orjson_cannot_as_the_library_did() -> None:
    data = {1: "int key", "big": 2**70}
    assert engineio_json.loads(PacketJson.dumps(data)) == {"1": "int key", "big": 2**70}
    with pytest.raises(TypeError):
        PacketJson.dumps({"a set": {1}})
