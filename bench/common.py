"""What the bench scripts share: a throwaway Postgres database and Redis db index, the real server
(`python -m server`) as a subprocess, CPU and memory readings from /proc, latency percentiles,
HTTP load from a separate process, and a small table printer.

A bench creates a database named `drape_bench_<random>`, a Socket.IO channel with a random
suffix and a temporary folder, and drops exactly those at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
import uvloop
from aiohttp import web
from redis.asyncio import Redis

from db.migrate import migrate
from drape.settings import Settings
from drape.tokens import issue_access_token
from tests.harness import (
    RATE_FIELDS,
    ROOT,
    ProcessExited,
    process_env,
    start_python,
    wait_ready,
)
from tests.harness import free_port as free_port  # the bench scripts import it from here

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Above this 1-minute load average the machine is busy with something else (tests of other
# engineers); a bench waits for it to drop before measuring.
QUIET_LOAD = 1.5
QUIET_WAIT = 60.0

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a bench's coroutine on uvloop, the loop the server runs on."""
    return uvloop.run(main)


def raise_fd_limit() -> int:
    """Lift this process's open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def serve_baseline(app: web.Application, description: str) -> None:
    """Run a baseline server (`--port N`) on uvloop, as the project's server runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    raise_fd_limit()
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cores_busy(seconds: float = 2.0) -> float:
    """How many cores the whole machine kept busy over the next `seconds` (from /proc/stat):
    unlike the load average, it does not lag behind what just finished."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    total = total1 - total0
    return (os.cpu_count() or 1) * (total - (idle1 - idle0)) / total if total else 0.0


def start_report(title: str, what: str = "") -> None:
    """Print the bench's header, then wait (at most QUIET_WAIT s) for a quiet machine."""
    print(f"# {title}")
    if what:
        print(what)
    print()
    print(f"command: {shlex.join([display_python(), *sys.orig_argv[1:]])}")
    print(f"date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, uvloop")
    print(f"load average (1/5/15 min) at start: {_load()}")
    waited = 0.0
    while os.getloadavg()[0] > QUIET_LOAD and waited < QUIET_WAIT:
        time.sleep(5)
        waited += 5
    if waited:
        note = "" if os.getloadavg()[0] <= QUIET_LOAD else " (still above 1.5)"
        print(f"waited {waited:.0f} s for the machine to quieten: load now {_load()}{note}")
    print(f"cores busy with other work just before measuring: {cores_busy():.2f}")
    print(flush=True)


def display_python() -> str:
    """sys.executable as a user would type it from the repository root."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else str(exe)
    except ValueError:
        return str(exe)


def note_load(label: str) -> None:
    print(f"load average {label}: {_load()}", flush=True)


# Databases, Redis, folders ----------------------------------------------------------------------


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A new, migrated database; dropped (with its connections) on exit."""
    name = f"drape_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
            await migrate(url)
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


@asynccontextmanager
async def bench_redis(db: int) -> AsyncIterator[str]:
    """Redis db index `db`, flushed before and after."""
    url = f"{REDIS_BASE}/{db}"
    redis = Redis.from_url(url)
    await redis.flushdb()
    try:
        yield url
    finally:
        await redis.flushdb()
        await redis.aclose()


@contextmanager
def bench_folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="drape_bench_"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# Users and tokens -------------------------------------------------------------------------------

INSERT_USERS = """
INSERT INTO users (username, email, password_hash, display_name)
SELECT $1 || lpad(g::text, 6, '0'), $1 || g || '@bench.example', $2, $1 || g
FROM generate_series(1, $3) g
RETURNING id, username
"""


async def insert_users(
    conn: asyncpg.Connection | asyncpg.Pool, prefix: str, count: int, password_hash: str = "!"
) -> list[uuid.UUID]:
    """`count` users named prefix000001...; straight SQL, since hashing is not what is measured.
    The placeholder hash matches no password."""
    rows = await conn.fetch(INSERT_USERS, prefix, password_hash, count)
    return [r["id"] for r in sorted(rows, key=lambda r: r["username"])]


def token_settings(jwt_secret: str) -> Settings:
    """The token settings of the server under test (same secret, issuer, audience)."""
    return Settings(jwt_secret=jwt_secret, access_token_ttl=3600)


def mint_tokens(settings: Settings, user_ids: Sequence[uuid.UUID]) -> list[str]:
    return [issue_access_token(settings, u) for u in user_ids]


# The server under test --------------------------------------------------------------------------


def server_env(
    *,
    port: int,
    database_url: str,
    redis_url: str,
    channel: str,
    jwt_secret: str,
    folder: Path,
    pool_max: int = 10,
) -> dict[str, str]:
    """The environment of the server (and workers) under test, listening on `port`."""
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        object_store_url=f"file://{folder / 'objects'}",
        jwt_secret=jwt_secret,
        socketio_channel=channel,
        # One client drives thousands of accounts: limits too high to meet, still counted.
        **{f.name: 10**9 for f in RATE_FIELDS if not f.name.endswith("_window")},
    )
    return process_env(
        settings,
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        ACCESS_TOKEN_TTL="3600",
        DB_POOL_MAX=str(pool_max),
    )


@dataclass
class Process:
    """A server (or baseline server) running as a child process."""

    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pin(self, cpus: set[int]) -> None:
        """Pin every thread of the process (new threads inherit the affinity)."""
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                os.sched_setaffinity(int(tid), cpus)
            except ProcessLookupError:
                pass

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self, timeout: float = 25.0) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_process(
    args: Sequence[str],
    *,
    env: dict[str, str],
    port: int,
    log: Path,
    ready_path: str = "/readyz",
    cpus: set[int] | None = None,
    timeout: float = 60.0,
) -> Process:
    """Start `python <args>` from the repository root and wait until ready_path answers 200."""
    with log.open("wb") as out:
        proc = await start_python(*args, env=env, stdout=out, stderr=subprocess.STDOUT)
    p = Process(proc=proc, port=port, log=log)
    if cpus is not None:
        p.pin(cpus)
    try:
        await wait_ready(p.base, timeout, path=ready_path, process=proc)
    except ProcessExited:
        raise RuntimeError(f"{' '.join(args)} exited:\n{p.log_tail()}") from None
    except TimeoutError:
        await p.stop()
        raise RuntimeError(
            f"{' '.join(args)} was not ready in {timeout:.0f} s:\n{p.log_tail()}"
        ) from None
    if cpus is not None:
        p.pin(cpus)  # again: threads started since
    return p


async def start_server(
    env: dict[str, str], *, log: Path, module: str = "server", cpus: set[int] | None = None
) -> Process:
    """`python -m server` (or a bench launcher of it) with `env` from server_env()."""
    return await start_process(["-m", module], env=env, port=int(env["PORT"]), log=log, cpus=cpus)


# /proc readings -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of a whole process: the sum over its live threads of the first field of
    /proc/<pid>/task/<tid>/schedstat (nanoseconds on a CPU). It is the time utime + stime of
    /proc/<pid>/stat count, without their 10 ms ticks (too coarse for one burst); it misses
    threads that have exited, so it falls back to /proc/<pid>/stat when unavailable."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return cpu_ticks_seconds(pid)
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        except (OSError, ValueError, IndexError):
            return cpu_ticks_seconds(pid)
    return total / 1e9


def cpu_ticks_seconds(pid: int) -> float:
    """utime + stime of a whole process from /proc/<pid>/stat (10 ms resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


SELECT_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = $1"


@dataclass
class CpuReading:
    at: float
    server: float
    postgres: dict[int, float]


class CpuMeter:
    """CPU used by the server process and by the Postgres backends serving the bench database."""

    def __init__(self, server_pid: int | None, database: str) -> None:
        self.server_pid = server_pid
        self.database = database

    async def read(self) -> CpuReading:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            pids = [r["pid"] for r in await conn.fetch(SELECT_BACKENDS, self.database)]
        finally:
            await conn.close()
        backends: dict[int, float] = {}
        for pid in pids:
            try:
                backends[pid] = cpu_seconds(pid)
            except (OSError, ValueError):
                pass
        server = cpu_seconds(self.server_pid) if self.server_pid else 0.0
        return CpuReading(at=time.monotonic(), server=server, postgres=backends)

    @staticmethod
    def used(a: CpuReading, b: CpuReading) -> tuple[float, float]:
        """(server seconds, Postgres seconds) between two readings; a backend that appeared in
        between counts whole."""
        pg = sum(cpu - a.postgres.get(pid, 0.0) for pid, cpu in b.postgres.items())
        return b.server - a.server, pg


# Statistics and printing --------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def p50_p99_ms(seconds: Sequence[float]) -> str:
    return f"{percentile(seconds, 50) * 1000:.1f} / {percentile(seconds, 99) * 1000:.1f}"


def rate(per_second: float) -> str:
    if per_second != per_second:  # NaN
        return "-"
    if per_second >= 10_000:
        return f"{per_second / 1000:.1f}k"
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.1f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and a == a and b == b else "-"


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str] = ()
) -> None:
    """A Markdown table with padded columns, then notes."""
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    print(f"## {title}")
    print()
    print(line(cells[0]))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in cells[1:]:
        print(line(r))
    if notes:
        print()
        for n in notes:
            print(n)
    print(flush=True)


# Load ------------------------------------------------------------------------------------------


async def run_concurrently(
    fn: Callable[[T], Awaitable[Any]], items: Sequence[T], concurrency: int
) -> tuple[list[float], float]:
    """Call fn on every item with `concurrency` calls in flight; (latency of each call in
    seconds, elapsed wall time)."""
    latencies: list[float] = []
    todo = iter(items)

    async def worker() -> None:
        for item in todo:  # one iterator shared by the workers: each item is taken once
            t = time.perf_counter()
            await fn(item)
            latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request of a load run."""

    method: str
    path: str
    token: str | None = None
    json: Any = None


@dataclass
class LoadResult:
    latencies: list[float]
    elapsed: float
    statuses: dict[int, int] = field(default_factory=dict)
    client_cpu: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.count / self.elapsed if self.elapsed else float("nan")

    def failures(self, ok: int = 200) -> int:
        return sum(n for status, n in self.statuses.items() if status != ok)


async def _http_load(base: str, calls: Sequence[Call], concurrency: int) -> LoadResult:
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def send(call: Call) -> None:
            headers = {"Authorization": f"Bearer {call.token}"} if call.token else None
            async with http.request(call.method, call.path, headers=headers, json=call.json) as r:
                await r.read()
                statuses[r.status] += 1

        cpu = time.process_time()
        latencies, elapsed = await run_concurrently(send, calls, concurrency)
        return LoadResult(latencies, elapsed, dict(statuses), time.process_time() - cpu)


def _http_load_in_process(base: str, calls: Sequence[Call], concurrency: int) -> LoadResult:
    return run(_http_load(base, calls, concurrency))


def _init_load_process(cpus: set[int] | None) -> None:
    raise_fd_limit()
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


class LoadProcess:
    """A separate process (spawned: it inherits nothing) that sends HTTP load when asked, so
    the client's CPU is not the bench process's."""

    def __init__(self, cpus: set[int] | None = None) -> None:
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_load_process,
            initargs=(cpus,),
        )

    async def run(self, base: str, calls: Sequence[Call], *, concurrency: int) -> LoadResult:
        """Send `calls` with `concurrency` requests in flight."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, _http_load_in_process, base, list(calls), concurrency
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LoadProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Rows of request tables --------------------------------------------------------------------------

ROW_HEADERS = [
    "what",
    "concurrency",
    "requests",
    "req/s",
    "p50 / p99 ms",
    "server CPU µs/req",
    "Postgres CPU µs/req",
    "client CPU µs/req",
    "cores used",
    "errors",
    "vs ceiling",
]
ROW_NOTE = (
    "- CPU per request: server = the web process; Postgres = the backends connected to the bench "
    "database; client = the load process for HTTP rows, this process (all its threads) for "
    "in-process rows. cores used = all three over the wall time (the machine has "
    f"{os.cpu_count()})."
)


@dataclass
class Row:
    """One measured line: latencies, wall time and the CPU it cost (seconds)."""

    what: str
    concurrency: int
    latencies: list[float]
    elapsed: float
    server_cpu: float | None
    pg_cpu: float
    client_cpu: float
    errors: int = 0

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else float("nan")

    def cells(self, ceiling: Row | None = None) -> list[str]:
        """ROW_HEADERS' cells; `vs ceiling` is this row's req/s over the ceiling's."""
        n = len(self.latencies) or 1

        def us(seconds: float | None) -> str:
            return f"{seconds / n * 1e6:,.0f}" if seconds is not None else "-"

        cores = ((self.server_cpu or 0.0) + self.pg_cpu + self.client_cpu) / self.elapsed
        return [
            self.what,
            str(self.concurrency),
            f"{len(self.latencies):,}",
            rate(self.per_second),
            p50_p99_ms(self.latencies),
            us(self.server_cpu),
            us(self.pg_cpu),
            us(self.client_cpu),
            f"{cores:.2f}",
            str(self.errors),
            ratio(self.per_second, ceiling.per_second) if ceiling else "-",
        ]


async def measure_http(
    what: str,
    load: LoadProcess,
    meter: CpuMeter,
    base: str,
    calls: Sequence[Call],
    *,
    concurrency: int,
    warmup: int = 0,
    ok: int = 200,
) -> Row:
    """The first `warmup` calls unmeasured, then the rest timed from the load process, with the
    CPU they cost; answers other than `ok` count as errors."""
    if warmup:
        await load.run(base, calls[:warmup], concurrency=concurrency)
    before = await meter.read()
    result = await load.run(base, calls[warmup:], concurrency=concurrency)
    after = await meter.read()
    server, pg = CpuMeter.used(before, after)
    return Row(
        what,
        concurrency,
        result.latencies,
        result.elapsed,
        server,
        pg,
        result.client_cpu,
        result.failures(ok),
    )


async def measure_local(
    what: str,
    database: str,
    fn: Callable[[T], Awaitable[Any]],
    items: Sequence[T],
    *,
    concurrency: int,
    warmup: Sequence[T] = (),
) -> Row:
    """fn over items from this process: a ceiling, with no HTTP and no server. The warmup items
    go first, unmeasured, as an HTTP row's do: each pooled connection prepares its statements
    and Postgres settles on their plans (the first five runs of one are planned for their
    values), which would otherwise land in the tail."""
    if warmup:
        await run_concurrently(fn, warmup, concurrency)
    meter = CpuMeter(None, database)
    before = await meter.read()
    cpu = time.process_time()
    latencies, elapsed = await run_concurrently(fn, items, concurrency)
    client = time.process_time() - cpu
    after = await meter.read()
    return Row(what, concurrency, latencies, elapsed, None, CpuMeter.used(before, after)[1], client)
