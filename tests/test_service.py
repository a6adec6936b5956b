"""Service endpoints, problem documents, request ids, metrics and the API description."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from openapi_spec_validator import validate
from redis.asyncio import Redis

from drape.settings import Settings, tune_collector
from server.context import REDIS
from tests.conftest import Api, RunningApp, free_port


async def test_healthz(api: Api) -> None:
    r = await api.get("/healthz")
    assert r.status == 200, await r.text()
    assert await r.json() == {"status": "ok"}


async def test_readyz_reports_all_three_components(api: Api) -> None:
    r = await api.get("/readyz")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"postgres", "redis", "object_store"}
    assert all(c["ok"] for c in body["checks"].values())


@pytest.mark.filterwarnings("ignore:Changing state of started:DeprecationWarning")
async def test_readyz_names_the_component_that_failed(api: Api, server: RunningApp) -> None:
    # Point the running app at a Redis port where nothing listens.
    healthy = server.app[REDIS]
    server.app[REDIS] = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        r = await api.get("/readyz")
    finally:
        await server.app[REDIS].aclose()
        server.app[REDIS] = healthy
    assert r.status == 503, await r.text()
    checks = (await r.json())["checks"]
    assert checks["redis"]["ok"] is False and checks["redis"]["error"]
    assert checks["postgres"]["ok"] and checks["object_store"]["ok"]


async def test_unknown_path_is_problem_json(api: Api) -> None:
    r = await api.get("/v1/nothing-here")
    assert r.status == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = await r.json()
    assert body["status"] == 404 and body["title"] == "Not Found"


async def test_wrong_method_is_problem_json_with_allow(api: Api) -> None:
    r = await api.post("/healthz")
    assert r.status == 405
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert "GET" in r.headers["Allow"]


async def test_request_id_is_echoed_or_made(api: Api) -> None:
    r = await api.get("/healthz", headers={"X-Request-ID": "abcdef12-trace"})
    assert r.headers["X-Request-ID"] == "abcdef12-trace"
    r = await api.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["X-Request-ID"] != "bad id with spaces"
    assert len(r.headers["X-Request-ID"]) == 32


async def test_metrics_count_requests(api: Api) -> None:
    await api.get("/healthz")
    r = await api.get("/metrics")
    assert r.status == 200
    text = await r.text()
    assert 'drape_http_requests_total{method="GET",route="healthz",status="200"}' in text
    assert "drape_http_request_duration_seconds_bucket" in text
    assert "drape_job_queue_depth 0.0" in text


async def test_metrics_report_jobs_by_outcome(api: Api, server: RunningApp) -> None:
    from db import jobs as db_jobs
    from server.context import ARQ, POOL

    await db_jobs.enqueue(
        server.app[POOL],
        server.app[ARQ],
        function="prune_expired",
        kind="maintenance",
        user_id=None,
        args={},
    )
    row, _ = await db_jobs.create_job(server.app[POOL], kind="avatar", user_id=None, args={})
    await db_jobs.mark_failed(server.app[POOL], row["id"], "boom")
    text = await (await api.get("/metrics")).text()
    assert "drape_job_queue_depth 1.0" in text
    assert 'drape_jobs_last_hour{kind="avatar",status="failed"} 1.0' in text
    assert 'drape_jobs_last_hour{kind="maintenance",status="queued"} 1.0' in text


async def test_openapi_is_valid_and_lists_every_route(api: Api, server: RunningApp) -> None:
    r = await api.get("/openapi.json")
    assert r.status == 200
    spec = await r.json()
    validate(spec)
    documented = {(p, m.upper()) for p, ops in spec["paths"].items() for m in ops}
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or ""
        if path.startswith("/v1/") and route.method != "HEAD":
            assert (path, route.method) in documented, f"{route.method} {path} is undocumented"


async def test_docs_page_renders(api: Api) -> None:
    r = await api.get("/docs/")
    assert r.status == 200
    assert "swagger" in (await r.text()).lower()


async def test_the_docs_page_finds_its_document(api: Api) -> None:
    """The page's Swagger UI asks for the URL written into it; that URL must be the document."""
    import re

    page = await (await api.get("/docs/")).text()
    found = re.search(r"""url:\s*["']([^"']+)["']""", page)
    assert found, page[:2000]
    r = await api.get(found.group(1))
    assert r.status == 200, found.group(1)
    assert (await r.json())["openapi"].startswith("3.")


async def test_a_browser_renders_the_operations_on_docs(server: Any) -> None:
    """Headless Chromium (Debian's; `make test` installs it) loads /docs offline and lists the
    operations, not an error."""
    import shutil
    import subprocess

    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (make test installs Debian's)")
    args = [
        browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--virtual-time-budget=15000", "--dump-dom", f"{server.base}/docs/",
    ]  # fmt: skip
    dom = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, timeout=90, check=False
    )
    assert "opblock" in dom.stdout, dom.stderr[-2000:]
    assert "Create an account" in dom.stdout
    assert "Failed to load API definition" not in dom.stdout


def test_a_serving_process_tunes_its_collector_at_start_up(settings: Settings) -> None:
    before = gc.get_threshold()
    try:
        tune_collector(settings.with_(gc_young_threshold=12_345))
        assert gc.get_threshold() == (12_345, *before[1:])
        assert gc.get_freeze_count() > 0, "the start-up heap is frozen"
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
