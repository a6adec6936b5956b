"""The Redis pub/sub that carries socket events between processes: one Redis (SUBSCRIBE /
PUBLISH) or a Redis Cluster (sharded pub/sub: SSUBSCRIBE / SPUBLISH, so each room's channel
lives on the master that owns its hash slot and a message travels only within that shard).

REALTIME_BUS_URL names it: `redis://host:port/n` for one Redis, `redis+cluster://host:port[,
host:port...]` for a cluster (any of its nodes; the rest is discovered); empty, REDIS_URL. The
arq queue, the revocation keys and the control channel (drape/access.py) stay on REDIS_URL.

The client is coredis, not redis-py, on evidence:
- redis-py 5.3.1 (what the project pins) has no pub/sub on its asyncio RedisCluster at all and
  no SSUBSCRIBE on its asyncio PubSub (redis/redis-py#2219 stayed open from 2022 until 2026;
  the support that closed it, #3736, is in redis-py 7.x), and arq 0.28 requires redis<6, so
  moving the whole project to a redis-py that has it is not possible without dropping arq.
- coredis has had asyncio sharded pub/sub on its RedisCluster (`sharded_pubsub`) since 3.6: one
  connection per primary, each channel's SSUBSCRIBE routed by its hash slot, and a cluster
  layout that it refreshes by itself after MOVED errors and failovers. Its `pubsub()` on a single
  Redis has the same interface, so both configurations run one code path here.
- Its subscribers' own reconnect-and-resubscribe is turned off (`retry_policy=None`): a lost
  connection surfaces as an exception, so realtime/routed.py knows there was a gap and tells the
  clients to `sync`, instead of resubscribing silently over a gap nobody hears of.

coredis clients open a task group in their connection pool, which must be entered and left by
one task: `Bus.run` is that task (the web process runs its listener inside it; a worker only
waits), and everything else publishes through the open client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redis.crc import key_slot

if TYPE_CHECKING:  # coredis is imported when a bus is made: ~1 s of CPU at start-up otherwise
    import coredis
    from coredis.patterns.pubsub import PubSub, ShardedPubSub

CLUSTER_SCHEME = "redis+cluster"
# SSUBSCRIBE acknowledgements of a batch are awaited this long before the batch counts as failed.
SUBSCRIBE_TIMEOUT = 10.0

if TYPE_CHECKING:
    Subscriber = PubSub[bytes] | ShardedPubSub[bytes]


def cluster_nodes(url: str) -> list[coredis.typing.Node]:
    """The startup nodes of a `redis+cluster://h1:p1,h2:p2` URL."""
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    nodes: list[coredis.typing.Node] = []
    for part in netloc.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REALTIME_BUS_URL: {part!r} is not host:port")
        nodes.append({"host": host, "port": int(port)})
    return nodes


class Bus:
    """One open coredis client of the bus, publish and subscribe."""

    def __init__(self, url: str, name: str | None = None) -> None:
        """`name`: the CLIENT SETNAME of its connections to a single Redis."""
        import coredis

        self.url = url
        self.cluster = urlsplit(url).scheme == CLUSTER_SCHEME
        self.client: coredis.Redis[bytes] | coredis.RedisCluster[bytes]
        self._cluster_type = coredis.RedisCluster
        if self.cluster:
            self.client = coredis.RedisCluster(startup_nodes=cluster_nodes(url))
        else:
            self.client = coredis.Redis.from_url(url, client_name=name)
        self.opened = asyncio.Event()
        self._stop = asyncio.Event()

    async def run(self, body: Callable[[], Awaitable[None]] | None = None) -> None:
        """Open the client, run `body` (or wait for `stop`), close the client."""
        async with self.client:
            self.opened.set()
            try:
                if body is not None:
                    await body()
                else:
                    await self._stop.wait()
            finally:
                self.opened.clear()

    def stop(self) -> None:
        self._stop.set()

    async def _opened(self) -> bool:
        """Once the client is open (`run`); whether it is a cluster's (SPUBLISH) or not."""
        if not self.opened.is_set():
            await asyncio.wait_for(self.opened.wait(), 5)
        return isinstance(self.client, self._cluster_type)

    async def publish(self, channel: str, payload: bytes) -> None:
        if await self._opened():
            await self.client.spublish(channel, payload)
        else:
            await self.client.publish(channel, payload)

    async def publish_many(self, items: list[tuple[str, bytes]]) -> None:
        """Publish each (channel, payload), in order, in one pipeline (a cluster's sends each
        command to its slot's primary): 10,000 of them, a live post to every follower's room,
        take ~0.3 s this way against ~4 s as separate commands."""
        if len(items) == 1:
            await self.publish(*items[0])
            return
        if not items:
            return
        cluster = await self._opened()
        async with self.client.pipeline(transaction=False) as pipe:
            for channel, payload in items:
                if cluster:
                    pipe.spublish(channel, payload)
                else:
                    pipe.publish(channel, payload)

    @contextlib.asynccontextmanager
    async def subscriber(self) -> AsyncIterator[Subscriber]:
        """A subscriber that raises when its connection is lost (no silent resubscribe)."""
        ps: Subscriber
        if isinstance(self.client, self._cluster_type):
            ps = self.client.sharded_pubsub(
                retry_policy=None, subscription_timeout=SUBSCRIBE_TIMEOUT, max_idle_seconds=5
            )
        else:
            ps = self.client.pubsub(
                retry_policy=None, subscription_timeout=SUBSCRIBE_TIMEOUT, max_idle_seconds=5
            )
        async with ps:
            yield ps

    def ping_channels(self, prefix: str) -> list[str]:
        """Channels for a process's self-addressed pings: one on a single Redis, one on each
        primary of a cluster (a connection per primary, each of which can go deaf alone)."""
        if not isinstance(self.client, self._cluster_type):
            return [prefix]
        layout: Any = self.client.connection_pool.cluster_layout
        out: list[str] = []
        for node in layout.primaries:
            for i in range(100_000):
                name = f"{prefix}:{i}"
                if layout.node_for_slot(key_slot(name.encode())).node_id == node.node_id:
                    out.append(name)
                    break
        return out
