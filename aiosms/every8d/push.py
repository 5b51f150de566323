"""EVERY8D's push callbacks (SOAP spec §3.1; the HTTP API's are the same), parsed.

EVERY8D calls a URL of the customer's with ``BatchID``, ``RM``, ``RT``, ``STATUS``,
``SM``, ``MR`` and ``USERID`` each time a message's status changes or a recipient
replies. :func:`parse_push` turns one such call into a model; it is pure, and
:class:`aiosms.webhooks.Every8dPushReceiver` plugs it into the shared receiver.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..errors import ResponseFormatError
from ..models import DeliveryReport, Reply
from ._common import TAIPEI
from .codes import PROVIDER, REPLY_STATUS, describe_status

__all__ = ["parse_push", "parse_push_time"]

_PUSH_LIMIT = 2000  # characters a pushed parameter may hold (SM: a long reply SMS)


def parse_push_time(value: str) -> datetime | None:
    """A push callback's ``RT``, ``20090210120000`` (Taipei time) → an aware datetime."""
    value = value.strip()
    if not value:
        return None
    if len(value) != 14 or not (value.isascii() and value.isdigit()):
        raise ResponseFormatError(f"unexpected push time {value[:40]!r}", provider=PROVIDER)
    try:
        return datetime(
            int(value[:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:]),
            tzinfo=TAIPEI,
        )
    except ValueError:
        raise ResponseFormatError(f"unexpected push time {value!r}", provider=PROVIDER) from None


def parse_push(params: Mapping[str, str]) -> DeliveryReport | Reply:
    """One push callback (spec §3.1): the query EVERY8D calls the customer's URL with.

    ``BatchID``, ``RM`` (the recipient), ``RT`` (when, ``yyyyMMddHHmmss``), ``STATUS``,
    ``SM`` (the text of a reply), ``MR`` (the record number given at send time) and
    ``USERID``. ``STATUS=999`` carries a reply SMS and gives a :class:`Reply`; any other
    STATUS gives a :class:`DeliveryReport` whose ``reported_at`` is ``RT``.

    Raises:
        ResponseFormatError: a parameter is missing, too long or malformed.
    """
    fields = {}
    for name in ("BatchID", "RM", "RT", "STATUS", "SM", "MR", "USERID"):
        value = params.get(name, "")
        if not isinstance(value, str) or len(value) > _PUSH_LIMIT:
            raise ResponseFormatError(
                f"push callback: {name} is not a short text", provider=PROVIDER
            )
        fields[name] = value.strip()
    for name in ("BatchID", "RM", "STATUS"):
        if not fields[name]:
            raise ResponseFormatError(f"push callback without {name}", provider=PROVIDER)
    status = fields["STATUS"]
    digits = status.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(status) > 6:
        raise ResponseFormatError(f"push callback: STATUS {status[:20]!r}", provider=PROVIDER)
    at = parse_push_time(fields["RT"])
    message_id = fields["MR"] or None
    if status == REPLY_STATUS:
        return Reply(fields["RM"], fields["SM"], at, message_id, fields["BatchID"])
    state, description = describe_status(status)
    return DeliveryReport(
        fields["BatchID"],
        message_id,
        fields["RM"],
        "",
        state,
        status,
        description,
        None,
        None,
        (),
        at,
    )
