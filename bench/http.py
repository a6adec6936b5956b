"""One web process against its ceiling: the home feed and a like over HTTP.

    python -m bench.http [--requests 3000] [--likes 3000] [--concurrency 64 16] [--warmup 200]
                         [--profile auto|always|never] [--profile-likes 10000]
                         [--profile-rate 250] [--profile-native] [--profile-out FILE]

The real server (`python -m server`, DB_POOL_MAX = 10) and the ceiling (bench/minimal_server.py:
aiohttp + asyncpg on uvloop, the same pool size, the same SQL imported from db/posts.py, the
bearer token decoded by PyJWT and nothing else) run side by side, each its own process pinned to
core 0, on one data set (bench/feed.py's loader: 200,000 posts, about 650,000 likes, 50 viewers
following 500 of 5,000 authors). They are measured one after the other, from one separate load
process pinned to core 1, over loopback; Postgres and Redis are not pinned.

- GET /v1/feed?limit=20: first page, round-robin over the 50 viewers; the ceiling runs
  db.posts.SELECT_FEED with the parameters db.posts.feed passes and builds the same JSON (checked
  equal before timing).
- PUT /v1/posts/{id}/like: a fixed number of likes, each on a different post (no hot row), from
  500 users; the servers like the same posts, each from its own set of 500 users, so every like
  inserts a row, bumps the counter and stores a notification. The real path also looks the user
  up and sends two Socket.IO emits through Redis; the ceiling runs only db.posts.LIKE, the
  statement db.posts.like runs. A second real server with one Socket.IO client connected is
  measured too: only then does a process's Socket.IO manager listen on Redis, as it always does
  in production, and read each like's two emits back.

Each (endpoint, concurrency) pair gets unmeasured warm-up requests on each server first; the order
of the servers alternates between concurrency levels. When a like row misses the target (or with
--profile always), one more unmeasured like run on the real server with a socket is recorded with
py-spy, and where its samples fall is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from redis.asyncio import Redis

from bench.common import (
    CLK_TCK,
    QUIET_WAIT,
    ROOT,
    Call,
    CpuMeter,
    LoadProcess,
    Process,
    Row,
    bench_database,
    bench_folder,
    bench_redis,
    cores_busy,
    cpu_seconds,
    database_name,
    free_port,
    insert_users,
    measure_http,
    mint_tokens,
    note_load,
    p50_p99_ms,
    percentile,
    print_table,
    raise_fd_limit,
    rate,
    ratio,
    run,
    server_env,
    start_report,
    start_server,
    token_settings,
)
from bench.feed import AUTHORS, FOLLOWS_PER_VIEWER, LIKERS, VIEWERS, Data, load_data

REDIS_DB = 13
POOL_MAX = 10
PAGE = 20
TARGET = 0.60  # of the ceiling's throughput
# Before each row, wait (at most QUIET_WAIT s) for other work on the machine to drop below this.
QUIET_CORES = 0.25
NOISY = 0.25  # cores of other work during a row above which the row is marked
SERVER_CPUS = {0}
LOAD_CPUS = {1} if (os.cpu_count() or 1) > 1 else None
REAL = "drape (python -m server)"
REAL_SOCKET = "drape, 1 Socket.IO client connected"
CEILING = "ceiling (bench.minimal_server)"
MODULES = {REAL: "server", REAL_SOCKET: "server", CEILING: "bench.minimal_server"}
SOCKET_LIKERS = "fk"  # a third set of 500 likers, beside bench.feed's "fl" and "fs"
FEED = f"GET /v1/feed?limit={PAGE}"
LIKE_PUT = "PUT /v1/posts/{id}/like"


@dataclass
class Measured:
    endpoint: str
    server: str
    row: Row
    idle_other_cpu: float  # CPU seconds the other (idle) servers used meanwhile
    redis_cpu: float | None
    other_cores: float  # cores busy with work not this bench's during the row
    before_cores: float  # cores busy just before the row (other work: our servers are idle)
    others: str  # the processes (not this bench's) that used most CPU during the row


async def measure(
    endpoint: str,
    name: str,
    load: LoadProcess,
    server: Process,
    others: list[Process],
    db_name: str,
    calls: Sequence[Call],
    *,
    concurrency: int,
    warmup: int,
    redis_pid: int | None,
) -> Measured:
    if warmup:
        await load.run(server.base, calls[:warmup], concurrency=concurrency)
    before = await wait_quiet()
    others0 = sum(o.cpu_seconds() for o in others)
    redis0 = _cpu_or_none(redis_pid)
    busy0, at0 = machine_busy()
    procs0 = process_cpu()
    row = await measure_http(
        f"{endpoint} c={concurrency}",
        load,
        CpuMeter(server.pid, db_name),
        server.base,
        calls[warmup:],
        concurrency=concurrency,
    )
    busy1, at1 = machine_busy()
    procs1 = process_cpu()
    redis1 = _cpu_or_none(redis_pid)
    redis = redis1 - redis0 if redis0 is not None and redis1 is not None else None
    idle = sum(o.cpu_seconds() for o in others) - others0
    ours = (row.server_cpu or 0.0) + row.pg_cpu + row.client_cpu + (redis or 0.0) + idle
    other = max(0.0, (busy1 - busy0) - ours) / (at1 - at0)
    backends = set((await CpuMeter(None, db_name).read()).postgres)
    mine = {p for p in procs1 if _descends(p, os.getpid(), procs1)} | backends | {redis_pid}
    top = top_processes(procs0, procs1, mine, at1 - at0)
    measured = Measured(endpoint, name, row, idle, redis, other, before, top)
    print(
        f"  {endpoint:<26} {name:<36} c={concurrency:<3} {rate(row.per_second):>6} req/s  "
        f"p50/p99 {p50_p99_ms(row.latencies)} ms  errors {row.errors}  "
        f"other work {other:.2f} cores ({top or 'none'})",
        flush=True,
    )
    return measured


def process_cpu() -> dict[int, tuple[str, int, float]]:
    """pid -> (name, parent pid, CPU seconds) of every process (/proc/<pid>/stat)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        out[int(entry)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def _descends(pid: int, ancestor: int, procs: dict[int, tuple[str, int, float]]) -> bool:
    while pid in procs and pid > 1:
        if pid == ancestor:
            return True
        pid = procs[pid][1]
    return False


def top_processes(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    mine: set[int | None],
    seconds: float,
    count: int = 3,
) -> str:
    """The processes outside `mine` that used most CPU between two process_cpu() readings."""
    used: dict[str, float] = {}
    for pid, (name, _, cpu) in after.items():
        if pid not in mine:
            used[name] = used.get(name, 0.0) + cpu - (before[pid][2] if pid in before else 0.0)
    busiest = sorted(used.items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"{name} {cpu / seconds:.2f}" for name, cpu in busiest if cpu >= 0.01)


def machine_busy() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, now) from /proc/stat: user, nice, system,
    irq, softirq and steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / CLK_TCK, time.monotonic()


async def wait_quiet() -> float:
    """Wait (at most QUIET_WAIT s) until other work keeps fewer than QUIET_CORES cores busy; the
    servers are idle between rows, so what /proc/stat shows then is others' work."""
    waited = 0.0
    while True:
        busy = await asyncio.to_thread(cores_busy, 1.0)
        if busy < QUIET_CORES or waited >= QUIET_WAIT:
            return busy
        waited += 1.0


def _cpu_or_none(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        return cpu_seconds(pid)
    except OSError:
        return None


async def redis_pid(url: str) -> int | None:
    """The Redis server's pid, if it runs on this machine where /proc can read it."""
    redis = Redis.from_url(url)
    try:
        pid = int((await redis.info("server"))["process_id"])
    finally:
        await redis.aclose()
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


# Checks before and after timing ------------------------------------------------------------------


async def same_answers(
    servers: dict[str, Process], viewer_token: str, likes: dict[str, Call]
) -> None:
    """Every server answers the feed with the same JSON, and a like (each from its own user, on
    one post) with the same shape."""
    async with aiohttp.ClientSession() as http:
        pages = []
        for server in servers.values():
            async with http.get(
                f"{server.base}/v1/feed?limit={PAGE}",
                headers={"Authorization": f"Bearer {viewer_token}"},
            ) as r:
                body = await r.json()
                if r.status != 200 or len(body.get("items", [])) != PAGE:
                    raise RuntimeError(f"{server.base} feed: {r.status} {str(body)[:300]}")
                pages.append(body)
        if any(page != pages[0] for page in pages):
            raise RuntimeError("the servers answer the feed differently")
        answers = []
        for name, server in servers.items():
            call = likes[name]
            async with http.put(
                server.base + call.path, headers={"Authorization": f"Bearer {call.token}"}
            ) as r:
                body = await r.json()
                if r.status != 200 or body.get("liked") is not True:
                    raise RuntimeError(f"{server.base} like: {r.status} {str(body)[:300]}")
                answers.append(body)
        counts = [a["like_count"] for a in answers]
        if any(a.keys() != answers[0].keys() for a in answers) or counts != list(
            range(counts[0], counts[0] + len(counts))
        ):
            raise RuntimeError(f"like answers differ: {answers}")


PREFIXES = {REAL: "fl", REAL_SOCKET: SOCKET_LIKERS, CEILING: "fs"}  # usernames of each's likers
CHECK_LIKES = """
SELECT left(u.username, 2) AS prefix, count(*) AS likes,
       (SELECT count(*) FROM notifications n
        WHERE n.type = 'like' AND n.actor_id = ANY(array_agg(u.id))) AS notes
FROM likes l JOIN users u ON u.id = l.user_id
WHERE left(u.username, 2) = ANY($1::text[])
GROUP BY 1
"""
CHECK_COUNTS = """
SELECT count(*) FROM posts p
WHERE p.id = ANY($1::uuid[])
  AND p.like_count <> (SELECT count(*) FROM likes l WHERE l.post_id = p.id)
"""


async def check_likes(database_url: str, expected: int, posts: list[uuid.UUID]) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        rows = {r["prefix"]: r for r in await conn.fetch(CHECK_LIKES, list(PREFIXES.values()))}
        wrong = await conn.fetchval(CHECK_COUNTS, posts)
    finally:
        await conn.close()
    got = {
        name: (rows[p]["likes"], rows[p]["notes"]) if p in rows else (0, 0)
        for name, p in PREFIXES.items()
    }
    ok = wrong == 0 and all(v == (expected, expected) for v in got.values())
    stored = "; ".join(
        f"{short(n)}: {likes:,} likes, {notes:,} notifications" for n, (likes, notes) in got.items()
    )
    return (
        f"- stored, by each server's users: {stored}; {expected:,} sent to each (warm-up and "
        f"checks included); posts whose like_count differs from their likes: {wrong} "
        f"({'as expected' if ok else 'MISMATCH'})."
    )


# Profile ----------------------------------------------------------------------------------------

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")

# Where a sample goes: the innermost frame on its stack that names one of APP_STEPS (the request's
# own steps); failing that, the innermost that names one of LOOP_STEPS. (label, function, file)
APP_STEPS: list[tuple[str, str, str]] = [
    ("bearer token check (drape.tokens.verify_access_token)", "verify_access_token", "tokens.py"),
    ("user lookup: _me -> db.users.get_user (1 query)", "_me", "routes/posts.py"),
    ("like statement: db.posts.like (LIKE, 1 query)", "like", "db/posts.py"),
    ("Socket.IO emits: 2 x Emitter._emit (encode, Redis PUBLISH)", "_emit", "realtime/emit.py"),
    ("response JSON: server.params.json_response", "json_response", "server/params.py"),
    (
        "route handler own code (posts.like, _like_response)",
        "like|_like_response",
        "routes/posts.py",
    ),
    ("endpoint wrapper own code (server/openapi.py run)", "run", "server/openapi.py"),
    ("middleware problems (own)", "problems", "server/middleware.py"),
    (
        "middleware request_context (own: request id, metrics, log call)",
        "request_context",
        "server/middleware.py",
    ),
    ("realtime fan-out: FanoutRedisManager._handle_emit", ".*", "realtime/fanout.py"),
]
LOOP_STEPS: list[tuple[str, str, str]] = [
    (
        "Socket.IO pub/sub listener: the 2 emits read back from Redis",
        "_thread|_listen|_redis_listen_with_retries|_handle_.*",
        "socketio/async_(redis|pubsub)_manager.py",
    ),
    (
        "event loop and C callbacks (uvloop I/O, asyncpg protocol) with no Python frame",
        "run_app",
        "aiohttp/web.py",
    ),
    ("aiohttp outside the app (HTTP parse, dispatch, response write)", ".*", "aiohttp/"),
]
OTHER = "other"


def _parse_raw(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for f in stack.split(";"):
            m = FRAME.match(f)
            frames.append((m["func"], m["file"]) if m else (f, ""))
        stacks.append((frames, int(count)))
    return stacks


def summarize_profile(path: Path) -> list[str]:
    stacks = _parse_raw(path)
    total = sum(n for _, n in stacks)
    if not total:
        return [f"- no samples in {path}"]
    steps: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    tiers = [
        [(label, re.compile(f"^(?:.*\\.)?(?:{fn})$"), re.compile(fl)) for label, fn, fl in tier]
        for tier in (APP_STEPS, LOOP_STEPS)
    ]
    for frames, n in stacks:
        steps[_step(frames, tiers)] += n
        func, file = frames[-1]
        leaves[f"{func} ({_short(file)})"] += n
    lines = [f"- {total:,} samples; share of the server's on-CPU samples by step (innermost):"]
    lines += [f"  - {share(n, total)} {label}" for label, n in steps.most_common()]
    lines.append("- top functions by own samples:")
    lines += [f"  - {share(n, total)} {leaf}" for leaf, n in leaves.most_common(15)]
    return lines


def _step(
    frames: list[tuple[str, str]], tiers: list[list[tuple[str, re.Pattern[str], re.Pattern[str]]]]
) -> str:
    for tier in tiers:
        for func, file in reversed(frames):
            for label, fn, fl in tier:
                if fn.match(func) and fl.search(file):
                    return label
    return OTHER


def share(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}%"


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


async def profile_likes(
    load: LoadProcess,
    server: Process,
    calls: Sequence[Call],
    *,
    concurrency: int,
    out: Path,
    rate_hz: int,
    native: bool,
) -> list[str]:
    """One more like run on the real server, recorded by py-spy (its figures are not compared:
    sampling slows the process down)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return [f"- py-spy not found next to {sys.executable}; no profile"]
    log = out.with_suffix(".log")
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            str(spy), "record", "--pid", str(server.pid), "--rate", str(rate_hz),
            "--format", "raw", "--output", str(out), *(["--native"] if native else []),
            stdout=err, stderr=err,
        )  # fmt: skip
    await asyncio.sleep(2.0)  # attached and sampling
    started = time.perf_counter()
    result = await load.run(server.base, calls, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    if not out.exists():
        return [f"- py-spy wrote no profile: {log.read_text(errors='replace')[-500:]}"]
    return [
        f"- {len(calls):,} likes at concurrency {concurrency} while py-spy sampled the real server "
        f"at {rate_hz} Hz{' with native frames' if native else ''} (py-spy pauses the process "
        f"for each sample, so this rate is not comparable): {result.per_second:,.0f} likes/s, "
        f"errors {result.failures()} ({elapsed:.1f} s; raw stacks in {out})",
        *summarize_profile(out),
    ]


# Main ---------------------------------------------------------------------------------------------


async def hold_socket(
    http: aiohttp.ClientSession, server: Process, token: str
) -> asyncio.Task[None]:
    """One Socket.IO client connected to the server (in no post's room), answering pings. A
    server's Socket.IO manager, and with it its Redis listener, starts with its first socket."""
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    ws = await http.ws_connect(url)
    opened = await ws.receive_str(timeout=10)
    if not opened.startswith("0{"):
        raise RuntimeError(f"expected an Engine.IO open packet, got {opened[:80]!r}")
    await ws.send_str("40" + json.dumps({"token": token}))
    connected = await ws.receive_str(timeout=10)
    if not connected.startswith("40"):
        raise RuntimeError(f"Socket.IO connect refused: {connected[:200]!r}")

    async def answer_pings() -> None:
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT and msg.data == "2":
                    await ws.send_str("3")
        finally:
            await ws.close()

    return asyncio.create_task(answer_pings())


async def main_async(args: argparse.Namespace) -> int:
    start_report(
        "One web process against its ceiling: home feed and likes over HTTP",
        __doc__.split("\n\n")[1],
    )
    raise_fd_limit()
    rng = random.Random(11)
    levels: list[int] = args.concurrency
    jwt_secret = "bench-" + uuid.uuid4().hex
    results: list[Measured] = []
    profile_lines: list[str] = []
    async with bench_database() as database_url, bench_redis(REDIS_DB) as redis_url:
        data = await load_data(database_url)
        conn = await asyncpg.connect(database_url)
        try:
            socket_likers = await insert_users(conn, SOCKET_LIKERS, LIKERS)
        finally:
            await conn.close()
        settings = token_settings(jwt_secret)
        viewer_tokens = mint_tokens(settings, data.viewers)
        liker_tokens = {
            REAL: mint_tokens(settings, data.likers),
            REAL_SOCKET: mint_tokens(settings, socket_likers),
            CEILING: mint_tokens(settings, data.sql_likers),
        }

        feed_calls = [
            Call("GET", f"/v1/feed?limit={PAGE}", viewer_tokens[i % VIEWERS])
            for i in range(args.warmup + args.requests)
        ]
        per_level = args.warmup + args.likes
        profiled = args.profile_likes if args.profile != "never" else 0
        targets = rng.sample(data.posts, 1 + per_level * len(levels) + profiled)

        def like_calls(posts: Sequence[uuid.UUID], name: str) -> list[Call]:
            tokens = liker_tokens[name]
            return [
                Call("PUT", f"/v1/posts/{p}/like", tokens[i % LIKERS]) for i, p in enumerate(posts)
            ]

        check_post, rest = targets[:1], targets[1:]
        level_posts = [rest[i * per_level : (i + 1) * per_level] for i in range(len(levels))]
        profile_posts = rest[per_level * len(levels) :]

        with bench_folder() as folder:
            channels: dict[str, str] = {}

            def env(name: str) -> dict[str, str]:
                channels[name] = f"drape-bench-{uuid.uuid4().hex[:8]}"
                return server_env(
                    port=free_port(),
                    database_url=database_url,
                    redis_url=redis_url,
                    channel=channels[name],
                    jwt_secret=jwt_secret,
                    folder=folder,
                    pool_max=POOL_MAX,
                )

            servers: dict[str, Process] = {}
            socket: asyncio.Task[None] | None = None
            async with aiohttp.ClientSession() as http:
                try:
                    for name, module in MODULES.items():
                        servers[name] = await start_server(
                            env(name),
                            log=folder / f"{module}.{len(servers)}.log",
                            module=module,
                            cpus=SERVER_CPUS,
                        )
                    await same_answers(
                        servers,
                        viewer_tokens[0],
                        {name: like_calls(check_post, name)[0] for name in servers},
                    )
                    socket = await hold_socket(http, servers[REAL_SOCKET], viewer_tokens[0])
                    listeners = await subscribers(redis_url, channels)
                    print(
                        f"3 servers up, pinned to core(s) {sorted(SERVER_CPUS)}: {REAL}; "
                        f"{REAL_SOCKET}; {CEILING}. Feed JSON equal. Redis subscribers of each "
                        f"server's Socket.IO channel: {listeners}. Load process pinned to "
                        f"{sorted(LOAD_CPUS) if LOAD_CPUS else 'any core'}.",
                        flush=True,
                    )
                    db_name = database_name(database_url)
                    rpid = await redis_pid(redis_url)
                    note_load("before measuring")
                    with LoadProcess(cpus=LOAD_CPUS) as load:

                        async def one(
                            endpoint: str, name: str, calls: Sequence[Call], c: int
                        ) -> None:
                            results.append(
                                await measure(
                                    endpoint,
                                    name,
                                    load,
                                    servers[name],
                                    [s for n, s in servers.items() if n != name],
                                    db_name,
                                    calls,
                                    concurrency=c,
                                    warmup=args.warmup,
                                    redis_pid=rpid,
                                )
                            )

                        for i, c in enumerate(levels):
                            for name in alternate([REAL, CEILING], i):
                                await one(FEED, name, feed_calls, c)
                        for i, c in enumerate(levels):
                            for name in alternate([REAL, REAL_SOCKET, CEILING], i):
                                await one(LIKE_PUT, name, like_calls(level_posts[i], name), c)
                        check_line = await check_likes(
                            database_url,
                            1 + per_level * len(levels),
                            targets[: 1 + per_level * len(levels)],
                        )
                        missed = any(
                            m.server != CEILING
                            and m.row.per_second < TARGET * ceiling_of(results, m).row.per_second
                            for m in results
                            if m.endpoint == LIKE_PUT
                        )
                        if args.profile == "always" or (args.profile == "auto" and missed):
                            out = Path(args.profile_out or folder / "like.txt")
                            profile_lines = await profile_likes(
                                load,
                                servers[REAL_SOCKET],
                                like_calls(profile_posts, REAL_SOCKET),
                                concurrency=max(levels),
                                out=out,
                                rate_hz=args.profile_rate,
                                native=args.profile_native,
                            )
                finally:
                    if socket is not None:
                        socket.cancel()
                        await asyncio.gather(socket, return_exceptions=True)
                    for s in servers.values():
                        await s.stop()
    print()
    print_results(results, levels, data_line(data), check_line, args)
    if profile_lines:
        print(f"## Where the real server's time goes on the like path (py-spy, {REAL_SOCKET})")
        print()
        for line in profile_lines:
            print(line)
        print(flush=True)
    note_load("at the end (this bench's own processes included)")
    return 0


def alternate(names: list[str], level: int) -> list[str]:
    """The servers in this order at even concurrency levels, reversed at odd ones."""
    return names if level % 2 == 0 else names[::-1]


async def subscribers(redis_url: str, channels: dict[str, str]) -> str:
    redis = Redis.from_url(redis_url)
    try:
        counts = dict(await redis.pubsub_numsub(*(channels[n] for n in MODULES if n != CEILING)))
    finally:
        await redis.aclose()
    return ", ".join(
        f"{short(n)} {counts.get(channels[n].encode(), 0)}" for n in MODULES if n != CEILING
    )


def short(name: str) -> str:
    return name.split(" (")[0]


def data_line(data: Data) -> str:
    return (
        f"{len(data.posts):,} posts, {data.likes:,} likes, {VIEWERS} viewers following "
        f"{FOLLOWS_PER_VIEWER} of {AUTHORS:,} authors"
    )


def ceiling_of(results: list[Measured], m: Measured) -> Measured:
    return next(
        r
        for r in results
        if r.server == CEILING
        and r.endpoint == m.endpoint
        and r.row.concurrency == m.row.concurrency
    )


HEADERS = [
    "endpoint",
    "server",
    "concurrency",
    "req/s",
    "p50 ms",
    "p99 ms",
    "ratio to ceiling",
    "requests",
    "errors",
    "server CPU µs/req",
    "server core busy",
    "Postgres CPU µs/req",
    "Redis CPU µs/req",
    "load CPU µs/req",
    "other work (cores)",
]


def print_results(
    results: list[Measured], levels: list[int], data: str, check_line: str, args: argparse.Namespace
) -> None:
    rows = []
    order = sorted(
        results,
        key=lambda m: (
            not m.endpoint.startswith("GET"),
            levels.index(m.row.concurrency),
            list(MODULES).index(m.server),
        ),
    )
    for m in order:
        r = m.row
        n = len(r.latencies) or 1
        ceiling = ceiling_of(results, m)
        rows.append(
            [
                m.endpoint,
                m.server,
                str(r.concurrency),
                rate(r.per_second),
                f"{percentile(r.latencies, 50) * 1000:.1f}",
                f"{percentile(r.latencies, 99) * 1000:.1f}",
                ratio(r.per_second, ceiling.row.per_second),
                f"{n:,}",
                str(r.errors),
                f"{(r.server_cpu or 0.0) / n * 1e6:,.0f}",
                f"{(r.server_cpu or 0.0) / r.elapsed:.0%}",
                f"{r.pg_cpu / n * 1e6:,.0f}",
                f"{m.redis_cpu / n * 1e6:,.0f}" if m.redis_cpu is not None else "-",
                f"{r.client_cpu / n * 1e6:,.0f}",
                f"{m.other_cores:.2f}{' !' if m.other_cores > NOISY else ''}",
            ]
        )
    idle = max(m.idle_other_cpu / m.row.elapsed for m in results)
    print_table(
        f"HTTP: one web process against a minimal aiohttp + asyncpg server ({data})",
        HEADERS,
        rows,
        notes=[
            f"- {args.warmup} unmeasured warm-up requests per row before it; {args.requests:,} "
            f"feed requests and {args.likes:,} likes timed per row; servers alternate which goes "
            "first between concurrency levels.",
            "- ratio to ceiling: req/s over the ceiling's req/s at the same concurrency.",
            "- server CPU: the measured server process; server core busy: that CPU over the wall "
            f"time (the server is pinned to core {sorted(SERVER_CPUS)}, which Postgres also "
            "uses); Postgres: the backends connected to the bench database; Redis: the Redis "
            "server process (the Socket.IO emits); load: the load process (pinned to core "
            f"{sorted(LOAD_CPUS) if LOAD_CPUS else 'any'}).",
            f"- {REAL_SOCKET}: a second `python -m server` with one Socket.IO client connected "
            "(in no post's room), so, as in production, its Redis listener reads each like's two "
            "emits back; the other has no socket, so its Socket.IO manager never starts listening "
            "and its emits are only published. Feed rows do not emit, so it is measured on likes "
            "only.",
            f"- the idle servers used at most {idle:.1%} of a core while another was measured.",
            "- other work: cores the machine kept busy during the row beyond the servers, "
            "Postgres backends, Redis and load process measured (/proc/stat; about 0.1 is "
            "kernel and Postgres background work on a quiet machine); each row waited up to "
            f"{QUIET_WAIT:.0f} s for it to drop below {QUIET_CORES} cores first (it was "
            f"{max(m.before_cores for m in results):.2f} at most just before a row). "
            + noisy_note(results),
            check_line,
        ],
    )
    print(f"Target: at least {TARGET:.0%} of the ceiling's throughput.")
    for m in order:
        if m.server == CEILING:
            continue
        c = ceiling_of(results, m)
        got = m.row.per_second / c.row.per_second
        verdict = "met" if got >= TARGET else "MISSED"
        print(
            f"- {m.endpoint} {short(m.server)} c={m.row.concurrency}: "
            f"{rate(m.row.per_second)} req/s vs ceiling "
            f"{rate(c.row.per_second)} ({got:.2f}x; target >= {TARGET:.2f}x): {verdict}"
        )
    print(flush=True)


def noisy_note(results: list[Measured]) -> str:
    noisy = [m for m in results if m.other_cores > NOISY]
    if not noisy:
        return f"No row had more than {NOISY} cores of other work."
    return (
        f"Rows marked ! had more than {NOISY} cores of other work, so their figures are not "
        "clean (busiest other processes, in cores: "
        + "; ".join(
            f"{short(m.server)} {m.endpoint.split()[0]} c={m.row.concurrency}: {m.others or '-'}"
            for m in noisy
        )
        + ")."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="timed feed requests per row")
    parser.add_argument("--likes", type=int, default=3000, help="timed likes per row")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per row")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 16])
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy the real server's like path (auto: when a like row misses the target)",
    )
    parser.add_argument("--profile-out", help="where to keep py-spy's raw stacks")
    parser.add_argument(
        "--profile-likes", type=int, default=10_000, help="likes in the profiled run"
    )
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--profile-native", action="store_true", help="with C/Cython frames (py-spy --native)"
    )
    args = parser.parse_args(argv)
    return run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
