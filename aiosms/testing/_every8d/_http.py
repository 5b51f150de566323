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
from ._common import MOBILE_ERROR, national, reply_time_text

__all__ = ["MmsPicture", "check_mms", "tab_report"]

_MAX_BYTES: Final = 50 * 1024  # picture + text
_MAX_TEXT: Final = 4000
_IMAGE_TYPES: Final = frozenset({"jpg", "jpeg", "png", "gif"})
PAGE_SIZE: Final = 1000

MMS_PARAM_ERROR: Final = "-1,參數錯誤"
MMS_SUBJECT_ERROR: Final = "-1,主旨長度超過限制"
MMS_SIZE_ERROR: Final = "-5,內容或圖檔超過大小限制"
MMS_TYPE_ERROR: Final = "-1,圖片格式錯誤"


@attrs.frozen
class MmsPicture:
    """A picture an MMS carried: its bytes and the TYPE given."""

    data: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    type: str


def check_mms(
    *, subject: str, text: str, mobiles: list[str], attachment: str, image_type: str
) -> MmsPicture | str:
    """The picture of a valid ``sendMMS``, or the error result EVERY8D would answer."""
    limit = 95 if subject.isascii() else 15
    if len(subject) > limit:
        return MMS_SUBJECT_ERROR
    if len(text) > _MAX_TEXT:
        return MMS_SIZE_ERROR
    kind = image_type.strip().lower()
    if kind not in _IMAGE_TYPES:
        return MMS_TYPE_ERROR
    try:
        data = base64.b64decode(attachment.strip(), validate=True)
    except (binascii.Error, ValueError):
        return MMS_PARAM_ERROR
    if not data:
        return MMS_PARAM_ERROR
    if len(data) + len(text.encode("utf-8")) > _MAX_BYTES:
        return MMS_SIZE_ERROR
    for number in mobiles:
        taiwanese = national(number)
        if not (len(taiwanese) == 10 and taiwanese.startswith("09") and taiwanese.isdigit()):
            return MOBILE_ERROR + number  # MMS is not sent abroad
    return MmsPicture(data, kind)


def tab_report(
    batch: Every8dBatch | None, page: int, now: float, *, columns: int = 5, padded: bool = False
) -> str:
    """A ``getDeliveryStatus.ashx`` page: the count line, then up to 1,000 rows of
    ``NAME MOBILE SEND_TIME COST STATUS`` (and a sixth column, a record number, when
    ``columns`` is 6), TAB-separated. ``padded`` pads every field with spaces, ends lines
    with ``\\r\\n`` and adds empty lines, as some services answer."""
    if batch is None:
        return "0"
    start = (page - 1) * PAGE_SIZE
    end = min(start + PAGE_SIZE, len(batch))
    rows = [str(len(batch))]
    if padded:
        rows.append("")
    for index in range(start, end):
        status = batch.status(index, now)
        sent = "" if status in ("300", "303", "301") else reply_time_text(batch.send_at(index))
        fields = [
            batch.name(index),
            batch.mobiles[index],
            sent,
            f"{batch.cost(index)}.0",
            status,
        ]
        if columns == 6:
            fields.append(str(index + 1))
        if padded:
            fields = [f" {field}  " for field in fields]
        rows.append("\t".join(fields))
    if padded:
        rows.append("")
        return "\r\n".join(rows) + "\r\n"
    return "\n".join(rows)
