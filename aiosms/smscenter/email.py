"""SMSCenter's Email→SMS: the mail to write (pure), and sending it by SMTP.

SMSCenter turns a mail into an SMS (spec "Email 2 SMS"): ``To`` holds one
``<number>@smscenter.co.il`` address per recipient, ``From`` is the SMS's signature,
the ``Subject`` is the username and (encrypted) password, and the body is the text.
:func:`build_email` writes that mail; :func:`send_email` hands it to your SMTP server
with aiosmtplib (``pip install "aiosms[email]"``), imported only when used.

The Subject *is* the credentials: the mail is as secret as the password. Send it over
TLS (``use_tls=True``, or STARTTLS, which is used whenever the server offers it) to a
server you trust. aiosms never writes the Subject, the password or ``smtp_password``
in a log line, an error or a repr.

**Never sent twice by accident.** :func:`send_email` sends nothing unless the server
takes every recipient (one refused: the envelope is reset before the text is sent, and
the error says nothing was sent). Once the text has left, a lost connection or a
timeout before the server's answer raises :class:`~aiosms.SendOutcomeUnknownError`;
a refusal (4xx/5xx) in answer to the text means the server did not take the mail, so
it raises :class:`~aiosms.ProviderError` (:class:`~aiosms.ProviderBusyError` for 4xx).
"""

from __future__ import annotations

import contextlib
import email.policy
import enum
import logging
import re
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, Final

from .._redact import Redactor
from ..errors import (
    AuthenticationError,
    InvalidRequestError,
    ProviderBusyError,
    ProviderError,
    SendOutcomeUnknownError,
    SmsError,
    TransportError,
)
from .codes import PROVIDER
from .numbers import normalize_numbers

if TYPE_CHECKING:
    from aiosmtplib import SMTP

__all__ = [
    "DEFAULT_DOMAIN",
    "MAX_RECIPIENTS",
    "MAX_TEXT",
    "POLICY",
    "build_email",
    "send_email",
]

logger = logging.getLogger("aiosms.smscenter.email")

DEFAULT_DOMAIN: Final = "smscenter.co.il"
MAX_TEXT: Final = 1_000
"""Characters of one message (as :mod:`aiosms.smscenter.codec` allows; SMSCenter chains)."""
MAX_RECIPIENTS: Final = 100
"""Recipients of one mail: every SMTP server must take 100 (RFC 5321 §4.5.3.1.8)."""

POLICY: Final = email.policy.SMTP.clone(max_line_length=998)
"""The SMTP policy, with lines up to RFC 5322's 998 characters: at the default 78, a
long password in the Subject would be RFC 2047-encoded on folding, and SMSCenter might
not read it back."""

_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
_SIGNATURE = re.compile(r"[\w+'-]+(?:[ .][\w+'-]+)*")  # letters of any script, no specials
_SIGNATURE_LIMIT: Final = 40
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # \t \n \f and \r (as a break) pass
_MAILBOX = re.compile(r"[^\s<>()\[\]\\,;:@\"]+@[A-Za-z0-9.-]+")


def _invalid(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, provider=PROVIDER)


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise _invalid(f"the text must be a str, not {type(text).__name__}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise _invalid("the text is empty")
    if len(text) > MAX_TEXT:
        raise _invalid(f"the text has {len(text)} characters; at most {MAX_TEXT} are sent")
    if _CONTROL.search(text):
        raise _invalid("the text holds control characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("the text is not valid Unicode (a lone surrogate)") from None
    return text


def _check_credentials(username: object, password: object) -> str:
    """The Subject, ``"<username> <password>"``; never echoes either."""
    if not (isinstance(username, str) and 0 < len(username) <= 100):
        raise _invalid("the username must be a non-empty str of at most 100 characters")
    if not username.isprintable() or any(c.isspace() for c in username):
        raise _invalid("the username must hold no spaces or control characters")
    if not (isinstance(password, str) and 0 < len(password) <= 200):
        raise _invalid("the password must be a non-empty str of at most 200 characters")
    if not password.isprintable() or password != password.strip():
        raise _invalid("the password must hold no control characters or outer spaces")
    return f"{username} {password}"


def _check_sender(sender: object, *, echo: bool) -> str:
    """``sender`` as a ``From`` value: an address (``Name <a@b.example>``) or a bare
    signature (``Acme``), which SMSCenter uses as the SMS's sender."""
    shown = f" {sender!r:.60}" if echo else " (the username, as no sender= is given)"
    if not isinstance(sender, str) or not sender.isprintable():
        raise _invalid(f"the sender{shown} must be a str without control characters")
    if "@" in sender:
        header = POLICY.header_factory("From", sender)
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        if (
            len(addresses) != 1
            or header.defects
            or not _MAILBOX.fullmatch(addresses[0].addr_spec)
            or not addresses[0].addr_spec.isascii()
        ):
            raise _invalid(f"the sender{shown} is not one ASCII address")
        return sender
    if len(sender) > _SIGNATURE_LIMIT or not _SIGNATURE.fullmatch(sender):
        raise _invalid(
            f"the sender{shown} must be an address, or a signature of at most "
            f"{_SIGNATURE_LIMIT} letters, digits, spaces and . + ' -"
        )
    # Written as the mail will carry it, and read back: some mixes of scripts (``0.א``)
    # come out as RFC 2047 words that a reader would not decode to the same text.
    written = POLICY.header_factory("From", sender).fold(policy=POLICY).partition(":")[2]
    if str(make_header(decode_header(written.strip()))) != sender:
        raise _invalid(f"the sender{shown} cannot be written as it is; separate its scripts")
    return sender


def build_email(
    text: str,
    to: str | Iterable[str],
    *,
    username: str,
    password: str,
    sender: str | None = None,
    domain: str = DEFAULT_DOMAIN,
) -> EmailMessage:
    """The one mail that sends ``text`` to ``to`` through SMSCenter's Email→SMS (pure).

    ``To`` holds ``+972541234567@smscenter.co.il`` for each recipient (numbers
    normalized, each once), ``Subject`` is ``f"{username} {password}"`` as the spec
    requires, ``From`` is ``sender`` (a signature such as ``Acme``, or an address;
    the username when ``None``) and the body is ``text`` in UTF-8 (line breaks as
    ``\\n``). The mail uses :data:`POLICY`.

    Raises:
        InvalidRequestError: an empty or overlong text, a number that is not Israeli,
            more than :data:`MAX_RECIPIENTS` recipients, credentials with spaces or
            control characters, a malformed sender or domain.
    """
    body = _check_text(text)
    subject = _check_credentials(username, password)
    from_ = _check_sender(username if sender is None else sender, echo=sender is not None)
    if not (isinstance(domain, str) and len(domain) <= 253 and _DOMAIN.fullmatch(domain)):
        raise _invalid(f"not a mail domain: {domain!r:.60}")
    numbers = normalize_numbers(to)
    if len(numbers) > MAX_RECIPIENTS:
        raise _invalid(
            f"{len(numbers)} recipients; one mail takes at most {MAX_RECIPIENTS}, send several"
        )
    message = EmailMessage(policy=POLICY)
    message["From"] = from_
    message["To"] = [Address(addr_spec=f"{n}@{domain.lower()}") for n in numbers]
    message["Subject"] = subject
    message.set_content(body, charset="utf-8")
    return message


# ---------------------------------------------------------------------------- SMTP


class _Phase(enum.Enum):
    CONNECT = "connecting to"
    LOGIN = "logging in to"
    ENVELOPE = "giving the envelope to"
    DATA = "sending the mail to"


def _secrets(message: EmailMessage, smtp_password: str | None) -> Redactor:
    redactor = Redactor()
    subject = str(message.get("Subject", ""))
    for secret in (subject, subject.partition(" ")[2], smtp_password or ""):
        if secret:
            redactor.add_secret(secret)
    return redactor


def _mailbox(text: str) -> str | None:
    """``text`` as a plain ASCII mailbox for the envelope, or None."""
    text = text.strip()
    return text if text.isascii() and _MAILBOX.fullmatch(text) else None


def _envelope(
    message: EmailMessage, envelope_from: str | None, smtp_username: str | None
) -> tuple[str, list[str]]:
    """The envelope's sender and recipients.

    The sender is ``envelope_from``, else the ``From`` address, else ``smtp_username``
    when it is an address, else the null sender ``<>``.
    """
    if envelope_from is not None:
        sender = _mailbox(envelope_from) if isinstance(envelope_from, str) else None
        if sender is None and envelope_from != "":
            raise _invalid(f"envelope_from is not an address: {envelope_from!r:.60}")
    else:
        given = getaddresses([str(v) for v in message.get_all("From", [])])
        candidates = [a for _, a in given[:1]] + [smtp_username or ""]
        sender = next((m for m in map(_mailbox, candidates) if m), "")
    recipients = [
        address
        for _, address in getaddresses(
            [str(v) for k in ("To", "Cc") for v in message.get_all(k, [])]
        )
    ]
    if not recipients:
        raise _invalid("the mail has no recipients (To)")
    if len(recipients) > MAX_RECIPIENTS or not all(map(_mailbox, recipients)):
        raise _invalid(f"the mail needs 1 to {MAX_RECIPIENTS} plain ASCII recipient addresses")
    return sender or "", recipients


async def send_email(
    message: EmailMessage,
    *,
    smtp_host: str,
    smtp_port: int = 25,
    smtp_username: str | None = None,
    smtp_password: str | None = None,
    use_tls: bool = False,
    start_tls: bool | None = None,
    timeout: float = 30.0,  # noqa: ASYNC109  (aiosmtplib's, per step: see the docstring)
    envelope_from: str | None = None,
) -> None:
    """Send ``message`` (from :func:`build_email`) through the SMTP server at
    ``smtp_host``, logging in when ``smtp_username`` is given.

    ``use_tls`` connects over TLS (port 465 style); ``start_tls`` upgrades with
    STARTTLS (``None``: whenever the server offers it; ``True``: always; ``False``:
    never). ``timeout`` bounds each step (connect, each command, the text). The
    envelope's sender is ``envelope_from``, else the ``From`` address, else
    ``smtp_username`` when it is an address, else the null sender ``<>`` (a server may
    refuse that: then pass ``envelope_from``). The envelope's recipients are ``To``.

    Raises:
        ImportError: aiosmtplib is not installed.
        InvalidRequestError: bad arguments, found before connecting.
        TransportError: the server could not be reached or talked to; nothing was sent.
        AuthenticationError: the server refused the login (never retried).
        ProviderError: the server refused the sender, a recipient or the mail; nothing
            was sent (:class:`~aiosms.ProviderBusyError` when it said try later, 4xx).
        SendOutcomeUnknownError: the connection failed after the text left; the mail
            may have been accepted.
    """
    try:
        import aiosmtplib
    except ImportError:
        raise ImportError('send_by_email needs aiosmtplib: pip install "aiosms[email]"') from None

    if not isinstance(message, EmailMessage):
        raise _invalid("send_email takes the EmailMessage build_email made")
    if not (isinstance(smtp_host, str) and smtp_host.strip()):
        raise _invalid("smtp_host is empty")
    if not (isinstance(smtp_port, int) and 0 < smtp_port < 65536):
        raise _invalid(f"smtp_port {smtp_port!r:.20} is not a port")
    if not (isinstance(timeout, int | float) and timeout > 0):
        raise _invalid("timeout must be a positive number of seconds")
    if use_tls and start_tls:
        raise _invalid("use_tls and start_tls exclude each other (use_tls is TLS from the start)")
    if smtp_password is not None and smtp_username is None:
        raise _invalid("smtp_password needs smtp_username")
    sender, recipients = _envelope(message, envelope_from, smtp_username)
    redactor = _secrets(message, smtp_password)
    client = aiosmtplib.SMTP(
        hostname=smtp_host,
        port=smtp_port,
        use_tls=use_tls,
        start_tls=start_tls,
        timeout=timeout,
    )
    phase = _Phase.CONNECT
    try:
        await client.connect()
        await _greet(client)
        if smtp_username is not None:
            phase = _Phase.LOGIN
            await client.login(smtp_username, smtp_password or "")
        phase = _Phase.ENVELOPE
        if client.get_transport_info("sslcontext") is None:
            logger.warning(
                "Email→SMS: the mail carries the SMSCenter credentials and goes to %s:%d "
                "unencrypted; pass use_tls=True or use a server that offers STARTTLS",
                smtp_host,
                smtp_port,
            )
        eight_bit = client.supports_extension("8bitmime")
        data = message.as_bytes(
            policy=message.policy.clone(cte_type="8bit" if eight_bit else "7bit")
        )
        await client.mail(sender, options=["BODY=8BITMIME"] if eight_bit else [])
        await _recipients(client, recipients, redactor)
        phase = _Phase.DATA
        await client.data(data)
    except BaseException as exc:
        client.close()
        if isinstance(exc, SmsError) or not isinstance(exc, Exception):
            raise
        raise _failure(exc, phase, redactor, f"{smtp_host}:{smtp_port}") from None
    logger.debug("Email→SMS: %s took the mail for %d recipients", smtp_host, len(recipients))
    try:
        await client.quit()  # the mail is taken: nothing after this is an error
    except Exception:  # noqa: S110
        pass
    finally:
        client.close()


async def _greet(client: SMTP) -> None:
    """EHLO, or HELO where EHLO is refused, unless connecting did it already."""
    import aiosmtplib

    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()


async def _recipients(client: SMTP, recipients: list[str], redactor: Redactor) -> None:
    """RCPT each recipient; when any is refused, reset the envelope and raise."""
    import aiosmtplib

    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    for address in recipients:
        try:
            await client.rcpt(address)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused.append(exc)
    if not refused:
        return
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.rset()  # the mail is not sent either way: no DATA follows
    first = refused[0]
    cls = ProviderBusyError if all(400 <= e.code < 500 for e in refused) else ProviderError
    shown = ", ".join(e.recipient.partition("@")[0] for e in refused[:5])
    raise cls(
        f"the SMTP server refused {len(refused)} of {len(recipients)} recipients "
        f"({shown}{', …' if len(refused) > 5 else ''}); nothing was sent",
        provider=PROVIDER,
        code=str(first.code),
        provider_message=redactor.redact(first.message)[:300],
    )


def _failure(exc: Exception, phase: _Phase, redactor: Redactor, server: str) -> SmsError:
    """The aiosms error for what aiosmtplib raised while ``phase``."""
    import aiosmtplib

    said = redactor.redact(str(exc))[:300]
    where = f"{phase.value} the SMTP server {server}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = str(exc.code)
        said = redactor.redact(exc.message)[:300]
    else:
        code = None
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError) or (
        phase is _Phase.LOGIN and not isinstance(exc, OSError)
    ):
        return AuthenticationError(
            f"the SMTP server refused the login ({where})",
            provider=PROVIDER,
            code=code,
            provider_message=said,
        )
    if isinstance(exc, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError):
        cls = ProviderBusyError if 400 <= exc.code < 500 else ProviderError
        what = "the sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "the mail"
        return cls(
            f"the SMTP server refused {what}; nothing was sent",
            provider=PROVIDER,
            code=code,
            provider_message=said,
        )
    if phase is _Phase.DATA:
        return SendOutcomeUnknownError(
            f"failed while {where}, after the text may have left: the mail may have been "
            f"accepted and the SMS sent; check before sending again ({said})",
            provider=PROVIDER,
            code=code,
        )
    if isinstance(exc, ValueError):
        return InvalidRequestError(f"aiosmtplib refused the arguments: {said}", provider=PROVIDER)
    return TransportError(
        f"failed while {where}; nothing was sent ({said})",
        provider=PROVIDER,
        code=code,
        provider_message=said if code else None,
        retryable=isinstance(exc, OSError),
    )
