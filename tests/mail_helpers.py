"""A real SMTP server in the test process (aiosmtpd, on its own thread), collecting what it is
sent. `smtp_server` is a started one; `SmtpServer(...)` makes one to start later (a server that
is down at first) or with AUTH or TLS.

    async def test_x(smtp_server: SmtpServer) -> None:
        settings = Settings(smtp_url=smtp_server.url)
        ...
        [received] = await smtp_server.wait_for(1)
        assert received.message["Subject"] == "..."
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.harness import free_port, self_signed_cert


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part"
        return cast(EmailMessage, part).get_content()


@dataclass
class SmtpServer:
    """One SMTP server on 127.0.0.1:`port`. `replies` are answered to the next DATA commands
    instead of accepting them (e.g. "451 4.3.0 try later", "550 5.1.1 no such user")."""

    port: int = field(default_factory=free_port)
    login: tuple[str, str] | None = None
    # Implicit TLS (smtps://) or STARTTLS required, with a self-signed certificate.
    tls: str | None = None
    cert_dir: Path | None = None
    received: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    attempts: int = 0
    _controller: Controller | None = None
    _arrival: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        auth = (
            f"{quote(self.login[0], safe='')}:{quote(self.login[1], safe='')}@"
            if self.login
            else ""
        )
        query = {"implicit": "?verify=false", "starttls": "?starttls=true&verify=false"}
        return f"{scheme}://{auth}127.0.0.1:{self.port}{query.get(self.tls or '', '')}"

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.login is not None:
            # AUTH in the clear only where the test asks for no TLS at all.
            options.update(
                auth_required=True,
                auth_require_tls=self.tls is not None,
                authenticator=self._authenticate,
            )
        if self.tls is not None:
            assert self.cert_dir is not None, "TLS needs cert_dir"
            context = server_tls_context(self.cert_dir)
            if self.tls == "implicit":
                options["ssl_context"] = context
            else:
                options.update(tls_context=context, require_starttls=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        """The first `n` messages, once that many arrived."""

        def arrived() -> bool:
            with self._arrival:
                return self._arrival.wait_for(lambda: len(self.received) >= n, timeout)

        if not await asyncio.to_thread(arrived):
            raise TimeoutError(f"{len(self.received)} of {n} messages arrived in {timeout} s")
        return self.received[:n]

    # aiosmtpd handler hooks (they run on the server's thread)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        raw = envelope.original_content or b""
        message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
        with self._arrival:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), message)
            )
            self._arrival.notify_all()
        return "250 2.0.0 OK"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.login == (
            data.login.decode(),
            data.password.decode(),
        )
        return AuthResult(success=ok, handled=False)


def server_tls_context(folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    cert_path, key_path = self_signed_cert(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A started SMTP server on a free port that accepts everything (see SmtpServer)."""
    server = SmtpServer().start()
    yield server
    server.stop()
