"""Scale-out: 1, 2 and 4 `python -m server` processes sharing Redis, every watcher on the first.

    python -m bench.scaleout [--watchers 2000] [--likes 100] [--procs 1 2 4] [--connect 5000]

CPU per like: W sockets on process 0 watch one post; L likes (each from a fresh liker, PUT
/v1/posts/{id}/like on process 0, 8 in flight) are each delivered to all W. Each server
process's CPU (bench.common.cpu_seconds) over the likes, less what it used idle with the same
sockets over an equal time, divided by L: "busy" is process 0, "idle" the mean of the others,
which hold no socket at all. Both routings run in the same run, on the same machine:
`broadcast` (REALTIME_ROUTING=broadcast: python-socketio's one channel that every process
decodes, the path before realtime/routed.py) and `rooms` (realtime/routed.py). Delivered counts
every like frame received against W x L: fewer is a loss, more a duplicate.

Connect: N sockets (Engine.IO open, Socket.IO connect with a token, `subscribe` to the post and
its ack), from two load processes at 50 handshakes in flight each, against one fresh server of
each routing, the raw aiohttp WebSocket server (bench/raw_ws_server.py, plain WebSockets) and
python-socketio with nothing of ours (bench/bare_sio_server.py: the protocol's own floor).
RSS per socket = (VmRSS with N sockets - VmRSS before) / N. `--connect 0` skips this part.

Servers run on core 0, the load processes on core 1; figures move with whatever else runs on
the machine (load averages are printed).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.common import (
    Process,
    bench_database,
    bench_folder,
    bench_redis,
    free_port,
    note_load,
    print_table,
    raise_fd_limit,
    ratio,
    run,
    server_env,
    start_process,
    start_report,
    start_server,
)
from bench.fanout import LoadProcess, Seed, seed

REDIS_DB = 10
SERVER_CPU = {0}
ROUTINGS = ("broadcast", "rooms")
# The connect baselines: plain WebSockets, and python-socketio with nothing of ours.
BASELINES = {"raw": "bench.raw_ws_server", "python-socketio alone": "bench.bare_sio_server"}
SETTLE = 1.0
IDLE_SECONDS = 5.0  # the idle CPU of each process with its sockets, measured before the likes
LIKERS = 8  # likes in flight at once
COLLECT_TIMEOUT = 60.0


@dataclass
class SpreadRow:
    routing: str
    procs: int
    busy_us: float
    idle_us: float
    idle_gross_us: float
    delivered: int
    expected: int

    @property
    def share(self) -> str:
        return f"{100 * self.idle_us / self.busy_us:.1f}%" if self.busy_us > 0 else "-"


@dataclass
class ConnectRow:
    server: str
    n: int
    connected: int
    seconds: float
    rss_kb_per_socket: float


def _env(base: dict[str, str], port: int, routing: str, channel: str) -> dict[str, str]:
    return {
        **base,
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "REALTIME_ROUTING": routing,
        "SOCKETIO_CHANNEL": channel,
    }


def _ws_url(proc: Process) -> str:
    return f"ws://127.0.0.1:{proc.port}/socket.io/?EIO=4&transport=websocket"


async def _servers(
    base: dict[str, str], folder: Path, routing: str, n: int, channel: str
) -> list[Process]:
    procs = []
    for i in range(n):
        port = free_port()
        env = _env(base, port, routing, channel)
        procs.append(
            await start_server(env, log=folder / f"{routing}-{n}-{i}.log", cpus=SERVER_CPU)
        )
    return procs


async def spread(
    base: dict[str, str], folder: Path, data: Seed, routing: str, n: int, watchers: int, likes: int
) -> SpreadRow:
    channel = f"bench-scaleout-{uuid.uuid4().hex[:8]}"
    procs = await _servers(base, folder, routing, n, channel)
    load = LoadProcess()
    try:
        reply = await load.call(
            "connect",
            {
                "url": _ws_url(procs[0]),
                "tokens": data.subscriber_tokens[:watchers],
                "post_id": str(data.post_id),
            },
        )
        if reply["failed"]:
            raise RuntimeError(f"connect failed: {reply['errors']}")
        await asyncio.sleep(SETTLE)
        before = [p.cpu_seconds() for p in procs]
        t0 = time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        idle_rate = [
            (p.cpu_seconds() - b) / (time.monotonic() - t0)
            for p, b in zip(procs, before, strict=True)
        ]

        await load.call("arm")
        before = [p.cpu_seconds() for p in procs]
        t0 = time.monotonic()
        received = 0
        tokens = [data.liker()[2] for _ in range(likes)]
        async with aiohttp.ClientSession() as http:

            async def liker(mine: list[str]) -> None:
                for token in mine:
                    async with http.put(
                        f"{procs[0].base}/v1/posts/{data.post_id}/like",
                        headers={"Authorization": f"Bearer {token}"},
                    ) as r:
                        assert r.status == 200, await r.text()

            await asyncio.gather(*(liker(tokens[i::LIKERS]) for i in range(LIKERS)))
            # every delivery arrived (or the timeout) before the CPU is read
            deadline = time.monotonic() + COLLECT_TIMEOUT
            while time.monotonic() < deadline:
                got = await load.call("collect", 0.2)
                received = len(got["receipts"])
                if received >= watchers * likes:
                    break
        await asyncio.sleep(0.2)
        elapsed = time.monotonic() - t0
        gross = [p.cpu_seconds() - b for p, b in zip(procs, before, strict=True)]
        used = [g - rate * elapsed for g, rate in zip(gross, idle_rate, strict=True)]
        got = await load.call("collect", 0.1)
        received = len(got["receipts"])
        per_like = [u / likes * 1e6 for u in used]
        idle = per_like[1:]
        idle_gross = [g / likes * 1e6 for g in gross[1:]]
        return SpreadRow(
            routing=routing,
            procs=n,
            busy_us=per_like[0],
            idle_us=sum(idle) / len(idle) if idle else float("nan"),
            idle_gross_us=sum(idle_gross) / len(idle_gross) if idle else float("nan"),
            delivered=received,
            expected=watchers * likes,
        )
    finally:
        await load.close()
        for p in procs:
            await p.stop()


async def connect(base: dict[str, str], folder: Path, data: Seed, kind: str, n: int) -> ConnectRow:
    port = free_port()
    if kind in BASELINES:
        proc = await start_process(
            ["-m", BASELINES[kind], "--port", str(port)],
            env=base,
            port=port,
            log=folder / f"{kind}.log",
            ready_path="/healthz",
            cpus=SERVER_CPU,
        )
        if kind == "raw":
            url = f"ws://127.0.0.1:{port}/ws"
            tokens: list[str | None] = [None] * n
        else:  # any token: the bare server checks none
            url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            tokens = ["-"] * n
    else:
        channel = f"bench-scaleout-{uuid.uuid4().hex[:8]}"
        env = _env(base, port, kind, channel)
        proc = await start_server(env, log=folder / f"connect-{kind}.log", cpus=SERVER_CPU)
        url = _ws_url(proc)
        tokens = list(data.subscriber_tokens[:n])
    loads = [LoadProcess(), LoadProcess()]
    try:
        await asyncio.sleep(SETTLE)
        rss_before = proc.rss_kb()
        t0 = time.monotonic()
        replies = await asyncio.gather(
            *(
                lp.call(
                    "connect", {"url": url, "tokens": tokens[i::2], "post_id": str(data.post_id)}
                )
                for i, lp in enumerate(loads)
            )
        )
        seconds = time.monotonic() - t0
        await asyncio.sleep(SETTLE)
        connected = sum(r["connected"] for r in replies)
        for r in replies:
            if r["errors"]:
                print(f"{kind}: {r['failed']} sockets failed, e.g. {r['errors'][:2]}")
        rss = (proc.rss_kb() - rss_before) / max(connected, 1)
        return ConnectRow(kind, n, connected, seconds, rss)
    finally:
        for lp in loads:
            await lp.close()
        await proc.stop()


async def main_async(args: argparse.Namespace) -> int:
    raise_fd_limit()
    start_report(
        "bench.scaleout",
        "Several web processes sharing Redis, every watcher on one (see the module docstring).",
    )
    likers = len(ROUTINGS) * len(args.procs) * args.likes
    async with bench_database() as database_url, bench_redis(REDIS_DB) as redis_url:
        with bench_folder() as folder:
            data = await seed(
                database_url, "bench-scaleout-secret-" + "x" * 16,
                max(args.watchers, args.connect), likers,
            )  # fmt: skip
            base = server_env(
                port=0,
                database_url=database_url,
                redis_url=redis_url,
                channel="unused",
                jwt_secret="bench-scaleout-secret-" + "x" * 16,
                folder=folder,
            )
            rows: list[SpreadRow] = []
            for n in args.procs:
                for routing in ROUTINGS:
                    rows.append(
                        await spread(base, folder, data, routing, n, args.watchers, args.likes)
                    )
                    note_load(f"after {routing} x{n}")
            print_table(
                f"CPU per like, {args.watchers} watchers on process 0, {args.likes} likes",
                ["routing", "processes", "busy µs/like", "idle µs/like (each)", "idle gross",
                 "idle / busy", "delivered / expected"],
                [
                    (r.routing, r.procs, f"{r.busy_us:.0f}", f"{r.idle_us:.1f}",
                     f"{r.idle_gross_us:.1f}", r.share, f"{r.delivered} / {r.expected}")
                    for r in rows
                ],
                ["net of each process's idle CPU with the same sockets (measured over "
                 f"{IDLE_SECONDS:.0f} s before the likes); idle = mean of the processes holding "
                 "no socket; idle gross = their CPU over the likes / likes, background included"],
            )  # fmt: skip
            if not args.connect:
                return 0
            conns = [await connect(base, folder, data, kind, args.connect) for kind in
                     (*BASELINES, *ROUTINGS)]  # fmt: skip
            raw = conns[0]
            print_table(
                f"Connect and subscribe {args.connect} sockets to one process",
                ["server", "connected", "seconds", "vs raw", "RSS KB/socket"],
                [
                    (c.server, c.connected, f"{c.seconds:.2f}", ratio(c.seconds, raw.seconds),
                     f"{c.rss_kb_per_socket:.1f}")
                    for c in conns
                ],
                ["raw: plain WebSockets to bench/raw_ws_server.py, no handshake beyond the "
                 "upgrade",
                 "python-socketio alone: bench/bare_sio_server.py, the same handshake and "
                 "subscribe with no token check, no Redis, no handler of ours"],
            )  # fmt: skip
            note_load("at the end")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--watchers", type=int, default=2000)
    p.add_argument("--likes", type=int, default=100)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--connect", type=int, default=5000)
    return run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
