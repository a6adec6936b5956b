"""Helpers for path parameters, cursors and JSON responses."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Union

import orjson
from aiohttp import web
from pydantic import Field
from typing_extensions import TypeAliasType

from db.common import BadCursor, decode_cursor, encode_cursor
from server.errors import Problem, invalid

# String formats for documents: the API writes ids and times as strings.
IdStr = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="UTC")]
# A JSON value typed all the way down (a client-owned settings bag, say). Lists hold scalars and
# objects, not lists: generated TypeScript cannot name an array of itself.
JsonObject = TypeAliasType("JsonObject", "dict[str, JsonValue]")
JsonValue = TypeAliasType(
    "JsonValue",
    "Union[str, int, float, bool, JsonObject, list[Union[str, int, float, bool, JsonObject, None]], None]",  # noqa: E501, UP007
)

USERNAME_PATTERN = r"^[A-Za-z0-9_.]{3,30}$"
USERNAME_RE = re.compile(USERNAME_PATTERN)


def path_username(request: web.Request) -> str:
    """A username that could not be registered names nobody: 404 before any query."""
    name = request.match_info["username"]
    if not USERNAME_RE.fullmatch(name):
        raise Problem(404, "No such user.")
    return name


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


def next_cursor(rows: list[Any], limit: int) -> str | None:
    """The cursor after a full page keyed by (created_at, id); None after a short one."""
    if len(rows) < limit:
        return None
    return encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
