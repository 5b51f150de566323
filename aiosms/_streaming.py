"""The watch engine, the same for every provider.

:class:`ChangeTracker` is the sans-I/O core: feed it what a provider reports (a whole
snapshot from polling, or single reports from push callbacks) and it returns only what
changed. :func:`poll_changes` is the async loop that polls any ``fetch`` function,
yields each change once, and ends when every recipient is final or time is up.
:func:`merge_streams` runs several such iterators at once in a task group and hands
their items out through one anyio memory object stream.
"""

from __future__ import annotations

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
from typing import Any, TypeVar

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream

from .errors import InvalidRequestError, TransportError
from .models import DeliveryReport, DeliveryState, StatusChange

__all__ = ["ChangeTracker", "merge_streams", "poll_changes"]

logger = logging.getLogger("aiosms.watch")

Fetch = Callable[[], Awaitable[Sequence[DeliveryReport]]]
_T = TypeVar("_T")


class ChangeTracker:
    """Remembers each recipient's last state and reports only changes.

    A recipient is known by its ``message_id`` where the provider gives one; otherwise
    by ``(batch_id, mobile, n)``, the n-th time that number appears in a snapshot (a
    batch may send to the same number twice). Once a recipient is final, later reports
    about it are ignored, so a provider that flaps cannot make a change appear twice.

    With ``by_message_id=False`` recipients are always known by batch and number: for
    providers whose polled reports carry no id but whose pushed ones may (EVERY8D's
    ``MR``), so a change seen both ways is still reported once.
    """

    __slots__ = ("_by_id", "_states")

    def __init__(self, *, by_message_id: bool = True) -> None:
        self._states: dict[Hashable, DeliveryState] = {}
        self._by_id = by_message_id

    def _observe(self, key: Hashable, report: DeliveryReport) -> StatusChange | None:
        previous = self._states.get(key)
        state = report.state
        if previous is state or (previous is not None and previous.is_final):
            return None
        self._states[key] = state
        return StatusChange(report=report, previous=previous, state=state)

    def update(self, snapshot: Iterable[DeliveryReport]) -> list[StatusChange]:
        """Take a full snapshot of a batch; return the changes since the last one."""
        changes = []
        seen: dict[tuple[str | None, str], int] = {}
        for report in snapshot:
            key: Hashable = report.message_id if self._by_id else None
            if key is None:
                number = (report.batch_id, report.mobile)
                n = seen.get(number, 0)
                seen[number] = n + 1
                key = (*number, n)
            change = self._observe(key, report)
            if change is not None:
                changes.append(change)
        return changes

    def push(self, report: DeliveryReport) -> StatusChange | None:
        """Take one pushed report (keyed by message id, else by batch and number)."""
        key: Hashable = report.message_id if self._by_id else None
        if key is None:
            key = (report.batch_id, report.mobile, 0)
        return self._observe(key, report)

    @property
    def recipients(self) -> int:
        """How many recipients have been seen."""
        return len(self._states)

    @property
    def all_final(self) -> bool:
        """True once at least one recipient was seen and every one seen is final."""
        return bool(self._states) and all(s.is_final for s in self._states.values())


async def poll_changes(
    fetch: Fetch,
    *,
    interval: float,
    stop_after: float | None = None,
    max_failures: int = 5,
    pushed: ObjectReceiveStream[Any] | None = None,
    tracker: ChangeTracker | None = None,
) -> AsyncGenerator[StatusChange, None]:
    """Poll ``fetch`` every ``interval`` seconds and yield each status change once.

    Ends when every recipient seen is in a final state, or quietly once ``stop_after``
    seconds have passed. Transient transport failures are retried with growing pauses;
    after ``max_failures`` in a row the last one is raised. Any other error is raised.

    ``pushed``, a stream of reports a provider pushed (other items are skipped), is
    listened to between polls: its changes are yielded as they arrive, through the
    same ``tracker`` as the polled ones, so each change comes once either way. The
    watch still ends only after a poll, since only a poll tells every recipient.
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
        remaining = None if deadline is None else deadline - anyio.current_time()
        if remaining is not None and remaining <= 0:
            return
        try:
            # The cancel scope covers only the fetch, never a yield.
            with anyio.fail_after(remaining):
                snapshot = await fetch()
        except TimeoutError:
            return
        except TransportError as exc:
            failures += 1
            if not exc.retryable or failures >= max_failures:
                raise
            logger.warning("watch: poll failed (%s), %d in a row; polling on", exc, failures)
            pause = interval * min(2**failures, 16)
        else:
            failures = 0
            polled = True
            for change in tracker.update(snapshot):
                yield change
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
            report = None
            with anyio.move_on_after(left):  # covers the receive only, never a yield
                try:
                    report = await pushed.receive()
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    pushed = None
            if pushed is None:
                await anyio.sleep(max(until - anyio.current_time(), 0))
                break
            if isinstance(report, DeliveryReport):
                news = tracker.push(report)
                if news is not None:
                    yield news
                if polled and tracker.all_final:
                    return


async def _pump(source: AsyncIterator[_T], sink: ObjectSendStream[_T]) -> None:
    async with sink:
        try:
            async for item in source:
                await sink.send(item)
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:  # an async generator: let its cleanup run now
                with anyio.CancelScope(shield=True):
                    await aclose()


@asynccontextmanager
async def merge_streams(
    sources: Iterable[AsyncIterator[_T]], *, buffer: int = 256
) -> AsyncIterator[MemoryObjectReceiveStream[_T]]:
    """Run every source at once; iterate over all their items as they come.

    The receive stream ends when every source has ended. Leaving the ``async with``
    early stops the sources that are still running. An error in one source stops the
    others and is raised from the ``async with`` (in an ``ExceptionGroup``, as anyio
    task groups do). A full ``buffer`` holds the sources back until you catch up.
    """
    send, receive = anyio.create_memory_object_stream[_T](buffer)
    async with anyio.create_task_group() as tg:
        with send:
            for source in sources:
                tg.start_soon(_pump, source, send.clone())
        with receive:
            yield receive
        tg.cancel_scope.cancel()
