"""Room-routed fan-out over several real web processes (realtime/routed.py): events reach the
sockets that hold the room wherever they are, a process without members hears nothing on the
bus, the last leave unsubscribes, a killed bus connection is recovered with `sync:needed`, and
the same over a real three-master Redis Cluster with sharded pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio
from redis.asyncio import Redis

from drape.settings import Settings
from realtime.context import SIO
from realtime.emit import worker_emitter
from realtime.routed import PING_EVERY, PING_TIMEOUT, RoutedManager
from tests.conftest import Api, EventLog, RunningApp
from tests.harness import OwnRedis, OwnRedisCluster, Stack

Connect = Callable[..., Awaitable[socketio.AsyncClient]]


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


async def _metric(http: aiohttp.ClientSession, base: str, name: str) -> float:
    async with http.get(base + "/metrics") as r:
        text = await r.text()
    lines = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(lines[0].split()[-1]) if lines else 0.0


async def _numsub(redis: Redis, channel: str) -> int:
    return int((await redis.pubsub_numsub(channel))[0][1])


async def _post(api: Api, token: str) -> str:
    r = await api.post("/v1/posts", token=token, json={"caption": "look"})
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _like(api: Api, post: str, token: str) -> None:
    r = await api.put(f"/v1/posts/{post}/like", token=token)
    assert r.status == 200, await r.text()


async def test_events_reach_only_processes_holding_the_room(
    server: RunningApp,
    api: Api,
    spawn_web: Callable[[], Awaitable[str]],
    sio_connect: Connect,
    redis_url: str,
) -> None:
    web_a, web_b = await spawn_web(), await spawn_web()
    alice, bob, carol, dave = [await api.register(n) for n in ("alice", "bob", "carol", "dave")]
    post = await _post(api, alice.token)
    channel = server.settings.socketio_channel
    room = f"{channel}#post:{post}"

    c1 = await sio_connect(carol.token, url=web_a)
    c2 = await sio_connect(carol.token, url=web_a)  # a second socket of one user
    d = await sio_connect(dave.token, url=web_b)  # connected, watching nothing
    logs = [EventLog(c, "post:like") for c in (c1, c2)]
    d_log = EventLog(d, "post:like")
    for c in (c1, c2):
        assert (await c.call("subscribe", {"post_id": post}, timeout=5))["ok"] is True

    redis = Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as http:
        try:
            held = {c.decode() for c in await redis.pubsub_channels(f"{channel}#*")}
            assert room in held and f"{channel}#user:{carol.id}" in held
            assert f"{channel}#user:{dave.id}" in held
            assert await _numsub(redis, room) == 1, (
                "one subscription for the process, not per socket"
            )
            heard_b = await _metric(http, web_b, "drape_bus_messages_total")

            # Bob likes through the in-test process, which holds nobody in the room.
            for _ in range(3):
                await _like(api, post, bob.token)
                await api.delete(f"/v1/posts/{post}/like", token=bob.token)
            await _like(api, post, bob.token)
            for log in logs:
                got = await log.wait_for(7)  # likes and unlikes
                assert [e["like_count"] for e in got] == [1, 0, 1, 0, 1, 0, 1], "once, in order"
            await asyncio.sleep(0.3)
            assert [len(log.items) for log in logs] == [7, 7], "exactly once per socket"
            assert d_log.items == []
            assert await _metric(http, web_b, "drape_bus_messages_total") == heard_b, (
                "a process with no member of the room received nothing on the bus"
            )

            # The last local member leaving unsubscribes the process; the first keeps it.
            await c1.call("unsubscribe", {"post_id": post}, timeout=5)
            await asyncio.sleep(0.2)
            assert await _numsub(redis, room) == 1
            await c2.disconnect()

            async def gone() -> bool:
                return await _numsub(redis, room) == 0

            await _until(gone)
            await c1.disconnect()

            async def user_gone() -> bool:
                return await _numsub(redis, f"{channel}#user:{carol.id}") == 0

            await _until(user_gone)
        finally:
            await redis.aclose()


async def test_worker_events_reach_the_process_holding_the_user(
    server: RunningApp, api: Api, spawn_web: Callable[[], Awaitable[str]], sio_connect: Connect
) -> None:
    web_a = await spawn_web()
    alice = await api.register("alice")
    a = await sio_connect(alice.token, url=web_a)
    jobs = EventLog(a, "job:update")
    emitter = worker_emitter(server.settings)
    try:
        await emitter.job_update(alice.id, {"id": "j1", "status": "done"})
        assert (await jobs.wait_for(1)) == [{"id": "j1", "status": "done"}]
    finally:
        await emitter.aclose()


async def _kill_bus_listener(redis: Redis, host_id: str) -> int:
    """CLIENT KILL the subscribed bus connections of one process (by its client name)."""
    killed = 0
    for client in await redis.client_list():
        if client.get("name") == f"drape-bus:{host_id}" and int(client.get("sub", 0)) > 0:
            await redis.execute_command("CLIENT", "KILL", "ID", client["id"])
            killed += 1
    return killed


async def test_a_killed_bus_connection_is_resubscribed_and_clients_told_to_sync(
    server: RunningApp, api: Api, sio_connect: Connect, redis_url: str
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    posts = [await _post(api, alice.token) for _ in range(3)]
    a = await sio_connect(alice.token)
    needed, likes = EventLog(a, "sync:needed"), EventLog(a, "post:like")
    notes = EventLog(a, "notification")
    for post in posts:
        await a.call("subscribe", {"post_id": post}, timeout=5)
    manager = server.app[SIO].manager
    gaps = manager.gaps

    redis = Redis.from_url(redis_url)
    try:
        assert await _kill_bus_listener(redis, manager.host_id) == 1
        got = await needed.wait_for(1, timeout=10)
        assert got == [{"reason": "bus_gap"}]
        assert manager.gaps == gaps + 1
        channel = server.settings.socketio_channel
        for post in posts:  # every room subscribed again
            assert await _numsub(redis, f"{channel}#post:{post}") == 1
        await _like(api, posts[2], bob.token)
        assert (await likes.wait_for(1))[0]["post_id"] == posts[2]
        assert [n["seq"] for n in await notes.wait_for(1)] == [1]
        synced = await a.call("sync", {"after_seq": 0}, timeout=5)
        assert [n["seq"] for n in synced["items"]] == [1]
    finally:
        await redis.aclose()


async def test_a_connect_storm_asks_the_database_once_and_still_refuses_the_suspended(
    server: RunningApp, api: Api, pool: asyncpg.Pool
) -> None:
    users = [await api.register(f"storm{i}") for i in range(12)]
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", uuid.UUID(users[0].id))
    events = server.app[SIO].namespace_handlers["/"]
    before = events.accounts.queries
    clients = [socketio.AsyncClient(reconnection=False) for _ in users]

    async def connect(client: socketio.AsyncClient, token: str) -> bool:
        try:
            await client.connect(
                server.base, auth={"token": token}, transports=["websocket"], wait_timeout=10
            )
            return True
        except socketio.exceptions.ConnectionError:
            return False

    try:
        done = await asyncio.gather(
            *(connect(c, u.token) for c, u in zip(clients, users, strict=True))
        )
        assert done == [False] + [True] * 11, "the inactive account is refused, the rest open"
        assert events.accounts.queries - before <= 5, "batched, not one query per socket"
        again = socketio.AsyncClient(reconnection=False)
        clients.append(again)
        queries = events.accounts.queries
        assert await connect(again, users[5].token)
        assert events.accounts.queries == queries, "served from the cache"
    finally:
        for c in clients:
            if c.connected:
                await c.disconnect()


class _AbsorbsOneCancel:
    """A subscriber whose message wait absorbs the first cancellation and reads on, as the bus
    library's cancel scopes were seen doing in a web process that never finished shutting
    down."""

    def __init__(self, ps: Any) -> None:
        self._ps = ps
        self.absorbed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ps, name)

    def __aiter__(self) -> _AbsorbsOneCancel:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                return await self._ps.__anext__()
            except asyncio.CancelledError:
                if self.absorbed:
                    raise
                self.absorbed += 1


async def test_stop_ends_a_listener_that_absorbed_a_cancellation(
    settings: Settings, redis_url: str
) -> None:
    manager = RoutedManager(redis_url, f"{settings.socketio_channel}-stop")
    subscribers: list[_AbsorbsOneCancel] = []
    opened = manager.bus.subscriber

    @contextlib.asynccontextmanager
    async def absorbing() -> AsyncIterator[Any]:
        async with opened() as ps:
            subscribers.append(_AbsorbsOneCancel(ps))
            yield subscribers[-1]

    manager.bus.subscriber = absorbing  # type: ignore[method-assign]
    await manager.start()
    await asyncio.wait_for(manager.listening.wait(), 10)
    await asyncio.sleep(PING_EVERY / 2)  # waiting for its next message
    await manager.stop()
    assert manager._task is not None and manager._task.done()
    assert subscribers[0].absorbed == 1


class TestSilentBus:
    """A bus Redis that stops answering without closing anything (SIGSTOP): only the
    self-addressed ping can tell."""

    @pytest.fixture
    async def own_redis(self, tmp_path: Path) -> AsyncIterator[OwnRedis]:
        redis = OwnRedis(tmp_path)
        await redis.start()
        yield redis
        await redis.kill()

    @pytest.fixture
    def settings(self, settings: Settings, own_redis: OwnRedis) -> Settings:
        return settings.with_(realtime_bus_url=own_redis.url)

    async def test_a_silent_bus_is_noticed_by_its_ping(
        self, server: RunningApp, api: Api, sio_connect: Connect, own_redis: OwnRedis
    ) -> None:
        alice, bob = await api.register("alice"), await api.register("bob")
        post = await _post(api, alice.token)
        a = await sio_connect(alice.token)
        needed, likes = EventLog(a, "sync:needed"), EventLog(a, "post:like")
        await a.call("subscribe", {"post_id": post}, timeout=5)
        assert own_redis.process is not None
        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(PING_TIMEOUT + 2 * PING_EVERY)
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert (await needed.wait_for(1, timeout=15)) == [{"reason": "bus_gap"}]
        await _like(api, post, bob.token)
        assert (await likes.wait_for(1))[0]["like_count"] == 1


# A real Redis Cluster ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("redis-cluster")


@pytest.fixture(scope="session")
async def redis_cluster(cluster_dir: Path) -> AsyncIterator[OwnRedisCluster]:
    """Three masters of the machine's redis-server, joined with `redis-cli --cluster create`."""
    if not OwnRedisCluster.available():
        pytest.skip("redis-server / redis-cli not installed")
    cluster = OwnRedisCluster(cluster_dir, masters=3)
    try:
        await cluster.start()
        yield cluster
    finally:
        await cluster.aclose()


class TestCluster:
    @pytest.fixture
    def settings(self, settings: Settings, redis_cluster: OwnRedisCluster) -> Settings:
        nodes = ",".join(f"127.0.0.1:{p}" for p in redis_cluster.ports)
        return settings.with_(realtime_bus_url=f"redis+cluster://{nodes}")

    async def _shard_channels(self, cluster: OwnRedisCluster, prefix: str) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for port in cluster.ports:
            node = Redis(port=port)
            try:
                raw = await node.execute_command("PUBSUB", "SHARDCHANNELS", f"{prefix}*")
                out[port] = {c.decode() for c in raw}
            except (OSError, ConnectionError):
                out[port] = set()
            finally:
                await node.aclose()
        return out

    async def test_rooms_spread_over_masters_and_reach_every_process(
        self,
        server: RunningApp,
        api: Api,
        settings: Settings,
        redis_cluster: OwnRedisCluster,
        sio_connect: Connect,
        tmp_path: Path,
    ) -> None:
        stack = Stack(settings, logdir=tmp_path)
        try:
            other = await stack.web()
            assert other.base is not None
            alice, bob, carol, dave = [
                await api.register(n) for n in ("alice", "bob", "carol", "dave")
            ]
            posts = [await _post(api, alice.token) for _ in range(8)]
            a = await sio_connect(alice.token)  # the in-test process
            c = await sio_connect(carol.token, url=other.base)
            c_likes, a_notes = EventLog(c, "post:like"), EventLog(a, "notification")
            c_sync = EventLog(c, "sync:needed")
            for post in posts:
                assert (await c.call("subscribe", {"post_id": post}, timeout=5))["ok"] is True

            prefix = f"{settings.socketio_channel}#post:"
            shards = await self._shard_channels(redis_cluster, prefix)
            assert set().union(*shards.values()) == {prefix + p for p in posts}
            assert sum(1 for chans in shards.values() if chans) >= 2, shards

            bob_other = Api(session=api.session, base=other.base, settings=settings)
            await _like(api, posts[0], bob.token)  # published by a process without the room
            await _like(bob_other, posts[1], bob.token)
            got = await c_likes.wait_for(2)
            assert sorted(e["post_id"] for e in got) == sorted(posts[:2])
            assert [n["seq"] for n in await a_notes.wait_for(2)] == [1, 2]

            # A master holding one of the rooms dies and comes back: the listener notices,
            # subscribes again once it answers, and tells its sockets to sync.
            victim = next(p for p, chans in shards.items() if chans)
            await redis_cluster.kill_node(victim)
            await asyncio.sleep(0.5)
            await redis_cluster.start_node(victim)
            await redis_cluster.wait_ok()
            assert (await c_sync.wait_for(1, timeout=30))[0] == {"reason": "bus_gap"}

            async def resubscribed() -> bool:
                now = await self._shard_channels(redis_cluster, prefix)
                return set().union(*now.values()) == {prefix + p for p in posts}

            await _until(resubscribed, 20)
            room = next(iter(shards[victim])).removeprefix(prefix)
            # dave: bob may have liked this room already, and a like that changes nothing
            # emits nothing.
            await _like(api, room, dave.token)
            later = await c_likes.wait_for(3, timeout=10)
            assert later[-1]["post_id"] == room
            synced = await c.call("sync", {"after_seq": 0}, timeout=5)
            assert synced["ok"] is True
        finally:
            await stack.aclose(signal.SIGTERM)

    async def test_workers_publish_over_the_cluster(
        self, server: RunningApp, api: Api, settings: Settings, sio_connect: Connect
    ) -> None:
        users = [await api.register(f"fan{i}") for i in range(6)]
        sockets = [await sio_connect(u.token) for u in users]
        logs = [EventLog(s, "notification") for s in sockets]
        emitter = worker_emitter(settings)
        try:
            note = {"id": str(uuid.uuid4()), "seq": 1, "type": "follow"}
            await emitter.to_users([u.id for u in users], "notification", note)
            for log in logs:
                assert await log.wait_for(1) == [note]
        finally:
            await emitter.aclose()


class TestBroadcastRouting:
    """REALTIME_ROUTING=broadcast (python-socketio's one channel) stays a working setting."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.with_(realtime_routing="broadcast")

    async def test_events_cross_processes(
        self, server: RunningApp, api: Api, spawn_web: Callable[[], Awaitable[str]],
        sio_connect: Connect,
    ) -> None:  # fmt: skip
        other = await spawn_web()
        alice, bob = await api.register("alice"), await api.register("bob")
        post = await _post(api, alice.token)
        b = await sio_connect(bob.token, url=other)
        likes = EventLog(b, "post:like")
        await b.call("subscribe", {"post_id": post}, timeout=5)
        await _like(api, post, alice.token)
        assert (await likes.wait_for(1))[0]["like_count"] == 1
