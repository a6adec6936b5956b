"""Process configuration, read once from the environment and passed around explicitly."""

from __future__ import annotations

import gc
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

DEV_JWT_SECRET = "drape-local-development-secret-change-me"
ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$")  # what browsers send: scheme://host[:port]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "postgresql://postgres@127.0.0.1:5432/drape"
    redis_url: str = "redis://127.0.0.1:6379/0"
    object_store_url: str = "file://.data/objects"
    jwt_secret: str = DEV_JWT_SECRET
    # Base URL that clients use to reach this service; the local object store signs URLs on it.
    public_url: str = ""
    environment: str = "development"
    log_level: str = "INFO"
    log_json: bool = True

    db_pool_min: int = 2
    db_pool_max: int = 10
    # The HTTP body limit for JSON requests. Images never pass through it: they are uploaded
    # straight to the object store with a presigned form.
    client_max_size: int = 1024 * 1024
    upload_max_bytes: int = 10 * 1024 * 1024

    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 30 * 24 * 3600
    jwt_issuer: str = "drape"
    jwt_audience: str = "drape-app"

    firebase_project_id: str = "drape-app"
    firebase_certs_url: str = (
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
    )

    socketio_channel: str = "drape-socketio"
    # Seconds a web process's watchers of a post stay counted in `post:viewers` without its
    # heartbeat (every third of it): a killed process's watchers drop out within this.
    viewers_ttl: int = 30
    # The Redis that carries socket events between processes (realtime/bus.py); empty: REDIS_URL.
    # redis+cluster://host:port[,host:port...] is a Redis Cluster, over sharded pub/sub.
    realtime_bus_url: str = ""
    # rooms: a process subscribes to a room's channel only while it holds a member of it;
    # broadcast: python-socketio's one channel that every process decodes (the previous path).
    realtime_routing: str = "rooms"
    # The web origins whose pages may call the API and open sockets (see allows_origin). Phones
    # send no Origin and are not concerned.
    cors_origins: tuple[str, ...] = ()
    arq_queue: str = "arq:queue"
    job_timeout: int = 300
    # Seconds after a wardrobe change before the style analysis is refreshed (0: no refresh).
    style_refresh_delay: int = 60
    worker_max_jobs: int = 8
    # Move the start-up heap out of the collector's sight: long-lived objects are never garbage,
    # and scanning them again on every collection costs latency under load.
    gc_freeze: bool = True
    # With it, collect the young generation after this many allocations instead of CPython's
    # 700: a socket's connect allocates hundreds of objects, so at 700 the collector ran every
    # few connects and took about a quarter of a reconnect storm's CPU (bench/scaleout.py).
    gc_young_threshold: int = 10_000

    # Home timelines (drape/timelines.py): GET /v1/feed reads a Redis sorted set per reader,
    # filled on write (false: pages are merged by Postgres at read time; the timelines that
    # exist are still written, so they are right when this is turned back on). A
    # timeline holds the newest TIMELINE_SIZE posts and lives TIMELINE_TTL seconds after its
    # owner's last read; authors with more followers than TIMELINE_FANOUT_MAX_FOLLOWERS are
    # merged at read time instead of written to every follower's timeline.
    timelines: bool = True
    timeline_size: int = 800
    timeline_ttl: int = 14 * 24 * 3600
    timeline_fanout_max_followers: int = 10_000

    # Rate limits (server/ratelimit.py): RATE_<ACTION>_ACCOUNT and RATE_<ACTION>_ADDRESS actions
    # per RATE_<ACTION>_WINDOW seconds, per account and per client address; 0 turns one off.
    # Nobody using the app by hand meets them. Many people can share an address (a carrier's
    # NAT, an office), so address limits are ten times the account ones.
    rate_register_address: int = 10
    rate_register_window: int = 3600
    rate_comment_account: int = 30
    rate_comment_address: int = 300
    rate_comment_window: int = 60
    rate_like_account: int = 120
    rate_like_address: int = 1200
    rate_like_window: int = 60
    rate_follow_account: int = 60
    rate_follow_address: int = 600
    rate_follow_window: int = 60
    # Every request that starts a worker job (recommendations, style analysis, explore, avatars).
    rate_job_account: int = 20
    rate_job_address: int = 200
    rate_job_window: int = 600
    rate_report_account: int = 10
    rate_report_address: int = 100
    rate_report_window: int = 3600
    # Moderation (server/routes/reports.py): a post or comment reported by this many distinct
    # accounts is hidden from everyone but its author until an admin reviews it (0: never).
    report_hide_threshold: int = 5
    # A file of words refused in names, bios, captions and comments, one a line, added to the
    # list shipped in drape/data/blocked_words.txt (drape/textfilter.py).
    blocked_words_file: str = ""
    # Networks (CIDR) of the proxies in front of the web processes, e.g. the ingress pods. A
    # request from one of them counts against the address it forwarded (X-Forwarded-For);
    # without this, behind a proxy every client would share the proxy's address.
    trusted_proxies: tuple[str, ...] = ()

    # smtp://[user:pass@]host[:port][?starttls=true], or smtps:// for implicit TLS. Empty: each
    # message is written as an .eml file under mail_outbox instead (what `make run` does).
    smtp_url: str = ""
    mail_from: str = "Drape <no-reply@drape.local>"
    mail_outbox: str = ".data/outbox"

    # The /playground page (server/routes/playground.py) is served everywhere but in production,
    # where PLAYGROUND=true turns it on.
    playground: bool = False
    # Push to devices without a live socket (workers/push.py). A provider is used once its
    # credentials are set; every URL is configurable so tests point them at local servers.
    # FCM HTTP v1: a Google service-account JSON file; its token_uri is used unless
    # FCM_TOKEN_URI is set, and its project_id unless FCM_PROJECT_ID is.
    fcm_service_account_file: str = ""
    fcm_token_uri: str = ""
    fcm_project_id: str = ""
    fcm_url: str = "https://fcm.googleapis.com"
    # APNs with token auth: the .p8 signing key, its key id, the team id and the app's topic.
    apns_key_file: str = ""
    apns_key_id: str = ""
    apns_team_id: str = ""
    apns_topic: str = ""
    apns_url: str = "https://api.push.apple.com"
    # Web Push: the VAPID private key (PEM) and the contact sent in its JWT; subscriptions are
    # accepted only on these push services' hosts ("*." for any subdomain).
    webpush_vapid_key_file: str = ""
    webpush_subject: str = "mailto:push@drape.local"
    webpush_hosts: tuple[str, ...] = (
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "*.push.apple.com",
        "*.notify.windows.com",
    )
    # A CA bundle trusted for the push providers besides the system's (e.g. a private relay).
    push_ca_file: str = ""
    # Presence (realtime/presence.py): each web process beats every PRESENCE_HEARTBEAT seconds;
    # one silent for PRESENCE_TTL seconds is dead and its sockets are offline.
    presence_heartbeat: int = 5
    presence_ttl: int = 20

    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        if self.environment == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set in production")
        for origin in self.cors_origins:
            if origin != "*" and not ORIGIN.match(origin):
                raise ValueError(
                    f"CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port])"
                )
        for f in fields(self):
            if f.name.startswith("rate_"):
                least = 1 if f.name.endswith("_window") else 0  # a count of 0 is no limit
                if getattr(self, f.name) < least:
                    raise ValueError(f"{f.name.upper()} must be at least {least}")
        for network in self.trusted_proxies:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {network!r} is not a network") from None
        if self.realtime_routing not in ("rooms", "broadcast"):
            raise ValueError("REALTIME_ROUTING must be rooms or broadcast")
        if self.environment == "production" and "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS must name the allowed origins in production, not *")

    def allows_origin(self, origin: str | None) -> bool:
        """Whether a browser page from `origin` may use the API and Socket.IO: one of
        CORS_ORIGINS ("*": any, refused in production); with none configured, a page served
        from this machine in development, and none in production."""
        if not origin:
            return False
        if self.cors_origins:
            return origin in self.cors_origins or "*" in self.cors_origins
        if self.environment == "production":
            return False
        try:
            return urlsplit(origin).hostname in LOCAL_HOSTS
        except ValueError:  # not even a URL
            return False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in cls.__dataclass_fields__.values():
            raw = env.get(f.name.upper())
            if raw is None or f.name == "extra":
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, tuple):
                values[f.name] = tuple(x.strip() for x in raw.split(",") if x.strip())
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    @property
    def serves_playground(self) -> bool:
        return self.playground or self.environment != "production"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def tune_collector(settings: Settings) -> None:
    """At a serving process's start-up (gc_freeze): the start-up heap frozen out of the
    collector's sight, and young collections every gc_young_threshold allocations."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_young_threshold, older, oldest)
