"""The one HTTP transport every client owns.

* One pooled :class:`aiohttp.ClientSession` per client, created inside the running loop
  on first use, or a session the caller passes in and keeps owning.
  A session is bound to the event loop it was created in; using it from another loop
  is refused with a :class:`~aiosms.errors.TransportError` that says so.
* Total/connect timeouts and a response-size cap.
* aiohttp's errors are turned into aiosms errors here and nowhere else.
* Retries with jittered exponential backoff (tenacity) for idempotent calls, and for
  any call whose connection could not even be opened. A call that is not idempotent
  (a send) and fails after its request may have left raises
  :class:`~aiosms.errors.SendOutcomeUnknownError`, never a silent retry.
* The caller's ``decode`` runs inside each attempt, so an unreadable reply to an
  idempotent call is fetched again, like a dropped connection.
* Bodies over 1 MiB are streamed in chunks, so the loop is not blocked.
* DEBUG logging of every request and response on the ``aiosms.transport`` logger, with
  every registered secret (password, session key) shown as ``***``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Final, TypeVar, overload

import aiohttp
import anyio
import attrs
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from . import _bodies, _telemetry
from ._redact import Redactor
from ._timeouts import DEFAULT_TIMEOUT, to_timeout
from .errors import (
    InvalidRequestError,
    ResponseFormatError,
    SendOutcomeUnknownError,
    TransportError,
)

__all__ = ["DEFAULT_TIMEOUT", "HttpResponse", "Transport"]

logger = logging.getLogger("aiosms.transport")

# libxml2 refuses any single text node over 10,000,000 bytes (lxml without huge_tree),
# and EVERY8D's SOAP result is one text node: a larger cap would only let a reply through
# to fail later, in the parser, with a confusing error. Configurable per transport.
DEFAULT_MAX_RESPONSE_BYTES: Final = 10_000_000
# Reading a reply larger than this (a big report page, or a hostile one) could hold the
# event loop for more than a few milliseconds: its decode runs in a worker thread.
_DECODE_IN_THREAD_ABOVE: Final = 256 * 1024
_RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
_USER_AGENT: Final = "aiosms/0.1"


@attrs.frozen
class HttpResponse:
    """What came back: the HTTP status, the body (capped) and its content type."""

    status: int
    body: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    content_type: str = ""


_T = TypeVar("_T")


Body = bytes | Mapping[str, str] | Callable[[], bytes]
"""A request body: bytes, a form to URL-encode, or a function making each attempt's."""


class Transport:
    """POSTs (and GETs) bytes to a provider and hands back the reply.

    Args:
        provider: the provider's name, put on every error.
        session: an ``aiohttp.ClientSession`` the caller owns (we never close it). It
            must be open, and used only from the event loop it was created in.
        timeout: seconds for the whole exchange (connecting takes at most 10 of them),
            or an ``aiohttp.ClientTimeout``. Default (:data:`DEFAULT_TIMEOUT`): 30 s total,
            10 s connect. A limit that is not a positive, finite number of seconds is
            refused (in a ``ClientTimeout``, ``None`` means no limit).
        max_connections: the size of the connection pool we create.
        max_response_bytes: a longer reply is refused with ``ResponseFormatError``
            (default 10,000,000: the XML parser's limit for one text node).
        attempts: how many times an idempotent call is tried in all.
        backoff: the first retry waits up to this many seconds (jittered, doubling).
        max_backoff: no retry waits longer than this.

    Raises:
        InvalidRequestError: for a bad option (also a ``ValueError``).
    """

    def __init__(
        self,
        *,
        provider: str,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        attempts: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        for option, value in (
            ("max_connections", max_connections),
            ("max_response_bytes", max_response_bytes),
            ("attempts", attempts),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequestError(
                    f"{option} must be a whole number, at least 1, not {value!r}"
                )
        self.provider = provider
        self.timeout = to_timeout(timeout)
        self.max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self._attempts = attempts
        self._wait = wait_random_exponential(multiplier=backoff, max=max_backoff)
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None  # our session's, once made
        self._closed = False
        self.redactor = Redactor()

    # -------------------------------------------------------------- redaction

    def add_secret(self, secret: str) -> None:
        """Hide ``secret`` (and its XML- and URL-escaped forms) in every log line."""
        self.redactor.add_secret(secret)

    def add_secret_pattern(self, pattern: str) -> None:
        """Hide what the named group ``secret`` of ``pattern`` matches in every log line."""
        self.redactor.add_secret_pattern(pattern)

    def _shown(self, body: bytes | Mapping[str, str] | None) -> str:
        """A body as logged: its size, or (with :func:`aiosms.log_bodies`) its text
        with the secrets masked. Bodies carry message texts and phone numbers (personal
        data; a one-time code is a secret), so they are not logged unless asked for."""
        if not _bodies.LOG_BODIES[0]:
            size = len(body) if isinstance(body, bytes | str) else None
            return "<body>" if size is None else f"<{size} bytes>"
        return self.redactor.log_text(body)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        return self.redactor.redact(text)

    # -------------------------------------------------------------- lifecycle

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def owns_open_session(self) -> bool:
        """True while we hold a session of our own that is not closed yet."""
        return self._owns_session and self._session is not None and not self._session.closed

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            # Created here, inside the running loop, never at import or __init__ time.
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
            session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, headers={"User-Agent": _USER_AGENT}
            )
            self._session = session
            self._loop = asyncio.get_running_loop()
        elif self._owns_session:
            # Our session is bound to the loop it was made in (aiohttp's ``.loop`` is
            # deprecated, so we keep our own note of it).
            if self._loop is not asyncio.get_running_loop():
                raise TransportError(
                    "this client's connection pool belongs to another event loop (it was "
                    "first used there); create the client inside the event loop that uses "
                    "it, e.g. one client per asyncio.run() or per test",
                    provider=self.provider,
                )
        elif session.closed:
            raise TransportError(
                "the aiohttp.ClientSession passed as session= is closed; pass an open one, "
                "or none and aiosms manages its own",
                provider=self.provider,
            )
        return session

    async def aclose(self) -> None:
        """Close the session if it is ours. Safe to call more than once."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    # -------------------------------------------------------------- requests

    @overload
    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Body | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        pass_statuses: frozenset[int] = frozenset(),
        decode: None = None,
    ) -> HttpResponse: ...

    @overload
    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Body | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        pass_statuses: frozenset[int] = frozenset(),
        decode: Callable[[HttpResponse], _T],
    ) -> _T: ...

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Body | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        pass_statuses: frozenset[int] = frozenset(),
        decode: Callable[[HttpResponse], _T] | None = None,
    ) -> HttpResponse | _T:
        """Send one request; retry it where that is safe.

        Statuses below 400, and those in ``pass_statuses`` (e.g. 500 for SOAP faults),
        are returned; others raise :class:`TransportError` (or, for a call that is not
        idempotent and got a 5xx, :class:`SendOutcomeUnknownError`).

        ``body`` is bytes, a form (a mapping, URL-encoded), or a function returning
        bytes, called once for each attempt: for providers whose every request must
        carry its own one-time fields (EIMS's signed ``seq``), so a retry is new.

        With ``decode``, the reply is handed to it inside each attempt and what it
        returns is returned. If it raises:

        * :class:`ResponseFormatError`: an idempotent call is tried again (within
          ``attempts``, and the last format error is raised as itself); a call that is
          not idempotent raises :class:`SendOutcomeUnknownError` from it, not retried;
        * a :class:`TransportError` with ``retryable`` set: tried again like a
          transient HTTP failure (e.g. a 500 that is not a SOAP fault, on a query);
        * anything else (``ProviderError``, ``SessionExpiredError``, …): raised at
          once, untouched.
        """
        if self._closed:
            raise TransportError("the transport is closed", provider=self.provider)
        call = self._request(method, url, body, params, headers, idempotent, pass_statuses, decode)
        if not _telemetry.enabled():
            return await call
        operation = _telemetry.operation_of(url, headers)
        with _telemetry.provider_call(self.provider, operation, send=not idempotent):
            return await call

    async def _request(
        self,
        method: str,
        url: str,
        body: Body | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        idempotent: bool,
        pass_statuses: frozenset[int],
        decode: Callable[[HttpResponse], _T] | None,
    ) -> HttpResponse | _T:
        """:meth:`request`, its retries included."""
        # Fast path: the first attempt runs without tenacity, whose per-call set-up costs
        # more than the rest of a loopback request; only a retryable failure enters it.
        try:
            return await self._request_once(
                method, url, body, params, headers, idempotent, pass_statuses, decode
            )
        except TransportError as exc:
            if not exc.retryable:
                raise
            first_failure: BaseException | None = exc
        except _Unreadable as exc:
            first_failure = exc
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if first_failure is not None:
                        # Replay the first attempt's failure as tenacity's attempt 1, so
                        # the stop, wait and reraise rules apply exactly as before.
                        failure, first_failure = first_failure, None
                        raise failure
                    return await self._request_once(
                        method, url, body, params, headers, idempotent, pass_statuses, decode
                    )
        except _Unreadable as exc:
            error = exc.error  # raised below, outside this handler: as itself, unchained
        else:  # pragma: no cover
            raise AssertionError("unreachable")
        raise error

    async def _request_once(
        self,
        method: str,
        url: str,
        body: Body | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        idempotent: bool,
        pass_statuses: frozenset[int],
        decode: Callable[[HttpResponse], _T] | None,
    ) -> HttpResponse | _T:
        _telemetry.attempt()
        if callable(body):
            body = body()  # this attempt's own body (e.g. a signature used only once)
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            shown_url = self.redact(url)
            if params:
                shown_url += " " + self.redactor.log_text(params)
            operation = _telemetry.operation_of(url, headers)
            logger.debug("-> %s %s (%s) %s", method, shown_url, operation, self._shown(body))
            started = time.perf_counter()
        session = self._get_session()
        # A large body is streamed from a payload made afresh for each attempt, so a
        # retry sends it whole again.
        payload = body if body is None or _bodies.is_small(body) else _bodies.streamed(body)
        try:
            async with session.request(
                method,
                url,
                data=payload,
                params=params,
                headers=headers,
                timeout=self.timeout,
                # Never follow: a 307/308 would repeat the body (a password, a send)
                # to wherever the reply points.
                allow_redirects=False,
            ) as resp:
                try:
                    data = await self._read_capped(resp)
                except ResponseFormatError as exc:
                    if idempotent:
                        raise
                    # The provider has answered, so the send was probably carried out.
                    raise SendOutcomeUnknownError(
                        f"{exc.message}; the request may or may not have been carried out, "
                        "so it was not retried",
                        provider=self.provider,
                        status=resp.status,
                    ) from exc
                status = resp.status
                content_type = resp.headers.get("Content-Type", "")
                location = resp.headers.get("Location", "")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never opened: nothing was sent, any call may retry.
            raise _error(
                TransportError, f"could not connect to {self.redact(url)}: {exc}", self, True
            ) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            what = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
            if not idempotent:
                raise SendOutcomeUnknownError(
                    f"the request failed after it may have reached the provider ({what}); "
                    "it may or may not have been carried out, so it was not retried",
                    provider=self.provider,
                ) from None
            raise _error(TransportError, f"request failed: {what}", self, True) from None
        except RuntimeError as exc:
            # aiohttp's refusal of a session bound to another (perhaps closed) event loop.
            raise self._runtime_error(exc, idempotent) from exc
        _telemetry.status(status)
        if debug:
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("<- %d (%.1f ms) %s", status, elapsed, self._shown(data))
        if status >= 400 and status not in pass_statuses:
            raise self._status_error(status, idempotent)
        if 300 <= status < 400 and location and status not in pass_statuses:
            # A redirect is an answer, not a carried-out request: nothing was done.
            raise _error(
                TransportError,
                f"the provider answered HTTP {status}, a redirect to "
                f"{self.redact(location)[:200]!r}; redirects are not followed (the request "
                "would carry its credentials and body there): set base_url to the new address",
                self,
                False,
                status=status,
            )
        response = HttpResponse(status=status, body=data, content_type=content_type)
        if decode is None:
            return response
        try:
            if len(data) <= _DECODE_IN_THREAD_ABOVE:
                return decode(response)
            return await anyio.to_thread.run_sync(decode, response)
        except ResponseFormatError as exc:
            if idempotent:
                raise _Unreadable(exc) from None
            raise SendOutcomeUnknownError(
                f"the reply could not be read ({self.redact(exc.message)}); the request may "
                "or may not have been carried out, so it was not retried",
                provider=self.provider,
                status=status,
            ) from exc

    def _runtime_error(self, exc: RuntimeError, idempotent: bool) -> TransportError:
        hint = (
            f"aiohttp could not use the session ({exc}): an aiohttp.ClientSession belongs "
            "to the event loop it was created in; create it, and the client, inside the "
            "event loop that uses them"
        )
        if not idempotent:
            # Whether any byte left before aiohttp gave up is not known.
            return SendOutcomeUnknownError(
                f"{hint}; the request may or may not have been carried out, so it was not retried",
                provider=self.provider,
            )
        return _error(TransportError, hint, self, False)

    def _status_error(self, status: int, idempotent: bool) -> TransportError:
        if status >= 500 and not idempotent:
            return SendOutcomeUnknownError(
                f"the provider answered HTTP {status}; the request may or may not have been "
                "carried out, so it was not retried",
                provider=self.provider,
                status=status,
            )
        return _error(
            TransportError,
            f"the provider answered HTTP {status}",
            self,
            idempotent and status in _RETRY_STATUSES,
            status=status,
        )

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.max_response_bytes
        length = resp.content_length
        if length is not None and length > cap:
            raise ResponseFormatError(
                f"refused a {length}-byte reply (max_response_bytes={cap})",
                provider=self.provider,
            )
        if length is not None and "Content-Encoding" not in resp.headers:
            return await resp.read()  # exactly `length` bytes, checked above
        # Unknown length, or compressed: count the bytes as they are inflated.
        chunks = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise ResponseFormatError(
                    f"refused a reply longer than {cap} bytes (max_response_bytes)",
                    provider=self.provider,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _error(
    cls: type[TransportError],
    message: str,
    transport: Transport,
    retryable: bool,
    *,
    status: int | None = None,
) -> TransportError:
    return cls(message, provider=transport.provider, status=status, retryable=retryable)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Unreadable) or (isinstance(exc, TransportError) and exc.retryable)


class _Unreadable(Exception):
    """A ``decode``'s :class:`ResponseFormatError` on an idempotent call, carried through
    the retry loop (a size-cap refusal, also a ResponseFormatError, is not retried); never
    seen outside :meth:`Transport.request`."""

    def __init__(self, error: ResponseFormatError) -> None:
        super().__init__(error)
        self.error = error
