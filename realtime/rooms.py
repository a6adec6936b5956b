"""Room names, in one place so server and workers address the same rooms."""

from __future__ import annotations

import uuid


def user_room(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}"


def post_room(post_id: uuid.UUID | str) -> str:
    return f"post:{post_id}"
