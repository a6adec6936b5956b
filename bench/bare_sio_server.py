"""The handshake baseline: python-socketio on aiohttp and uvloop with nothing of ours.

    python -m bench.bare_sio_server --port 8766

It accepts every Socket.IO connect (no token check), answers `subscribe` {post_id} by entering
the post's room with {"ok": true}, and keeps python-socketio's default in-process manager (no
Redis). What a connect costs here is python-socketio's own protocol work (Engine.IO open,
upgrade, Socket.IO connect, one event and its ack): the floor under the project's connect.
"""

from __future__ import annotations

from typing import Any

import socketio
from aiohttp import web

from bench.common import serve_baseline


def create_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=20, ping_timeout=20)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return True

    async def subscribe(sid: str, data: Any) -> dict[str, Any]:
        await sio.enter_room(sid, f"post:{data['post_id']}")
        return {"ok": True}

    sio.on("connect", connect)
    sio.on("subscribe", subscribe)
    app = web.Application()
    sio.attach(app)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    serve_baseline(create_app(), __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
