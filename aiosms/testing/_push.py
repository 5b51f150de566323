"""Pushes a simulated provider makes to its customer's URL (delivery reports, replies).

A :class:`PushSource` is anything the :class:`~aiosms.testing.Simulator` can ask to make
the pushes it owes; the simulator's push loop asks every source it knows of. A provider
world keeps the bookkeeping of *what* is due; :class:`PushOutbox` keeps the part every
provider shares: calls that failed are repeated a bounded number of times, calls that
succeeded are logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Protocol, TypeVar, runtime_checkable

import aiohttp

__all__ = ["PushOutbox", "PushSource", "push_source_of"]

T = TypeVar("T")


@runtime_checkable
class PushSource(Protocol):
    """Something that pushes to a customer URL when the simulator asks it to."""

    @property
    def push_url(self) -> str | None:
        """Where pushes go; ``None`` when nothing is to be pushed."""
        ...

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        """Make the pushes owed now (and repeat failed ones); how many succeeded."""
        ...


@runtime_checkable
class _HasPushSource(Protocol):
    @property
    def push_source(self) -> PushSource: ...


def push_source_of(service: object) -> PushSource | None:
    """The push source behind a mounted service, or ``None`` when it pushes nothing.

    A service names it with a ``push_source`` attribute (endpoints that share one
    provider world name that world, so it pushes once however many endpoints it has),
    or is one itself.
    """
    if isinstance(service, _HasPushSource):
        return service.push_source
    if isinstance(service, PushSource):
        return service
    return None


class PushOutbox(Generic[T]):
    """Delivers pushes of type ``T``: each call tried up to ``tries`` times in all.

    Args:
        send: makes one push to a URL; True when the receiver took it (e.g. HTTP 200).
            A raised :class:`aiohttp.ClientError` or :class:`TimeoutError` counts as a
            failure.
        tries: how many times a push is made before it is given up.

    Attributes:
        delivered: every push that succeeded, oldest first.
    """

    def __init__(
        self,
        send: Callable[[aiohttp.ClientSession, str, T], Awaitable[bool]],
        *,
        tries: int,
    ) -> None:
        if tries < 1:
            raise ValueError(f"tries must be >= 1, not {tries!r}")
        self._send = send
        self._tries = tries
        self._retries: list[tuple[T, int]] = []
        self.delivered: list[T] = []

    @property
    def pending(self) -> int:
        """How many failed pushes wait to be repeated."""
        return len(self._retries)

    async def flush(self, session: aiohttp.ClientSession, url: str, due: Iterable[T]) -> int:
        """Repeat the pushes that failed before, then make ``due``; how many succeeded."""
        work = [*self._retries, *((push, 0) for push in due)]
        self._retries = []
        done = 0
        for push, failures in work:
            try:
                ok = await self._send(session, url, push)
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                self.delivered.append(push)
                done += 1
            elif failures + 1 < self._tries:
                self._retries.append((push, failures + 1))
        return done
