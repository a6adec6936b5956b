"""Verification of Firebase ID tokens (RS256) against Google's published certificate set.

The certificates are cached until the expiry their response announces (Cache-Control max-age);
a token signed with an unknown key id triggers one early refresh, at most once a minute.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from cryptography.x509 import load_pem_x509_certificate


class FirebaseTokenError(Exception):
    pass


@dataclass(slots=True)
class _KeySet:
    keys: dict[str, Any]
    expires_at: float
    fetched_at: float


MAX_AGE_RE = re.compile(r"max-age=(\d+)")


class FirebaseVerifier:
    def __init__(self, *, project_id: str, certs_url: str, http: aiohttp.ClientSession) -> None:
        self.project_id = project_id
        self.certs_url = certs_url
        self._http = http
        self._keyset: _KeySet | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> _KeySet:
        timeout = aiohttp.ClientTimeout(total=5)
        async with self._http.get(self.certs_url, timeout=timeout) as r:
            if r.status != 200:
                raise FirebaseTokenError(f"certificate endpoint answered {r.status}")
            certs: dict[str, str] = await r.json(content_type=None)
            match = MAX_AGE_RE.search(r.headers.get("Cache-Control", ""))
        max_age = int(match.group(1)) if match else 3600
        keys = {
            kid: load_pem_x509_certificate(pem.encode()).public_key() for kid, pem in certs.items()
        }
        now = time.monotonic()
        return _KeySet(keys=keys, expires_at=now + max_age, fetched_at=now)

    async def _key(self, kid: str) -> Any:
        async with self._lock:
            ks = self._keyset
            now = time.monotonic()
            stale = ks is None or now >= ks.expires_at
            unknown = ks is not None and kid not in ks.keys and now - ks.fetched_at > 60
            if stale or unknown:
                try:
                    self._keyset = ks = await self._fetch()
                except (aiohttp.ClientError, TimeoutError, ValueError) as e:
                    raise FirebaseTokenError(f"cannot fetch certificates: {e}") from None
            assert ks is not None
            if kid not in ks.keys:
                raise FirebaseTokenError("token signed with an unknown key")
            return ks.keys[kid]

    async def verify(self, id_token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise FirebaseTokenError("not a JWT") from None
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise FirebaseTokenError("token must be RS256 with a key id")
        key = await self._key(header["kid"])
        try:
            claims = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=self.project_id,
                issuer=f"https://securetoken.google.com/{self.project_id}",
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
                leeway=10,
            )
        except jwt.PyJWTError as e:
            raise FirebaseTokenError(str(e)) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= 128:
            raise FirebaseTokenError("sub must be a non-empty string of at most 128 characters")
        now = time.time()
        if claims["iat"] > now + 10 or claims.get("auth_time", 0) > now + 10:
            raise FirebaseTokenError("token issued in the future")
        return claims
