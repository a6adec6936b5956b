"""`python -m server` with python-socketio's stock AsyncRedisManager in place of
realtime.fanout's direct-write manager: the reference row of bench/fanout.py.

    python -m bench.stock_server        # same environment variables as python -m server

Everything else (app, routes, connect auth, handlers, gc.freeze) is the real server's.
"""

from __future__ import annotations

from typing import Any

import socketio

import realtime.server
from server.__main__ import main


def _keep_stock_websocket(sio: Any) -> None:
    """realtime.fanout.install swaps Engine.IO's WebSocket wrapper; the stock path keeps its own."""


if __name__ == "__main__":
    realtime.server.FanoutRedisManager = socketio.AsyncRedisManager  # type: ignore[misc]
    realtime.server.install = _keep_stock_websocket
    main()
