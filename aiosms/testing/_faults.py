"""Fault injection: make the simulator's next requests misbehave on purpose.

Each rule applies to the next ``times`` requests that match it (optionally only those
for one ``operation``), then disappears. Rules are kept in the order they were added:
a request consumes at most one :meth:`Faults.delay` rule and, independently, the first
matching rule among ``drop``, ``http_error``, ``malformed`` and ``busy``; the others
wait for later requests.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Literal

import anyio
import attrs
from aiohttp import web

__all__ = ["FaultKind", "FaultPlan", "FaultRule", "Faults"]

FaultKind = Literal["busy", "delay", "drop", "malformed", "http_error"]


@attrs.define
class FaultRule:
    """One queued fault.

    Attributes:
        kind: what the fault does.
        remaining: how many more requests it applies to.
        operation: the only operation it applies to, or ``None`` for any.
        seconds: the delay (``delay`` rules).
        after_processing: carry the operation out before dropping (``drop`` rules).
        body: the raw bytes answered (``malformed`` rules).
        status: the HTTP status answered (``malformed`` and ``http_error`` rules).
        content_type: the Content-Type answered (``malformed`` rules).
    """

    kind: FaultKind
    remaining: int
    operation: str | None = None
    seconds: float = 0.0
    after_processing: bool = False
    body: bytes = attrs.field(default=b"", repr=lambda b: f"<{len(b)} bytes>")
    status: int = 200
    content_type: str = "text/xml; charset=utf-8"

    def matches(self, operation: str, *, busy_capable: bool) -> bool:
        """Whether this rule applies to a request for ``operation``."""
        if self.remaining <= 0:
            return False
        if self.operation is not None and self.operation != operation:
            return False
        return self.kind != "busy" or busy_capable


@attrs.frozen
class FaultPlan:
    """The faults one request drew: a delay, then at most one action.

    Attributes:
        delay: seconds to wait before answering (0 for none).
        action: the ``drop``/``http_error``/``malformed``/``busy`` rule that applies,
            as it was when drawn, or ``None``.
    """

    delay: float = 0.0
    action: FaultRule | None = None

    @property
    def busy(self) -> bool:
        """True when the operation must answer "busy" instead of running."""
        return self.action is not None and self.action.kind == "busy"

    @property
    def names(self) -> tuple[str, ...]:
        """The kinds of fault drawn, e.g. ``("delay", "drop")``, for call logs."""
        found: list[str] = []
        if self.delay > 0:
            found.append("delay")
        if self.action is not None:
            found.append(self.action.kind)
        return tuple(found)


def _check_times(times: int) -> int:
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError(f"times must be a positive int, not {times!r}")
    return times


class Faults:
    """The fault queue of a :class:`~aiosms.testing.Simulator` (``sim.faults``).

    Example::

        sim.faults.drop(operation="sendSMS", after_processing=True)  # outcome unknown
        sim.faults.delay(2.0)                                        # next request is slow
        sim.faults.busy(times=3)                                     # getConnection -> -97
    """

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._sleeps: set[anyio.CancelScope] = set()

    def __repr__(self) -> str:
        return f"Faults({self._rules!r})"

    @property
    def pending(self) -> tuple[FaultRule, ...]:
        """Copies of the rules that still apply to future requests, oldest first."""
        return tuple(attrs.evolve(rule) for rule in self._rules if rule.remaining > 0)

    def _add(self, rule: FaultRule) -> None:
        self._rules.append(rule)

    def busy(self, times: int = 1) -> None:
        """Answer "busy" to the next ``times`` calls of operations that have such an answer.

        A service says which operations do (EVERY8D: ``getConnection``, code ``-97``);
        other requests leave the rule queued.
        """
        self._add(FaultRule("busy", _check_times(times)))

    def delay(self, seconds: float, times: int = 1, operation: str | None = None) -> None:
        """Wait ``seconds`` before handling each of the next ``times`` requests."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, not {seconds!r}")
        self._add(FaultRule("delay", _check_times(times), operation, seconds=float(seconds)))

    def drop(
        self, times: int = 1, operation: str | None = None, after_processing: bool = False
    ) -> None:
        """Close the TCP connection instead of answering the next ``times`` requests.

        With ``after_processing=True`` the operation is carried out first (a send is
        recorded and charged), which is the "outcome unknown" case for a client.
        """
        self._add(
            FaultRule("drop", _check_times(times), operation, after_processing=after_processing)
        )

    def malformed(
        self,
        body: bytes,
        times: int = 1,
        operation: str | None = None,
        status: int = 200,
        content_type: str = "text/xml; charset=utf-8",
    ) -> None:
        """Answer the next ``times`` requests with the raw ``body`` bytes instead."""
        if not isinstance(body, bytes):
            raise TypeError(f"body must be bytes, not {type(body).__name__}")
        self._add(
            FaultRule(
                "malformed",
                _check_times(times),
                operation,
                body=body,
                status=status,
                content_type=content_type,
            )
        )

    def http_error(self, status: int, times: int = 1, operation: str | None = None) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` and a plain-text body."""
        if not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {status!r}")
        self._add(FaultRule("http_error", _check_times(times), operation, status=status))

    def clear(self) -> None:
        """Forget every queued fault."""
        self._rules.clear()

    def take(self, operation: str, *, busy_capable: bool = False) -> FaultPlan:
        """Draw the faults for one request to ``operation`` (used by the services).

        ``busy_capable`` says whether the operation has a "busy" answer (e.g. EVERY8D's
        ``getConnection``); ``busy`` rules only match such operations.
        """
        delay_rule: FaultRule | None = None
        action: FaultRule | None = None
        for rule in self._rules:
            if not rule.matches(operation, busy_capable=busy_capable):
                continue
            if rule.kind == "delay":
                if delay_rule is None:
                    delay_rule = rule
            elif action is None:
                action = rule
            if delay_rule is not None and action is not None:
                break
        for drawn in (delay_rule, action):
            if drawn is not None:
                drawn.remaining -= 1
        self._rules = [rule for rule in self._rules if rule.remaining > 0]
        return FaultPlan(
            delay=delay_rule.seconds if delay_rule is not None else 0.0,
            action=attrs.evolve(action) if action is not None else None,
        )

    async def sleep(self, seconds: float) -> bool:
        """Sleep for a delay fault; False when :meth:`cancel_sleeps` cut it short."""
        with anyio.CancelScope() as scope:
            self._sleeps.add(scope)
            try:
                await anyio.sleep(seconds)
            finally:
                self._sleeps.discard(scope)
        return not scope.cancelled_caught

    def cancel_sleeps(self) -> None:
        """Cut every ongoing delay short (the simulator does this when it closes)."""
        for scope in list(self._sleeps):
            scope.cancel()

    async def serve(
        self,
        request: web.BaseRequest,
        plan: FaultPlan,
        process: Callable[[], web.StreamResponse],
    ) -> web.StreamResponse:
        """Answer ``request`` by calling ``process`` under the faults of ``plan``.

        ``process`` carries the operation out and builds the normal reply; a ``busy``
        action is left to it (check ``plan.busy``).
        """
        if plan.delay > 0 and not await self.sleep(plan.delay):
            return drop_connection(request)  # the simulator is closing
        action = plan.action
        if action is not None:
            if action.kind == "drop" and not action.after_processing:
                return drop_connection(request)
            if action.kind == "http_error":
                return http_error_response(action.status)
            if action.kind == "malformed":
                return web.Response(
                    body=action.body,
                    status=action.status,
                    headers={"Content-Type": action.content_type},
                )
        response = process()
        if action is not None and action.kind == "drop":
            return drop_connection(request)
        return response


def http_error_response(status: int) -> web.Response:
    """A plain-text reply with HTTP ``status`` (its reason phrase as the body)."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    return web.Response(
        text=f"{status} {reason}\n",
        status=status,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )


def drop_connection(request: web.BaseRequest) -> web.StreamResponse:
    """Close the request's TCP connection so that no HTTP reply is sent.

    Returns a response for the handler to return: aiohttp finds the transport closing
    when it tries to write it, and quietly treats the exchange as a client disconnect.
    """
    transport = request.transport
    if transport is not None:
        transport.close()
    response = web.Response(status=444)  # nginx: "connection closed without response"
    response.force_close()
    return response
