"""Helpers for path parameters, cursors and JSON responses."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

from db.common import BadCursor, decode_cursor
from server.errors import Problem, invalid


def path_uuid(request: web.Request, name: str, what: str = "resource") -> uuid.UUID:
    """A malformed id names nothing, so it is a 404 like any unknown id."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, f"No such {what}.") from None


def cursor_values(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor, *types)
    except BadCursor:
        raise invalid("cursor", "is not a cursor this list handed out") from None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
