"""EIMS push reports (spec section 5): the pure parser, and the receiver built on it.

The gateway PUTs a JSON body to a URL the customer configured::

    {"type": "report", "cnt": 2, "array": [[1, "1234545456", 20180801123015, 0, "success"],
                                           [2, "2356844545", 20180801223015, 1, "no balance"]]}

up to 50 reports a call; each row is the message id, the number, the send time, the
result (0 succeeded, anything else failed) and its cause, which is kept in
``report.details["cause"]``. :class:`EimsPushReceiver` plugs :class:`EimsPushParser`
into the shared :class:`~aiosms.webhooks.PushReceiver`: the same token and network
checks, fan-out and backlog as every receiver.

Use it as :class:`aiosms.webhooks.EimsPushReceiver`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from ipaddress import IPv4Network, IPv6Network
from typing import Any, Final

from ..errors import ResponseFormatError
from ..models import DeliveryReport, DeliveryState, Details
from ..webhooks import Answer, PushCall, PushReceiver
from .codec import PROVIDER, parse_stamp

__all__ = ["EimsPushParser", "EimsPushReceiver", "parse_push_body"]

MAX_REPORTS: Final = 50
_BODY_LIMIT: Final = 256 * 1024  # 50 rows with long causes fit many times over
_CAUSE_LIMIT: Final = 2000


def _refuse(why: str) -> ResponseFormatError:
    return ResponseFormatError(f"unexpected EIMS push: {why}", provider=PROVIDER)


def _text(value: object, what: str) -> str:
    if isinstance(value, str) and len(value) <= _CAUSE_LIMIT:
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _refuse(f"{what} is {type(value).__name__}, not a number or short text")


def _time(value: object, tz: tzinfo) -> datetime | None:
    text = _text(value, "the send time")
    try:
        return parse_stamp(text, tz)
    except ValueError:
        raise _refuse(f"send time {text[:20]!r}") from None


def parse_push_body(body: bytes, *, tz: tzinfo = UTC) -> list[DeliveryReport]:
    """The reports of one push body: ``DELIVERED`` for result 0, ``FAILED`` otherwise,
    the cause as the description and in ``details["cause"]``."""
    if len(body) > _BODY_LIMIT:
        raise _refuse(f"a body of {len(body)} bytes")
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        raise _refuse("the body is not JSON") from None
    if not isinstance(data, dict) or data.get("type", "report") != "report":
        raise _refuse("not a report")
    rows = data.get("array")
    if not isinstance(rows, list) or len(rows) > MAX_REPORTS:
        raise _refuse(f"array is not a list of at most {MAX_REPORTS} reports")
    reports = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 5:
            raise _refuse("a report is not [id, number, time, result, cause]")
        message_id = _text(row[0], "the id")
        result = row[3]
        if isinstance(result, str) and len(result) < 12 and result.strip().lstrip("-").isdigit():
            result = int(result)
        if not isinstance(result, int) or isinstance(result, bool) or abs(result) > 10**9:
            raise _refuse(f"message {message_id[:40]!r}: the result is not a number")
        cause = _text(row[4], "the cause")
        ok = result == 0
        reports.append(
            DeliveryReport(
                None,
                message_id,
                _text(row[1], "the number"),
                "",
                DeliveryState.DELIVERED if ok else DeliveryState.FAILED,
                str(result),
                cause or ("delivered" if ok else f"failed (result {result})"),
                _time(row[2], tz),
                None,
                (),
                None,
                Details({"cause": cause}) if cause else Details(),
            )
        )
    return reports


class EimsPushParser:
    """The :class:`~aiosms.webhooks.PushParser` for EIMS: ``PUT`` with a JSON body.

    Args:
        tz: the gateway's time zone, for the send times (UTC by default).
    """

    __slots__ = ("tz",)
    provider = PROVIDER
    methods = ("PUT",)
    success = Answer(200, "OK")

    def __init__(self, *, tz: tzinfo = UTC) -> None:
        self.tz = tz

    def __repr__(self) -> str:
        return f"EimsPushParser(tz={self.tz!r})"

    def parse(self, call: PushCall) -> list[DeliveryReport]:
        """The reports ``call`` carries (see :func:`parse_push_body`)."""
        return parse_push_body(call.body, tz=self.tz)


class EimsPushReceiver(PushReceiver[DeliveryReport]):
    """Answers the EIMS gateway's report pushes and fans their reports out.

    Args:
        token: a secret the calls must carry (``?token=…`` or the URL's last segment);
            see :class:`~aiosms.webhooks.PushReceiver`.
        allow_from: the networks calls may come from.
        tz: the gateway's time zone, for the send times.
        backlog: how many recent reports are kept for subscriptions that start later.
        buffer: reports a subscriber may fall behind by before calls are refused (503).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        allow_from: Iterable[str | IPv4Network | IPv6Network] | None = None,
        tz: tzinfo = UTC,
        backlog: int = 10_000,
        buffer: int = 1_000,
    ) -> None:
        super().__init__(
            EimsPushParser(tz=tz),
            token=token,
            allow_from=allow_from,
            backlog=backlog,
            buffer=buffer,
        )
