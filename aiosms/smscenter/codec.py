"""SMSCenter's web services and HTTP push: requests and replies, as pure functions.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return a :class:`Call` (where, which SOAP operation, its parameters) or, for the HTTP
push, a form; ``parse_*`` functions take the operation's ``<…Result>`` element (already
unwrapped from the envelope by :func:`aiosms._soap.parse_envelope_result`) or the push's
reply text, and return models or raise the error the reply means.

The services are ASMX: results are complex types whose children SMSCenter qualifies in
its namespace, so they are read by local name. The namespaces and paths are here, in
one place. Voice-call reports are read by :mod:`aiosms.smscenter.reports`.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, NoReturn
from zoneinfo import ZoneInfo

import attrs
from lxml import etree

from .._soap import local_children
from ..errors import (
    AccountBlockedError,
    AuthenticationError,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)
from ..models import SmsCenterBalance, UserPrepaid, UsersPrepaid
from .codes import PROVIDER
from .numbers import needs_chaining, normalize_number, normalize_numbers

__all__ = [
    "DEFAULT_BASE_URL",
    "ISRAEL",
    "IVR_PATH",
    "NAMESPACE",
    "PREPAID_NAMESPACE",
    "PREPAID_PATH",
    "PUSH_PATH",
    "SEND_PATH",
    "Call",
    "MessageOption",
    "SmsOperation",
    "build_company_prepaid",
    "build_push",
    "build_send",
    "build_send_voice",
    "build_users_prepaid",
    "build_voice_reports",
    "parse_company_prepaid",
    "parse_push_body",
    "parse_push_reply",
    "parse_send",
    "parse_users_prepaid",
]

DEFAULT_BASE_URL: Final = "https://www.smscenter.co.il"
NAMESPACE: Final = "http://www.smscenter.co.il/"
"""``SendMessage.aspx`` and ``SendIVRMessage.aspx``."""
PREPAID_NAMESPACE: Final = "http://www.smscenter.co.il/Web/WebServices/"
"""``CheckPrePaid.asmx``."""
SEND_PATH: Final = "/Web/WebServices/SendMessage.aspx"
IVR_PATH: Final = "/Web/WebServices/SendIVRMessage.aspx"
PREPAID_PATH: Final = "/web/webservices/CheckPrePaid.asmx"
PUSH_PATH: Final = "/Web/pushsms.aspx"
ISRAEL: Final = ZoneInfo("Asia/Jerusalem")
"""SMSCenter's times (``SendDate``, notification dates) are Israel's local time."""

MAX_TEXT: Final = 1_000
"""Characters of one message aiosms sends (SMSCenter chains long texts)."""


class _Open(enum.Enum):
    """An enum that takes values beyond those it lists: SMSCenter has more than its
    spec names, and a value aiosms does not know must still be sendable and readable."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,40}", value):
            return None
        for member in cls:  # the spec's spelling, whatever the case given
            if member.value.lower() == value.lower():
                return member
        pseudo = object.__new__(cls)
        pseudo._name_ = value.upper()
        pseudo._value_ = value
        return pseudo


class SmsOperation(_Open):
    """``SMSOperation``: how a message is sent. SMSCenter knows more values than these
    (``SmsOperation("Whatever")`` makes one)."""

    PUSH = "Push"
    """A normal SMS."""
    PULL = "Pull"
    """The recipient can answer (sent from a virtual number; enabled per company)."""
    REVERSE_BILLING = "ReverseBilling"
    """The recipient pays (enabled per company)."""
    WAP_PUSH = "WAPPush"
    IVR = "IVR"
    MMS = "MMS"
    FLASH = "Flash"


class MessageOption(_Open):
    """``MessageOption``."""

    REGULAR = "Regular"
    CONCATENATED = "Concatenated"
    """Several SMS joined into one long message on the handset."""
    REPLY = "Reply"


@attrs.frozen
class Call:
    """One SOAP call, checked and ready.

    Attributes:
        path: the service's path under the base URL.
        namespace: the service's XML namespace.
        operation: the SOAP operation.
        params: its (name, value) parameters, the credentials first (not in the repr).
        idempotent: whether repeating it is harmless (sends are not).
    """

    path: str
    namespace: str
    operation: str
    params: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    idempotent: bool = False


# ---------------------------------------------------------------------------- checks


def _credentials(username: str, password: str) -> tuple[tuple[str, str], ...]:
    for name, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequestError(f"{name} must be a non-empty str")
    return (("Username", username), ("Password", password))


def _text(text: object, what: str = "the message") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequestError(f"{what} must be a non-empty str")
    if len(text) > MAX_TEXT:
        raise InvalidRequestError(f"{what} is {len(text)} characters; at most {MAX_TEXT}")
    return text


def _sender(sender: object) -> str:
    if not isinstance(sender, str) or not sender.strip():
        raise InvalidRequestError(f"sender must be a non-empty str, not {sender!r:.40}")
    if len(sender) > 40:
        raise InvalidRequestError(f"sender is at most 40 characters: {sender!r:.40}")
    return sender


def _minutes_until(at: datetime | None, now: datetime) -> int:
    if at is None:
        return 0
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise InvalidRequestError("at must be a timezone-aware datetime")
    return max(0, math.ceil((at - now).total_seconds() / 60))


def _validity_minutes(validity: timedelta | None) -> int:
    if validity is None:
        return 0
    if not isinstance(validity, timedelta) or validity < timedelta(minutes=1):
        raise InvalidRequestError("validity must be a timedelta of at least a minute")
    return math.ceil(validity.total_seconds() / 60)


# ---------------------------------------------------------------------------- sending


def build_send(
    text: str,
    to: str | Iterable[str],
    *,
    username: str,
    password: str,
    sender: str,
    now: datetime,
    at: datetime | None = None,
    validity: timedelta | None = None,
    operation: SmsOperation | str = SmsOperation.PUSH,
    option: MessageOption | str | None = None,
    price: float | None = None,
    cc_emails: Iterable[str] = (),
    returns_id: bool = True,
) -> Call:
    """``SendMessageReturnMessageID`` (or, ``returns_id=False``, ``SendMessagesV2``):
    ``text`` to every number of ``to`` (normalized, each once). ``option`` defaults to
    ``Concatenated`` when the text is longer than one SMS, ``Regular`` otherwise."""
    numbers = normalize_numbers(to)
    text = _text(text)
    kind = SmsOperation(operation)
    if option is None:
        option = MessageOption.CONCATENATED if needs_chaining(text) else MessageOption.REGULAR
    chosen = MessageOption(option)
    if isinstance(cc_emails, str):
        cc_emails = [cc_emails]
    emails = list(cc_emails)
    for email in emails:
        if not isinstance(email, str) or "@" not in email or "," in email or len(email) > 254:
            raise InvalidRequestError(f"not an email address: {email!r:.60}")
    if price is not None and (
        isinstance(price, bool) or not isinstance(price, int | float) or not 0 <= price < 1e6
    ):
        raise InvalidRequestError(f"price must be a number of at least 0, not {price!r}")
    params = (
        *_credentials(username, password),
        ("SenderName", _sender(sender)),
        ("SendToPhoneNumbers", ",".join(numbers)),
        ("CCToEmail", ",".join(emails)),
        ("Message", text),
        ("SMSOperation", kind.value),
        ("DeliveryDelayInMinutes", str(_minutes_until(at, now))),
        ("ExpirationDelayInMinutes", str(_validity_minutes(validity))),
        ("MessageOption", chosen.value),
        ("Price", repr(float(price or 0))),
    )
    name = "SendMessageReturnMessageID" if returns_id else "SendMessagesV2"
    return Call(SEND_PATH, NAMESPACE, name, params)


def build_send_voice(
    record_id: int,
    to: str | Iterable[str],
    *,
    username: str,
    password: str,
    sender: str,
    now: datetime,
    text: str = "",
    at: datetime | None = None,
    validity: timedelta | None = None,
) -> Call:
    """``SendIVRMessages``: the recorded message ``record_id`` called to every number."""
    if isinstance(record_id, bool) or not isinstance(record_id, int) or record_id < 0:
        raise InvalidRequestError(f"record_id must be a whole number, not {record_id!r}")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise InvalidRequestError(f"text must be a str of at most {MAX_TEXT} characters")
    params = (
        *_credentials(username, password),
        ("SenderName", _sender(sender)),
        ("RecordID", str(record_id)),
        ("SendToPhoneNumbers", ",".join(normalize_numbers(to))),
        ("Message", text),
        ("DeliveryDelayInMinutes", str(_minutes_until(at, now))),
        ("ExpirationDelayInMinutes", str(_validity_minutes(validity))),
    )
    return Call(IVR_PATH, NAMESPACE, "SendIVRMessages", params)


def build_voice_reports(message_id: str, *, username: str, password: str) -> Call:
    """``GetMessagesResponseByMessageID``: every recipient of a voice message."""
    _check_message_id(message_id)
    params = (*_credentials(username, password), ("MessageID", message_id))
    return Call(IVR_PATH, NAMESPACE, "GetMessagesResponseByMessageID", params, idempotent=True)


def build_company_prepaid(*, username: str, password: str) -> Call:
    """``CheckCompanyPrePaid``."""
    params = _credentials(username, password)
    return Call(PREPAID_PATH, PREPAID_NAMESPACE, "CheckCompanyPrePaid", params, idempotent=True)


def build_users_prepaid(*, username: str, password: str, all_users: bool = True) -> Call:
    """``CheckUsersPrePaid`` with ``Mode`` ``AllUsers`` (or ``ThisUser``)."""
    mode = "AllUsers" if all_users else "ThisUser"
    params = (*_credentials(username, password), ("Mode", mode))
    return Call(PREPAID_PATH, PREPAID_NAMESPACE, "CheckUsersPrePaid", params, idempotent=True)


def _check_message_id(message_id: object) -> str:
    if not isinstance(message_id, str) or not message_id.isascii() or not message_id.isdigit():
        raise InvalidRequestError(f"an SMSCenter message id is a number, not {message_id!r:.40}")
    return message_id


def build_push(
    text: str,
    to: str,
    *,
    username: str,
    password: str,
    sender: str,
    chaining: bool | None = None,
) -> dict[str, str]:
    """The form of one ``pushsms.aspx`` request: one message to one number.
    ``EnableChaining=1`` is set when the text is longer than one SMS, unless
    ``chaining`` says otherwise."""
    text = _text(text)
    form = {
        "UserName": _credentials(username, password)[0][1],
        "Password": password,
        "Sender": _sender(sender),
        "ToPhoneNumber": normalize_number(to),
        "Message": text,
    }
    if chaining if chaining is not None else needs_chaining(text):
        form["EnableChaining"] = "1"
    return form


# ---------------------------------------------------------------------------- replies


def _key(text: str) -> str:
    """A status text as compared: letters only, lower case (the services spell the
    same status "Invalid Username or Password." and "InvalidUserNameOrPassword")."""
    return "".join(c for c in text.lower() if c.isalpha())


_AUTH: Final = {_key("Invalid Username or Password.")}
_BLOCKED: Final = {_key(t) for t in ("Company is Disabled.", "User is disabled or deleted.")}
_EXPLAINED: Final[Mapping[str, str]] = {
    _key(k): v
    for k, v in {
        "InvalidIPAddress": (
            "SMSCenter does not accept this account from this machine's IP address: ask "
            "its support to allow the address your requests come from"
        ),
        "CompanyNotAllowedToSendToSpecifiedProvider": (
            "the company may not send to this number's operator"
        ),
        "Company Has No Permission To Send to the specified Operator.": (
            "the company may not send to this number's operator (or the operator is unknown)"
        ),
        "Company is not allowed to push more messages through URL or MAIL": (
            "the company may send no more messages but through the SMSCenter web site"
        ),
        "Company is not allowed to push more IVR messages through URL or MAIL": (
            "the company may send no more IVR messages but through the SMSCenter web site"
        ),
        "NoMessagesSent": "SMSCenter sent no message",
        "InternalError": "SMSCenter had an internal error",
        "InvalidPhoneNumber": "SMSCenter refused the phone numbers",
        "ThePhoneNumberListMustContainAtLeastOneNumber": "no phone number was given",
        "MessageCanNotBeEmpty": "the message is empty",
        "The message cannot be empty.": "the message is empty",
        "The Sender cannot be empty.": "no sender was given",
        "The Recipient Phone Number cannot be empty": "no phone number was given",
        "RecordIsNotAllowed": "the company may not use this IVR record",
        "NotEnoughSMSMessagesAvailable": "the prepaid SMS balance cannot cover the send",
    }.items()
}


def _refused(status: str, what: str) -> NoReturn:
    """Raise what a status text other than OK means."""
    key = _key(status)
    kw: dict[str, Any] = {"provider": PROVIDER, "code": status[:80], "provider_message": status}
    if key in _AUTH:
        raise AuthenticationError("SMSCenter refused the username or password", **kw)
    if key in _BLOCKED:
        raise AccountBlockedError(f"SMSCenter refused: {status[:80]}", **kw)
    if key == _key("NotEnoughSMSMessagesAvailable"):
        raise InsufficientCreditError(_EXPLAINED[key], **kw)
    raise ProviderError(f"{what}: {_EXPLAINED.get(key, 'refused')}", **kw)


def _malformed(what: str, why: str) -> ResponseFormatError:
    return ResponseFormatError(f"unexpected {what} reply: {why}", provider=PROVIDER)


def _result(result: etree._Element | None, what: str) -> dict[str, etree._Element]:
    if result is None:
        raise _malformed(what, "no result")
    return local_children(result)


def _child(children: Mapping[str, etree._Element], name: str) -> str | None:
    child = children.get(name)
    return None if child is None else (child.text or "").strip()


def parse_send(result: etree._Element | None) -> tuple[str, bool]:
    """``(MessageID, all sent)`` of ``SendMessageReturnMessageID`` or
    ``SendIVRMessages``; ``all sent`` is False for ``SomeMessagesSent``."""
    children = _result(result, "send")
    status = _child(children, "Response")
    if status is None:
        raise _malformed("send", "no Response")
    partial = _key(status) == _key("SomeMessagesSent")
    if _key(status) != "ok" and not partial:
        _refused(status, "send")
    message_id = _child(children, "MessageID") or ""
    if not message_id.isascii() or not message_id.isdigit() or len(message_id) > 20:
        raise _malformed("send", f"MessageID {message_id[:30]!r}")
    return message_id, not partial


def parse_send_v2(result: etree._Element | None) -> None:
    """``SendMessagesV2``'s answer: a status text, OK or the reason."""
    status = "" if result is None else (result.text or "").strip()
    if _key(status) != "ok":
        _refused(status or "no answer", "send")


def parse_push_body(body: bytes) -> None:
    """``pushsms.aspx``'s answer as it came (UTF-8, perhaps with a BOM): see
    :func:`parse_push_reply`."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _malformed("pushsms", "the reply is not text") from None
    parse_push_reply(text)


def parse_push_reply(text: str) -> None:
    """``pushsms.aspx``'s plain-text answer: ``OK``, or the reason (raised). Success is
    the text ``OK``, never HTTP 200 alone."""
    status = text.strip()
    if status != "OK":
        if not status or len(status) > 200 or "<" in status:
            raise _malformed("pushsms", f"{status[:60]!r}")
        _refused(status, "pushsms")


def _int(text: str | None, what: str, name: str) -> int:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 15:
        raise _malformed(what, f"{name} {text!r:.30} is not a whole number")
    return int(text)


def _bool(text: str | None, what: str, name: str) -> bool:
    if text is None or text.lower() not in ("true", "false"):
        raise _malformed(what, f"{name} {text!r:.30} is not true or false")
    return text.lower() == "true"


def parse_company_prepaid(result: etree._Element | None) -> SmsCenterBalance:
    """``CheckCompanyPrePaid``: SMS, IVR seconds and MMS left."""
    children = _result(result, "CheckCompanyPrePaid")
    status = _child(children, "Result")
    if status is None or _key(status) != "ok":
        _refused(status or "no Result", "CheckCompanyPrePaid")
    what = "CheckCompanyPrePaid"
    return SmsCenterBalance(
        _int(_child(children, "SMS"), what, "SMS"),
        _int(_child(children, "IVRSeconds"), what, "IVRSeconds"),
        _int(_child(children, "MMS") or "0", what, "MMS"),
    )


def parse_users_prepaid(result: etree._Element | None, *, limit: int = 10_000) -> UsersPrepaid:
    """``CheckUsersPrePaid``: the company's mode and each user's balance."""
    what = "CheckUsersPrePaid"
    children = _result(result, what)
    status = _child(children, "ReturnValues")
    if status is None or _key(status) != "ok":
        _refused(status or "no ReturnValues", what)
    mode = _bool(_child(children, "CompanyWorkingInUserPrepaidMode"), what, "mode")
    users: list[UserPrepaid] = []
    items = children.get("Items")
    for item in () if items is None else items:
        if not isinstance(item.tag, str):
            continue
        if len(users) >= limit:
            raise _malformed(what, f"more than {limit} users")
        fields = local_children(item)
        name = _child(fields, "UserName")
        if not name:
            raise _malformed(what, "a user without UserName")
        users.append(
            UserPrepaid(
                name,
                _int(_child(fields, "SMS"), what, "SMS"),
                _bool(_child(fields, "UserWorkingInPrePaidMode"), what, "mode"),
            )
        )
    return UsersPrepaid(mode, tuple(users))
