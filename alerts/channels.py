"""Where an alert goes: a Slack-compatible incoming webhook (JSON {"text": ...}) and SMTP email."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

import requests

from config.console import AlertRoute, SmtpSettings
from schemas.masking import mask_text


class DeliveryError(Exception):
    """A channel refused or could not be reached; the message says which and why (never a secret)."""


def post_webhook(url: str, title: str, text: str, link: str, timeout: float = 5.0) -> None:
    # Slack reads `text` (mrkdwn, <url|label> links); Mattermost, Teams' Slack-compatible hooks and
    # most chat tools read the same field, so one payload serves them all.
    payload = {"text": f"*{title}*\n{text}\n<{link}|Open in the paysync console>", "username": "paysync"}
    try:
        response = requests.post(url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(f"webhook unreachable: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"webhook answered {response.status_code}")


def send_email(smtp: SmtpSettings, to: tuple[str, ...], title: str, text: str, link: str) -> None:
    message = EmailMessage()
    message["Subject"] = f"[paysync] {title}"
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    message.set_content(f"{text}\n\nOpen in the paysync console: {link}\n\n"
                        "You get this because your address is in ALERT_EMAIL_TO of paysync.\n")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                server.login(smtp.username, smtp.password.reveal())
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"email via {smtp.host}:{smtp.port} failed: {type(exc).__name__}") from None


def deliver(route: AlertRoute, smtp: SmtpSettings, title: str, text: str, link: str) -> list[str]:
    """Send to every channel of the route; return the failures (one line each), having tried them all."""
    title, text = mask_text(title), mask_text(text)
    failures = []
    for url in route.webhooks:
        try:
            post_webhook(url, title, text, link)
        except DeliveryError as exc:
            failures.append(str(exc))
    if route.emails:
        try:
            send_email(smtp, route.emails, title, text, link)
        except DeliveryError as exc:
            failures.append(str(exc))
    return failures
