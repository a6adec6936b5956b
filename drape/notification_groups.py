"""Which group a notification belongs to: "A and 14 others liked your post".

A group is one type of notification about one post (or about no post, for follows) within one
window of GROUP_WINDOW seconds counted from the Unix epoch. The window is a fixed bucket rather
than a gap between notifications so that the key of a notification never changes once it is
made: the live `notification` event carries the same `group_key` that
`GET /v1/notifications/grouped` answers with later, and a client merges the two by that key.
db/notifications.py computes the same bucket in SQL (`div(extract(epoch ...), window)`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

GROUP_WINDOW = 24 * 3600  # seconds
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_of(at: datetime, window: int = GROUP_WINDOW) -> int:
    """The window `at` falls in; exact to the microsecond, like Postgres' numeric epoch."""
    return (at - EPOCH) // timedelta(seconds=window)


def window_start(bucket: int, window: int = GROUP_WINDOW) -> datetime:
    """When window number `bucket` begins."""
    return EPOCH + timedelta(seconds=bucket * window)


def group_key(type_: str, post_id: uuid.UUID | str | None, bucket: int) -> str:
    return f"{type_}:{post_id or '-'}:{bucket}"


def key_of(type_: str, post_id: uuid.UUID | str | None, at: datetime) -> str:
    """The group of a notification of `type_` about `post_id` made at `at`."""
    return group_key(type_, post_id, bucket_of(at))
