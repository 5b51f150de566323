"""The EVERY8D HTTP API 2.1 client (SMS and MMS)."""

from __future__ import annotations

import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import anyio

from .._client import BaseClient, PushSource, WatchStream
from .._session import CredentialGate, KeyStore, fingerprint
from .._streaming import ChangeTracker
from .._transport import DEFAULT_MAX_RESPONSE_BYTES, HttpResponse
from ..errors import InvalidRequestError, ResponseFormatError
from ..models import CancelResult, DeliveryReport, SendResult, StatusChange
from ._common import (
    DEFAULT_BASE_URL,
    check_covers,
    check_sent,
    estimate_cost,
    normalize_recipients,
)
from .codes import PROVIDER
from .http_codec import (
    FORM_CONTENT_TYPE,
    MMS_MAX_BYTES,
    PAGE_SIZE,
    Request,
    build_erase_booking,
    build_get_credit,
    build_get_delivery_status,
    build_send,
    build_send_mms,
    credentials,
    encode_form,
    parse_credit,
    parse_erase_booking,
    parse_report_page,
    parse_send,
)

__all__ = ["DEFAULT_BASE_URL", "MMS_COST", "Every8dHttpClient"]

MMS_COST = Decimal(3)
"""Points one MMS costs, whatever its length (spec 1.2: 3 points a message)."""

_T = TypeVar("_T")
_HEADERS = {"Content-Type": FORM_CONTENT_TYPE}
# Checking and encoding this many recipients takes longer than an event loop should
# block (~20 ms): it is done in a worker thread instead.
_OFFLOAD_RECIPIENTS = 2_000

ImageSource = bytes | str | os.PathLike[str]


class Every8dHttpClient(BaseClient):
    """Async client of the EVERY8D HTTP API 2.1: SMS, MMS, reports, credit, cancels.

    ::

        async with aiosms.Every8dHttpClient("user", "password") as sms:
            result = await sms.send("Your code is 1234", to="+886912345678")
            async for change in sms.watch(result.batch_id):
                print(change.report.mobile, change.state)

    Every request is an HTTPS ``POST`` of a UTF-8 form: the account and password travel
    in the body, never in a URL a proxy or server log would keep. The API has no
    session: the password goes with every call, and EVERY8D blocks an account after
    10 wrong ones. So until a call has succeeded, calls go one at a time, and once the
    provider refuses the credentials (``-100``/``-101``, or ``-999`` blocked) no call
    with them is made again, by this client or another in this process: each raises
    the same :class:`~aiosms.AuthenticationError` at once.

    Args:
        uid: the EVERY8D account (``UID``).
        password: its password (``PWD``; never logged, never in a repr or error).
        base_url: scheme, host and optional path prefix, e.g.
            ``"http://biz2.every8d.com/yourcompany"``; ``/API21/HTTP/…`` is added.
            MMS is offered over HTTPS only.
        session: an ``aiohttp.ClientSession`` you own and close yourself.
        timeout: seconds for one HTTP exchange (default: 30 s in all, 10 s to
            connect), or an ``aiohttp.ClientTimeout``.
        max_connections: size of the connection pool (when we create the session).
        max_response_bytes: longer replies are refused.
        key_store: where refused credentials are recorded (default: this process's
            memory); see :class:`aiosms.KeyStore`.
    """

    provider = PROVIDER

    def __init__(
        self,
        uid: str,
        password: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        key_store: KeyStore | None = None,
    ) -> None:
        # UID and PWD start every form: encoded once (never logged: the transport masks
        # the password in every form it takes, URL-encoded ones included).
        self._form_head = encode_form(credentials(uid, password))  # checks both
        base_url = self._check_base_url(base_url)
        super().__init__(
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        self.uid = uid
        self.base_url = base_url
        self._transport.add_secret(password)
        scope = (PROVIDER, base_url + "/API21/HTTP", uid)
        self._gate = CredentialGate(scope, credential=fingerprint(scope, password), store=key_store)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Every8dHttpClient uid={self.uid!r} base_url={self.base_url!r}{state}>"

    # ------------------------------------------------------------------ calls

    async def _call(
        self, request: Request, parse: Callable[[str], _T], *, offload: bool = False
    ) -> _T:
        """POST ``request`` with the credentials and parse the reply (inside the
        transport's retries, so an unreadable reply to a query is asked again)."""
        self._check_open()
        body = self._form_head
        if offload:
            body += b"&" + await anyio.to_thread.run_sync(encode_form, request.fields)
        elif request.fields:
            body += b"&" + encode_form(request.fields)

        def decode(resp: HttpResponse) -> _T:
            return parse(_reply_text(resp.body))

        def send() -> Awaitable[_T]:
            return self._transport.request(
                "POST",
                self.base_url + request.path,
                body=body,
                headers=_HEADERS,
                idempotent=request.idempotent,
                decode=decode,
            )

        return await self._gate.call(send)

    # ------------------------------------------------------------------ sending

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
        """Send ``text`` to one number or several (``sendSMS.ashx``).

        Args:
            text: the message. Up to 333 characters go out as one long SMS, billed by
                length (1–70 characters 1 point, 71–134 → 2, 135–201 → 3, 202–268 → 4,
                269–333 → 5); longer texts are split into 333-character parts; numbers
                outside Taiwan cost three times as much. See
                :func:`aiosms.every8d.estimate_cost`.
            to: ``"+886912345678"``, ``"0912345678"`` or a sequence of them.
            subject: a note kept with the batch (``SB``); not sent.
            at: a timezone-aware time to send at (``ST``, in Taipei time).
            validity: how long the carrier keeps trying (``RETRYTIME``, in minutes);
                the provider's default is 24 hours.
            check_credit: first ask the balance and refuse, before anything is sent, a
                send it cannot cover by :func:`~aiosms.every8d.estimate_cost`.

        Returns:
            the batch id, counts, cost and credit left. When the credit ran out part
            way, ``result.unsent`` counts the messages that were **not** sent (a
            WARNING is logged); they will not go out later.

        Raises:
            InvalidRequestError: before any request, for bad arguments.
            InsufficientCreditError: nothing was sent for lack of credit (or, with
                ``check_credit``, the balance cannot cover the send).
            AuthenticationError: the account or password was refused.
            SendOutcomeUnknownError: the request may have reached EVERY8D but no
                readable answer came back; it was not repeated.
        """
        large = False
        if not isinstance(to, str) and isinstance(to, Iterable):
            to = list(to)  # read once: it may be an iterator
            large = len(to) > _OFFLOAD_RECIPIENTS
        build = partial(build_send, text, to, subject=subject, at=at, validity=validity)
        request = await anyio.to_thread.run_sync(build) if large else build()
        if check_credit:
            estimate = partial(estimate_cost, text, to)
            cost = await anyio.to_thread.run_sync(estimate) if large else estimate()
            check_covers(cost, await self.balance())
        return check_sent(await self._call(request, parse_send, offload=large))

    async def send_mms(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        image: ImageSource,
        image_type: str | None = None,
        subject: str = "",
        at: datetime | None = None,
        validity: timedelta | None = None,
        check_credit: bool = False,
    ) -> SendResult:
        """Send an MMS: ``text`` with one picture, to Taiwanese numbers (``sendMMS.ashx``).

        Args:
            text: up to 4,000 characters (may be empty); one MMS costs 3 points.
            to: Taiwanese mobile numbers only (``09…`` or ``+8869…``): EVERY8D sends no
                MMS abroad.
            image: the picture, as bytes or a file path (read in a worker thread).
            image_type: ``"jpg"``, ``"jpeg"``, ``"png"`` or ``"gif"``; by default it is
                told from the bytes.
            subject: up to 15 characters, or 95 when they are all ASCII.
            at: as for :meth:`send`.
            validity: as for :meth:`send`.
            check_credit: as for :meth:`send`.

        Raises:
            InvalidRequestError: before any request: a subject, text or picture over
                EVERY8D's limits (picture and text together at most 50 KB), a number
                outside Taiwan, a picture that is not a JPEG, PNG or GIF, or a file
                that cannot be read. Otherwise as for :meth:`send`.
        """
        data = await _read_image(image)
        if not isinstance(to, str) and isinstance(to, Iterable):
            to = list(to)
        request = build_send_mms(
            text,
            to,
            image=data,
            image_type=image_type,
            subject=subject,
            at=at,
            validity=validity,
        )
        if check_credit:
            check_covers(MMS_COST * len(normalize_recipients(to)), await self.balance())
        return check_sent(await self._call(request, parse_send))

    # ------------------------------------------------------------------ reports

    def _report_pages(self, batch_id: str) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        return self._pages(batch_id, mms=False)

    async def _pages(
        self, batch_id: str, *, mms: bool
    ) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        """``getDeliveryStatus.ashx`` pages of 1,000 (``PNO``) until the count is reached."""
        page = 1
        while True:
            request = build_get_delivery_status(batch_id, page, mms=mms)
            async with self._poll_slots:
                result = await self._call(request, lambda text: parse_report_page(text, batch_id))
            yield result.reports
            if len(result.reports) < PAGE_SIZE or page * PAGE_SIZE >= result.count:
                return
            page += 1

    def _check_batch_id(self, batch_id: str) -> None:
        build_get_delivery_status(batch_id)

    def _new_tracker(self) -> ChangeTracker:
        # Polled EVERY8D reports carry no MR; key pushed ones the same way.
        return ChangeTracker(by_message_id=False)

    def mms_delivery_reports(self, batch_id: str) -> AsyncIterator[DeliveryReport]:
        """Every recipient's report for an MMS batch (``MMS/getDeliveryStatus.ashx``).

        An MMS ends at status ``700`` ("sent", :attr:`~aiosms.DeliveryState.DELIVERED`:
        EVERY8D reports nothing later for an MMS); ``300`` is scheduled, ``303``
        cancelled.
        """
        self._check_batch_id(batch_id)
        return self._reports(self._pages(batch_id, mms=True))

    def watch(
        self,
        batch_id: str,
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: PushSource | None = None,
        mms: bool = False,
    ) -> AsyncIterator[StatusChange]:
        """As :meth:`BaseClient.watch <aiosms.Every8dSoapClient.watch>`; ``mms=True``
        watches an MMS batch (its reports come from the MMS status query)."""
        self._check_batch_id(batch_id)
        pages = partial(self._pages, batch_id, mms=mms)
        return self._watch([batch_id], pages, interval, timeout, push)

    def watch_many(
        self,
        batch_ids: Iterable[str],
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: PushSource | None = None,
        mms: bool = False,
    ) -> AbstractAsyncContextManager[WatchStream]:
        """Watch several batches at once, merged into one stream (see
        :meth:`aiosms.Every8dSoapClient.watch_many`); ``mms=True`` for MMS batches."""
        start = partial(self.watch, interval=interval, timeout=timeout, push=push, mms=mms)
        return self._watch_many(batch_ids, start)

    # ------------------------------------------------------------------ account

    async def balance(self) -> Decimal:
        """The account's remaining credit (``getCredit.ashx``)."""
        return await self._call(build_get_credit(), parse_credit)

    async def cancel(self, batch_id: str) -> CancelResult:
        """Cancel what is still scheduled in an SMS batch (``eraseBooking.ashx``).

        ``result.cancelled`` is 0 (and ``result.found`` False) when nothing was found.
        """
        return await self._call(build_erase_booking(batch_id), parse_erase_booking)

    async def cancel_mms(self, batch_id: str) -> CancelResult:
        """Cancel what is still scheduled in an MMS batch (``MMS/eraseBooking.ashx``)."""
        return await self._call(build_erase_booking(batch_id, mms=True), parse_erase_booking)


def _reply_text(body: bytes) -> str:
    """A reply body as text: UTF-8, with the byte-order mark ASP.NET may put first."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ResponseFormatError("the reply is not UTF-8 text", provider=PROVIDER) from None


async def _read_image(image: ImageSource) -> bytes:
    """The picture's bytes; a path is read in a worker thread, and refused unread when
    the file alone is over the 50 KB limit."""
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    if not isinstance(image, str | os.PathLike):
        raise InvalidRequestError(f"image must be bytes or a file path, not {type(image).__name__}")
    path = anyio.Path(os.fspath(image))
    try:
        size = (await path.stat()).st_size
        if size > MMS_MAX_BYTES:
            raise InvalidRequestError(
                f"the image {os.fspath(image)!r} is {size} bytes; an MMS holds at most "
                f"{MMS_MAX_BYTES} bytes of picture and text together"
            )
        return await path.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot read the image {os.fspath(image)!r}: {exc.strerror or exc}"
        ) from None


if TYPE_CHECKING:  # mypy checks that the client is an aiosms.SmsClient
    from .._protocol import SmsClient

    def _is_an_sms_client(client: Every8dHttpClient) -> SmsClient:
        return client
