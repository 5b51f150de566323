"""The simulator on an event loop of its own, in a background thread: for sync tests
(FastAPI's ``TestClient``, Django, plain ``requests``) and for other processes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from ._server import Simulator

__all__ = ["ThreadedSimulator"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class ThreadedSimulator:
    """A :class:`Simulator` running in a thread, usable without an event loop::

        with ThreadedSimulator(delivery_time=0.05) as sim:
            url = sim.client_url("every8d+soap")   # for aiosms.from_url, in any thread
            sim.call(sim.simulator.every8d.add_account, "shop", "pw")
            ...  # a sync test, a TestClient, a subprocess given sim.url

    ``with`` (or :meth:`start`) starts a :class:`Simulator` on a new event loop in a
    daemon thread and returns once it listens; leaving the block (or :meth:`close`)
    stops it and joins the thread, waiting ``stop_timeout`` seconds at most.

    The simulator's state belongs to its loop's thread: read it from there with
    :meth:`call` (a plain function, run on that thread, its result or exception
    returned) or :meth:`run` (a coroutine, run on that loop). Reading a simple
    attribute (``sim.simulator.every8d.count("sendSMS")``) between requests is fine
    from any thread; anything that changes state or iterates a collection the server
    may be writing belongs in :meth:`call`.

    Args:
        start_timeout: seconds :meth:`start` waits for the simulator to listen.
        stop_timeout: seconds :meth:`close` waits for it to stop, and for the
            thread to end; :meth:`call` and :meth:`run` wait as long by default.
        **simulator_kwargs: passed to :class:`Simulator` (``delivery_time=``,
            ``tls=``, ``push_interval=``, ``port=``…).
    """

    def __init__(
        self,
        *,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        **simulator_kwargs: Any,
    ) -> None:
        if not (start_timeout > 0 and stop_timeout > 0):
            raise ValueError("start_timeout and stop_timeout must be positive seconds")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._kwargs = simulator_kwargs
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._simulator: Simulator | None = None
        self._url: str | None = None
        self._ready = threading.Event()
        self._stopping = False
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = self._url if self._url is not None else "not started"
        return f"ThreadedSimulator({state})"

    # ------------------------------------------------------------------ what it serves

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return self._url is not None

    @property
    def simulator(self) -> Simulator:
        """The running :class:`Simulator` (its services, faults, clock); see :meth:`call`."""
        if self._simulator is None or self._url is None:
            raise RuntimeError("the simulator is not running; use 'with ThreadedSimulator()'")
        return self._simulator

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the base URL of every simulated provider."""
        if self._url is None:
            raise RuntimeError("the simulator is not running; use 'with ThreadedSimulator()'")
        return self._url

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The simulator's event loop (running in its own thread)."""
        if self._loop is None or self._url is None:
            raise RuntimeError("the simulator is not running; use 'with ThreadedSimulator()'")
        return self._loop

    def client_url(self, provider: str, **options: str) -> str:
        """The :func:`aiosms.from_url` URL of ``provider`` on this simulator; see
        :meth:`Simulator.client_url <aiosms.testing.Simulator.client_url>`."""
        return self.simulator.client_url(provider, **options)

    # ------------------------------------------------------------------ its thread

    def call(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run ``fn(*args, **kwargs)`` on the simulator's thread and return its result
        (or raise its exception), e.g. ``sim.call(sim.simulator.faults.busy, times=2)``.

        Raises:
            TimeoutError: it took longer than ``stop_timeout`` seconds.
        """
        loop = self.loop
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        done: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            if not done.set_running_or_notify_cancel():
                return
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller's thread
                done.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return self._wait(done)

    def run(self, coro: Coroutine[Any, Any, _T], /) -> _T:
        """Run a coroutine on the simulator's loop and return its result, e.g.
        ``sim.run(sim.simulator.every8d.push_due(session))``.

        Raises:
            TimeoutError: it took longer than ``stop_timeout`` seconds (it is cancelled).
        """
        try:
            loop = self.loop
        except RuntimeError:
            coro.close()
            raise
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("run() from the simulator's own thread would wait forever")
        return self._wait(asyncio.run_coroutine_threadsafe(coro, loop))

    def _wait(self, future: concurrent.futures.Future[_T]) -> _T:
        try:
            return future.result(self.stop_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"the simulator's thread did not answer within {self.stop_timeout} s"
            ) from None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the simulator's thread; return once it listens (or raise why not)."""
        if self._thread is not None:
            if self._url is None:
                raise RuntimeError("this ThreadedSimulator was closed; make a new one")
            return
        self._thread = threading.Thread(target=self._serve, name="aiosms-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            self._request_stop()
            self._thread.join(self.stop_timeout)
            raise TimeoutError(f"the simulator did not start within {self.start_timeout} s")
        if self._error is not None:
            self._thread.join(self.stop_timeout)
            error, self._error = self._error, None
            raise error

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # raised by start(), or close() if it ran
            self._error = exc
        finally:
            self._url = None
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        simulator = Simulator(**self._kwargs)
        async with simulator:
            self._simulator = simulator
            self._url = simulator.url
            self._ready.set()
            if not self._stopping:
                await self._stop.wait()
            self._url = None

    def _request_stop(self) -> None:
        self._stopping = True
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(stop.set)

    def close(self) -> None:
        """Stop the simulator and join its thread (safe twice).

        Raises:
            TimeoutError: the thread did not end within ``stop_timeout`` seconds (it is
                a daemon thread, so it never keeps the interpreter alive).
        """
        thread = self._thread
        if thread is None:
            return
        self._request_stop()
        if threading.current_thread() is thread:
            return  # called on the loop's thread: it stops when this call returns
        thread.join(self.stop_timeout)
        self._url = None
        if thread.is_alive():
            raise TimeoutError(f"the simulator's thread did not stop within {self.stop_timeout} s")
        error, self._error = self._error, None
        if error is not None:
            raise RuntimeError("the simulator failed while stopping") from error

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
