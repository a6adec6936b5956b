"""The migration runner: idempotent, safe from two processes at once, refuses edited files."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import pytest

from db.migrate import MigrationError, load_migrations, migrate

ROOT = Path(__file__).resolve().parent.parent


async def _applied(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")]
    finally:
        await conn.close()


async def test_running_twice_is_harmless(empty_database: str) -> None:
    first = await migrate(empty_database)
    assert first == [m.name for m in load_migrations()]
    assert await migrate(empty_database) == []
    assert sorted(await _applied(empty_database)) == sorted(first)


async def test_two_processes_at_once(empty_database: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database, "PYTHONPATH": str(ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "db.migrate",
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = sorted(err.decode().strip().splitlines()[-1] for _, err in outputs)
    total = len(load_migrations())
    assert said[0].startswith("applied 0 migration(s)")
    assert said[1].startswith(f"applied {total} migration(s)")
    assert len(await _applied(empty_database)) == total


async def test_edited_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    assert await migrate(empty_database, tmp_path) == ["0001_a.sql"]
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int, y int);")
    with pytest.raises(MigrationError, match="edited"):
        await migrate(empty_database, tmp_path)


async def test_failed_migration_leaves_nothing_half_done(
    empty_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (x int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (x int); SELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_database, tmp_path)
    conn = await asyncpg.connect(empty_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT to_regclass('ok')") == "ok"
    finally:
        await conn.close()
    assert await _applied(empty_database) == ["0001_ok.sql"]
