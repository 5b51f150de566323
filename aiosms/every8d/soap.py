"""The EVERY8D Web Services (SOAP) client."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import anyio

from .._client import BaseClient
from .._session import KeyStore, SessionKeeper, fingerprint
from .._soap import DEFAULT_NAMESPACE, SoapVersion, build_envelope, parse_envelope, soap_headers
from .._streaming import ChangeTracker
from .._transport import DEFAULT_MAX_RESPONSE_BYTES, HttpResponse, Transport
from ..errors import (
    InvalidRequestError,
    ResponseFormatError,
    SendOutcomeUnknownError,
    SessionExpiredError,
    TransportError,
)
from ..models import CancelResult, DeliveryReport, Personalized, SendResult
from ._common import DEFAULT_BASE_URL, TAIPEI, check_covers, check_sent, estimate_cost
from .codes import PROVIDER
from .soap_codec import (
    PAGE_SIZE,
    SERVICE_PATH,
    Operation,
    build_close_connection,
    build_erase_booking,
    build_get_connection,
    build_get_credit,
    build_get_delivery_status,
    build_send,
    build_send_personalized,
    parse_close_connection,
    parse_connection,
    parse_credit,
    parse_delivery_status,
    parse_erase_booking,
    parse_send,
)

__all__ = ["DEFAULT_BASE_URL", "Every8dSoapClient"]

logger = logging.getLogger("aiosms.every8d")

_T = TypeVar("_T")
_SOAP_FAULT_STATUS = frozenset({500})
# Checking and writing this many recipients takes longer than an event loop should
# block (~20 ms): it is done in a worker thread instead.
_OFFLOAD_RECIPIENTS = 2_000


class Every8dSoapClient(BaseClient):
    """Async client of the EVERY8D Web Services API 2.1 (SOAP).

    ::

        async with aiosms.Every8dSoapClient("user", "password") as sms:
            result = await sms.send("Your code is 1234", to="+886912345678")
            async for change in sms.watch(result.batch_id):
                print(change.report.mobile, change.state)

    The session key is fetched (``getConnection``) on first use, renewed once for all
    concurrent callers when the provider answers ``-301`` (the refused call is then
    repeated once; a ``-301`` proves it was not carried out), renewed ahead of time when
    it is a day old or the day changed in Taipei, and closed (``closeConnection``) by
    :meth:`aclose`. EVERY8D keeps one key per account, so every client of one account
    (at one service URL) in this process shares one key: they don't log each other out,
    and only the last one closed says ``closeConnection``.

    A login the provider refuses (wrong account or password, ``-100``/``-101``, or a
    blocked account, ``-999``) is never repeated: not for the other tasks that were
    waiting for the same key, and not for later calls (from this client or another
    with the same credentials), which raise the same error at once. EVERY8D blocks an
    account after 10 failed logins.

    Args:
        user_id: the EVERY8D account.
        password: its password (never logged, never in a repr or error).
        base_url: scheme, host and optional path prefix, e.g.
            ``"http://biz2.every8d.com/yourcompany"``; ``/API21/SOAP/SMS.asmx`` is added.
        soap_version: ``"1.1"`` (``text/xml`` + ``SOAPAction``) or ``"1.2"``.
        namespace: the service's target namespace.
        session: an ``aiohttp.ClientSession`` you own and close yourself.
        timeout: seconds for one HTTP exchange (default: 30 s in all, 10 s to
            connect), or an ``aiohttp.ClientTimeout``.
        max_connections: size of the connection pool (when we create the session).
        max_response_bytes: longer replies are refused.
        session_max_age: renew the session key once it is this old.
        busy_attempts: how often ``getConnection`` is tried while the provider is busy.
        key_store: where session keys are kept (default: this process's memory); see
            :class:`aiosms.KeyStore` to share them across processes.
    """

    provider = PROVIDER

    def __init__(
        self,
        user_id: str,
        password: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        soap_version: SoapVersion = "1.1",
        namespace: str = DEFAULT_NAMESPACE,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session_max_age: timedelta = timedelta(days=1),
        busy_attempts: int = 5,
        key_store: KeyStore | None = None,
    ) -> None:
        login = build_get_connection(user_id, password)  # checks both
        base_url = self._check_base_url(base_url)
        if soap_version not in ("1.1", "1.2"):
            raise InvalidRequestError(f"soap_version must be '1.1' or '1.2', not {soap_version!r}")
        if isinstance(busy_attempts, bool) or not isinstance(busy_attempts, int):
            raise InvalidRequestError(f"busy_attempts must be an int, not {busy_attempts!r}")
        if busy_attempts < 1:
            raise InvalidRequestError(f"busy_attempts must be at least 1, not {busy_attempts}")
        if not isinstance(session_max_age, timedelta) or session_max_age <= timedelta(0):
            raise InvalidRequestError("session_max_age must be a positive timedelta")
        super().__init__(
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        self.user_id = user_id
        self.base_url = base_url
        self.url = base_url + SERVICE_PATH
        self.soap_version: SoapVersion = soap_version
        self.namespace = namespace
        self._transport.add_secret(password)
        # A new key shows in getConnection's reply (escaped there) before we know it.
        self._transport.add_secret_pattern(r"SESSION_KEY(?:>|&gt;)(?P<secret>[^<&]+)")
        self._exchange = _SoapExchange(self._transport, self.url, namespace, soap_version)
        scope = (PROVIDER, self.url, user_id)
        self._keeper = SessionKeeper(
            scope,
            login=partial(self._exchange, login, "", parse_connection),
            credential=fingerprint(scope, password),
            renew_at=partial(_renew_at, session_max_age.total_seconds()),
            store=key_store,
            busy_attempts=busy_attempts,
            on_new_key=self._transport.add_secret,
            label="EVERY8D",
        )

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Every8dSoapClient user_id={self.user_id!r} url={self.url!r}{state}>"

    @property
    def _clock(self) -> Callable[[], float]:
        """The clock session keys are aged by (a test seam)."""
        return self._keeper.clock

    @_clock.setter
    def _clock(self, clock: Callable[[], float]) -> None:
        self._keeper.clock = clock

    # ------------------------------------------------------------------ calls

    async def _close_provider(self) -> None:
        key = await self._keeper.release()
        if key is not None:
            result = await self._exchange(build_close_connection(), key.value, str)
            if not parse_close_connection(result):
                logger.info("closeConnection answered %r", result.strip()[:20])

    async def _invoke(
        self, op: Operation, parse: Callable[[str], _T], *, offload: bool = False
    ) -> _T:
        """Run ``op`` with the session key; on ``-301`` renew once and repeat once.

        ``offload``: the envelope is large; write it in a worker thread.
        """
        self._check_open()
        key = self._keeper.current() or await self._keeper.key()
        try:
            return await self._exchange(op, key.value, parse, offload)
        except SessionExpiredError:
            logger.debug("%s: session key refused (-301); renewing", op.name)
        key = await self._keeper.renew(key)
        return await self._exchange(op, key.value, parse, offload)

    # ------------------------------------------------------------------ public API

    async def send(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        subject: str = "",
        at: datetime | None = None,
        validity: timedelta | None = None,
        check_credit: bool = False,
    ) -> SendResult:
        """Send ``text`` to one number or several.

        Args:
            text: the message. Up to 333 characters go out as one long SMS, billed by
                length: 1–70 characters 1 point a message, 71–134 → 2, 135–201 → 3,
                202–268 → 4, 269–333 → 5; longer texts are split into 333-character
                parts; numbers outside Taiwan cost three times as much. See
                :func:`aiosms.every8d.estimate_cost`.
            to: ``"+886912345678"``, ``"0912345678"`` or a sequence of them.
            subject: a note kept with the batch; not sent.
            at: a timezone-aware time to send at (sent in Taipei time).
            validity: how long the carrier keeps trying (``sendMessage`` with
                ``retryTime`` in minutes); the provider's default is 24 hours.
            check_credit: first ask the balance (``getCredit``) and refuse, before
                anything is sent, a send it cannot cover by
                :func:`~aiosms.every8d.estimate_cost`.

        Returns:
            the batch id, counts, cost and credit left. When the credit ran out part
            way, ``result.unsent`` counts the messages that were **not** sent (a
            WARNING is logged); they are not queued and will not go out later.

        Raises:
            InvalidRequestError: before any request, for bad arguments.
            InsufficientCreditError: nothing was sent for lack of credit (or, with
                ``check_credit``, the balance cannot cover the send: nothing was sent).
            SendOutcomeUnknownError: the request may have reached EVERY8D but no
                readable answer came back; it was not repeated. See that error for
                what a send you cancel yourself means.
        """
        large = False
        if isinstance(to, str):  # the usual case, kept short: it is every send's path
            op = build_send(text, to, subject=subject, at=at, validity=validity)
        else:
            if isinstance(to, Iterable):
                to = list(to)  # read once: it may be an iterator
                large = len(to) > _OFFLOAD_RECIPIENTS
            build = partial(build_send, text, to, subject=subject, at=at, validity=validity)
            op = await anyio.to_thread.run_sync(build) if large else build()
        if check_credit:
            estimate = partial(estimate_cost, text, to)
            check_covers(
                await anyio.to_thread.run_sync(estimate) if large else estimate(),
                await self.balance(),
            )
        return check_sent(await self._invoke(op, parse_send, offload=large))

    async def send_personalized(
        self,
        items: Sequence[Personalized],
        *,
        subject: str = "",
        at: datetime | None = None,
        check_credit: bool = False,
    ) -> SendResult:
        """Send each recipient its own text (``sendParamSMS``).

        ``Personalized.at`` sets one recipient's time; ``at`` here the batch's.
        ``check_credit`` and the result are as for :meth:`send`.
        """
        if not isinstance(items, Personalized) and isinstance(items, Iterable):
            items = list(items)
        build = partial(build_send_personalized, items, subject=subject, at=at)
        large = isinstance(items, list) and len(items) > _OFFLOAD_RECIPIENTS
        op = await anyio.to_thread.run_sync(build) if large else build()
        if check_credit:
            cost = sum((estimate_cost(item.text, item.to) for item in items), Decimal(0))
            check_covers(cost, await self.balance())
        return check_sent(await self._invoke(op, parse_send, offload=large))

    async def _report_pages(self, batch_id: str) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        """``getDeliveryStatus`` pages of 1,000 until the batch's COUNT is reached;
        replies the recipient sent back are in ``report.replies``."""
        page = 1
        while True:
            op = build_get_delivery_status(batch_id, page)
            async with self._poll_slots:
                result = await self._invoke(op, lambda r: parse_delivery_status(r, batch_id))
            yield result.reports
            if len(result.reports) < PAGE_SIZE or page * PAGE_SIZE >= result.count:
                return
            page += 1

    def _check_batch_id(self, batch_id: str) -> None:
        build_get_delivery_status(batch_id)

    def _new_tracker(self) -> ChangeTracker:
        # Polled EVERY8D reports carry no MR; key pushed ones the same way.
        return ChangeTracker(by_message_id=False)

    async def balance(self) -> Decimal:
        """The account's remaining credit (``getCredit``)."""
        return await self._invoke(build_get_credit(), parse_credit)

    async def cancel(self, batch_id: str) -> CancelResult:
        """Cancel what is still scheduled in a batch (``eraseBooking``).

        ``result.cancelled`` is 0 (and ``result.found`` False) when nothing was found.
        """
        return await self._invoke(build_erase_booking(batch_id), parse_erase_booking)


class _SoapExchange:
    """POSTs one operation and reads its result; what the client and its session keeper
    share. It holds no reference to the client, so a client dropped unclosed is freed
    (and warns) at once instead of waiting for the cycle collector."""

    __slots__ = ("_headers", "_transport", "namespace", "url", "version")

    def __init__(
        self, transport: Transport, url: str, namespace: str, version: SoapVersion
    ) -> None:
        self._transport = transport
        self._headers: dict[str, dict[str, str]] = {}
        self.url = url
        self.namespace = namespace
        self.version: SoapVersion = version

    async def __call__(
        self, op: Operation, key: str, parse: Callable[[str], _T], offload: bool = False
    ) -> _T:
        """POST one operation; unwrap and parse its result, inside the transport's
        retries (an idempotent call whose reply is unreadable is asked again). With
        ``offload``, the envelope is written in a worker thread."""
        headers = self._headers.get(op.name)
        if headers is None:
            headers = soap_headers(op.name, namespace=self.namespace, version=self.version)
            self._headers[op.name] = headers
        params = op.with_key(key)
        namespace = self.namespace
        if offload:
            build = partial(build_envelope, namespace=namespace, version=self.version)
            body = await anyio.to_thread.run_sync(build, op.name, params)
        else:
            body = build_envelope(op.name, params, namespace=namespace, version=self.version)
        idempotent = op.idempotent

        def decode(resp: HttpResponse) -> _T:
            try:
                result = parse_envelope(resp.body, op.name, namespace=namespace, provider=PROVIDER)
            except ResponseFormatError as exc:
                if resp.status == 200:
                    raise
                # A 500 that is not a SOAP fault: a server error page. A query may ask
                # again; a send may have been carried out before the server failed.
                if idempotent:
                    raise TransportError(
                        f"the provider answered HTTP {resp.status} without a SOAP fault",
                        provider=PROVIDER,
                        status=resp.status,
                        retryable=True,
                    ) from exc
                raise SendOutcomeUnknownError(
                    f"the provider answered HTTP {resp.status} without a SOAP fault; the "
                    "request may or may not have been carried out, so it was not retried",
                    provider=PROVIDER,
                    status=resp.status,
                ) from exc
            return parse(result)

        return await self._transport.request(
            "POST",
            self.url,
            body=body,
            headers=headers,
            idempotent=idempotent,
            pass_statuses=_SOAP_FAULT_STATUS,
            decode=decode,
        )


def _renew_at(max_age: float, born: float) -> float:
    """Renew at ``max_age`` seconds, or at the next midnight in Taipei, where keys die."""
    local = datetime.fromtimestamp(born, TAIPEI)
    midnight = datetime.combine(local.date() + timedelta(days=1), time.min, TAIPEI)
    return min(born + max_age, midnight.timestamp())


if TYPE_CHECKING:  # mypy checks that the client is an aiosms.SmsClient
    from .._protocol import SmsClient

    def _is_an_sms_client(client: Every8dSoapClient) -> SmsClient:
        return client
