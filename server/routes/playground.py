"""The playground: a small web page served by this process (server/playground/) that tries the
product in a browser through the public REST API and the Socket.IO events, nothing else.

Its three.js and Socket.IO client files are copied from tools/playground's npm packages into
server/playground/vendor/ by `make playground` (which `make run` and `make test` run), so the
page works offline. Served unless ENVIRONMENT=production, where PLAYGROUND=true turns it on.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from drape.settings import Settings
from server.context import SETTINGS
from server.errors import Problem

ROOT = Path(__file__).resolve().parents[1] / "playground"
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)


def enabled(app: web.Application) -> bool:
    return app[SETTINGS].serves_playground


@cache
def _import_map_hash(html: bytes) -> str:
    """The CSP source that lets the page's one inline script, its import map, run."""
    found = IMPORT_MAP.search(html.decode())
    body = found.group(1).encode() if found else b""
    return "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _store_origins(settings: Settings) -> list[str]:
    """Where signed object URLs (images, meshes, upload forms) point."""
    parts = urlsplit(settings.object_store_url)
    if parts.scheme != "s3":
        return [_origin(settings.public_url)]  # the local store serves /objects itself
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    endpoint = query.get("public_endpoint") or query.get("endpoint")
    return [_origin(endpoint)] if endpoint else ["https://*.amazonaws.com"]


def policy(settings: Settings, html: bytes) -> str:
    stores = " ".join(_store_origins(settings))
    return "; ".join([
        "default-src 'self'",
        # The meshopt decoder compiles its WebAssembly; nothing else is evaluated.
        f"script-src 'self' {_import_map_hash(html)} 'wasm-unsafe-eval'",
        f"connect-src 'self' {stores}",
        f"img-src 'self' data: blob: {stores}",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        f"form-action 'self' {stores}",
        "frame-ancestors 'none'",
    ])  # fmt: skip


def _file(path: str) -> Path:
    target = (ROOT / path).resolve()
    if ROOT.resolve() not in target.parents or not target.is_file():
        raise Problem(404, "No such file in the playground.")
    return target


def _send(request: web.Request, target: Path) -> web.Response:
    data = target.read_bytes()
    kind = TYPES.get(target.suffix, "application/octet-stream")
    headers = {"Cache-Control": "no-cache"}
    if kind == "text/html":
        headers["Content-Security-Policy"] = policy(request.app[SETTINGS], data)
    return web.Response(body=data, content_type=kind, headers=headers)


async def index(request: web.Request) -> web.Response:
    return _send(request, _file("index.html"))


async def asset(request: web.Request) -> web.Response:
    return _send(request, _file(request.match_info["path"] or "index.html"))
