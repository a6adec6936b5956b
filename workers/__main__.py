"""python -m workers: one arq worker process."""

from __future__ import annotations

import asyncio

import uvloop

from drape.logs import setup_logging
from drape.settings import Settings
from workers.main import worker_settings
from workers.wake import WakeableWorker


def main() -> None:
    settings = Settings.from_env()
    setup_logging(settings.log_level, json=settings.log_json, process="worker")
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    worker = WakeableWorker(**worker_settings(settings))
    worker.run()


if __name__ == "__main__":
    main()
