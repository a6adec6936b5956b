"""Mail that really leaves: messages rendered from localised templates, sent over SMTP by a
worker (`workers.mail.send_mail`) or, without SMTP_URL, written as .eml files to an outbox.

    message = render("password_reset", "fr-CA", to=email, name=username,
                     link=link(settings, PASSWORD_RESET_PATH, token=token))
    await queue_mail(queue, message)

Templates live in drape/mail_templates/<locale>/: `<name>.txt` (a `Subject:` line, a blank line,
the plain-text body) and `<name>.html` (the HTML body, set in that locale's `_layout.html`). They
are `string.Template`s; every context value is HTML-escaped in the HTML body.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import aiosmtplib
from arq.connections import ArqRedis

from drape.queue import wake
from drape.settings import Settings

log = logging.getLogger(__name__)

# The arq function that sends a queued message (workers/mail.py registers it under this name).
JOB: Final = "send_mail"
DEFAULT_LOCALE: Final = "en"
TEMPLATES: Final = ("verify_email", "email_change", "password_reset", "password_changed")
# Where the links of each kind of message lead, on PUBLIC_URL; the token goes in `?token=`.
VERIFY_EMAIL_PATH: Final = "/verify-email"
EMAIL_CHANGE_PATH: Final = "/confirm-email-change"
PASSWORD_RESET_PATH: Final = "/reset-password"
# Names the renderer fills in itself; a context may not use them.
_RESERVED: Final = frozenset({"lang", "subject", "body"})
_LOCALE_TAG: Final = re.compile(r"[a-z]{2,3}")
SMTP_TIMEOUT: Final = 30.0


class MailError(Exception):
    """A message could not be delivered."""


class TemporaryMailError(MailError):
    """The server is away or answered 4xx: the same message may go through later."""


class PermanentMailError(MailError):
    """The server refused the message for good (5xx), or the mail settings are wrong."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One rendered message to one address. `id` is stable: it names the message (Message-ID,
    outbox file, queue job), so delivering or queueing it twice sends it once."""

    to: str
    subject: str
    text: str
    html: str
    id: str
    template: str = ""
    locale: str = DEFAULT_LOCALE

    def __post_init__(self) -> None:
        if any(c in self.to or c in self.subject for c in "\r\n"):
            raise ValueError("a mail header may not contain a line break")
        try:
            Address(addr_spec=self.to)
        except Exception as e:
            raise ValueError(f"not an email address: {self.to!r}") from e
        if not re.fullmatch(r"[0-9a-f]{32}", self.id):
            raise ValueError("a message id is 32 lowercase hex digits (see message_id)")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__ if name in data})


def message_id(*parts: str) -> str:
    """32 hex digits naming a message: the same parts give the same id."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return digest[:32]


def link(settings: Settings, path: str, **query: str) -> str:
    """An absolute link on PUBLIC_URL, e.g. `link(settings, VERIFY_EMAIL_PATH, token=t)`."""
    url = settings.public_url.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{urlencode(query)}" if query else url


# ---- templates ------------------------------------------------------------------------------


def _templates_dir() -> Path:
    return Path(str(resources.files("drape") / "mail_templates"))


@cache
def locales() -> frozenset[str]:
    """The locales that have templates (each falls back to English per template)."""
    return frozenset(
        p.name for p in _templates_dir().iterdir() if p.is_dir() and _LOCALE_TAG.fullmatch(p.name)
    )


def resolve_locale(value: str | None) -> str:
    """The best locale we have for a tag (`fr`, `fr-CA`, `fr_CA`) or an Accept-Language header
    (`de-DE, fr;q=0.8`); English when none fits."""
    if not value:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(value.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().replace("_", "-").split("-")[0].lower()
        if quality > 0 and _LOCALE_TAG.fullmatch(primary):
            ranked.append((-quality, i, primary))
    for _, _, primary in sorted(ranked):
        if primary in locales():
            return primary
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class _Template:
    locale: str
    subject: Template
    text: Template
    html: Template
    layout: Template

    @property
    def variables(self) -> frozenset[str]:
        names: set[str] = set()
        for t in (self.subject, self.text, self.html):
            names.update(t.get_identifiers())
        return frozenset(names)


@cache
def _load(name: str, locale: str) -> _Template:
    """The template in `locale`, or in English where that locale has none."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown mail template {name!r}; known: {', '.join(TEMPLATES)}")
    root = _templates_dir()
    for loc in dict.fromkeys((locale, DEFAULT_LOCALE)):
        folder = root / loc
        if (folder / f"{name}.txt").is_file():
            break
    head, sep, text = (folder / f"{name}.txt").read_text(encoding="utf-8").partition("\n\n")
    if not sep or not head.startswith("Subject:") or "\n" in head:
        raise ValueError(f"{loc}/{name}.txt must start with one 'Subject:' line and a blank line")
    layout = folder / "_layout.html"
    if not layout.is_file():
        layout = root / DEFAULT_LOCALE / "_layout.html"
    return _Template(
        locale=loc,
        subject=Template(head.removeprefix("Subject:").strip()),
        text=Template(text.strip() + "\n"),
        html=Template((folder / f"{name}.html").read_text(encoding="utf-8").strip()),
        layout=Template(layout.read_text(encoding="utf-8")),
    )


def variables(template: str, locale: str = DEFAULT_LOCALE) -> frozenset[str]:
    """The context names a template needs (the same in every locale)."""
    return _load(template, resolve_locale(locale)).variables


def render(
    template: str, locale: str | None, *, to: str, key: str | None = None, **context: str
) -> Message:
    """Render `template` for `to` in the best locale for `locale` (a tag or an Accept-Language
    value). Every variable the template names must be given, and no other. `key` names the
    message for deduplication (default: its content, so the same render is the same message)."""
    t = _load(template, resolve_locale(locale))
    given = set(context)
    if missing := t.variables - given:
        raise ValueError(f"mail template {template!r} needs {', '.join(sorted(missing))}")
    if unknown := given - t.variables:
        raise ValueError(f"mail template {template!r} has no {', '.join(sorted(unknown))}")
    if reserved := given & _RESERVED:
        raise ValueError(f"reserved mail template names: {', '.join(sorted(reserved))}")
    values = {k: str(v) for k, v in context.items()}
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    # A value shown in the subject must not break the header onto a second line.
    subject = " ".join(t.subject.substitute(values).split())
    text = t.text.substitute(values)
    body = t.html.substitute(escaped)
    page = t.layout.substitute(lang=t.locale, subject=html.escape(subject), body=body)
    return Message(
        to=to,
        subject=subject,
        text=text,
        html=page,
        id=message_id(*(("key", key) if key else (template, t.locale, to, subject, text, page))),
        template=template,
        locale=t.locale,
    )


# ---- delivery -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpTarget:
    """SMTP_URL, parsed: `smtp://[user:pass@]host[:port][?starttls=true&timeout=S&verify=false]`
    or `smtps://...` (implicit TLS, port 465 by default)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    # None: upgrade when the server offers STARTTLS; True: require it; False: never.
    start_tls: bool | None = None
    verify: bool = True
    timeout: float = SMTP_TIMEOUT

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://host:port or smtps://host:port")
        query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}

        def flag(name: str) -> bool | None:
            if name not in query:
                return None
            if query[name] in {"1", "true", "yes", "on"}:
                return True
            if query[name] in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"SMTP_URL: {name} must be true or false")

        use_tls = parts.scheme == "smtps"
        start_tls = flag("starttls")
        if use_tls and start_tls:
            raise ValueError("SMTP_URL: smtps:// is TLS already; starttls applies to smtp://")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
            verify=flag("verify") is not False,
            timeout=float(query.get("timeout", SMTP_TIMEOUT)),
        )


def email_message(settings: Settings, message: Message) -> EmailMessage:
    """The MIME form: multipart/alternative with the plain-text part first."""
    sender = parseaddr(settings.mail_from)[1] or "no-reply@drape.local"
    domain = sender.rpartition("@")[2] or "drape.local"
    em = EmailMessage()
    em["From"] = settings.mail_from
    em["To"] = message.to
    em["Subject"] = message.subject
    em["Date"] = format_datetime(datetime.now(UTC))
    em["Message-ID"] = f"<{message.id}@{domain}>"
    # RFC 3834: nobody should auto-reply to this.
    em["Auto-Submitted"] = "auto-generated"
    if message.template:
        em["X-Drape-Template"] = message.template
    em.set_content(message.text)
    em.add_alternative(message.html, subtype="html")
    return em


def _write_eml(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # readers never see half a file; a second write changes nothing
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _smtp_error(e: Exception) -> MailError:
    """Sort what aiosmtplib raised into retry later or give up."""
    if isinstance(e, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in e.recipients]
        if codes and all(c >= 500 for c in codes):
            return PermanentMailError(f"recipient refused: {codes}", min(codes))
        return TemporaryMailError(f"recipient deferred: {codes}")
    if isinstance(e, aiosmtplib.SMTPResponseException):
        if 400 <= e.code < 500:
            return TemporaryMailError(f"{type(e).__name__} {e.code}: {e.message}")
        return PermanentMailError(f"{type(e).__name__} {e.code}: {e.message}", e.code)
    if isinstance(e, OSError | TimeoutError):  # refused, reset, timed out: the server is away
        return TemporaryMailError(f"{type(e).__name__}: {e}")
    # What the server cannot do (STARTTLS or AUTH asked for and not offered) stays so.
    return PermanentMailError(f"{type(e).__name__}: {e}")


async def deliver(settings: Settings, message: Message) -> Path | None:
    """Send `message` over SMTP_URL, or write it to MAIL_OUTBOX when SMTP_URL is empty (returns
    the file). Raises TemporaryMailError (try again later) or PermanentMailError."""
    em = email_message(settings, message)
    if not settings.smtp_url:
        try:
            path = await asyncio.to_thread(
                _write_eml, Path(settings.mail_outbox), message.id, em.as_bytes()
            )
        except OSError as e:
            raise TemporaryMailError(f"cannot write to the outbox: {e}") from e
        log.info("mail written", extra={"mail_id": message.id, "path": str(path)})
        return path
    try:
        target = SmtpTarget.from_url(settings.smtp_url)
    except ValueError as e:
        raise PermanentMailError(str(e)) from e
    try:
        await aiosmtplib.send(
            em,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            validate_certs=target.verify,
            timeout=target.timeout,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
        raise _smtp_error(e) from e
    except ValueError as e:  # options aiosmtplib refuses: no try will do better
        raise PermanentMailError(f"SMTP_URL: {e}") from e
    log.info("mail sent", extra={"mail_id": message.id, "template": message.template})
    return None


async def queue_mail(queue: ArqRedis, message: Message, *, defer_by: float | None = None) -> bool:
    """Hand `message` to a worker. The job is named after the message, so queueing it again
    while it waits, runs or was sent in the last day does nothing; False then."""
    job = await queue.enqueue_job(
        JOB, message.as_dict(), _job_id=f"mail:{message.id}", _defer_by=defer_by
    )
    if job is None:
        return False
    await wake(queue)
    return True
