"""Sign-in and token checks, beside what bounds them.

    python -m bench.auth [--logins 400] [--requests 5000]

Logins: POST /v1/auth/login {login, password} for 200 users (inserted with SQL, all with one
hash computed once by server.passwords.HASHER) at 8 and 32 requests in flight from a separate
load process; each login verifies argon2id in a thread, writes a refresh token and the login
time. The ceiling is HASHER.verify itself in a thread pool of 2 in this process (2 cores), with
one thread beside it for the single-core figure.

Token checks in this process: drape.tokens.verify_access_token against jwt.decode with the same
arguments; the revocation check every authenticated request makes (drape.access.Mirror, the
process's copy of the revocations) and the one a socket connect makes in Redis (one MGET),
against a bare Redis PING on the same connection. Then GET /v1/me (bearer check + one
primary-key query) beside GET /healthz (no auth, no I/O) at 32 in flight. Nothing is pinned;
server CPU is the web process's, Postgres CPU that of the backends connected to the bench
database.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import jwt

from bench.common import (
    ROW_HEADERS,
    ROW_NOTE,
    Call,
    CpuMeter,
    LoadProcess,
    Row,
    bench_database,
    bench_folder,
    bench_redis,
    database_name,
    free_port,
    insert_users,
    measure_http,
    measure_local,
    mint_tokens,
    note_load,
    print_table,
    raise_fd_limit,
    rate,
    ratio,
    run,
    server_env,
    start_report,
    start_server,
    token_settings,
)
from drape.tokens import ALGORITHM, verify_access_token
from server.passwords import HASHER

REDIS_DB = 12
USERS = 200
PASSWORD = "wardrobe-bench-Passw0rd"


def argon2_parameters() -> str:
    p = HASHER._parameters
    return (
        f"{p.type.name.lower()}, memory {p.memory_cost // 1024} MiB, time cost {p.time_cost}, "
        f"parallelism {p.parallelism}, hash {p.hash_len} bytes"
    )


async def verify_in_threads(database: str, stored: str, threads: int, count: int) -> Row:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(threads) as pool:
        return await measure_local(
            f"argon2 verify, {threads} thread{'s' if threads > 1 else ''} (in process)",
            database,
            lambda _: loop.run_in_executor(pool, HASHER.verify, stored, PASSWORD),
            range(count),
            concurrency=threads,
        )


def ops_per_second(fn: Callable[[], Any], count: int) -> float:
    """Best of three runs of `count` calls."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            fn()
        best = min(best, time.perf_counter() - started)
    return count / best


def token_table(jwt_secret: str, user_id: uuid.UUID, count: int) -> None:
    settings = token_settings(jwt_secret)
    [token] = mint_tokens(settings, [user_id])
    verify = ops_per_second(lambda: verify_access_token(settings, token), count)
    decode = ops_per_second(
        lambda: jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=5,
        ),
        count,
    )
    print_table(
        "Access-token check in one process (HS256)",
        ["what", "checks/s", "µs per check", "vs jwt.decode"],
        [
            [
                "drape.tokens.verify_access_token",
                rate(verify),
                f"{1e6 / verify:.1f}",
                ratio(verify, decode),
            ],
            ["jwt.decode, same arguments (baseline)", rate(decode), f"{1e6 / decode:.1f}", "1.00x"],
        ],
        notes=[f"- best of 3 runs of {count:,} checks of one {len(token)}-byte token."],
    )


async def revocation_table(redis_url: str, count: int) -> None:
    from redis.asyncio import Redis

    from drape import access
    from drape.tokens import AccessClaims

    claims = AccessClaims(uuid.uuid4(), uuid.uuid4(), int(time.time()) + 900)
    redis = Redis.from_url(redis_url)
    try:

        async def per_second(step: Callable[[], Any]) -> float:
            best = 0.0
            for _ in range(3):
                started = time.perf_counter()
                for _ in range(count):
                    await step()
                best = max(best, count / (time.perf_counter() - started))
            return best

        await redis.ping()
        check = await per_second(lambda: access.revoked(redis, claims))
        ping = await per_second(redis.ping)
    finally:
        await redis.aclose()
    mirror = access.Mirror()
    mirror.note(access.Ended(sessions=tuple(str(uuid.uuid4()) for _ in range(1000))), 900)
    local = ops_per_second(lambda: mirror.reason(claims), count * 20)
    print_table(
        "Revocation check: per request (the process's mirror) and per socket connect (Redis)",
        ["what", "checks/s", "µs per check", "vs PING"],
        [
            [
                "drape.access.Mirror.reason (per request; 1,000 revoked)",
                rate(local),
                f"{1e6 / local:.2f}",
                ratio(local, ping),
            ],
            [
                "drape.access.revoked, MGET of 2 keys (per connect)",
                rate(check),
                f"{1e6 / check:.1f}",
                ratio(check, ping),
            ],
            ["redis PING, same connection (baseline)", rate(ping), f"{1e6 / ping:.1f}", "1.00x"],
        ],
        notes=[f"- best of 3 runs of {count:,} sequential calls."],
    )


async def main_async(args: argparse.Namespace) -> int:
    start_report("Sign-in and token checks", __doc__.split("\n\n")[1])
    raise_fd_limit()
    jwt_secret = "bench-" + uuid.uuid4().hex
    stored = HASHER.hash(PASSWORD)
    async with bench_database() as database_url, bench_redis(REDIS_DB) as redis_url:
        conn = await asyncpg.connect(database_url)
        try:
            ids = await insert_users(conn, "au", USERS, password_hash=stored)
        finally:
            await conn.close()
        names = [f"au{i + 1:06d}" for i in range(USERS)]
        token_table(jwt_secret, ids[0], args.checks)
        await revocation_table(redis_url, args.checks // 4)

        db_name = database_name(database_url)
        ceilings = [
            await verify_in_threads(db_name, stored, 1, max(args.logins // 10, 20)),
            await verify_in_threads(db_name, stored, 2, args.logins),
        ]
        tokens = mint_tokens(token_settings(jwt_secret), ids)
        with bench_folder() as folder:
            env = server_env(
                port=free_port(),
                database_url=database_url,
                redis_url=redis_url,
                channel=f"drape-bench-{uuid.uuid4().hex[:8]}",
                jwt_secret=jwt_secret,
                folder=folder,
            )
            server = await start_server(env, log=folder / "server.log")
            try:
                meter = CpuMeter(server.pid, database_name(database_url))
                with LoadProcess() as load:

                    async def api(what: str, calls: list[Call], c: int, warmup: int) -> Row:
                        return await measure_http(
                            what, load, meter, server.base, calls, concurrency=c, warmup=warmup
                        )

                    def logins(n: int) -> list[Call]:
                        return [
                            Call(
                                "POST",
                                "/v1/auth/login",
                                json={"login": names[i % USERS], "password": PASSWORD},
                            )
                            for i in range(n)
                        ]

                    warm = 16
                    login_rows = [
                        await api("POST /v1/auth/login", logins(args.logins + warm), c, warm)
                        for c in (8, 32)
                    ]
                    n = args.requests + args.requests // 10
                    me = [Call("GET", "/v1/me", tokens[i % USERS]) for i in range(n)]
                    health = [Call("GET", "/healthz") for _ in range(n)]
                    read_rows = [
                        await api("GET /v1/me (bearer + 1 query)", me, 32, args.requests // 10),
                        await api("GET /healthz (no auth)", health, 32, args.requests // 10),
                    ]
            finally:
                await server.stop()
    ceiling = ceilings[1]
    print_table(
        "Sign-in: POST /v1/auth/login",
        ROW_HEADERS,
        [*(r.cells(ceiling) for r in login_rows), *(r.cells() for r in ceilings)],
        notes=[
            f"- argon2 parameters (server/passwords.py HASHER): {argon2_parameters()}.",
            f"- vs ceiling: logins/s over the in-process verify rate with 2 threads "
            f"({rate(ceiling.per_second)}/s): the most 2 cores can check.",
            ROW_NOTE,
        ],
    )
    print_table(
        "An authenticated route beside a bare one",
        ROW_HEADERS,
        [read_rows[0].cells(read_rows[1]), read_rows[1].cells()],
        notes=[
            "- vs ceiling: GET /v1/me req/s over GET /healthz req/s, same load process.",
            ROW_NOTE,
        ],
    )
    note_load("at the end (this bench's own processes included)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=400, help="per concurrency level")
    parser.add_argument("--requests", type=int, default=5000, help="per read row")
    parser.add_argument("--checks", type=int, default=20000, help="per token-check run")
    args = parser.parse_args(argv)
    return run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
