"""The typed models every provider maps into.

All models are frozen attrs classes. :func:`to_dict` and :func:`from_dict` turn them into
JSON-ready dicts and back (``Decimal`` as a string, ``datetime`` as ISO 8601 text,
``DeliveryState`` as its value), for users who store reports.

``DeliveryReport`` and ``Reply``, made a thousand at a time from every report page, are
frozen *dict* classes (``slots=False``): attrs fills a frozen dict class by writing its
``__dict__`` directly, but a frozen slotted one through ``object.__setattr__`` per
field, which made building a report about 1.7 times as costly (11,000 against 6,600
instructions under callgrind). They are still frozen; each costs about 90 bytes more.

Their ``details`` (what the provider said beyond the common fields) is a :class:`Details`,
a small immutable and hashable mapping of text: reports are kept in sets and compared,
so a plain ``dict`` would not do. It is the last field and defaults to one shared empty
instance, so building a report without extras allocates nothing more; the field has no
converter either (one would cost about 8% per report), so pass a :class:`Details`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

import attrs
import cattrs

from . import errors
from .errors import SendOutcomeUnknownError, SmsError

__all__ = [
    "Balance",
    "CancelResult",
    "DeliveryReport",
    "DeliveryState",
    "Details",
    "EimsBalance",
    "FailedPart",
    "InboundMessage",
    "Personalized",
    "Reply",
    "SendResult",
    "SmsCenterBalance",
    "StatusChange",
    "UserPrepaid",
    "UsersPrepaid",
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


class Details(Mapping[str, str]):
    """A read-only, hashable mapping of text: a provider's extra fields on a report.

    Built from a mapping or from ``(name, value)`` pairs, names and values ``str``::

        Details({"CustID": "A-17", "CHARGE": "1"})["CHARGE"]   # '1'

    It compares equal to any mapping with the same items, hashes by its items (so the
    reports that hold it stay hashable), and cannot be changed. ``Details()`` with
    nothing in it is always the same shared instance.
    """

    __slots__ = ("_data", "_hash")
    _data: dict[str, str]
    _hash: int | None
    _empty: ClassVar[Details | None] = None

    def __new__(cls, data: Mapping[str, str] | Iterable[tuple[str, str]] = (), /) -> Details:
        if type(data) is Details and cls is Details:
            return data
        items = dict(data)
        for name, value in items.items():
            if not (isinstance(name, str) and isinstance(value, str)):
                raise TypeError(
                    f"Details holds text: {type(name).__name__} -> {type(value).__name__}"
                )
        if not items and cls is Details and Details._empty is not None:
            return Details._empty
        self = object.__new__(cls)
        object.__setattr__(self, "_data", items)
        object.__setattr__(self, "_hash", None)
        return self

    def __getitem__(self, name: str) -> str:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Details):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        cached = self._hash
        if cached is None:
            cached = hash(frozenset(self._data.items()))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __repr__(self) -> str:
        return f"Details({self._data!r})"

    def __reduce__(self) -> tuple[type[Details], tuple[dict[str, str]]]:
        return (Details, (dict(self._data),))

    def __copy__(self) -> Details:
        return self

    def __deepcopy__(self, memo: object) -> Details:
        return self

    if not TYPE_CHECKING:  # so that type checkers still flag an assignment

        def __setattr__(self, name: str, value: object) -> NoReturn:
            raise attrs.exceptions.FrozenInstanceError

        def __delattr__(self, name: str) -> NoReturn:
            raise attrs.exceptions.FrozenInstanceError


_NO_DETAILS = Details._empty = Details()  # the one every report without extras shares


@attrs.frozen
class FailedPart:
    """One request of a send that was split into several (EIMS: 10,000 numbers a
    request) and failed, while others were accepted.

    Attributes:
        numbers: the numbers that request carried.
        error: why it failed. A :class:`~aiosms.SendOutcomeUnknownError` means the
            request may have reached the provider: those numbers may have been sent,
            and aiosms did not send them again. Check the provider's records before
            you do.
    """

    numbers: tuple[str, ...]
    error: SmsError = attrs.field(eq=False)

    @property
    def outcome_unknown(self) -> bool:
        """True when these numbers may have been sent all the same."""
        return isinstance(self.error, SendOutcomeUnknownError)


@attrs.frozen
class SendResult:
    """What the provider answered to a send.

    Attributes:
        batch_id: the provider's id for the whole send (``None`` where it has none).
        sent: how many messages were accepted.
        cost: the credit the send used (``None`` where the provider does not say: EIMS).
        credit: the credit left after the send (``None`` likewise).
        unsent: how many messages were not sent for lack of credit.
        message_ids: number -> message id, for providers that return one id per number.
        rejected: numbers the provider did not accept (EIMS leaves them out of its
            answer); nothing was sent to them.
        failed: for a send split into several requests, those that failed, with their
            numbers and error (the others' ids are in ``message_ids``). Empty when every
            request was answered.
    """

    batch_id: str | None
    sent: int
    cost: Decimal | None
    credit: Decimal | None
    unsent: int = 0
    message_ids: Mapping[str, str] = attrs.field(factory=dict)
    rejected: tuple[str, ...] = ()
    failed: tuple[FailedPart, ...] = ()


@attrs.frozen(slots=False)
class Reply:
    """An SMS a recipient sent back in answer to one of ours."""

    mobile: str
    text: str
    received_at: datetime | None
    message_id: str | None = None
    batch_id: str | None = None
    """The batch it answers, where the provider says (EVERY8D does)."""
    details: Details = _NO_DETAILS
    """The provider's extra fields, as text (e.g. parameters of a pushed reply)."""


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
        details: the provider's extra fields as text, so nothing it said is dropped
            (EVERY8D push ``CustID``/``CHARGE``, EIMS ``cause``, SMSCenter's reason
            code, an IVR call's length and key press); empty where there are none.
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
    details: Details = _NO_DETAILS


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
class EimsBalance:
    """An EIMS account's balance (``/getbalance``): money, not message counts.

    Attributes:
        balance: the account's own balance.
        gift: the complimentary balance beside it.
    """

    balance: Decimal
    gift: Decimal


@attrs.frozen
class SmsCenterBalance:
    """An SMSCenter company's prepaid balance (``CheckCompanyPrePaid``).

    Attributes:
        sms: SMS messages left.
        ivr_seconds: seconds of IVR voice calls left.
        mms: MMS messages left.
    """

    sms: int
    ivr_seconds: int
    mms: int


@attrs.frozen
class UserPrepaid:
    """One user's prepaid SMS balance (``CheckUsersPrePaid``).

    Attributes:
        username: the SMSCenter user.
        sms: SMS messages left to this user.
        prepaid_mode: whether this user works in prepaid mode.
    """

    username: str
    sms: int
    prepaid_mode: bool


@attrs.frozen
class UsersPrepaid:
    """The users' prepaid balances of an SMSCenter company (``CheckUsersPrePaid``).

    Attributes:
        company_in_user_mode: the company works in per-user prepaid mode.
        users: one :class:`UserPrepaid` each.
    """

    company_in_user_mode: bool
    users: tuple[UserPrepaid, ...] = ()


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
    conv.register_unstructure_hook(Details, lambda d: dict(d._data))

    def _structure_details(value: Any, _: type) -> Details:
        if not isinstance(value, Mapping):
            raise TypeError(f"details must be a mapping of text, not {type(value).__name__}")
        return Details(value)

    conv.register_structure_hook(Details, _structure_details)

    # A FailedPart's error: its class name and fields, rebuilt as that aiosms error.
    def _unstructure_error(exc: SmsError) -> dict[str, Any]:
        return {"type": type(exc).__name__, "message": exc.message,
                "provider": exc.provider, "code": exc.code}  # fmt: skip

    def _structure_error(value: Any, _: type) -> SmsError:
        cls = getattr(errors, str(value.get("type")), None)
        if not (isinstance(cls, type) and issubclass(cls, SmsError)):
            raise ValueError(f"not an aiosms error: {value.get('type')!r}")
        return cls(str(value["message"]), provider=value.get("provider"), code=value.get("code"))

    conv.register_unstructure_hook(SmsError, _unstructure_error)
    conv.register_structure_hook(SmsError, _structure_error)
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
