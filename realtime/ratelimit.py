"""Per-socket limits on client -> server events, and `guarded`, which every event handler runs in.

Each socket has a token bucket: `rate` events a second on average, bursts of up to `burst`. An
event over the limit is answered with an error ack `{ok: false, error: {code: "rate_limited"}}`
and not handled. Refusals are counted too, leaking at the same rate; a socket that goes on
sending at several times the limit (`disconnect_after` refusals not yet leaked away, i.e. about
a second at 6x the rate) is disconnected.

`guarded` also gives every handler the same contract for hostile payloads: any number of
arguments is accepted (the handler sees one `data` value), and an exception inside a handler
becomes an error ack instead of a silent, never-acknowledged event.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import socketio

from realtime.metrics import SOCKET_EVENTS

log = logging.getLogger(__name__)

EventHandler = Callable[[str, Any], Awaitable[Any]]


class Verdict(enum.Enum):
    ALLOW = "allow"
    REFUSE = "refuse"
    DISCONNECT = "disconnect"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refused: float
    at: float


@dataclass(slots=True)
class EventLimiter:
    # A live avatar session sends 30 slider updates a second; this leaves room for that and a
    # few other events, and still bounds what one socket can make the server do.
    rate: float = 40.0  # events per second, on average
    burst: int = 80
    disconnect_after: int = 200  # 5x the rate: refusals in excess of what has leaked away
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _next_sweep: float = 0.0

    @property
    def settled_after(self) -> float:
        """Seconds of silence after which any bucket is full with no refusals left: the same
        as no bucket, so it can be dropped (which also bounds what sockets gone without
        `forget` can leave behind)."""
        return (self.burst + self.disconnect_after) / self.rate

    def check(self, sid: str) -> Verdict:
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        bucket = self._buckets.get(sid)
        if bucket is None:
            bucket = self._buckets[sid] = _Bucket(tokens=float(self.burst), refused=0.0, at=now)
        leaked = max(now - bucket.at, 0.0) * self.rate
        bucket.at = now
        bucket.tokens = min(float(self.burst), bucket.tokens + leaked)
        bucket.refused = max(0.0, bucket.refused - leaked)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict.ALLOW
        bucket.refused += 1.0
        if bucket.refused > self.disconnect_after:
            bucket.refused = 0.0  # one disconnect, not one per event still in flight
            return Verdict.DISCONNECT
        return Verdict.REFUSE

    def forget(self, sid: str) -> None:
        self._buckets.pop(sid, None)

    def _sweep(self, now: float) -> None:
        settled = self.settled_after
        for sid in [s for s, b in self._buckets.items() if now - b.at > settled]:
            del self._buckets[sid]
        self._next_sweep = now + settled

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, sid: object) -> bool:
        return sid in self._buckets


def error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


async def guarded(
    sio: socketio.AsyncServer,
    limiter: EventLimiter,
    label: str,
    handler: EventHandler,
    sid: str,
    args: tuple[Any, ...],
) -> Any:
    """Run `handler(sid, data)` for a client event: limit, normalize arguments, contain failures.
    `label` names the event in metrics (never a client-chosen name: that would be unbounded)."""
    verdict = limiter.check(sid)
    if verdict is not Verdict.ALLOW:
        SOCKET_EVENTS.labels(label, "rate_limited").inc()
        if verdict is Verdict.DISCONNECT:
            SOCKET_EVENTS.labels(label, "disconnected").inc()
            log.warning("socket flooding; disconnected", extra={"sid": sid})
            await sio.disconnect(sid)
        return error("rate_limited", f"at most {limiter.rate:g} events a second")
    # One payload is the contract; none or several is a shape the handler refuses.
    data = args[0] if len(args) == 1 else list(args) if args else None
    try:
        return await handler(sid, data)
    except asyncpg.DataError:
        SOCKET_EVENTS.labels(label, "invalid").inc()
        return error("invalid", "a value in the payload was refused")
    except Exception:
        SOCKET_EVENTS.labels(label, "error").inc()
        log.exception("socket event failed", extra={"event": label})
        return error("internal", "something went wrong on our side")
