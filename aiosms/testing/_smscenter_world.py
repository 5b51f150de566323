"""Everything the simulated SMSCenter keeps: accounts and prepaid balances, SMS and IVR
messages and how they progress, e-mails taken in, and delivery notifications.

The endpoints (:mod:`._smscenter`) parse the wire and call the operations here with
typed arguments; the answers are SMSCenter's own status texts.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from . import _smscenter_model as m
from ._smscenter_model import (
    SmsCenterAccount,
    SmsCenterEvent,
    SmsCenterIvrCall,
    SmsCenterIvrMessage,
    SmsCenterMessage,
    SmsCenterRecipient,
    default_fate,
    default_ivr_fate,
    parse_number,
    sms_parts,
    spread,
)
from ._smscenter_notify import Notifications
from ._soap_service import SoapChildren

__all__ = ["SmsCenterMail", "SmsCenterWorld"]


@attrs.frozen
class SmsCenterMail:
    """One e-mail the SMTP intake took: envelope, the sender and text it made of it, and
    the outcome (``"OK"`` or the refusal text; the subject, which holds the password,
    stays out of ``repr``)."""

    mail_from: str
    recipients: tuple[str, ...]
    sender: str
    username: str
    subject: str = attrs.field(repr=False)
    text: str = ""
    outcome: str = m.OK
    message_id: int | None = None
    at: float = 0.0

    @property
    def refused(self) -> bool:
        return self.outcome != m.OK


class SmsCenterWorld(Notifications):
    """The simulated SMSCenter: accounts, messages, mails and notifications.

    A default account ``demo`` / ``demo-password`` exists (1000 SMS, 10,000 IVR seconds).
    An SMS recipient goes ``300`` Accepted → ``500`` Buffered → its final status over
    ``delivery_time`` seconds (0.5 to 1.5 times it, staggered), from when the message
    goes out (``DeliveryDelayInMinutes`` later); :func:`default_fate` picks the final
    status by the last digit (0–5 ``600`` delivered, 6 ``200`` failed, 7 ``700``/703
    unknown subscriber, 8 ``400``/402 black list, 9 ``700``/701 expired). IVR calls go
    ``DelayedMessage`` (while delayed) → ``Queued`` → ``Calling`` → final
    (:func:`default_ivr_fate`: 0–6 ``IVRCallSuccess``, 7 ``IVRCallNotSuccess``, 8
    ``FailedCall``, 9 ``MessageExpired``).

    Attributes:
        fate: ``fate(msisdn) -> (status, reason)``, replaceable.
        ivr_fate: ``ivr_fate(msisdn) -> (status, call seconds, key)``, replaceable.
        accounts: username → :class:`SmsCenterAccount`.
        messages: MessageID → :class:`SmsCenterMessage` or :class:`SmsCenterIvrMessage`.
        mails: every e-mail taken in (:class:`SmsCenterMail`), refused ones included.
        notify_url: the notification URL template (``None``: no notifications).
        retry_interval, retry_for: a notification not answered with ``_OK_`` is
            repeated every ``retry_interval`` seconds for ``retry_for`` seconds at most.
        notifications: those answered with ``_OK_``, in order; notification_attempts:
            every GET made; notifications_given_up: those never answered ``_OK_``.
    """

    def __init__(
        self, *, delivery_time: float = 0.2, clock: Callable[[], float] | None = None
    ) -> None:
        self.delivery_time = delivery_time
        self._clock = clock or time.time
        self.fate: Callable[[str], tuple[int, int]] = default_fate
        self.ivr_fate: Callable[[str], tuple[str, int, str]] = default_ivr_fate
        self.accounts: dict[str, SmsCenterAccount] = {}
        self.messages: dict[int, SmsCenterMessage | SmsCenterIvrMessage] = {}
        self.mails: list[SmsCenterMail] = []
        self._init_notifications()
        self._ids = itertools.count(1)
        self._spread = itertools.count()
        self.add_account("demo", "demo-password")

    def __repr__(self) -> str:
        return f"SmsCenterWorld(accounts={len(self.accounts)}, messages={len(self.messages)})"

    def now(self) -> float:
        return self._clock()

    def add_account(
        self,
        username: str,
        password: str,
        *,
        sms: int = 1000,
        ivr_seconds: int = 10_000,
        mms: int = 0,
        users: Mapping[str, int] | None = None,
        **options: Any,
    ) -> SmsCenterAccount:
        """Create (or replace) an account; ``options`` are :class:`SmsCenterAccount`'s
        (``disabled``, ``company_disabled``, ``allow_push``, ``user_prepaid_mode``,
        ``records``, ``allow_from``)."""
        made = SmsCenterAccount(
            username, password, sms, ivr_seconds, mms, dict(users or {}), **options
        )
        self.accounts[username] = made
        return made

    def sms(self, message_id: int) -> SmsCenterMessage:
        """The SMS message ``message_id`` (``KeyError`` if none)."""
        found = self.messages[message_id]
        if not isinstance(found, SmsCenterMessage):
            raise KeyError(message_id)
        return found

    def ivr(self, message_id: int) -> SmsCenterIvrMessage:
        """The IVR message ``message_id`` (``KeyError`` if none)."""
        found = self.messages[message_id]
        if not isinstance(found, SmsCenterIvrMessage):
            raise KeyError(message_id)
        return found

    # ------------------------------------------------------------------ auth

    def login(
        self, username: str, password: str, remote: str | None = None
    ) -> SmsCenterAccount | str:
        """The account, or the status text refusing it (``remote``: the client's
        address, checked for the web services)."""
        account = self.accounts.get(username)
        if account is None or account.password != password:
            return m.BAD_LOGIN
        if account.company_disabled:
            return m.COMPANY_DISABLED
        if account.disabled:
            return m.USER_DISABLED
        allowed = account.allow_from
        if remote is not None and allowed is not None and remote not in allowed:
            return m.INVALID_IP
        return account

    # ------------------------------------------------------------------ SMS

    def send_sms(
        self,
        account: SmsCenterAccount,
        *,
        sender: str,
        numbers: Sequence[str],
        text: str,
        channel: m.Channel,
        chained: bool,
        delay_minutes: int = 0,
        expiration_minutes: int = 0,
        **extra: Any,
    ) -> tuple[str, SmsCenterMessage | None]:
        """Send ``text`` to ``numbers`` (as given, any form): the status text, and the
        message when one was made. ``extra``: :class:`SmsCenterMessage` fields
        (``operation``, ``option``, ``price``, ``cc``)."""
        if not text:
            return m.EMPTY_MESSAGE, None
        given = [n.strip() for n in numbers if n.strip()]
        if not given:
            return m.NO_NUMBERS, None
        msisdns: dict[str, None] = {}
        refused = []
        for number in given:
            msisdn = parse_number(number)
            if msisdn is None:
                refused.append(number)
            else:
                msisdns.setdefault(msisdn)
        if not msisdns:
            return m.INVALID_NUMBER, None
        parts = sms_parts(text, chained=chained)
        paid, unpaid = [], []
        for msisdn in msisdns:
            if account.sms >= parts:
                account.sms -= parts
                paid.append(msisdn)
            else:
                unpaid.append(msisdn)
        if not paid:
            return m.NONE_SENT, None
        now = self.now()
        send_at = now + max(delay_minutes, 0) * 60
        expired = 0 < expiration_minutes <= delay_minutes
        recipients = []
        for msisdn in paid:
            final_at = send_at + self.delivery_time * spread(next(self._spread))
            timeline = (
                [SmsCenterEvent(send_at, 700, 701)]
                if expired
                else m.sms_timeline(self.fate(msisdn), send_at, final_at)
            )
            recipients.append(SmsCenterRecipient(msisdn, timeline))
        message = SmsCenterMessage(
            next(self._ids), account.username, sender, text, channel, recipients,
            parts=parts, chained=chained, truncated=not chained and not m.fits_one(text),
            created_at=now, send_at=send_at, refused=refused, unpaid=unpaid, **extra,
        )  # fmt: skip
        self.messages[message.id] = message
        self._open[message.id] = message
        return (m.SOME_SENT if refused or unpaid else m.OK), message

    def push_sms(self, params: Mapping[str, str]) -> str:
        """``pushsms.aspx``: ``params`` by lower-case name; the answer text."""
        if params.get("enc", "") == "1":  # OfficeCore's ActiveX encryption: not modelled
            return m.BAD_LOGIN
        account = self.login(params.get("username", ""), params.get("password", ""))
        if isinstance(account, str):
            return account
        text, sender = params.get("message", ""), params.get("sender", "")
        number = params.get("tophonenumber", "").strip()
        if not text:
            return m.PUSH_EMPTY_MESSAGE
        if not sender.strip():
            return m.PUSH_EMPTY_SENDER
        if not number:
            return m.PUSH_EMPTY_NUMBER
        if parse_number(number) is None:
            return m.PUSH_NO_OPERATOR
        status, _ = self._push_send(
            account, sender, [number], text, "pushsms", params.get("enablechaining") == "1"
        )
        return status

    def mail_sms(
        self, username: str, password: str, sender: str, numbers: Sequence[str], text: str
    ) -> tuple[str, SmsCenterMessage | None]:
        """Email 2 SMS: the outcome (a ``pushsms.aspx`` text) and the message made."""
        account = self.login(username, password)
        if isinstance(account, str):
            return account, None
        if not text:
            return m.PUSH_EMPTY_MESSAGE, None
        if not numbers:
            return m.PUSH_EMPTY_NUMBER, None
        if all(parse_number(n) is None for n in numbers):
            return m.PUSH_NO_OPERATOR, None
        return self._push_send(account, sender, numbers, text, "email", True)

    def _push_send(
        self,
        account: SmsCenterAccount,
        sender: str,
        numbers: Sequence[str],
        text: str,
        channel: m.Channel,
        chained: bool,
    ) -> tuple[str, SmsCenterMessage | None]:
        if not account.allow_push or account.sms < sms_parts(text, chained=chained):
            return m.PUSH_NOT_ALLOWED, None
        _, message = self.send_sms(
            account, sender=sender, numbers=numbers, text=text, channel=channel, chained=chained
        )
        return (m.OK, message) if message is not None else (m.PUSH_NOT_ALLOWED, None)

    # ------------------------------------------------------------------ IVR

    def send_ivr(
        self,
        account: SmsCenterAccount,
        *,
        sender: str,
        record_id: int,
        numbers: Sequence[str],
        text: str = "",
        delay_minutes: int = 0,
        expiration_minutes: int = 0,
    ) -> tuple[str, SmsCenterIvrMessage | None]:
        """Call ``numbers`` with recording ``record_id``: the login status text, and the
        message when one was made. IVR seconds are charged as the calls are placed, by
        their (fated) length; a call the balance does not cover ends
        ``NotEnoughIVRSecondsAvailable``."""
        if record_id <= 0 or (account.records is not None and record_id not in account.records):
            return m.RECORD_NOT_ALLOWED, None
        given = [n.strip() for n in numbers if n.strip()]
        if not given:
            return m.NO_NUMBERS, None
        msisdns = dict.fromkeys(p for p in map(parse_number, given) if p is not None)
        refused = [n for n in given if parse_number(n) is None]
        if not msisdns:
            return m.INVALID_NUMBER, None
        if account.ivr_seconds <= 0:
            return m.NO_MORE_IVR, None
        now = self.now()
        send_at = now + max(delay_minutes, 0) * 60
        calls = []
        for msisdn in msisdns:
            fate = self.ivr_fate(msisdn)
            if 0 < expiration_minutes <= delay_minutes:
                fate = ("MessageExpired", 0, "")
            elif fate[1] > account.ivr_seconds:
                fate = ("NotEnoughIVRSecondsAvailable", 0, "")
            account.ivr_seconds -= fate[1]
            total = self.delivery_time * spread(next(self._spread))
            calls.append(
                SmsCenterIvrCall(
                    msisdn, fate, delay_minutes > 0, send_at, send_at + total / 3, send_at + total
                )
            )
        message = SmsCenterIvrMessage(
            next(self._ids), account.username, sender, record_id, text, calls, now, refused
        )
        self.messages[message.id] = message
        return (m.SOME_SENT if refused else m.OK), message

    def ivr_report(self, account: SmsCenterAccount, message_id: int) -> SoapChildren:
        """``ArrIVRMessagesReturnResponse`` of ``message_id`` (empty for another
        account's message or an unknown id)."""
        found = self.messages.get(message_id)
        if not isinstance(found, SmsCenterIvrMessage) or found.username != account.username:
            return []
        now = self.now()
        rows: list[tuple[str, str | SoapChildren]] = []
        for call in found.calls:
            status, date, length, key = call.report(now)
            row: SoapChildren = [
                ("Mobile", call.msisdn), ("Status", status), ("SendDate", date),
                ("CallLength", str(length)), ("Response", key),
            ]  # fmt: skip
            rows.append(("IVRMessageReturnResponse", row))
        return rows

    # ------------------------------------------------------------------ prepaid

    def users_prepaid(self, account: SmsCenterAccount, *, all_users: bool) -> SoapChildren:
        """``Items`` of ``CheckUsersPrePaid``: the login user, then (all users) the others."""
        mode = "true" if account.user_prepaid_mode else "false"
        figures = [(account.username, account.sms)]
        if all_users:
            figures += list(account.users.items())
        return [
            ("UserPrePaid", [("UserName", name), ("SMS", str(sms)),
                             ("UserWorkingInPrePaidMode", mode)])
            for name, sms in figures
        ]  # fmt: skip
