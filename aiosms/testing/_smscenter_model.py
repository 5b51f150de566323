"""SMSCenter's rules, as the simulator models them: Israeli numbers, SMS parts, status
texts and codes, fates, and the records the world keeps.

The simulator's own reading of the spec, kept apart from the client's codec on purpose
(it never imports :mod:`aiosms.smscenter`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

import attrs

__all__ = [
    "ISRAEL",
    "REASONS",
    "STATUSES",
    "SmsCenterAccount",
    "SmsCenterEvent",
    "SmsCenterIvrCall",
    "SmsCenterIvrMessage",
    "SmsCenterMessage",
    "SmsCenterRecipient",
    "default_fate",
    "default_ivr_fate",
    "parse_number",
    "sms_parts",
]

ISRAEL: Final = ZoneInfo("Asia/Jerusalem")
"""SMSCenter's local time (Israel, with its daylight saving)."""

_GOLDEN: Final = 0.6180339887498949

# --------------------------------------------------------------------- status texts
OK: Final = "OK"
BAD_LOGIN: Final = "Invalid Username or Password."
COMPANY_DISABLED: Final = "Company is Disabled."
USER_DISABLED: Final = "User is disabled or deleted."
INVALID_IP: Final = "InvalidIPAddress"
INVALID_NUMBER: Final = "InvalidPhoneNumber"
NO_NUMBERS: Final = "ThePhoneNumberListMustContainAtLeastOneNumber"
EMPTY_MESSAGE: Final = "MessageCanNotBeEmpty"
NONE_SENT: Final = "NoMessagesSent"
SOME_SENT: Final = "SomeMessagesSent"
RECORD_NOT_ALLOWED: Final = "RecordIsNotAllowed"
NO_MORE_IVR: Final = "Company is not allowed to push more IVR messages through URL or MAIL"
# pushsms.aspx (and Email 2 SMS) answers
PUSH_EMPTY_MESSAGE: Final = "The message cannot be empty."
PUSH_EMPTY_SENDER: Final = "The Sender cannot be empty."
PUSH_EMPTY_NUMBER: Final = "The Recipient Phone Number cannot be empty"
PUSH_NO_OPERATOR: Final = "Company Has No Permission To Send to the specified Operator."
PUSH_NOT_ALLOWED: Final = "Company is not allowed to push more messages through URL or MAIL"

STATUSES: Final[Mapping[int, str]] = {
    200: "Failed", 300: "Accepted", 400: "Rejected", 500: "Buffered", 600: "Delivered",
    700: "Undeliver",
}  # fmt: skip
"""Delivery notification status codes → ``{StatusDes}``."""

REASONS: Final[Mapping[int, str]] = {
    204: "ProviderNotFound", 205: "CompanyDisabled", 206: "MobileEmpty",
    207: "NotEnoughSMSMessagesAvailable", 208: "NoPermissionToSendToProvider",
    210: "MessageExpired", 212: "UserIsDisabledOrDeleted", 214: "NumberBlackListedForCompany",
    215: "RestrictHours", 216: "RestrictDate", 217: "ExceededtheNumberOfTries",
    218: "TargetMobileCanNotStartWithNumberZero", 301: "Accepted",
    401: "Message rejected by provider", 402: "Black List", 501: "Buffered",
    601: "Message delivered",
    701: "Message EXPIRED/ SMSC Error: Message validity period has expired",
    702: "Invalid Dest Addr", 703: "Unknown subscriber", 704: "Message is in a rejected state",
    705: "Provision block", 706: "SMSC: Invalid Source Address", 707: "Routing Error",
    999: "Send the provider message",
}  # fmt: skip
"""Reason codes → ``{ReasonDes}``."""

_RINGING: Final = frozenset(
    {"IVRCallSuccess", "IVRCallNotSuccess", "FailedCall", "FailedWithResponse",
     "FailedWithoutResponse", "ExceededtheNumberOfTries", "Disconnected"}
)  # fmt: skip
"""Final IVR statuses reached after the number was called (``Calling`` before them)."""


# --------------------------------------------------------------------- numbers, parts

_NUMBER: Final = re.compile(r"(?:\+972|972|0)(5\d{8}|7\d{8}|[2-489]\d{7})")
_SEPARATORS: Final = str.maketrans("", "", " -()")


def parse_number(text: str) -> str | None:
    """An Israeli number in any of the spec's forms (``+972541234567``,
    ``054-1234567``, ``0541234567``; spaces, dashes and brackets ignored) as
    ``972541234567``, or ``None`` when it is not one."""
    compact = text.strip().translate(_SEPARATORS)
    found = _NUMBER.fullmatch(compact) if len(compact) <= 20 else None
    return None if found is None else "972" + found.group(1)


_GSM7: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")


def sms_parts(text: str, *, chained: bool) -> int:
    """SMS parts ``text`` takes: one of 160 GSM-7 septets (the extension characters take
    two) or 70 UCS-2 units; chained, parts of 153 or 67. Unchained, always 1 (the rest
    is cut off)."""
    if all(c in _GSM7 or c in _GSM7_EXTENSION for c in text):
        length = sum(2 if c in _GSM7_EXTENSION else 1 for c in text)
        single, part = 160, 153
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    if length <= single or not chained:
        return 1
    return -(-length // part)


def fits_one(text: str) -> bool:
    """True when ``text`` fits one SMS (nothing is cut off unchained)."""
    return sms_parts(text, chained=True) == 1


def spread(index: int) -> float:
    """A deterministic factor in [0.5, 1.5) that staggers deliveries."""
    return 0.5 + (index * _GOLDEN) % 1.0


def israel_time(when: float, fmt: str) -> str:
    return datetime.fromtimestamp(when, ISRAEL).strftime(fmt)


# --------------------------------------------------------------------- fates

_SMS_FATES: Final[Mapping[str, tuple[int, int]]] = {
    "6": (200, 217), "7": (700, 703), "8": (400, 402), "9": (700, 701),
}  # fmt: skip


def default_fate(msisdn: str) -> tuple[int, int]:
    """``(status code, reason code)`` an SMS to ``msisdn`` ends in, by its last digit:
    0–5 ``600/601`` delivered, 6 ``200/217`` failed (ExceededtheNumberOfTries), 7
    ``700/703`` undelivered (unknown subscriber), 8 ``400/402`` rejected (black list),
    9 ``700/701`` undelivered (expired)."""
    return _SMS_FATES.get(msisdn[-1:], (600, 601))


def default_ivr_fate(msisdn: str) -> tuple[str, int, str]:
    """``(status, call length in seconds, key pressed)`` an IVR call to ``msisdn`` ends
    in, by its last digit ``d``: 0–6 ``IVRCallSuccess`` of ``8 + d`` seconds, the
    recipient pressing ``d`` (nothing for 0); 7 ``IVRCallNotSuccess`` (3 seconds);
    8 ``FailedCall``; 9 ``MessageExpired``."""
    last = msisdn[-1:]
    if last == "7":
        return "IVRCallNotSuccess", 3, ""
    if last == "8":
        return "FailedCall", 0, ""
    if last == "9":
        return "MessageExpired", 0, ""
    digit = int(last) if last.isdigit() else 0
    return "IVRCallSuccess", 8 + digit, str(digit) if digit else ""


# --------------------------------------------------------------------- records


@attrs.define
class SmsCenterAccount:
    """A simulated SMSCenter company and its login user.

    Attributes:
        username, password: the login (the "encrypted" password the support team gives).
        sms, ivr_seconds, mms: the prepaid balances (sends spend ``sms`` and
            ``ivr_seconds``).
        users: the company's other users → their SMS prepaid balance (reported by
            ``CheckUsersPrePaid`` with ``Mode=AllUsers``).
        disabled: the user is disabled (``User is disabled or deleted.``).
        company_disabled: the company is (``Company is Disabled.``).
        allow_push: sends through ``pushsms.aspx`` and e-mail are allowed.
        user_prepaid_mode: ``CompanyWorkingInUserPrepaidMode`` and each user's
            ``UserWorkingInPrePaidMode``.
        records: IVR ``RecordID``\\ s the company may use (``None``: any positive one).
        allow_from: client addresses the web services take (others: ``InvalidIPAddress``);
            ``None``: any.
    """

    username: str
    password: str = attrs.field(repr=False)
    sms: int = 1000
    ivr_seconds: int = 10_000
    mms: int = 0
    users: dict[str, int] = attrs.field(factory=dict)
    disabled: bool = False
    company_disabled: bool = False
    allow_push: bool = True
    user_prepaid_mode: bool = False
    records: Collection[int] | None = None
    allow_from: Collection[str] | None = None


@attrs.frozen
class SmsCenterEvent:
    """A delivery status an SMS recipient reaches: when, status and reason codes."""

    at: float
    status: int
    reason: int

    @property
    def status_text(self) -> str:
        return STATUSES.get(self.status, str(self.status))

    @property
    def reason_text(self) -> str:
        return REASONS.get(self.reason, str(self.reason))


def sms_timeline(fate: tuple[int, int], send_at: float, final_at: float) -> list[SmsCenterEvent]:
    """The statuses one recipient goes through: ``300`` Accepted at ``send_at``, ``500``
    Buffered half way, then the final one, for fates ``600``/``700``; a ``200`` or
    ``400`` fate is reached at ``final_at`` without being accepted first."""
    status, reason = fate
    middle = send_at + (final_at - send_at) / 2
    steps = [SmsCenterEvent(send_at, 300, 301), SmsCenterEvent(middle, 500, 501)]
    prefix = {300: 0, 500: 1, 600: 2, 700: 2}.get(status, 0)
    return [*steps[:prefix], SmsCenterEvent(final_at, status, reason)]


@attrs.define
class SmsCenterRecipient:
    """One recipient of an SMS message: its number (``972…``) and timeline."""

    msisdn: str
    timeline: list[SmsCenterEvent]
    notified: int = attrs.field(default=0, repr=False)
    """How many events of the timeline were queued as notifications."""

    def events(self, now: float) -> list[SmsCenterEvent]:
        """The statuses reached by ``now``, oldest first."""
        return [event for event in self.timeline if event.at <= now]

    def status(self, now: float) -> SmsCenterEvent | None:
        """The latest status reached by ``now`` (``None``: not sent yet)."""
        reached = self.events(now)
        return reached[-1] if reached else None

    @property
    def final(self) -> SmsCenterEvent:
        return self.timeline[-1]


Channel = Literal["SendMessageReturnMessageID", "SendMessagesV2", "pushsms", "email"]


@attrs.define
class SmsCenterMessage:
    """One SMS send (any channel), with its recipients.

    Attributes:
        id: the MessageID. username, sender, text: as sent (``text`` whole, even when
            ``truncated``). channel: how it came in.
        parts: SMS parts each recipient costs. chained: sent as a concatenated SMS.
        truncated: too long for one SMS and not chained: only the first part goes out.
        created_at, send_at: when it came in and when it goes out (simulator clock).
        refused: numbers given that are not valid; unpaid: valid ones the balance did
            not cover (neither was sent).
        operation, option, price, cc: ``SMSOperation``, ``MessageOption``, ``Price``
            and ``CCToEmail`` (SOAP sends).
    """

    id: int
    username: str
    sender: str
    text: str
    channel: Channel
    recipients: list[SmsCenterRecipient]
    parts: int = 1
    chained: bool = False
    truncated: bool = False
    created_at: float = 0.0
    send_at: float = 0.0
    refused: list[str] = attrs.field(factory=list)
    unpaid: list[str] = attrs.field(factory=list)
    operation: str = "Push"
    option: str = "Regular"
    price: Decimal = Decimal(0)
    cc: list[str] = attrs.field(factory=list)

    def recipient(self, number: str) -> SmsCenterRecipient:
        """The recipient ``number`` (any accepted form; ``KeyError`` if not one)."""
        msisdn = parse_number(number) or number
        for recipient in self.recipients:
            if recipient.msisdn == msisdn:
                return recipient
        raise KeyError(number)


@attrs.define
class SmsCenterIvrCall:
    """One recipient of an IVR message: ``Queued`` (``DelayedMessage`` before
    ``send_at`` when delayed), ``Calling`` from ``calling_at``, final at ``final_at``."""

    msisdn: str
    fate: tuple[str, int, str]
    delayed: bool
    send_at: float
    calling_at: float
    final_at: float

    def status(self, now: float) -> str:
        if now < self.send_at:
            return "DelayedMessage" if self.delayed else "Queued"
        if now >= self.final_at:
            return self.fate[0]
        if now >= self.calling_at and self.fate[0] in _RINGING:
            return "Calling"
        return "Queued"

    def report(self, now: float) -> tuple[str, str, int, str]:
        """``(Status, SendDate, CallLength, Response)`` at ``now``."""
        status = self.status(now)
        final = now >= self.final_at
        called = now >= self.calling_at and self.fate[0] in _RINGING
        date = israel_time(self.calling_at if called else self.send_at, "%d/%m/%Y %H:%M:%S")
        return status, date, self.fate[1] if final else 0, self.fate[2] if final else ""


@attrs.define
class SmsCenterIvrMessage:
    """One ``SendIVRMessages`` call: the recorded message ``record_id`` to ``calls``."""

    id: int
    username: str
    sender: str
    record_id: int
    text: str
    calls: list[SmsCenterIvrCall]
    created_at: float = 0.0
    refused: list[str] = attrs.field(factory=list)


def ringing(status: str) -> bool:
    return status in _RINGING
