"""Password hashing (argon2id) and the minimum password policy.

Cost: argon2id with 19 MiB of memory, 2 passes, 1 lane: the OWASP baseline for argon2id, about
20-30 ms per hash on this machine's cores. Hashing runs in a thread so the event loop keeps
serving while a login is checked.
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32)

MIN_LENGTH = 8
MAX_LENGTH = 128
# The most common passwords of public breach corpora that also meet the length rule.
COMMON = frozenset(
    """password 12345678 123456789 1234567890 qwertyuiop password1 password123 iloveyou
    11111111 00000000 abc12345 qwerty123 1q2w3e4r 1qaz2wsx sunshine princess football
    baseball superman trustno1 welcome1 letmein1 dragon123 monkey123 starwars passw0rd
    qwerty12 asdfghjkl zaq12wsx 987654321 88888888 abcd1234 aa123456 admin123 computer
    internet whatever michelle jennifer fashion1 fashionista""".split()
)


def policy_violation(password: str, *, username: str = "", email: str = "") -> str | None:
    """Why the password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in COMMON:
        return "is one of the most common passwords"
    if len(set(password)) < 4:
        return "must use at least 4 different characters"
    for name in (username.lower(), email.lower().split("@")[0]):
        if len(name) >= 3 and name in lowered:
            return "must not contain your username or email"
    return None


@functools.cache
def _pool() -> ThreadPoolExecutor:
    # One thread per core: more argon2 runs than cores only slow each other down (bench/auth.py:
    # 86 logins/s with 6 threads against 107/s with 2 on this 2-core machine).
    return ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="argon2")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool(), HASHER.hash, password)


async def verify_password(stored_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return HASHER.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(_pool(), check)


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)


# Verifying against this when the account does not exist keeps the answer time the same, so
# response timing does not reveal which logins exist.
DUMMY_HASH = HASHER.hash("drape-timing-equaliser")
