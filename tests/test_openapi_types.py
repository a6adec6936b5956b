"""Every field of every request and response in /openapi.json has a type (finding 4): no bare
`object` without properties, no `{}` (any), no array without `items`. A map is fine when its
values are typed (`additionalProperties: {"type": ...}`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg

from tests.conftest import Api
from tests.schema_helpers import assert_documented, mismatches
from tests.test_ai import _stock

COMBINATORS = ("anyOf", "oneOf", "allOf")


def untyped(schema: Any, where: str) -> Iterator[str]:
    """Each place under `schema` (named by its dotted path) that a generated client would turn
    into an untyped blob."""
    if not isinstance(schema, dict):
        yield f"{where}: not a schema ({schema!r})"
        return
    if "$ref" in schema or "const" in schema or "enum" in schema:
        return
    parts = [k for k in COMBINATORS if k in schema]
    for key in parts:
        for i, option in enumerate(schema[key]):
            yield from untyped(option, f"{where}.{key}[{i}]")
    kind = schema.get("type")
    if kind is None and not parts:
        yield f"{where}: has no type (any value)"
        return
    kinds = kind if isinstance(kind, list) else [kind]
    if "object" in kinds:
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name, sub in props.items():
            yield from untyped(sub, f"{where}.{name}")
        if isinstance(extra, dict):
            yield from untyped(extra, f"{where}.<key>")
        elif not props:
            yield f"{where}: is an object with neither properties nor typed values"
    if "array" in kinds:
        if "items" not in schema and "prefixItems" not in schema:
            yield f"{where}: is an array of anything"
        if "items" in schema:
            yield from untyped(schema["items"], f"{where}[]")
        for i, sub in enumerate(schema.get("prefixItems", [])):
            yield from untyped(sub, f"{where}[{i}]")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def untyped_in(spec: dict[str, Any]) -> list[str]:
    schemas = spec.get("components", {}).get("schemas", {})
    users: dict[str, set[str]] = {}  # component -> operations reaching it
    found: list[str] = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            name = f"{method.upper()} {path}"
            todo, seen = list(_refs(op)), set()
            while todo:
                ref = todo.pop()
                if ref not in seen:
                    seen.add(ref)
                    todo.extend(_refs(schemas.get(ref, {})))
            for ref in seen:
                users.setdefault(ref, set()).add(name)
            for param in op.get("parameters", []):
                found += untyped(param["schema"], f"{name} parameter {param['name']}")
            for status, answer in op.get("responses", {}).items():
                for media, content in answer.get("content", {}).items():
                    if "schema" in content:
                        found += untyped(content["schema"], f"{name} {status} {media}")
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                found += untyped(content.get("schema", {}), f"{name} request body {media}")
    for component, schema in schemas.items():
        for problem in untyped(schema, component):
            ops = ", ".join(sorted(users.get(component, ()))) or "no operation"
            found.append(f"{problem} (in {ops})")
    return found


def test_the_walk_finds_what_it_should() -> None:
    bad = {
        "type": "object",
        "properties": {
            "blob": {"type": "object"},
            "any": {},
            "list": {"type": "array"},
            "map": {"type": "object", "additionalProperties": {"type": "number"}},
            "maybe": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        },
    }
    assert list(untyped(bad, "X")) == [
        "X.blob: is an object with neither properties nor typed values",
        "X.any: has no type (any value)",
        "X.list: is an array of anything",
        "X.maybe.anyOf[0]: is an object with neither properties nor typed values",
    ]


async def test_no_request_or_response_field_is_untyped(api: Api) -> None:
    spec = await (await api.get("/openapi.json")).json()
    found = untyped_in(spec)
    assert not found, "untyped in /openapi.json:\n" + "\n".join(found)


async def test_ai_answers_match_their_typed_schemas(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    """The typed models describe what the API really sends: the style analysis, the
    recommendations and the jobs of a stocked wardrobe validate, with no undocumented field."""
    spec = await (await api.get("/openapi.json")).json()
    user = await api.register("typed")
    await _stock(pool, user)
    jobs = []
    for path, body in (("/v1/recommendations", {"count": 3}), ("/v1/style-analysis", None)):
        r = await api.post(path, token=user.token, json=body)
        assert r.status == 202, await r.text()
        jobs.append((await r.json())["job"]["id"])
    await run_jobs()
    for job in jobs:
        r = await api.get(f"/v1/jobs/{job}", token=user.token)
        state = await r.json()
        assert state["status"] == "done", state
        assert_documented(spec, "GET", "/v1/jobs/{id}", state)
    for path in ("/v1/recommendations", "/v1/style-analysis/latest", "/v1/me", "/v1/explore",
                 "/v1/people/suggested", "/v1/notifications"):  # fmt: skip
        r = await api.get(path, token=user.token)
        assert r.status == 200, await r.text()
        assert_documented(spec, "GET", path, await r.json())


def test_the_schema_check_can_fail() -> None:
    spec = {
        "components": {
            "schemas": {"A": {"type": "object", "properties": {"n": {"type": "integer"}}}}
        }
    }
    ref = {"$ref": "#/components/schemas/A"}
    assert mismatches(spec, ref, {"n": 1}) == []
    assert mismatches(spec, ref, {"n": "1", "x": 2}) == [
        "n: '1' is not of type 'integer'",
        "<root>: Additional properties are not allowed ('x' was unexpected)",
    ]
