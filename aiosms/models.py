"""The typed models every provider maps into.

All models are frozen attrs classes. :func:`to_dict` and :func:`from_dict` turn them into
JSON-ready dicts and back (``Decimal`` as a string, ``datetime`` as ISO 8601 text,
``DeliveryState`` as its value), for users who store reports.

``DeliveryReport`` and ``Reply``, made a thousand at a time from every report page, are
frozen *dict* classes (``slots=False``): attrs fills a frozen dict class by writing its
``__dict__`` directly, but a frozen slotted one through ``object.__setattr__`` per
field, which made building a report about 1.7 times as costly (11,000 against 6,600
instructions under callgrind). They are still frozen; each costs about 90 bytes more.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs

__all__ = [
    "Balance",
    "CancelResult",
    "DeliveryReport",
    "DeliveryState",
    "InboundMessage",
    "Personalized",
    "Reply",
    "SendResult",
    "StatusChange",
    "from_dict",
    "to_dict",
]


class DeliveryState(enum.Enum):
    """Where a message is, the same for every provider."""

    SCHEDULED = "scheduled"
    """Booked for a later time; not handed to a carrier yet."""
    ACCEPTED = "accepted"
    """With the carrier, not yet delivered."""
    DELIVERED = "delivered"
    """The handset received it."""
    FAILED = "failed"
    """It will never be delivered."""
    EXPIRED = "expired"
    """Its validity period ran out before delivery."""
    CANCELLED = "cancelled"
    """A scheduled message that was cancelled."""
    UNKNOWN = "unknown"
    """The provider gave a code aiosms does not know; the raw code is kept."""

    @property
    def is_final(self) -> bool:
        """True when the state can no longer change."""
        return self in _FINAL_STATES


_FINAL_STATES = frozenset(
    {DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.EXPIRED, DeliveryState.CANCELLED}
)


@attrs.frozen
class SendResult:
    """What the provider answered to a send.

    Attributes:
        batch_id: the provider's id for the whole send (``None`` where it has none).
        sent: how many messages were accepted.
        cost: the credit the send used.
        credit: the credit left after the send.
        unsent: how many messages were not sent for lack of credit.
        message_ids: number -> message id, for providers that return one id per number.
    """

    batch_id: str | None
    sent: int
    cost: Decimal
    credit: Decimal
    unsent: int = 0
    message_ids: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(slots=False)
class Reply:
    """An SMS a recipient sent back in answer to one of ours."""

    mobile: str
    text: str
    received_at: datetime | None
    message_id: str | None = None
    batch_id: str | None = None
    """The batch it answers, where the provider says (EVERY8D does)."""


@attrs.frozen
class InboundMessage:
    """An SMS received by the account (not tied to a sent message)."""

    mobile: str
    text: str
    received_at: datetime | None
    message_id: str | None = None


@attrs.frozen(slots=False)
class DeliveryReport:
    """The delivery status of one message to one recipient.

    Attributes:
        batch_id: the batch the message belongs to.
        message_id: the provider's per-message id where it has one (EIMS id, SMSCenter
            MsgID, EVERY8D MR); ``None`` where the report carries none.
        mobile: the recipient's number as the provider reports it.
        name: the recipient's name where one was given.
        state: the provider-independent :class:`DeliveryState`.
        status: the provider's raw status code, as text.
        description: what the raw code means.
        sent_at: when the provider sent it (aware datetime), if known.
        cost: the credit it used, if known.
        replies: SMS the recipient sent back.
        reported_at: when the provider reported this status, for pushed reports that
            say (EVERY8D's ``RT``); ``None`` for polled ones.
    """

    batch_id: str | None
    message_id: str | None
    mobile: str
    name: str
    state: DeliveryState
    status: str
    description: str
    sent_at: datetime | None
    cost: Decimal | None
    replies: tuple[Reply, ...] = ()
    reported_at: datetime | None = None


@attrs.frozen
class StatusChange:
    """One recipient's state, when first seen or when it changed.

    ``previous`` is ``None`` the first time a recipient is seen.
    """

    report: DeliveryReport
    previous: DeliveryState | None
    state: DeliveryState


@attrs.frozen
class Personalized:
    """One recipient of a personalized send: their own text and, optionally, time."""

    to: str
    text: str
    name: str = ""
    email: str = ""
    at: datetime | None = attrs.field(default=None)


@attrs.frozen
class Balance:
    """An account balance, for providers that report more than one figure."""

    credit: Decimal
    extra: Mapping[str, Decimal] = attrs.field(factory=dict)


@attrs.frozen
class CancelResult:
    """What cancelling a scheduled batch did.

    Attributes:
        cancelled: how many messages were cancelled (0 when nothing was found).
        credit_returned: the credit given back.
    """

    cancelled: int
    credit_returned: Decimal

    @property
    def found(self) -> bool:
        """False when the provider found nothing to cancel."""
        return self.cancelled > 0


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))
    conv.register_unstructure_hook(datetime, datetime.isoformat)

    def _structure_datetime(value: Any, _: type) -> datetime:
        if isinstance(value, datetime):
            return value
        parsed = datetime.fromisoformat(value)
        if parsed.utcoffset() is None:
            raise ValueError(f"datetime {value!r} has no UTC offset")
        return parsed

    conv.register_structure_hook(datetime, _structure_datetime)
    return conv


converter: cattrs.Converter = _make_converter()
"""The cattrs converter for aiosms models (JSON-ready: str decimals, ISO datetimes)."""

_T = TypeVar("_T")


def to_dict(model: object) -> dict[str, Any]:
    """Turn a model into a JSON-ready ``dict`` (see :func:`from_dict`)."""
    result = converter.unstructure(model)
    if not isinstance(result, dict):
        raise TypeError(f"{type(model).__name__} is not an aiosms model")
    return result


def from_dict(cls: type[_T], data: Mapping[str, Any]) -> _T:
    """Build a model of type ``cls`` from a dict made by :func:`to_dict`."""
    return converter.structure(data, cls)
