"""EVERY8D Web Services 2.1: requests and results, as pure functions.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return an :class:`Operation`: the SOAP operation name and its parameters; with the
session key added (:meth:`Operation.with_key`) they are ready for
:func:`aiosms._soap.build_envelope`. ``parse_*`` functions take the operation's result
string (already unwrapped from the envelope) and return models or raise the error the
result's code means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import attrs
from lxml import etree

from .._soap import parse_inner_xml
from ..errors import InvalidRequestError, ResponseFormatError
from ..models import CancelResult, DeliveryReport, Personalized, Reply, SendResult
from .codes import PROVIDER, REPLY_STATUS, describe_status, raise_for_code

__all__ = [
    "PAGE_SIZE",
    "SERVICE_PATH",
    "TAIPEI",
    "Operation",
    "ReportPage",
    "build_close_connection",
    "build_content_xml",
    "build_erase_booking",
    "build_get_connection",
    "build_get_credit",
    "build_get_delivery_status",
    "build_send",
    "build_send_personalized",
    "format_send_time",
    "normalize_recipients",
    "parse_close_connection",
    "parse_connection",
    "parse_credit",
    "parse_delivery_status",
    "parse_erase_booking",
    "parse_push",
    "parse_push_time",
    "parse_send",
    "parse_time",
]

SERVICE_PATH = "/API21/SOAP/SMS.asmx"
PAGE_SIZE = 1000
TAIPEI = timezone(timedelta(hours=8), "Asia/Taipei")
"""EVERY8D's clock: Taiwan, UTC+8 all year (no daylight saving)."""


@attrs.frozen
class Operation:
    """One SOAP call, checked and ready but for the session key.

    Attributes:
        name: the SOAP operation.
        params: its (name, value) parameters after ``sessionKey``; left out of the repr
            because ``getConnection``'s hold the password.
        idempotent: whether repeating it is harmless (sends and cancels are not).
        needs_session: whether ``sessionKey`` goes first (all but ``getConnection``).
    """

    name: str
    params: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    idempotent: bool = True
    needs_session: bool = True

    def with_key(self, session_key: str) -> tuple[tuple[str, str], ...]:
        """The full parameter list, with ``sessionKey`` first where it needs one."""
        if not self.needs_session:
            return self.params
        return (("sessionKey", session_key), *self.params)


@attrs.frozen
class ReportPage:
    """One page of ``getDeliveryStatus``: the batch's total count and this page's rows."""

    count: int
    reports: list[DeliveryReport]


# ---------------------------------------------------------------------------- checks

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MOBILE = re.compile(r"\+?[0-9]{6,20}")
_SEPARATORS = str.maketrans("", "", " -()")


def _check_text(field: str, value: object, *, required: bool, secret: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(f"{field} must be a str, not {type(value).__name__}")
    if required and not value.strip():
        raise InvalidRequestError(f"{field} must not be empty")
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        shown = "" if secret else f": {bad.group()!r} at index {bad.start()}"
        raise InvalidRequestError(f"{field} holds a character that cannot be sent{shown}")
    return value


def normalize_recipients(to: str | Iterable[str]) -> list[str]:
    """Check and normalize ``to`` (one number or several) into a list of numbers.

    Spaces, dashes and parentheses are dropped; what remains must be digits with an
    optional leading ``+`` (``+886912345678``, ``0912345678``).
    """
    numbers = [to] if isinstance(to, str) else list(to)
    if not numbers:
        raise InvalidRequestError("to must name at least one mobile number")
    out = []
    for number in numbers:
        if not isinstance(number, str):
            raise InvalidRequestError(f"mobile numbers must be str, not {type(number).__name__}")
        cleaned = number.translate(_SEPARATORS)
        if not _MOBILE.fullmatch(cleaned):
            raise InvalidRequestError(
                f"{number!r} is not a mobile number (expected e.g. +886912345678 or 0912345678)"
            )
        out.append(cleaned)
    return out


def format_send_time(at: datetime | None, field: str = "at") -> str:
    """An aware datetime as EVERY8D's ``yyyyMMddHHmmss`` in Taipei time ("" for now)."""
    if at is None:
        return ""
    if not isinstance(at, datetime):
        raise InvalidRequestError(f"{field} must be a datetime, not {type(at).__name__}")
    if at.utcoffset() is None:
        raise InvalidRequestError(
            f"{field} must be timezone-aware (e.g. datetime.now(timezone.utc)); "
            "a naive datetime is ambiguous"
        )
    try:
        local = at.astimezone(TAIPEI)
    except OverflowError:
        raise InvalidRequestError(f"{field} is out of range in Taipei time") from None
    # strftime's %Y drops leading zeros of years below 1000 on some platforms.
    return f"{local.year:04d}{local:%m%d%H%M%S}"


def _validity_minutes(validity: timedelta) -> str:
    if not isinstance(validity, timedelta):
        raise InvalidRequestError(f"validity must be a timedelta, not {type(validity).__name__}")
    if validity <= timedelta(0):
        raise InvalidRequestError("validity must be positive")
    # Integer arithmetic: total_seconds() is a float and rounds away microseconds.
    return str(-(-validity // timedelta(minutes=1)))


# ---------------------------------------------------------------------------- builders


def build_get_connection(user_id: str, password: str) -> Operation:
    """``getConnection``: log in and get a session key."""
    _check_text("user_id", user_id, required=True)
    _check_text("password", password, required=True, secret=True)
    params = (("userID", user_id), ("password", password))
    return Operation("getConnection", params, idempotent=True, needs_session=False)


def build_close_connection() -> Operation:
    """``closeConnection``: end the session."""
    return Operation("closeConnection", (), idempotent=False)


def build_send(
    text: str,
    to: str | Iterable[str],
    *,
    subject: str = "",
    at: datetime | None = None,
    validity: timedelta | None = None,
) -> Operation:
    """``sendSMS``, or ``sendMessage`` with ``retryTime`` when ``validity`` is given."""
    _check_text("text", text, required=True)
    _check_text("subject", subject, required=False)
    params = [
        ("subject", subject),
        ("content", text),
        ("mobile", ",".join(normalize_recipients(to))),
        ("sendTime", format_send_time(at)),
    ]
    if validity is None:
        return Operation("sendSMS", tuple(params), idempotent=False)
    params.append(("retryTime", _validity_minutes(validity)))
    return Operation("sendMessage", tuple(params), idempotent=False)


def build_content_xml(items: Sequence[Personalized]) -> str:
    """The ``contentXML`` of ``sendParamSMS``: ``<REPS><USER …><![CDATA[text]]></USER></REPS>``.

    Text is wrapped in CDATA as the specification asks; text that contains ``]]>`` (which
    no CDATA section can hold) or a carriage return (which a parser turns into a line feed
    inside CDATA) is written as escaped character data instead, which any XML parser reads
    back identically.
    """
    if isinstance(items, Personalized):
        items = [items]
    if not items:
        raise InvalidRequestError("send_personalized needs at least one item")
    reps = etree.Element("REPS")
    for i, item in enumerate(items):
        if not isinstance(item, Personalized):
            raise InvalidRequestError(
                f"items[{i}] must be an aiosms.Personalized, not {type(item).__name__}"
            )
        _check_text(f"items[{i}].text", item.text, required=True)
        _check_text(f"items[{i}].name", item.name, required=False)
        _check_text(f"items[{i}].email", item.email, required=False)
        if len(item.name) > 50:
            raise InvalidRequestError(f"items[{i}].name is longer than 50 characters")
        if not isinstance(item.to, str):
            raise InvalidRequestError(f"items[{i}].to must be one mobile number (a str)")
        (mobile,) = normalize_recipients(item.to)
        if mobile.startswith("09") and len(mobile) == 10:
            # The spec asks for +886 form here, or the points are counted wrongly.
            mobile = "+886" + mobile[1:]
        user = etree.SubElement(reps, "USER")
        user.set("NAME", item.name)
        user.set("MOBILE", mobile)
        user.set("EMAIL", item.email)
        user.set("SENDTIME", format_send_time(item.at, f"items[{i}].at"))
        # CDATA cannot hold "]]>", and a parser turns a raw "\r" in it into "\n".
        cdata_safe = "]]>" not in item.text and "\r" not in item.text
        user.text = etree.CDATA(item.text) if cdata_safe else item.text
    return etree.tostring(reps, encoding="unicode")


def build_send_personalized(
    items: Sequence[Personalized],
    *,
    subject: str = "",
    at: datetime | None = None,
) -> Operation:
    """``sendParamSMS``: one text (and optionally time) per recipient."""
    _check_text("subject", subject, required=False)
    params = (
        ("subject", subject),
        ("contentXML", build_content_xml(items)),
        ("sendTime", format_send_time(at)),
    )
    return Operation("sendParamSMS", params, idempotent=False)


def build_get_delivery_status(batch_id: str, page: int = 1) -> Operation:
    """``getDeliveryStatus``: page ``page`` (1-based, 1,000 rows each) of a batch."""
    _check_text("batch_id", batch_id, required=True)
    if page < 1:
        raise InvalidRequestError("page numbers start at 1")
    params = (("batchID", batch_id), ("pageNo", str(page)))
    return Operation("getDeliveryStatus", params)


def build_get_credit() -> Operation:
    """``getCredit``: the account's remaining credit."""
    return Operation("getCredit", ())


def build_erase_booking(batch_id: str) -> Operation:
    """``eraseBooking``: cancel what is still scheduled in a batch."""
    _check_text("batch_id", batch_id, required=True)
    return Operation("eraseBooking", (("batchID", batch_id),), idempotent=False)


# ---------------------------------------------------------------------------- parsers


def _malformed(what: str, result: str) -> ResponseFormatError:
    shown = " ".join(result[:80].split())
    return ResponseFormatError(f"unexpected {what} result: {shown!r}", provider=PROVIDER)


def _check_error(result: str) -> None:
    """Raise if ``result`` is an error: a negative code, alone or followed by ``,message``."""
    if result.startswith("-"):
        code, _, message = result.partition(",")
        code = code.strip()
        if code[1:].isdigit():
            raise_for_code(code, message)


def _decimal(value: str, what: str, result: str) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise _malformed(what, result) from None
    if not number.is_finite():
        raise _malformed(what, result)
    return number


def _int(value: str, what: str, result: str) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise _malformed(what, result)
    return int(value)


def parse_connection(result: str) -> str:
    """The session key from a ``getConnection`` result (raises on CODE != 0)."""
    result = result.strip()
    _check_error(result)
    root = parse_inner_xml(result, provider=PROVIDER)
    conn = root.find("GET_CONNECTION")
    if conn is None:
        raise _malformed("getConnection", result)
    code = (conn.findtext("CODE") or "").strip()
    if code != "0":
        if not code:
            raise _malformed("getConnection", result)
        raise_for_code(code, conn.findtext("DESCRIPTION") or "")
    key = (conn.findtext("SESSION_KEY") or "").strip()
    if not key:
        raise _malformed("getConnection (no SESSION_KEY)", result)
    return key


def parse_send(result: str) -> SendResult:
    """``CREDIT,SENDED,COST,UNSEND,BATCH_ID`` (the spec's samples omit UNSEND) → SendResult."""
    result = result.strip()
    _check_error(result)
    fields = result.split(",")
    if len(fields) == 5:
        credit, sent, cost, unsent, batch_id = fields
    elif len(fields) == 4:
        credit, sent, cost, batch_id = fields
        unsent = "0"
    else:
        raise _malformed("send", result)
    batch_id = batch_id.strip()
    if not batch_id:
        raise _malformed("send (no batch id)", result)
    return SendResult(
        batch_id=batch_id,
        sent=_int(sent, "send", result),
        cost=_decimal(cost, "send", result),
        credit=_decimal(credit, "send", result),
        unsent=_int(unsent, "send", result),
    )


def parse_credit(result: str) -> Decimal:
    """The credit from a ``getCredit`` result."""
    result = result.strip()
    _check_error(result)
    return _decimal(result, "getCredit", result)


def parse_erase_booking(result: str) -> CancelResult:
    """``a,b`` (cancelled count, credit returned); empty means nothing was found."""
    result = result.strip()
    if not result:
        return CancelResult(cancelled=0, credit_returned=Decimal(0))
    _check_error(result)
    fields = result.split(",")
    if len(fields) != 2:
        raise _malformed("eraseBooking", result)
    return CancelResult(
        cancelled=_int(fields[0], "eraseBooking", result),
        credit_returned=_decimal(fields[1], "eraseBooking", result),
    )


def parse_close_connection(result: str) -> bool:
    """True when ``closeConnection`` answered ``1``."""
    return result.strip() == "1"


_SECONDS = tuple(timedelta(seconds=second) for second in range(60))
_SECOND_TEXTS = {f"{second:02d}": delta for second, delta in enumerate(_SECONDS)}


def _ascii_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


@lru_cache(maxsize=1024)
def _minute(prefix: str) -> datetime:
    """``2010/3/20 03:27`` → that minute in Taipei; a page's rows share a few minutes."""
    day, _, clock = prefix.partition(" ")
    year, month, mday = day.split("/")
    hour, minute = clock.split(":")
    return datetime(
        _ascii_int(year),
        _ascii_int(month),
        _ascii_int(mday),
        _ascii_int(hour),
        _ascii_int(minute),
        tzinfo=TAIPEI,
    )


def parse_time(value: str) -> datetime | None:
    """``2010/3/20 03:27:50`` (Taipei time) → an aware datetime; ``""`` → None."""
    second = _SECOND_TEXTS.get(value[-2:])
    if second is not None and value[-3:-2] == ":":
        # The usual form (1,000 of them a page): the minute from a cache, plus the seconds.
        try:
            return _minute(value[:-3]) + second
        except (ValueError, OverflowError):
            pass  # the careful path below tells what is wrong with it
    return _parse_time_carefully(value)


def _parse_time_carefully(value: str) -> datetime | None:
    """Any other form: padding, a date alone, unpadded seconds (``3:27:5``)."""
    value = value.strip()
    if not value:
        return None
    try:
        day, _, clock = value.partition(" ")
        hour, minute, sec = clock.split(":") if clock else ("0", "0", "0")
        return _minute(f"{day} {hour}:{minute}") + _SECONDS[_ascii_int(sec)]
    except (ValueError, OverflowError, IndexError):
        raise ResponseFormatError(f"unexpected time {value!r}", provider=PROVIDER) from None


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _reply(el: etree._Element, mobile: str, batch_id: str) -> Reply:
    when = ""
    text = ""
    for child in el:
        tag = child.tag
        if tag == "REPLY_TIME":
            when = child.text or ""
        elif tag == "MESSAGE":
            text = _text(child)
    return Reply(mobile, text, parse_time(when), None, batch_id)


def parse_delivery_status(result: str, batch_id: str) -> ReportPage:
    """One page of ``getDeliveryStatus``: the batch's COUNT and typed reports."""
    stripped = result.strip()
    _check_error(stripped)
    root = parse_inner_xml(stripped, provider=PROVIDER)
    if root.tag != "SMS_LOG":
        raise _malformed("getDeliveryStatus", stripped)
    code = (root.findtext("CODE") or "").strip()
    if code != "0":
        if not code:
            raise _malformed("getDeliveryStatus (no CODE)", stripped)
        raise_for_code(code, root.findtext("DESCRIPTION") or "")
    status = root.find("GET_DELIVERY_STATUS")
    if status is None:
        return ReportPage(count=0, reports=[])
    count = _int(status.get("COUNT", "0"), "getDeliveryStatus COUNT", stripped)
    reports = []
    # Hot loop (1,000 rows a page): texts are read inline, and each distinct COST text
    # is turned into a Decimal once per page (Decimals are immutable, so sharing is safe).
    costs: dict[str, Decimal] = {}
    for sms in status.iterchildren("SMS"):
        name = mobile = sent = cost = code = ""
        reply_els = None
        for child in sms:
            tag = child.tag
            if tag == "STATUS":
                code = (child.text or "").strip()
            elif tag == "MOBILE":
                mobile = (child.text or "").strip()
            elif tag == "SENT_TIME":
                sent = child.text or ""
            elif tag == "COST":
                cost = (child.text or "").strip()
            elif tag == "NAME":
                name = (child.text or "").strip()
            elif tag == "REPLY_SMS":
                if reply_els is None:
                    reply_els = [child]
                else:
                    reply_els.append(child)
        amount = None
        if cost:
            amount = costs.get(cost)
            if amount is None:
                amount = costs[cost] = _decimal(cost, "getDeliveryStatus COST", stripped)
        state, description = describe_status(code)
        replies = tuple(_reply(el, mobile, batch_id) for el in reply_els) if reply_els else ()
        # Positional arguments, in DeliveryReport's field order: measurably faster here.
        reports.append(
            DeliveryReport(
                batch_id,
                None,
                mobile,
                name,
                state,
                code,
                description,
                parse_time(sent),
                amount,
                replies,
            )
        )
    return ReportPage(count=count, reports=reports)


# ---------------------------------------------------------------------------- push callbacks

_PUSH_LIMIT = 2000  # characters a pushed parameter may hold (SM: a long reply SMS)


def parse_push_time(value: str) -> datetime | None:
    """A push callback's ``RT``, ``20090210120000`` (Taipei time) → an aware datetime."""
    value = value.strip()
    if not value:
        return None
    if len(value) != 14 or not (value.isascii() and value.isdigit()):
        raise ResponseFormatError(f"unexpected push time {value[:40]!r}", provider=PROVIDER)
    try:
        return datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:]),
            tzinfo=TAIPEI,
        )
    except ValueError:
        raise ResponseFormatError(f"unexpected push time {value!r}", provider=PROVIDER) from None


def parse_push(params: Mapping[str, str]) -> DeliveryReport | Reply:
    """One push callback (spec §3.1): the query EVERY8D calls the customer's URL with.

    ``BatchID``, ``RM`` (the recipient), ``RT`` (when, ``yyyyMMddHHmmss``), ``STATUS``,
    ``SM`` (the text of a reply), ``MR`` (the record number given at send time) and
    ``USERID``. ``STATUS=999`` carries a reply SMS and gives a :class:`Reply`; any other
    STATUS gives a :class:`DeliveryReport` whose ``reported_at`` is ``RT``.

    Raises:
        ResponseFormatError: a parameter is missing, too long or malformed.
    """
    fields = {}
    for name in ("BatchID", "RM", "RT", "STATUS", "SM", "MR", "USERID"):
        value = params.get(name, "")
        if not isinstance(value, str) or len(value) > _PUSH_LIMIT:
            raise ResponseFormatError(
                f"push callback: {name} is not a short text", provider=PROVIDER
            )
        fields[name] = value.strip()
    for name in ("BatchID", "RM", "STATUS"):
        if not fields[name]:
            raise ResponseFormatError(f"push callback without {name}", provider=PROVIDER)
    status = fields["STATUS"]
    digits = status.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(status) > 6:
        raise ResponseFormatError(f"push callback: STATUS {status[:20]!r}", provider=PROVIDER)
    at = parse_push_time(fields["RT"])
    message_id = fields["MR"] or None
    if status == REPLY_STATUS:
        return Reply(fields["RM"], fields["SM"], at, message_id, fields["BatchID"])
    state, description = describe_status(status)
    return DeliveryReport(
        fields["BatchID"],
        message_id,
        fields["RM"],
        "",
        state,
        status,
        description,
        None,
        None,
        (),
        at,
    )
