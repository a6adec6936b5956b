"""Route declarations that validate requests and describe them in /openapi.json.

`@endpoint(...)` attaches the request and response models to a handler. The same pydantic models
parse the request (the handler receives `body=` and `query=` already validated) and produce the
schemas in the OpenAPI document, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from server import ratelimit
from server.errors import PROBLEM_BASE, PROBLEM_TYPES, Problem, from_validation_error, invalid
from server.params import USERNAME_PATTERN

Handler = Callable[..., Awaitable[web.StreamResponse]]
ModelT = TypeVar("ModelT", bound=BaseModel)
OP_ATTR = "__drape_endpoint__"


@dataclass(frozen=True, slots=True)
class Endpoint:
    summary: str
    tags: tuple[str, ...] = ()
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    errors: tuple[int, ...] = ()
    # Other answers with a body of their own: {status: model}, e.g. 202 beside a 200.
    extra_responses: dict[int, type[BaseModel]] = field(default_factory=dict)
    content_type: str = "application/json"
    optional_body: bool = False
    # Counted against this action's rate limits (server/ratelimit.py) before anything else.
    limit: ratelimit.Action | None = None


JSON_MEDIA_TYPE = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json$")
MAX_DEPTH = 32  # arrays and objects inside one another; orjson stops at 255
INT64 = 2**63


def _not_json(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


async def read_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """The body validated into `model` as strict JSON: `true` is a boolean and `0` is neither a
    boolean nor a date, as the published schema says (pydantic's lax mode would coerce them)."""
    text = await read_json_text(request)
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as e:
        raise from_validation_error(e) from None


async def read_json_text(request: web.Request) -> str:
    """The body's text, once known to be JSON that every layer can hold: 400 if unreadable,
    415 if not declared as JSON, 422 for values refused by `check_values`."""
    if not request.can_read_body:
        raise Problem(400, "A JSON body is required.")
    if "Content-Type" in request.headers and not JSON_MEDIA_TYPE.match(
        request.content_type.lower()
    ):
        raise Problem(415, "Send the body as application/json.")
    raw = await request.read()  # bounded by the application's client_max_size
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "The body is not valid UTF-8.") from None
    try:
        data = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise Problem(400, "The body is not valid JSON.") from None
    check_values(data)
    return text


def check_values(data: Any, where: str = "body") -> None:
    """Refuse, as 422 naming the field, what is valid JSON but that no column, JSON encoder or
    UTF-8 text can hold: NUL characters (Postgres text), lone surrogates (UTF-8), numbers out of
    the float or 64-bit integer range, and nesting deeper than MAX_DEPTH. Iterative: the depth
    is bounded by the parser, not by this walk."""
    stack: list[tuple[tuple[str, ...], Any, int]] = [((), data, 0)]
    while stack:
        path, value, depth = stack.pop()
        message = None
        if isinstance(value, str):
            message = _text_error(value)
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            if not -INT64 <= value < INT64:
                message = "is out of range"
        elif isinstance(value, float):
            if not math.isfinite(value):
                message = "must be a finite number"
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:  # named by its outermost field: the full path is noise
                raise _refuse(path[:1], f"is nested more than {MAX_DEPTH} levels deep", where)
            if isinstance(value, dict):
                for key, item in value.items():
                    if key_error := _text_error(key):
                        raise _refuse(path, f"has a key that {key_error}", where)
                    stack.append(((*path, key), item, depth + 1))
            else:
                stack.extend(((*path, str(i)), item, depth + 1) for i, item in enumerate(value))
        if message:
            raise _refuse(path, message, where)


def _text_error(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (lone surrogate)"
    return None


def _refuse(path: tuple[str, ...], message: str, where: str) -> Problem:
    return invalid(".".join(path) or where, message)


def query_dict(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    """Repeated keys become lists where the model field is a list (?tag=a&tag=b). An unknown
    key is refused like an unknown body field: a misspelt `?limt=5` must not pass unnoticed."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(request.query):
        f = model.model_fields.get(key)
        if f is None:
            raise invalid(key, "is not a parameter of this operation")
        values = request.query.getall(key)
        out[key] = values if "list" in str(f.annotation) else values[-1]
        for value in values:
            if error := _text_error(value):
                raise invalid(key, error)
    return out


def endpoint(
    summary: str,
    *,
    tags: tuple[str, ...] | list[str] = (),
    description: str = "",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: bool = True,
    errors: tuple[int, ...] = (),
    extra_responses: dict[int, type[BaseModel]] | None = None,
    content_type: str = "application/json",
    optional_body: bool = False,
    limit: ratelimit.Action | None = None,
) -> Callable[[Handler], Handler]:
    spec = Endpoint(
        summary=summary,
        tags=tuple(tags),
        description=description,
        body=body,
        query=query,
        response=response,
        status=status,
        auth=auth,
        errors=errors,
        extra_responses=extra_responses or {},
        content_type=content_type,
        optional_body=optional_body,
        limit=limit,
    )

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            account = None
            if spec.auth:
                from server.auth import require_active_user

                account = (await require_active_user(request)).user_id
            if spec.limit is not None:
                await ratelimit.check(request, spec.limit, account)
            kwargs: dict[str, Any] = {}
            if spec.query is not None:
                try:
                    kwargs["query"] = spec.query.model_validate(query_dict(request, spec.query))
                except ValidationError as e:
                    raise from_validation_error(e, where="query") from None
            if spec.body is not None:
                if spec.optional_body and not request.can_read_body:
                    kwargs["body"] = None
                else:
                    kwargs["body"] = await read_body(request, spec.body)
            return await handler(request, **kwargs)

        setattr(run, OP_ATTR, spec)
        return run

    return wrap


PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
PATH_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "format": "uuid"},
    "username": {"type": "string", "pattern": USERNAME_PATTERN},
    "code": {"type": "string", "enum": sorted(PROBLEM_TYPES)},
}


def problem_schema() -> dict[str, Any]:
    """RFC 9457 problem details plus `code`: the machine-readable kind, one per distinct thing a
    client does about it. `type` is `/problems/<code>`, served with its explanation."""
    listing = "\n".join(
        f"- `{t.code}` ({t.status}): {t.explanation}"
        for t in sorted(PROBLEM_TYPES.values(), key=lambda t: (t.status, t.code))
    )
    return {
        "type": "object",
        "description": "A failure. Match on `code`, never on `detail` (English, for people)."
        " Codes:\n" + listing,
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": f"`{PROBLEM_BASE}<code>`, relative to the API; GET it for the"
                " explanation.",
                "examples": [f"{PROBLEM_BASE}token_reused"],
            },
            "code": {"type": "string", "enum": sorted(PROBLEM_TYPES)},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "For people; may change."},
            "errors": {
                "type": "array",
                "description": "Validation failures (422): one per refused field.",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {
                        "field": {"type": "string", "description": "Dotted path, e.g. a.b.0"},
                        "message": {"type": "string"},
                    },
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
        for model in (s.response, *s.extra_responses.values()):
            if model is not None:
                wanted.add((model, "serialization"))
    refs, schemas = models_json_schema(
        sorted(wanted, key=lambda k: (k[0].__name__, k[1])),
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["Problem"] = problem_schema()

    paths: dict[str, dict[str, Any]] = {}
    for path, method, spec in sorted(routes, key=lambda r: (r[0], r[1])):
        names = PATH_PARAM.findall(path)
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": f"{method}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "tags": list(spec.tags),
            "responses": _responses(spec, refs, has_path_params=bool(names)),
        }
        params = [
            {
                "name": n,
                "in": "path",
                "required": True,
                "schema": PATH_PARAM_SCHEMAS.get(n, {"type": "string"}),
            }
            for n in names
        ]
        if spec.query is not None:
            for name, f in spec.query.model_fields.items():
                schema = TypeAdapter(f.annotation or str).json_schema(
                    ref_template="#/components/schemas/{model}"
                )
                params.append(
                    {"name": name, "in": "query", "required": f.is_required(), "schema": schema}
                )
        if spec.description:
            op["description"] = spec.description
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {
                "required": not spec.optional_body,
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


def _responses(spec: Endpoint, refs: dict[Any, Any], *, has_path_params: bool) -> dict[str, Any]:
    """Every status the operation can answer; failures are problem documents."""
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = {spec.content_type: {"schema": refs[(spec.response, "serialization")]}}
    elif spec.status == 204:
        ok = {"description": "No content"}
    out: dict[str, Any] = {str(spec.status): ok}
    for status, model in spec.extra_responses.items():
        schema = refs[(model, "serialization")]
        out[str(status)] = {
            "description": _describe(status),
            "content": {"application/json": {"schema": schema}},
        }
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    problem = {"content": {"application/problem+json": {"schema": problem_ref}}}
    codes = set(spec.errors)
    if spec.body is not None:
        codes |= {400, 413, 415, 422}  # unreadable, too large, not JSON, invalid
    if spec.query is not None:
        codes |= {422}
    if spec.auth:
        codes |= {401}
    if spec.limit is not None:
        codes |= {429}
    if has_path_params:
        codes |= {404}  # also for ids that are not well formed
    if spec.auth or spec.body or spec.query or has_path_params:
        codes |= {503}  # Postgres, Redis or the object store did not answer
    for code in sorted(codes - set(spec.extra_responses)):
        out[str(code)] = {"description": _describe(code), **problem}
    return out


def _describe(code: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(code).phrase
