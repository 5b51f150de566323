"""EVERY8D HTTP API 2.1 (SMS and MMS): requests and replies, as pure functions.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return a :class:`Request`: the operation, its path and its form fields without the
credentials; :func:`credentials` gives the ``UID``/``PWD`` fields every call starts with
and :func:`encode_form` joins them all into the UTF-8 form body. ``parse_*`` functions
take the reply's text and return models or raise the error its code means. The send,
credit and cancel replies are the SOAP API's (:mod:`aiosms.every8d._common` reads them
for both); the status queries answer a TAB-separated page (:func:`parse_report_page`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import repeat
from operator import add, itemgetter
from typing import Final
from urllib.parse import quote_plus

import attrs

from ..errors import InvalidRequestError, ResponseFormatError
from ..models import DeliveryReport, DeliveryState, Details
from ._common import (
    ReportPage,
    check_error,
    check_text,
    format_send_time,
    normalize_recipients,
    parse_credit,
    parse_decimal,
    parse_erase_booking,
    parse_int,
    parse_send,
    parse_time,
    validity_minutes,
)
from .codes import PROVIDER, describe_status

__all__ = [
    "CANCEL_PATH", "CREDIT_PATH", "FORM_CONTENT_TYPE", "IMAGE_TYPES", "MMS_CANCEL_PATH",
    "MMS_MAX_BYTES", "MMS_MAX_TEXT", "MMS_PATH", "MMS_STATUS_PATH", "PAGE_SIZE", "SMS_PATH",
    "STATUS_PATH", "ReportPage", "Request", "build_erase_booking", "build_get_credit",
    "build_get_delivery_status", "build_send", "build_send_mms", "credentials", "encode_form",
    "parse_credit", "parse_erase_booking", "parse_report_page", "parse_send", "sniff_image_type",
]  # fmt: skip

SMS_PATH: Final = "/API21/HTTP/sendSMS.ashx"
MMS_PATH: Final = "/API21/HTTP/MMS/sendMMS.ashx"  # exactly this: a PHP peer misspells it
STATUS_PATH: Final = "/API21/HTTP/getDeliveryStatus.ashx"
MMS_STATUS_PATH: Final = "/API21/HTTP/MMS/getDeliveryStatus.ashx"
CREDIT_PATH: Final = "/API21/HTTP/getCredit.ashx"
CANCEL_PATH: Final = "/API21/HTTP/eraseBooking.ashx"
MMS_CANCEL_PATH: Final = "/API21/HTTP/MMS/eraseBooking.ashx"
PAGE_SIZE: Final = 1000
"""Rows a status page holds at most (spec 2.2: 1,000 a page, ``PNO`` picks the page)."""
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=utf-8"
MMS_MAX_BYTES: Final = 50 * 1024
"""Bytes of picture and text (UTF-8) one MMS holds together (spec 1.2: 圖加文 50KB)."""
MMS_MAX_TEXT: Final = 4000
"""Characters of an MMS text (spec 1.2)."""
MMS_SUBJECT_MAX: Final = 15
"""Characters of an MMS subject that holds any non-ASCII character (中英文 15 字)."""
MMS_SUBJECT_MAX_ASCII: Final = 95
"""Characters of an all-ASCII MMS subject (純英數 95 字)."""
IMAGE_TYPES: Final = frozenset({"jpg", "jpeg", "png", "gif"})
"""The picture types ``sendMMS`` takes as ``TYPE``."""


@attrs.frozen
class Request:
    """One HTTP API call, checked and ready but for the credentials.

    Attributes:
        name: the operation, for logs and errors (``"sendSMS"``, ``"sendMMS"``,
            ``"getDeliveryStatus"``, ``"getMmsDeliveryStatus"``, ``"getCredit"``,
            ``"eraseBooking"``, ``"eraseMmsBooking"``).
        path: where it is posted, under the base URL (one of the ``*_PATH``).
        fields: its form fields, in order, after ``UID`` and ``PWD``; left out of the
            repr (they hold the message and the numbers).
        idempotent: whether repeating it is harmless (sends and cancels are not).
    """

    name: str
    path: str
    fields: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    idempotent: bool = True


# ---------------------------------------------------------------------------- the form


def credentials(uid: str, password: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """``(("UID", uid), ("PWD", password))``: the fields every call starts with.

    Both are checked (non-empty, sendable text); a refusal never shows the password.
    """
    check_text("uid", uid, required=True)
    check_text("password", password, required=True, secret=True)
    return ("UID", uid), ("PWD", password)


def encode_form(fields: Iterable[tuple[str, str]]) -> bytes:
    """The fields as an ``application/x-www-form-urlencoded`` body, in order.

    Names and values are UTF-8 and percent-encoded (``quote_plus``: a space is ``+``,
    every other byte outside ``A-Z a-z 0-9 _.-~`` is ``%XX``), so the body is pure
    ASCII and reads back exactly with ``urllib.parse.parse_qsl``.
    """
    body = "&".join([f"{quote_plus(name)}={quote_plus(value)}" for name, value in fields])
    return body.encode("ascii")


# ---------------------------------------------------------------------------- builders


def _send_fields(text: str, numbers: list[str], subject: str, at: datetime | None,
                 validity: timedelta | None) -> list[tuple[str, str]]:  # fmt: skip
    return [
        ("SB", subject),
        ("MSG", text),
        ("DEST", ",".join(numbers)),
        ("ST", format_send_time(at)),
        ("RETRYTIME", "" if validity is None else validity_minutes(validity)),
    ]


def build_send(
    text: str,
    to: str | Iterable[str],
    *,
    subject: str = "",
    at: datetime | None = None,
    validity: timedelta | None = None,
) -> Request:
    """``sendSMS.ashx`` (spec 1.1): fields ``SB MSG DEST ST RETRYTIME``.

    ``SB`` is the subject (not sent to the phones), ``MSG`` the text (required),
    ``DEST`` the normalized numbers joined by commas, ``ST`` the send time as
    ``yyyyMMddHHmmss`` in Taipei time (empty: now), ``RETRYTIME`` the validity in whole
    minutes rounded up (empty: EVERY8D's default of 1,440). Not idempotent.
    """
    check_text("text", text, required=True)
    check_text("subject", subject, required=False)
    fields = _send_fields(text, normalize_recipients(to), subject, at, validity)
    return Request("sendSMS", SMS_PATH, tuple(fields), idempotent=False)


_SIGNATURES: Final = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"),
                      (b"GIF87a", "gif"), (b"GIF89a", "gif"))  # fmt: skip
# A Taiwanese mobile, after normalize_recipients: 09 + 8 digits, or +886 9 + 8 digits.
_TAIWAN_MOBILE: Final = re.compile(r"09[0-9]{8}|\+8869[0-9]{8}")


def sniff_image_type(data: bytes) -> str | None:
    """``"jpg"`` (``FF D8 FF``), ``"png"`` or ``"gif"`` (``GIF87a``/``GIF89a``) from a
    picture's first bytes; None for anything else."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    return None


def _image_type(data: bytes, given: str | None) -> str:
    """The ``TYPE`` to send: ``given`` (normalized, checked against the bytes) or sniffed."""
    sniffed = sniff_image_type(data)
    if given is None:
        if sniffed is None:
            raise InvalidRequestError(
                "the image is not a JPEG, PNG or GIF (its first bytes say none of them) "
                "and no image_type was given; EVERY8D takes jpg, jpeg, png or gif"
            )
        return sniffed
    if not isinstance(given, str):
        raise InvalidRequestError(f"image_type must be a str, not {type(given).__name__}")
    kind = given.lower().removeprefix(".")
    if kind not in IMAGE_TYPES:
        raise InvalidRequestError(
            f"image_type must be one of jpg, jpeg, png, gif (any case, a leading dot "
            f"allowed), not {given!r}"
        )
    if sniffed is not None and sniffed != ("jpg" if kind == "jpeg" else kind):
        raise InvalidRequestError(
            f"image_type={given!r} but the image's bytes are a {sniffed.upper()}"
        )
    return kind


def build_send_mms(
    text: str,
    to: str | Iterable[str],
    *,
    image: bytes,
    image_type: str | None = None,
    subject: str = "",
    at: datetime | None = None,
    validity: timedelta | None = None,
) -> Request:
    """``MMS/sendMMS.ashx`` (spec 1.2): ``SB MSG DEST ST RETRYTIME ATTACHMENT TYPE``.

    The first five as for :func:`build_send`, but ``MSG`` may be empty (the picture
    carries the message); ``ATTACHMENT`` is the picture in standard base64 and
    ``TYPE`` its kind: ``image_type`` (``jpg``, ``jpeg``, ``png`` or ``gif``, any case,
    a leading dot allowed) or, when None, what the bytes are. Not idempotent.

    Refused with :class:`InvalidRequestError` before any request, by the spec's limits:
    a subject over 15 characters when any of them is not ASCII (95 when all are), a
    text over 4,000 characters, picture + text (UTF-8) over 50 KiB (51,200 bytes), an
    empty picture or one that is not bytes, a picture that is not a JPEG, PNG or GIF
    when no ``image_type`` is given, an ``image_type`` the bytes contradict, and any
    number outside Taiwan (MMS has no international sending).
    """
    check_text("text", text, required=False)
    check_text("subject", subject, required=False)
    ascii_subject = subject.isascii()
    limit = MMS_SUBJECT_MAX_ASCII if ascii_subject else MMS_SUBJECT_MAX
    if len(subject) > limit:
        raise InvalidRequestError(
            f"an MMS subject holds at most {MMS_SUBJECT_MAX} characters when any of them "
            f"is not ASCII, {MMS_SUBJECT_MAX_ASCII} when all are; this "
            f"{'ASCII' if ascii_subject else 'non-ASCII'} one has {len(subject)}"
        )
    if len(text) > MMS_MAX_TEXT:
        raise InvalidRequestError(
            f"an MMS text holds at most 4,000 characters; this one has {len(text)}"
        )
    if not isinstance(image, bytes | bytearray | memoryview):
        raise InvalidRequestError(
            f"image must be bytes (the picture file's content), not {type(image).__name__}"
        )
    data = bytes(image)
    if not data:
        raise InvalidRequestError("the image is empty")
    size = len(data) + len(text.encode("utf-8"))
    if size > MMS_MAX_BYTES:
        raise InvalidRequestError(
            f"an MMS holds at most {MMS_MAX_BYTES} bytes (50 KiB) of picture and text "
            f"(UTF-8) together; this one has {size}"
        )
    kind = _image_type(data, image_type)
    numbers = normalize_recipients(to)
    for number in numbers:
        if not _TAIWAN_MOBILE.fullmatch(number):
            raise InvalidRequestError(
                f"{number!r} is not a Taiwanese mobile number (09xxxxxxxx or "
                "+8869xxxxxxxx): MMS has no international sending"
            )
    fields = _send_fields(text, numbers, subject, at, validity)
    fields.append(("ATTACHMENT", base64.b64encode(data).decode("ascii")))
    fields.append(("TYPE", kind))
    return Request("sendMMS", MMS_PATH, tuple(fields), idempotent=False)


def build_get_delivery_status(batch_id: str, page: int = 1, *, mms: bool = False) -> Request:
    """``getDeliveryStatus.ashx`` (spec 2.2), or ``MMS/getDeliveryStatus.ashx`` (2.3)
    when ``mms``: fields ``BID`` (the batch) and ``PNO`` (the page, from 1; 1,000 rows
    a page). Read the reply with :func:`parse_report_page`."""
    check_text("batch_id", batch_id, required=True)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidRequestError(f"page numbers are ints from 1, not {page!r}")
    fields = (("BID", batch_id), ("PNO", str(page)))
    if mms:
        return Request("getMmsDeliveryStatus", MMS_STATUS_PATH, fields)
    return Request("getDeliveryStatus", STATUS_PATH, fields)


def build_get_credit() -> Request:
    """``getCredit.ashx`` (spec 3.1): no fields; the reply is the credit left."""
    return Request("getCredit", CREDIT_PATH, ())


def build_erase_booking(batch_id: str, *, mms: bool = False) -> Request:
    """``eraseBooking.ashx`` (spec 3.2), or ``MMS/eraseBooking.ashx`` (3.3) when
    ``mms``: field ``BID``; cancels what is still scheduled. Not idempotent."""
    check_text("batch_id", batch_id, required=True)
    fields = (("BID", batch_id),)
    if mms:
        return Request("eraseMmsBooking", MMS_CANCEL_PATH, fields, idempotent=False)
    return Request("eraseBooking", CANCEL_PATH, fields, idempotent=False)


# ---------------------------------------------------------------------------- reports

SPLIT_LINES: Final = 4 * PAGE_SIZE
"""Lines of a reply split at once; a reply with more (more blank lines than a page has
rows) is scanned for its non-blank lines instead, so that memory stays in proportion."""

_STATUS: Final = re.compile(r"-?[0-9]{1,12}")
_MAX_COST: Final = 24  # characters of a COST: a price, not a number to compute with
# A line that is not blank: more than spaces (and the "\r" of a CRLF line). Possessive,
# so that a line is looked at once wherever the scan is.
_NOT_BLANK: Final = re.compile(r"^(?! *+\r?$)[^\n]++", re.MULTILINE)
_NO_DETAILS: Final = Details()
_split = str.split
_strip = str.strip
_head, _tail = itemgetter(slice(None, -3)), itemgetter(slice(-3, None))
_SECONDS: Final = {f":{second:02d}": timedelta(seconds=second) for second in range(60)}


def _bad_line(number: int, line: str, why: str) -> ResponseFormatError:
    shown = repr(line[:80])
    if len(line) > 80 or len(shown) > 90:  # escapes (\t, \x00…) make a repr longer
        shown = shown[:90] + "…"
    return ResponseFormatError(
        f"unexpected getDeliveryStatus reply: line {number} {why}: {shown}", provider=PROVIDER
    )


# Each reads one field's text, stripped of spaces, or raises ResponseFormatError (the
# reason); both readers below use them, so they agree on what a field means.


def _count(line: str) -> int:
    return parse_int(line.strip(" \t"), "count", line)


def _status(code: str) -> tuple[DeliveryState, str, str]:
    """(state, code, description): in DeliveryReport's order."""
    code = code.strip(" ")
    if not _STATUS.fullmatch(code):
        why = f"STATUS {code[:20]!r} is not a code (up to 12 digits)"
        raise ResponseFormatError(why, provider=PROVIDER)
    state, description = describe_status(code)
    return state, code, description


def _cost(text: str) -> Decimal | None:
    text = text.strip(" ")
    if not text:
        return None
    try:
        if len(text) > _MAX_COST:
            raise ResponseFormatError("too long")
        return parse_decimal(text, "COST", text)
    except ResponseFormatError:
        why = f"COST {text[:20]!r} is not a number"
        raise ResponseFormatError(why, provider=PROVIDER) from None


def _time(text: str) -> datetime | None:
    try:
        return parse_time(text)
    except ResponseFormatError:
        why = f"SEND_TIME {text.strip()[:30]!r} is not a time"
        raise ResponseFormatError(why, provider=PROVIDER) from None


def _parse_times(texts: Iterable[str]) -> dict[str, datetime | None]:
    """:func:`parse_time` of each text, called once per distinct minute, not per text,
    when all end in ``:SS`` (``…HH:MM`` + SS seconds is what it would compute)."""
    texts = list(texts)
    tails = list(map(_tail, texts))
    if not _SECONDS.keys() >= set(tails):
        return dict(zip(texts, map(parse_time, texts), strict=True))
    heads = list(map(_head, texts))
    minutes = {head: parse_time(head + ":00") for head in set(heads)}
    sums = map(add, map(minutes.__getitem__, heads), map(_SECONDS.__getitem__, tails))
    return dict(zip(texts, sums, strict=True))


def _details(text: str) -> Details:
    text = text.strip(" ")
    return Details({"extra": text}) if text else _NO_DETAILS


def parse_report_page(text: str, batch_id: str) -> ReportPage:
    """One page of ``getDeliveryStatus.ashx`` or its MMS twin (spec 2.2, 2.3).

    The reply is text, one record a line::

        SMS_COUNT
        NAME<TAB>MOBILE<TAB>SEND_TIME<TAB>COST<TAB>STATUS[<TAB>EXTRA]
        …

    ``SMS_COUNT`` (the first non-empty line) is the batch's total, which becomes the
    page's ``count``; each further non-empty line a :class:`DeliveryReport` of the
    batch: ``mobile`` and ``name`` as given, ``status`` the raw ``STATUS`` with its
    ``state`` and ``description``, ``sent_at`` from ``SEND_TIME`` (Taipei time, empty:
    None), ``cost`` from ``COST`` as a Decimal (empty: None) and, where a sixth column
    is present and not empty, ``details["extra"]``. Fields are stripped of spaces and
    lines end in ``\\n`` or ``\\r\\n``; blank lines are skipped. An empty reply is
    an empty page, and an error code (``-101``, ``-306,message``…) raises its error.

    Raises:
        ResponseFormatError: a row that cannot be read (not 5 or 6 fields, no MOBILE,
            a STATUS that is not a code, an unreadable SEND_TIME or COST), named by its
            line number (1-based) with its start shown; a page of more than 1,000 rows.
            No row is ever dropped.
    """
    head = text.lstrip()
    if not head:
        return ReportPage(0, [])
    if head[0] == "-":
        check_error(text.strip())
    lines = text.split("\n", SPLIT_LINES)
    if len(lines) > SPLIT_LINES:
        return _read_rows(_non_blank(text), batch_id)
    page = _read_uniform(lines, batch_id)
    return page if page is not None else _read_rows(enumerate(lines, 1), batch_id)


def _non_blank(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) of each non-blank line of a reply of thousands of lines."""
    number, seen = 1, 0
    for match in _NOT_BLANK.finditer(text):
        start = match.start()
        number += text.count("\n", seen, start)
        seen = start
        yield number, match.group()


def _read_uniform(lines: list[str], batch_id: str) -> ReportPage | None:
    """The fast reader of the usual page (the count on line 1, then rows all 5 or all
    6 fields wide), column by column: per row it only splits the line and builds the
    report; the rest is done once per column (a strip, if any field there is padded)
    or once per distinct STATUS, COST, SEND_TIME and EXTRA (a page has few of each).
    None for any other page or anything wrong: :func:`_read_rows` then reads it."""
    try:
        count = _count(lines[0])
    except ResponseFormatError:
        return None
    rows = list(filter(None, lines[1:]))
    if "\r" in rows:  # the blank lines of a CRLF page
        rows = list(filter("\r".__ne__, rows))
    n = len(rows)
    if not n:
        return ReportPage(count, [])
    if n > PAGE_SIZE:
        return None
    try:  # strict: every row as wide as the first
        columns = list(zip(*map(_split, rows, repeat("\t", n), repeat(6, n)), strict=True))
    except ValueError:
        return None
    if len(columns) not in (5, 6):
        return None
    names, mobiles, times, costs, statuses, *more = columns
    extras = more[0] if more else None
    joined = "\t".join(names)
    if joined[:1] == " " or joined[-1:] == " " or " \t" in joined or "\t " in joined:
        names = tuple(map(_strip, names, repeat(" ", n)))
    if " " in "".join(mobiles):
        mobiles = tuple(map(_strip, mobiles, repeat(" ", n)))
    if not all(mobiles):
        return None
    try:
        # The line's last field may still end in the "\r" of a CRLF line.
        described = {
            raw: _status(raw if extras is not None else raw.removesuffix("\r"))
            for raw in set(statuses)
        }
        amounts = {raw: _cost(raw) for raw in set(costs)}
        sent = _parse_times(set(times))
    except ResponseFormatError:
        return None
    codes: Iterable[str] = statuses
    if any(raw != code for raw, (_, code, _) in described.items()):
        codes = map({raw: code for raw, (_, code, _) in described.items()}.__getitem__, statuses)
    states = {raw: state for raw, (state, _, _) in described.items()}
    descriptions = {raw: description for raw, (_, _, description) in described.items()}
    args: list[Iterable[object]] = [
        repeat(batch_id, n),
        repeat(None, n),
        mobiles,
        names,
        map(states.__getitem__, statuses),
        codes,
        map(descriptions.__getitem__, statuses),
        map(sent.__getitem__, times),
        map(amounts.__getitem__, costs),
    ]
    if extras is not None:
        details = {raw: _details(raw.removesuffix("\r")) for raw in set(extras)}
        args += [repeat((), n), repeat(None, n), map(details.__getitem__, extras)]
    return ReportPage(count, list(map(DeliveryReport, *args)))


def _read_rows(lines: Iterable[tuple[int, str]], batch_id: str) -> ReportPage:
    """The careful reader, line by line: any padding, blank or CRLF lines, a mix of 5
    and 6 fields; raises on the first line it cannot read, naming it."""
    count: int | None = None
    reports: list[DeliveryReport] = []
    append = reports.append
    described: dict[str, tuple[DeliveryState, str, str]] = {}
    amounts: dict[str, Decimal | None] = {}
    sent: dict[str, datetime | None] = {}
    for number, raw in lines:
        line = raw.removesuffix("\r")
        if not line.strip(" "):
            continue
        if count is None:
            try:
                count = _count(line)
            except ResponseFormatError:
                raise _bad_line(number, line, "is not the count of reports") from None
            continue
        if len(reports) == PAGE_SIZE:
            raise _bad_line(number, line, f"is a row more than the {PAGE_SIZE} a page holds")
        fields = line.split("\t", 6)
        if len(fields) == 5:
            name, mobile, when, cost, status = fields
            extra = _NO_DETAILS
        elif len(fields) == 6:
            name, mobile, when, cost, status, more = fields
            extra = _details(more)
        else:
            width = {1: "1 field (no TAB)", 7: "7 or more fields"}.get(len(fields))
            why = f"has {width or f'{len(fields)} fields'}, not 5 or 6 TAB-separated"
            raise _bad_line(number, line, f"{why} (NAME MOBILE SEND_TIME COST STATUS [EXTRA])")
        mobile = mobile.strip(" ")
        if not mobile:
            raise _bad_line(number, line, "has no MOBILE")
        try:
            if (code := described.get(status)) is None:
                code = described[status] = _status(status)
            try:
                amount = amounts[cost]
            except KeyError:
                amount = amounts[cost] = _cost(cost)
            try:
                at = sent[when]
            except KeyError:
                at = sent[when] = _time(when)
        except ResponseFormatError as exc:
            raise _bad_line(number, line, f"cannot be read ({exc.message})") from None
        row = (batch_id, None, mobile, name.strip(" "), *code, at, amount, (), None, extra)
        append(DeliveryReport(*row))
    return ReportPage(count or 0, reports)
