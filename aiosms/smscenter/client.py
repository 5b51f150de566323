"""The SMSCenter client: :class:`SmsCenterClient`."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

import aiohttp
import anyio
from lxml import etree

from .._client import BaseClient, PushSource, WatchStream
from .._session import CredentialGate, KeyStore, fingerprint
from .._soap import SoapVersion, build_envelope, parse_envelope_result, soap_headers
from .._transport import DEFAULT_MAX_RESPONSE_BYTES, HttpResponse
from ..errors import InvalidRequestError
from ..models import (
    DeliveryReport,
    DeliveryState,
    SendResult,
    SmsCenterBalance,
    StatusChange,
    UsersPrepaid,
)
from .codec import (
    DEFAULT_BASE_URL,
    PUSH_PATH,
    Call,
    MessageOption,
    SmsOperation,
    build_company_prepaid,
    build_push,
    build_send,
    build_send_voice,
    build_users_prepaid,
    build_voice_reports,
    parse_company_prepaid,
    parse_push_body,
    parse_send,
    parse_users_prepaid,
)
from .codes import PROVIDER
from .numbers import normalize_numbers
from .reports import parse_voice_reports

__all__ = ["SmsCenterClient"]

logger = logging.getLogger("aiosms.smscenter")

_T = TypeVar("_T")
_SOAP_FAULT_STATUS: Final = frozenset({500})
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
# A watch fed by notifications alone: its "polls" make no request (SMSCenter has no
# SMS status query), so they may be rare; they only say which recipients there are.
_NOTIFIED_INTERVAL: Final = 60.0
_REMEMBERED_SENDS: Final = 10_000  # sends whose numbers watch() knows without to=


class SmsCenterClient(BaseClient):
    """Async client of SMSCenter (OfficeCore): SOAP sends, HTTP push, IVR voice calls,
    prepaid balances, delivery notifications and Email→SMS.

    ::

        async with aiosms.SmsCenterClient("acme", api_password, sender="Acme") as sms:
            result = await sms.send("Your code is 1234", to=["054-1234567"])
            async for change in sms.watch(result.batch_id, to=["054-1234567"], push=receiver):
                print(change.report.mobile, change.state)

    Every SMSCenter URL is HTTPS; a plain ``http://`` base URL is refused unless it is
    this machine's (the simulator). The password (the API password SMSCenter's support
    gives you, not the web site's) travels in every request's body, never in a URL, and
    never reaches a log line, an error or a repr. Until a call has succeeded, calls go
    one at a time; once SMSCenter refuses the credentials, no call with them is made
    again (see :class:`aiosms.KeyStore`).

    Args:
        username: the SMSCenter user.
        password: the API password.
        sender: the sender name shown on messages (``SenderName``/``Sender``); each
            send may give its own.
        base_url: ``https://www.smscenter.co.il`` by default.
        soap_version: ``"1.1"`` (default) or ``"1.2"``.
        session: an ``aiohttp.ClientSession`` you own and close yourself.
        timeout: seconds for one HTTP exchange, or an ``aiohttp.ClientTimeout``.
        max_connections: size of the connection pool (when we create the session).
        max_response_bytes: longer replies are refused.
        key_store: where refused credentials are recorded (see :class:`aiosms.KeyStore`).
        parallel: how many HTTP pushes of :meth:`send_http` are in flight at once.
    """

    provider = PROVIDER

    def __init__(
        self,
        username: str,
        password: str,
        *,
        sender: str,
        base_url: str = DEFAULT_BASE_URL,
        soap_version: SoapVersion = "1.1",
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        key_store: KeyStore | None = None,
        parallel: int = 8,
    ) -> None:
        build_push("x", "0541234567", username=username, password=password, sender=sender)
        if soap_version not in ("1.1", "1.2"):
            raise InvalidRequestError(f"soap_version must be '1.1' or '1.2', not {soap_version!r}")
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise InvalidRequestError(
                f"parallel must be a whole number of at least 1: {parallel!r}"
            )
        base_url = self._check_base_url(base_url)
        if base_url.startswith("http://") and urlsplit(base_url).hostname not in _LOOPBACK:
            raise InvalidRequestError(
                f"SMSCenter serves HTTPS only: use https:// in base_url, not {base_url!r}"
            )
        super().__init__(
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        self.username = username
        self.sender = sender
        self.base_url = base_url
        self.soap_version: SoapVersion = soap_version
        self._password = password
        self._transport.add_secret(password)
        scope = (PROVIDER, base_url, username)
        self._gate = CredentialGate(scope, credential=fingerprint(scope, password), store=key_store)
        self._parallel = anyio.CapacityLimiter(parallel)
        self._sent_to: dict[str, tuple[str, ...]] = {}  # message id -> numbers, recent sends

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<SmsCenterClient username={self.username!r} base_url={self.base_url!r}{state}>"

    # ------------------------------------------------------------------ calls

    async def _call(self, call: Call, parse: Callable[[etree._Element | None], _T]) -> _T:
        """One SOAP call; the result element parsed inside the transport's retries."""
        self._check_open()
        version = self.soap_version
        body = build_envelope(
            call.operation, call.params, namespace=call.namespace, version=version
        )
        headers = soap_headers(call.operation, namespace=call.namespace, version=version)

        def decode(resp: HttpResponse) -> _T:
            result = parse_envelope_result(
                resp.body, call.operation, namespace=call.namespace, provider=PROVIDER
            )
            return parse(result)

        def run() -> Any:
            return self._transport.request(
                "POST",
                self.base_url + call.path,
                body=body,
                headers=headers,
                idempotent=call.idempotent,
                pass_statuses=_SOAP_FAULT_STATUS,
                decode=decode,
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
        validity: timedelta | None = None,
        operation: SmsOperation | str = SmsOperation.PUSH,
        option: MessageOption | str | None = None,
        price: float | None = None,
        cc_emails: Iterable[str] = (),
    ) -> SendResult:
        """Send ``text`` to one number or many (SOAP ``SendMessageReturnMessageID``).

        Args:
            text: the message. Longer than one SMS (70 characters once one is outside
                GSM-7, as Hebrew is; 160 otherwise), it goes ``Concatenated``.
            to: Israeli numbers: ``+972541234567``, ``054-1234567`` or ``0541234567``.
            sender: this send's sender name (default: the client's).
            at: an aware time to send at (``DeliveryDelayInMinutes``, whole minutes).
            validity: how long SMSCenter keeps trying (``ExpirationDelayInMinutes``).
            operation: ``SmsOperation.PUSH`` (a normal SMS), ``PULL``,
                ``REVERSE_BILLING``…
            option: ``MessageOption`` ``REGULAR``, ``CONCATENATED`` or ``REPLY``.
            price: for reverse billing (check the price with SMSCenter's support).
            cc_emails: addresses that get the message by email too.

        Returns:
            ``batch_id``: SMSCenter's MessageID, which its delivery notifications name;
            ``sent``: the number of recipients. ``cost`` and ``credit`` are ``None``:
            :meth:`balance` tells the prepaid balance.

        Raises:
            InvalidRequestError: before any request: a number that is not Israeli, an
                empty text, a naive ``at``…
            AuthenticationError, AccountBlockedError, ProviderError: SMSCenter refused.
            SendOutcomeUnknownError: the request may have reached SMSCenter but no
                readable answer came back; it was not repeated.
        """
        call = build_send(
            text, to, sender=sender or self.sender, now=datetime.now(UTC), at=at,
            validity=validity, operation=operation, option=option, price=price,
            cc_emails=cc_emails, username=self.username, password=self._password,
        )  # fmt: skip
        message_id, complete = await self._call(call, parse_send)
        return self._result(message_id, complete, call)

    def _result(self, message_id: str, complete: bool, call: Call) -> SendResult:
        numbers = tuple(dict(call.params)["SendToPhoneNumbers"].split(","))
        self._sent_to[message_id] = numbers  # so that watch() needs no to=
        while len(self._sent_to) > _REMEMBERED_SENDS:
            del self._sent_to[next(iter(self._sent_to))]
        recipients = len(numbers)
        if not complete:
            logger.warning(
                "SMSCenter sent message %s to some of its %d numbers only (SomeMessagesSent; "
                "it does not say which): its notifications will tell",
                message_id,
                recipients,
            )
        return SendResult(message_id, recipients, None, None)

    async def send_http(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        sender: str | None = None,
        chaining: bool | None = None,
    ) -> SendResult:
        """Send by the HTTP push (``pushsms.aspx``), one request per recipient, up to
        ``parallel`` at once. ``EnableChaining=1`` is set when the text is longer than
        one SMS, unless ``chaining`` says otherwise.

        Returns:
            ``sent``: the recipients SMSCenter answered ``OK``; ``failed``: one
            :class:`~aiosms.FailedPart` per recipient that failed, with its error (a
            lost answer is :class:`~aiosms.SendOutcomeUnknownError`: that message may
            have gone out, and was not sent again). ``batch_id`` is ``None``: the push
            returns no id. When every recipient failed, the first error is raised.
        """
        numbers = normalize_numbers(to)
        forms = [
            build_push(
                text,
                number,
                sender=sender or self.sender,
                chaining=chaining,
                username=self.username,
                password=self._password,
            )
            for number in numbers
        ]

        async def send(index: int) -> tuple[dict[str, str], list[str]]:
            await self._push(forms[index])
            return {}, []

        return await self._send_in_parts([(n,) for n in numbers], send, self._parallel)

    async def _push(self, form: dict[str, str]) -> None:
        def decode(resp: HttpResponse) -> None:
            parse_push_body(resp.body)

        def run() -> Any:
            return self._transport.request(
                "POST", self.base_url + PUSH_PATH, body=form, idempotent=False, decode=decode
            )

        await self._gate.call(run)

    async def send_voice(
        self,
        record_id: int,
        to: str | Iterable[str],
        *,
        text: str = "",
        sender: str | None = None,
        at: datetime | None = None,
        validity: timedelta | None = None,
    ) -> SendResult:
        """Call every number and play the recorded IVR message ``record_id``
        (``SendIVRMessages``); ``batch_id`` is the MessageID :meth:`voice_reports`
        and :meth:`watch_voice` take."""
        call = build_send_voice(
            record_id,
            to,
            text=text,
            sender=sender or self.sender,
            now=datetime.now(UTC),
            at=at,
            validity=validity,
            username=self.username,
            password=self._password,
        )
        message_id, complete = await self._call(call, parse_send)
        return self._result(message_id, complete, call)

    async def send_by_email(
        self,
        text: str,
        to: str | Iterable[str],
        *,
        smtp_host: str,
        smtp_port: int = 25,
        smtp_username: str | None = None,
        smtp_password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        sender: str | None = None,
        domain: str = "smscenter.co.il",
        envelope_from: str | None = None,
    ) -> SendResult:
        """Send through Email→SMS: one mail to ``<number>@smscenter.co.il`` for each
        recipient, through your SMTP server (needs ``pip install "aiosms[email]"``).

        The spec puts the username and password in the mail's Subject, so the mail is
        as secret as the password: send it over TLS (``use_tls`` or ``start_tls``) to a
        server you trust. aiosms never logs it. ``sender`` is the mail's ``From`` (the
        SMS's signature); ``envelope_from`` the SMTP envelope sender, an address your
        relay accepts (default: ``From`` if it is an address, else ``smtp_username``).
        A recipient refused makes nothing be sent (``ProviderError``).
        """
        from .email import build_email, send_email

        self._check_open()
        numbers = normalize_numbers(to)
        message = build_email(
            text,
            numbers,
            sender=sender or self.sender,
            domain=domain,
            username=self.username,
            password=self._password,
        )
        await send_email(
            message,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_username=smtp_username,
            smtp_password=smtp_password,
            use_tls=use_tls,
            start_tls=start_tls,
            envelope_from=envelope_from,
        )
        return SendResult(None, len(numbers), None, None)

    # ------------------------------------------------------------------ reports

    def _report_pages(self, batch_id: str) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        return self._voice_pages(batch_id)

    async def _voice_pages(self, message_id: str) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        call = build_voice_reports(message_id, username=self.username, password=self._password)
        async with self._poll_slots:
            page = await self._call(call, partial(parse_voice_reports, message_id=message_id))
        yield page

    def _check_batch_id(self, batch_id: str) -> None:
        build_voice_reports(batch_id, username=self.username, password=self._password)

    def voice_reports(self, message_id: str) -> AsyncIterator[DeliveryReport]:
        """Every called number's report of a voice message (``GetMessagesResponseByMessageID``):
        the IVR status as a state (``IVRCallSuccess`` → DELIVERED, ``FailedCall`` →
        FAILED, ``Queued``/``Calling`` not final…), ``sent_at`` from ``SendDate``
        (Israel time), ``details["call_length"]`` and ``details["response"]`` (the key
        pressed)."""
        return self.delivery_reports(message_id)

    def watch_voice(
        self,
        message_id: str,
        *,
        interval: float = 5.0,
        timeout: float | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Poll a voice message's reports until every call is final (see :meth:`watch
        <aiosms.Every8dSoapClient.watch>` for how polling goes)."""
        return super().watch(message_id, interval=interval, timeout=timeout)

    def watch_many(  # type: ignore[override]
        self,
        message_ids: Iterable[str],
        *,
        interval: float = 5.0,
        timeout: float | None = None,
    ) -> AbstractAsyncContextManager[WatchStream]:
        """Watch several voice messages at once (polled, as :meth:`watch_voice`), their
        changes merged into one stream; ``changes.add(message_id)`` adds one."""
        start = partial(self.watch_voice, interval=interval, timeout=timeout)
        return self._watch_many(message_ids, start)

    def watch(  # type: ignore[override]
        self,
        message_id: str,
        *,
        to: str | Iterable[str] | None = None,
        push: PushSource | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[StatusChange]:
        """The recipients' states from SMSCenter's delivery notifications, until each of
        ``to`` is final (or ``timeout``)::

            receiver = SmsCenterPushReceiver(token=token)   # SMSCenter calls it
            result = await sms.send("Hi", to=numbers)
            async for change in sms.watch(result.batch_id, to=numbers, push=receiver):
                ...

        SMSCenter has no SMS status query: this watch is fed by notifications alone
        (``push``, an :class:`~aiosms.webhooks.SmsCenterPushReceiver`, required). ``to``
        may be left out for a message this client sent (it remembers the numbers of
        its last 10,000 sends). Each recipient
        starts ``ACCEPTED`` (SMSCenter took the message); a recipient whose notification
        never comes keeps the watch open until ``timeout``: give one. For voice calls,
        which can be polled, use :meth:`watch_voice`.
        """
        if push is None:
            raise InvalidRequestError(
                "SMSCenter offers no SMS status query: watch() needs push=, a "
                "SmsCenterPushReceiver that SMSCenter's delivery notifications reach"
            )
        build_voice_reports(
            message_id, username=self.username, password=self._password
        )  # checks the id
        if to is None:
            sent_to = self._sent_to.get(message_id)
            if sent_to is None:
                raise InvalidRequestError(
                    f"give to=, the numbers message {message_id} went to (this client did "
                    "not send it, or sent it too long ago to remember)"
                )
            to = sent_to
        numbers = normalize_numbers(to)
        known = [
            DeliveryReport(
                message_id,
                None,
                number,
                "",
                DeliveryState.ACCEPTED,
                "",
                "sent to SMSCenter",
                None,
                None,
            )
            for number in numbers
        ]

        async def pages() -> AsyncGenerator[Sequence[DeliveryReport], None]:
            yield known  # no request: who was sent to, as far as aiosms knows

        return self._watch([message_id], pages, _NOTIFIED_INTERVAL, timeout, push)

    # ------------------------------------------------------------------ account

    async def balance(self) -> SmsCenterBalance:
        """The company's prepaid balance: SMS, IVR seconds and MMS left
        (``CheckCompanyPrePaid``)."""
        return await self._call(
            build_company_prepaid(username=self.username, password=self._password),
            parse_company_prepaid,
        )

    async def users_balance(self, *, all_users: bool = True) -> UsersPrepaid:
        """Each user's prepaid SMS balance (``CheckUsersPrePaid``, ``Mode`` ``AllUsers``,
        or with ``all_users=False`` ``ThisUser``)."""
        call = build_users_prepaid(
            all_users=all_users, username=self.username, password=self._password
        )
        return await self._call(call, parse_users_prepaid)


if TYPE_CHECKING:  # mypy checks that the client is an aiosms.SmsClient
    from .._protocol import SmsClient

    def _is_an_sms_client(client: SmsCenterClient) -> SmsClient:
        return client
