"""The EVERY8D Web Services API 2.1 (SOAP 1.1/1.2, ASMX style), simulated.

State (accounts, session keys, batches, the call log) lives in one
:class:`Every8dSoapService`; the HTTP side parses the SOAP request, draws faults from
:class:`~aiosms.testing.Faults` and answers an ASMX-shaped envelope.

Batches are stored column-wise (one list or array per field) so that a batch of 100,000
recipients costs a few megabytes; each recipient's status is computed from the clock
when it is asked for, never by a background task.
"""

from __future__ import annotations

import math
import re
import secrets
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

import aiohttp
import attrs
from aiohttp import web
from lxml import etree

from .._soap import (
    DEFAULT_NAMESPACE,
    SoapVersion,
    safe_fromstring,
)
from ..errors import ResponseFormatError
from ._faults import FaultPlan, Faults
from ._soap_service import SoapOperation, SoapRequest, serve_soap

__all__ = [
    "TAIPEI",
    "Every8dAccount",
    "Every8dBatch",
    "Every8dCall",
    "Every8dRecipient",
    "Every8dReply",
    "Every8dSoapService",
    "default_fate",
    "message_cost",
]

TAIPEI: Final = timezone(timedelta(hours=8), "Asia/Taipei")
"""EVERY8D's local time (UTC+8, no daylight saving)."""

ENDPOINT_PATH: Final = "/API21/SOAP/SMS.asmx"
_ENDPOINT_SUFFIX = ENDPOINT_PATH.lower()

_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'

_MOBILE = re.compile(r"\+?[0-9]{8,20}")
_SEND_TIME = re.compile(r"[0-9]{14}")
_PAGE_SIZE = 1000
_DEFAULT_VALIDITY = 1440  # minutes
_GOLDEN = 0.6180339887498949

_OK = "0"
_SCHEDULED = "300"
_CANCELLED = "303"
_NO_CREDIT = "301"
_ACCEPTED = "0"

_LOGIN_DESCRIPTIONS: Mapping[str, str] = {
    "0": "取得連線成功",
    "-97": "系統忙碌中，請稍後再試",
    "-100": "取得連線失敗，無此帳號",
    "-101": "取得連線失敗，密碼錯誤",
    "-999": "帳號已封鎖，請洽服務窗口。認證錯誤超過 10 次將封鎖此服務。",
}
_MAX_FAILED_LOGINS = 10
_PUSH_TRIES = 10  # spec §3.1: a push that fails is tried 10 times at most

_SESSION_ERROR = "-301"
_PARAM_ERROR = "-1,參數錯誤"
_DT_ERROR = "-6,DT格式錯誤"
_MOBILE_ERROR = "-306,手機格式不符:"

# --------------------------------------------------------------------------- helpers


def message_cost(text: str, mobile: str) -> int:
    """Credit one message of ``text`` to ``mobile`` costs (EVERY8D's price table).

    1–70 characters cost 1, 71–134 → 2, 135–201 → 3, 202–268 → 4, 269–333 → 5, and
    every further 67 characters one more; international numbers (neither ``+886…`` nor
    ``09…``) cost three times as much.
    """
    base = _length_cost(len(text))
    return base * 3 if is_international(mobile) else base


def _length_cost(length: int) -> int:
    if length <= 70:
        return 1
    if length <= 134:
        return 2
    if length <= 201:
        return 3
    if length <= 268:
        return 4
    if length <= 333:
        return 5
    return 5 + math.ceil((length - 333) / 67)


def is_international(mobile: str) -> bool:
    """True for numbers EVERY8D charges triple: not ``+886…`` and not ``09…``."""
    return not (mobile.startswith(("+886", "09")))


_FATE_BY_LAST_DIGIT: Mapping[str, str] = {"7": "101", "8": "103", "9": "107"}


def default_fate(mobile: str) -> str:
    """The default final status of a message: by the number's last digit.

    0–6 → ``"100"`` (delivered), 7 → ``"101"`` (failed, handset), 8 → ``"103"`` (no such
    number), 9 → ``"107"`` (expired).
    """
    return _FATE_BY_LAST_DIGIT.get(mobile[-1:], "100")


def _national(mobile: str) -> str:
    if mobile.startswith("+8869"):
        return "0" + mobile[4:]
    return mobile


def _parse_send_time(value: str, now: float) -> float | None:
    """``yyyyMMddHHmmss`` Taipei time -> epoch seconds (never before ``now``)."""
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


def _local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, TAIPEI)


def _sent_time_text(ts: float) -> str:
    when = _local(ts)
    return f"{when.year}/{when.month}/{when.day} {when:%H:%M:%S}"


def _reply_time_text(ts: float) -> str:
    return f"{_local(ts):%Y/%m/%d %H:%M:%S}"


def _push_time(ts: float) -> str:
    return f"{_local(ts):%Y%m%d%H%M%S}"


def _spread(index: int) -> float:
    """A deterministic factor in [0.5, 1.5) that staggers a batch's deliveries."""
    return 0.5 + (index * _GOLDEN) % 1.0


def _check_xml_text(text: str) -> None:
    try:
        etree.Element("x").text = text
    except ValueError as exc:
        raise ValueError(f"text holds characters XML cannot carry: {exc}") from None


def _cdata_or_text(text: str) -> Any:
    return text if "]]>" in text else etree.CDATA(text)


# --------------------------------------------------------------------------- records


@attrs.define
class Every8dAccount:
    """A simulated EVERY8D account. Mutable: tests may change ``credit`` or ``blocked``.

    Attributes:
        user_id: the login.
        password: the password (hidden from ``repr``).
        credit: the points left.
        failed_logins: consecutive wrong passwords; 10 block the account.
        blocked: a blocked account answers ``-999`` to every login.
        session_key: the account's one valid session key, if any.
        session_started: when (simulator clock, epoch seconds) the key was issued.
    """

    user_id: str
    password: str = attrs.field(repr=False)
    credit: Decimal = Decimal("1000")
    failed_logins: int = 0
    blocked: bool = False
    session_key: str | None = attrs.field(default=None, repr=False)
    session_started: float | None = None


def _params_repr(params: Mapping[str, str]) -> str:
    shown = {k: ("***" if k == "password" else v) for k, v in params.items()}
    return repr(shown)


@attrs.frozen
class Every8dCall:
    """One SOAP call the service received (``service.calls``).

    Attributes:
        operation: e.g. ``"sendSMS"``.
        params: the parameters as received (the password is hidden from ``repr``).
        soap_version: ``"1.1"`` or ``"1.2"``.
        path: the request path (shows an enterprise prefix such as ``/acme/API21/…``).
        faults: the injected faults that applied, e.g. ``("drop",)``.
        at: when it arrived, on the simulator clock (epoch seconds).
    """

    operation: str
    params: Mapping[str, str] = attrs.field(repr=_params_repr)
    soap_version: SoapVersion = "1.1"
    path: str = ENDPOINT_PATH
    faults: tuple[str, ...] = ()
    at: float = 0.0


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
        operation: ``"sendSMS"``, ``"sendMessage"``, ``"sendParamSMS"`` or ``"seed"``.
        subject: the subject given.
        created_at: when it was received (simulator clock, epoch seconds).
        validity_minutes: the retryTime given (1440 by default).
        delivery_time: the simulator's delivery time when the batch was created.
        fixed_status: the status every recipient has, for seeded batches, or ``None``.
        mobiles: the numbers, in order.
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
        "batch_id",
        "charged",
        "created_at",
        "delivery_time",
        "fixed_status",
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
        validity_minutes: int = _DEFAULT_VALIDITY,
        fixed_status: str | None = None,
        charged: bool = True,
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
        return self.send_at(index) + self.delivery_time * _spread(index)

    def status(self, index: int, now: float) -> str:
        """The EVERY8D status code of recipient ``index`` at time ``now``."""
        if self._unsent is not None and self._unsent[index]:
            return _NO_CREDIT
        if self._cancelled is not None and self._cancelled[index]:
            return _CANCELLED
        if self.fixed_status is not None:
            return self.fixed_status
        send_at = self._send_ats[index] if self._send_ats is not None else self._send_at
        if now < send_at:
            return _SCHEDULED
        if now < send_at + self.delivery_time * _spread(index):
            return _ACCEPTED
        return self._fates[index]

    def replies(self, index: int, now: float) -> list[tuple[float, str]]:
        """(time, text) of the replies recipient ``index`` has sent by ``now``."""
        found: list[tuple[float, str]] = []
        status = self.status(index, now)
        if status == "100" and self.mobiles[index].endswith("5"):
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
            send_at=_local(self.send_at(index)),
            replies=tuple(Every8dReply(text, _local(at)) for at, text in self.replies(index, now)),
        )

    def add_reply(self, index: int, text: str, at: float) -> None:
        """Record a reply from recipient ``index`` at time ``at``."""
        self._replies.setdefault(index, []).append((at, text))

    def cancel_scheduled(self, now: float) -> tuple[int, int]:
        """Cancel every recipient still scheduled at ``now``: (how many, credit back)."""
        count = 0
        refund = 0
        for index in range(len(self.mobiles)):
            if self.status(index, now) != _SCHEDULED:
                continue
            if self._cancelled is None:
                self._cancelled = bytearray(len(self.mobiles))
            refund += self._costs[index]
            self._cancelled[index] = 1
            count += 1
        return count, (refund if self.charged else 0)


# --------------------------------------------------------------------------- the service


class Every8dSoapService:
    """The EVERY8D Web Services (SOAP) endpoint: ``POST …/API21/SOAP/SMS.asmx``.

    It answers at that path under any prefix (enterprise accounts live under
    ``http://host/<company>/API21/SOAP/SMS.asmx``), in SOAP 1.1 or 1.2, whichever the
    request used. A :class:`~aiosms.testing.Simulator` creates one as ``sim.every8d``;
    a default account ``demo`` / ``demo-password`` with 1000 credit exists.

    Args:
        namespace: the service namespace (``http://tempuri.org/``).
        delivery_time: seconds a message takes from "accepted" to its final status
            (each recipient takes between 0.5 and 1.5 times this).
        session_ttl: seconds of the simulator clock a session key stays valid.
        clock: returns the simulator time in epoch seconds (``time.time`` by default).
        faults: the fault queue to draw from (a private one by default).

    Attributes:
        fate: ``fate(mobile) -> status`` decides each recipient's final status; replace
            it to script outcomes (default: :func:`default_fate`).
        push_url: where to push status changes and replies (spec §3.1), as EVERY8D
            does for accounts that gave a URL: ``GET push_url?BatchID=…&RM=…&RT=…&
            STATUS=…&SM=…&MR=&USERID=…``. ``None`` (the default) pushes nothing. A
            running :class:`~aiosms.testing.Simulator` pushes what is due every
            ``push_interval`` seconds; a call that fails is repeated, 10 tries at most.
        pushes: every push answered with HTTP 200, oldest first (the query sent).
        accounts: user id -> :class:`Every8dAccount`.
        batches: batch id -> :class:`Every8dBatch`.
        calls: every SOAP call received, oldest first (:class:`Every8dCall`).
    """

    name = "every8d"

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        delivery_time: float = 0.2,
        session_ttl: float = 86400.0,
        clock: Callable[[], float] | None = None,
        faults: Faults | None = None,
    ) -> None:
        if delivery_time < 0:
            raise ValueError(f"delivery_time must be >= 0, not {delivery_time!r}")
        self.namespace = namespace
        self.delivery_time = float(delivery_time)
        self.session_ttl = float(session_ttl)
        self._clock: Callable[[], float] = clock if clock is not None else time.time
        self.faults = faults if faults is not None else Faults()
        self.fate: Callable[[str], str] = default_fate
        self.accounts: dict[str, Every8dAccount] = {}
        self.batches: dict[str, Every8dBatch] = {}
        self.calls: list[Every8dCall] = []
        self.push_url: str | None = None
        self.pushes: list[dict[str, str]] = []
        self._pushed: dict[tuple[str, int], tuple[str, int]] = {}  # status, replies pushed
        self._push_retries: list[tuple[dict[str, str], int]] = []
        self._sessions: dict[str, Every8dAccount] = {}
        self._operations: Mapping[str, SoapOperation] = {
            "getConnection": SoapOperation(
                self._get_connection, busy=lambda: self._login_result("-97")
            ),
            "sendSMS": SoapOperation(lambda args: self._send_sms(args, "sendSMS")),
            "sendMessage": SoapOperation(lambda args: self._send_sms(args, "sendMessage")),
            "sendParamSMS": SoapOperation(self._send_param_sms),
            "getDeliveryStatus": SoapOperation(self._get_delivery_status),
            "getCredit": SoapOperation(self._get_credit),
            "eraseBooking": SoapOperation(self._erase_booking),
            "closeConnection": SoapOperation(self._close_connection),
        }
        self.add_account("demo", "demo-password")

    def __repr__(self) -> str:
        return (
            f"Every8dSoapService(accounts={len(self.accounts)}, batches={len(self.batches)}, "
            f"calls={len(self.calls)})"
        )

    # ----------------------------------------------------------------- public helpers

    def now(self) -> float:
        """The simulator time, epoch seconds."""
        return self._clock()

    def add_account(
        self, user_id: str, password: str, *, credit: Decimal = Decimal("1000")
    ) -> Every8dAccount:
        """Create (or replace) an account and return it."""
        account = Every8dAccount(user_id, password, Decimal(credit))
        old = self.accounts.get(user_id)
        if old is not None and old.session_key is not None:
            self._sessions.pop(old.session_key, None)
        self.accounts[user_id] = account
        return account

    def account(self, user_id: str) -> Every8dAccount:
        """The account ``user_id`` (``KeyError`` if there is none)."""
        return self.accounts[user_id]

    def count(self, operation: str) -> int:
        """How many calls of ``operation`` were received (faulted ones included)."""
        return sum(1 for call in self.calls if call.operation == operation)

    def due_pushes(self) -> list[dict[str, str]]:
        """The push calls owed now: each recipient's status when it changed since the
        last call (the first one included), and each new reply (``STATUS=999``)."""
        now = self.now()
        due = []
        for batch in self.batches.values():
            for index, mobile in enumerate(batch.mobiles):
                status = batch.status(index, now)
                replies = batch.replies(index, now)
                key = (batch.batch_id, index)
                last_status, last_replies = self._pushed.get(key, ("", 0))
                if status == last_status and len(replies) == last_replies:
                    continue
                self._pushed[key] = (status, len(replies))
                query = {
                    "BatchID": batch.batch_id,
                    "RM": mobile,
                    "MR": "",
                    "SM": "",
                    "USERID": batch.user_id,
                }
                if status != last_status:
                    due.append({**query, "RT": _push_time(now), "STATUS": status})
                for at, text in replies[last_replies:]:
                    due.append({**query, "RT": _push_time(at), "STATUS": "999", "SM": text})
        return due

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        """Make the push calls owed (and repeat failed ones); returns how many got 200."""
        url = self.push_url
        if url is None:
            return 0
        work = [*self._push_retries, *((query, 0) for query in self.due_pushes())]
        self._push_retries = []
        done = 0
        for query, failures in work:
            try:
                async with session.get(url, params=query) as resp:
                    ok = resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                self.pushes.append(query)
                done += 1
            elif failures + 1 < _PUSH_TRIES:
                self._push_retries.append((query, failures + 1))
        return done

    def expire_sessions(self) -> None:
        """Invalidate every session key at once (they then answer ``-301``)."""
        for account in self.accounts.values():
            account.session_key = None
            account.session_started = None
        self._sessions.clear()

    def create_batch(
        self,
        user_id: str,
        mobiles: Iterable[str],
        *,
        text: str = "seed",
        status: str | None = None,
    ) -> str:
        """Seed a batch directly (no HTTP, no credit charged) and return its batch id.

        Meant for tests and benchmarks that need large batches: recipients are sent
        "now" and progress like any other; ``status``, if given, fixes every recipient's
        status code instead.
        """
        if user_id not in self.accounts:
            raise KeyError(f"no account {user_id!r}; add it with add_account()")
        numbers = list(mobiles)
        now = self.now()
        batch = self._make_batch(
            user_id=user_id,
            operation="seed",
            subject="",
            now=now,
            send_at=now,
            mobiles=numbers,
            text=text,
            fixed_status=status,
        )
        self.batches[batch.batch_id] = batch
        return batch.batch_id

    def add_reply(self, batch_id: str, mobile: str, text: str, at: datetime | None = None) -> None:
        """Make recipient ``mobile`` of ``batch_id`` reply ``text`` (now, or ``at``).

        ``at`` must be timezone-aware. Raises ``KeyError`` for an unknown batch or a
        number not in it.
        """
        batch = self.batches[batch_id]
        _check_xml_text(text)
        if at is None:
            when = self.now()
        elif at.utcoffset() is None:
            raise ValueError("at must be a timezone-aware datetime")
        else:
            when = at.timestamp()
        index = self._find(batch, mobile)
        batch.add_reply(index, text, when)

    def recipients(self, batch_id: str) -> list[Every8dRecipient]:
        """Snapshots of every recipient of ``batch_id``, in order (``KeyError`` if unknown)."""
        batch = self.batches[batch_id]
        now = self.now()
        return [batch.recipient(index, now) for index in range(len(batch))]

    @staticmethod
    def message_cost(text: str, mobile: str) -> int:
        """Credit one message of ``text`` to ``mobile`` costs; see :func:`message_cost`."""
        return message_cost(text, mobile)

    # ------------------------------------------------------------------ HTTP side

    def matches(self, path: str) -> bool:
        """True for ``…/API21/SOAP/SMS.asmx`` under any prefix (case-insensitive)."""
        return path.lower().endswith(_ENDPOINT_SUFFIX)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one HTTP request to the endpoint."""
        return await serve_soap(
            request,
            namespace=self.namespace,
            operations=self._operations,
            faults=self.faults,
            on_call=self._record,
        )

    def _record(self, call: SoapRequest, plan: FaultPlan) -> None:
        self.calls.append(
            Every8dCall(
                operation=call.operation,
                params=call.args,
                soap_version=call.version,
                path=call.path,
                faults=plan.names,
                at=self.now(),
            )
        )

    # ------------------------------------------------------------------ operations

    def _session(self, key: str) -> Every8dAccount | None:
        account = self._sessions.get(key)
        if account is None or account.session_key != key:
            return None
        started = account.session_started
        if started is None or self.now() - started >= self.session_ttl:
            self._sessions.pop(key, None)
            account.session_key = None
            account.session_started = None
            return None
        return account

    def _get_connection(self, args: Mapping[str, str]) -> str:
        account = self.accounts.get(args.get("userID", ""))
        if account is None:
            return self._login_result("-100")
        if account.blocked:
            return self._login_result("-999")
        if args.get("password", "") != account.password:
            account.failed_logins += 1
            if account.failed_logins >= _MAX_FAILED_LOGINS:
                account.blocked = True
            return self._login_result("-101")
        account.failed_logins = 0
        if account.session_key is not None:
            self._sessions.pop(account.session_key, None)
        key = secrets.token_hex(16)
        account.session_key = key
        account.session_started = self.now()
        self._sessions[key] = account
        return self._login_result("0", key)

    @staticmethod
    def _login_result(code: str, key: str = "") -> str:
        root = etree.Element("SMS")
        conn = etree.SubElement(root, "GET_CONNECTION")
        etree.SubElement(conn, "CODE").text = code
        etree.SubElement(conn, "SESSION_KEY").text = key
        etree.SubElement(conn, "DESCRIPTION").text = _LOGIN_DESCRIPTIONS[code]
        return _XML_DECLARATION + etree.tostring(root, encoding="unicode")

    def _send_sms(self, args: Mapping[str, str], operation: str) -> str:
        account = self._session(args.get("sessionKey", ""))
        if account is None:
            return _SESSION_ERROR
        content = args.get("content", "")
        mobiles = [part.strip() for part in args.get("mobile", "").split(",")]
        mobiles = [number for number in mobiles if number]
        if not content or not mobiles:
            return _PARAM_ERROR
        now = self.now()
        send_at = _parse_send_time(args.get("sendTime", ""), now)
        if send_at is None:
            return _DT_ERROR
        validity = self._validity(args.get("retryTime", ""))
        if validity is None:
            return _PARAM_ERROR
        for number in mobiles:
            if not _MOBILE.fullmatch(number):
                return _MOBILE_ERROR + number
        batch = self._make_batch(
            user_id=account.user_id,
            operation=operation,
            subject=args.get("subject", ""),
            now=now,
            send_at=send_at,
            mobiles=mobiles,
            text=content,
            account=account,
            validity_minutes=validity,
        )
        return self._send_result(account, batch)

    @staticmethod
    def _validity(value: str) -> int | None:
        value = value.strip()
        if not value:
            return _DEFAULT_VALIDITY
        if not value.isdigit():
            return None
        return int(value)

    def _send_param_sms(self, args: Mapping[str, str]) -> str:
        account = self._session(args.get("sessionKey", ""))
        if account is None:
            return _SESSION_ERROR
        now = self.now()
        send_at = _parse_send_time(args.get("sendTime", ""), now)
        if send_at is None:
            return _DT_ERROR
        try:
            root = safe_fromstring(args.get("contentXML", "").encode("utf-8"))
        except ResponseFormatError:
            return _PARAM_ERROR
        if root.tag != "REPS":
            return _PARAM_ERROR
        users = [child for child in root if child.tag == "USER"]
        if not users:
            return _PARAM_ERROR
        mobiles: list[str] = []
        names: list[str] = []
        emails: list[str] = []
        texts: list[str] = []
        send_ats: array[float] = array("d")
        for user in users:
            mobile = (user.get("MOBILE") or "").strip()
            text = "".join(str(part) for part in user.itertext())
            if not mobile or not text:
                return _PARAM_ERROR
            if not _MOBILE.fullmatch(mobile):
                return _MOBILE_ERROR + mobile
            own_time = user.get("SENDTIME") or ""
            user_send_at = _parse_send_time(own_time, now) if own_time.strip() else send_at
            if user_send_at is None:
                return _DT_ERROR
            mobiles.append(mobile)
            names.append(user.get("NAME") or "")
            emails.append(user.get("EMAIL") or "")
            texts.append(text)
            send_ats.append(user_send_at)
        batch = self._make_batch(
            user_id=account.user_id,
            operation="sendParamSMS",
            subject=args.get("subject", ""),
            now=now,
            send_at=send_at,
            mobiles=mobiles,
            texts=texts,
            names=names if any(names) else None,
            emails=emails if any(emails) else None,
            send_ats=send_ats if any(t != send_at for t in send_ats) else None,
            account=account,
        )
        return self._send_result(account, batch)

    def _make_batch(
        self,
        *,
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
        account: Every8dAccount | None = None,
        validity_minutes: int = _DEFAULT_VALIDITY,
        fixed_status: str | None = None,
    ) -> Every8dBatch:
        """Build a batch; when ``account`` is given, charge it recipient by recipient."""
        count = len(mobiles)
        if texts is None:
            base = _length_cost(len(text))
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
        fate = self.fate
        fates = [fate(m) for m in mobiles] if fixed_status is None else []
        batch = Every8dBatch(
            batch_id=str(uuid.uuid4()),
            user_id=user_id,
            operation=operation,
            subject=subject,
            created_at=now,
            send_at=send_at,
            mobiles=mobiles,
            costs=costs,
            fates=fates,
            delivery_time=self.delivery_time,
            text=text,
            texts=texts,
            names=names,
            emails=emails,
            send_ats=send_ats,
            unsent=unsent,
            validity_minutes=validity_minutes,
            fixed_status=fixed_status,
            charged=account is not None,
        )
        self.batches[batch.batch_id] = batch
        return batch

    @staticmethod
    def _send_result(account: Every8dAccount, batch: Every8dBatch) -> str:
        return (
            f"{account.credit:.2f},{batch.sent},{batch.total_cost:.1f},"
            f"{batch.unsent},{batch.batch_id}"
        )

    def _get_delivery_status(self, args: Mapping[str, str]) -> str:
        account = self._session(args.get("sessionKey", ""))
        if account is None:
            return _SESSION_ERROR
        page_text = args.get("pageNo", "").strip() or "1"
        if not page_text.isdigit() or int(page_text) < 1:
            return _PARAM_ERROR
        page = int(page_text)
        batch = self.batches.get(args.get("batchID", "").strip())
        if batch is not None and batch.user_id != account.user_id:
            batch = None
        return self._status_document(batch, page, self.now())

    @staticmethod
    def _status_document(batch: Every8dBatch | None, page: int, now: float) -> str:
        sub = etree.SubElement
        root = etree.Element("SMS_LOG")
        sub(root, "CODE").text = _OK
        sub(root, "DESCRIPTION").text = "發送狀態查詢成功"
        total = len(batch) if batch is not None else 0
        listing = sub(root, "GET_DELIVERY_STATUS", COUNT=str(total))
        if batch is not None:
            sent_texts: dict[float, str] = {}
            start = (page - 1) * _PAGE_SIZE
            for index in range(start, min(start + _PAGE_SIZE, total)):
                send_at = batch.send_at(index)
                sent_text = sent_texts.get(send_at)
                if sent_text is None:
                    sent_text = sent_texts[send_at] = _sent_time_text(send_at)
                sms = sub(listing, "SMS")
                sub(sms, "NAME").text = batch.name(index)
                sub(sms, "MOBILE").text = batch.mobiles[index]
                sub(sms, "SENT_TIME").text = sent_text
                sub(sms, "COST").text = f"{batch.cost(index)}.00"
                sub(sms, "STATUS").text = batch.status(index, now)
                for at, text in batch.replies(index, now):
                    reply = sub(sms, "REPLY_SMS")
                    sub(reply, "REPLY_TIME").text = _reply_time_text(at)
                    sub(reply, "MESSAGE").text = _cdata_or_text(text)
        return _XML_DECLARATION + etree.tostring(root, encoding="unicode")

    def _get_credit(self, args: Mapping[str, str]) -> str:
        account = self._session(args.get("sessionKey", ""))
        if account is None:
            return _SESSION_ERROR
        return f"{account.credit:.2f}"

    def _erase_booking(self, args: Mapping[str, str]) -> str | None:
        account = self._session(args.get("sessionKey", ""))
        if account is None:
            return _SESSION_ERROR
        batch = self.batches.get(args.get("batchID", "").strip())
        if batch is None or batch.user_id != account.user_id:
            return None
        count, refund = batch.cancel_scheduled(self.now())
        if count == 0:
            return None
        account.credit += refund
        return f"{count},{Decimal(refund):.1f}"

    def _close_connection(self, args: Mapping[str, str]) -> str:
        account = self._session(args.get("sessionKey", ""))
        if account is None:
            return "-1"
        self._sessions.pop(account.session_key or "", None)
        account.session_key = None
        account.session_started = None
        return "1"

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _find(batch: Every8dBatch, mobile: str) -> int:
        try:
            return batch.mobiles.index(mobile)
        except ValueError:
            pass
        wanted = _national(mobile)
        for index, number in enumerate(batch.mobiles):
            if _national(number) == wanted:
                return index
        raise KeyError(f"{mobile!r} is not a recipient of batch {batch.batch_id!r}")
