"""EIMS delivery reports (``/getreport``) and inbound messages (``/getsms``), pure.

A report row is ``[id, number, time, send status]`` or, with the gateway's deliver
reports on (its December 2020 option), ``[id, number, time, send status, deliver
status]``; ids and numbers come as JSON numbers or strings. :func:`describe` combines
the two statuses into one :class:`~aiosms.DeliveryState`, with the 1001–1023 table as
the description of a message that was not sent.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from itertools import repeat
from typing import Any, Final

import attrs

from ..errors import InvalidRequestError, ResponseFormatError
from ..models import DeliveryReport, DeliveryState, InboundMessage, SendResult
from .codec import MAX_INBOUND, MAX_REPORT_IDS, PROVIDER, _int, _load, _malformed, _text, _time

__all__ = [
    "ReportPart",
    "build_report_requests",
    "describe",
    "message_ids",
    "parse_inbound",
    "parse_reports",
    "read_inbound",
    "report_parts",
]

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
        if not isinstance(one, str) or not one.strip() or "," in one or one != one.strip():
            raise InvalidRequestError(f"not a message id: {one!r:.40}")
    return report_parts(unique)


def report_parts(unique: Sequence[str]) -> list[ReportPart]:
    """The requests for ids already checked and each once (:func:`message_ids`' list,
    or what a watch has left of it): a poll does not check them again."""
    return [
        ReportPart(tuple(chunk), {"ids": ",".join(chunk)})
        for chunk in (unique[i : i + MAX_REPORT_IDS] for i in range(0, len(unique), MAX_REPORT_IDS))
    ]


def message_ids(ids: object) -> list[str]:
    """``ids`` as a checked list, each once: one id, a :class:`~aiosms.SendResult`'s
    (its ``message_ids``), or an iterable of ids; InvalidRequestError for none."""
    if isinstance(ids, SendResult):
        found = list(ids.message_ids.values())
    elif isinstance(ids, str):
        found = [ids]
    elif isinstance(ids, Iterable):
        found = list(ids)
    else:
        raise InvalidRequestError(f"message ids must be a str or a list of them, not {ids!r:.40}")
    if not found:
        raise InvalidRequestError("no message ids given")
    build_report_requests(found)  # checks each
    return list(dict.fromkeys(found))


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


class _Unusual(Exception):
    """A row the fast reader does not take: the careful reader reads it (or says why not)."""


_DESCRIBED: Final[Mapping[tuple[int, int | None], tuple[DeliveryState, str, str]]] = {
    (send, deliver): describe(send, deliver)
    for send in (*_SEND_STATES, *_ERRORS)
    for deliver in (None, 0, *_DELIVER_STATES)
}
"""Every (send, deliver) pair of the spec's tables, described once."""


def _stamp(value: object, tz: tzinfo) -> datetime | None:
    """``20171001123015``, a JSON number, as a datetime by arithmetic (``strptime``
    costs six times as much); 0 is None."""
    if type(value) is not int or not (10**13 <= value < 10**14 or value == 0):
        raise _Unusual
    if value == 0:
        return None
    day, clock = divmod(value, 1_000_000)
    return datetime(
        day // 10_000,
        day // 100 % 100,
        day % 100,
        clock // 10_000,
        clock // 100 % 100,
        clock % 100,
        tzinfo=tz,
    )  # fmt: skip  (a day that is none raises ValueError)


def _texts(column: tuple[Any, ...]) -> list[str]:
    """A column of ids or numbers as text: all JSON numbers, or all strings."""
    kinds = set(map(type, column))
    if kinds == {int}:
        return list(map(str, column))
    if kinds == {str}:
        return list(map(str.strip, column))
    raise _Unusual


def _read_fast(rows: list[Any], tz: tzinfo) -> dict[str, DeliveryReport]:
    """The rows as the gateway writes them, column by column: every row a list of the
    same width, each column of one type, statuses of the spec's tables. Each step is
    one pass in C (``zip``, ``map``, ``set``), so a row costs little more than its
    report; anything else raises :class:`_Unusual`, for :func:`_read_carefully`."""
    if not rows:
        return {}
    if set(map(type, rows)) != {list}:
        raise _Unusual
    widths = set(map(len, rows))
    if widths == {5}:
        message_ids, mobiles, sent, sends, delivers = zip(*rows, strict=True)
        if set(map(type, delivers)) != {int}:
            raise _Unusual
        keys: Iterable[tuple[int, int | None]] = zip(sends, delivers, strict=True)
    elif widths == {4}:
        message_ids, mobiles, sent, sends = zip(*rows, strict=True)
        keys = zip(sends, repeat(None))
    else:
        raise _Unusual
    if set(map(type, sends)) != {int}:
        raise _Unusual
    meanings = list(map(_DESCRIBED.get, keys))
    if None in meanings:
        raise _Unusual
    states, statuses, descriptions = zip(*meanings, strict=True)
    ids = _texts(message_ids)
    stamps = {value: _stamp(value, tz) for value in set(sent)}  # a page shares a few
    reports = map(
        DeliveryReport,
        repeat(None),
        ids,
        _texts(mobiles),
        repeat(""),
        states,
        statuses,
        descriptions,
        map(stamps.__getitem__, sent),
        repeat(None),
    )
    return dict(zip(ids, reports, strict=True))


def _read_carefully(rows: list[Any], body: bytes, tz: tzinfo) -> dict[str, DeliveryReport]:
    """Any row the spec allows (text with spaces, statuses outside its tables), or the
    ResponseFormatError that says which is not."""
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
    return found


def parse_reports(body: bytes, ids: Sequence[str], *, tz: tzinfo = UTC) -> list[DeliveryReport]:
    """The reports of one ``/getreport`` for ``ids``, one per id in their order: rows
    ``[id, number, time, send]`` or, with deliver reports on, ``[id, number, time,
    send, deliver]``. An id the reply does not list is reported as UNKNOWN ("the
    gateway does not know this id"), never dropped."""
    data = _load(body, "getreport")
    rows = data.get("array", [])
    if type(rows) is not list or len(rows) > len(ids):
        raise _malformed("getreport", body, "array is not a list of the ids asked")
    try:
        found = _read_fast(rows, tz)
    except (_Unusual, ValueError, TypeError):  # a row not to unpack, a day that is none
        found = _read_carefully(rows, body, tz)
    if len(found) == len(ids):
        try:
            return [found[message_id] for message_id in ids]
        except KeyError:
            pass  # ids the gateway does not know, answered with others we did not ask
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


def read_inbound(
    body: bytes, *, tz: tzinfo = UTC
) -> tuple[list[InboundMessage], list[ResponseFormatError]]:
    """The messages of one ``/getsms`` (rows ``[id, number, time, base64 content]``),
    and an error naming each message whose content is not base64 of UTF-8 text.

    The gateway hands each message out once, so one unreadable message must not cost
    the others of its reply: they are all returned, and the unreadable ones apart. A
    reply that is not the shape the spec gives is a ResponseFormatError (raised).
    """
    data = _load(body, "getsms")
    rows = data.get("array", [])
    if not isinstance(rows, list) or len(rows) > MAX_INBOUND:
        raise _malformed("getsms", body, f"array is not a list of at most {MAX_INBOUND}")
    messages = []
    errors = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 4:
            raise _malformed("getsms", body, "a row is not [id, number, time, content]")
        message_id = _text(row[0], "getsms", body)
        mobile = _text(row[1], "getsms", body)
        received_at = _time(row[2], "getsms", body, tz)
        content = row[3]
        try:
            if not isinstance(content, str):
                raise ValueError(content)
            text = base64.b64decode(content, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            errors.append(
                ResponseFormatError(
                    f"inbound message {message_id[:40]!r} from {mobile[:20]!r}: its content "
                    "is not base64 of UTF-8 text",
                    provider=PROVIDER,
                )
            )
            continue
        messages.append(InboundMessage(mobile, text, received_at, message_id))
    return messages, errors


def parse_inbound(body: bytes, *, tz: tzinfo = UTC) -> list[InboundMessage]:
    """The messages of one ``/getsms``; the first unreadable content raises its error
    (:func:`read_inbound` keeps the others)."""
    messages, errors = read_inbound(body, tz=tz)
    if errors:
        raise errors[0]
    return messages
