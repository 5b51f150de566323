"""The EVERY8D world: what EVERY8D keeps, whichever of its APIs it is reached by.

Accounts, credit, session keys, batches, replies and the pushes owed live in one
:class:`Every8dWorld`. Its operations are plain methods that take parsed arguments and
return EVERY8D's result strings; the endpoints (SOAP and HTTP) only read a request,
call them, and wrap the answer. A batch sent through one endpoint shows in the
other's reports, and both spend one credit balance.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import attrs

from .._push import PushOutbox
from ._batch import Every8dBatch, Every8dRecipient, new_batch
from ._common import (
    DT_ERROR,
    MOBILE,
    MOBILE_ERROR,
    PARAM_ERROR,
    check_xml_text,
    default_fate,
    message_cost,
    parse_send_time,
    parse_validity,
    split_mobiles,
)
from ._documents import login_result, parse_param_users, send_result, status_document
from ._http import check_mms, tab_report
from ._pushes import PushLedger

__all__ = ["Every8dAccount", "Every8dWorld"]

_MAX_FAILED_LOGINS = 10
_PUSH_TRIES = 10  # spec §3.1: a push that fails is tried 10 times at most


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


async def _get_push(session: aiohttp.ClientSession, url: str, query: dict[str, str]) -> bool:
    async with session.get(url, params=query) as resp:
        return resp.status == 200


class Every8dWorld:
    """Everything EVERY8D keeps: accounts, credit, session keys, batches, pushes.

    A default account ``demo`` / ``demo-password`` with 1000 credit exists. The SOAP
    endpoint (:class:`~aiosms.testing.Every8dSoapService`) serves one; endpoints that
    share a world share its accounts, batches and pushes.

    Args:
        delivery_time: seconds a message takes from "accepted" to its final status
            (each recipient takes between 0.5 and 1.5 times this).
        session_ttl: seconds of the simulator clock a session key stays valid.
        clock: returns the simulator time in epoch seconds (``time.time`` by default).

    Attributes:
        fate: ``fate(mobile) -> status`` decides each recipient's final status; replace
            it to script outcomes (default: :func:`~aiosms.testing.default_fate`).
        push_url: where to push status changes and replies (spec §3.1), as EVERY8D
            does for accounts that gave a URL: ``GET push_url?BatchID=…&RM=…&RT=…&
            STATUS=…&SM=…&MR=&USERID=…``. ``None`` (the default) pushes nothing. A
            running :class:`~aiosms.testing.Simulator` pushes what is due every
            ``push_interval`` seconds; a call that fails is repeated, 10 tries at most.
        accounts: user id -> :class:`Every8dAccount`.
        batches: batch id -> :class:`~aiosms.testing.Every8dBatch`.
    """

    name = "every8d"

    def __init__(
        self,
        *,
        delivery_time: float = 0.2,
        session_ttl: float = 86400.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if delivery_time < 0:
            raise ValueError(f"delivery_time must be >= 0, not {delivery_time!r}")
        self.delivery_time = float(delivery_time)
        self.session_ttl = float(session_ttl)
        self._clock: Callable[[], float] = clock if clock is not None else time.time
        self.fate: Callable[[str], str] = default_fate
        self.accounts: dict[str, Every8dAccount] = {}
        self.batches: dict[str, Every8dBatch] = {}
        self.push_url: str | None = None
        self._outbox: PushOutbox[dict[str, str]] = PushOutbox(_get_push, tries=_PUSH_TRIES)
        self._ledger = PushLedger()
        self._sessions: dict[str, Every8dAccount] = {}
        self.add_account("demo", "demo-password")

    def __repr__(self) -> str:
        return f"Every8dWorld(accounts={len(self.accounts)}, batches={len(self.batches)})"

    def now(self) -> float:
        """The simulator time, epoch seconds."""
        return self._clock()

    # ----------------------------------------------------------------- accounts

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

    def authenticate(self, user_id: str, password: str) -> tuple[str, Every8dAccount | None]:
        """Check a login: ``("0", account)``, or the refusal code and ``None``.

        ``-100`` no such account, ``-999`` blocked, ``-101`` wrong password (the 10th
        in a row blocks the account; a right one resets the count).
        """
        account = self.accounts.get(user_id)
        if account is None:
            return "-100", None
        if account.blocked:
            return "-999", None
        if password != account.password:
            account.failed_logins += 1
            if account.failed_logins >= _MAX_FAILED_LOGINS:
                account.blocked = True
            return "-101", None
        account.failed_logins = 0
        return "0", account

    # ----------------------------------------------------------------- sessions

    def get_connection(self, user_id: str, password: str, *, busy: bool = False) -> str:
        """``getConnection``: a new session key (the account's old one stops working).

        Returns the ``<SMS><GET_CONNECTION>`` document; ``busy`` answers ``-97``.
        """
        if busy:
            return login_result("-97")
        code, account = self.authenticate(user_id, password)
        if account is None:
            return login_result(code)
        if account.session_key is not None:
            self._sessions.pop(account.session_key, None)
        key = secrets.token_hex(16)
        account.session_key = key
        account.session_started = self.now()
        self._sessions[key] = account
        return login_result("0", key)

    def session(self, key: str) -> Every8dAccount | None:
        """The account whose valid session key ``key`` is, or ``None`` (``-301``)."""
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

    def close_connection(self, key: str) -> str:
        """``closeConnection``: ``"1"``, or ``"-1"`` when ``key`` is not a valid key."""
        account = self.session(key)
        if account is None:
            return "-1"
        self._sessions.pop(key, None)
        account.session_key = None
        account.session_started = None
        return "1"

    def expire_sessions(self) -> None:
        """Invalidate every session key at once (they then answer ``-301``)."""
        for account in self.accounts.values():
            account.session_key = None
            account.session_started = None
        self._sessions.clear()

    # ----------------------------------------------------------------- operations

    def send_sms(
        self,
        account: Every8dAccount,
        *,
        content: str,
        mobile: str,
        subject: str = "",
        send_time: str = "",
        retry_time: str = "",
        operation: str = "sendSMS",
    ) -> str:
        """``sendSMS`` / ``sendMessage``: one text to the comma-separated ``mobile``.

        Returns ``CREDIT,SENDED,COST,UNSEND,BATCH_ID``, or an error (``-1``, ``-6``,
        ``-306,…:number``). Recipients are charged in order; those the credit left
        does not cover are not sent (status ``301``).
        """
        mobiles = split_mobiles(mobile)
        if not content or not mobiles:
            return PARAM_ERROR
        now = self.now()
        send_at = parse_send_time(send_time, now)
        if send_at is None:
            return DT_ERROR
        validity = parse_validity(retry_time)
        if validity is None:
            return PARAM_ERROR
        for number in mobiles:
            if not MOBILE.fullmatch(number):
                return MOBILE_ERROR + number
        batch = self._make_batch(
            user_id=account.user_id,
            operation=operation,
            subject=subject,
            now=now,
            send_at=send_at,
            mobiles=mobiles,
            text=content,
            account=account,
            validity_minutes=validity,
        )
        return send_result(account.credit, batch)

    def send_param_sms(
        self, account: Every8dAccount, *, content_xml: str, subject: str = "", send_time: str = ""
    ) -> str:
        """``sendParamSMS``: one text per ``<USER>`` of the ``<REPS>`` document.

        Returns what :meth:`send_sms` returns.
        """
        now = self.now()
        send_at = parse_send_time(send_time, now)
        if send_at is None:
            return DT_ERROR
        users = parse_param_users(content_xml, send_at, now)
        if isinstance(users, str):
            return users
        batch = self._make_batch(
            user_id=account.user_id,
            operation="sendParamSMS",
            subject=subject,
            now=now,
            send_at=send_at,
            mobiles=users.mobiles,
            texts=users.texts,
            names=users.names,
            emails=users.emails,
            send_ats=users.send_ats,
            account=account,
        )
        return send_result(account.credit, batch)

    def send_mms(
        self,
        account: Every8dAccount,
        *,
        content: str,
        mobile: str,
        attachment: str,
        image_type: str,
        subject: str = "",
        send_time: str = "",
        retry_time: str = "",
    ) -> str:
        """HTTP ``sendMMS``: one text and picture (base64) to Taiwanese numbers, 3 points
        each. Returns what :meth:`send_sms` returns, or an error for a subject, text or
        picture over the limits, a TYPE not jpg/jpeg/png/gif, or a number abroad
        (see :func:`~._http.check_mms`); a refused send makes no batch."""
        mobiles = split_mobiles(mobile)
        now = self.now()
        send_at = parse_send_time(send_time, now)
        validity = parse_validity(retry_time)
        if not mobiles or validity is None:
            return PARAM_ERROR
        if send_at is None:
            return DT_ERROR
        picture = check_mms(
            subject=subject,
            text=content,
            mobiles=mobiles,
            attachment=attachment,
            image_type=image_type,
        )
        if isinstance(picture, str):
            return picture
        batch = self._make_batch(
            user_id=account.user_id,
            operation="MMS/sendMMS.ashx",
            subject=subject,
            now=now,
            send_at=send_at,
            mobiles=mobiles,
            text=content,
            account=account,
            validity_minutes=validity,
            kind="mms",
            attachment=picture.data,
            attachment_type=picture.type,
        )
        return send_result(account.credit, batch)

    def owned_batch(
        self, account: Every8dAccount, batch_id: str, kind: str = "sms"
    ) -> Every8dBatch | None:
        """Batch ``batch_id`` if ``account`` sent it and it is of ``kind`` (``"sms"`` or
        ``"mms"``), else ``None``: others' batches are hidden, and so are MMS batches from
        the SMS queries and SMS batches from the MMS ones."""
        batch = self.batches.get(batch_id.strip())
        if batch is None or batch.user_id != account.user_id or batch.kind != kind:
            return None
        return batch

    def tab_report(
        self,
        account: Every8dAccount,
        batch_id: str,
        page_no: str = "",
        *,
        kind: str = "sms",
        columns: int = 5,
        padded: bool = False,
    ) -> str:
        """HTTP ``getDeliveryStatus.ashx`` (``kind="mms"``: the MMS one): page
        ``page_no`` of the batch as TAB-separated text (an unknown batch: ``0``)."""
        page_text = page_no.strip() or "1"
        if not page_text.isdigit() or int(page_text) < 1:
            return PARAM_ERROR
        batch = self.owned_batch(account, batch_id, kind)
        return tab_report(batch, int(page_text), self.now(), columns=columns, padded=padded)

    def get_delivery_status(self, account: Every8dAccount, batch_id: str, page_no: str = "") -> str:
        """``getDeliveryStatus``: the ``<SMS_LOG>`` of page ``page_no`` (1000 a page).

        An empty ``page_no`` is page 1; one that is not a positive number is ``-1``.
        """
        page_text = page_no.strip() or "1"
        if not page_text.isdigit() or int(page_text) < 1:
            return PARAM_ERROR
        return status_document(self.owned_batch(account, batch_id), int(page_text), self.now())

    def get_credit(self, account: Every8dAccount) -> str:
        """``getCredit``: the points left, ``"1000.00"``."""
        return f"{account.credit:.2f}"

    def erase_booking(
        self, account: Every8dAccount, batch_id: str, kind: str = "sms"
    ) -> str | None:
        """``eraseBooking`` (of an MMS batch with ``kind="mms"``): cancel what is still
        scheduled, refund it.

        Returns ``"count,refund"``, or ``None`` (a null result) when nothing was left
        to cancel or the batch is unknown.
        """
        batch = self.owned_batch(account, batch_id, kind)
        if batch is None:
            return None
        count, refund = batch.cancel_scheduled(self.now())
        if count == 0:
            return None
        account.credit += refund
        return f"{count},{Decimal(refund):.1f}"

    # ----------------------------------------------------------------- test helpers

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
        now = self.now()
        batch = self._make_batch(
            user_id=user_id,
            operation="seed",
            subject="",
            now=now,
            send_at=now,
            mobiles=list(mobiles),
            text=text,
            fixed_status=status,
        )
        return batch.batch_id

    def add_reply(self, batch_id: str, mobile: str, text: str, at: datetime | None = None) -> None:
        """Make recipient ``mobile`` of ``batch_id`` reply ``text`` (now, or ``at``).

        ``at`` must be timezone-aware. Raises ``KeyError`` for an unknown batch or a
        number not in it.
        """
        batch = self.batches[batch_id]
        check_xml_text(text)
        if at is None:
            when = self.now()
        elif at.utcoffset() is None:
            raise ValueError("at must be a timezone-aware datetime")
        else:
            when = at.timestamp()
        batch.add_reply(batch.index_of(mobile), text, when)

    def recipients(self, batch_id: str) -> list[Every8dRecipient]:
        """Snapshots of every recipient of ``batch_id``, in order (``KeyError`` if unknown)."""
        batch = self.batches[batch_id]
        now = self.now()
        return [batch.recipient(index, now) for index in range(len(batch))]

    @staticmethod
    def message_cost(text: str, mobile: str) -> int:
        """Credit one message of ``text`` to ``mobile`` costs; see
        :func:`~aiosms.testing.message_cost`."""
        return message_cost(text, mobile)

    # ----------------------------------------------------------------- pushes

    @property
    def pushes(self) -> list[dict[str, str]]:
        """Every push answered with HTTP 200, oldest first (the query sent)."""
        return self._outbox.delivered

    def due_pushes(self) -> list[dict[str, str]]:
        """The push calls owed now: each recipient's status when it changed since the
        last call (the first one included), and each new reply (``STATUS=999``)."""
        return self._ledger.due(self.batches.values(), self.now())

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        """Make the push calls owed (and repeat failed ones); returns how many got 200."""
        url = self.push_url
        if url is None:
            return 0
        return await self._outbox.flush(session, url, self.due_pushes())

    # ----------------------------------------------------------------- internals

    def _make_batch(self, **batch: Any) -> Every8dBatch:
        """Build (:func:`new_batch`, charging ``account`` if given) and store a batch."""
        made = new_batch(fate=self.fate, delivery_time=self.delivery_time, **batch)
        self.batches[made.batch_id] = made
        return made
