"""The fan-out baseline: a bare aiohttp WebSocket server on uvloop, nothing else.

    python -m bench.raw_ws_server --port 8765

GET /ws keeps a WebSocket (incoming messages are read and dropped); POST /broadcast sends the
request body as one text frame to every connected socket with a plain `await ws.send_str(...)`
loop and answers {"sent": n} when done; GET /healthz answers {"clients": n}.
"""

from __future__ import annotations

from aiohttp import web

from bench.common import serve_baseline

CLIENTS = web.AppKey("clients", set[web.WebSocketResponse])


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)
    return ws


async def broadcast(request: web.Request) -> web.Response:
    frame = await request.text()
    sent = 0
    clients = request.app[CLIENTS]
    for ws in [*clients]:
        try:
            await ws.send_str(frame)
            sent += 1
        except ConnectionError:
            pass
    return web.json_response({"sent": sent})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"clients": len(request.app[CLIENTS])})


def create_app() -> web.Application:
    app = web.Application()
    app[CLIENTS] = set()
    app.router.add_get("/ws", websocket)
    app.router.add_post("/broadcast", broadcast)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    serve_baseline(create_app(), __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
