"""Object storage behind one small interface: a local folder or S3 (aioboto3).

Both backends hand out time-limited URLs: GET links for reading and presigned POST forms for
uploading straight from a phone, so image bytes never pass through the web process's JSON path.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlencode, urlsplit

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)*$")


class ObjectNotFound(KeyError):
    pass


class StoreUnavailable(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    method: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int
    content_type: str

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "fields": self.fields,
            "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
            "max_bytes": self.max_bytes,
            "content_type": self.content_type,
        }


def check_key(key: str) -> str:
    if not KEY_RE.match(key) or ".." in key or len(key) > 512:
        raise ValueError(f"invalid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    kind: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def head(self, key: str) -> ObjectInfo | None: ...
    async def delete(self, key: str) -> None: ...
    def keys(self, prefix: str = "") -> AsyncIterator[str]: ...
    async def url(self, key: str, *, expires: int = 3600) -> str: ...
    async def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires: int = 900
    ) -> PresignedUpload: ...
    async def ping(self) -> None: ...


def _expiry(expires: int) -> tuple[int, datetime]:
    at = int(time.time()) + expires
    return at, datetime.fromtimestamp(at, UTC)


class LocalStore:
    """Objects as files under a folder; URLs signed with an HMAC and served by the web process."""

    kind = "local"

    def __init__(self, root: Path, *, public_url: str, signing_key: bytes) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")
        self._key = signing_key
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self.root / ".meta" / (check_key(key) + ".type")

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put_sync, key, data, content_type)

    def _put_sync(self, key: str, data: bytes, content_type: str) -> None:
        path, meta = self._path(key), self._meta_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename so a reader never sees half an object.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        meta.write_text(content_type)
        os.replace(tmp, path)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        try:
            ctype = self._meta_path(key).read_text()
        except FileNotFoundError:
            ctype = "application/octet-stream"
        return ObjectInfo(key=key, size=size, content_type=ctype)

    async def delete(self, key: str) -> None:
        for p in (self._path(key), self._meta_path(key)):
            p.unlink(missing_ok=True)

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every stored key starting with `prefix`, in sorted order."""
        for key in await asyncio.to_thread(self._keys_sync, prefix):
            yield key

    def _keys_sync(self, prefix: str) -> list[str]:
        found: list[str] = []
        for folder, dirs, files in os.walk(self.root):
            # Dot-names are never keys: `.meta` holds content types, `.x.tmp` a write under way.
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            base = Path(folder).relative_to(self.root).as_posix()
            for name in files:
                key = name if base == "." else f"{base}/{name}"
                if key.startswith(prefix) and KEY_RE.match(key) and len(key) <= 512:
                    found.append(key)
        return sorted(found)

    def sign(self, *parts: str) -> str:
        msg = "\n".join(parts).encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def verify(self, signature: str, *parts: str) -> bool:
        return hmac.compare_digest(self.sign(*parts), signature)

    async def url(self, key: str, *, expires: int = 3600) -> str:
        at, _ = _expiry(expires)
        query = urlencode({"expires": at, "signature": self.sign("GET", check_key(key), str(at))})
        return f"{self.public_url}/objects/{quote(key)}?{query}"

    async def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires: int = 900
    ) -> PresignedUpload:
        at, when = _expiry(expires)
        fields = {
            "key": check_key(key),
            "Content-Type": content_type,
            "max_bytes": str(max_bytes),
            "expires": str(at),
        }
        fields["signature"] = self.sign("POST", key, content_type, str(max_bytes), str(at))
        return PresignedUpload(
            url=f"{self.public_url}/objects",
            method="POST",
            fields=fields,
            expires_at=when,
            max_bytes=max_bytes,
            content_type=content_type,
        )

    async def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StoreUnavailable(f"{self.root} is not writable")


class S3Store:
    """S3 (or MinIO, or any S3 API) through aioboto3; one client kept open per process."""

    kind = "s3"

    def __init__(self, bucket: str, client: Any, presign_client: Any) -> None:
        self.bucket = bucket
        self._client = client
        self._presign = presign_client

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._client.put_object(
            Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type
        )

    async def get(self, key: str) -> bytes:
        try:
            obj = await self._client.get_object(Bucket=self.bucket, Key=check_key(key))
        except self._client.exceptions.NoSuchKey:
            raise ObjectNotFound(key) from None
        async with obj["Body"] as body:
            return await body.read()

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            obj = await self._client.head_object(Bucket=self.bucket, Key=check_key(key))
        except self._client.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=int(obj["ContentLength"]),
            content_type=obj.get("ContentType", "application/octet-stream"),
        )

    async def delete(self, key: str) -> None:
        await self._client.delete_object(Bucket=self.bucket, Key=check_key(key))

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key in the bucket starting with `prefix`, in S3's (sorted) order."""
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"]

    async def url(self, key: str, *, expires: int = 3600) -> str:
        return await self._presign.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": check_key(key)},
            ExpiresIn=expires,
        )

    async def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires: int = 900
    ) -> PresignedUpload:
        _, when = _expiry(expires)
        post = await self._presign.generate_presigned_post(
            Bucket=self.bucket,
            Key=check_key(key),
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires,
        )
        return PresignedUpload(
            url=post["url"],
            method="POST",
            fields=dict(post["fields"]),
            expires_at=when,
            max_bytes=max_bytes,
            content_type=content_type,
        )

    async def ping(self) -> None:
        await self._client.head_bucket(Bucket=self.bucket)

    async def ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except self._client.exceptions.ClientError:
            await self._client.create_bucket(Bucket=self.bucket)


def signing_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"drape-object-store", hashlib.sha256).digest()


@asynccontextmanager
async def open_store(
    url: str, *, public_url: str, secret: str, create_bucket: bool = True
) -> AsyncIterator[ObjectStore]:
    """`file://path` (relative to the working folder) or
    `s3://bucket?endpoint=http://host:9000&region=us-east-1&public_endpoint=...`.
    S3 credentials come from the usual AWS_* variables or from `s3://key:secret@bucket`."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        root = Path((parts.netloc + parts.path) or ".data/objects")
        yield LocalStore(root.resolve(), public_url=public_url, signing_key=signing_key(secret))
        return
    if parts.scheme != "s3":
        raise ValueError(f"unsupported OBJECT_STORE_URL scheme: {parts.scheme!r}")

    import aioboto3
    from botocore.config import Config

    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    endpoint = query.get("endpoint") or None
    options: dict[str, Any] = {
        "region_name": query.get("region", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
        "config": Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    }
    if parts.username:
        options["aws_access_key_id"] = parts.username
        options["aws_secret_access_key"] = parts.password or ""
    session = aioboto3.Session()
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            session.client("s3", endpoint_url=endpoint, **options)
        )
        presign_endpoint = query.get("public_endpoint") or endpoint
        presign = client
        if presign_endpoint != endpoint:
            presign = await stack.enter_async_context(
                session.client("s3", endpoint_url=presign_endpoint, **options)
            )
        store = S3Store(parts.hostname or "", client, presign)
        if create_bucket:
            await store.ensure_bucket()
        yield store
