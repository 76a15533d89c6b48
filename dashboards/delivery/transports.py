"""Sending: SMTP for email channels (and the board pack), HTTP POST for Slack and signed webhooks.

A send either returns a short detail for the log (`250 OK`, `HTTP 200`) or raises SendError, marked transient
(connection refused, timeout, HTTP 429 / 5xx, SMTP 4xx: worth another try) or permanent (HTTP 4xx, SMTP 5xx,
a missing secret). Error texts never contain a secret: a Slack URL, a password or a signing secret.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

import httpx

from dashboards.delivery.config import (
    AlertsConfig,
    ConfigError,
    EmailChannel,
    SlackChannel,
    Smtp,
    WebhookChannel,
    expand,
)
from dashboards.delivery.messages import Notice, render_email, render_slack, render_webhook
from dashboards.delivery.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign

USER_AGENT = "execmetrics-delivery/1"


class SendError(RuntimeError):
    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str  # "application/pdf", "text/html"

    @classmethod
    def from_path(cls, path: Path, mime: str) -> Attachment:
        return cls(path.name, path.read_bytes(), mime)


class Sender(Protocol):
    def __call__(
        self, name: str, channel: EmailChannel | SlackChannel | WebhookChannel, notice: Notice, delivery_id: str
    ) -> str: ...


# ------------------------------------------------------------------------------------------------ email


def send_email(
    smtp: Smtp,
    to: Sequence[str],
    subject: str,
    plain: str,
    html_body: str | None = None,
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
) -> str:
    message = EmailMessage()
    message["From"] = expand(smtp.sender, "smtp.from")
    message["To"] = ", ".join(expand(address, "email recipient") for address in to)
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="execmetrics")
    message.set_content(plain)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    for attachment in attachments:
        maintype, subtype = attachment.mime.split("/", 1)
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    host = expand(smtp.host, "smtp.host")
    password = expand(smtp.password, "smtp.password") if smtp.password else None
    username = expand(smtp.username, "smtp.username") if smtp.username else None
    try:
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(
                host, smtp.port, timeout=smtp.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.starttls and not smtp.ssl:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                elif password:
                    raise SendError(
                        f"{host}:{smtp.port} offers no STARTTLS: not sending the password in clear", transient=False
                    )
            if username and password:
                client.login(username, password)
            refused = client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        transient = 400 <= exc.smtp_code < 500
        raise SendError(f"SMTP {exc.smtp_code} from {host}:{smtp.port}", transient=transient) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"SMTP server refused every recipient ({len(exc.recipients)})", transient=False) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"SMTP {host}:{smtp.port}: {type(exc).__name__}: {exc}", transient=True) from None
    if refused:
        raise SendError(f"SMTP server refused {len(refused)} of {len(to)} recipients", transient=False)
    return f"SMTP accepted for {len(to)} recipient(s)"


# ------------------------------------------------------------------------------------------------ HTTP


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float, shown_as: str) -> str:
    try:
        response = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=timeout,
        )
    except (OSError, httpx.TransportError) as exc:
        raise SendError(f"POST {shown_as}: {type(exc).__name__}", transient=True) from None
    if 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}"
    transient = response.status_code in (408, 425, 429) or response.status_code >= 500
    snippet = response.text[:200].replace("\n", " ")
    raise SendError(f"POST {shown_as}: HTTP {response.status_code} {snippet}".rstrip(), transient=transient)


def _shown(url: str) -> str:
    """Scheme and host only: the path of a Slack webhook URL is its secret."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def send_slack(channel: SlackChannel, notice: Notice, delivery_id: str) -> str:
    import json

    url = expand(channel.webhook_url, "slack webhook_url")
    body = json.dumps(render_slack(notice)).encode("utf-8")
    return _post(url, body, {DELIVERY_HEADER: delivery_id}, channel.timeout_seconds, _shown(url))


def send_webhook(channel: WebhookChannel, notice: Notice, delivery_id: str, *, now: float | None = None) -> str:
    url = expand(channel.url, "webhook url")
    secret = expand(channel.secret, "webhook secret")
    sent_at = int(time.time() if now is None else now)
    body = render_webhook(notice, delivery_id, sent_at)
    headers = {SIGNATURE_HEADER: sign(secret, body, sent_at), DELIVERY_HEADER: delivery_id, EVENT_HEADER: notice.event}
    return _post(url, body, headers, channel.timeout_seconds, _shown(url))


# ------------------------------------------------------------------------------------------------ dispatch


def channel_sender(config: AlertsConfig) -> Sender:
    """The real transports for the channels of `config`."""

    def send(name: str, channel: EmailChannel | SlackChannel | WebhookChannel, notice: Notice, delivery_id: str) -> str:
        try:
            if isinstance(channel, EmailChannel):
                assert config.smtp is not None  # validated with the file
                subject, plain, html_body = render_email(notice)
                return send_email(
                    config.smtp,
                    channel.to,
                    subject,
                    plain,
                    html_body,
                    message_id=f"<{delivery_id}@execmetrics>",
                )
            if isinstance(channel, SlackChannel):
                return send_slack(channel, notice, delivery_id)
            return send_webhook(channel, notice, delivery_id)
        except ConfigError as exc:
            raise SendError(f"channel {name}: {exc}", transient=False) from None

    return send
