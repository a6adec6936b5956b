"""Mail that really leaves: templates, a real SMTP server (aiosmtpd) in the test process, the
outbox, and the arq job on a real Redis with a burst worker on a queue of this test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from arq import Retry
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Worker

from drape import mail
from drape.mail import (
    PASSWORD_RESET_PATH,
    VERIFY_EMAIL_PATH,
    Message,
    PermanentMailError,
    SmtpTarget,
    TemporaryMailError,
    deliver,
    link,
    queue_mail,
    render,
)
from drape.queue import create_queue, unpack
from drape.settings import Settings
from tests.conftest import REDIS_DB
from tests.harness import free_port
from tests.mail_helpers import SmtpServer
from workers import mail as mail_job
from workers.main import functions, worker_settings

PUBLIC = "https://drape.test"
CONTEXT: dict[str, dict[str, str]] = {
    "verify_email": {"name": "Ana", "link": f"{PUBLIC}/verify-email?token=v1"},
    "email_change": {
        "name": "Ana",
        "email": "new@example.com",
        "link": f"{PUBLIC}/confirm-email-change?token=c1",
    },
    "password_reset": {"name": "Ana", "link": f"{PUBLIC}/reset-password?token=r1"},
    "password_changed": {"name": "Ana", "when": "2026-11-25 09:30 UTC"},
}


def base_settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        public_url=PUBLIC, mail_outbox=str(tmp_path / "outbox"), log_json=False, gc_freeze=False
    ).with_(**changes)


def verify_message(settings: Settings, to: str = "ana@example.com", name: str = "Ana") -> Message:
    token = uuid.uuid4().hex
    return render(
        "verify_email", "en", to=to, name=name, link=link(settings, VERIFY_EMAIL_PATH, token=token)
    )


# ---- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", sorted(mail.locales()))
@pytest.mark.parametrize("template", mail.TEMPLATES)
def test_every_template_renders_both_bodies_in_every_locale(template: str, locale: str) -> None:
    context = CONTEXT[template]
    msg = render(template, locale, to="ana@example.com", **context)
    assert msg.locale == locale and msg.template == template
    assert msg.subject and "\n" not in msg.subject
    assert f'<html lang="{locale}">' in msg.html
    for value in context.values():
        assert value in msg.text
        assert value in msg.html
    if "link" in context:
        assert f'href="{context["link"]}"' in msg.html
    assert "$" not in msg.text + msg.html, "an unfilled placeholder"


def test_every_locale_has_every_template_with_the_same_variables() -> None:
    folder = Path(mail.__file__).parent / "mail_templates"
    assert {"en", "fr"} <= mail.locales()
    for locale in mail.locales():
        for template in mail.TEMPLATES:
            assert (folder / locale / f"{template}.txt").is_file(), (locale, template)
            assert (folder / locale / f"{template}.html").is_file(), (locale, template)
            assert mail.variables(template, locale) == mail.variables(template), (locale, template)
    assert mail.variables("password_reset") == {"name", "link"}


def test_the_locale_falls_back_to_english() -> None:
    context = CONTEXT["password_reset"]
    english = render("password_reset", "en", to="ana@example.com", **context)
    french = render("password_reset", "fr", to="ana@example.com", **context)
    assert english.subject == "Reset your Drape password"
    assert french.subject == "Réinitialisez votre mot de passe Drape"
    for asked, got in [
        ("de", "en"),
        (None, "en"),
        ("", "en"),
        ("fr-CA", "fr"),
        ("FR_ch", "fr"),
        ("de-DE, fr;q=0.8, en;q=0.5", "fr"),
        ("en;q=0.1, fr;q=0.9", "fr"),
        ("fr;q=0, de", "en"),
        ("../fr", "en"),
    ]:
        msg = render("password_reset", asked, to="ana@example.com", **context)
        assert msg.locale == got, asked
        assert msg.subject == (french if got == "fr" else english).subject, asked


def test_a_hostile_display_name_is_escaped_in_html() -> None:
    name = '<img src=x onerror=alert(1)> "Eve" & <b>Co</b>'
    msg = render("verify_email", "en", to="eve@example.com", name=name, link=f"{PUBLIC}/v?t=1")
    assert "<img" not in msg.html and "<b>" not in msg.html
    assert "&lt;img src=x onerror=alert(1)&gt; &quot;Eve&quot; &amp; &lt;b&gt;Co&lt;/b&gt;" in (
        msg.html
    )
    assert f"Hello {name}," in msg.text  # plain text is shown as text: no escaping there


def test_a_link_cannot_break_out_of_its_attribute() -> None:
    hostile = f'{PUBLIC}/v?t=1" onclick="alert(1)'
    msg = render("verify_email", "en", to="eve@example.com", name="Eve", link=hostile)
    assert 'onclick="alert' not in msg.html
    assert "&quot; onclick=&quot;alert(1)" in msg.html


def test_render_refuses_missing_unknown_and_bad_input() -> None:
    with pytest.raises(ValueError, match="needs link"):
        render("verify_email", "en", to="ana@example.com", name="Ana")
    with pytest.raises(ValueError, match="has no colour"):
        render("verify_email", "en", to="ana@example.com", colour="red", **CONTEXT["verify_email"])
    with pytest.raises(ValueError, match="unknown mail template"):
        render("welcome", "en", to="ana@example.com", name="Ana")
    for to in ["not-an-address", "ana@example.com\r\nBcc: all@example.com", "Ana <ana@x.com>"]:
        with pytest.raises(ValueError):
            render("verify_email", "en", to=to, **CONTEXT["verify_email"])


def test_a_message_id_is_stable() -> None:
    context = CONTEXT["verify_email"]
    a = render("verify_email", "en", to="ana@example.com", **context)
    assert render("verify_email", "en", to="ana@example.com", **context).id == a.id
    assert render("verify_email", "fr", to="ana@example.com", **context).id != a.id
    assert render("verify_email", "en", to="bob@example.com", **context).id != a.id
    other_link = {**context, "link": f"{PUBLIC}/verify-email?token=v2"}
    assert render("verify_email", "en", to="ana@example.com", **other_link).id != a.id
    keyed = render("verify_email", "en", to="ana@example.com", key="verify:42", **context)
    rekeyed = render("verify_email", "fr", to="x@example.com", key="verify:42", **context)
    assert keyed.id == rekeyed.id
    assert keyed.id != a.id
    assert Message.from_dict(a.as_dict()) == a


def test_links_are_built_on_public_url() -> None:
    settings = Settings(public_url="https://api.drape.app/")
    assert link(settings, PASSWORD_RESET_PATH, token="a b&c") == (
        "https://api.drape.app/reset-password?token=a+b%26c"
    )
    assert link(settings, "verify-email") == "https://api.drape.app/verify-email"


def test_smtp_urls_parse() -> None:
    t = SmtpTarget.from_url("smtp://127.0.0.1:2525")
    assert (t.host, t.port, t.use_tls, t.start_tls, t.username, t.verify) == (
        "127.0.0.1",
        2525,
        False,
        None,
        None,
        True,
    )
    t = SmtpTarget.from_url("smtp://mailer:p%40ss%3Aw@relay.example.com?starttls=true&timeout=5")
    assert (t.host, t.port, t.username, t.password, t.start_tls, t.timeout) == (
        "relay.example.com",
        25,
        "mailer",
        "p@ss:w",
        True,
        5.0,
    )
    t = SmtpTarget.from_url("smtps://relay.example.com")
    assert (t.port, t.use_tls, t.start_tls) == (465, True, False)
    assert SmtpTarget.from_url("smtp://h:587?starttls=false&verify=false").start_tls is False
    for bad in ["http://h:25", "smtp://", "smtp://h?starttls=maybe", "smtps://h?starttls=true"]:
        with pytest.raises(ValueError):
            SmtpTarget.from_url(bad)


# ---- delivery -------------------------------------------------------------------------------


async def test_a_message_sent_over_smtp_arrives_whole(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = base_settings(tmp_path, smtp_url=smtp_server.url)
    msg = render("password_reset", "en", to="ana@example.com", **CONTEXT["password_reset"])
    assert await deliver(settings, msg) is None
    [got] = await smtp_server.wait_for(1)
    assert got.mail_from == "no-reply@drape.local"
    assert got.rcpt_tos == ["ana@example.com"]
    m = got.message
    assert m["From"] == "Drape <no-reply@drape.local>"
    assert m["To"] == "ana@example.com"
    assert m["Subject"] == "Reset your Drape password"
    assert m["Message-ID"] == f"<{msg.id}@drape.local>"
    assert m.get_content_type() == "multipart/alternative"
    the_link = CONTEXT["password_reset"]["link"]
    assert the_link in got.body("plain")
    assert f'href="{the_link}"' in got.body("html")
    assert not (tmp_path / "outbox").exists()


async def test_a_hostile_name_arrives_escaped_over_smtp(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = base_settings(tmp_path, smtp_url=smtp_server.url, mail_from="Équipe Drape <hi@x.fr>")
    name = "<script>alert('x')</script>"
    await deliver(settings, verify_message(settings, name=name))
    [got] = await smtp_server.wait_for(1)
    assert got.mail_from == "hi@x.fr"
    assert got.message["From"] == "Équipe Drape <hi@x.fr>"
    assert "<script>" not in got.body("html")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in got.body("html")
    assert name in got.body("plain")


async def test_smtp_with_login_over_starttls(tmp_path: Path) -> None:
    server = SmtpServer(login=("mailer", "p@ss:w/rd"), tls="starttls", cert_dir=tmp_path).start()
    try:
        settings = base_settings(tmp_path, smtp_url=server.url)
        msg = verify_message(settings)
        await deliver(settings, msg)
        [got] = await server.wait_for(1)
        assert got.message["Message-ID"] == f"<{msg.id}@drape.local>"
        wrong = settings.with_(smtp_url=server.url.replace("p%40ss%3Aw%2Frd", "nope"))
        assert wrong.smtp_url != settings.smtp_url
        with pytest.raises(PermanentMailError) as refused:
            await deliver(wrong, msg)
        assert refused.value.code == 535
        assert len(server.received) == 1
    finally:
        server.stop()


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
async def test_smtp_over_tls(tls: str, tmp_path: Path) -> None:
    server = SmtpServer(tls=tls, cert_dir=tmp_path / "tls").start()
    try:
        assert server.url.startswith("smtps://" if tls == "implicit" else "smtp://")
        settings = base_settings(tmp_path, smtp_url=server.url)
        await deliver(settings, verify_message(settings))
        [got] = await server.wait_for(1)
        assert got.message["To"] == "ana@example.com"
    finally:
        server.stop()


async def test_starttls_required_but_not_offered_is_permanent(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    settings = base_settings(tmp_path, smtp_url=f"{smtp_server.url}?starttls=true")
    with pytest.raises(PermanentMailError):
        await deliver(settings, verify_message(settings))
    assert smtp_server.received == []


async def test_without_smtp_url_the_message_lands_in_the_outbox(tmp_path: Path) -> None:
    settings = base_settings(tmp_path)
    assert settings.smtp_url == ""
    msg = render("email_change", "fr", to="new@example.com", **CONTEXT["email_change"])
    path = await deliver(settings, msg)
    assert path == tmp_path / "outbox" / f"{msg.id}.eml"
    assert await deliver(settings, msg) == path  # the same message is the same file
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]
    m = cast(EmailMessage, message_from_bytes(path.read_bytes(), policy=policy.default))
    assert m["From"] == "Drape <no-reply@drape.local>"
    assert m["To"] == "new@example.com"
    assert m["Subject"] == "Confirmez votre nouvelle adresse e-mail"
    assert m.get_content_type() == "multipart/alternative"
    plain, page = (m.get_body(preferencelist=(t,)) for t in ("plain", "html"))
    assert plain is not None and page is not None
    text = cast(EmailMessage, plain).get_content()
    html_body = cast(EmailMessage, page).get_content()
    assert CONTEXT["email_change"]["link"] in text
    assert "new@example.com" in text
    assert f'href="{CONTEXT["email_change"]["link"]}"' in html_body
    assert '<html lang="fr">' in html_body


# ---- the job --------------------------------------------------------------------------------


@dataclass
class MailQueue:
    """A queue of this test's own on the shared Redis db, and burst workers on it."""

    settings: Settings
    queue: ArqRedis
    ids: set[str] = field(default_factory=set)

    async def put(self, message: Message, settings: Settings | None = None) -> bool:
        self.ids.add(f"mail:{message.id}")
        return await queue_mail(self.queue, message)

    def worker(self, settings: Settings | None = None) -> Worker:
        options = worker_settings(
            settings or self.settings, cron_jobs=[], on_startup=None, on_shutdown=None
        )
        return Worker(**options, burst=True, poll_delay=0.05, handle_signals=False)

    async def run(self, settings: Settings | None = None) -> Worker:
        worker = self.worker(settings)
        try:
            await worker.async_run()
        finally:
            await worker.close()
        return worker

    async def result(self, message: Message) -> Any:
        job = Job(f"mail:{message.id}", self.queue, _deserializer=unpack)
        return await job.result(timeout=5)


@pytest.fixture
async def mailq(redis_base: str, tmp_path: Path) -> AsyncIterator[MailQueue]:
    # Not the `settings` fixture: that one flushes the shared Redis db after each test.
    settings = base_settings(
        tmp_path,
        redis_url=f"{redis_base}/{REDIS_DB}",
        arq_queue=f"mail-test:{uuid.uuid4().hex[:8]}",
    )
    queue = await create_queue(settings)
    mq = MailQueue(settings=settings, queue=queue)
    yield mq
    prefixes = ("arq:job:", "arq:result:", "arq:retry:", "arq:in-progress:")
    keys = [p + job_id for p in prefixes for job_id in mq.ids]
    await queue.delete(settings.arq_queue, *keys)
    await queue.aclose()


def test_the_job_is_registered_under_its_name() -> None:
    names = {getattr(f, "name", getattr(f, "__qualname__", None)) for f in functions(Settings())}
    assert mail.JOB in names


async def test_the_worker_retries_until_the_server_answers_and_sends_once(
    mailq: MailQueue,
) -> None:
    server = SmtpServer()  # not started yet: its port refuses connections
    settings = mailq.settings.with_(smtp_url=server.url)
    msg = verify_message(settings)
    assert await mailq.put(msg) is True
    assert await mailq.put(msg) is False  # an enqueue retried by its caller
    worker = mailq.worker(settings)
    run = asyncio.create_task(worker.async_run())
    try:
        for _ in range(250):
            if worker.jobs_retried:
                break
            await asyncio.sleep(0.02)
        assert worker.jobs_retried == 1 and worker.jobs_complete == 0
        assert server.received == []
        await asyncio.to_thread(server.start)
        async with asyncio.timeout(20):
            await run
        assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (1, 1, 0)
        [got] = await server.wait_for(1)
        assert got.message["Message-ID"] == f"<{msg.id}@drape.local>"
        assert await mailq.result(msg) == {"id": msg.id, "status": "sent"}
        assert await mailq.put(msg) is False  # sent already: queueing it again does nothing
        assert (await mailq.run(settings)).jobs_complete == 0
        assert len(server.received) == 1
    finally:
        run.cancel()
        await worker.close()
        server.stop()


async def test_a_4xx_answer_is_retried(mailq: MailQueue) -> None:
    server = SmtpServer(replies=["451 4.3.0 Mailbox busy, try later"]).start()
    try:
        settings = mailq.settings.with_(smtp_url=server.url)
        msg = verify_message(settings)
        await mailq.put(msg)
        worker = await mailq.run(settings)
        assert (worker.jobs_complete, worker.jobs_retried) == (1, 1)
        assert server.attempts == 2 and len(server.received) == 1
    finally:
        server.stop()


async def test_a_5xx_answer_is_logged_and_not_retried(
    mailq: MailQueue, caplog: pytest.LogCaptureFixture
) -> None:
    server = SmtpServer(replies=["550 5.1.1 No such user"]).start()
    try:
        settings = mailq.settings.with_(smtp_url=server.url)
        msg = verify_message(settings, to="nobody@example.com")
        await mailq.put(msg)
        worker = await mailq.run(settings)
        assert (worker.jobs_complete, worker.jobs_retried, worker.jobs_failed) == (1, 0, 0)
        assert server.attempts == 1 and server.received == []
        result = await mailq.result(msg)
        assert (result["status"], result["code"]) == ("refused", 550)
        assert any(r.getMessage() == "mail refused" for r in caplog.records)
    finally:
        server.stop()


async def test_the_job_writes_to_the_outbox_without_smtp(mailq: MailQueue) -> None:
    msg = verify_message(mailq.settings)
    await mailq.put(msg)
    worker = await mailq.run()
    assert worker.jobs_complete == 1
    assert await mailq.result(msg) == {"id": msg.id, "status": "written"}
    assert (Path(mailq.settings.mail_outbox) / f"{msg.id}.eml").is_file()


async def test_the_job_backs_off_then_gives_up(tmp_path: Path) -> None:
    closed = f"smtp://127.0.0.1:{free_port()}"
    settings = base_settings(tmp_path, smtp_url=closed)
    payload = verify_message(settings).as_dict()
    with pytest.raises(Retry) as first:
        await mail_job.send_mail({"settings": settings, "job_try": 1}, payload)
    assert first.value.defer_score == mail_job.RETRY_DELAYS[0] * 1000
    with pytest.raises(Retry) as later:
        await mail_job.send_mail({"settings": settings, "job_try": 3}, payload)
    assert later.value.defer_score == mail_job.RETRY_DELAYS[2] * 1000
    with pytest.raises(TemporaryMailError):
        await mail_job.send_mail({"settings": settings, "job_try": mail_job.MAX_TRIES}, payload)
