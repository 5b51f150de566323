"""EVERY8D HTTP API 2.1: requests and replies, as pure functions.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return a :class:`Request`: the path and its form fields, without the credentials, which
:func:`credentials` gives and :func:`encode_form` joins into the UTF-8 form body.
``parse_*`` functions take the reply's text and return models or raise the error its
code means. The send, credit and cancel replies are those of the SOAP API
(:mod:`aiosms.every8d._common`); the status queries answer TAB-separated pages.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
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
    is_international,
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
    "CANCEL_PATH",
    "CREDIT_PATH",
    "FORM_CONTENT_TYPE",
    "IMAGE_TYPES",
    "MMS_CANCEL_PATH",
    "MMS_MAX_BYTES",
    "MMS_MAX_TEXT",
    "MMS_PATH",
    "MMS_STATUS_PATH",
    "PAGE_SIZE",
    "SMS_PATH",
    "STATUS_PATH",
    "ReportPage",
    "Request",
    "build_erase_booking",
    "build_get_credit",
    "build_get_delivery_status",
    "build_send",
    "build_send_mms",
    "credentials",
    "encode_form",
    "parse_credit",
    "parse_erase_booking",
    "parse_report_page",
    "parse_send",
    "sniff_image_type",
]

SMS_PATH: Final = "/API21/HTTP/sendSMS.ashx"
MMS_PATH: Final = "/API21/HTTP/MMS/sendMMS.ashx"  # exactly: a PHP peer misspells it
STATUS_PATH: Final = "/API21/HTTP/getDeliveryStatus.ashx"
MMS_STATUS_PATH: Final = "/API21/HTTP/MMS/getDeliveryStatus.ashx"
CREDIT_PATH: Final = "/API21/HTTP/getCredit.ashx"
CANCEL_PATH: Final = "/API21/HTTP/eraseBooking.ashx"
MMS_CANCEL_PATH: Final = "/API21/HTTP/MMS/eraseBooking.ashx"
PAGE_SIZE: Final = 1000
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=utf-8"
MMS_MAX_BYTES: Final = 50 * 1024
"""An MMS holds at most this many bytes of picture and text (UTF-8) together."""
MMS_MAX_TEXT: Final = 4000
MMS_SUBJECT_MAX: Final = 15
"""Characters of an MMS subject that holds any non-ASCII character."""
MMS_SUBJECT_MAX_ASCII: Final = 95
IMAGE_TYPES: Final = frozenset({"jpg", "jpeg", "png", "gif"})


@attrs.frozen
class Request:
    """One HTTP API call, checked and ready but for the credentials.

    Attributes:
        name: the operation, for logs and errors (``"sendSMS"``, ``"getCredit"``…).
        path: where it is posted, under the base URL.
        fields: its form fields after ``UID`` and ``PWD``.
        idempotent: whether repeating it is harmless (sends and cancels are not).
    """

    name: str
    path: str
    fields: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    idempotent: bool = True


# ---------------------------------------------------------------------------- the form


def credentials(uid: str, password: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The ``UID`` and ``PWD`` fields every call starts with (both checked)."""
    check_text("uid", uid, required=True)
    check_text("password", password, required=True, secret=True)
    return ("UID", uid), ("PWD", password)


def encode_form(fields: Iterable[tuple[str, str]]) -> bytes:
    """``application/x-www-form-urlencoded`` in UTF-8, fields in order (pure ASCII)."""
    return "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in fields).encode(
        "ascii"
    )


# ---------------------------------------------------------------------------- builders


def _send_fields(
    text: str,
    to: str | Iterable[str],
    subject: str,
    at: datetime | None,
    validity: timedelta | None,
) -> tuple[list[str], list[tuple[str, str]]]:
    check_text("subject", subject, required=False)
    numbers = normalize_recipients(to)
    fields = [
        ("SB", subject),
        ("MSG", text),
        ("DEST", ",".join(numbers)),
        ("ST", format_send_time(at)),
        ("RETRYTIME", "" if validity is None else validity_minutes(validity)),
    ]
    return numbers, fields


def build_send(
    text: str,
    to: str | Iterable[str],
    *,
    subject: str = "",
    at: datetime | None = None,
    validity: timedelta | None = None,
) -> Request:
    """``sendSMS.ashx``: ``SB MSG DEST ST RETRYTIME`` (``RETRYTIME`` empty: 24 hours)."""
    check_text("text", text, required=True)
    _, fields = _send_fields(text, to, subject, at, validity)
    return Request("sendSMS", SMS_PATH, tuple(fields), idempotent=False)


_SIGNATURES: Final = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def sniff_image_type(data: bytes) -> str | None:
    """``"jpg"``, ``"png"`` or ``"gif"`` from a picture's first bytes, else None."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    return None


def _image_type(data: bytes, given: str | None) -> str:
    sniffed = sniff_image_type(data)
    if given is None:
        if sniffed is None:
            raise InvalidRequestError(
                "the image is not a JPEG, PNG or GIF (its first bytes say none of them); "
                "EVERY8D takes jpg, jpeg, png or gif"
            )
        return sniffed
    if not isinstance(given, str):
        raise InvalidRequestError(f"image_type must be a str, not {type(given).__name__}")
    kind = given.strip().lower().removeprefix(".")
    if kind not in IMAGE_TYPES:
        raise InvalidRequestError(f"image_type must be one of jpg, jpeg, png, gif, not {given!r}")
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
    """``MMS/sendMMS.ashx``: the SMS fields plus ``ATTACHMENT`` (base64) and ``TYPE``.

    Refused before any request (spec 1.2): a subject over 15 characters when any is not
    ASCII (95 when all are), a text over 4,000 characters, picture + text over 50 KB, a
    picture that is not a JPEG, PNG or GIF (or not the ``image_type`` given), and any
    number outside Taiwan: MMS is not sent abroad.
    """
    check_text("text", text, required=False)
    if not isinstance(subject, str):
        raise InvalidRequestError(f"subject must be a str, not {type(subject).__name__}")
    limit = MMS_SUBJECT_MAX_ASCII if subject.isascii() else MMS_SUBJECT_MAX
    if len(subject) > limit:
        kind = "ASCII " if subject.isascii() else "non-ASCII "
        raise InvalidRequestError(
            f"an MMS subject holds at most {limit} characters when it has {kind}text "
            f"({MMS_SUBJECT_MAX} with any non-ASCII character, {MMS_SUBJECT_MAX_ASCII} "
            f"when all are ASCII); this one has {len(subject)}"
        )
    if len(text) > MMS_MAX_TEXT:
        raise InvalidRequestError(
            f"an MMS text holds at most 4,000 characters; this one has {len(text)}"
        )
    if not isinstance(image, bytes | bytearray | memoryview):
        raise InvalidRequestError(f"image must be bytes, not {type(image).__name__}")
    data = bytes(image)
    if not data:
        raise InvalidRequestError("the image is empty")
    size = len(data) + len(text.encode("utf-8"))
    if size > MMS_MAX_BYTES:
        raise InvalidRequestError(
            f"an MMS holds at most {MMS_MAX_BYTES} bytes (50 KB) of picture and text "
            f"together; this one has {size}"
        )
    kind = _image_type(data, image_type)
    numbers, fields = _send_fields(text, to, subject, at, validity)
    for number in numbers:
        if is_international(number) or not _is_taiwan_mobile(number):
            raise InvalidRequestError(
                f"{number!r} is not a Taiwanese mobile number: EVERY8D sends MMS to "
                "Taiwan only (09xxxxxxxx or +8869xxxxxxxx)"
            )
    fields.append(("ATTACHMENT", base64.b64encode(data).decode("ascii")))
    fields.append(("TYPE", kind))
    return Request("sendMMS", MMS_PATH, tuple(fields), idempotent=False)


def _is_taiwan_mobile(number: str) -> bool:
    national = "0" + number[4:] if number.startswith("+886") else number
    return len(national) == 10 and national.startswith("09") and national.isdigit()


def build_get_delivery_status(batch_id: str, page: int = 1, *, mms: bool = False) -> Request:
    """``getDeliveryStatus.ashx`` (or the MMS one): page ``page`` (``PNO``) of a batch."""
    check_text("batch_id", batch_id, required=True)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidRequestError("page numbers start at 1")
    fields = (("BID", batch_id), ("PNO", str(page)))
    if mms:
        return Request("getMmsDeliveryStatus", MMS_STATUS_PATH, fields)
    return Request("getDeliveryStatus", STATUS_PATH, fields)


def build_get_credit() -> Request:
    """``getCredit.ashx``: the account's remaining credit."""
    return Request("getCredit", CREDIT_PATH, ())


def build_erase_booking(batch_id: str, *, mms: bool = False) -> Request:
    """``eraseBooking.ashx`` (or the MMS one): cancel what is still scheduled."""
    check_text("batch_id", batch_id, required=True)
    fields = (("BID", batch_id),)
    if mms:
        return Request("eraseMmsBooking", MMS_CANCEL_PATH, fields, idempotent=False)
    return Request("eraseBooking", CANCEL_PATH, fields, idempotent=False)


# ---------------------------------------------------------------------------- reports

_STATUS_CHARS: Final = frozenset("-0123456789")
_MAX_COST_CHARS: Final = 24


def _bad_row(number: int, line: str, why: str) -> ResponseFormatError:
    shown = " ".join(line[:80].split())
    return ResponseFormatError(
        f"getDeliveryStatus: line {number} cannot be read ({why}): {shown!r}",
        provider=PROVIDER,
    )


def _status(code: str, number: int, line: str) -> tuple[DeliveryState, str]:
    if not code or len(code) > 12 or not _STATUS_CHARS.issuperset(code) or "-" in code[1:]:
        raise _bad_row(number, line, f"STATUS {code[:20]!r} is not a code")
    if code in ("-", ""):
        raise _bad_row(number, line, "no STATUS")
    return describe_status(code)


def parse_report_page(text: str, batch_id: str) -> ReportPage:
    """One page of ``getDeliveryStatus.ashx``: the batch's count and its rows.

    The first non-empty line is the count; each further non-empty line a row of
    TAB-separated ``NAME MOBILE SEND_TIME COST STATUS`` and, from newer services, a
    sixth column (kept as ``details["extra"]``). Fields may be padded with spaces and
    lines end in ``\\n`` or ``\\r\\n``. A row that cannot be read raises
    :class:`ResponseFormatError` naming its line (1-based); none is dropped.
    """
    stripped = text.strip()
    if not stripped:
        return ReportPage(count=0, reports=[])
    check_error(stripped)
    lines = text.split("\n")
    reports: list[DeliveryReport] = []
    count = -1
    # Hot loop (1,000 rows a page): each distinct COST text becomes a Decimal, and each
    # distinct STATUS is described, once per page (both are immutable, safe to share).
    costs: dict[str, Decimal] = {}
    states: dict[str, tuple[DeliveryState, str]] = {}
    append = reports.append
    for index, line in enumerate(lines, 1):
        if count < 0:
            if line.strip():
                count = parse_int(line, "getDeliveryStatus count", stripped)
            continue
        fields = line.split("\t")
        width = len(fields)
        if width == 1:
            if line.strip():
                raise _bad_row(index, line, "no TAB-separated fields")
            continue  # an empty line
        if width == 5:
            name, mobile, sent, cost, code = fields
            extra = ""
        elif width == 6:
            name, mobile, sent, cost, code, extra = fields
            extra = extra.strip()
        else:
            raise _bad_row(index, line, f"{width} fields, not 5 or 6")
        if len(reports) == PAGE_SIZE:
            raise _bad_row(index, line, f"more than {PAGE_SIZE} rows in a page")
        mobile = mobile.strip()
        if not mobile:
            raise _bad_row(index, line, "no MOBILE")
        code = code.strip()
        described = states.get(code)
        if described is None:
            described = states[code] = _status(code, index, line)
        cost = cost.strip()
        amount = None
        if cost:
            amount = costs.get(cost)
            if amount is None:
                try:
                    if len(cost) > _MAX_COST_CHARS:  # a cost, not a number to compute with
                        raise ResponseFormatError("too long", provider=PROVIDER)
                    amount = parse_decimal(cost, "getDeliveryStatus COST", cost)
                except ResponseFormatError:
                    raise _bad_row(index, line, f"COST {cost[:20]!r}") from None
                costs[cost] = amount
        try:
            sent_at = parse_time(sent) if sent else None
        except ResponseFormatError:
            raise _bad_row(index, line, f"SEND_TIME {sent.strip()[:30]!r}") from None
        # Positional arguments, in DeliveryReport's field order: measurably faster here.
        append(
            DeliveryReport(
                batch_id,
                None,
                mobile,
                name.strip(),
                described[0],
                code,
                described[1],
                sent_at,
                amount,
                (),
                None,
                Details({"extra": extra}) if extra else _NO_DETAILS,
            )
        )
    return ReportPage(count=max(count, 0), reports=reports)


_NO_DETAILS: Final = Details()
