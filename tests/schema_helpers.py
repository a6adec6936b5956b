"""Check real answers against the published documents: every value of the declared type, and
no field the document does not name (objects are closed unless they are typed maps)."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft202012Validator


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


def mismatches(document: dict[str, Any], schema: dict[str, Any], data: Any) -> list[str]:
    """`schema` may $ref into `document` (an OpenAPI or AsyncAPI document)."""
    root = _closed({**copy.deepcopy(document), **schema})
    validator = Draft202012Validator(root)
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(data)
    ]


def response_schema(spec: dict[str, Any], method: str, path: str, status: int = 200) -> Any:
    answer = spec["paths"][path][method.lower()]["responses"][str(status)]
    return next(iter(answer["content"].values()))["schema"]


def assert_documented(
    spec: dict[str, Any], method: str, path: str, data: Any, status: int = 200
) -> None:
    found = mismatches(spec, response_schema(spec, method, path, status), data)
    assert not found, f"{method} {path} answered outside its schema:\n" + "\n".join(found[:20])
