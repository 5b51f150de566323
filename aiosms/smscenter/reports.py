"""SMSCenter's voice-call reports (``GetMessagesResponseByMessageID``), read, pure.

Each called number is an ``IVRMessageReturnResponse`` of ``Mobile``, ``Status`` (the
IVRMessage table), ``SendDate`` (``31/08/2011 09:57:23``, Israel time), ``CallLength``
and ``Response`` (the key pressed). A reply of 1,000 calls is read with as little per
call as can be: the usual children by position, a date a minute at a time, one shared
``details`` per (length, key), numbers in ``972…`` form without a regex; anything else
the careful way (property tests hold each fast step to it).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, tzinfo
from typing import Final

from lxml import etree

from .._soap import local_children
from ..errors import InvalidRequestError
from ..models import DeliveryReport, Details
from .codec import ISRAEL, NAMESPACE, _child, _key, _malformed, _refused, _result
from .codes import describe_ivr
from .numbers import normalize_number

__all__ = ["parse_send_date", "parse_voice_reports"]


def parse_send_date(text: str, tz: tzinfo = ISRAEL) -> datetime | None:
    """``31/08/2011 09:57:23`` (Israel time) as an aware datetime; ``""`` → None.

    Raises ``ValueError`` for anything else."""
    if not text:
        return None
    if len(text) == 19 and text[16] == ":" and text[17:].isascii() and text[17:].isdigit():
        seconds = int(text[17:])
        if seconds < 60:  # the minute once (a page's calls share a few), then its second
            return _minute(text[:16], tz) + _SECONDS[seconds]
    if len(text) > 19:
        raise ValueError(text)
    return datetime.strptime(text, "%d/%m/%Y %H:%M:%S").replace(tzinfo=tz)


_SECONDS: Final = tuple(timedelta(seconds=n) for n in range(60))


@functools.lru_cache(maxsize=1024)
def _minute(text: str, tz: tzinfo) -> datetime:
    """``31/08/2011 09:57`` as an aware datetime (``ValueError`` if it is none)."""
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=tz)


# The children of an IVRMessageReturnResponse, as SMSCenter writes them: read by
# position when they are exactly these, by local name otherwise.
_CALL_FIELDS: Final = ("Mobile", "Status", "SendDate", "CallLength", "Response")
_CALL_TAGS: Final = [f"{{{NAMESPACE}}}{name}" for name in _CALL_FIELDS]


def _call_fields(entry: etree._Element) -> tuple[str, str, str, str, str]:
    if [child.tag for child in entry] == _CALL_TAGS:
        texts = [(child.text or "").strip() for child in entry]
        return texts[0], texts[1], texts[2], texts[3], texts[4]
    fields = local_children(entry)
    mobile, status, date, length, key = (_child(fields, name) or "" for name in _CALL_FIELDS)
    return mobile, status, date, length, key


@functools.lru_cache(maxsize=4096)
def _call_details(call_length: str, response: str) -> Details:
    """The ``details`` of a call: one shared, immutable instance per pair."""
    extra = {"call_length": call_length[:80], "response": response[:80]}
    return Details({k: v for k, v in extra.items() if v})


def parse_voice_reports(
    result: etree._Element | None, message_id: str, *, limit: int = 100_000
) -> list[DeliveryReport]:
    """``GetMessagesResponseByMessageID``: one report per called number, the IVR status
    as a :class:`~aiosms.DeliveryState`, the call's length and the key the recipient
    pressed in ``details`` (``call_length``, ``response``)."""
    what = "GetMessagesResponseByMessageID"
    children = _result(result, what)
    login = _child(children, "Login")
    if login is None or _key(login) != "ok":
        _refused(login or "no Login", what)
    holder = children.get("ArrIVRMessagesReturnResponse")
    reports: list[DeliveryReport] = []
    for entry in () if holder is None else holder:
        if not isinstance(entry.tag, str):
            continue
        if len(reports) >= limit:
            raise _malformed(what, f"more than {limit} recipients")
        mobile, status, date, call_length, response = _call_fields(entry)
        if not mobile or not status:
            raise _malformed(what, "a recipient without Mobile or Status")
        try:
            sent_at = parse_send_date(date)
        except ValueError:
            raise _malformed(what, f"SendDate of {mobile[:20]!r}") from None
        state, description = describe_ivr(status)
        reports.append(
            DeliveryReport(
                message_id,
                None,
                _mobile(mobile),
                "",
                state,
                status[:80],
                description,
                sent_at,
                None,
                details=_call_details(call_length, response),
            )
        )
    return reports


def _mobile(text: str) -> str:
    """A number as SMSCenter writes it (``972547123456``), in aiosms's normal form
    where it is Israeli; as given otherwise."""
    plain = len(text) in (11, 12) and text.startswith("972") and text.isascii() and text.isdigit()
    if plain and text[3] in "23456789" and (len(text) == 12 or text[3] != "5"):
        return "+" + text  # what normalize_number makes of it, without its regex
    try:
        return normalize_number(text)
    except InvalidRequestError:
        return text[:32]
