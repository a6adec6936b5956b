"""Applies migrations/NNNN_name.sql in order, each in its own transaction, recorded in a table.

Safe from several processes at once: a session-level advisory lock makes them take turns, and the
second one finds nothing left to do. An applied file that changed since is an error, not a re-run.

    python -m db.migrate            # uses DATABASE_URL
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from drape.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed 64-bit number; it names "the migration lock" for this schema.
LOCK_ID = 7_311_004_221

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    files = sorted(p for p in directory.glob("*.sql") if p.name[:4].isdigit())
    return [Migration(name=p.name, sql=p.read_text()) for p in files]


CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

SELECT_APPLIED = "SELECT name, checksum FROM schema_migrations"

INSERT_APPLIED = "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)"


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is missing; return the names applied by this call."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)
        try:
            return await _apply_missing(conn, load_migrations(directory))
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)
    finally:
        await conn.close()


async def _apply_missing(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(CREATE_TABLE)
    applied = {r["name"]: r["checksum"] for r in await conn.fetch(SELECT_APPLIED)}
    done: list[str] = []
    for m in migrations:
        if m.name in applied:
            if applied[m.name] != m.checksum:
                raise MigrationError(f"{m.name} was edited after it was applied")
            continue
        async with conn.transaction():
            await conn.execute(m.sql)
            await conn.execute(INSERT_APPLIED, m.name, m.checksum)
        log.info("applied migration", extra={"migration": m.name})
        done.append(m.name)
    return done


def with_database(dsn: str, name: str) -> str:
    """The same server, another database (TCP and unix-socket URLs alike)."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it does not exist (local set-up and tests)."""
    name = urlsplit(dsn).path.lstrip("/")
    admin = with_database(dsn, "postgres")
    conn = await asyncpg.connect(admin)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except asyncpg.DuplicateDatabaseError:
        return False
    finally:
        await conn.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    settings = Settings.from_env()
    asyncio.run(ensure_database(settings.database_url))
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}", file=sys.stderr)


if __name__ == "__main__":
    main()
