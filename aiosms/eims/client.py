"""The EIMS JSON HTTP gateway client: :class:`EimsClient`."""

from __future__ import annotations

import itertools
import json
import logging
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp
import anyio

from .._client import BaseClient, PushSource, WatchStream
from .._session import CredentialGate, KeyStore, Scope, fingerprint
from .._streaming import ChangeTracker, poll_new
from .._transport import DEFAULT_MAX_RESPONSE_BYTES, HttpResponse
from ..errors import InvalidRequestError, ResponseFormatError
from ..models import (
    DeliveryReport,
    EimsBalance,
    InboundMessage,
    SendResult,
    StatusChange,
)
from .codec import (
    MAX_INBOUND,
    PROVIDER,
    EimsText,
    SendPart,
    auth_fields,
    build_personalized_parts,
    build_send_parts,
    parse_balance,
    parse_job,
    parse_send,
)
from .jobs import EimsJob, build_job
from .reports import message_ids, parse_reports, read_inbound, report_parts

__all__ = ["EimsClient"]

logger = logging.getLogger("aiosms.eims")

_T = TypeVar("_T")
_HEADERS: Final = {"Content-Type": "application/json; charset=utf-8"}
# Checking and writing this many numbers takes ~10 ms (0.5 µs each): more is done in a
# worker thread, so that the event loop is never held for long.
_OFFLOAD_ITEMS: Final = 20_000

Ids = str | SendResult | Iterable[str]
"""Message ids: one, a send's (its ``message_ids``), or any iterable of them."""


class _Sequence:
    """The ``seq`` of one account's signed requests, shared by every client of it in
    this process, so that no two requests in flight carry the same one."""

    __slots__ = ("__weakref__", "next")

    def __init__(self) -> None:
        self.next = itertools.count(1).__next__


_SEQUENCES: weakref.WeakValueDictionary[Scope, _Sequence] = weakref.WeakValueDictionary()


def _sequence(scope: Scope) -> _Sequence:
    found = _SEQUENCES.get(scope)
    if found is None:
        found = _SEQUENCES[scope] = _Sequence()
    return found


def _dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class EimsClient(BaseClient):
    """Async client of an EIMS JSON HTTP gateway: SMS and MMS, personalized sends,
    reports, inbound messages, balance and scheduled tasks.

    ::

        async with aiosms.EimsClient("acme", password, base_url="http://10.0.0.5:20003") as sms:
            result = await sms.send("Your code is 1234", to=["886912345678"])
            async for change in sms.watch(result):
                print(change.report.mobile, change.state)

    Every request is a ``POST`` of a UTF-8 JSON body (``application/json``), so the
    password never sits in a URL. With ``key``, the gateway's signed mode: the password
    field is ``md5(account + password + seq + time + key)``, each request with its own
    ``seq`` (counting up from 1, shared by every client of the account in this process,
    so no two requests in flight share one) and its Unix ``time``; a retried query is
    signed afresh. The plain password and the key never reach a log line, an error or
    a repr (the one-time digest may be logged).

    As for every provider that takes the password with each call: until a call has
    succeeded, calls go one at a time, and once the gateway refuses the credentials
    (``-1``) or the account is locked (``-13``), no call with them is made again, by
    this client or another sharing ``key_store``.

    Args:
        account: the EIMS account.
        password: its password.
        base_url: the gateway's address, e.g. ``"http://10.0.0.5:20003"`` (each customer
            has their own: there is no default).
        key: the key the gateway's operator gave you for signed requests; ``None`` for
            plain ones.
        session: an ``aiohttp.ClientSession`` you own and close yourself.
        timeout: seconds for one HTTP exchange, or an ``aiohttp.ClientTimeout``.
        max_connections: size of the connection pool (when we create the session).
        max_response_bytes: longer replies are refused.
        key_store: where refused credentials are recorded (default: this process's
            memory); see :class:`aiosms.KeyStore`.
        tz: the gateway's time zone, for the times it reports and ``at=`` (default UTC;
            ask the operator: a gateway in Taipei is ``ZoneInfo("Asia/Taipei")``).
        parallel_parts: how many requests of a send split into several are in flight
            at once.
    """

    provider = PROVIDER

    def __init__(
        self,
        account: str,
        password: str,
        *,
        base_url: str,
        key: str | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        key_store: KeyStore | None = None,
        tz: tzinfo = UTC,
        parallel_parts: int = 4,
    ) -> None:
        for name, value in (("account", account), ("password", password)):
            if not isinstance(value, str) or not value:
                raise InvalidRequestError(f"{name} must be a non-empty str")
        if key is not None and (not isinstance(key, str) or not key):
            raise InvalidRequestError("key must be a non-empty str, or None for plain auth")
        if not isinstance(tz, tzinfo):
            raise InvalidRequestError(f"tz must be a tzinfo, not {tz!r}")
        if isinstance(parallel_parts, bool) or not isinstance(parallel_parts, int):
            raise InvalidRequestError(f"parallel_parts must be an int, not {parallel_parts!r}")
        if parallel_parts < 1:
            raise InvalidRequestError(f"parallel_parts must be at least 1, not {parallel_parts}")
        base_url = self._check_base_url(base_url)
        super().__init__(
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        self.account = account
        self.base_url = base_url
        self.tz = tz
        self._secrets = (password, key)
        for secret in (password, key):
            if secret is not None:
                self._transport.add_secret(secret)
                self._transport.add_secret(json.dumps(secret, ensure_ascii=False)[1:-1])
        scope = (PROVIDER, base_url, account)
        credential = fingerprint(scope, f"{password}\0{key or ''}")
        self._gate = CredentialGate(scope, credential=credential, store=key_store)
        self._seq = _sequence(scope)
        self._parts = anyio.CapacityLimiter(parallel_parts)

    def __repr__(self) -> str:
        mode = " signed" if self._secrets[1] is not None else ""
        state = " closed" if self._closed else ""
        return f"<EimsClient account={self.account!r} base_url={self.base_url!r}{mode}{state}>"

    # ------------------------------------------------------------------ calls

    def _auth(self) -> dict[str, Any]:
        password, key = self._secrets
        if key is None:
            return {"account": self.account, "password": password}
        return auth_fields(
            self.account, password, key=key, seq=self._seq.next(), time=int(time.time())
        )

    async def _call(
        self, path: str, fields: dict[str, Any], parse: Callable[[bytes], _T], *, query: bool
    ) -> _T:
        """POST ``fields`` with this attempt's authentication to ``path`` and parse the
        reply. A query (``query=True``) is retried where that is safe, each attempt
        signed afresh; a send never is."""
        self._check_open()
        url = self.base_url + path

        def body() -> bytes:
            return _dumps({**self._auth(), **fields})

        def decode(resp: HttpResponse) -> _T:
            return parse(resp.body)

        def run() -> Any:
            return self._transport.request(
                "POST", url, body=body, headers=_HEADERS, idempotent=query, decode=decode
            )

        result: _T = await self._gate.call(run)
        return result

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        sender: str | None = None,
        at: datetime | None = None,
    ) -> SendResult:
        """Send ``text`` to one number or many (``/sendsms``).

        More than 10,000 numbers (the most one request takes) are sent in several
        requests, ``parallel_parts`` at a time, and their answers merged: one
        :class:`~aiosms.SendResult` whose ``message_ids`` maps every accepted number to
        its EIMS id. A number listed twice is sent once.

        Args:
            text: up to 1,024 characters.
            to: a number (``"886912345678"``) or an iterable of them.
            sender: the sender id to show, where the gateway allows one.
            at: a timezone-aware time to send at (``sendtime``, in the gateway's ``tz``).

        Returns:
            ``message_ids`` (number -> id), ``sent`` (how many), ``rejected`` (numbers
            the gateway did not accept: nothing was sent to them) and ``failed``: the
            requests of a split send that failed while others were accepted, each with
            its numbers and error (a WARNING is logged). ``cost`` and ``credit`` are
            ``None``: the gateway does not say.

        Raises:
            InvalidRequestError: before any request: empty or too long content, no
                number, a naive ``at``.
            AuthenticationError: the credentials were refused (``-1``); never retried.
            AccountBlockedError: the account is locked (``-13``).
            InsufficientCreditError: the balance cannot cover the send (``-10``).
            ProviderError: any other refusal, with the gateway's code.
            SendOutcomeUnknownError: the request may have reached the gateway but no
                readable answer came; it was not repeated. For a split send, these are
                raised only when no request succeeded: otherwise they are in ``failed``.
        """
        return await self._send(text, to, sender=sender, at=at, mms_title=None)

    async def send_mms(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        title: str,
        sender: str | None = None,
        at: datetime | None = None,
    ) -> SendResult:
        """Send an MMS (``smstype=1``) with ``title`` (``mmstitle``); otherwise as
        :meth:`send`."""
        return await self._send(text, to, sender=sender, at=at, mms_title=title)

    async def _send(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        sender: str | None,
        at: datetime | None,
        mms_title: str | None,
    ) -> SendResult:
        if isinstance(to, Iterable) and not isinstance(to, str):
            to = list(to)  # read once: it may be an iterator
        build = partial(
            build_send_parts, text, to, sender=sender, at=at, mms_title=mms_title, tz=self.tz
        )
        return await self._send_parts(await _build(build, to))

    async def send_personalized(self, items: Iterable[EimsText]) -> SendResult:
        """Send each item its own text (and sender, or MMS title) in ``smsarray``
        requests of at most 10,000 numbers, merged as for :meth:`send`::

            from aiosms.eims import EimsText

            await sms.send_personalized([
                EimsText("886912345678", "Hi Ann, your table is ready"),
                EimsText(["886912345679", "886912345670"], "Hi both", sender="Bistro"),
            ])

        A number may appear in one item only (the gateway's answer names numbers).
        """
        if isinstance(items, Iterable) and not isinstance(items, str | bytes):
            items = list(items)  # read once: it may be an iterator
        return await self._send_parts(await _build(partial(build_personalized_parts, items), items))

    async def _send_parts(self, parts: list[SendPart]) -> SendResult:
        def send(index: int) -> Awaitable[tuple[dict[str, str], list[str]]]:
            return self._send_part(parts[index])

        return await self._send_in_parts([p.numbers for p in parts], send, self._parts)

    async def _send_part(self, part: SendPart) -> tuple[dict[str, str], list[str]]:
        parse = partial(parse_send, numbers=part.numbers)
        return await self._call("/sendsms", dict(part.body), parse, query=False)

    # ------------------------------------------------------------------ reports

    def _report_pages(self, ids: Ids) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        return self._pages(message_ids(ids))

    async def _pages(self, ids: Sequence[str]) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        """``/getreport`` for ``ids`` (checked, each once), 200 a request, one page each."""
        tz = self.tz
        for part in report_parts(ids):
            async with self._poll_slots:
                page = await self._call(
                    "/getreport",
                    dict(part.query),
                    partial(parse_reports, ids=part.ids, tz=tz),
                    query=True,
                )
            yield page

    def _check_batch_id(self, batch_id: str) -> None:
        message_ids(batch_id)

    def delivery_reports(self, ids: Ids) -> AsyncIterator[DeliveryReport]:
        """The report of each message id (``/getreport``, 200 ids a request), fetched as
        you iterate; in the order asked, each id once. ``ids``: one id, a
        :class:`~aiosms.SendResult` (its ``message_ids``), or an iterable of ids.

        ``message_id`` is the EIMS id; the send status and (where the gateway reports
        it) the deliver status make one :class:`~aiosms.DeliveryState`, the raw codes
        in ``status`` (``"0/3"``), and a message that was not sent has the gateway's
        reason (``"not sent: Black Number"``) as its description. An id the gateway
        does not know is reported as ``UNKNOWN``, ``"the gateway does not know this
        id"``, not dropped.
        """
        return self._reports(self._pages(message_ids(ids)))

    def watch(
        self,
        ids: Ids,
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: PushSource | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Yield each message's state when first seen and whenever it changes, until
        all are final (or ``timeout``); ``ids`` as for :meth:`delivery_reports`::

            result = await sms.send("Sale today", to=numbers)
            async for change in sms.watch(result, interval=10):
                print(change.report.message_id, change.report.mobile, change.state)

        Each poll asks only for the ids not final yet, 200 a request, so a watch of
        10,000 messages costs fewer requests with every poll. An id the gateway does
        not know stays ``UNKNOWN`` and is asked about until ``timeout``. With ``push``
        (an :class:`~aiosms.webhooks.EimsPushReceiver`), pushed reports are yielded as
        they arrive and polling only fills gaps; see
        :meth:`aiosms.Every8dSoapClient.watch` for the rest.
        """
        wanted = message_ids(ids)
        tracker = ChangeTracker()

        def pages() -> AsyncIterator[Sequence[DeliveryReport]]:
            return self._pages([one for one in wanted if not tracker.is_final(one)])

        return self._watch(wanted, pages, interval, timeout, push, tracker)

    def watch_many(
        self,
        sends: Iterable[Ids],
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: PushSource | None = None,
    ) -> AbstractAsyncContextManager[WatchStream]:
        """Watch several sends (or lists of ids) at once, merged into one stream, as
        :meth:`aiosms.Every8dSoapClient.watch_many` does; ``changes.add(result)``
        watches one more send in the same stream."""
        if isinstance(sends, str | SendResult):
            raise InvalidRequestError(
                "watch_many() takes several sends (a list); for one, use watch()"
            )
        start = partial(self.watch, interval=interval, timeout=timeout, push=push)
        return self._watch_many(sends, start)

    # ------------------------------------------------------------------ inbound

    def inbound(
        self, *, since: datetime | None = None, interval: float = 5.0
    ) -> AsyncIterator[InboundMessage]:
        """The SMS the account receives (``/getsms``), as they come; runs until you stop::

            async for message in sms.inbound():
                print(message.mobile, message.text)

        Polls every ``interval`` seconds, and again at once when a call returned 50
        messages (the most one gives). The gateway hands each message out once; one
        it hands out twice (same id) is yielded once. ``since`` (aware) asks only for
        messages received from then on (``start_time``). Transient failures are
        retried with growing pauses, as a watch does.

        Raises:
            ResponseFormatError: a message's content is not base64 of UTF-8 text (the
                error names its id); the other messages of that reply are yielded
                first. Iterate ``inbound()`` again to go on.
        """
        fields: dict[str, Any] = {}
        if since is not None:
            if not isinstance(since, datetime) or since.utcoffset() is None:
                raise InvalidRequestError("since must be a timezone-aware datetime")
            fields["start_time"] = int(since.timestamp())
        if not isinstance(interval, int | float) or not interval > 0:
            raise InvalidRequestError(f"interval must be positive seconds, not {interval!r}")
        return self._inbound(fields, interval)

    async def _inbound(
        self, fields: dict[str, Any], interval: float
    ) -> AsyncGenerator[InboundMessage, None]:
        tz = self.tz

        async def fetch() -> list[InboundMessage | ResponseFormatError]:
            async with self._poll_slots:
                messages, errors = await self._call(
                    "/getsms", fields, partial(read_inbound, tz=tz), query=True
                )
            # Counted as a full answer (ask again at once) by its rows, readable or not.
            return [*messages, *errors]

        def key(item: InboundMessage | ResponseFormatError) -> object:
            return item.message_id if isinstance(item, InboundMessage) else id(item)

        items = poll_new(fetch, key=key, interval=interval, full=MAX_INBOUND)
        try:
            async for item in items:
                if isinstance(item, ResponseFormatError):
                    raise item
                yield item
        finally:
            await items.aclose()

    # ------------------------------------------------------------------ account

    async def balance(self) -> EimsBalance:
        """The account's balance and gift balance (``/getbalance``), as Decimals."""
        balance, gift = await self._call("/getbalance", {}, parse_balance, query=True)
        return EimsBalance(balance, gift)

    async def create_job(self, job: EimsJob) -> str:
        """Create a scheduled task (``/smsjob``) and return its id::

            from aiosms.eims import Daily, EimsJob

            job_id = await sms.create_job(
                EimsJob("morning-news", "Today's headlines: …",
                        numbers_url="http://files.example/list.xls",
                        schedule=Daily(minute=0, hour=9, day=1), period=10)
            )

        Every field and range is checked before any request (see
        :mod:`aiosms.eims.jobs`). Creating a task is not repeated on a lost answer:
        that raises :class:`~aiosms.SendOutcomeUnknownError`.
        """
        return await self._call("/smsjob", build_job(job), parse_job, query=False)


async def _build(build: Callable[[], _T], items: object) -> _T:
    """``build()``, in a worker thread when ``items`` are so many that checking and
    writing them would hold the event loop for more than a few milliseconds."""
    if isinstance(items, list) and len(items) > _OFFLOAD_ITEMS:
        return await anyio.to_thread.run_sync(build)
    return build()


if TYPE_CHECKING:  # mypy checks that the client is an aiosms.SmsClient
    from .._protocol import SmsClient

    def _is_an_sms_client(client: EimsClient) -> SmsClient:
        return client
