"""Backup and restore: a dump of a database with rows and a store with objects, restored into a
new empty database and a new store location, compares equal table by table and byte for byte."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncpg
import pytest

from db.backup import BackupError, Manifest, _libpq_target, dump, restore, sha256
from drape.settings import Settings
from drape.storage import ObjectStore, open_store
from tests.conftest import ROOT, Api
from tests.wardrobe_helpers import garment

OBJECTS = {
    "garments/1b2c/image.front.webp": (os.urandom(48_000), "image/webp"),
    "avatars/9f8e/mesh.glb": (os.urandom(150_000), "model/gltf-binary"),
    "avatars/9f8e/preview.png": (b"\x89PNG\r\n\x1a\n" + os.urandom(2_000), "image/png"),
    "readme.txt": (b"hello, wardrobe\n", "text/plain"),
    "posts/empty.bin": (b"", "application/octet-stream"),
}

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"
SCHEMA = """
SELECT 'constraint ' || conrelid::regclass::text || '.' || conname FROM pg_constraint
WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname FROM pg_trigger
WHERE NOT tgisinternal
UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace
ORDER BY 1
"""


async def database_state(dsn: str) -> dict[str, object]:
    """Every table's row count and an md5 over its rows in a fixed order, plus the schema."""
    conn = await asyncpg.connect(dsn)
    try:
        state: dict[str, object] = {}
        for (table,) in await conn.fetch(TABLES):
            row = await conn.fetchrow(
                f"SELECT count(*), md5(string_agg(t::text, '' ORDER BY t::text)) FROM {table} t"
            )
            state[f"table {table}"] = tuple(row)
        state["sequences"] = [tuple(r) for r in await conn.fetch(SEQUENCES)]
        state["schema"] = [r[0] for r in await conn.fetch(SCHEMA)]
        return state
    finally:
        await conn.close()


async def store_contents(store: ObjectStore) -> dict[str, tuple[bytes, str]]:
    contents = {}
    async for key in store.keys():
        info = await store.head(key)
        assert info is not None, key
        contents[key] = (await store.get(key), info.content_type)
    return contents


def new_store_url(settings: Settings, tmp_path: Path) -> str:
    """An empty store of the same kind as `settings`' one: a new folder or a new bucket."""
    if settings.object_store_url.startswith("s3://"):
        query = settings.object_store_url.split("?", 1)[1]
        return f"s3://drape-restore-{uuid.uuid4().hex[:8]}?{query}"
    return f"file://{tmp_path / 'restored-objects'}"


def opened(settings: Settings) -> AbstractAsyncContextManager[ObjectStore]:
    return open_store(
        settings.object_store_url, public_url=settings.public_url, secret=settings.jwt_secret
    )


async def run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "OBJECT_STORE_URL": settings.object_store_url,
        "JWT_SECRET": settings.jwt_secret,
        "PUBLIC_URL": settings.public_url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "db.backup",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_round_trip(
    api: Api, settings: Settings, store_kind: str, empty_database: str, tmp_path: Path
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await garment(
        api, alice, name="Navy wool coat", category="outerwear", colors=[{"hex": "#1f2a44"}]
    )
    r = await api.post("/v1/posts", token=alice.token, json={"caption": "first fit"})
    assert r.status == 201, await r.text()
    post = await r.json()
    r = await api.put(f"/v1/posts/{post['id']}/like", token=bob.token)
    assert r.status in (200, 204), await r.text()
    async with opened(settings) as store:
        assert store.kind == store_kind
        for key, (data, ctype) in OBJECTS.items():
            await store.put(key, data, ctype)
        source_objects = await store_contents(store)
    source = await database_state(settings.database_url)
    for table in ("users", "garments", "posts", "likes", "notifications", "schema_migrations"):
        assert source[f"table {table}"][0] > 0, table  # type: ignore[index]

    backup = tmp_path / "backup"
    code, err = await run_cli(settings, "dump", str(backup))
    assert code == 0, err
    manifest = Manifest.load(backup)
    assert [o.key for o in manifest.objects] == sorted(source_objects) and not manifest.skipped_keys
    for o in manifest.objects:
        data, ctype = source_objects[o.key]
        assert (o.size, o.sha256, o.content_type) == (len(data), sha256(data), ctype)
        assert (backup / "objects" / o.key).read_bytes() == data
    assert sha256((backup / "database.dump").read_bytes()) == manifest.database.sha256
    assert await database_state(settings.database_url) == source  # the dump changed nothing

    target = settings.with_(
        database_url=empty_database, object_store_url=new_store_url(settings, tmp_path)
    )
    done = await restore(target, backup)
    assert (done.objects_put, done.objects_already_there) == (len(OBJECTS), 0)
    assert await database_state(empty_database) == source
    async with opened(target) as restored:
        assert await store_contents(restored) == source_objects

    # A second restore is refused by the command line: the database has tables now.
    code, err = await run_cli(target, "restore", str(backup))
    assert code == 1 and "already has tables" in err, err
    # --force skips that check, yet never drops or overwrites: the load collides and is undone.
    with pytest.raises(BackupError, match="pg_restore failed"):
        await restore(target, backup, force=True)
    assert await database_state(empty_database) == source
    async with opened(target) as restored:
        assert await store_contents(restored) == source_objects


async def test_restore_checks_everything_before_writing(
    settings: Settings, empty_database: str, tmp_path: Path
) -> None:
    async with opened(settings) as store:
        await store.put("a/one.bin", b"one", "application/octet-stream")
        await store.put("b/two.txt", b"two", "text/plain")
    backup = tmp_path / "backup"
    await dump(settings, backup)
    with pytest.raises(BackupError, match="not empty"):
        await dump(settings, backup)

    target = settings.with_(
        database_url=empty_database, object_store_url=f"file://{tmp_path / 'target'}"
    )
    async with opened(target) as store:
        await store.put("b/two.txt", b"not two", "text/plain")
    with pytest.raises(BackupError, match="never overwrites"):
        await restore(target, backup)
    (backup / "objects" / "a" / "one.bin").write_bytes(b"0ne")
    with pytest.raises(BackupError, match="does not match its sha256"):
        await restore(target, backup)
    # Neither attempt wrote anything.
    async with opened(target) as store:
        assert await store_contents(store) == {"b/two.txt": (b"not two", "text/plain")}
    state = await database_state(empty_database)
    assert not [k for k in state if k.startswith("table ")], state
    manifest = json.loads((backup / "manifest.json").read_text())
    assert [o["key"] for o in manifest["objects"]] == ["a/one.bin", "b/two.txt"]


async def test_keys_lists_every_object_once(settings: Settings, store_kind: str) -> None:
    async with opened(settings) as store:
        for key in ("x/1", "x/2/deep.bin", "x2", "y"):
            await store.put(key, key.encode(), "text/plain")
        assert [k async for k in store.keys()] == ["x/1", "x/2/deep.bin", "x2", "y"]
        assert [k async for k in store.keys("x/")] == ["x/1", "x/2/deep.bin"]
        assert [k async for k in store.keys("x")] == ["x/1", "x/2/deep.bin", "x2"]
        assert [k async for k in store.keys("z")] == []
        await store.delete("x2")
        assert [k async for k in store.keys()] == ["x/1", "x/2/deep.bin", "y"]


def test_the_password_stays_off_the_command_line() -> None:
    url, env = _libpq_target("postgresql://drape:p%40ss@db.internal:6432/drape?sslmode=require")
    assert url == "postgresql://drape@db.internal:6432/drape?sslmode=require"
    assert env["PGPASSWORD"] == "p@ss"
    url, env = _libpq_target("postgresql://postgres@127.0.0.1:5432/drape")
    assert url == "postgresql://postgres@127.0.0.1:5432/drape"
    assert env.get("PGPASSWORD") == os.environ.get("PGPASSWORD")
