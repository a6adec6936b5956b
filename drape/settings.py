"""Process configuration, read once from the environment and passed around explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

DEV_JWT_SECRET = "drape-local-development-secret-change-me"


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
    cors_origins: tuple[str, ...] = ()
    arq_queue: str = "arq:queue"
    job_timeout: int = 300
    # Seconds after a wardrobe change before the style analysis is refreshed (0: no refresh).
    style_refresh_delay: int = 60
    worker_max_jobs: int = 8
    # Move the start-up heap out of the collector's sight: long-lived objects are never garbage,
    # and scanning them again on every collection costs latency under load.
    gc_freeze: bool = True

    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        if self.environment == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("JWT_SECRET must be set in production")

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

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
