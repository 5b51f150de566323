"""The simulator's HTTP server: one aiohttp.web app on 127.0.0.1 that mounts services."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from types import TracebackType
from typing import Protocol, Self

import aiohttp
from aiohttp import web

from .._soap import DEFAULT_NAMESPACE
from ._eims import EimsService, EimsWorld
from ._every8d import Every8dWorld
from ._every8d_http import Every8dHttpService
from ._every8d_soap import Every8dSoapService
from ._faults import Faults
from ._push import PushSource, push_source_of
from ._smscenter import SmsCenterService
from ._smscenter_mail import SmsCenterMailHandler
from ._smscenter_world import SmsCenterWorld
from ._tls import ThrowawayTls

__all__ = ["SimulatedService", "Simulator"]

_MAX_REQUEST_BYTES = 64 * 1024 * 1024
_SHUTDOWN_TIMEOUT = 2.0


class SimulatedService(Protocol):
    """What a provider simulation mounted on a :class:`Simulator` provides.

    A service that pushes to its customer is also a
    :class:`~aiosms.testing.PushSource`, or names one as its ``push_source``.
    """

    def matches(self, path: str) -> bool:
        """True when the service answers requests to ``path``."""
        ...

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one HTTP request."""
        ...


class Simulator:
    """SMS gateway simulator on a local port, for tests and benchmarks.

    ``async with Simulator() as sim:`` starts it on ``127.0.0.1`` and a free port
    (``sim.url``); point a client's ``base_url`` at ``sim.url``. ``sim.every8d`` is the
    EVERY8D SOAP endpoint (its call log, and the accounts, batches and pushes of the
    EVERY8D world it serves, ``sim.every8d.world``), ``sim.every8d_http`` the EVERY8D
    HTTP API 2.1 endpoints (``…/API21/HTTP/*.ashx``, SMS and MMS) on that same world:
    one credit balance, the same accounts and batches (an SMS batch sent by SOAP shows
    in the HTTP reports), their own call log. ``sim.faults`` is the fault queue every
    service draws from (HTTP API rules name ``"sendSMS.ashx"``, ``"MMS/sendMMS.ashx"``,
    ``"getDeliveryStatus.ashx"``, ``"MMS/getDeliveryStatus.ashx"``,
    ``"getCredit.ashx"``, ``"eraseBooking.ashx"`` or ``"MMS/eraseBooking.ashx"``, so
    they never catch a SOAP call), and :meth:`advance` moves the simulator clock forward.

    The EVERY8D world starts with one account, ``demo`` / ``demo-password``, with 1000
    credit; add others with ``sim.every8d.add_account(user, password, credit=…)``.

    ``sim.smscenter`` is SMSCenter (its SOAP web services, ``pushsms.aspx``, delivery
    notifications to ``sim.smscenter.world.notify_url``); with ``smtp=True`` its Email
    2 SMS intake listens on ``127.0.0.1:sim.smtp_port`` too.

    While it runs, a push loop makes the pushes every push source owes (the EVERY8D
    world once its ``push_url`` is set, and any mounted service that pushes; see
    :meth:`mount`), every ``push_interval`` seconds.

    Args:
        host: the address to listen on.
        port: the port (0 picks a free one).
        delivery_time: seconds EVERY8D messages take to reach their final status.
        namespace: the EVERY8D SOAP service namespace.
        push_interval: how often pushes that are due are made (for each push source
            with a ``push_url``), in seconds.
        tls: serve HTTPS with a throwaway self-signed certificate (``sim.url`` is then
            ``https://…``; trust it with :meth:`client_ssl_context`). Needs trustme.
        smtp: also run SMSCenter's Email 2 SMS intake, an SMTP server on the same host
            and event loop (``sim.smtp_port``). Needs aiosmtpd.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delivery_time: float = 0.2,
        namespace: str = DEFAULT_NAMESPACE,
        push_interval: float = 0.02,
        tls: bool = False,
        smtp: bool = False,
    ) -> None:
        if not push_interval > 0:
            raise ValueError(f"push_interval must be > 0, not {push_interval!r}")
        self.push_interval = push_interval
        self.host = host
        self.port = port
        self._offset = 0.0
        self.faults = Faults()
        self.every8d = Every8dSoapService(
            namespace=namespace,
            world=Every8dWorld(delivery_time=delivery_time, clock=self.now),
            faults=self.faults,
        )
        self.every8d_http = Every8dHttpService(world=self.every8d.world, faults=self.faults)
        self._services: list[SimulatedService] = []
        self._push_sources: list[PushSource] = []
        self.mount(self.every8d)
        self.mount(self.every8d_http)
        # EIMS: the gateway's paths, on a world of its own.
        self.eims = EimsService(
            world=EimsWorld(delivery_time=delivery_time, clock=self.now), faults=self.faults
        )
        self.mount(self.eims)
        # SMSCenter: SOAP web services and the HTTP push on one world (+ SMTP intake).
        self.smscenter = SmsCenterService(
            world=SmsCenterWorld(delivery_time=delivery_time, clock=self.now), faults=self.faults
        )
        self.mount(self.smscenter)
        self.tls = tls
        self.smtp = smtp
        self._tls: ThrowawayTls | None = None
        self._smtp_server: asyncio.Server | None = None
        self._smtp_port: int | None = None
        self._smtp_sessions: list[asyncio.BaseProtocol] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._pusher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = self._url if self._url is not None else "not started"
        return f"Simulator({state})"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the base URL of every simulated provider."""
        if self._url is None:
            raise RuntimeError("the simulator is not running; use 'async with Simulator()'")
        return self._url

    def client_url(
        self,
        provider: str,
        *,
        account: str = "demo",
        password: str = "demo-password",  # noqa: S107  (the simulator's demo account)
        **options: str,
    ) -> str:
        """The :func:`aiosms.from_url` URL of ``provider`` on this running simulator::

            sim.client_url("every8d+soap")  # every8d+soap+http://demo:demo-password@127.0.0.1:N
            sim.client_url("smscenter", sender="Shop")  # smscenter+http://…?sender=Shop

        ``provider`` is one of :func:`~aiosms.from_url`'s schemes: ``"every8d+soap"``,
        ``"every8d+http"``, ``"eims"`` or ``"smscenter"`` (whose ``sender`` defaults to
        ``"aiosms"``). ``account``/``password`` default to the account every world
        starts with (percent-encoded here); ``options`` become the URL's query
        (``soap="1.2"``, ``key=…``). The transport is ``+https`` with ``tls=True``
        (give the client a session trusting :meth:`client_ssl_context`).
        """
        from urllib.parse import quote, urlencode

        schemes = ("every8d+soap", "every8d+http", "eims", "smscenter")
        if provider not in schemes:
            valid = ", ".join(repr(name) for name in schemes)
            raise ValueError(f"unknown provider {provider!r}; use one of {valid}")
        if provider == "smscenter":
            options.setdefault("sender", "aiosms")
        address = self.url.partition("://")[2]
        secret = f"{quote(account, safe='')}:{quote(password, safe='')}"
        query = f"?{urlencode(options)}" if options else ""
        return f"{provider}+{'https' if self.tls else 'http'}://{secret}@{address}{query}"

    @property
    def smtp_port(self) -> int:
        """The port of the Email 2 SMS intake (``Simulator(smtp=True)``, running)."""
        if self._smtp_port is None:
            raise RuntimeError("no SMTP intake: use 'async with Simulator(smtp=True)'")
        return self._smtp_port

    def client_ssl_context(self) -> ssl.SSLContext:
        """An :class:`ssl.SSLContext` that trusts the simulator's throwaway certificate
        (``Simulator(tls=True)``), e.g. for ``aiohttp.TCPConnector(ssl=...)``."""
        if not self.tls:
            raise RuntimeError("the simulator serves plain HTTP; use Simulator(tls=True)")
        if self._tls is None:
            self._tls = ThrowawayTls.create(self.host)
        return self._tls.client_context()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`aclose`."""
        return self._runner is not None

    def now(self) -> float:
        """The simulator clock: ``time.time()`` plus everything :meth:`advance` added."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the simulator clock forward without sleeping.

        Scheduled messages whose time has come go out, deliveries progress and session
        keys age, as if ``seconds`` had passed.
        """
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        self._offset += seconds

    def mount(self, service: SimulatedService) -> None:
        """Add a provider simulation; the first mounted service matching a path answers.

        If the service pushes (it is a :class:`~aiosms.testing.PushSource`, or names
        one as its ``push_source``), the push loop makes its pushes too; a source that
        several endpoints share (one provider world) is asked once per round.
        """
        self._services.append(service)
        source = push_source_of(service)
        if source is not None and not any(source is known for known in self._push_sources):
            self._push_sources.append(source)

    async def start(self) -> None:
        """Start listening (does nothing when already running)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=_MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            context: ssl.SSLContext | None = None
            if self.tls:
                if self._tls is None:
                    self._tls = ThrowawayTls.create(self.host)
                context = self._tls.server
            site = web.TCPSite(runner, self.host, self.port, ssl_context=context)
            await site.start()
            address = runner.addresses[0]
            if self.smtp:
                await self._start_smtp()
        except BaseException:
            await self._close_smtp()
            await runner.cleanup()
            raise
        host, port = address[0], address[1]
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self._url = f"{'https' if self.tls else 'http'}://{shown}:{port}"
        self._runner = runner
        # A task of its own (not a task group): start() and aclose() may be awaited
        # from different tasks, which a task group would not allow.
        self._pusher = asyncio.get_running_loop().create_task(self._push_loop())

    async def _start_smtp(self) -> None:
        from aiosmtpd.smtp import SMTP  # a test extra: only needed with smtp=True

        handler = SmsCenterMailHandler(self.smscenter.world)

        def session() -> asyncio.BaseProtocol:
            protocol: asyncio.BaseProtocol = SMTP(handler, hostname="smscenter.sim")
            self._smtp_sessions.append(protocol)
            return protocol

        server = await asyncio.get_running_loop().create_server(session, self.host, 0)
        self._smtp_server = server
        self._smtp_port = server.sockets[0].getsockname()[1]

    async def _close_smtp(self) -> None:
        server, self._smtp_server = self._smtp_server, None
        self._smtp_port = None
        if server is None:
            return
        server.close()
        sessions, self._smtp_sessions = self._smtp_sessions, []
        for protocol in sessions:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        with contextlib.suppress(TimeoutError):  # a session that would not go: leave it
            await asyncio.wait_for(server.wait_closed(), _SHUTDOWN_TIMEOUT)

    async def _push_loop(self) -> None:
        """Every ``push_interval``: each push source with a ``push_url`` pushes what is due."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await asyncio.sleep(self.push_interval)
                for source in self._push_sources:
                    if source.push_url is not None:
                        await source.push_due(session)

    async def aclose(self) -> None:
        """Stop listening and drop open connections (safe to call twice)."""
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        self._url = None
        self.faults.cancel_sleeps()
        pusher, self._pusher = self._pusher, None
        if pusher is not None:
            pusher.cancel()
            await asyncio.wait([pusher])  # never raises the task's CancelledError
        await self._close_smtp()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        for service in self._services:
            if service.matches(request.path):
                return await service.handle(request)
        return web.Response(
            status=404,
            text=f"404 Not Found: no simulated service at {request.path}\n",
        )
