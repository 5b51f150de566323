"""SMSCenter's Email 2 SMS intake: an aiosmtpd handler that turns mails into messages.

A mail to ``<number>@smscenter.co.il`` (one or more) whose Subject is
``"<username> <password>"`` becomes an SMS from the ``From`` display name (or address)
with the plain-text body as its text. aiosmtpd is imported only by the simulator, when
it starts an SMTP server (``Simulator(smtp=True)``); this handler needs nothing of it.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Final

from ._smscenter_world import SmsCenterMail, SmsCenterWorld

__all__ = ["MAIL_DOMAIN", "SmsCenterMailHandler"]

MAIL_DOMAIN: Final = "smscenter.co.il"


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):
        return ""
    return content.strip() if isinstance(content, str) else ""


class SmsCenterMailHandler:
    """An aiosmtpd handler: recipients outside ``@smscenter.co.il`` are refused
    (``550``); every mail taken is recorded in ``world.mails`` with its outcome, a mail
    with wrong credentials too (SMTP accepts it; no SMS goes out)."""

    def __init__(self, world: SmsCenterWorld) -> None:
        self.world = world

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        local, _, domain = address.rpartition("@")
        if not local or domain.lower() != MAIL_DOMAIN:
            return f"550 5.1.1 <{address}>: not a {MAIL_DOMAIN} number"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        self.take(str(envelope.mail_from or ""), list(envelope.rcpt_tos), data)
        return "250 OK"

    def take(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> SmsCenterMail:
        """Turn one mail into a message (or a refusal) and record it."""
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        subject = str(parsed.get("Subject", "") or "")
        words = subject.split(maxsplit=1)
        username = words[0] if words else ""
        password = words[1].strip() if len(words) > 1 else ""
        name, address = parseaddr(str(parsed.get("From", "") or ""))
        sender = name or address or mail_from
        numbers = [rcpt.rpartition("@")[0] for rcpt in rcpt_tos]
        text = _text_of(parsed)
        outcome, message = self.world.mail_sms(username, password, sender, numbers, text)
        mail = SmsCenterMail(
            mail_from, tuple(rcpt_tos), sender, username, subject, text, outcome,
            message.id if message is not None else None, self.world.now(),
        )  # fmt: skip
        self.world.mails.append(mail)
        return mail
