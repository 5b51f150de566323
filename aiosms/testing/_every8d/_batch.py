"""One EVERY8D batch, stored column-wise, and the snapshots of its recipients.

A batch of 100,000 recipients costs a few megabytes: one list or array per field, and
per-recipient columns (texts, names, send times…) only when they differ. Each
recipient's status is computed from the clock when it is asked for, never by a
background task.
"""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import attrs

from ._common import (
    ACCEPTED,
    CANCELLED,
    DEFAULT_VALIDITY,
    DELIVERED,
    MMS_COST,
    MMS_SENT,
    NO_CREDIT,
    SCHEDULED,
    is_international,
    length_cost,
    local,
    message_cost,
    national,
    spread,
)

__all__ = ["Every8dBatch", "Every8dRecipient", "Every8dReply", "new_batch"]


@attrs.frozen
class Every8dReply:
    """An SMS a recipient sent back."""

    text: str
    at: datetime


@attrs.frozen
class Every8dRecipient:
    """One recipient of a batch, as it stands at the moment it was read.

    Attributes:
        index: position in the batch (0-based).
        mobile: the number as sent.
        name: the NAME given in ``sendParamSMS`` ("" otherwise).
        email: the EMAIL given in ``sendParamSMS`` ("" otherwise).
        text: the exact text received for this recipient.
        cost: the credit it used (0 when unsent or cancelled).
        status: the EVERY8D status code now (``"300"``, ``"0"``, ``"100"``, …).
        send_at: when it is (or was) sent.
        replies: the replies received so far.
    """

    index: int
    mobile: str
    name: str
    email: str
    text: str
    cost: Decimal
    status: str
    send_at: datetime
    replies: tuple[Every8dReply, ...] = ()


class Every8dBatch:
    """One batch: its recipients stored column-wise, their status computed on demand.

    Attributes:
        batch_id: the BATCH_ID handed out.
        user_id: the account that sent it.
        operation: what made it: the SOAP ``"sendSMS"``, ``"sendMessage"`` or
            ``"sendParamSMS"``, the HTTP API's ``"sendSMS.ashx"`` or
            ``"MMS/sendMMS.ashx"``, or ``"seed"`` (:meth:`Every8dWorld.create_batch`).
        subject: the subject given.
        created_at: when it was received (simulator clock, epoch seconds).
        validity_minutes: the retryTime given (1440 by default).
        delivery_time: the simulator's delivery time when the batch was created.
        fixed_status: the status every recipient has, for seeded batches, or ``None``.
        mobiles: the numbers, in order.
        charged: whether the batch was charged to its account (seeded ones are not),
            so cancelling refunds.
        kind: ``"sms"``, or ``"mms"`` for a batch sent by the HTTP API's ``sendMMS``.
            EVERY8D's MMS status table has only ``300`` (booked), ``700`` (sent) and
            ``303`` (cancelled), so an MMS recipient is ``300`` until it goes out, at
            its send time plus its delivery spread (when an SMS recipient would reach
            its final status), then ``700``; ``303`` once cancelled. Only what is
            still before its send time can be cancelled.
        attachment: the picture an MMS carried (its decoded bytes; ``b""`` for SMS).
        attachment_type: the TYPE given with it (``"png"``, ``"jpg"``…; ``""`` for SMS).
    """

    __slots__ = (
        "_cancelled",
        "_costs",
        "_emails",
        "_fates",
        "_names",
        "_replies",
        "_send_at",
        "_send_ats",
        "_text",
        "_texts",
        "_unsent",
        "attachment",
        "attachment_type",
        "batch_id",
        "charged",
        "created_at",
        "delivery_time",
        "fixed_status",
        "kind",
        "mobiles",
        "operation",
        "subject",
        "user_id",
        "validity_minutes",
    )

    def __init__(
        self,
        *,
        batch_id: str,
        user_id: str,
        operation: str,
        subject: str,
        created_at: float,
        send_at: float,
        mobiles: list[str],
        costs: array[int],
        fates: list[str],
        delivery_time: float,
        text: str = "",
        texts: list[str] | None = None,
        names: list[str] | None = None,
        emails: list[str] | None = None,
        send_ats: array[float] | None = None,
        unsent: bytearray | None = None,
        validity_minutes: int = DEFAULT_VALIDITY,
        fixed_status: str | None = None,
        charged: bool = True,
        kind: str = "sms",
        attachment: bytes = b"",
        attachment_type: str = "",
    ) -> None:
        self.batch_id = batch_id
        self.user_id = user_id
        self.operation = operation
        self.subject = subject
        self.created_at = created_at
        self.validity_minutes = validity_minutes
        self.delivery_time = delivery_time
        self.fixed_status = fixed_status
        self.charged = charged
        self.kind = kind
        self.attachment = attachment
        self.attachment_type = attachment_type
        self.mobiles = mobiles
        self._send_at = send_at
        self._send_ats = send_ats
        self._costs = costs
        self._fates = fates
        self._text = text
        self._texts = texts
        self._names = names
        self._emails = emails
        self._unsent = unsent
        self._cancelled: bytearray | None = None
        self._replies: dict[int, list[tuple[float, str]]] = {}

    def __len__(self) -> int:
        return len(self.mobiles)

    def __repr__(self) -> str:
        return (
            f"Every8dBatch({self.batch_id!r}, user_id={self.user_id!r}, "
            f"operation={self.operation!r}, recipients={len(self)})"
        )

    @property
    def unsent(self) -> int:
        """How many recipients were not sent for lack of credit."""
        return self._unsent.count(1) if self._unsent is not None else 0

    @property
    def sent(self) -> int:
        """How many recipients were sent (or scheduled)."""
        return len(self.mobiles) - self.unsent

    @property
    def total_cost(self) -> Decimal:
        """The credit the batch uses now (cancelled recipients excluded)."""
        if self._cancelled is None:
            return Decimal(sum(self._costs))
        return Decimal(sum(self.cost(index) for index in range(len(self.mobiles))))

    def send_at(self, index: int) -> float:
        """When recipient ``index`` is (or was) sent, epoch seconds."""
        return self._send_ats[index] if self._send_ats is not None else self._send_at

    def text(self, index: int) -> str:
        """The exact text received for recipient ``index``."""
        return self._texts[index] if self._texts is not None else self._text

    def name(self, index: int) -> str:
        """The NAME of recipient ``index`` ("" when none was given)."""
        return self._names[index] if self._names is not None else ""

    def email(self, index: int) -> str:
        """The EMAIL of recipient ``index`` ("" when none was given)."""
        return self._emails[index] if self._emails is not None else ""

    def cost(self, index: int) -> int:
        """The credit recipient ``index`` used (0 when unsent or cancelled)."""
        if self._cancelled is not None and self._cancelled[index]:
            return 0
        return self._costs[index]

    def final_at(self, index: int) -> float:
        """When recipient ``index`` reaches its final status (once sent)."""
        return self.send_at(index) + self.delivery_time * spread(index)

    def status(self, index: int, now: float) -> str:
        """The EVERY8D status code of recipient ``index`` at time ``now``."""
        if self._unsent is not None and self._unsent[index]:
            return NO_CREDIT
        if self._cancelled is not None and self._cancelled[index]:
            return CANCELLED
        if self.fixed_status is not None:
            return self.fixed_status
        send_at = self._send_ats[index] if self._send_ats is not None else self._send_at
        if now < send_at:
            return SCHEDULED
        if now < send_at + self.delivery_time * spread(index):
            # An MMS has no "accepted" code: it stays booked until it is sent (700).
            return SCHEDULED if self.kind == "mms" else ACCEPTED
        return self._fates[index]

    def replies(self, index: int, now: float) -> list[tuple[float, str]]:
        """(time, text) of the replies recipient ``index`` has sent by ``now``, in order.

        A delivered number ending in 5 replies "OK" by itself, a quarter of the delivery
        time after delivery; :meth:`add_reply` adds others.
        """
        found: list[tuple[float, str]] = []
        status = self.status(index, now)
        if status == DELIVERED and self.mobiles[index].endswith("5"):
            start = self.final_at(index) if self.fixed_status is None else self.send_at(index)
            at = start + 0.25 * self.delivery_time
            if at <= now:
                found.append((at, "OK"))
        extra = self._replies.get(index)
        if extra:
            found.extend(reply for reply in extra if reply[0] <= now)
            found.sort(key=lambda reply: reply[0])
        return found

    def recipient(self, index: int, now: float) -> Every8dRecipient:
        """A snapshot of recipient ``index`` at time ``now``."""
        return Every8dRecipient(
            index=index,
            mobile=self.mobiles[index],
            name=self.name(index),
            email=self.email(index),
            text=self.text(index),
            cost=Decimal(self.cost(index)),
            status=self.status(index, now),
            send_at=local(self.send_at(index)),
            replies=tuple(Every8dReply(text, local(at)) for at, text in self.replies(index, now)),
        )

    def add_reply(self, index: int, text: str, at: float) -> None:
        """Record a reply from recipient ``index`` at time ``at``."""
        self._replies.setdefault(index, []).append((at, text))

    def index_of(self, mobile: str) -> int:
        """The index of recipient ``mobile`` (``+8869…`` matches ``09…``); else KeyError."""
        try:
            return self.mobiles.index(mobile)
        except ValueError:
            pass
        wanted = national(mobile)
        for index, number in enumerate(self.mobiles):
            if national(number) == wanted:
                return index
        raise KeyError(f"{mobile!r} is not a recipient of batch {self.batch_id!r}")

    def cancel_scheduled(self, now: float) -> tuple[int, int]:
        """Cancel every recipient still scheduled at ``now``: (how many, credit back).

        An MMS recipient past its send time is on its way (though still ``300`` until
        it is ``700``) and is not cancelled.
        """
        count = 0
        refund = 0
        mms = self.kind == "mms"
        for index in range(len(self.mobiles)):
            if self.status(index, now) != SCHEDULED:
                continue
            if mms and now >= self.send_at(index):
                continue
            if self._cancelled is None:
                self._cancelled = bytearray(len(self.mobiles))
            refund += self._costs[index]
            self._cancelled[index] = 1
            count += 1
        return count, (refund if self.charged else 0)


class _Charged(Protocol):
    """An account a batch is charged to (its credit goes down as it is sent)."""

    credit: Decimal


def new_batch(
    *,
    fate: Callable[[str], str],
    delivery_time: float,
    user_id: str,
    operation: str,
    subject: str,
    now: float,
    send_at: float,
    mobiles: list[str],
    text: str = "",
    texts: list[str] | None = None,
    names: list[str] | None = None,
    emails: list[str] | None = None,
    send_ats: array[float] | None = None,
    account: _Charged | None = None,
    validity_minutes: int = DEFAULT_VALIDITY,
    fixed_status: str | None = None,
    kind: str = "sms",
    attachment: bytes = b"",
    attachment_type: str = "",
) -> Every8dBatch:
    """Build a batch; when ``account`` is given, charge it recipient by
    recipient (in order; those the credit left does not cover go unsent)."""
    count = len(mobiles)
    if kind == "mms":
        costs = array("I", [MMS_COST]) * count
    elif texts is None:
        base = length_cost(len(text))
        costs = array("I", (base * 3 if is_international(m) else base for m in mobiles))
    else:
        costs = array("I", map(message_cost, texts, mobiles))
    unsent: bytearray | None = None
    if account is not None:
        credit = account.credit
        for index in range(count):
            cost = costs[index]
            if cost <= credit:
                credit -= cost
            else:
                if unsent is None:
                    unsent = bytearray(count)
                unsent[index] = 1
                costs[index] = 0
        account.credit = credit
    if kind == "mms":
        fates = [MMS_SENT] * count
    else:
        fates = [fate(m) for m in mobiles] if fixed_status is None else []
    return Every8dBatch(
        batch_id=str(uuid.uuid4()),
        user_id=user_id,
        operation=operation,
        subject=subject,
        created_at=now,
        send_at=send_at,
        mobiles=mobiles,
        costs=costs,
        fates=fates,
        delivery_time=delivery_time,
        text=text,
        texts=texts,
        names=names,
        emails=emails,
        send_ats=send_ats,
        unsent=unsent,
        validity_minutes=validity_minutes,
        fixed_status=fixed_status,
        charged=account is not None,
        kind=kind,
        attachment=attachment,
        attachment_type=attachment_type,
    )
