"""EVERY8D's rules, as the simulator models them: Taipei time, numbers, prices, codes.

The simulator's own reading of the specs, kept apart from the clients' codecs on
purpose: a test that runs a client against the simulator compares two independent
implementations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from lxml import etree

__all__ = [
    "LONG_SMS_LIMIT",
    "TAIPEI",
    "default_fate",
    "is_international",
    "length_cost",
    "message_cost",
]

TAIPEI: Final = timezone(timedelta(hours=8), "Asia/Taipei")
"""EVERY8D's local time (UTC+8, no daylight saving)."""

XML_DECLARATION: Final = '<?xml version="1.0" encoding="utf-8"?>'

MOBILE: Final = re.compile(r"\+?[0-9]{8,20}")
_SEND_TIME = re.compile(r"[0-9]{14}")
DEFAULT_VALIDITY: Final = 1440  # minutes
_GOLDEN = 0.6180339887498949

# Status codes.
SCHEDULED: Final = "300"
CANCELLED: Final = "303"
NO_CREDIT: Final = "301"
ACCEPTED: Final = "0"
DELIVERED: Final = "100"
REPLY: Final = "999"  # a push that carries a reply
MMS_SENT: Final = "700"  # the only status an MMS reaches after 300 (spec 2.3)
MMS_COST: Final = 3  # points an MMS costs, whatever its length (spec 1.2)

# Result strings shared by the SOAP and HTTP APIs.
PARAM_ERROR: Final = "-1,參數錯誤"
DT_ERROR: Final = "-6,DT格式錯誤"
MOBILE_ERROR: Final = "-306,手機格式不符:"


# ----------------------------------------------------------------------------- pricing

LONG_SMS_LIMIT: Final = 333
"""Characters one long SMS holds; a longer text is split into parts of this size."""


def _part_cost(length: int) -> int:
    if length <= 70:
        return 1
    if length <= 134:
        return 2
    if length <= 201:
        return 3
    if length <= 268:
        return 4
    return 5


def length_cost(length: int) -> int:
    """Points a text of ``length`` characters costs to a Taiwanese number.

    Up to 333 characters by the price table; a longer text is split into 333-character
    parts, each priced by its own length (403 characters: 5 + 1).
    """
    if length <= LONG_SMS_LIMIT:
        return _part_cost(length)
    full, rest = divmod(length, LONG_SMS_LIMIT)
    return full * _part_cost(LONG_SMS_LIMIT) + (_part_cost(rest) if rest else 0)


def is_international(mobile: str) -> bool:
    """True for numbers EVERY8D charges triple: not ``+886…`` and not ``09…``."""
    return not mobile.startswith(("+886", "09"))


def message_cost(text: str, mobile: str) -> int:
    """Credit one message of ``text`` to ``mobile`` costs (EVERY8D's price table).

    1–70 characters cost 1, 71–134 → 2, 135–201 → 3, 202–268 → 4, 269–333 → 5; a
    longer text is split into parts of 333 characters, each priced by its length (so
    334 characters cost 5 + 1, 666 cost 5 + 5). International numbers (neither
    ``+886…`` nor ``09…``) cost three times as much. Characters are code points.
    """
    base = length_cost(len(text))
    return base * 3 if is_international(mobile) else base


# ----------------------------------------------------------------------------- outcomes

_FATE_BY_LAST_DIGIT: Mapping[str, str] = {"7": "101", "8": "103", "9": "107"}


def default_fate(mobile: str) -> str:
    """The default final status of a message: by the number's last digit.

    0–6 → ``"100"`` (delivered), 7 → ``"101"`` (failed, handset), 8 → ``"103"`` (no such
    number), 9 → ``"107"`` (expired).
    """
    return _FATE_BY_LAST_DIGIT.get(mobile[-1:], DELIVERED)


def spread(index: int) -> float:
    """A deterministic factor in [0.5, 1.5) that staggers a batch's deliveries."""
    return 0.5 + (index * _GOLDEN) % 1.0


# ----------------------------------------------------------------------------- numbers


def split_mobiles(mobile: str) -> list[str]:
    """The numbers of a comma-separated ``mobile``/``DEST`` (spaces and empty parts dropped)."""
    return [number for number in (part.strip() for part in mobile.split(",")) if number]


def national(mobile: str) -> str:
    """``+8869…`` → ``09…``; other numbers unchanged."""
    if mobile.startswith("+8869"):
        return "0" + mobile[4:]
    return mobile


# ----------------------------------------------------------------------------- time


def parse_send_time(value: str, now: float) -> float | None:
    """``yyyyMMddHHmmss`` Taipei time -> epoch seconds (never before ``now``).

    An empty value means now; ``None`` means the value is not a valid time.
    """
    value = value.strip()
    if not value:
        return now
    if not _SEND_TIME.fullmatch(value):
        return None
    try:
        when = datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:14]),
            tzinfo=TAIPEI,
        )
    except ValueError:
        return None
    return max(when.timestamp(), now)


def parse_validity(value: str) -> int | None:
    """The retryTime / RETRYTIME minutes (1440 when empty), or ``None`` when invalid."""
    value = value.strip()
    if not value:
        return DEFAULT_VALIDITY
    if not value.isdigit():
        return None
    return int(value)


def local(ts: float) -> datetime:
    """Epoch seconds -> an aware Taipei datetime."""
    return datetime.fromtimestamp(ts, TAIPEI)


def sent_time_text(ts: float) -> str:
    """``2024/3/5 04:07:09``: SENT_TIME in delivery reports (no zero padding of the date)."""
    when = local(ts)
    return f"{when.year}/{when.month}/{when.day} {when:%H:%M:%S}"


def reply_time_text(ts: float) -> str:
    """``2024/03/05 04:07:09``: REPLY_TIME in delivery reports."""
    return f"{local(ts):%Y/%m/%d %H:%M:%S}"


def push_time(ts: float) -> str:
    """``20240305040709``: RT in a push."""
    return f"{local(ts):%Y%m%d%H%M%S}"


# ----------------------------------------------------------------------------- XML text


def check_xml_text(text: str) -> None:
    """Raise ``ValueError`` when ``text`` holds characters XML 1.0 cannot carry."""
    try:
        etree.Element("x").text = text
    except ValueError as exc:
        raise ValueError(f"text holds characters XML cannot carry: {exc}") from None


def cdata_or_text(text: str) -> Any:
    """A CDATA section for ``text`` unless it holds ``]]>`` (then plain escaped text)."""
    return text if "]]>" in text else etree.CDATA(text)
