"""Receivers for the providers' push callbacks, as ``aiohttp.web`` handlers.

EVERY8D calls a URL of yours (``GET …?BatchID=…&RM=…&RT=…&STATUS=…&SM=…&MR=…&USERID=…``,
spec §3.1) each time a message's status changes or a recipient replies, and calls
again, up to 10 times, until it gets HTTP 200. :class:`Every8dPushReceiver` answers
those calls and hands each event to whoever subscribed::

    from aiohttp import web
    import aiosms
    from aiosms.webhooks import Every8dPushReceiver

    receiver = Every8dPushReceiver(user_id="acme")
    app = web.Application()
    receiver.add_to(app, "/every8d/push")   # the URL you give EVERY8D
    ...
    async with aiosms.Every8dSoapClient("acme", password) as sms:
        result = await sms.send("Your code is 1234", to="+886912345678")
        # Pushed changes arrive at once; polling (rarer now) fills any gap.
        async for change in sms.watch(result.batch_id, interval=60, push=receiver):
            print(change.report.mobile, change.state)

Nothing is lost on the way: a call is answered 200 only once every subscriber has the
event in its buffer; if one is full the answer is 503 and EVERY8D calls again later.
Events are also kept in a bounded backlog that each new subscription replays, so a
report that arrives between ``send()`` and ``watch()`` still reaches the watch. A
retried call can deliver an event twice to a raw subscription; ``watch()`` yields each
change once whatever arrives.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import anyio
from aiohttp import web
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import ResponseFormatError
from .every8d.push import parse_push
from .models import DeliveryReport, Reply

__all__ = ["Every8dPushEvent", "Every8dPushReceiver"]

logger = logging.getLogger("aiosms.webhooks")

Every8dPushEvent = DeliveryReport | Reply
"""What one EVERY8D push carries: a status report, or (``STATUS=999``) a reply SMS."""

_Subscriber = tuple[frozenset[str] | None, MemoryObjectSendStream[Every8dPushEvent]]


class Every8dPushReceiver:
    """Answers EVERY8D's push callbacks and fans their events out to subscribers.

    Args:
        user_id: when given, calls for another account (``USERID``) are refused (403).
        backlog: how many recent events are kept for subscriptions that start later.
        buffer: events a subscriber may fall behind by before calls are refused (503).

    Attributes:
        received: how many calls were accepted (a retried call counts again).
        refused: how many calls were answered with an error.
    """

    def __init__(
        self, *, user_id: str | None = None, backlog: int = 10_000, buffer: int = 1_000
    ) -> None:
        if backlog < 0 or buffer < 1:
            raise ValueError("backlog must be >= 0 and buffer >= 1")
        self.user_id = user_id
        self._backlog_size = backlog
        self._buffer = buffer
        self._backlog: dict[Every8dPushEvent, None] = {}  # an ordered set, oldest first
        self._subscribers: list[_Subscriber] = []
        self.received = 0
        self.refused = 0

    def __repr__(self) -> str:
        return (
            f"<Every8dPushReceiver user_id={self.user_id!r} subscribers="
            f"{len(self._subscribers)} received={self.received}>"
        )

    # ------------------------------------------------------------------ aiohttp side

    def add_to(self, app: web.Application, path: str = "/every8d/push") -> None:
        """Route ``GET`` and ``POST`` of ``path`` in ``app`` to :meth:`handle`."""
        app.router.add_route("GET", path, self.handle)
        app.router.add_route("POST", path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler: parse one call, deliver its event, answer 200.

        Answers 400 to a call that can't be read, 403 to one for another account and
        503 when a subscriber's buffer is full (EVERY8D then calls again).
        """
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        try:
            event = parse_push(params)
        except ResponseFormatError as exc:
            return self._refuse(400, f"unreadable push callback: {exc.message}")
        user = params.get("USERID", "").strip()
        if self.user_id is not None and user != self.user_id:
            return self._refuse(403, f"push callback for another account ({user!r})")
        if not self.deliver(event):
            return self._refuse(503, "a subscriber is behind; EVERY8D will call again")
        self.received += 1
        return web.Response(text="OK")

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.refused += 1
        logger.warning("every8d push refused (%d): %s", status, reason)
        return web.Response(status=status, text=reason)

    # ------------------------------------------------------------------ event side

    def deliver(self, event: Every8dPushEvent) -> bool:
        """Hand ``event`` to every matching subscriber and keep it in the backlog.

        Returns False when a subscriber's buffer is full (the caller should refuse the
        call so that it is repeated). Useful for tests and for other transports.
        """
        complete = True
        for batch_ids, stream in self._subscribers:
            if batch_ids is None or event.batch_id in batch_ids:
                try:
                    stream.send_nowait(event)
                except anyio.WouldBlock:
                    complete = False
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass  # the subscription ended while we were at it
        if self._backlog_size and event not in self._backlog:
            self._backlog[event] = None
            if len(self._backlog) > self._backlog_size:
                del self._backlog[next(iter(self._backlog))]
        return complete

    @asynccontextmanager
    async def subscribe(
        self, batch_ids: Iterable[str] | None = None
    ) -> AsyncIterator[MemoryObjectReceiveStream[Every8dPushEvent]]:
        """Receive the events of ``batch_ids`` (all batches when ``None``)::

            async with receiver.subscribe([batch_id]) as events:
                async for event in events:
                    ...

        The backlog's matching events come first, then new ones as they arrive.
        """
        wanted = None if batch_ids is None else frozenset(batch_ids)
        replay = [e for e in self._backlog if wanted is None or e.batch_id in wanted]
        send, receive = anyio.create_memory_object_stream[Every8dPushEvent](
            self._buffer + len(replay)
        )
        for event in replay:
            send.send_nowait(event)
        entry: _Subscriber = (wanted, send)
        self._subscribers.append(entry)
        try:
            with receive:
                yield receive
        finally:
            self._subscribers.remove(entry)
            send.close()
