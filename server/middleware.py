"""Request ids, structured request logs, metrics, problem+json for every failure, and the
headers every answer carries: security headers, CORS for the configured origins, no versions."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

import asyncpg
import redis.exceptions
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from drape.logs import request_id
from drape.storage import StoreUnavailable
from server.context import SETTINGS
from server.errors import Problem, from_constraint, from_validation_error
from server.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger("drape.http")

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Failures of what the service stands on: the client may retry, the process goes on.
UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # Class 57: the server is shutting down, restarting, or was told to drop the connection.
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    # A connection broken mid-statement (the server went away) is left in a state asyncpg
    # reports this way; nothing was committed on it.
    asyncpg.InternalClientError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    StoreUnavailable,
    OSError,  # includes ConnectionError; e.g. the database socket file is gone while it restarts
    asyncio.TimeoutError,
)


def _route_name(request: web.Request) -> str:
    route = request.match_info.route
    if route.name:
        return route.name
    info = route.resource.get_info() if route.resource else {}
    return str(info.get("formatter") or info.get("path") or info.get("prefix") or "unmatched")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    rid = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    HTTP_IN_FLIGHT.inc()
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = _route_name(request)
        HTTP_IN_FLIGHT.dec()
        HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        HTTP_LATENCY.labels(request.method, route).observe(elapsed)
        if route not in {"healthz", "metrics"}:
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={"status": status, "route": route, "ms": round(elapsed * 1000, 2)},
            )
        request_id.reset(token)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as p:
        return p.response()
    except ValidationError as e:
        return from_validation_error(e).response()
    except web.HTTPException as e:
        if e.status < 400:
            raise
        detail = e.text if e.text and e.text != f"{e.status}: {e.reason}" else ""
        headers = {k: v for k, v in e.headers.items() if k.lower() in {"allow", "retry-after"}}
        return Problem(e.status, detail or e.reason, headers=headers).response()
    except asyncpg.IntegrityConstraintViolationError as e:
        problem = from_constraint(getattr(e, "constraint_name", None))
        if problem is None:
            log.warning("unmapped constraint violation", extra={"error": str(e)})
            problem = Problem(409, "The request conflicts with the current state.")
        return problem.response()
    except asyncpg.DataError as e:
        # Values Postgres refuses (out of range numbers, bad text) are the caller's input.
        return Problem(422, f"A value was refused: {type(e).__name__}.").response()
    except UNAVAILABLE as e:
        log.warning("dependency unavailable", extra={"error": repr(e)})
        return Problem(
            503,
            "A service this request needs is unavailable; retry shortly.",
            headers={"Retry-After": "2"},
        ).response()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error")
        return Problem(500, "Something went wrong on our side.").response()


# Engine.IO answers its own CORS (realtime/server.py hands it the same origin check).
SOCKETIO_PREFIX = "/socket.io/"
# An API answer is data, never a page: nothing in it may run or be framed. The docs page runs
# its own scripts and styles (swagger-ui, some inline) and is kept out of frames only.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = "frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
CORS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_HEADERS = "Authorization, Content-Type, X-Request-ID"
CORS_EXPOSE = "Retry-After, WWW-Authenticate, X-Request-ID"
CORS_MAX_AGE = "600"


@web.middleware
async def cors_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a browser's CORS preflight: 204 for an allowed origin, 403 for any other."""
    if (
        request.method != "OPTIONS"
        or "Access-Control-Request-Method" not in request.headers
        or request.path.startswith(SOCKETIO_PREFIX)
    ):
        return await handler(request)
    if not request.app[SETTINGS].allows_origin(request.headers.get("Origin")):
        return Problem(
            403, "Pages from this origin may not call the API.", code="origin_refused"
        ).response()
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE,
        },
    )


async def answer_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: on every answer, also those no handler or middleware made."""
    h = response.headers
    h.update(SECURITY_HEADERS)
    h["Server"] = "drape"  # aiohttp's default names Python's and its own versions
    docs = request.path == "/docs" or request.path.startswith("/docs/")
    # A page of ours (the playground) sets its own policy; anything else gets the API's.
    h.setdefault("Content-Security-Policy", DOCS_CSP if docs else API_CSP)
    if request.path.startswith("/v1/"):
        # Tokens, account data, signed object URLs: nothing under /v1 is for a shared cache.
        h.setdefault("Cache-Control", "no-store")
    if request.path.startswith(SOCKETIO_PREFIX):
        return
    h["Vary"] = ", ".join([*h.getall("Vary", []), "Origin"])
    origin = request.headers.get("Origin")
    if origin is not None and request.app[SETTINGS].allows_origin(origin):
        h["Access-Control-Allow-Origin"] = origin
        h["Access-Control-Expose-Headers"] = CORS_EXPOSE
