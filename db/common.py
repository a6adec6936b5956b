"""Small helpers every query module shares: timestamps as RFC 3339, opaque list cursors."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import orjson


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


# Keyset bounds for the first page: later (or earlier) than any real (created_at, id) row.
KEYSET_TOP = (datetime.max, uuid.UUID(int=(1 << 128) - 1))
KEYSET_BOTTOM = (datetime.min, uuid.UUID(int=0))


class BadCursor(ValueError):
    pass


def encode_cursor(*values: Any) -> str:
    """A keyset position (e.g. created_at, id) as an opaque URL-safe token."""
    parts = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = orjson.loads(raw)
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError
        out: list[Any] = []
        for t, p in zip(types, parts, strict=True):
            if t is datetime:
                out.append(datetime.fromisoformat(p))
            elif t is uuid.UUID:
                out.append(uuid.UUID(p))
            else:
                out.append(t(p))
        return tuple(out)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadCursor("cursor is not valid") from None
