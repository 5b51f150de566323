"""What both EVERY8D APIs (Web Services and HTTP) share: Taipei time, the rules for
numbers and texts, pricing, and the reading of their comma-separated results (the
send, ``getCredit`` and ``eraseBooking`` answer the same text in both).

Pure functions, no I/O, no SOAP: the SOAP and the HTTP codec both build on them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import attrs

from ..errors import InsufficientCreditError, InvalidRequestError, ResponseFormatError
from ..models import CancelResult, DeliveryReport, SendResult
from .codes import PROVIDER, raise_for_code

__all__ = [
    "DEFAULT_BASE_URL",
    "TAIPEI",
    "ReportPage",
    "check_covers",
    "check_error",
    "check_sent",
    "check_text",
    "estimate_cost",
    "format_send_time",
    "is_international",
    "malformed",
    "normalize_recipients",
    "parse_credit",
    "parse_decimal",
    "parse_erase_booking",
    "parse_int",
    "parse_send",
    "parse_time",
    "validity_minutes",
]

logger = logging.getLogger("aiosms.every8d")

DEFAULT_BASE_URL = "https://oms.every8d.com"
"""Where both EVERY8D APIs live (HTTPS; ``http://api.every8d.com`` serves plain HTTP)."""

TAIPEI = timezone(timedelta(hours=8), "Asia/Taipei")
"""EVERY8D's clock: Taiwan, UTC+8 all year (no daylight saving)."""

# ---------------------------------------------------------------------------- checks

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# As both specifications write them: +886912345678 (any country code) or 0912345678.
_MOBILE = re.compile(r"\+[1-9][0-9]{6,19}|09[0-9]{8}")
_SEPARATORS = str.maketrans("", "", " -()")


def check_text(field: str, value: object, *, required: bool, secret: bool = False) -> str:
    """``value`` if it is a str that can be sent (non-empty when ``required``)."""
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

    Spaces, dashes and parentheses are dropped; what remains must be ``+`` and a
    country code and number (``+886912345678``) or a Taiwanese mobile written
    nationally (``0912345678``), as both EVERY8D specifications write them. A number
    given as an ``int`` is refused: it cannot hold the leading ``0`` or ``+``.
    """
    if isinstance(to, str):
        numbers: list[object] = [to]
    elif isinstance(to, int | float | bytes):
        raise InvalidRequestError(
            f"to must be a str or a list of str, not {type(to).__name__} "
            "(a number loses its leading 0 or +; write it as '0912345678' or '+886912345678')"
        )
    else:
        try:
            numbers = list(to)
        except TypeError:
            raise InvalidRequestError(
                f"to must be a str or a list of str, not {type(to).__name__}"
            ) from None
    if not numbers:
        raise InvalidRequestError("to must name at least one mobile number")
    out = []
    for number in numbers:
        if not isinstance(number, str):
            raise InvalidRequestError(
                f"mobile numbers must be str, not {type(number).__name__} ({number!r}); "
                "write them as '0912345678' or '+886912345678'"
            )
        cleaned = number.translate(_SEPARATORS)
        if not _MOBILE.fullmatch(cleaned):
            raise InvalidRequestError(
                f"{number!r} is not a mobile number: expected + and a country code "
                "(+886912345678) or a Taiwanese number starting 09 (0912345678)"
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


def validity_minutes(validity: timedelta) -> str:
    """A positive ``timedelta`` as whole minutes, rounded up (``retryTime``/``RETRYTIME``)."""
    if not isinstance(validity, timedelta):
        raise InvalidRequestError(f"validity must be a timedelta, not {type(validity).__name__}")
    if validity <= timedelta(0):
        raise InvalidRequestError("validity must be positive")
    # Integer arithmetic: total_seconds() is a float and rounds away microseconds.
    return str(-(-validity // timedelta(minutes=1)))


# ---------------------------------------------------------------------------- pricing

LONG_SMS_LIMIT = 333
"""Characters one (long) SMS holds; longer texts are split into parts of this size."""

_PRICE_STEPS = ((70, 1), (134, 2), (201, 3), (268, 4), (LONG_SMS_LIMIT, 5))


def _part_cost(length: int) -> int:
    for limit, points in _PRICE_STEPS:
        if length <= limit:
            return points
    raise AssertionError("a part is never longer than LONG_SMS_LIMIT")  # pragma: no cover


def is_international(mobile: str) -> bool:
    """True for numbers EVERY8D charges triple: neither ``+886…`` nor ``09…``."""
    return not mobile.startswith(("+886", "09"))


def estimate_cost(text: str, to: str | Iterable[str]) -> Decimal:
    """The points EVERY8D will charge for sending ``text`` to ``to``, by its price table.

    1–70 characters cost 1 point a message, 71–134 → 2, 135–201 → 3, 202–268 → 4 and
    269–333 → 5; a longer text is split into parts of 333 characters, each priced by
    its length; a number that starts neither ``+886`` nor ``09`` costs three times as
    much. ``to`` is checked as :meth:`~aiosms.Every8dSoapClient.send` checks it::

        >>> estimate_cost("Your code is 1234", ["0912345678", "+14155550100"])
        Decimal('4')

    Raises:
        InvalidRequestError: ``text`` or a number is not valid.
    """
    check_text("text", text, required=True)
    length = len(text)
    full, rest = divmod(length, LONG_SMS_LIMIT)
    per_message = full * _part_cost(LONG_SMS_LIMIT) + (_part_cost(rest) if rest else 0)
    points = sum(
        per_message * 3 if is_international(m) else per_message for m in normalize_recipients(to)
    )
    return Decimal(points)


# ---------------------------------------------------------------------------- results


def malformed(what: str, result: str) -> ResponseFormatError:
    """The error for a ``what`` result that cannot be read (its start shown, trimmed)."""
    shown = " ".join(result[:80].split())
    return ResponseFormatError(f"unexpected {what} result: {shown!r}", provider=PROVIDER)


def check_error(result: str) -> None:
    """Raise if ``result`` is an error: a negative code, alone or followed by ``,message``."""
    if result.startswith("-"):
        code, _, message = result.partition(",")
        code = code.strip()
        if code[1:].isdigit():
            raise_for_code(code, message)


def parse_decimal(value: str, what: str, result: str) -> Decimal:
    """``value`` as a finite Decimal, else :func:`malformed` of ``result``."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise malformed(what, result) from None
    if not number.is_finite():
        raise malformed(what, result)
    return number


def parse_int(value: str, what: str, result: str) -> int:
    """``value`` as a non-negative int of at most 12 ASCII digits."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise malformed(what, result)
    return int(value)


def parse_send(result: str) -> SendResult:
    """``CREDIT,SENDED,COST,UNSEND,BATCH_ID`` (the spec's samples omit UNSEND) → SendResult."""
    result = result.strip()
    check_error(result)
    fields = result.split(",")
    if len(fields) == 5:
        credit, sent, cost, unsent, batch_id = fields
    elif len(fields) == 4:
        credit, sent, cost, batch_id = fields
        unsent = "0"
    else:
        raise malformed("send", result)
    batch_id = batch_id.strip()
    if not batch_id:
        raise malformed("send (no batch id)", result)
    return SendResult(
        batch_id=batch_id,
        sent=parse_int(sent, "send", result),
        cost=parse_decimal(cost, "send", result),
        credit=parse_decimal(credit, "send", result),
        unsent=parse_int(unsent, "send", result),
    )


def parse_credit(result: str) -> Decimal:
    """The credit from a ``getCredit`` result."""
    result = result.strip()
    check_error(result)
    return parse_decimal(result, "getCredit", result)


def parse_erase_booking(result: str) -> CancelResult:
    """``a,b`` (cancelled count, credit returned); empty means nothing was found."""
    result = result.strip()
    if not result:
        return CancelResult(cancelled=0, credit_returned=Decimal(0))
    check_error(result)
    fields = result.split(",")
    if len(fields) != 2:
        raise malformed("eraseBooking", result)
    return CancelResult(
        cancelled=parse_int(fields[0], "eraseBooking", result),
        credit_returned=parse_decimal(fields[1], "eraseBooking", result),
    )


@attrs.frozen
class ReportPage:
    """One page of ``getDeliveryStatus``: the batch's total count and this page's rows."""

    count: int
    reports: list[DeliveryReport]


def check_covers(cost: Decimal, credit: Decimal) -> None:
    """Refuse (``check_credit=True``) a send of ``cost`` points that ``credit`` cannot cover."""
    if cost > credit:
        raise InsufficientCreditError(
            f"not sent: it would cost {cost} points by EVERY8D's price table and the "
            f"balance is {credit} (check_credit=True refused it before sending)",
            provider=PROVIDER,
        )


def check_sent(result: SendResult) -> SendResult:
    """``result`` of a send, unless nothing was sent for lack of credit
    (:class:`InsufficientCreditError`); a send cut short by the credit logs a WARNING."""
    if result.unsent > 0:
        if result.sent == 0:
            raise InsufficientCreditError(
                f"nothing was sent: not enough credit for {result.unsent} message(s) "
                f"(credit left {result.credit})",
                provider=PROVIDER,
                result=result,
            )
        logger.warning(
            "batch %s: only %d of %d messages were sent; %d were not, for lack of credit "
            "(credit left %s); they will not go out later",
            result.batch_id,
            result.sent,
            result.sent + result.unsent,
            result.unsent,
            result.credit,
        )
    return result


# ---------------------------------------------------------------------------- times

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
        raise ResponseFormatError(f"unexpected time {value[:40]!r}", provider=PROVIDER) from None
