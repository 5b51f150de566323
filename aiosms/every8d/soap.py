"""The EVERY8D Web Services (SOAP) client."""

from __future__ import annotations

import logging
import time as _time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import aiohttp
import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from .._soap import DEFAULT_NAMESPACE, SoapVersion, build_envelope, parse_envelope, soap_headers
from .._streaming import ChangeTracker, merge_streams, poll_changes
from .._transport import DEFAULT_MAX_RESPONSE_BYTES, Transport
from ..errors import (
    AuthenticationError,
    ClientClosedError,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderBusyError,
    ResponseFormatError,
    SendOutcomeUnknownError,
    SessionExpiredError,
    SmsError,
    TransportError,
)
from ..models import CancelResult, DeliveryReport, Personalized, SendResult, StatusChange
from ._common import TAIPEI
from .codes import PROVIDER
from .soap_codec import (
    PAGE_SIZE,
    SERVICE_PATH,
    Operation,
    ReportPage,
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

if TYPE_CHECKING:
    from ..webhooks import Every8dPushReceiver

__all__ = ["DEFAULT_BASE_URL", "Every8dSoapClient"]

logger = logging.getLogger("aiosms.every8d")

DEFAULT_BASE_URL = "https://oms.every8d.com"
_T = TypeVar("_T")
_SOAP_FAULT_STATUS = frozenset({500})


class Every8dSoapClient:
    """Async client of the EVERY8D Web Services API 2.1 (SOAP).

    ::

        async with aiosms.Every8dSoapClient("user", "password") as sms:
            result = await sms.send("Your code is 1234", to="+886912345678")
            async for change in sms.watch(result.batch_id):
                print(change.report.mobile, change.state)

    The session key is fetched (``getConnection``) on first use, renewed once for all
    concurrent callers when the provider answers ``-301`` (the refused call is then
    repeated once; a ``-301`` proves it was not carried out), renewed ahead of time when
    it is a day old, and closed (``closeConnection``) by :meth:`aclose`.

    A login the provider refuses (wrong account or password, ``-100``/``-101``, or a
    blocked account, ``-999``) is never repeated: not for the other tasks that were
    waiting for the same key, and not for later calls, which raise the same error at
    once. EVERY8D blocks an account after 10 failed logins, and a client's credentials
    cannot change, so trying them again could only bring that closer.

    Args:
        user_id: the EVERY8D account.
        password: its password (never logged, never in a repr or error).
        base_url: scheme, host and optional path prefix, e.g.
            ``"http://biz2.every8d.com/yourcompany"``; ``/API21/SOAP/SMS.asmx`` is added.
        soap_version: ``"1.1"`` (``text/xml`` + ``SOAPAction``) or ``"1.2"``.
        namespace: the service's target namespace.
        session: an ``aiohttp.ClientSession`` you own and close yourself.
        timeout: seconds for one HTTP exchange, or an ``aiohttp.ClientTimeout``.
        max_connections: size of the connection pool (when we create the session).
        max_response_bytes: longer replies are refused.
        session_max_age: renew the session key once it is this old.
        busy_attempts: how often ``getConnection`` is tried while the provider is busy.
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
    ) -> None:
        self._login = build_get_connection(user_id, password)  # checks both
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(f"base_url must start with http:// or https://: {base_url!r}")
        if soap_version not in ("1.1", "1.2"):
            raise InvalidRequestError(f"soap_version must be '1.1' or '1.2', not {soap_version!r}")
        for option, value in (
            ("max_connections", max_connections),
            ("busy_attempts", busy_attempts),
        ):
            if value < 1:
                raise InvalidRequestError(f"{option} must be at least 1, not {value}")
        if session_max_age <= timedelta(0):
            raise InvalidRequestError("session_max_age must be positive")
        self.user_id = user_id
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + SERVICE_PATH
        self.soap_version: SoapVersion = soap_version
        self.namespace = namespace
        self._transport = Transport(
            provider=PROVIDER,
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        self._transport.add_secret(password)
        # A new key shows in getConnection's reply (escaped there) before we know it.
        self._transport.add_secret_pattern(r"SESSION_KEY(?:>|&gt;)(?P<secret>[^<&]+)")
        self._session_max_age = session_max_age.total_seconds()
        self._busy_attempts = busy_attempts
        self._headers: dict[str, dict[str, str]] = {}
        self._key: str | None = None
        self._key_expires = 0.0  # when to renew ahead of time (epoch seconds)
        self._generation = 0
        self._key_lock = anyio.Lock()
        self._login_refused: AuthenticationError | None = None  # sticky: see the docstring
        # Polling may use at most a quarter of the pool, so sends always find a connection.
        pool = max_connections if session is None else _pool_size(session, max_connections)
        self._poll_slots = anyio.Semaphore(max(1, pool // 4))
        self._clock: Callable[[], float] = _time.time
        self._closed = False

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Every8dSoapClient user_id={self.user_id!r} url={self.url!r}{state}>"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session key (``closeConnection``) and our HTTP session.

        Safe to call twice. A failure to close the key is logged, not raised.
        """
        if self._closed:
            return
        self._closed = True
        key, self._key = self._key, None
        try:
            if key is not None:
                try:
                    with anyio.fail_after(5):
                        result = await self._exchange(build_close_connection(), key)
                    if not parse_close_connection(result):
                        logger.info("closeConnection answered %r", result.strip()[:20])
                except (SmsError, TimeoutError) as exc:
                    logger.info("could not close the EVERY8D session: %s", exc)
        finally:
            await self._transport.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_session:
            _warn(
                f"{self!r} was never closed; use 'async with' or 'await client.aclose()'",
                ResourceWarning,
                source=self,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this client is closed", provider=PROVIDER)

    # ------------------------------------------------------------------ session key

    def _key_is_old(self) -> bool:
        return self._clock() >= self._key_expires

    def _expiry(self, born: float) -> float:
        """Renew at ``session_max_age``, or at the next midnight in Taipei, where keys die."""
        local = datetime.fromtimestamp(born, TAIPEI)
        midnight = datetime.combine(local.date() + timedelta(days=1), time.min, TAIPEI)
        return min(born + self._session_max_age, midnight.timestamp())

    async def _session_key(self) -> tuple[str, int]:
        key = self._key
        if key is None or self._key_is_old():
            await self._renew(self._generation)
            key = self._key
            assert key is not None
        return key, self._generation

    async def _renew(self, stale_generation: int) -> None:
        """Get a new key, once for every caller that saw ``stale_generation`` fail."""
        async with self._key_lock:
            self._check_open()
            self._check_login_allowed()
            if (
                self._generation != stale_generation
                and self._key is not None
                and not self._key_is_old()
            ):
                return  # another task renewed it while we waited
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self._busy_attempts),
                wait=wait_random_exponential(multiplier=0.5, max=10),
                retry=retry_if_exception_type(ProviderBusyError),
                # Not a bound method: tenacity keeps a cycle to it, which would keep the
                # client alive past its last reference and delay the unclosed warning.
                before_sleep=partial(_log_busy_login, attempts=self._busy_attempts),
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        key = parse_connection(await self._exchange(self._login, ""))
            except AuthenticationError as exc:
                # A copy without the traceback, whose frames would tie a cycle to self.
                self._login_refused = type(exc)(exc.message, provider=PROVIDER, code=exc.code)
                raise
            self._transport.add_secret(key)
            self._key = key
            self._key_expires = self._expiry(self._clock())
            self._generation += 1
            logger.debug("session key renewed (generation %d)", self._generation)

    def _check_login_allowed(self) -> None:
        refused = self._login_refused
        if refused is not None:
            raise type(refused)(
                f"{refused.message} (an earlier login with these credentials was refused; "
                "it is not tried again, since EVERY8D blocks an account after 10 failed "
                "logins: fix the credentials and create a new client)",
                provider=PROVIDER,
                code=refused.code,
            )

    # ------------------------------------------------------------------ calls

    async def _exchange(self, op: Operation, key: str) -> str:
        """POST one operation; return its unwrapped result string."""
        headers = self._headers.get(op.name)
        if headers is None:
            headers = soap_headers(op.name, namespace=self.namespace, version=self.soap_version)
            self._headers[op.name] = headers
        body = build_envelope(
            op.name, op.with_key(key), namespace=self.namespace, version=self.soap_version
        )
        resp = await self._transport.request(
            "POST",
            self.url,
            body=body,
            headers=headers,
            idempotent=op.idempotent,
            pass_statuses=_SOAP_FAULT_STATUS,
        )
        try:
            return parse_envelope(resp.body, op.name, namespace=self.namespace, provider=PROVIDER)
        except ResponseFormatError as exc:
            if resp.status == 200:
                raise
            # A 500 that is not a SOAP fault: a server error page.
            cls = TransportError if op.idempotent else SendOutcomeUnknownError
            raise cls(
                f"the provider answered HTTP {resp.status} without a SOAP fault",
                provider=PROVIDER,
                status=resp.status,
            ) from exc

    async def _invoke(self, op: Operation, parse: Callable[[str], _T]) -> _T:
        """Run ``op`` with the session key; on ``-301`` renew once and repeat once."""
        self._check_open()
        for attempt in (1, 2):
            key, generation = await self._session_key()
            try:
                return parse(await self._exchange(op, key))
            except SessionExpiredError:
                if attempt == 2:
                    raise
                logger.debug("%s: session key refused (-301); renewing", op.name)
                await self._renew(generation)
            except ResponseFormatError as exc:
                if op.idempotent:
                    raise
                raise SendOutcomeUnknownError(
                    f"{op.name}: the reply could not be read ({exc.message}); the request "
                    "may or may not have been carried out",
                    provider=PROVIDER,
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ public API

    async def send(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        subject: str = "",
        at: datetime | None = None,
        validity: timedelta | None = None,
    ) -> SendResult:
        """Send ``text`` to one number or several.

        Args:
            text: the message; long texts are split by the provider (up to 333
                characters are billed as one long SMS).
            to: ``"+886912345678"``, ``"0912345678"`` or a sequence of them.
            subject: a note kept with the batch; not sent.
            at: a timezone-aware time to send at (sent in Taipei time).
            validity: how long the carrier keeps trying (``sendMessage`` with
                ``retryTime`` in minutes); the provider's default is 24 hours.

        Returns:
            the batch id, counts, cost and credit left.

        Raises:
            InvalidRequestError: before any request, for bad arguments.
            InsufficientCreditError: nothing was sent for lack of credit.
            SendOutcomeUnknownError: the request may have reached EVERY8D but no
                readable answer came back; it was not repeated.
        """
        op = build_send(text, to, subject=subject, at=at, validity=validity)
        return _check_credit(await self._invoke(op, parse_send))

    async def send_personalized(
        self,
        items: Sequence[Personalized],
        *,
        subject: str = "",
        at: datetime | None = None,
    ) -> SendResult:
        """Send each recipient its own text (``sendParamSMS``).

        ``Personalized.at`` sets one recipient's time; ``at`` here the batch's.
        """
        op = build_send_personalized(items, subject=subject, at=at)
        return _check_credit(await self._invoke(op, parse_send))

    async def _report_page(self, batch_id: str, page: int) -> ReportPage:
        op = build_get_delivery_status(batch_id, page)
        async with self._poll_slots:
            return await self._invoke(op, lambda r: parse_delivery_status(r, batch_id))

    async def delivery_reports(self, batch_id: str) -> AsyncIterator[DeliveryReport]:
        """Every recipient's report for a batch, fetched 1,000 at a time as you iterate.

        Replies the recipient sent back are in ``report.replies``.
        """
        build_get_delivery_status(batch_id)  # check the argument before any request
        page = 1
        while True:
            result = await self._report_page(batch_id, page)
            for report in result.reports:
                yield report
            if len(result.reports) < PAGE_SIZE or page * PAGE_SIZE >= result.count:
                return
            page += 1

    def watch(
        self,
        batch_id: str,
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: Every8dPushReceiver | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Yield each recipient's state when first seen and whenever it changes.

        Polls every ``interval`` seconds; ends by itself when every recipient is in a
        final state, or once ``timeout`` seconds have passed. Polling shares a quarter
        of the connection pool at most, so it never starves sends.

        A batch that lists no recipients yet (EVERY8D may still be handing it out, and an
        unknown batch id looks the same) is not final: it is polled until recipients
        appear, or until ``timeout``. Pass one when the batch id comes from elsewhere.

        With ``push``, an :class:`~aiosms.webhooks.Every8dPushReceiver` that EVERY8D
        calls, pushed reports are yielded as they arrive, between polls; a change seen
        both pushed and polled is yielded once. Polling can then be rare: it only fills
        gaps (a lost push) and tells when the whole batch is final.
        """
        build_get_delivery_status(batch_id)

        async def snapshot() -> list[DeliveryReport]:
            return [report async for report in self.delivery_reports(batch_id)]

        if push is None:
            return poll_changes(snapshot, interval=interval, stop_after=timeout)
        return self._watch_pushed(batch_id, snapshot, interval, push, stop_after=timeout)

    @staticmethod
    async def _watch_pushed(
        batch_id: str,
        snapshot: Callable[[], Awaitable[list[DeliveryReport]]],
        interval: float,
        push: Every8dPushReceiver,
        *,
        stop_after: float | None,
    ) -> AsyncIterator[StatusChange]:
        # Polled EVERY8D reports carry no MR; key pushed ones the same way.
        tracker = ChangeTracker(by_message_id=False)
        async with push.subscribe([batch_id]) as events:
            changes = poll_changes(
                snapshot, interval=interval, stop_after=stop_after, pushed=events, tracker=tracker
            )
            try:
                async for change in changes:
                    yield change
            finally:
                await changes.aclose()

    def watch_many(
        self,
        batch_ids: Iterable[str],
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: Every8dPushReceiver | None = None,
    ) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[StatusChange]]:
        """Watch several batches at once, their changes merged into one stream::

            async with sms.watch_many([b1, b2], interval=5) as changes:
                async for change in changes:
                    print(change.report.batch_id, change.report.mobile, change.state)

        The stream ends when every batch is final (or ``timeout`` ran out for each).
        ``push`` is as for :meth:`watch`.
        """
        watches = [
            self.watch(batch_id, interval=interval, timeout=timeout, push=push)
            for batch_id in batch_ids
        ]
        return merge_streams(watches)

    async def balance(self) -> Decimal:
        """The account's remaining credit (``getCredit``)."""
        return await self._invoke(build_get_credit(), parse_credit)

    async def cancel(self, batch_id: str) -> CancelResult:
        """Cancel what is still scheduled in a batch (``eraseBooking``).

        ``result.cancelled`` is 0 (and ``result.found`` False) when nothing was found.
        """
        return await self._invoke(build_erase_booking(batch_id), parse_erase_booking)


def _check_credit(result: SendResult) -> SendResult:
    if result.sent == 0 and result.unsent > 0:
        raise InsufficientCreditError(
            f"nothing was sent: not enough credit for {result.unsent} message(s) "
            f"(credit left {result.credit})",
            provider=PROVIDER,
            result=result,
        )
    return result


def _log_busy_login(state: RetryCallState, *, attempts: int) -> None:
    pause = state.next_action.sleep if state.next_action is not None else 0.0
    logger.debug(
        "EVERY8D is busy (-97); getConnection again in %.2f s (attempt %d of %d)",
        pause,
        state.attempt_number + 1,
        attempts,
    )


def _pool_size(session: aiohttp.ClientSession, default: int) -> int:
    connector: Any = session.connector
    limit = getattr(connector, "limit", 0)
    return limit if isinstance(limit, int) and limit > 0 else default
