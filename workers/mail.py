"""The mail job: deliver one rendered message (drape.mail), retrying while the server is away."""

from __future__ import annotations

import logging
from typing import Any, Final

from arq import Retry

from drape.mail import Message, PermanentMailError, TemporaryMailError, deliver
from drape.settings import Settings

log = logging.getLogger(__name__)

MAX_TRIES: Final = 5
# Seconds before each next try: a relay that restarts is back within the first ones, and the
# last leaves a longer outage about seven minutes before the message is given up.
RETRY_DELAYS: Final = (2, 10, 60, 360)
# A job's result is kept this long, and a message queued again meanwhile is not sent again.
KEEP_RESULT: Final = 24 * 3600
TIMEOUT: Final = 60


async def send_mail(ctx: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    settings: Settings = ctx["settings"]
    msg = Message.from_dict(message)
    attempt: int = ctx.get("job_try", 1)
    about = {"mail_id": msg.id, "template": msg.template, "attempt": attempt}
    try:
        path = await deliver(settings, msg)
    except PermanentMailError as e:
        # Trying again would be refused the same way: say so once, and let the job end.
        log.error("mail refused", extra={**about, "code": e.code, "error": str(e)})
        return {"id": msg.id, "status": "refused", "code": e.code, "error": str(e)}
    except TemporaryMailError as e:
        if attempt >= MAX_TRIES:
            log.error("mail given up", extra={**about, "error": str(e)})
            raise
        defer = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
        log.warning("mail deferred", extra={**about, "error": str(e), "retry_in": defer})
        raise Retry(defer=defer) from e
    return {"id": msg.id, "status": "written" if path else "sent"}
