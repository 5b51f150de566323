"""What every provider client shares: :class:`BaseClient`.

A client owns one :class:`~aiosms._transport.Transport` (one pooled HTTP session, or
the caller's), knows whether it is closed, is an async context manager, closes in a
fixed order (the provider's own goodbye first, such as EVERY8D's ``closeConnection``,
then the transport), warns when it is dropped unclosed, and keeps a quarter of the
connection pool for polling at most, so that watching never starves a send.

On top of the provider's report pages it builds :meth:`~BaseClient.delivery_reports`,
:meth:`~BaseClient.watch` and :meth:`~BaseClient.watch_many`, the same for every
provider. It holds no codec, no code table and no rule about what is safe to retry:
those are the provider's (codecs) and the transport's (retries).
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

import aiohttp
import anyio
from anyio.abc import ObjectReceiveStream

from ._parts import PartOutcome, merge_parts
from ._streaming import ChangeTracker, MergedStream, merge_streams, poll_changes
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Transport
from .errors import ClientClosedError, InvalidRequestError, SmsError
from .models import DeliveryReport, SendResult, StatusChange

__all__ = ["BaseClient", "PushSource", "WatchStream"]

logger = logging.getLogger("aiosms.client")

_CLOSE_TIMEOUT = 5.0  # seconds the provider's goodbye may take in aclose()


class PushSource(Protocol):
    """What ``watch(push=...)`` needs of a push receiver (:mod:`aiosms.webhooks`)."""

    def subscribe(
        self, ids: Iterable[str] | None = None, /
    ) -> AbstractAsyncContextManager[ObjectReceiveStream[Any]]:
        """A stream of pushed events for ``ids``; reports among them are watched."""
        ...


class WatchStream:
    """The changes of a running :meth:`BaseClient.watch_many`, merged; iterate it::

        async with sms.watch_many([first]) as changes:
            async for change in changes:
                ...
                changes.add(later_batch_id)  # a bot keeps sending: watch that one too

    It ends when every batch watched is final (or its ``timeout`` ran out).
    """

    __slots__ = ("_merged", "_start")

    def __init__(
        self,
        merged: MergedStream[StatusChange],
        start: Callable[[Any], AsyncIterator[StatusChange]],
    ) -> None:
        self._merged = merged
        self._start = start

    def add(self, *batch_ids: str | SendResult | Iterable[str]) -> None:
        """Watch these batches too, with the same interval, timeout and push (for
        EIMS, which has no batches: sends, or lists of message ids, as ``watch()``
        takes them).

        Raises:
            InvalidRequestError: a batch id is not valid.
            RuntimeError: the stream has ended or its ``async with`` was left.
            SmsError: a batch already watched failed and its error was not read yet:
                that error, as itself.
        """
        watches = [self._start(batch_id) for batch_id in batch_ids]  # checks each first
        for watch in watches:
            self._merged.add(watch)

    async def receive(self) -> StatusChange:
        """The next change; raises ``anyio.EndOfStream`` once every batch is final."""
        return await self._merged.receive()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StatusChange:
        return await self._merged.__anext__()


class BaseClient(ABC):
    """The lifecycle, pool and watch engine every provider client shares.

    A provider subclass sets :attr:`provider`, implements :meth:`_report_pages` (and
    :meth:`_check_batch_id`), and may override :meth:`_close_provider` and
    :meth:`_new_tracker`.

    Args:
        session: an ``aiohttp.ClientSession`` you own and close yourself.
        timeout: seconds for one HTTP exchange (default 30 s in all, 10 s to connect),
            or an ``aiohttp.ClientTimeout``.
        max_connections: size of the connection pool (when we create the session).
        max_response_bytes: longer replies are refused.
    """

    provider: ClassVar[str]

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise InvalidRequestError(f"max_connections must be an int, not {max_connections!r}")
        if max_connections < 1:
            raise InvalidRequestError(f"max_connections must be at least 1, not {max_connections}")
        self._closed = False
        self._transport = Transport(
            provider=self.provider,
            session=session,
            timeout=timeout,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
        )
        # Polling may use at most a quarter of the pool, so sends always find a connection.
        pool = max_connections if session is None else _pool_size(session, max_connections)
        self._poll_slots = anyio.Semaphore(max(1, pool // 4))

    @staticmethod
    def _check_base_url(base_url: object) -> str:
        """``base_url`` without its trailing slash, if it is an http(s) URL."""
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(f"base_url must start with http:// or https://: {base_url!r}")
        return base_url.rstrip("/")

    # ------------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has been called."""
        return self._closed

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
        """Say goodbye to the provider where it wants one, then close our HTTP session.

        Safe to call twice. A failed goodbye is logged, not raised.
        """
        if self._closed:
            return
        self._closed = True
        try:
            with anyio.fail_after(_CLOSE_TIMEOUT):
                await self._close_provider()
        except (SmsError, TimeoutError) as exc:
            logger.info("%s: could not close the session with the provider: %s", self, exc)
        finally:
            await self._transport.aclose()

    async def _close_provider(self) -> None:  # noqa: B027 (a hook: optional, not abstract)
        """The provider's goodbye (e.g. ``closeConnection``); nothing by default."""

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
            raise ClientClosedError("this client is closed", provider=self.provider)

    # ------------------------------------------------------------------ sending

    async def _send_in_parts(
        self,
        parts: Sequence[Sequence[str]],
        send: Callable[[int], Awaitable[PartOutcome]],
        limiter: anyio.CapacityLimiter,
    ) -> SendResult:
        """Send ``parts`` (each given by its numbers; ``send(i)`` sends part ``i``),
        ``limiter``'s worth at a time, and merge their outcomes (:func:`merge_parts`).

        A part that fails is reported in ``SendResult.failed`` with a WARNING, never
        sent again; only when every part failed is the first error raised. One part is
        sent as is, its error raised as itself.
        """
        self._check_open()
        if len(parts) == 1:
            return merge_parts(parts, [await send(0)])
        outcomes: list[PartOutcome | None] = [None] * len(parts)

        async def run(index: int) -> None:
            async with limiter:
                try:
                    outcomes[index] = await send(index)
                except SmsError as exc:
                    outcomes[index] = exc

        async with anyio.create_task_group() as tg:
            for index in range(len(parts)):
                tg.start_soon(run, index)
        result = merge_parts(parts, outcomes)  # raises when every part failed
        if result.failed:
            logger.warning(
                "%s: a send in %d requests: %d failed (%d numbers; %d may have been sent "
                "all the same); see SendResult.failed",
                self.provider,
                len(parts),
                len(result.failed),
                sum(len(f.numbers) for f in result.failed),
                sum(len(f.numbers) for f in result.failed if f.outcome_unknown),
            )
        return result

    # ------------------------------------------------------------------ reports

    @abstractmethod
    def _report_pages(self, batch_id: str) -> AsyncGenerator[Sequence[DeliveryReport], None]:
        """The batch's reports, one page per request (each under a poll slot)."""

    def _check_batch_id(self, batch_id: str) -> None:
        """Raise ``InvalidRequestError`` for a batch id the provider cannot have issued."""
        if not isinstance(batch_id, str) or not batch_id.strip():
            raise InvalidRequestError(f"a batch id must be a non-empty str, not {batch_id!r}")

    def _new_tracker(self) -> ChangeTracker:
        """The change tracker of one watch (how recipients are told apart)."""
        return ChangeTracker()

    def delivery_reports(self, batch_id: str) -> AsyncIterator[DeliveryReport]:
        """Every recipient's report for a batch, fetched a page at a time as you iterate."""
        self._check_batch_id(batch_id)
        return self._reports(self._report_pages(batch_id))

    @staticmethod
    async def _reports(
        pages: AsyncGenerator[Sequence[DeliveryReport], None],
    ) -> AsyncIterator[DeliveryReport]:
        """The reports of ``pages``, one by one (for providers with several report kinds,
        such as EVERY8D's SMS and MMS)."""
        async with aclosing(pages):
            async for page in pages:
                for report in page:
                    yield report

    # ------------------------------------------------------------------ watching

    def watch(
        self,
        batch_id: str,
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: PushSource | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Yield each recipient's state when first seen and whenever it changes.

        Polls every ``interval`` seconds, a page at a time (a poll's memory does not
        grow with the batch); ends by itself when every recipient is in a final state,
        or once ``timeout`` seconds have passed. A run of failed polls (HTTP errors,
        unreadable replies) is waited out with growing pauses; only several in a row
        end the watch with the last error. Polling shares a quarter of the connection
        pool at most, so it never starves sends.

        A batch that lists no recipients yet (the provider may still be handing it
        out, and an unknown batch id looks the same) is not final: it is polled until
        recipients appear, or until ``timeout``. Pass one when the batch id comes from
        elsewhere.

        With ``push``, a receiver from :mod:`aiosms.webhooks` that the provider calls,
        pushed reports are yielded as they arrive, between polls; a change seen both
        pushed and polled is yielded once. Polling can then be rare: it only fills
        gaps (a lost push) and tells when the whole batch is final.
        """
        self._check_batch_id(batch_id)
        pages = partial(self._report_pages, batch_id)
        return self._watch([batch_id], pages, interval, timeout, push)

    def _watch(
        self,
        ids: Iterable[str],
        pages: Callable[[], AsyncIterator[Sequence[DeliveryReport]]],
        interval: float,
        timeout: float | None,
        push: PushSource | None,
        tracker: ChangeTracker | None = None,
    ) -> AsyncIterator[StatusChange]:
        """:meth:`watch` over any kind of report pages (``ids``, the batch or message
        ids pushes are subscribed by, already checked). ``tracker`` (default
        :meth:`_new_tracker`) is for providers whose ``pages`` ask it what is final."""
        tracker = tracker if tracker is not None else self._new_tracker()
        if push is None:
            return poll_changes(pages, interval=interval, stop_after=timeout, tracker=tracker)
        return self._watch_pushed(ids, pages, interval, timeout, push, tracker)

    async def _watch_pushed(
        self,
        ids: Iterable[str],
        pages: Callable[[], AsyncIterator[Sequence[DeliveryReport]]],
        interval: float,
        stop_after: float | None,
        push: PushSource,
        tracker: ChangeTracker,
    ) -> AsyncIterator[StatusChange]:
        async with push.subscribe(ids) as events:
            changes = poll_changes(
                pages, interval=interval, stop_after=stop_after, pushed=events, tracker=tracker
            )
            async with aclosing(changes):
                async for change in changes:
                    yield change

    def watch_many(
        self,
        batch_ids: Iterable[str],
        *,
        interval: float = 5.0,
        timeout: float | None = None,
        push: PushSource | None = None,
    ) -> AbstractAsyncContextManager[WatchStream]:
        """Watch several batches at once, their changes merged into one stream::

            async with sms.watch_many([b1, b2], interval=5) as changes:
                async for change in changes:
                    print(change.report.batch_id, change.report.mobile, change.state)
                    # changes.add(b3) watches one more batch in the same stream

        The stream ends when every batch is final (or ``timeout`` ran out for each).
        ``push`` is as for :meth:`watch`. Leaving the block stops every poller.

        Errors come out as themselves, never in an ``ExceptionGroup``: an exception
        raised in your loop body leaves the ``async with`` unchanged, and a batch whose
        polls keep failing ends the whole stream with its error (raised by the stream
        after the changes that came before it). When several batches fail at once, the
        first error is raised and each other one is added to it as a note
        (``__notes__``) and logged with its traceback on ``aiosms.watch``, so the type
        you catch never depends on timing.
        """
        start = partial(self.watch, interval=interval, timeout=timeout, push=push)
        return self._watch_many(batch_ids, start)

    def _watch_many(
        self, batch_ids: Iterable[Any], start: Callable[[Any], AsyncIterator[StatusChange]]
    ) -> AbstractAsyncContextManager[WatchStream]:
        """:meth:`watch_many` with ``start(batch_id)`` starting each watch."""
        if isinstance(batch_ids, str):
            raise InvalidRequestError(
                "watch_many() takes several batch ids (a list), not one str: "
                f"write watch_many([{batch_ids!r}]) or watch({batch_ids!r})"
            )
        try:
            ids = list(batch_ids)
        except TypeError:
            raise InvalidRequestError(
                f"watch_many() takes a list of batch ids, not {type(batch_ids).__name__}"
            ) from None
        # start() (watch()) checks each id (_check_batch_id) before any poll starts.
        watches = [start(batch_id) for batch_id in ids]
        return self._merge(watches, start)

    @asynccontextmanager
    async def _merge(
        self,
        watches: list[AsyncIterator[StatusChange]],
        start: Callable[[Any], AsyncIterator[StatusChange]],
    ) -> AsyncIterator[WatchStream]:
        async with merge_streams(watches) as merged:
            yield WatchStream(merged, start)


def _pool_size(session: aiohttp.ClientSession, default: int) -> int:
    connector: Any = session.connector
    limit = getattr(connector, "limit", 0)
    return limit if isinstance(limit, int) and limit > 0 else default
