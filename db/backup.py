"""Backup and restore of everything the service keeps: the database and the object store.

    python -m db.backup dump DIR               # DATABASE_URL and OBJECT_STORE_URL into DIR
    python -m db.backup restore DIR [--force]  # DIR into an empty DATABASE_URL and the store

DIR holds `database.dump` (pg_dump's custom format, one consistent snapshot), `objects/KEY`
for every object, and `manifest.json` (written last, so a folder without it is not a backup)
with each object's key, size, sha256 and content type.

The database is dumped first and the objects copied after it. The services write an object
before the row that names it commits and delete it only after the row stops naming it, so every
object named by a dumped row is copied, unless that row changed and the object was deleted
while the copy was running.

Restore checks everything before writing anything: the dump's and every object's sha256, that
the database has no tables (`--force` skips only this check) and that no object in the store
has the same key with other bytes. It then puts the objects (read back and checked) and loads
the dump with pg_restore in a single transaction. It never drops or overwrites anything: a
collision makes the whole load fail and leaves the database as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from drape.settings import Settings
from drape.storage import ObjectNotFound, ObjectStore, check_key, open_store

DATABASE_FILE = "database.dump"
OBJECTS_DIR = "objects"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
CONCURRENCY = 8

log = logging.getLogger(__name__)
T = TypeVar("T")


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectEntry:
    key: str
    size: int
    sha256: str
    content_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseEntry:
    file: str
    size: int
    sha256: str
    pg_dump: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    created_at: str
    database: DatabaseEntry
    objects: list[ObjectEntry]
    # Keys listed by the store that no service could have written (not valid object keys).
    skipped_keys: list[str]
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        try:
            data = json.loads((directory / MANIFEST_FILE).read_text())
        except FileNotFoundError:
            raise BackupError(
                f"{directory} has no {MANIFEST_FILE}: not a complete backup"
            ) from None
        if data.get("version") != FORMAT_VERSION:
            raise BackupError(f"unsupported backup format version {data.get('version')!r}")
        return cls(
            version=data["version"],
            created_at=data["created_at"],
            database=DatabaseEntry(**data["database"]),
            objects=[ObjectEntry(**o) for o in data["objects"]],
            skipped_keys=list(data["skipped_keys"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Restored:
    objects_put: int
    objects_already_there: int


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_target(dsn: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and an environment carrying it, so the password never
    shows in the process list."""
    parts = urlsplit(dsn)
    env = dict(os.environ)
    if parts.password is None:
        return dsn, env
    env["PGPASSWORD"] = unquote(parts.password)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), env


async def _run(*args: str, env: dict[str, str]) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not on PATH (install the PostgreSQL client)") from None
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{args[0]} failed ({proc.returncode}): {err.decode().strip()}")
    return out.decode().strip()


async def _for_each(
    items: AsyncIterable[T], fn: Callable[[T], Coroutine[Any, Any, None]], *, limit: int
) -> None:
    """Run `fn` over `items` with at most `limit` running at once; the first error wins."""
    slots = asyncio.Semaphore(limit)
    try:
        async with asyncio.TaskGroup() as tg:
            async for item in items:
                await slots.acquire()
                task = tg.create_task(fn(item))
                task.add_done_callback(lambda _: slots.release())
    except ExceptionGroup as group:
        raise group.exceptions[0] from None


async def _each(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


def _store(settings: Settings, *, create_bucket: bool) -> AbstractAsyncContextManager[ObjectStore]:
    return open_store(
        settings.object_store_url,
        public_url=settings.public_url,
        secret=settings.jwt_secret,
        create_bucket=create_bucket,
    )


# Dump ------------------------------------------------------------------------------------------


async def dump(settings: Settings, directory: Path, *, concurrency: int = CONCURRENCY) -> Manifest:
    """Write a backup of `settings`' database and object store into `directory`, which must be
    new or empty. On failure, what was written is removed again."""
    created = not directory.exists()
    if not created and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; a backup goes into a new folder")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return await _dump(settings, directory, concurrency=concurrency)
    except BaseException:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for child in directory.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        raise


async def _dump(settings: Settings, directory: Path, *, concurrency: int) -> Manifest:
    started = datetime.now(UTC)
    database = await _dump_database(settings.database_url, directory / DATABASE_FILE)
    objects: list[ObjectEntry] = []
    skipped: list[str] = []
    async with _store(settings, create_bucket=False) as store:

        async def copy(key: str) -> None:
            try:
                check_key(key)
            except ValueError:
                log.warning("skipped %r: not an object key", key)
                skipped.append(key)
                return
            entry = await _copy_out(store, key, directory / OBJECTS_DIR)
            if entry is not None:
                objects.append(entry)

        await _for_each(store.keys(), copy, limit=concurrency)
    manifest = Manifest(
        created_at=started.isoformat().replace("+00:00", "Z"),
        database=database,
        objects=sorted(objects, key=lambda o: o.key),
        skipped_keys=sorted(skipped),
    )
    (directory / MANIFEST_FILE).write_text(manifest.to_json())
    return manifest


async def _dump_database(dsn: str, path: Path) -> DatabaseEntry:
    url, env = _libpq_target(dsn)
    version = await _run("pg_dump", "--version", env=env)
    await _run(
        "pg_dump", "--format=custom", "--no-password", f"--file={path}", f"--dbname={url}", env=env
    )
    digest = await asyncio.to_thread(_file_sha256, path)
    return DatabaseEntry(file=path.name, size=path.stat().st_size, sha256=digest, pg_dump=version)


async def _copy_out(store: ObjectStore, key: str, root: Path) -> ObjectEntry | None:
    # An object deleted since it was listed is no longer part of the state: left out.
    info = await store.head(key)
    if info is None:
        return None
    try:
        data = await store.get(key)
    except ObjectNotFound:
        return None
    path = root / key
    await asyncio.to_thread(_write_file, path, data)
    return ObjectEntry(key=key, size=len(data), sha256=sha256(data), content_type=info.content_type)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# Restore ---------------------------------------------------------------------------------------


async def restore(
    settings: Settings, directory: Path, *, force: bool = False, concurrency: int = CONCURRENCY
) -> Restored:
    """Load the backup in `directory` into `settings`' (empty) database and object store."""
    manifest = Manifest.load(directory)
    dump_path = directory / DATABASE_FILE
    if await asyncio.to_thread(_file_sha256, dump_path) != manifest.database.sha256:
        raise BackupError(f"{dump_path} does not match the sha256 in the manifest")
    if not force:
        await _check_no_tables(settings.database_url)
    async with _store(settings, create_bucket=True) as store:
        missing: list[ObjectEntry] = []

        async def check(entry: ObjectEntry) -> None:
            if await _check_object(store, directory / OBJECTS_DIR, entry):
                missing.append(entry)

        await _for_each(_each(manifest.objects), check, limit=concurrency)

        async def put(entry: ObjectEntry) -> None:
            await _put_back(store, directory / OBJECTS_DIR, entry)

        await _for_each(_each(missing), put, limit=concurrency)
    await _restore_database(settings.database_url, dump_path)
    return Restored(
        objects_put=len(missing), objects_already_there=len(manifest.objects) - len(missing)
    )


SELECT_TABLES = """
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1
"""


async def _check_no_tables(dsn: str) -> None:
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as e:
        raise BackupError(f"cannot connect to the database: {e}") from None
    try:
        tables = [r["name"] for r in await conn.fetch(SELECT_TABLES)]
    finally:
        await conn.close()
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise BackupError(
            f"the database already has tables ({shown}); restore into an empty database"
            " (--force skips this check; it still never drops or overwrites anything)"
        )


def _read_checked(root: Path, entry: ObjectEntry) -> bytes:
    try:
        data = (root / check_key(entry.key)).read_bytes()
    except FileNotFoundError:
        raise BackupError(f"the backup has no copy of {entry.key}") from None
    if sha256(data) != entry.sha256:
        raise BackupError(f"the backup copy of {entry.key} does not match its sha256")
    return data


async def _check_object(store: ObjectStore, root: Path, entry: ObjectEntry) -> bool:
    """True when the object still has to be put; an identical one already there is kept."""
    await asyncio.to_thread(_read_checked, root, entry)
    if await store.head(entry.key) is None:
        return True
    if sha256(await store.get(entry.key)) != entry.sha256:
        raise BackupError(
            f"{entry.key} already exists in the object store with other bytes;"
            " restore never overwrites an object"
        )
    return False


async def _put_back(store: ObjectStore, root: Path, entry: ObjectEntry) -> None:
    data = await asyncio.to_thread(_read_checked, root, entry)
    await store.put(entry.key, data, entry.content_type)
    if sha256(await store.get(entry.key)) != entry.sha256:
        raise BackupError(f"{entry.key} reads back with other bytes than were put")


async def _restore_database(dsn: str, path: Path) -> None:
    url, env = _libpq_target(dsn)
    await _run(
        "pg_restore",
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        "--no-password",
        f"--dbname={url}",
        str(path),
        env=env,
    )


# Command line ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.backup", description="Backup and restore of the database and objects."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dump", help="write a backup into DIR").add_argument("dir", type=Path)
    restore_cmd = commands.add_parser("restore", help="restore the backup in DIR")
    restore_cmd.add_argument("dir", type=Path)
    restore_cmd.add_argument(
        "--force", action="store_true", help="restore even though the database has tables"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    settings = Settings.from_env()
    try:
        if args.command == "dump":
            manifest = asyncio.run(dump(settings, args.dir))
            size = sum(o.size for o in manifest.objects)
            print(
                f"backed up the database ({manifest.database.size} bytes) and"
                f" {len(manifest.objects)} object(s) ({size} bytes) into {args.dir}",
                file=sys.stderr,
            )
        else:
            done = asyncio.run(restore(settings, args.dir, force=args.force))
            print(
                f"restored the database and {done.objects_put} object(s)"
                f" ({done.objects_already_there} already there) from {args.dir}",
                file=sys.stderr,
            )
    except BackupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
