"""Route declarations that validate requests and describe them in /openapi.json.

`@endpoint(...)` attaches the request and response models to a handler. The same pydantic models
parse the request (the handler receives `body=` and `query=` already validated) and produce the
schemas in the OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from server.errors import Problem, from_validation_error

Handler = Callable[..., Awaitable[web.StreamResponse]]
OP_ATTR = "__drape_endpoint__"


@dataclass(frozen=True, slots=True)
class Endpoint:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    errors: tuple[int, ...] = ()
    extra_responses: dict[int, str] = field(default_factory=dict)
    content_type: str = "application/json"


async def read_json(request: web.Request) -> Any:
    if not request.can_read_body:
        raise Problem(400, "A JSON body is required.")
    raw = await request.read()  # bounded by the application's client_max_size
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "The body is not valid UTF-8.") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise Problem(400, "The body is not valid JSON.") from None


def query_dict(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    """Repeated keys become lists where the model field is a list (?tag=a&tag=b)."""
    out: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        f = model.model_fields.get(key)
        is_list = f is not None and "list" in str(f.annotation)
        out[key] = values if is_list else values[-1]
    return out


def endpoint(
    summary: str,
    *,
    tags: tuple[str, ...] | list[str] = (),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: bool = True,
    errors: tuple[int, ...] = (),
    content_type: str = "application/json",
) -> Callable[[Handler], Handler]:
    spec = Endpoint(
        summary=summary,
        tags=tuple(tags),
        body=body,
        query=query,
        response=response,
        status=status,
        auth=auth,
        errors=errors,
        content_type=content_type,
    )

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            if spec.auth:
                from server.auth import require_user

                require_user(request)
            kwargs: dict[str, Any] = {}
            if spec.query is not None:
                try:
                    kwargs["query"] = spec.query.model_validate(query_dict(request, spec.query))
                except ValidationError as e:
                    raise from_validation_error(e, where="query") from None
            if spec.body is not None:
                data = await read_json(request)
                try:
                    kwargs["body"] = spec.body.model_validate(data)
                except ValidationError as e:
                    raise from_validation_error(e) from None
            return await handler(request, **kwargs)

        setattr(run, OP_ATTR, spec)
        return run

    return wrap


PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def build_openapi(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    routes: list[tuple[str, str, Endpoint]] = []
    for route in app.router.routes():
        spec = getattr(route.handler, OP_ATTR, None)
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if spec is None or path is None or route.method == "HEAD":
            continue
        routes.append((PATH_PARAM.sub(r"{\1}", path), route.method.lower(), spec))

    wanted: set[tuple[type[BaseModel], Any]] = set()
    for _, _, s in routes:
        wanted |= {(m, "validation") for m in (s.body, s.query) if m is not None}
        if s.response is not None:
            wanted.add((s.response, "serialization"))
    refs, schemas = models_json_schema(
        sorted(wanted, key=lambda k: (k[0].__name__, k[1])),
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["Problem"] = PROBLEM_SCHEMA

    paths: dict[str, dict[str, Any]] = {}
    for path, method, spec in sorted(routes, key=lambda r: (r[0], r[1])):
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": f"{method}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "tags": list(spec.tags),
            "responses": _responses(spec, refs),
        }
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in PATH_PARAM.findall(path)
        ]
        if spec.query is not None:
            for name, f in spec.query.model_fields.items():
                schema = TypeAdapter(f.annotation).json_schema(
                    ref_template="#/components/schemas/{model}"
                )
                params.append(
                    {"name": name, "in": "query", "required": f.is_required(), "schema": schema}
                )
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": refs[(spec.body, "validation")]},
                },
            }
        if spec.auth:
            op["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method] = op

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _responses(spec: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = {spec.content_type: {"schema": refs[(spec.response, "serialization")]}}
    elif spec.status == 204:
        ok = {"description": "No content"}
    out: dict[str, Any] = {str(spec.status): ok}
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    problem = {"content": {"application/problem+json": {"schema": problem_ref}}}
    codes = set(spec.errors)
    if spec.body is not None or spec.query is not None:
        codes |= {400, 422}
    if spec.auth:
        codes |= {401}
    for code in sorted(codes):
        out[str(code)] = {"description": _describe(code), **problem}
    return out


def _describe(code: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(code).phrase
