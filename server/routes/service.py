"""Service endpoints: liveness, readiness, metrics and the API description."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from server import job_metrics
from server.asyncapi import build_asyncapi
from server.context import POOL, REDIS, STORE
from server.errors import PROBLEM_BASE, PROBLEM_TYPES, ProblemType, not_found
from server.openapi import build_openapi, endpoint

CHECK_TIMEOUT = 2.0
OPENAPI_KEY = web.AppKey("openapi", dict)


class Health(BaseModel):
    status: str


class Check(BaseModel):
    ok: bool
    ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, Check]


@endpoint("Process is alive", tags=["service"], auth=False, response=Health)
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _check(probe: Awaitable[Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
        error = None
    except Exception as e:  # any failure of the probe means "not ready", with the reason shown
        error = f"{type(e).__name__}: {e}"[:200]
    ms = round((time.perf_counter() - started) * 1000, 2)
    return {"ok": error is None, "ms": ms, "error": error}


@endpoint(
    "Postgres, Redis and the object store all answer",
    tags=["service"],
    auth=False,
    response=Readiness,
    extra_responses={503: Readiness},
)
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    names = ("postgres", "redis", "object_store")
    results = await asyncio.gather(
        _check(app[POOL].fetchval("SELECT 1")),
        _check(app[REDIS].ping()),
        _check(app[STORE].ping()),
    )
    checks = dict(zip(names, results, strict=True))
    ready = all(c["ok"] for c in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@endpoint("Prometheus metrics", tags=["service"], auth=False, content_type="text/plain")
async def metrics(request: web.Request) -> web.Response:
    await job_metrics.refresh(request.app)
    body = await asyncio.to_thread(generate_latest)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@endpoint("This document", tags=["service"], auth=False)
async def openapi(request: web.Request) -> web.Response:
    spec = request.app.get(OPENAPI_KEY)
    if spec is None:
        spec = build_openapi(request.app, title="Drape API", version="1.0.0")
    return web.Response(body=orjson.dumps(spec), content_type="application/json")


@endpoint("The Socket.IO channel as an AsyncAPI 3.0 document", tags=["service"], auth=False)
async def asyncapi(request: web.Request) -> web.Response:
    doc = build_asyncapi(title="Drape realtime", version="1.0.0")
    return web.Response(body=orjson.dumps(doc), content_type="application/json")


def setup_docs(app: web.Application) -> None:
    from swagger_ui import api_doc

    api_doc(app, config_rel_url="/openapi.json", url_prefix="/docs", title="Drape API")

    async def freeze_spec(app: web.Application) -> None:
        app[OPENAPI_KEY] = build_openapi(app, title="Drape API", version="1.0.0")

    app.on_startup.append(freeze_spec)


class ProblemTypeOut(BaseModel):
    code: str = Field(description="The `code` member of problems of this type")
    type: str = Field(description="The `type` member: this document's path")
    status: int = Field(ge=400, le=599, description="The HTTP status it comes with")
    title: str
    explanation: str = Field(description="What happened and what a client should do")


class ProblemTypeList(BaseModel):
    items: list[ProblemTypeOut]


def _problem_type(t: ProblemType) -> dict[str, Any]:
    return {**asdict(t), "type": PROBLEM_BASE + t.code}


@endpoint("Every problem type the API answers with", tags=["service"], auth=False,
          response=ProblemTypeList)  # fmt: skip
async def problem_types(request: web.Request) -> web.Response:
    kinds = sorted(PROBLEM_TYPES.values(), key=lambda t: (t.status, t.code))
    return web.json_response({"items": [_problem_type(t) for t in kinds]})


@endpoint("What one problem type means (a problem's `type` points here)", tags=["service"],
          auth=False, response=ProblemTypeOut)  # fmt: skip
async def problem_type(request: web.Request) -> web.Response:
    kind = PROBLEM_TYPES.get(request.match_info["code"])
    if kind is None:
        raise not_found("problem type")
    return web.json_response(_problem_type(kind))
