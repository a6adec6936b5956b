"""Several real processes on loopback for fault tests and benches: web processes, workers, and,
when a test must stop them, a Redis and a Postgres of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO

import aiohttp
import asyncpg

from db.migrate import migrate
from drape.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


class ProcessExited(RuntimeError):
    """The process that wait_ready was waiting for exited before it was ready."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


RATE_FIELDS = [f for f in fields(Settings) if f.name.startswith("rate_")]
# Every test and bench client is 127.0.0.1, so a limit per address would count them all as one
# client; the tests of the limits set their own.
NO_ADDRESS_LIMITS = {f.name: 0 for f in RATE_FIELDS if f.name.endswith("_address")}


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `python -m server` or `python -m workers` child on `settings`'
    Postgres, Redis, object store, secret, channel and rate limits; `extra` variables are added
    last."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "OBJECT_STORE_URL": settings.object_store_url,
        "JWT_SECRET": settings.jwt_secret,
        "SOCKETIO_CHANNEL": settings.socketio_channel,
        "REALTIME_BUS_URL": settings.realtime_bus_url,
        "REALTIME_ROUTING": settings.realtime_routing,
        "ARQ_QUEUE": settings.arq_queue,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "4",
        "PYTHONPATH": str(ROOT),
        **{f.name.upper(): str(getattr(settings, f.name)) for f in RATE_FIELDS},
    }
    env.update(extra)
    return env


async def start_python(
    *args: str,
    env: Mapping[str, str],
    stdout: int | IO[bytes] = asyncio.subprocess.DEVNULL,
    stderr: int | IO[bytes] = asyncio.subprocess.DEVNULL,
) -> asyncio.subprocess.Process:
    """`python <args>` (this interpreter) from the repository root."""
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env=env, stdout=stdout, stderr=stderr
    )


async def wait_ready(
    base: str,
    timeout: float = 20,
    *,
    path: str = "/readyz",
    process: asyncio.subprocess.Process | None = None,
) -> None:
    """Poll `base + path` until it answers 200: TimeoutError after `timeout` seconds,
    ProcessExited as soon as `process` (the one serving `base`) has exited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while loop.time() < deadline:
            if process is not None and process.returncode is not None:
                raise ProcessExited(f"{base}: exited with code {process.returncode}")
            try:
                async with http.get(base + path) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{base} did not become ready")


@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    base: str | None = None

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.running:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout)


@dataclass
class Stack:
    settings: Settings
    logdir: Path | None = None  # each process's stderr goes to <logdir>/<name>-<n>.log
    procs: list[Proc] = field(default_factory=list)

    async def _spawn(self, name: str, module: str, **env: str) -> Proc:
        with contextlib.ExitStack() as files:
            log: int | IO[bytes] = asyncio.subprocess.DEVNULL
            if self.logdir is not None:
                log = files.enter_context(
                    (self.logdir / f"{name}-{len(self.procs)}.log").open("ab")
                )
            process = await start_python(
                "-m", module, env=process_env(self.settings, **env), stderr=log
            )
        proc = Proc(name=name, process=process)
        self.procs.append(proc)
        return proc

    async def web(self, timeout: float = 20) -> Proc:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = await self._spawn("web", "server", PORT=str(port), PUBLIC_URL=base)
        proc.base = base
        await wait_ready(base, timeout, process=proc.process)
        return proc

    async def worker(self, **env: str) -> Proc:
        return await self._spawn("worker", "workers", **env)

    async def aclose(self, sig: int = signal.SIGKILL, timeout: float = 30) -> None:
        """Send `sig` to every process still running, then wait for all of them to exit. One
        that is still running after `timeout` seconds is killed and named in an AssertionError:
        a shutdown that hangs is a failure to see, not a test session that never ends."""
        for proc in self.procs:
            if proc.running:
                proc.process.send_signal(sig)
        deadline = asyncio.get_running_loop().time() + timeout
        hung: list[str] = []
        for proc in self.procs:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            try:
                await asyncio.wait_for(proc.process.wait(), left)
            except TimeoutError:
                hung.append(f"{proc.name} (pid {proc.process.pid})")
                proc.process.kill()
                await proc.process.wait()
        assert not hung, f"did not exit within {timeout:.0f} s of signal {sig}: {hung}"


class OwnRedis:
    """A redis-server of the test's own, on a free port, that the test may kill and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        from redis.asyncio import Redis

        client = Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if await client.ping():
                        return
                except OSError:
                    await asyncio.sleep(0.02)
                except Exception:
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()
        raise TimeoutError("redis-server did not start")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


class OwnPostgres:
    """An embedded Postgres (pgserver) in a folder of the test's own, stopped and restarted."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._server = None
        self.dsn = ""

    async def start(self) -> None:
        import pgserver

        def boot() -> str:
            self._server = pgserver.get_server(self.workdir / "pg", cleanup_mode="stop")
            return self._server.get_uri()

        uri = await asyncio.to_thread(boot)
        self.dsn = uri.replace("/postgres?", "/drape?")
        admin = await asyncpg.connect(uri)
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'drape'"):
                await admin.execute("CREATE DATABASE drape")
        finally:
            await admin.close()
        await migrate(self.dsn)

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.cleanup)
            self._server = None


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class OwnRedisCluster:
    """A Redis Cluster of the test's own: `masters` redis-server processes started with
    `--cluster-enabled yes` on free ports, joined by `redis-cli --cluster create`, each in a
    folder of its own under `workdir`; stopped by their pids."""

    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.workdir = workdir
        self.ports = [cluster_port() for _ in range(masters)]
        self.processes: dict[int, asyncio.subprocess.Process] = {}

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    async def start_node(self, port: int) -> None:
        folder = self.workdir / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        self.processes[port] = await asyncio.create_subprocess_exec(
            shutil.which("redis-server") or "redis-server",
            "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
            "--save", "", "--appendonly", "no", "--dir", str(folder),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await self._cli(port, "ping", expect="PONG")

    async def _cli(self, port: int, *args: str, expect: str = "", tries: int = 200) -> str:
        out = ""
        for _ in range(tries):
            proc = await asyncio.create_subprocess_exec(
                shutil.which("redis-cli") or "redis-cli", "-p", str(port), *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            raw, _ = await proc.communicate()
            out = raw.decode()
            if expect in out:
                return out
            await asyncio.sleep(0.05)
        raise TimeoutError(f"redis-cli -p {port} {' '.join(args)}: {out!r}")

    async def start(self) -> None:
        for port in self.ports:
            await self.start_node(port)
        create = await asyncio.create_subprocess_exec(
            shutil.which("redis-cli") or "redis-cli", "--cluster", "create",
            *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-yes",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await create.wait() != 0:
            raise RuntimeError("redis-cli --cluster create failed")
        await self.wait_ok()

    async def wait_ok(self) -> None:
        for port in self.ports:
            await self._cli(port, "cluster", "info", expect="cluster_state:ok")

    async def kill_node(self, port: int) -> None:
        process = self.processes.get(port)
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    async def aclose(self) -> None:
        for port in self.ports:
            await self.kill_node(port)


def self_signed_cert(folder: Path, prefix: str = "") -> tuple[Path, Path]:
    """A fresh self-signed certificate for 127.0.0.1 (its own CA bundle too) and its key, as PEM
    files `<prefix>cert.pem` and `<prefix>key.pem` in `folder`, for the tests' TLS servers."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{prefix}cert.pem", folder / f"{prefix}key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
