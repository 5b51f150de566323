"""OpenTelemetry spans and counters, when ``opentelemetry-api`` is installed
(``pip install "aiosms[otel]"``); nothing at all otherwise.

Every provider call is one span, ``aiosms <provider> <operation>`` (client kind), with
``aiosms.provider``, ``aiosms.operation``, ``aiosms.send`` (whether repeating it could
send twice), ``http.response.status_code``, ``aiosms.attempts`` and, on failure,
``error.type`` and ``aiosms.provider_code``. Counters: ``aiosms.requests`` (by provider,
operation, outcome), ``aiosms.sends.outcome_unknown``, ``aiosms.session.renewals`` and
``aiosms.watch.polls``. Only names and codes go in: never a password, key, session key,
message text or phone number (the operation is the SOAP action's name or the URL path's
last segment, which hold none).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = ["attempt", "count_poll", "count_renewal", "enabled", "provider_call", "status"]

_VERSION: Final = "0.1.0"
_tracer: Any = None
_requests: Any = None
_unknown: Any = None
_renewals: Any = None
_polls: Any = None
_kind: Any = None
_trace: Any = None
_idle: Any = ()  # the API's stand-in providers: while one is set, nothing is recorded
_ready = False


def _start() -> None:
    """Find opentelemetry-api (once, at the first provider call, so that ``import
    aiosms`` never pays for it) and make the tracer and counters."""
    global _tracer, _requests, _unknown, _renewals, _polls, _kind, _trace, _idle, _ready
    _ready = True
    try:  # an optional extra
        from opentelemetry import metrics, trace
    except ImportError:  # pragma: no cover - exercised where the extra is absent
        return
    meter = metrics.get_meter("aiosms", _VERSION)
    _requests = meter.create_counter("aiosms.requests", description="provider calls")
    _unknown = meter.create_counter(
        "aiosms.sends.outcome_unknown", description="sends that may or may not have gone out"
    )
    _renewals = meter.create_counter("aiosms.session.renewals", description="session keys")
    _polls = meter.create_counter("aiosms.watch.polls", description="watch polls")
    _kind = trace.SpanKind.CLIENT
    _trace = trace
    _idle = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    _tracer = trace.get_tracer("aiosms", _VERSION)


_attempts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "aiosms_attempts", default=None
)


def enabled() -> bool:
    """Whether anything would be recorded: opentelemetry-api is installed and the
    application has set a tracer provider (until it does, the API's own no-op would
    cost a send more than a tenth of its time for nothing)."""
    if not _ready:
        _start()
    if _tracer is None:
        return False
    # The API's global, read directly: get_tracer_provider() looks in os.environ each
    # time (1 µs, a percent of a loopback send); the call is the fallback.
    provider = getattr(_trace, "_TRACER_PROVIDER", _trace)
    if provider is _trace:
        provider = _trace.get_tracer_provider()
    return provider is not None and not isinstance(provider, _idle)


def attempt() -> None:
    """Count one more attempt of the provider call in progress (retries included)."""
    box = _attempts.get()
    if box is not None:
        box[0] += 1


def status(code: int) -> None:
    """The HTTP status the provider call in progress was answered with."""
    box = _attempts.get()
    if box is not None:
        box[1] = code


def operation_of(url: str, headers: Any) -> str:
    """The operation's name: the SOAP action's last segment, else the URL path's."""
    action = ""
    if headers:
        action = str(headers.get("SOAPAction", "") or "")
        if not action:
            content_type = str(headers.get("Content-Type", "") or "")
            if 'action="' in content_type:
                action = content_type.split('action="', 1)[1].split('"', 1)[0]
    name = (action.strip('"') or url.split("?", 1)[0]).rstrip("/").rsplit("/", 1)[-1]
    return name[:64] or "request"


@contextmanager
def provider_call(provider: str, operation: str, *, send: bool) -> Iterator[Any]:
    """A span (and the request counter) around one provider call; yields the span."""
    from .errors import SendOutcomeUnknownError, SmsError, TransportError

    box = [0, 0]
    token = _attempts.set(box)
    attributes = {"aiosms.provider": provider, "aiosms.operation": operation, "aiosms.send": send}
    outcome = "ok"
    try:
        with _tracer.start_as_current_span(
            f"aiosms {provider} {operation}", kind=_kind, attributes=attributes
        ) as span:
            try:
                yield span
            except BaseException as exc:
                outcome = type(exc).__name__
                span.set_attribute("error.type", outcome)
                if isinstance(exc, SmsError) and exc.code is not None:
                    span.set_attribute("aiosms.provider_code", str(exc.code)[:40])
                if isinstance(exc, TransportError) and exc.status is not None:
                    span.set_attribute("http.response.status_code", exc.status)
                if isinstance(exc, SendOutcomeUnknownError):
                    _unknown.add(1, {"aiosms.provider": provider, "aiosms.operation": operation})
                raise
            finally:
                span.set_attribute("aiosms.attempts", box[0])
                if box[1]:
                    span.set_attribute("http.response.status_code", box[1])
    finally:
        _attempts.reset(token)
        _requests.add(1, {**attributes, "aiosms.outcome": outcome})


def count_renewal(provider: str) -> None:
    """One session key fetched or renewed."""
    if enabled():
        _renewals.add(1, {"aiosms.provider": provider})


def count_poll() -> None:
    """One watch poll."""
    if enabled():
        _polls.add(1)
