"""The watch engine, the same for every provider.

:class:`~aiosms._tracker.ChangeTracker` (re-exported here) is the sans-I/O core: it
takes what a provider reports and returns only what changed. :func:`poll_changes` is
the async loop that polls any ``fetch`` function page by page, yields each change once,
and ends when every recipient is final or time is up. :func:`merge_streams` runs
several such iterators at once in a task group and hands their items out through one
:class:`MergedStream`, to which more sources can be added while it runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Sequence,
)
from contextlib import asynccontextmanager
from typing import Any, Generic, Self, TypeVar, cast

import anyio
from anyio.abc import ObjectReceiveStream, TaskGroup

from . import _telemetry
from ._tracker import ChangeTracker
from .errors import InvalidRequestError, ResponseFormatError, TransportError
from .models import DeliveryReport, StatusChange

__all__ = [
    "ChangeTracker",
    "MergedStream",
    "Pages",
    "merge_streams",
    "poll_changes",
    "poll_new",
]

logger = logging.getLogger("aiosms.watch")

Pages = Callable[[], AsyncIterator[Sequence[DeliveryReport]]]
"""One call is one poll: it returns an iterator over the batch's reports, page by page."""

T = TypeVar("T")


async def _aclose(iterator: object) -> None:
    """Let an async generator's (or any iterator's) cleanup run now, whatever cancels us."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


def _retryable(exc: Exception) -> bool:
    # A malformed reply to a query is as transient as a dropped connection: the next
    # poll asks again, and asking again is safe.
    return isinstance(exc, ResponseFormatError) or (
        isinstance(exc, TransportError) and exc.retryable
    )


async def poll_changes(
    fetch: Pages,
    *,
    interval: float,
    stop_after: float | None = None,
    max_failures: int = 5,
    pushed: ObjectReceiveStream[Any] | None = None,
    tracker: ChangeTracker | None = None,
) -> AsyncGenerator[StatusChange, None]:
    """Poll ``fetch`` every ``interval`` seconds and yield each status change once.

    Each call of ``fetch`` is one poll; it returns an async iterator over the batch's
    reports, page by page. The tracker takes each page as it comes and its changes are
    yielded at once, so a poll holds one page in memory, never the whole batch.

    Ends when a complete poll (its iterator exhausted) leaves every recipient seen in
    a final state, or quietly once ``stop_after`` seconds have passed. That deadline
    covers fetching each page, never the time the caller spends on a change.

    A poll that fails, on any page, counts as a failure: a retryable
    :class:`~aiosms.TransportError` or a :class:`~aiosms.ResponseFormatError` (a reply
    we could not read) is retried with growing pauses, and after ``max_failures``
    failed polls in a row the last error is raised. Any other error is raised at once.
    Changes from the pages read before a failure are yielded and kept. A poll that is
    abandoned (the caller stops iterating, or time is up) or fails has its page
    iterator closed (``aclose()``) at once.

    ``pushed``, a stream of reports a provider pushed (other items are skipped), is
    listened to between polls: its changes are yielded as they arrive, through the
    same ``tracker`` as the polled ones, so each change comes once either way. The
    watch still ends only after a complete poll, since only a poll tells every
    recipient.
    """
    if not interval > 0:
        raise InvalidRequestError(f"interval must be a positive number of seconds, not {interval}")
    if stop_after is not None and not stop_after > 0:
        raise InvalidRequestError(f"timeout must be positive seconds or None, not {stop_after}")
    tracker = tracker if tracker is not None else ChangeTracker()
    deadline = None if stop_after is None else anyio.current_time() + stop_after
    failures = 0
    polled = False
    while True:
        if deadline is not None and deadline <= anyio.current_time():
            return
        pages: AsyncIterator[Sequence[DeliveryReport]] | None = None
        complete = False
        try:
            tracker.begin_poll()
            _telemetry.count_poll()
            pages = fetch()
            while True:
                remaining = None if deadline is None else deadline - anyio.current_time()
                if remaining is not None and remaining <= 0:
                    return
                # The cancel scope covers only the page's fetch, never a yield: leaving
                # the loop (break, aclose) must always be safe.
                with anyio.move_on_after(remaining) as scope:
                    try:
                        page = await pages.__anext__()
                    except StopAsyncIteration:
                        complete = True
                if scope.cancelled_caught:
                    return
                if complete:
                    break
                for report in page:
                    change = tracker.observe(report)
                    if change is not None:
                        yield change
                page = ()  # let it go before the next page (or poll) is fetched
        except (TransportError, ResponseFormatError) as exc:
            failures += 1
            if not _retryable(exc) or failures >= max_failures:
                raise
            logger.warning("watch: poll failed (%s), %d in a row; polling on", exc, failures)
            pause = interval * min(2**failures, 16)
        finally:
            if pages is not None:
                await _aclose(pages)
        if complete:
            failures = 0
            polled = True
            if tracker.all_final:
                return
            pause = interval
        if deadline is not None:
            pause = min(pause, deadline - anyio.current_time())
        if pushed is None:
            await anyio.sleep(max(pause, 0))
            continue
        # Until the next poll: take pushed reports as they come.
        until = anyio.current_time() + max(pause, 0)
        while (left := until - anyio.current_time()) > 0:
            item = None
            with anyio.move_on_after(left):  # covers the receive only, never a yield
                try:
                    item = await pushed.receive()
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    pushed = None
            if pushed is None:
                await anyio.sleep(max(until - anyio.current_time(), 0))
                break
            if isinstance(item, DeliveryReport):
                news = tracker.push(item)
                if news is not None:
                    yield news
                if polled and tracker.all_final:
                    return


async def poll_new(
    fetch: Callable[[], Awaitable[Sequence[T]]],
    *,
    key: Callable[[T], Hashable],
    interval: float,
    full: int,
    remember: int = 10_000,
    max_failures: int = 5,
) -> AsyncGenerator[T, None]:
    """Poll ``fetch`` for new items (inbound messages) and yield each once, forever.

    Each call returns the items the provider has not handed out yet. When a call
    returns ``full`` items (the provider's most per call), more may be waiting: the
    next call is made at once; otherwise after ``interval`` seconds. An item whose
    ``key`` was among the last ``remember`` yielded is dropped (a provider may hand
    the same one out twice). Failures are treated as :func:`poll_changes` treats
    them: retryable ones waited out with growing pauses, ``max_failures`` in a row
    raise the last. It runs until the caller stops iterating.
    """
    if not interval > 0:
        raise InvalidRequestError(f"interval must be a positive number of seconds, not {interval}")
    seen: dict[Hashable, None] = {}  # insertion-ordered: the oldest is forgotten first
    failures = 0
    while True:
        try:
            items = await fetch()
        except (TransportError, ResponseFormatError) as exc:
            failures += 1
            if not _retryable(exc) or failures >= max_failures:
                raise
            logger.warning("poll failed (%s), %d in a row; polling on", exc, failures)
            await anyio.sleep(interval * min(2**failures, 16))
            continue
        failures = 0
        for item in items:
            name = key(item)
            if name in seen:
                continue
            seen[name] = None
            if len(seen) > remember:
                del seen[next(iter(seen))]
            yield item
        if len(items) < full:
            await anyio.sleep(interval)
        else:
            await anyio.lowlevel.checkpoint()


class _Wake:
    """Put in the buffer to wake a waiting receiver: a source ended or failed."""


_WAKE = _Wake()


class MergedStream(Generic[T]):
    """The items of several sources, as they come; what :func:`merge_streams` yields.

    Iterate over it (``async for``) or call :meth:`receive`. It ends when every source
    added so far has ended and their items have all been received; more sources can be
    :meth:`add`\\ ed while it runs. If a source fails, the other sources are stopped, the
    items already buffered are handed out, and then :meth:`receive` raises the error
    (the source's exception itself, with its traceback).
    """

    def __init__(self, tg: TaskGroup, buffer: int) -> None:
        self._tg = tg
        self._send, self._receive = anyio.create_memory_object_stream[object](buffer)
        self._running = 0  # sources added and not yet ended
        self._scopes: set[anyio.CancelScope] = set()  # of the running sources
        self._errors: list[Exception] = []  # the sources' failures, in order
        self._delivered = 0  # how many of _errors receive() raised
        self._ended = False  # receive() said so: EndOfStream, or a source's error
        self._closed = False  # the ``async with`` was left

    def add(self, source: AsyncIterator[T]) -> None:
        """Start one more source, at once, beside those running.

        Raises :class:`RuntimeError` if the stream has ended (:meth:`receive` raised
        ``EndOfStream`` or a source's error) or the ``async with merge_streams(...)``
        was left; :class:`TypeError` if ``source`` is not an async iterator. If a
        source has failed and its error was not read yet, that error is raised here
        (as :meth:`receive` would), so ``except aiosms.SmsError`` still sees it.
        """
        if self._closed:
            raise RuntimeError("cannot add a source: the async with merge_streams() was left")
        if self._errors and not self._delivered:
            self._ended = True
            self._delivered = 1
            raise self._errors[0]
        if self._ended:
            raise RuntimeError("cannot add a source: the merged stream has ended")
        if not hasattr(source, "__anext__"):
            raise TypeError(f"a source must be an async iterator, not {type(source).__name__}")
        self._running += 1
        self._tg.start_soon(self._pump, source)

    async def _pump(self, source: AsyncIterator[T]) -> None:
        try:
            if self._errors or self._closed:  # stopped before it started
                return
            with anyio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    async for item in source:
                        try:
                            await self._send.send(item)
                        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                            return  # nobody is receiving any more: stop quietly
                finally:
                    self._scopes.discard(scope)
        except Exception as exc:
            self._fail(exc)
        finally:
            try:
                await _aclose(source)  # its cleanup runs now, not whenever it is collected
            except Exception as exc:
                self._fail(exc)
            self._running -= 1
            self._wake()

    def _fail(self, exc: Exception) -> None:
        self._errors.append(exc)
        for scope in self._scopes:  # one failed: stop the others
            scope.cancel()

    def _wake(self) -> None:
        # A full buffer: nobody waits, and receive() looks before it waits.
        with contextlib.suppress(
            anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError
        ):
            self._send.send_nowait(_WAKE)

    async def receive(self) -> T:
        """The next item of any source.

        Raises ``anyio.EndOfStream`` once every source added has ended and all their
        items were received; a source's error (after the items buffered before it);
        ``anyio.ClosedResourceError`` once the ``async with`` was left.
        """
        await anyio.lowlevel.checkpoint()
        while True:
            if self._ended:
                raise anyio.EndOfStream
            try:
                item = self._receive.receive_nowait()
            except anyio.WouldBlock:
                pass  # nothing buffered: see whether the stream is over, else wait
            else:
                if item is _WAKE:
                    continue  # items may follow it: only an empty buffer tells the end
                return cast(T, item)
            # Raised outside any ``except``, so the error keeps its own context and cause.
            if self._errors:
                self._ended = True
                self._delivered = 1
                raise self._errors[0]
            if self._running == 0:
                self._ended = True
                raise anyio.EndOfStream
            item = await self._receive.receive()
            if item is not _WAKE:
                return cast(T, item)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def _close(self) -> None:
        self._closed = True
        self._tg.cancel_scope.cancel()  # the sources stop before the receive side closes

    def _undelivered(self) -> list[Exception]:
        return self._errors[self._delivered :]


def _note_others(error: BaseException, others: Sequence[BaseException]) -> None:
    for other in others:
        if other is error:
            continue
        logger.warning("watch: another source failed too", exc_info=other)
        error.add_note(
            f"aiosms: another merged source failed as well: {type(other).__name__}: {other}"
        )


@asynccontextmanager
async def merge_streams(
    sources: Iterable[AsyncIterator[T]], *, buffer: int = 256
) -> AsyncIterator[MergedStream[T]]:
    """Run every source at once; iterate over all their items as they come::

        async with merge_streams([a, b]) as merged:
            merged.add(c)             # more sources may join while it runs
            async for item in merged:
                ...

    The stream ends when every source added so far has ended (at once, with no
    sources). Leaving the ``async with`` early stops the sources still running (each
    source's ``aclose()`` runs) before the stream is closed, so it is always quiet. A
    full ``buffer`` holds the sources back until you catch up.

    Errors leave the ``async with`` as themselves, never in an ``ExceptionGroup``, so
    ``except aiosms.SmsError`` (or your own exception class) around it works:

    * your own exception, raised inside the ``async with``, comes out unchanged;
    * a source's error stops the other sources, and is raised by the stream (after
      the items buffered before it), so it comes out of your loop as itself; if you
      left before reading it, it is raised when you leave;
    * if several fail at once, the first is raised; each other one is added to it as
      a note (``__notes__``, shown under its traceback) and logged with its own
      traceback on the ``aiosms.watch`` logger. The exception you catch is then always
      of the type of the first failure, never a group depending on timing.
    * Cancellation (``CancelledError``, a timeout around the ``async with``) and
      ``KeyboardInterrupt``/``SystemExit`` pass through as such; a source error that
      was not yet read is then only logged.
    """
    merged: MergedStream[T] | None = None
    body_error: Exception | None = None
    group: BaseExceptionGroup[BaseException] | None = None
    try:
        async with anyio.create_task_group() as tg:
            merged = MergedStream(tg, buffer)
            try:
                for source in sources:
                    merged.add(source)
                yield merged
            except Exception as exc:  # kept out of the task group, so never grouped
                body_error = exc
            finally:
                merged._close()
    except BaseExceptionGroup as exc:  # a BaseException of the body or of a pump
        group = exc
    except BaseException:
        if merged is not None:
            for lost in merged._undelivered():
                logger.warning("watch: a merged source failed", exc_info=lost)
        raise
    finally:
        if merged is not None:
            merged._send.close()
            merged._receive.close()
    assert merged is not None
    undelivered = merged._undelivered()
    if group is not None:
        # Only BaseExceptions (KeyboardInterrupt, SystemExit) reach the task group.
        found = list(group.exceptions)
        first = next((e for e in found if not isinstance(e, anyio.get_cancelled_exc_class())), None)
        error: BaseException = first if first is not None else found[0]
        _note_others(error, [*found, *([body_error] if body_error else []), *undelivered])
        raise error
    if body_error is not None:
        _note_others(body_error, undelivered)
        raise body_error
    if undelivered:
        _note_others(undelivered[0], undelivered[1:])
        raise undelivered[0]
