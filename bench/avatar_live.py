"""Live avatar customization: slider-to-`avatar:mesh` latency through a real worker.

    python -m bench.avatar_live [--seconds 10] [--rate 30]

One web process (`python -m server`) and one worker (`python -m workers`, woken on enqueue),
an avatar built first, then a python-socketio client opens `avatar:session` and sends
`avatar:set` at `rate` updates per second (waist and hips moving like a slider). For every
revision that reaches the client as `avatar:mesh` with morph weights, the time from sending its
`avatar:set` to receiving the mesh is one sample; revisions a newer one overtook are counted as
coalesced. Beside it, in the same run: the numerics alone (`live_state` on the same avatar, in
this process), i.e. what the queue, Redis and Socket.IO add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
import uuid

import aiohttp
import asyncpg
import socketio

from bench.common import (
    bench_database,
    bench_folder,
    bench_redis,
    free_port,
    note_load,
    percentile,
    print_table,
    run,
    server_env,
    start_report,
    start_server,
)
from tests.harness import start_python
from workers.avatar import live_state

BODY = {"height": 170, "bust": 92, "waist": 74, "hips": 100}


async def bench(seconds: float, rate: float) -> None:
    secret = "bench-" + uuid.uuid4().hex
    async with bench_database() as db_url, bench_redis(11) as redis_url:
        with bench_folder() as folder:
            env = server_env(
                port=free_port(),
                database_url=db_url,
                redis_url=redis_url,
                channel=f"bench-{uuid.uuid4().hex[:8]}",
                jwt_secret=secret,
                folder=folder,
            )
            web = await start_server(env, log=folder / "web.log", cpus={0})
            with (folder / "worker.log").open("wb") as log:
                worker = await start_python(
                    "-m", "workers", env=env, stdout=log, stderr=subprocess.STDOUT
                )
            try:
                await measure(web.base, db_url, seconds, rate)
            finally:
                worker.terminate()
                await worker.wait()
                await web.stop()


async def measure(base: str, db_url: str, seconds: float, rate: float) -> None:
    async with aiohttp.ClientSession() as http:
        r = await http.post(
            f"{base}/v1/auth/register",
            json={
                "email": "slider@example.com",
                "username": "slider",
                "password": "bench passphrase 1",
            },
        )
        token = (await r.json())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        r = await http.post(f"{base}/v1/avatars", headers=auth, json={"measurements": BODY})
        avatar_id = (await r.json())["avatar"]["id"]
        for _ in range(600):
            a = await (await http.get(f"{base}/v1/avatars/{avatar_id}", headers=auth)).json()
            if a["status"] == "ready":
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"avatar not built: {a}")

    sent: dict[int, float] = {}
    received: dict[int, float] = {}
    got_all = asyncio.Event()
    client = socketio.AsyncClient(reconnection=False)

    @client.on("avatar:mesh")
    async def on_mesh(data: dict) -> None:
        if "morph_weights" in data:
            received[data["revision"]] = time.perf_counter()
            if sent and data["revision"] == max(sent):
                got_all.set()

    await client.connect(base, auth={"token": token}, transports=["websocket"])
    ack = await client.call("avatar:session", {"avatar_id": avatar_id}, timeout=10)
    assert ack["ok"], ack
    note_load("before the slider session")
    n = int(seconds * rate)
    start = time.perf_counter()
    for i in range(n):
        phase = (i % 60) / 60
        changes = {"waist": 70 + 10 * phase, "hips": 98 + 6 * phase}
        t = time.perf_counter()
        result = await client.call(
            "avatar:set", {"avatar_id": avatar_id, "measurements": changes}, timeout=10
        )
        sent[result["revision"]] = t
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    try:
        await asyncio.wait_for(got_all.wait(), 10)
    except TimeoutError:
        pass
    await client.disconnect()

    latencies = [received[r] - sent[r] for r in sent if r in received]
    revisions = sorted(received)
    in_order = revisions == sorted(set(revisions))

    conn = await asyncpg.connect(db_url)
    params = await conn.fetchval("SELECT params FROM avatars WHERE id = $1", uuid.UUID(avatar_id))
    await conn.close()
    params = json.loads(params)
    direct = []
    for i in range(200):
        phase = (i % 60) / 60
        t = time.perf_counter()
        live_state(params, {**BODY, "waist": 70 + 10 * phase, "hips": 98 + 6 * phase})
        direct.append(time.perf_counter() - t)

    ms = lambda xs, q: f"{percentile(xs, q) * 1000:.1f}"  # noqa: E731
    print_table(
        f"Slider to avatar:mesh at {rate:g} updates/s for {seconds:g} s",
        ["path", "samples", "p50 ms", "p95 ms", "p99 ms", "coalesced", "in revision order"],
        [
            [
                "avatar:set -> worker -> avatar:mesh",
                len(latencies),
                ms(latencies, 50),
                ms(latencies, 95),
                ms(latencies, 99),
                n - len(latencies),
                in_order,
            ],
            [
                "live_state alone (baseline, in process)",
                len(direct),
                ms(direct, 50),
                ms(direct, 95),
                ms(direct, 99),
                "-",
                "-",
            ],
        ],
        notes=[
            "target: p95 under 60 ms per live update",
            "coalesced: revisions a newer one overtook before a worker reached them "
            "(latest wins, by design)",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args(argv)
    start_report("Live avatar customization through a real worker", __doc__.splitlines()[2])
    run(bench(args.seconds, args.rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
