"""Rate limits in Redis on what spam is made of: registrations, comments, likes, follows, job
starts and reports, each counted per account and per client address.

Each limit is N actions per W seconds, kept as a GCRA (a token bucket in one key,
`rate:<action>:<account|address>:<id>`, holding the time at which the bucket is full again): a
burst of N, then one more every W/N seconds. One Lua script checks every limit of an action and
counts the attempt against all of them only if none is exhausted, so a refused attempt costs
nothing and changes nothing; the answer is 429 with Retry-After, the seconds until it would pass.

The login throttle (server/throttle.py) is another shape: it counts failures only.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import ipaddress
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from drape.settings import Settings
from server.context import REDIS, SETTINGS
from server.errors import Problem
from server.metrics import RATE_LIMITED

log = logging.getLogger(__name__)


class Action(enum.StrEnum):
    REGISTER = "register"
    COMMENT = "comment"
    LIKE = "like"
    FOLLOW = "follow"
    JOB = "job"
    REPORT = "report"


# How each action reads in a refusal: "Too many comments from this account".
NOUNS = {
    Action.REGISTER: "registrations",
    Action.COMMENT: "comments",
    Action.LIKE: "likes",
    Action.FOLLOW: "follows",
    Action.JOB: "requests that start background work",
    Action.REPORT: "reports",
}


@dataclass(frozen=True, slots=True)
class Rate:
    count: int  # 0: no limit
    window: int  # seconds


@dataclass(frozen=True, slots=True)
class Rates:
    account: Rate
    address: Rate


def rates(s: Settings, action: Action) -> Rates:
    account, address, window = {
        Action.REGISTER: (0, s.rate_register_address, s.rate_register_window),
        Action.COMMENT: (s.rate_comment_account, s.rate_comment_address, s.rate_comment_window),
        Action.LIKE: (s.rate_like_account, s.rate_like_address, s.rate_like_window),
        Action.FOLLOW: (s.rate_follow_account, s.rate_follow_address, s.rate_follow_window),
        Action.JOB: (s.rate_job_account, s.rate_job_address, s.rate_job_window),
        Action.REPORT: (s.rate_report_account, s.rate_report_address, s.rate_report_window),
    }[action]
    return Rates(account=Rate(account, window), address=Rate(address, window))


@dataclass(frozen=True, slots=True)
class Refusal:
    scope: str  # "account" or "address"
    rate: Rate
    retry_after: int  # seconds


# KEYS: one per limit. ARGV: count and window (ms) of each. The clock is Redis's, the same for
# every web process. Returns {0} when counted, else {ms to wait, index of the limit to wait for}.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local full, longest, which = {}, 0, 0
for i, key in ipairs(KEYS) do
    local count, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    local tat = math.max(tonumber(redis.call('GET', key) or 0), now)
    full[i] = tat + window / count
    local wait = full[i] - now - window
    if wait > longest then
        longest, which = wait, i
    end
end
if which > 0 then
    return {math.ceil(longest), which}
end
for i, key in ipairs(KEYS) do
    -- At least 1 ms: with a very high rate, tat + window / count rounds back to now.
    local ttl = math.max(1, math.ceil(full[i] - now))
    redis.call('SET', key, string.format('%.0f', full[i]), 'PX', ttl)
end
return {0}
"""
GCRA_SHA = hashlib.sha1(GCRA.encode(), usedforsecurity=False).hexdigest()

Limit = tuple[str, str, Rate]  # scope, subject (account id or address), rate


async def consume(redis: Redis, action: str, limits: Sequence[Limit]) -> Refusal | None:
    """Count one `action` against every limit, or against none if one is exhausted."""
    limits = [lim for lim in limits if lim[2].count > 0]
    if not limits:
        return None
    keys = [f"rate:{action}:{scope}:{subject}" for scope, subject, _ in limits]
    args = [str(x) for _, _, rate in limits for x in (rate.count, rate.window * 1000)]
    try:
        result = await redis.evalsha(GCRA_SHA, len(keys), *keys, *args)  # type: ignore[misc]
    except NoScriptError:  # the first call since Redis started
        result = await redis.eval(GCRA, len(keys), *keys, *args)  # type: ignore[misc]
    if int(result[0]) == 0:
        return None
    scope, _, rate = limits[int(result[1]) - 1]
    return Refusal(scope=scope, rate=rate, retry_after=max(1, -(-int(result[0]) // 1000)))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_address(request: web.Request) -> str:
    """The peer's address; when the peer is a trusted proxy (TRUSTED_PROXIES), the nearest
    address in X-Forwarded-For that is not one: what a client wrote there itself comes before
    what the proxies appended, so it cannot choose the address it is counted under."""
    peer = request.remote or "unknown"
    networks = _networks(request.app[SETTINGS].trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", ()) for h in v.split(",")]
    for hop in reversed(hops):
        if hop and not _trusted(hop, networks):
            return hop
    return peer


async def check(request: web.Request, action: Action, account: uuid.UUID | None) -> None:
    """Count one `action` by the caller's account (None: not signed in) and address; 429 when
    over a limit. Without Redis the action is let through: limits are not worth an outage."""
    r = rates(request.app[SETTINGS], action)
    limits: list[Limit] = [("address", client_address(request), r.address)]
    if account is not None:
        limits.insert(0, ("account", str(account), r.account))
    try:
        refused = await consume(request.app[REDIS], action, limits)
    except (RedisConnectionError, RedisTimeoutError) as e:
        log.warning("rate limits unavailable", extra={"action": str(action), "error": repr(e)})
        RATE_LIMITED.labels(action, "unchecked").inc()
        return
    if refused is not None:
        RATE_LIMITED.labels(action, refused.scope).inc()
        raise Problem(
            429,
            f"Too many {NOUNS[action]} from this {refused.scope}: at most {refused.rate.count}"
            f" every {refused.rate.window} s; try again in {refused.retry_after} s.",
            headers={"Retry-After": str(refused.retry_after)},
        )
