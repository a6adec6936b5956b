"""The asyncpg pool, with JSON/JSONB decoded to Python objects on every connection."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog", format="text"
        )


async def keep_session(conn: asyncpg.Connection) -> None:
    """Skip the reset query on release: no query here sets session state (no SET, LISTEN or
    session advisory lock), so `RESET ALL; UNLISTEN *; ...` would be a wasted round trip on every
    release (about 8% of a like's CPU in bench/feed.py). asyncpg still rolls back a transaction
    left open before this hook runs."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        reset=keep_session,
        command_timeout=30,
        # Statements are short; a stuck connection should not hold a worker slot forever.
        max_inactive_connection_lifetime=300,
    )
    assert pool is not None
    return pool
