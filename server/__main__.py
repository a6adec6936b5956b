"""python -m server: one web process on HOST:PORT."""

from __future__ import annotations

import uvloop
from aiohttp import web

from drape.logs import setup_logging
from drape.settings import Settings
from server.app import create_app


def main() -> None:
    settings = Settings.from_env()
    setup_logging(settings.log_level, json=settings.log_json, process="web")
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        shutdown_timeout=15,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
