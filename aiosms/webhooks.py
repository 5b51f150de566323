"""Receivers for the providers' push callbacks: one shared engine, a parser per provider.

A provider calls a URL of yours each time a message's status changes or a recipient
replies, and calls again until it gets HTTP 200. A :class:`PushReceiver` answers those
calls and hands their events to whoever subscribed. What is provider-specific (which
HTTP methods, what a call looks like, what to answer) is a :class:`PushParser`, a pure
object each provider package supplies; this module imports none of them.

Receivers, one per provider, all the same shape: :class:`Every8dPushReceiver` (both
EVERY8D APIs), :class:`EimsPushReceiver` and :class:`SmsCenterPushReceiver`::

    import secrets
    from aiohttp import web
    import aiosms
    from aiosms.webhooks import Every8dPushReceiver

    token = secrets.token_urlsafe(32)            # keep it with your other secrets
    receiver = Every8dPushReceiver(user_id="acme", token=token)
    app = web.Application()
    receiver.add_to(app, "/every8d/push")   # give EVERY8D …/every8d/push/<token>
    ...
    async with aiosms.Every8dSoapClient("acme", password) as sms:
        result = await sms.send("Your code is 1234", to="+886912345678")
        # Pushed changes arrive at once; polling (rarer now) fills any gap.
        async for change in sms.watch(result.batch_id, interval=60, push=receiver):
            print(change.report.mobile, change.state)

Other servers (Starlette, FastAPI, …) hand each call to :meth:`PushReceiver.accept`,
which needs no web framework and returns the :class:`Answer` to send.

**Authentication.** ``token=`` is a secret you put in the URL you give the provider,
as a ``token`` query parameter (``…/push?token=<secret>``) or as the last path segment
(``…/push/<secret>``); it is compared in constant time. ``allow_from=`` limits calls
to some source networks. A call without the right token or from elsewhere is answered
403, before anything in it is read. Without ``token=`` any call is accepted, and the
receiver logs one warning saying so. The token never appears in aiosms's log lines,
reprs or errors; but it is part of the URL, so keep it out of your server's access
log (aiohttp: ``web.run_app(app, access_log=None)`` or a format without ``%r``).
Behind a reverse proxy, the peer address a receiver sees is the proxy's: pass the real
client address to :meth:`~PushReceiver.accept` (from ``X-Forwarded-For`` as set by
*your* proxy), or run aiohttp behind ``aiohttp_remotes``-style middleware that sets
``request.remote``.

**Nothing is lost on the way.** A call is answered 200 only once every subscriber has
its events in its buffer; if one has no room, no subscriber gets them and the answer
is 503, so the provider calls again later. Events are also kept in a bounded backlog
(an ordered set: a repeated call is kept once) that each new subscription replays
first, so a report that arrives between ``send()`` and ``watch()`` still reaches the
watch. A repeated call can reach a raw subscription twice; ``watch()`` yields each
change once whatever arrives.

A refusal's body never contains the body of the parser's success answer, and what the
call or the parser put into it (a method, an address, a parse error) never contains it
in any letter case: a provider that looks for a marker in the body (SMSCenter retries
any call whose answer lacks ``_OK_``) cannot take a refused call for a handled one.
"""

from __future__ import annotations

import hmac
import importlib
import ipaddress
import logging
import re
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, Protocol, TypeVar

import anyio
import attrs
from aiohttp import web
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import ResponseFormatError, SmsError
from .models import DeliveryReport, Reply

__all__ = [
    "Answer",
    "EimsPushReceiver",  # noqa: F822  (provided lazily by __getattr__ below)
    "Every8dPushEvent",
    "Every8dPushReceiver",  # noqa: F822  (provided lazily by __getattr__ below)
    "ForeignCallError",
    "PushCall",
    "PushParser",
    "PushReceiver",
    "SmsCenterPushReceiver",  # noqa: F822  (provided lazily by __getattr__ below)
]

logger = logging.getLogger("aiosms.webhooks")

Every8dPushEvent = DeliveryReport | Reply
"""What one EVERY8D push carries: a status report, or (``STATUS=999``) a reply SMS."""

# Receivers defined in the provider packages, imported only when first asked for, so
# that this shared module never imports a provider package.
_PROVIDED = {
    "EimsPushReceiver": "aiosms.eims.push",
    "Every8dPushReceiver": "aiosms.every8d.push",
    "SmsCenterPushReceiver": "aiosms.smscenter.push",
}


def __getattr__(name: str) -> Any:
    module = _PROVIDED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PROVIDED})


E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)

_TOKEN_PARAM = "token"  # noqa: S105  (the query parameter's name, not a secret)
_TOKEN_RULE = re.compile(r"[A-Za-z0-9._~-]{16,}")
_NETWORK = ipaddress.IPv4Network | ipaddress.IPv6Network


@attrs.frozen
class PushCall:
    """One HTTP call a provider made, as a parser sees it (no framework types).

    Attributes:
        method: the HTTP method, upper-case.
        query: the query parameters (one value each, as the server's mapping gives
            it), without the receiver's ``token``.
        body: the request body (empty for a GET).
        headers: the request headers, names lower-case.
        peer: the caller's address, where known.
        path: the request path, without a token given as its last segment.
    """

    method: str
    query: Mapping[str, str]
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    peer: str | None = None
    path: str = ""


@attrs.frozen
class Answer:
    """What to answer a call: send ``body`` with ``status`` and ``content_type``."""

    status: int
    body: str = ""
    content_type: str = "text/plain"


class ForeignCallError(SmsError):
    """Raised by a :class:`PushParser` for a call meant for another account (→ 403)."""


class PushParser(Protocol[E_co]):
    """A provider's pure push parser: what a :class:`PushReceiver` plugs in.

    Attributes:
        provider: the provider's name, for log lines (``"every8d"``).
        methods: the HTTP methods its calls use (``("GET", "POST")``).
        success: the answer to a call that was handled (EVERY8D: ``200 OK``).
    """

    @property
    def provider(self) -> str: ...

    @property
    def methods(self) -> Collection[str]: ...

    @property
    def success(self) -> Answer: ...

    def parse(self, call: PushCall) -> Sequence[E_co]:
        """The events ``call`` carries (hashable, e.g. ``DeliveryReport``).

        Raises:
            ResponseFormatError: the call can't be read (answered 400).
            ForeignCallError: the call is for another account (answered 403).
        """
        ...


_Subscriber = tuple[frozenset[str] | None, MemoryObjectSendStream[Any]]


def _networks(allow_from: Iterable[str | _NETWORK] | None) -> tuple[_NETWORK, ...] | None:
    if allow_from is None:
        return None
    if isinstance(allow_from, str):
        raise ValueError("allow_from is a list of networks, e.g. ['203.0.113.0/24']")
    try:
        return tuple(ipaddress.ip_network(net) for net in allow_from)
    except ValueError as exc:
        raise ValueError(f"allow_from: {exc}") from None


_STAND_INS = "*#?~"  # what a success marker in a refusal is replaced by


def _unmarked(text: str, mark: str, *, any_case: bool) -> str:
    """``text`` with every occurrence of ``mark`` replaced, so that it contains none.

    Each occurrence becomes one character that ``mark`` does not hold, so no new one can
    form across a replacement; with ``any_case``, occurrences in any letter case count.
    """
    if not mark:
        return text
    flags = re.IGNORECASE if any_case else 0
    pattern = re.compile(re.escape(mark), flags)
    if pattern.search(text) is None:
        return text
    folded = mark.casefold()
    stand_in = next((c for c in _STAND_INS if c not in folded), None)
    return "" if stand_in is None else pattern.sub(stand_in, text)


def _matches(event: object, ids: frozenset[str]) -> bool:
    return getattr(event, "batch_id", None) in ids or getattr(event, "message_id", None) in ids


class PushReceiver(Generic[E]):
    """Answers one provider's push callbacks and fans their events out to subscribers.

    Args:
        parser: the provider's :class:`PushParser`.
        token: a secret the calls must carry (``?token=…`` or as the last path
            segment); at least 16 of ``A-Z a-z 0-9 - . _ ~``, e.g.
            ``secrets.token_urlsafe(32)``. Without it any call is accepted.
        allow_from: the networks calls may come from (``["203.0.113.0/24"]``); the
            address checked is the peer's, see :meth:`accept`.
        backlog: how many recent events are kept for subscriptions that start later.
        buffer: events a subscriber may fall behind by before calls are refused (503).

    Attributes:
        received: how many calls were accepted (a repeated call counts again).
        refused: how many calls were answered with an error.
    """

    def __init__(
        self,
        parser: PushParser[E],
        *,
        token: str | None = None,
        allow_from: Iterable[str | _NETWORK] | None = None,
        backlog: int = 10_000,
        buffer: int = 1_000,
    ) -> None:
        if backlog < 0 or buffer < 1:
            raise ValueError("backlog must be >= 0 and buffer >= 1")
        if token is not None and not (isinstance(token, str) and _TOKEN_RULE.fullmatch(token)):
            raise ValueError(
                "token must be at least 16 of A-Z a-z 0-9 - . _ ~ (e.g. secrets.token_urlsafe(32))"
            )
        self.parser = parser
        self._token = None if token is None else token.encode("ascii")
        self._allow_from = _networks(allow_from)
        self._backlog_size = backlog
        self._buffer = buffer
        self._backlog: dict[E, None] = {}  # an ordered set, oldest first
        self._subscribers: list[_Subscriber] = []
        self.received = 0
        self.refused = 0
        if self._token is None:
            logger.warning(
                "%s has no token=, so it accepts push calls from anyone who finds its "
                "URL; pass token=secrets.token_urlsafe(32) and give the provider "
                "…/push?token=<token> or …/push/<token>",
                type(self).__name__,
            )

    @property
    def provider(self) -> str:
        """The provider whose calls this receiver answers."""
        return self.parser.provider

    def _describe(self) -> str:
        token = "token set" if self._token is not None else "no token"
        nets = "" if self._allow_from is None else f" allow_from={len(self._allow_from)}"
        return (
            f"{self.provider} {token}{nets} subscribers={len(self._subscribers)} "
            f"received={self.received} refused={self.refused}"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._describe()}>"

    # ------------------------------------------------------------------ any server

    async def accept(
        self,
        method: str,
        query: Mapping[str, str],
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        peer: str | None = None,
        *,
        path: str = "",
    ) -> Answer:
        """Answer one call, from any web server; deliver its events when it is sound.

        ``peer`` is the caller's address; behind a reverse proxy pass the real client's
        (as your proxy reports it), since ``allow_from`` is checked against it. ``path``
        is the request path, needed only when the token is its last segment::

            # Starlette / FastAPI
            async def every8d_push(request: Request) -> Response:
                answer = await receiver.accept(
                    request.method, request.query_params, await request.body(),
                    request.headers, request.client.host if request.client else None,
                    path=request.url.path,
                )
                return Response(answer.body, answer.status, media_type=answer.content_type)

        The answer is the parser's success (200), or 400 for a call that can't be read,
        403 for one without the right token, from outside ``allow_from`` or for another
        account, 405 for a method the provider doesn't use, and 503 when a subscriber
        has no room (the provider calls again).
        """
        refusal = self._authorize(method, query, path, peer)
        if refusal is not None:
            return refusal
        return self._respond(self._call(method, query, body, headers, peer, path))

    def _authorize(
        self, method: str, query: Mapping[str, str], path: str, peer: str | None
    ) -> Answer | None:
        """The refusal for a call that may not be read at all, or None."""
        if method.upper() not in self.parser.methods:
            return self._refuse(405, "method {!r} is not used by {}", method[:10], self.provider)
        if self._allow_from is not None:
            try:
                address = ipaddress.ip_address((peer or "").split("%", 1)[0])
            except ValueError:
                return self._refuse(403, "caller address unknown ({!r})", (peer or "")[:60])
            mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:203.0.113.5
            addresses = (address,) if mapped is None else (address, mapped)
            if not any(a in net for net in self._allow_from for a in addresses):
                return self._refuse(403, "call from {}, outside allow_from", str(address))
        if self._token is not None:
            # The query's token if it has one, else the path's last segment.
            given = query.get(_TOKEN_PARAM)
            candidate = given if given is not None else path.rstrip("/").rpartition("/")[2]
            # compare_digest takes str only when ASCII; bytes always.
            if not hmac.compare_digest(candidate.encode("utf-8", "replace"), self._token):
                return self._refuse(403, "wrong or missing token")
        return None

    def _call(
        self,
        method: str,
        query: Mapping[str, str],
        body: bytes,
        headers: Mapping[str, str] | None,
        peer: str | None,
        path: str,
    ) -> PushCall:
        params = {k: query[k] for k in query if k != _TOKEN_PARAM}
        if self._token is not None and _TOKEN_PARAM not in query:
            path = path.rstrip("/").rpartition("/")[0]  # the token was the last segment
        return PushCall(
            method.upper(),
            params,
            body,
            {k.lower(): v for k, v in (headers or {}).items()},
            peer,
            path,
        )

    def _respond(self, call: PushCall) -> Answer:
        try:
            events = self.parser.parse(call)
        except ResponseFormatError as exc:
            return self._refuse(400, "unreadable push callback: {}", exc.message)
        except ForeignCallError as exc:
            return self._refuse(403, "push callback for another account: {}", exc.message)
        if not self._deliver_all(events):
            return self._refuse(503, "a subscriber is behind; {} will call again", self.provider)
        self.received += 1
        return self.parser.success

    def _refuse(self, status: int, reason: str, *said: str) -> Answer:
        """Count and log a refusal; answer ``reason`` (a ``str.format`` template, filled
        with ``said``: what the call or the parser said) without the success marker."""
        self.refused += 1
        mark = self.parser.success.body
        text = reason.format(*(_unmarked(s, mark, any_case=True) for s in said))
        text = _unmarked(text, mark, any_case=False)
        logger.warning("%s push refused (%d): %s", self.provider, status, text)
        return Answer(status, text)

    # ------------------------------------------------------------------ aiohttp

    def add_to(self, app: web.Application, path: str | None = None) -> None:
        """Route the provider's methods on ``path`` in ``app`` to :meth:`handle`.

        ``path`` defaults to ``/<provider>/push``. With a token, ``path/{token}`` is
        routed too, so the token may be the URL's last segment or its query's ``token``.
        """
        path = path or f"/{self.provider}/push"
        paths = [path]
        if self._token is not None:
            paths.append(path.rstrip("/") + "/{token}")
        for route in paths:
            for method in self.parser.methods:
                app.router.add_route(method, route, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler: check the call, read it, deliver its events, answer."""
        answer = self._authorize(request.method, request.query, request.path, request.remote)
        if answer is None:
            body = await request.read() if request.can_read_body else b""
            call = self._call(
                request.method, request.query, body, request.headers, request.remote, request.path
            )
            answer = self._respond(call)
        return web.Response(
            status=answer.status, text=answer.body, content_type=answer.content_type
        )

    # ------------------------------------------------------------------ events

    def deliver(self, event: E) -> bool:
        """Hand ``event`` to every matching subscriber and keep it in the backlog.

        Returns False, and hands it to nobody, when a matching subscriber has no room
        (the caller should refuse the call so that it is repeated). Useful for tests
        and for other transports.
        """
        return self._deliver_all((event,))

    def _deliver_all(self, events: Sequence[E]) -> bool:
        targets = []
        for ids, stream in self._subscribers:
            wanted = [e for e in events if ids is None or _matches(e, ids)]
            if not wanted:
                continue
            stats = stream.statistics()
            if stats.open_receive_streams == 0:
                continue  # the subscription is ending
            if stats.current_buffer_used + len(wanted) > stats.max_buffer_size:
                return False
            targets.append((stream, wanted))
        for stream, wanted in targets:
            for event in wanted:
                stream.send_nowait(event)
        if self._backlog_size:
            for event in events:
                if event not in self._backlog:
                    self._backlog[event] = None
                    if len(self._backlog) > self._backlog_size:
                        del self._backlog[next(iter(self._backlog))]
        return True

    @asynccontextmanager
    async def subscribe(
        self, ids: Iterable[str] | None = None
    ) -> AsyncIterator[MemoryObjectReceiveStream[E]]:
        """Receive the events of ``ids`` (everything when ``None``)::

            async with receiver.subscribe([batch_id]) as events:
                async for event in events:
                    ...

        An event matches when its ``batch_id`` or its ``message_id`` is in ``ids``.
        The backlog's matching events come first, then new ones as they arrive.
        """
        wanted = None if ids is None else frozenset(ids)
        replay = [e for e in self._backlog if wanted is None or _matches(e, wanted)]
        send, receive = anyio.create_memory_object_stream[E](self._buffer + len(replay))
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
