"""Home timelines in Redis, as the web process (pages, the author's own post, unfollow) and the
workers (fan-out, removal, merge, rebuild) both change them.

Each reader of the home feed has one sorted set, `tl:<user id>`:
- a member is 32 bytes, the post's id then its author's id (16 bytes each), so an author's posts
  can be dropped (unfollow, block, mute) without asking Postgres which ones they are;
- its score is created_at in microseconds since the epoch: exact in a double, and equal scores
  order by member, that is by post id, as Postgres orders (created_at, id), so a page cursor
  (created_at, id) is a position in the set too;
- the member b"" (the sentinel) says the timeline is complete; its score is the horizon, at or
  below which posts may be missing (trimmed past TIMELINE_SIZE, or beyond what a rebuild read):
  pages past it come from Postgres. Every other member scores above it, so it is rank 0.

A timeline lives TIMELINE_TTL seconds after its owner last read the feed. Fan-out writes only
into timelines that exist, so followers who stayed away cost nothing and their next read
rebuilds theirs from Postgres. Postgres stays the truth: the page query checks every id again
(the post exists, its author is active and followed, or is the reader), so a lost or stale
timeline can only lack posts until it is rebuilt, never show one it should not.

Only an author's active followers (and the author) ever get the author's posts, so an account
going private needs nothing: the strangers it now hides from never had them.

While a rebuild runs, from before its read of Postgres until its write, `tl:<user id>:building`
exists, and fan-out and merges write into the timeline as if it were complete: a post committed
after the rebuild's snapshot is not lost between the two.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from drape.queue import wake
from drape.settings import Settings

FANOUT_JOB: Final = "timeline_fanout"
REMOVE_JOB: Final = "timeline_remove"
MERGE_JOB: Final = "timeline_merge"
REBUILD_JOB: Final = "timeline_rebuild"

SENTINEL: Final = b""
# How long a rebuild may take between its snapshot of Postgres and its write.
BUILDING_SECONDS: Final = 120
# Timelines written per script call: one call blocks Redis for about a millisecond.
CHUNK: Final = 500
# A read renews its timeline's lifetime once per this share of it (a day of 14), not each time:
# a read stays a read.
RENEWALS: Final = 14

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)

# (post id, author id, created_at)
Entry = tuple[uuid.UUID, uuid.UUID, datetime]


def key(user_id: uuid.UUID | str) -> str:
    return f"tl:{user_id}"


def building_key(user_id: uuid.UUID | str) -> str:
    return f"tl:{user_id}:building"


def score(at: datetime) -> int:
    """created_at as microseconds since the epoch (a naive time is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - EPOCH) // MICROSECOND


def member(post_id: uuid.UUID, author_id: uuid.UUID) -> bytes:
    return post_id.bytes + author_id.bytes


class _Script:
    """A Lua script run by its sha, loaded again if the server forgot it (a restart)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(
        self, redis: Redis, keys: Sequence[str], args: Sequence[str | int | bytes]
    ) -> Any:
        values: list[Any] = [*keys, *args]  # redis-py types them all as str
        try:
            return await redis.evalsha(self.sha, len(keys), *values)  # type: ignore[misc]
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *values)  # type: ignore[misc]


# Keep the newest `size` posts; the sentinel (rank 0) takes the score of the newest one cut.
TRIM = """
local function trim(tl, size)
    local extra = redis.call('ZCARD', tl) - 1 - size
    if extra > 0 then
        local cut = redis.call('ZRANGE', tl, extra, extra, 'WITHSCORES')
        redis.call('ZREMRANGEBYRANK', tl, 1, extra)
        redis.call('ZADD', tl, cut[2], '')
    end
end
"""

# One post into many timelines. KEYS: (timeline, its building marker) pairs; ARGV: score,
# member, size, ttl. Returns how many timelines hold the post now.
ADD = _Script(
    TRIM
    + """
local written = 0
for i = 1, #KEYS, 2 do
    local tl = KEYS[i]
    local horizon = redis.call('ZSCORE', tl, '')
    if horizon then
        if tonumber(ARGV[1]) > tonumber(horizon) then
            redis.call('ZADD', tl, ARGV[1], ARGV[2])
            trim(tl, tonumber(ARGV[3]))
            written = written + 1
        end
    elseif redis.call('EXISTS', KEYS[i + 1]) == 1 then
        redis.call('ZADD', tl, ARGV[1], ARGV[2])
        redis.call('EXPIRE', tl, ARGV[4], 'NX')
        written = written + 1
    end
end
return written
"""
)

# Many posts into one timeline (a new follow). KEYS: timeline, building marker; ARGV: size, ttl,
# then score, member pairs. Returns how many were above the horizon.
MERGE = _Script(
    TRIM
    + """
local horizon = redis.call('ZSCORE', KEYS[1], '')
if not horizon and redis.call('EXISTS', KEYS[2]) == 0 then
    return 0
end
local floor = horizon and tonumber(horizon) or -1
local added = 0
for i = 3, #ARGV, 2 do
    if tonumber(ARGV[i]) > floor then
        redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
        added = added + 1
    end
end
if horizon then
    trim(KEYS[1], tonumber(ARGV[1]))
else
    redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
end
return added
"""
)

# A rebuild's write, keeping what fan-out added meanwhile. KEYS: timeline, building marker;
# ARGV: size, ttl, horizon, then score, member pairs. Returns the posts held, or -1 if the
# timeline was complete already.
FILL = _Script(
    TRIM
    + """
if redis.call('ZSCORE', KEYS[1], '') then
    redis.call('DEL', KEYS[2])
    return -1
end
for i = 4, #ARGV, 2 do
    redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[3], '')
trim(KEYS[1], tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return redis.call('ZCARD', KEYS[1]) - 1
"""
)

# A page past a cursor. KEYS: timeline; ARGV: top score ('+inf' without a cursor), '1' if there
# is a cursor, count, ttl, and the time left below which a read renews the ttl. Returns nil for
# a missing timeline, else {horizon, members at the cursor's own score (ascending), then up to
# count (member, score) pairs below it, newest first}.
PAGE = _Script(
    """
local horizon = redis.call('ZSCORE', KEYS[1], '')
if not horizon then
    return false
end
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[5]) then
    redis.call('EXPIRE', KEYS[1], ARGV[4])
end
local top, ties = ARGV[1], {}
if ARGV[2] == '1' then
    if tonumber(top) > tonumber(horizon) then
        ties = redis.call('ZRANGE', KEYS[1], top, top, 'BYSCORE')
    end
    top = '(' .. top
end
local rest = redis.call('ZRANGE', KEYS[1], top, '(' .. horizon, 'BYSCORE', 'REV',
    'LIMIT', 0, tonumber(ARGV[3]), 'WITHSCORES')
return {horizon, ties, rest}
"""
)

# One post out of many timelines. KEYS: timelines; ARGV: member. Returns how many held it.
REMOVE = _Script(
    """
local removed = 0
for _, tl in ipairs(KEYS) do
    removed = removed + redis.call('ZREM', tl, ARGV[1])
end
return removed
"""
)

# One author's posts out of one timeline. KEYS: timeline; ARGV: the author's 16 id bytes.
DROP_AUTHOR = _Script(
    """
local gone = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if string.sub(m, 17) == ARGV[1] then
        gone[#gone + 1] = m
    end
end
for i = 1, #gone, 500 do
    redis.call('ZREM', KEYS[1], unpack(gone, i, math.min(i + 499, #gone)))
end
return #gone
"""
)


@dataclass(frozen=True, slots=True)
class Slice:
    """What a timeline holds past a cursor."""

    # The posts' ids, 16 bytes each, newest first (uuid.UUID objects cost more to make than the
    # page query that takes them as hex text).
    ids: list[bytes]
    horizon: int
    # Fewer than asked came back: the timeline holds nothing more between the cursor and the
    # horizon.
    exhausted: bool
    # (score, post id bytes) of the oldest post returned.
    oldest: tuple[int, bytes] | None

    @property
    def post_ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(bytes=i) for i in self.ids]

    def hex_ids(self) -> list[str]:
        """The ids as 32 hex digits, which asyncpg encodes as uuid values without a Python
        object per id."""
        return [i.hex() for i in self.ids]

    def covers(self, rows: Sequence[tuple[datetime, uuid.UUID]], limit: int) -> bool:
        """Whether a page built from these ids (and the posts merged at read time), whose
        (created_at, id) keys are `rows`, is the page Postgres would give: full, or short with
        nothing left anywhere, and reaching no further than what the timeline answered for."""
        if len(rows) < limit and not (self.exhausted and self.horizon == 0):
            return False
        if not rows:
            return True
        last = (score(rows[-1][0]), rows[-1][1].bytes)
        if self.exhausted:
            return last[0] > self.horizon
        return self.oldest is not None and last >= self.oldest


async def page(
    redis: Redis,
    settings: Settings,
    viewer: uuid.UUID,
    before: tuple[datetime, uuid.UUID] | None,
    count: int,
) -> Slice | None:
    """Up to `count` post ids past `before`, newest first; None if the viewer has no timeline."""
    top = "+inf" if before is None else str(score(before[0]))
    ttl = settings.timeline_ttl
    renew_below = ttl - max(1, ttl // RENEWALS)
    args = [top, "0" if before is None else "1", count, ttl, renew_below]
    got = await PAGE(redis, [key(viewer)], args)
    if got is None:
        return None
    horizon, ties, rest = int(got[0]), got[1], got[2]
    members: list[bytes] = rest[0::2]
    scores: list[bytes | str] = rest[1::2]  # only the oldest kept is ever read
    if before is not None:
        below = sorted((m for m in ties if m and m[:16] < before[1].bytes), reverse=True)
        if below:
            members = below + members
            scores = [*([top] * len(below)), *scores]
    members, scores = members[:count], scores[:count]
    return Slice(
        ids=[m[:16] for m in members],
        horizon=horizon,
        exhausted=len(members) < count,
        oldest=(int(scores[-1]), members[-1][:16]) if members else None,
    )


async def exists(redis: Redis, viewer: uuid.UUID) -> bool:
    return await redis.zscore(key(viewer), SENTINEL) is not None


async def add(
    redis: Redis,
    settings: Settings,
    recipients: Iterable[uuid.UUID],
    post: Entry,
) -> int:
    """Write one post into the timelines of `recipients` that exist (or are being rebuilt);
    returns how many hold it."""
    post_id, author_id, created_at = post
    args: list[str | int | bytes] = [
        score(created_at),
        member(post_id, author_id),
        settings.timeline_size,
        settings.timeline_ttl,
    ]
    written = 0
    batch: list[str] = []
    for user in recipients:
        batch += [key(user), building_key(user)]
        if len(batch) >= 2 * CHUNK:
            written += await ADD(redis, batch, args)
            batch = []
    if batch:
        written += await ADD(redis, batch, args)
    return written


async def merge(redis: Redis, settings: Settings, viewer: uuid.UUID, posts: Iterable[Entry]) -> int:
    """Write posts (a newly followed author's) into the viewer's timeline if it exists."""
    args: list[str | int | bytes] = [settings.timeline_size, settings.timeline_ttl]
    for post_id, author_id, created_at in posts:
        args += [score(created_at), member(post_id, author_id)]
    if len(args) == 2:
        return 0
    return int(await MERGE(redis, [key(viewer), building_key(viewer)], args))


async def begin_rebuild(redis: Redis, viewer: uuid.UUID) -> None:
    """Call before reading Postgres for `fill`: fan-out writes meanwhile are kept."""
    await redis.set(building_key(viewer), b"1", ex=BUILDING_SECONDS)


async def fill(
    redis: Redis,
    settings: Settings,
    viewer: uuid.UUID,
    posts: Iterable[Entry],
    *,
    older: datetime | None,
) -> int:
    """Write a rebuilt timeline: `posts` are the newest of the viewer's feed, and `older` is
    when the next one was created (None: there is none). Returns the posts held, -1 if the
    timeline existed already."""
    horizon = 0 if older is None else score(older)
    args: list[str | int | bytes] = [settings.timeline_size, settings.timeline_ttl, horizon]
    for post_id, author_id, created_at in posts:
        args += [score(created_at), member(post_id, author_id)]
    return int(await FILL(redis, [key(viewer), building_key(viewer)], args))


async def remove(
    redis: Redis, holders: Iterable[uuid.UUID], post_id: uuid.UUID, author_id: uuid.UUID
) -> int:
    """Take one post out of the timelines of `holders`; returns how many held it."""
    removed = 0
    arg = [member(post_id, author_id)]
    batch: list[str] = []
    for user in holders:
        batch.append(key(user))
        if len(batch) >= CHUNK:
            removed += await REMOVE(redis, batch, arg)
            batch = []
    if batch:
        removed += await REMOVE(redis, batch, arg)
    return removed


async def drop_author(redis: Redis, viewer: uuid.UUID, author_id: uuid.UUID) -> int:
    """Take every post of `author_id` out of the viewer's timeline (unfollow, block, mute)."""
    return int(await DROP_AUTHOR(redis, [key(viewer)], [author_id.bytes]))


# Hooks for what hides one account from another. The page query must learn the same rule (as
# it checks follows), so that a timeline rebuilt meanwhile cannot bring the posts back.


async def on_block(redis: Redis, blocker: uuid.UUID, blocked: uuid.UUID) -> None:
    """A block hides each account's posts from the other."""
    await drop_author(redis, blocker, blocked)
    await drop_author(redis, blocked, blocker)


async def on_mute(redis: Redis, muter: uuid.UUID, muted: uuid.UUID) -> None:
    await drop_author(redis, muter, muted)


async def on_unhide(queue: ArqRedis, viewer: uuid.UUID, author_id: uuid.UUID) -> None:
    """An unmute or unblock: the author's posts come back as after a follow (if followed)."""
    await merge_author(queue, author_id, [viewer])


# Jobs (workers/timelines.py). Each is named after what it is about, so queueing it again while
# it waits or runs does nothing; none keeps a result, so the name is free again once it ran.


async def _enqueue(queue: ArqRedis, function: str, job_id: str | None, *args: Any) -> None:
    if await queue.enqueue_job(function, *args, _job_id=job_id) is not None:
        await wake(queue)


async def fan_out(queue: ArqRedis, post_id: uuid.UUID) -> None:
    """A new post goes to its author's followers' timelines."""
    await _enqueue(queue, FANOUT_JOB, f"timeline:fanout:{post_id}", str(post_id))


async def published(queue: ArqRedis, settings: Settings, post: Entry) -> None:
    """A post was created: it is in its author's own timeline at once (a reader sees what they
    just posted), and in their followers' once the fan-out job ran."""
    await add(queue, settings, [post[1]], post)
    await fan_out(queue, post[0])


async def forget_post(queue: ArqRedis, post_id: uuid.UUID, author_id: uuid.UUID) -> None:
    """A deleted post leaves the timelines it was written into."""
    await _enqueue(queue, REMOVE_JOB, f"timeline:remove:{post_id}", str(post_id), str(author_id))


async def merge_author(queue: ArqRedis, author_id: uuid.UUID, viewers: Sequence[uuid.UUID]) -> None:
    """`viewers` now follow `author_id`: the author's newest posts join their timelines."""
    if viewers:
        await _enqueue(queue, MERGE_JOB, None, str(author_id), [str(v) for v in viewers])


async def rebuild(queue: ArqRedis, viewer: uuid.UUID) -> None:
    """The viewer has no timeline: one is built from Postgres."""
    await _enqueue(queue, REBUILD_JOB, f"timeline:rebuild:{viewer}", str(viewer))
