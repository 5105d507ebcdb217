"""Sending one e-mail over SMTP, and the settings that say where to.

`GATEWAY_SMTP_URL` is `smtp://user:password@host:587` (STARTTLS whenever the server offers
it) or `smtps://user:password@host:465` (TLS from the first byte). The password is a
`Secret` from the moment the URL is parsed, so neither settings' repr nor a log line shows
it; an SMTP error message never contains it either (the server never echoes it).

aiosmtplib speaks the protocol: STARTTLS, AUTH, certificate checks, timeouts and SMTP's
reply codes are exactly the part we should not write ourselves. What we decide here is
what a failure means: a 5xx reply to this mail's recipient or content is the server's final
word (the mail would be refused again); anything else (4xx, a timeout, no connection, and
also a refused login or sender, which are the configuration's fault, not this mail's) is
worth another try later.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final
from urllib.parse import unquote, urlsplit

import aiosmtplib

from gateway.secret import Secret

MAIL_OFF: Final = "off"
DEV_MAIL_FROM: Final = "Dinero Gateway <gateway@localhost>"
SEND_TIMEOUT: Final = 60.0  # seconds, for the whole conversation with the server


class SmtpUrlError(ValueError):
    pass


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The server as a log line may name it: no password."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """The server in `url`; the error messages never repeat the URL (it holds a password)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SmtpUrlError("is not a URL (smtp://user:password@host:587)") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError("must start with smtp:// or smtps://")
    if not parts.hostname:
        raise SmtpUrlError("names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SmtpUrlError("must be only smtp(s)://user:password@host:port")
    implicit_tls = parts.scheme == "smtps"
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    if password is not None and username is None:
        raise SmtpUrlError("has a password but no user name")
    return SmtpConfig(
        host=parts.hostname,
        port=port or (465 if implicit_tls else 587),
        implicit_tls=implicit_tls,
        username=username,
        password=password,
    )


def parse_mail_from(value: str) -> str:
    """`alerts@example.com` or `Dinero Gateway <alerts@example.com>`, normalised."""
    name, address = email.utils.parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c in address for c in " \r\n<>"):
        raise ValueError("must be an e-mail address, optionally with a name: Name <a@b.dk>")
    return email.utils.formataddr((name, address)) if name else address


@dataclass(frozen=True)
class Mail:
    """One message to one recipient, with a plain-text and an HTML body."""

    recipient: str
    subject: str
    text: str
    html: str
    # e.g. List-Unsubscribe, List-Unsubscribe-Post (RFC 8058), Message-ID
    headers: tuple[tuple[str, str], ...] = ()


class SendFailed(Exception):
    """The server did not take the mail. `permanent`: it said no for good (a 5xx reply)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def build_message(mail: Mail, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    for name, value in mail.headers:
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


async def send(config: SmtpConfig, mail: Mail, *, sender: str) -> None:
    """Hands `mail` to the server; returns once the server has accepted it."""
    message = build_message(mail, sender=sender)
    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password.reveal() if config.password else None,
            use_tls=config.implicit_tls,
            # None: upgrade with STARTTLS when the server offers it.
            start_tls=False if config.implicit_tls else None,
            timeout=SEND_TIMEOUT,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        raise SendFailed(_describe(exc), permanent=all(c >= 500 for c in codes)) from None
    except aiosmtplib.SMTPDataError as exc:
        raise SendFailed(_describe(exc), permanent=exc.code >= 500) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise SendFailed(_describe(exc), permanent=False) from None


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:500]}"
