"""EVERY8D's push callbacks, both APIs: the pure parser, and the receiver built on it.

EVERY8D calls a URL of the customer's each time a message's status changes or a
recipient replies. The SOAP API (spec §3.1) sends ``BatchID``, ``RM``, ``RT``,
``STATUS``, ``SM``, ``MR`` and ``USERID``; the HTTP API (its §2.1) sends ``BATCHID``
and no ``USERID``. Names are therefore read case-insensitively, and any other
parameter (``CustID``, ``CHARGE``, …) is kept in the event's ``details``.

:func:`parse_push` turns one call's parameters into a model and
:class:`Every8dPushParser` one :class:`~aiosms.webhooks.PushCall` (GET, or POST with a
urlencoded form); both are pure. :class:`Every8dPushReceiver` plugs the parser into the
shared :class:`~aiosms.webhooks.PushReceiver` (``aiosms.webhooks`` re-exports it).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from urllib.parse import parse_qsl

from ..errors import ResponseFormatError
from ..models import DeliveryReport, Details, Reply
from ..webhooks import (
    Answer,
    Every8dPushEvent,
    ForeignCallError,
    PushCall,
    PushReceiver,
)
from ._common import TAIPEI
from .codes import PROVIDER, REPLY_STATUS, describe_status

__all__ = [
    "Every8dPushEvent",
    "Every8dPushParser",
    "Every8dPushReceiver",
    "parse_push",
    "parse_push_time",
    "push_params",
]

_PUSH_LIMIT = 2000  # characters a pushed parameter may hold (SM: a long reply SMS)
_NAME_LIMIT = 100  # characters an extra parameter's name may hold
_MAX_EXTRAS = 50  # parameters beyond the known ones a call may carry
_BODY_LIMIT = 256 * 1024  # bytes of a POSTed form
# Upper-cased (ASCII only) parameter name -> the spelling used in error messages.
_KNOWN = {
    "BATCHID": "BatchID",
    "RM": "RM",
    "RT": "RT",
    "STATUS": "STATUS",
    "SM": "SM",
    "MR": "MR",
    "USERID": "USERID",
}
_IGNORED = frozenset({"TOKEN"})  # the receiver's own secret, never an extra


def _refuse(message: str) -> ResponseFormatError:
    return ResponseFormatError(message, provider=PROVIDER)


def parse_push_time(value: str) -> datetime | None:
    """A push callback's ``RT``, ``20090210120000`` (Taipei time) → an aware datetime."""
    value = value.strip()
    if not value:
        return None
    if len(value) != 14 or not (value.isascii() and value.isdigit()):
        raise _refuse(f"unexpected push time {value[:40]!r}")
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
        raise _refuse(f"unexpected push time {value!r}") from None


def _read(params: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The known parameters (by upper-case name, stripped) and the extras (as sent)."""
    known: dict[str, str] = {}
    extras: dict[str, str] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise _refuse(f"push callback: a parameter named by a {type(name).__name__}")
        key = name.upper() if name.isascii() else name
        label = _KNOWN.get(key) or repr(name[:40])
        if not isinstance(value, str) or len(value) > _PUSH_LIMIT:
            raise _refuse(f"push callback: {label} is not a short text")
        if key in _KNOWN:
            value = value.strip()
            if known.setdefault(key, value) != value:
                raise _refuse(f"push callback: {label} given twice, differently")
        elif key not in _IGNORED:
            if len(name) > _NAME_LIMIT:
                raise _refuse(f"push callback: a parameter name of {len(name)} characters")
            extras[name] = value
            if len(extras) > _MAX_EXTRAS:
                raise _refuse(f"push callback with more than {_MAX_EXTRAS} extra parameters")
    return known, extras


def _event(known: Mapping[str, str], extras: Mapping[str, str]) -> DeliveryReport | Reply:
    for key in ("BATCHID", "RM", "STATUS"):
        if not known.get(key):
            raise _refuse(f"push callback without {_KNOWN[key]}")
    status = known["STATUS"]
    digits = status.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(status) > 6:
        raise _refuse(f"push callback: STATUS {status[:20]!r}")
    at = parse_push_time(known.get("RT", ""))
    batch_id, mobile = known["BATCHID"], known["RM"]
    message_id = known.get("MR") or None
    details = Details(extras)
    if status == REPLY_STATUS:
        return Reply(mobile, known.get("SM", ""), at, message_id, batch_id, details)
    state, description = describe_status(status)
    return DeliveryReport(
        batch_id,
        message_id,
        mobile,
        "",
        state,
        status,
        description,
        None,
        None,
        (),
        at,
        details,
    )


def parse_push(params: Mapping[str, str]) -> DeliveryReport | Reply:
    """One push callback: the parameters EVERY8D calls the customer's URL with.

    ``BatchID`` (the HTTP API writes ``BATCHID``; names are read case-insensitively),
    ``RM`` (the recipient), ``RT`` (when, ``yyyyMMddHHmmss``), ``STATUS``, ``SM`` (the
    text of a reply), ``MR`` (the record number given at send time) and, from the SOAP
    API, ``USERID``. ``STATUS=999`` carries a reply SMS and gives a :class:`Reply`; any
    other STATUS gives a :class:`DeliveryReport` whose ``reported_at`` is ``RT``. Any
    other parameter but ``token`` is kept, as sent, in the model's ``details``.

    Raises:
        ResponseFormatError: a parameter is missing, too long or malformed, one is given
            twice with different values, or there are more than 50 others.
    """
    return _event(*_read(params))


def push_params(call: PushCall) -> dict[str, str]:
    """A call's parameters: its query, and for a POST the urlencoded form over it.

    Raises:
        ResponseFormatError: the body is not a readable urlencoded form.
    """
    params = dict(call.query)
    if call.method != "POST" or not call.body:
        return params
    media, _, options = call.headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    if media not in ("", "application/x-www-form-urlencoded"):
        raise _refuse(f"push callback: a POST of {media[:60]!r}, not a urlencoded form")
    if len(call.body) > _BODY_LIMIT:
        raise _refuse(f"push callback: a form of {len(call.body)} bytes")
    charset = "utf-8"
    for option in options.split(";"):
        name, _, value = option.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or charset
    try:
        codecs.lookup(charset)
        form = parse_qsl(
            call.body.decode(charset),
            keep_blank_values=True,
            encoding=charset,
            errors="strict",
            max_num_fields=len(_KNOWN) + _MAX_EXTRAS + 1,
        )
    except (LookupError, UnicodeDecodeError, ValueError):
        raise _refuse(f"push callback: an unreadable form ({charset[:20]!r})") from None
    params.update(form)
    return params


class Every8dPushParser:
    """The :class:`~aiosms.webhooks.PushParser` for EVERY8D (SOAP and HTTP API alike).

    Args:
        user_id: when given, a call whose ``USERID`` names another account is refused
            (:class:`~aiosms.webhooks.ForeignCallError`, answered 403). Calls without
            ``USERID`` (the HTTP API sends none) are accepted: ``USERID`` is an account
            name, not a secret; authenticate calls with the receiver's ``token=``.
    """

    __slots__ = ("user_id",)
    provider = PROVIDER
    methods = ("GET", "POST")
    success = Answer(200, "OK")

    def __init__(self, *, user_id: str | None = None) -> None:
        self.user_id = user_id

    def __repr__(self) -> str:
        return f"Every8dPushParser(user_id={self.user_id!r})"

    def parse(self, call: PushCall) -> list[DeliveryReport | Reply]:
        """The one event of ``call`` (see :func:`parse_push`)."""
        known, extras = _read(push_params(call))
        event = _event(known, extras)
        user = known.get("USERID", "")
        if self.user_id is not None and user and user != self.user_id:
            raise ForeignCallError(f"USERID {user[:40]!r}", provider=PROVIDER)
        return [event]


class Every8dPushReceiver(PushReceiver[Every8dPushEvent]):
    """Answers EVERY8D's push callbacks (both APIs) and fans their events out.

    Args:
        user_id: when given, calls that name another account (``USERID``) are refused
            (403); calls naming none (the HTTP API's) are accepted.
        token: a secret the calls must carry (``?token=…`` or the URL's last segment);
            see :class:`~aiosms.webhooks.PushReceiver`.
        allow_from: the networks calls may come from.
        backlog: how many recent events are kept for subscriptions that start later.
        buffer: events a subscriber may fall behind by before calls are refused (503).

    Attributes:
        received: how many calls were accepted (a repeated call counts again).
        refused: how many calls were answered with an error.
    """

    def __init__(
        self,
        *,
        user_id: str | None = None,
        token: str | None = None,
        allow_from: Iterable[str | IPv4Network | IPv6Network] | None = None,
        backlog: int = 10_000,
        buffer: int = 1_000,
    ) -> None:
        self._every8d = Every8dPushParser(user_id=user_id)
        super().__init__(
            self._every8d, token=token, allow_from=allow_from, backlog=backlog, buffer=buffer
        )

    @property
    def user_id(self) -> str | None:
        """The account whose calls are accepted (``None``: any)."""
        return self._every8d.user_id

    def _describe(self) -> str:
        return f"user_id={self.user_id!r} {super()._describe()}"
