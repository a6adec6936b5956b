"""Pushes per second through one worker to a local FCM server, and what the presence check adds
to the like path, each beside a baseline.

    python -m bench.push [--pushes 2000] [--checks 5000]

Pushes: N users, each with one FCM device and one unread notification (straight SQL), and N
`push_notification` jobs queued; one worker (`python -m workers`, WORKER_MAX_JOBS = 8) runs them
against the FCM HTTP v1 server of tests/push_servers.py (in this process: OAuth token grant,
bearer check, JSON parse), so every push is the job's whole path: read the notification with
its badge and settings, claim (device, seq) in Postgres, build and send the message, record the
outcome. Baseline: the same N messages POSTed from this process straight to the same server
with one httpx client, 8 in flight: the ceiling of the server and the client without the job.

Presence check: what a like adds before queuing a push (realtime.presence.online: one Lua
script over the user's processes), N times one after the other, for a user who is online on
one of 1,000 connected users' process; baseline: a Redis PING, the round trip it cannot beat.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

import httpx
import orjson
from redis.asyncio import Redis

from bench.common import (
    bench_database,
    bench_folder,
    bench_redis,
    cpu_seconds,
    insert_users,
    p50_p99_ms,
    rate,
    run,
    start_report,
)
from db.pool import create_pool
from drape import push as proto
from drape.queue import create_queue
from drape.settings import Settings
from realtime.presence import Presence, online
from tests.harness import process_env, start_python
from tests.push_servers import FcmServer

REDIS_DB = 3

SEED = """
WITH d AS (
    INSERT INTO push_devices (user_id, platform, token)
    SELECT id, 'fcm', 'bench:' || id FROM users
), c AS (
    INSERT INTO notification_counters (user_id, last_seq) SELECT id, 1 FROM users
)
INSERT INTO notifications (user_id, seq, type, actor_id)
SELECT u.id, 1, 'follow', (SELECT id FROM users ORDER BY id LIMIT 1) FROM users u
"""


async def pushes(n: int, folder: Path, database_url: str, redis_url: str) -> None:
    fcm = FcmServer(folder)
    await fcm.start()
    pool = await create_pool(database_url, min_size=1, max_size=4)
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        object_store_url=f"file://{folder / 'objects'}",
        socketio_channel=f"bench-push-{uuid.uuid4().hex[:6]}",
        fcm_service_account_file=str(fcm.service_account_file),
        fcm_url=fcm.base,
    )
    try:
        users = await insert_users(pool, "pusher", n)
        await pool.execute(SEED)
        queue = await create_queue(settings)
        for u in users:
            await queue.enqueue_job("push_notification", str(u), 1, _job_id=f"push:{u}:1")
        await queue.aclose()

        env = process_env(
            settings,
            FCM_SERVICE_ACCOUNT_FILE=settings.fcm_service_account_file,
            FCM_URL=fcm.base,
            WORKER_MAX_JOBS="8",
        )
        worker = await start_python("-m", "workers", env=env)
        try:
            for _ in range(12_000):  # 10 minutes at most
                if len(fcm.received) >= n or worker.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            first, last = fcm.received[0].at, fcm.received[-1].at
            cpu = cpu_seconds(worker.pid)
        finally:
            worker.terminate()
            await worker.wait()
        sent = await pool.fetchval("SELECT count(*) FROM push_deliveries WHERE status = 'sent'")
        worker_rate = (n - 1) / (last - first)
        print(
            f"  worker : {n} pushes, {rate(worker_rate)} pushes/s (first to last), "
            f"{sent} recorded sent, worker CPU {cpu * 1e3 / n:.2f} ms per push (start-up included)"
        )

        token = next(iter(fcm.tokens))
        fcm.received.clear()
        url = proto.fcm_send_url(fcm.base, fcm.project)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = orjson.dumps({"message": {"token": "bench:x", "data": {"seq": "1"}}})
        sem = asyncio.Semaphore(8)
        async with httpx.AsyncClient(http2=True) as http:

            async def one() -> None:
                async with sem:
                    r = await http.post(url, content=body, headers=headers)
                    assert r.status_code == 200

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            took = time.perf_counter() - started
        print(f"  direct : {n} POSTs, {rate(n / took)} /s (8 in flight, no job, no Postgres)")
        print(f"  worker / direct: {worker_rate / (n / took):.2f}x")
    finally:
        await pool.close()
        await fcm.stop()


async def presence_check(n: int, database_url: str, redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, socketio_channel=f"bench-presence-{uuid.uuid4().hex}")
    redis = Redis.from_url(redis_url)
    pool = await create_pool(database_url, min_size=1, max_size=2)

    async def no_emit(*args: object, **kw: object) -> None:
        return None

    presence = Presence(settings)
    presence.bind(redis, pool, no_emit)
    try:
        await presence.beat()
        users = [uuid.uuid4() for _ in range(1000)]
        for u in users:
            presence.local[u] += 1
            await presence.redis.hset(f"{presence.prefix}:p:{presence.process_id}", str(u), "1")
            await presence.redis.sadd(f"{presence.prefix}:u:{u}", presence.process_id)
        target, away = users[500], uuid.uuid4()
        assert await online(redis, settings, [target, away]) == [True, False]
        for label, call in (
            ("PING (baseline)", lambda: redis.ping()),
            ("online() of an online user", lambda: online(redis, settings, [target])),
            ("online() of an offline user", lambda: online(redis, settings, [away])),
        ):
            times = []
            for _ in range(n):
                started = time.perf_counter()
                await call()
                times.append(time.perf_counter() - started)
            print(f"  {label:30}: p50/p99 {p50_p99_ms(times)} ms over {n}")
    finally:
        await presence.leave()
        await pool.close()
        await redis.aclose()


async def main(args: argparse.Namespace) -> None:
    start_report("Push: one worker to a local FCM server; the presence check on the like path")
    with bench_folder() as folder:
        async with bench_database() as database_url, bench_redis(REDIS_DB) as redis_url:
            print("pushes:")
            await pushes(args.pushes, folder, database_url, redis_url)
            print("presence check:")
            await presence_check(args.checks, database_url, redis_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=2000)
    parser.add_argument("--checks", type=int, default=5000)
    run(main(parser.parse_args()))
