"""What only EVERY8D's HTTP API has, as the simulator models it: MMS rules and the
TAB-separated status pages (spec sections 1.2, 2.2 and 2.3).

The simulator's own reading of the spec, apart from the client's codec on purpose.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

import attrs

from ._batch import Every8dBatch
from ._common import MOBILE_ERROR, PARAM_ERROR, national, reply_time_text

__all__ = [
    "MMS_IMAGE_TYPES",
    "MMS_MAX_BYTES",
    "MMS_MAX_TEXT",
    "MmsPicture",
    "check_mms",
    "tab_report",
]

MMS_MAX_BYTES: Final = 50 * 1024
"""Bytes an MMS may carry: the decoded picture plus the text in UTF-8 (spec 1.2: 50KB)."""
MMS_MAX_TEXT: Final = 4000
"""Characters an MMS text may have."""
MMS_IMAGE_TYPES: Final = frozenset({"jpg", "jpeg", "png", "gif"})
"""The TYPE values ``sendMMS`` takes (the picture's file extension)."""
_MAX_SUBJECT_ASCII: Final = 95
_MAX_SUBJECT_OTHER: Final = 15
PAGE_SIZE: Final = 1000

# Refusals of sendMMS. The spec lists only -99 for a send; these reuse the codes the
# SOAP API gives the same faults (-1 parameter error, -5 too long), with a message.
MMS_SUBJECT_ERROR: Final = "-1,主旨長度超過限制"
MMS_TEXT_ERROR: Final = "-5,簡訊內容超過 4000 字"
MMS_SIZE_ERROR: Final = "-5,圖加文超過 50KB 限制"
MMS_TYPE_ERROR: Final = "-1,圖片格式錯誤，僅支援 jpg/jpeg/png/gif"
MMS_PICTURE_ERROR: Final = "-1,附檔圖片錯誤（缺少或不是 base64）"


@attrs.frozen
class MmsPicture:
    """A picture an MMS carried: its bytes and the TYPE given (lower case)."""

    data: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    type: str


def _taiwanese(number: str) -> bool:
    """``09`` + 8 digits, or ``+8869`` + 8 digits: the only numbers an MMS goes to."""
    local = national(number)
    return len(local) == 10 and local.startswith("09") and local.isdigit()


def check_mms(
    *, subject: str, text: str, mobiles: list[str], attachment: str, image_type: str
) -> MmsPicture | str:
    """The picture of a valid ``sendMMS``, or the error result EVERY8D would answer.

    The subject holds 15 characters when any is not ASCII, 95 when all are; the text
    4,000 characters (it may be empty: the picture is the message); the decoded picture
    plus the UTF-8 text 50 * 1024 bytes. ``attachment`` is standard base64 (spaces and
    line breaks around it are ignored), ``image_type`` one of jpg/jpeg/png/gif in any
    case. Every number must be Taiwanese: MMS is not sent abroad (``-306``).
    """
    if not mobiles:
        return PARAM_ERROR
    for number in mobiles:
        if not _taiwanese(number):
            return MOBILE_ERROR + number
    limit = _MAX_SUBJECT_ASCII if subject.isascii() else _MAX_SUBJECT_OTHER
    if len(subject) > limit:
        return MMS_SUBJECT_ERROR
    if len(text) > MMS_MAX_TEXT:
        return MMS_TEXT_ERROR
    kind = image_type.strip().lower()
    if kind not in MMS_IMAGE_TYPES:
        return MMS_TYPE_ERROR
    encoded = "".join(attachment.split())
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return MMS_PICTURE_ERROR
    if not data:
        return MMS_PICTURE_ERROR
    if len(data) + len(text.encode("utf-8")) > MMS_MAX_BYTES:
        return MMS_SIZE_ERROR
    return MmsPicture(data, kind)


_NO_SEND_TIME: Final = frozenset({"300", "301", "303"})  # booked, unsent or cancelled


def tab_report(
    batch: Every8dBatch | None, page: int, now: float, *, columns: int = 5, padded: bool = False
) -> str:
    """A ``getDeliveryStatus.ashx`` page (SMS or MMS).

    The first line is the batch's recipient count (``0`` for ``None``, an unknown
    batch), then one row per recipient of page ``page`` (1,000 a page)::

        NAME<TAB>MOBILE<TAB>SEND_TIME<TAB>COST<TAB>STATUS

    SEND_TIME is Taipei time, ``2010/03/03 14:25:55``, and empty for a recipient not
    sent (booked ``300``, unsent ``301``, cancelled ``303``); COST is ``1.0``. Lines
    end in ``\\n``, with none after the last.

    ``columns=6`` adds a sixth field to every row, the recipient's record number in the
    batch (1-based). ``padded=True`` writes every field, the count too, as
    ``" field  "``, ends every line with ``\\r\\n`` and adds an empty line after the
    count line and another at the end.
    """
    total = len(batch) if batch is not None else 0
    lines = [str(total)]
    if batch is not None:
        start = (page - 1) * PAGE_SIZE
        sent_texts: dict[float, str] = {}
        for index in range(start, min(start + PAGE_SIZE, total)):
            status = batch.status(index, now)
            sent = ""
            if status not in _NO_SEND_TIME:
                send_at = batch.send_at(index)
                sent = sent_texts.get(send_at) or sent_texts.setdefault(
                    send_at, reply_time_text(send_at)
                )
            fields = [batch.name(index), batch.mobiles[index], sent, f"{batch.cost(index)}.0"]
            fields.append(status)
            if columns == 6:
                fields.append(str(index + 1))
            if padded:
                fields = [f" {field}  " for field in fields]
            lines.append("\t".join(fields))
    if not padded:
        return "\n".join(lines)
    lines[0] = f" {lines[0]}  "
    lines.insert(1, "")
    lines.append("")
    return "\r\n".join(lines) + "\r\n"
