"""`make run`'s launcher on embedded Postgres and Redis, as on a laptop with neither running."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


async def test_embedded_stack_serves_readyz(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "OBJECT_STORE_URL"}
    }
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "drape.devstack",
        "--embedded",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    body = None
    try:
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline and proc.returncode is None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        if r.status == 200:
                            body = await r.json()
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = await proc.communicate()
    assert body is not None, out.decode()[-3000:]
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"postgres", "redis", "object_store"}
    log = out.decode()
    assert "embedded Postgres" in log and "embedded Redis" in log


def test_every_process_signs_links_on_the_web_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """honcho gives the worker PORT+100: a link it signs on its own port would be dead."""
    from contextlib import ExitStack

    from drape.devstack import resolve_environment

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/unused")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    with ExitStack() as stack:
        env = resolve_environment(stack, embedded=False, data=tmp_path, port=8123)
    assert env["PUBLIC_URL"] == "http://127.0.0.1:8123"
