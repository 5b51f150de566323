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
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

import attrs

from ..errors import InvalidRequestError
from ._common import (
    ReportPage,
    check_text,
    format_send_time,
    normalize_recipients,
    parse_credit,
    parse_erase_booking,
    parse_send,
    validity_minutes,
)
from .http_reports import PAGE_SIZE, parse_report_page

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

    Names and values are UTF-8 and percent-encoded, so the body is pure ASCII and reads
    back exactly with ``urllib.parse.parse_qsl``: an ASCII value as ``quote_plus``
    writes it (a space is ``+``, every other byte outside ``A-Z a-z 0-9 _.-~`` is
    ``%XX``), a value with any other character every byte as ``%XX``.
    """
    body = "&".join([f"{_quote(name)}={_quote(value)}" for name, value in fields])
    return body.encode("ascii")


# Percent-encoding, fast. An ASCII value is written byte for byte as quote_plus writes
# it (one regex pass escapes each run of unsafe characters at once). A value holding any
# non-ASCII character (a Chinese text) has every UTF-8 byte written as %XX by one C call,
# bytes.hex: any form decoder reads it back the same (RFC 3986 lets any byte be encoded),
# and it costs a sixth of quote_plus's Python step per byte (0.5 against 3 us a text).
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.~ -]+")


def _every_byte(text: str) -> str:
    return "%" + text.encode("utf-8").hex("%").upper()


def _escape_run(match: re.Match[str]) -> str:
    return _every_byte(match.group())


def _quote(text: str) -> str:
    if not text.isascii():
        return _every_byte(text)
    if text.isalnum() or not text:  # names, digits: nothing to do
        return text
    return _UNSAFE.sub(_escape_run, text).replace(" ", "+")


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
