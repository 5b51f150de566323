"""The EIMS JSON HTTP gateway: requests and replies, as pure functions.

Work in progress (issue 9): the authentication fields (plain or MD5-signed), the result
codes, balance, send (split into requests of 10,000 numbers), reports (200 ids a
request, rows of four or five fields) and inbound messages. No client uses it yet.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return JSON-ready dicts without the authentication fields, which :func:`auth_fields`
adds per request; ``parse_*`` functions take the reply's bytes and return models or
raise the error the reply's ``status`` means. Every parse is one ``json.loads`` (linear,
in C) and one pass over what it returned; a reply that is not the shape the spec gives
is a :class:`ResponseFormatError`, never a ``KeyError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NoReturn

import attrs

from ..errors import (
    AccountBlockedError,
    AuthenticationError,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)
from ..models import DeliveryReport, DeliveryState, InboundMessage

__all__ = [
    "MAX_CONTENT",
    "MAX_INBOUND",
    "MAX_REPORT_IDS",
    "MAX_SEND_NUMBERS",
    "PROVIDER",
    "ReportPart",
    "SendPart",
    "auth_fields",
    "build_report_requests",
    "build_send_parts",
    "describe",
    "parse_balance",
    "parse_inbound",
    "parse_reports",
    "parse_send",
    "parse_stamp",
    "sign",
]

PROVIDER: Final = "eims"
MAX_SEND_NUMBERS: Final = 10_000
"""Numbers one POST to ``/sendsms`` may carry."""
MAX_REPORT_IDS: Final = 200
"""Ids one ``/getreport`` may ask for."""
MAX_CONTENT: Final = 1024
"""Characters of a message's content."""
MAX_INBOUND: Final = 50
"""Messages one ``/getsms`` returns at most; a full answer means ask again at once."""

_STATUS_TEXT: Final[Mapping[int, str]] = {
    -1: "authentication error (account or password, or the signature)",
    -2: "this IP address may not use the account",
    -3: "the content holds sensitive words",
    -4: "the content is empty",
    -5: "the content is too long",
    -6: "not a template SMS",
    -7: "too many numbers",
    -8: "no number",
    -9: "an abnormal number",
    -10: "the channel balance cannot cover this send",
    -11: "the time is wrong",
    -12: "batch commit error on the platform; contact the administrator",
    -13: "the user is locked",
    -14: "abnormal number source",
    -15: "the task name is empty or longer than 64 characters",
    -16: "the task type is abnormal",
    -17: "another error",
}

# ---------------------------------------------------------------------------- auth


def sign(account: str, password: str, seq: int, time: int, key: str) -> str:
    """The signed ``password`` field: ``md5(account + password + seq + time + key)``, hex."""
    data = f"{account}{password}{seq}{time}{key}".encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def auth_fields(
    account: str, password: str, *, key: str | None = None, seq: int = 0, time: int = 0
) -> dict[str, Any]:
    """``account`` and ``password`` for one request: the plain password, or, with
    ``key``, the signature of this request's ``seq`` (each request its own, from 1 up)
    and ``time`` (its Unix timestamp), which are sent beside it."""
    if key is None:
        return {"account": account, "password": password}
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidRequestError("seq starts at 1 and counts up, one per request")
    return {
        "account": account,
        "password": sign(account, password, seq, time, key),
        "seq": seq,
        "time": time,
    }


# ---------------------------------------------------------------------------- replies


def _malformed(what: str, body: bytes | str, why: str = "") -> ResponseFormatError:
    text = body if isinstance(body, str) else body[:120].decode("utf-8", "replace")
    shown = " ".join(text[:80].split())
    detail = f" ({why})" if why else ""
    return ResponseFormatError(f"unexpected {what} reply{detail}: {shown!r}", provider=PROVIDER)


def _load(body: bytes, what: str) -> dict[str, Any]:
    """The reply as a JSON object whose ``status`` is 0; raise what a non-zero one means."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # includes UnicodeDecodeError, huge int texts
        raise _malformed(what, body, "not JSON") from None
    if not isinstance(data, dict):
        raise _malformed(what, body, "not a JSON object")
    status = data.get("status")
    if isinstance(status, str) and status.lstrip("-").isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool):
        raise _malformed(what, body, "no status")
    if status != 0:
        _raise_for_status(status, what)
    return data


def _raise_for_status(status: int, what: str) -> NoReturn:
    text = _STATUS_TEXT.get(status, f"{what} refused")
    kw: dict[str, Any] = {"provider": PROVIDER, "code": str(status)}
    if status == -1:
        raise AuthenticationError(text, **kw)
    if status == -13:
        raise AccountBlockedError(text, **kw)
    if status == -10:
        raise InsufficientCreditError(text, **kw)
    raise ProviderError(text, **kw)


def _text(value: object, what: str, body: bytes) -> str:
    """A JSON number or string as text (ids and numbers come as either)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _malformed(what, body, f"{type(value).__name__} where a number or text belongs")


def parse_balance(body: bytes) -> tuple[Decimal, Decimal]:
    """``(balance, gift)`` as Decimals from ``/getbalance``."""
    data = _load(body, "getbalance")
    out = []
    for name in ("balance", "gift"):
        raw = data.get(name, "0")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise _malformed("getbalance", body, f"{name} is not a number")
        try:
            amount = Decimal(str(raw).strip())
        except InvalidOperation:
            raise _malformed("getbalance", body, f"{name} is not a number") from None
        if not amount.is_finite() or len(str(raw)) > 40:
            raise _malformed("getbalance", body, f"{name} is not a number")
        out.append(amount)
    return out[0], out[1]


# ---------------------------------------------------------------------------- sending


@attrs.frozen
class SendPart:
    """One ``/sendsms`` POST of a bulk send: its numbers (in order) and its JSON body
    without the authentication fields."""

    numbers: tuple[str, ...]
    body: Mapping[str, Any] = attrs.field(repr=False)


def build_send_parts(
    text: str,
    numbers: Sequence[str],
    *,
    sender: str | None = None,
    at: datetime | None = None,
    mms_title: str | None = None,
    tz: tzinfo = UTC,
    part_size: int = MAX_SEND_NUMBERS,
) -> list[SendPart]:
    """The POSTs a send of ``text`` to ``numbers`` takes: 10,000 numbers each.

    ``at`` (aware) is written as ``sendtime`` in the gateway's zone ``tz``; ``mms_title``
    makes it an MMS (``smstype=1``, ``mmstitle``).
    """
    if not isinstance(text, str) or not text:
        raise InvalidRequestError("the content must be a non-empty str")
    if len(text) > MAX_CONTENT:
        raise InvalidRequestError(
            f"EIMS takes at most {MAX_CONTENT} characters of content; this has {len(text)}"
        )
    if isinstance(numbers, str) or not numbers:
        raise InvalidRequestError("numbers must be a non-empty list of numbers")
    for number in numbers:
        if not isinstance(number, str) or not number.strip() or "," in number:
            raise InvalidRequestError(f"not a number: {number!r}")
    common: dict[str, Any] = {"content": text, "smstype": 0}
    if mms_title is not None:
        if not isinstance(mms_title, str) or not mms_title.strip():
            raise InvalidRequestError("an MMS needs a non-empty title")
        common.update(smstype=1, mmstitle=mms_title)
    if sender is not None:
        common["sender"] = sender
    if at is not None:
        if not isinstance(at, datetime) or at.utcoffset() is None:
            raise InvalidRequestError("at must be a timezone-aware datetime")
        common["sendtime"] = f"{at.astimezone(tz):%Y%m%d%H%M%S}"
    parts = []
    for start in range(0, len(numbers), part_size):
        chunk = tuple(n.strip() for n in numbers[start : start + part_size])
        parts.append(SendPart(chunk, {**common, "numbers": ",".join(chunk)}))
    return parts


def parse_send(body: bytes, numbers: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``(number -> message id, numbers the gateway did not accept)`` of one part.

    The reply's ``array`` holds ``[number, id]`` pairs (numbers or strings); a number
    of the part that is not among them was not accepted, and is reported, not lost.
    """
    data = _load(body, "sendsms")
    rows = data.get("array", [])
    if not isinstance(rows, list) or len(rows) > len(numbers):
        raise _malformed("sendsms", body, "array is not a list of the numbers sent")
    ids: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, list) or len(row) < 2:
            raise _malformed("sendsms", body, "a row is not [number, id]")
        ids[_text(row[0], "sendsms", body)] = _text(row[1], "sendsms", body)
    rejected = [number for number in numbers if number not in ids]
    return ids, rejected


# ---------------------------------------------------------------------------- reports

_S = DeliveryState
_SEND_STATES: Final[Mapping[int, tuple[DeliveryState, str]]] = {
    0: (_S.ACCEPTED, "sent to the carrier"),
    1: (_S.ACCEPTED, "not sent yet"),
    2: (_S.ACCEPTED, "sending"),
}
_DELIVER_STATES: Final[Mapping[int, tuple[DeliveryState, str]]] = {
    1: (_S.ACCEPTED, "sent, not delivered yet"),
    2: (_S.FAILED, "not delivered"),
    3: (_S.DELIVERED, "delivered"),
    4: (_S.EXPIRED, "delivery timed out"),
    5: (_S.UNKNOWN, "delivery status unknown"),
}
_ERRORS: Final[Mapping[int, str]] = {
    1001: "NoRoute", 1002: "NoChannel", 1003: "NoBalance", 1004: "Unknown",
    1005: "Send Refuse", 1006: "Send Timeout", 1007: "Server Timeout",
    1008: "SupplierMccMncLimit", 1009: "ConsumerMccMncLimit", 1010: "NoSupplier",
    1011: "Black Number", 1012: "Sensitive Words", 1013: "Daily Limit",
    1014: "DestinationMccMncLimit", 1016: "SMS Template Limit",
    1017: "SupplierNoBalance", 1018: "UserProfitLimit", 1019: "ChannelProfitLimit",
    1020: "MccNumberLengthLimit", 1021: "Job not found", 1022: "china sms limit",
    1023: "RouteMccMncLimit",
}  # fmt: skip


@attrs.frozen
class ReportPart:
    """One ``/getreport`` request: up to 200 ids, and its query without authentication."""

    ids: tuple[str, ...]
    query: Mapping[str, str]


def build_report_requests(ids: Iterable[str]) -> list[ReportPart]:
    """The ``/getreport`` requests for ``ids``: 200 a request, duplicates asked once."""
    if isinstance(ids, str):
        raise InvalidRequestError("ids must be a list of message ids, not one str")
    unique = list(dict.fromkeys(ids))
    for one in unique:
        if not isinstance(one, str) or not one.strip() or "," in one:
            raise InvalidRequestError(f"not a message id: {one!r}")
    return [
        ReportPart(tuple(chunk), {"ids": ",".join(chunk)})
        for chunk in (unique[i : i + MAX_REPORT_IDS] for i in range(0, len(unique), MAX_REPORT_IDS))
    ]


def describe(send: int, deliver: int | None) -> tuple[DeliveryState, str, str]:
    """The state, raw status text and description of a send status and, where the
    gateway reports one, a deliver status."""
    if send not in _SEND_STATES:
        name = _ERRORS.get(send)
        description = f"not sent: {name}" if name else f"not sent (code {send})"
        return _S.FAILED, str(send), description
    state, description = _SEND_STATES[send]
    if send != 0 or deliver is None or deliver == 0:
        return state, str(send), description
    found = _DELIVER_STATES.get(deliver)
    if found is None:
        return _S.UNKNOWN, f"{send}/{deliver}", f"unknown deliver status {deliver}"
    return found[0], f"{send}/{deliver}", found[1]


def _int(value: object, what: str, body: bytes) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    raise _malformed(what, body, f"{value!r:.30} is not a whole number")


def parse_stamp(text: str, tz: tzinfo) -> datetime | None:
    """The gateway's ``20171001123015`` in zone ``tz``; ``""``/``"0"`` → None.

    Raises ``ValueError`` for anything else (callers say which reply it was in).
    """
    if not text or text == "0":
        return None
    if len(text) != 14 or not text.isdigit():
        raise ValueError(text)
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=tz)


def _time(value: object, what: str, body: bytes, tz: tzinfo) -> datetime | None:
    text = _text(value, what, body)
    try:
        return parse_stamp(text, tz)
    except ValueError:
        raise _malformed(what, body, f"time {text[:20]!r}") from None


def parse_reports(body: bytes, ids: Sequence[str], *, tz: tzinfo = UTC) -> list[DeliveryReport]:
    """The reports of one ``/getreport`` for ``ids``: rows ``[id, number, time, send]``
    or, with deliver reports on, ``[id, number, time, send, deliver]``. An id the reply
    does not list is reported as UNKNOWN ("not found"), never dropped."""
    data = _load(body, "getreport")
    rows = data.get("array", [])
    if not isinstance(rows, list) or len(rows) > len(ids):
        raise _malformed("getreport", body, "array is not a list of the ids asked")
    found: dict[str, DeliveryReport] = {}
    for row in rows:
        if not isinstance(row, list) or len(row) not in (4, 5):
            raise _malformed("getreport", body, "a row is not 4 or 5 fields")
        message_id = _text(row[0], "getreport", body)
        send = _int(row[3], "getreport", body)
        deliver = _int(row[4], "getreport", body) if len(row) == 5 else None
        state, status, description = describe(send, deliver)
        found[message_id] = DeliveryReport(
            None,
            message_id,
            _text(row[1], "getreport", body),
            "",
            state,
            status,
            description,
            _time(row[2], "getreport", body, tz),
            None,
        )
    reports = []
    for message_id in ids:
        report = found.get(message_id)
        if report is None:
            report = DeliveryReport(
                None, message_id, "", "", _S.UNKNOWN, "", "the gateway does not know this id",
                None, None,
            )  # fmt: skip
        reports.append(report)
    return reports


# ---------------------------------------------------------------------------- inbound


def parse_inbound(body: bytes, *, tz: tzinfo = UTC) -> list[InboundMessage]:
    """The messages of one ``/getsms``: rows ``[id, number, time, base64 content]``;
    content that is not base64 of UTF-8 text is a ResponseFormatError naming the id."""
    data = _load(body, "getsms")
    rows = data.get("array", [])
    if not isinstance(rows, list) or len(rows) > MAX_INBOUND:
        raise _malformed("getsms", body, f"array is not a list of at most {MAX_INBOUND}")
    messages = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 4:
            raise _malformed("getsms", body, "a row is not [id, number, time, content]")
        message_id = _text(row[0], "getsms", body)
        content = row[3]
        if not isinstance(content, str):
            raise _malformed("getsms", body, f"message {message_id}: content is not text")
        try:
            text = base64.b64decode(content, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise ResponseFormatError(
                f"inbound message {message_id[:40]!r}: its content is not base64 of UTF-8 text",
                provider=PROVIDER,
            ) from None
        messages.append(
            InboundMessage(
                _text(row[1], "getsms", body),
                text,
                _time(row[2], "getsms", body, tz),
                message_id,
            )
        )
    return messages
