"""What a caption or comment names: #hashtags and @mentions, parsed the same way everywhere.

The hashtag pattern is the one migrations/0012_screens.sql used to fill post_hashtags from the
captions already written (`#([[:alnum:]_]{1,50})`), so old and new posts are found alike.
"""

from __future__ import annotations

import re
from typing import Final

HASHTAG: Final = re.compile(r"#(\w{1,50})")
# A username as registration allows it (server/params.py USERNAME_PATTERN), after an @ that does
# not sit inside a word (so an email address mentions nobody).
MENTION: Final = re.compile(r"(?<![\w@.])@([A-Za-z0-9_.]{3,30})")
MAX_HASHTAGS: Final = 30
MAX_MENTIONS: Final = 20


def hashtags(text: str) -> list[str]:
    """Lowercased, each once, in order of first appearance."""
    return list(dict.fromkeys(m.lower() for m in HASHTAG.findall(text)))[:MAX_HASHTAGS]


def mentions(text: str) -> list[str]:
    """Usernames as written (lookups ignore case), each once; a trailing dot ends a sentence."""
    names = (m.rstrip(".") for m in MENTION.findall(text))
    return list(dict.fromkeys(n.lower() for n in names if len(n) >= 3))[:MAX_MENTIONS]


def normalize_tag(value: str) -> str | None:
    """A hashtag as asked for in a path or a query (with or without its #), or None if it
    could not be one."""
    tag = value.removeprefix("#")
    return tag.lower() if HASHTAG.fullmatch("#" + tag) else None
