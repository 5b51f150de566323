"""aiosms._transport.Transport: retries, never-send-twice, status handling, size cap,
redaction, session ownership. Replies come from aioresponses, or from a tiny aiohttp.web
server on 127.0.0.1 where real socket behaviour matters."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from aioresponses import aioresponses
from yarl import URL

import aiosms._bodies
from aiosms._soap import build_envelope
from aiosms._transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, HttpResponse, Transport
from aiosms.errors import (
    InvalidRequestError,
    ResponseFormatError,
    SendOutcomeUnknownError,
    TransportError,
)

URL_ = "http://sms.test/API21/SOAP/SMS.asmx"
SECRET = "p&ss<w>rd"


def transport(**kwargs: object) -> Transport:
    options: dict[str, object] = {"provider": "every8d", "backoff": 0.001, "max_backoff": 0.01}
    options.update(kwargs)
    return Transport(**options)  # type: ignore[arg-type]


@pytest.fixture
async def tp() -> AsyncIterator[Transport]:
    t = transport()
    yield t
    await t.aclose()


class _MockResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates the ``stream_writer`` argument aiohttp 3.14 requires
    of a ClientResponse; supply a stand-in so its canned replies can be built."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class _Responses(aioresponses):
    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:  # type: ignore[override]
        kwargs.setdefault("response_class", _MockResponse)
        super().add(url, method, **kwargs)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with _Responses() as m:
        yield m


def calls(m: aioresponses, method: str = "POST", url: str = URL_) -> int:
    return len(m.requests.get((method, URL(url)), []))


def connector_error() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("sms.test", 80, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start an aiohttp.web server on 127.0.0.1 (any free port) answering with ``handler``."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/API21/SOAP/SMS.asmx"

    yield start
    for runner in runners:
        await runner.cleanup()


# ------------------------------------------------------------------- success and statuses


async def test_returns_status_body_and_content_type(tp: Transport, mocked: aioresponses) -> None:
    mocked.post(URL_, status=200, body="<ok/>", content_type="text/xml")
    response = await tp.request("POST", URL_, body=b"<x/>", idempotent=True)
    assert response == HttpResponse(200, b"<ok/>", "text/xml")
    assert calls(mocked) == 1


def test_response_repr_hides_the_body() -> None:
    shown = repr(HttpResponse(200, b"session-key-abc", "text/xml"))
    assert "session-key-abc" not in shown
    assert "15 bytes" in shown


async def test_sends_body_headers_and_params(tp: Transport, mocked: aioresponses) -> None:
    mocked.get(URL_ + "?a=1", status=200, body="x")
    await tp.request("GET", URL_, params={"a": "1"}, headers={"X-Test": "y"}, idempotent=True)
    (call,) = mocked.requests[("GET", URL(URL_ + "?a=1"))]
    assert call.kwargs["headers"]["X-Test"] == "y"
    assert call.kwargs["headers"]["User-Agent"].startswith("aiosms/")


@pytest.mark.parametrize("status", [503, 502, 504, 429])
async def test_idempotent_call_is_retried_on_transient_status(
    tp: Transport, mocked: aioresponses, status: int
) -> None:
    mocked.post(URL_, status=status)
    mocked.post(URL_, status=status)
    mocked.post(URL_, status=200, body="done")
    response = await tp.request("POST", URL_, body=b"q", idempotent=True)
    assert (response.status, response.body) == (200, b"done")
    assert calls(mocked) == 3


async def test_retries_stop_after_the_attempts(mocked: aioresponses) -> None:
    t = transport(attempts=2)
    mocked.post(URL_, status=503, repeat=True)
    with pytest.raises(TransportError) as info:
        await t.request("POST", URL_, body=b"q", idempotent=True)
    await t.aclose()
    assert calls(mocked) == 2
    assert (info.value.status, info.value.retryable, info.value.provider) == (
        503,
        True,
        "every8d",
    )
    assert not isinstance(info.value, SendOutcomeUnknownError)


@pytest.mark.parametrize("status", [500, 503, 502, 504])
async def test_non_idempotent_5xx_is_outcome_unknown_and_not_retried(
    tp: Transport, mocked: aioresponses, status: int
) -> None:
    mocked.post(URL_, status=status, repeat=True)
    with pytest.raises(SendOutcomeUnknownError) as info:
        await tp.request("POST", URL_, body=b"send", idempotent=False)
    assert calls(mocked) == 1
    assert info.value.status == status
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("status", "idempotent"),
    [
        (s, i)
        for s in (400, 401, 403, 404, 405, 413, 429)
        for i in (True, False)
        # 429 on an idempotent call is retried instead (tested above).
        if (s, i) != (429, True)
    ],
)
async def test_4xx_is_a_transport_error_with_its_status(
    tp: Transport, mocked: aioresponses, status: int, idempotent: bool
) -> None:
    mocked.post(URL_, status=status, repeat=True)
    with pytest.raises(TransportError) as info:
        await tp.request("POST", URL_, body=b"q", idempotent=idempotent)
    assert type(info.value) is TransportError  # rejected, so not "outcome unknown"
    assert info.value.status == status
    assert str(status) in str(info.value)
    assert calls(mocked) == 1


async def test_500_on_an_idempotent_call_is_not_retried(
    tp: Transport, mocked: aioresponses
) -> None:
    mocked.post(URL_, status=500, repeat=True)
    with pytest.raises(TransportError) as info:
        await tp.request("POST", URL_, body=b"q", idempotent=True)
    assert (info.value.status, info.value.retryable) == (500, False)
    assert calls(mocked) == 1


@pytest.mark.parametrize("idempotent", [True, False])
async def test_pass_statuses_are_handed_back(
    tp: Transport, mocked: aioresponses, idempotent: bool
) -> None:
    fault = b"<soap:Envelope><soap:Body><soap:Fault/></soap:Body></soap:Envelope>"
    mocked.post(URL_, status=500, body=fault, content_type="text/xml")
    response = await tp.request(
        "POST", URL_, body=b"q", idempotent=idempotent, pass_statuses=frozenset({500})
    )
    assert (response.status, response.body) == (500, fault)
    assert calls(mocked) == 1


async def test_3xx_without_location_is_returned(tp: Transport, mocked: aioresponses) -> None:
    mocked.post(URL_, status=304)
    assert (await tp.request("POST", URL_, idempotent=True)).status == 304


# ------------------------------------------------------------------- never send twice


@pytest.mark.parametrize(
    "error",
    [
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
        aiohttp.SocketTimeoutError("read timed out"),
        aiohttp.ClientPayloadError("truncated"),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_send_that_may_have_left_is_never_retried(
    tp: Transport, mocked: aioresponses, error: Exception
) -> None:
    mocked.post(URL_, exception=error)
    mocked.post(URL_, status=200, body="second send")  # must never be reached
    with pytest.raises(SendOutcomeUnknownError) as info:
        await tp.request("POST", URL_, body=b"send", idempotent=False)
    assert calls(mocked) == 1
    assert info.value.provider == "every8d"
    assert not info.value.retryable
    assert "not retried" in str(info.value)


@pytest.mark.parametrize(
    "error",
    [aiohttp.ServerDisconnectedError(), TimeoutError()],
    ids=lambda e: type(e).__name__,
)
async def test_idempotent_call_is_retried_after_a_dropped_connection(
    tp: Transport, mocked: aioresponses, error: Exception
) -> None:
    mocked.post(URL_, exception=error)
    mocked.post(URL_, status=200, body="ok")
    response = await tp.request("POST", URL_, body=b"q", idempotent=True)
    assert response.body == b"ok"
    assert calls(mocked) == 2


async def test_idempotent_call_that_keeps_failing_raises_a_retryable_error(
    tp: Transport, mocked: aioresponses
) -> None:
    mocked.post(URL_, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(TransportError) as info:
        await tp.request("POST", URL_, body=b"q", idempotent=True)
    assert type(info.value) is TransportError
    assert info.value.retryable
    assert calls(mocked) == 3


@pytest.mark.parametrize(
    "make_error",
    [connector_error, lambda: aiohttp.ConnectionTimeoutError("connect timed out")],
    ids=["ClientConnectorError", "ConnectionTimeoutError"],
)
@pytest.mark.parametrize("idempotent", [True, False])
async def test_connection_never_opened_is_retried_even_for_a_send(
    tp: Transport,
    mocked: aioresponses,
    make_error: Callable[[], Exception],
    idempotent: bool,
) -> None:
    mocked.post(URL_, exception=make_error())
    mocked.post(URL_, exception=make_error())
    mocked.post(URL_, status=200, body="sent once")
    response = await tp.request("POST", URL_, body=b"send", idempotent=idempotent)
    assert response.body == b"sent once"
    assert calls(mocked) == 3


async def test_connection_never_opened_gives_up_after_the_attempts(
    tp: Transport, mocked: aioresponses
) -> None:
    mocked.post(URL_, exception=connector_error(), repeat=True)
    with pytest.raises(TransportError, match="could not connect") as info:
        await tp.request("POST", URL_, body=b"send", idempotent=False)
    assert type(info.value) is TransportError  # nothing left: the outcome is known
    assert info.value.retryable
    assert calls(mocked) == 3


async def test_real_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = transport(attempts=2)
    with pytest.raises(TransportError, match="could not connect") as info:
        await t.request("POST", f"http://127.0.0.1:{port}/x", body=b"q", idempotent=False)
    await t.aclose()
    assert type(info.value) is TransportError


async def test_real_timeout_of_a_send_is_outcome_unknown(serve) -> None:  # type: ignore[no-untyped-def]
    seen = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        await request.read()
        await asyncio.sleep(5)
        return web.Response(text="too late")

    url = await serve(slow)
    t = transport(timeout=0.2)
    started = time.perf_counter()
    with pytest.raises(SendOutcomeUnknownError):
        await t.request("POST", url, body=b"send", idempotent=False)
    assert time.perf_counter() - started < 3
    await t.aclose()
    assert seen == 1


async def test_real_timeout_of_an_idempotent_call_is_retried(serve) -> None:  # type: ignore[no-untyped-def]
    seen = 0

    async def slow_then_fast(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        if seen == 1:
            await asyncio.sleep(5)
        return web.Response(text="ok")

    url = await serve(slow_then_fast)
    t = transport(timeout=0.2)
    response = await t.request("POST", url, body=b"q", idempotent=True)
    await t.aclose()
    assert (response.body, seen) == (b"ok", 2)


# ------------------------------------------------------------------- response-size cap


@pytest.mark.parametrize("size", [100, 101, 10_000])
async def test_cap_with_content_length(mocked: aioresponses, size: int) -> None:
    t = transport(max_response_bytes=100)
    mocked.post(URL_, status=200, body=b"x" * size, headers={"Content-Length": str(size)})
    if size <= 100:
        assert len((await t.request("POST", URL_, idempotent=True)).body) == size
    else:
        with pytest.raises(ResponseFormatError, match="max_response_bytes") as info:
            await t.request("POST", URL_, idempotent=True)
        assert info.value.provider == "every8d"
    await t.aclose()
    assert calls(mocked) == 1  # a refused reply is not fetched again


@pytest.mark.parametrize("size", [100, 101])
async def test_cap_without_content_length(mocked: aioresponses, size: int) -> None:
    t = transport(max_response_bytes=100)
    mocked.post(URL_, status=200, body=b"x" * size)
    if size <= 100:
        assert len((await t.request("POST", URL_, idempotent=True)).body) == size
    else:
        with pytest.raises(ResponseFormatError, match="max_response_bytes"):
            await t.request("POST", URL_, idempotent=True)
    await t.aclose()


async def test_cap_on_a_real_chunked_reply(serve) -> None:  # type: ignore[no-untyped-def]
    sent_chunks = 0

    async def chunked(request: web.Request) -> web.StreamResponse:
        nonlocal sent_chunks
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(1000):  # far more than the cap, if anyone kept reading
                await response.write(b"y" * 512)
                sent_chunks += 1
                await asyncio.sleep(0)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        return response

    url = await serve(chunked)
    t = transport(max_response_bytes=4096)
    started = time.perf_counter()
    with pytest.raises(ResponseFormatError, match="longer than 4096") as info:
        await t.request("GET", url, idempotent=True)
    assert time.perf_counter() - started < 5
    await t.aclose()
    assert "Content-Length" not in str(info.value)


async def test_real_chunked_reply_under_the_cap_is_read_whole(serve) -> None:  # type: ignore[no-untyped-def]
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(10):
            await response.write(bytes([48 + i]) * 100)
        await response.write_eof()
        return response

    url = await serve(chunked)
    t = transport(max_response_bytes=1000)
    body = (await t.request("GET", url, idempotent=True)).body
    await t.aclose()
    assert body == b"".join(bytes([48 + i]) * 100 for i in range(10))


async def test_real_content_length_over_the_cap_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"z" * 200_000)

    url = await serve(big)
    t = transport(max_response_bytes=1000)
    with pytest.raises(ResponseFormatError, match="200000-byte"):
        await t.request("GET", url, idempotent=True)
    await t.aclose()


async def test_cap_applies_to_the_inflated_body(serve) -> None:  # type: ignore[no-untyped-def]
    bomb = gzip.compress(b"\0" * 1_000_000)  # ~1 KB on the wire

    async def gzipped(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    url = await serve(gzipped)
    t = transport(max_response_bytes=10_000)
    try:
        with pytest.raises(ResponseFormatError):
            await t.request("GET", url, idempotent=True)
    finally:
        await t.aclose()


# ------------------------------------------------------------------- redaction


def debug_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "aiosms.transport")


async def test_secrets_are_hidden_in_debug_logs_in_every_form(
    tp: Transport,
    mocked: aioresponses,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms.transport")
    monkeypatch.setattr(aiosms._bodies, "LOG_BODIES", [True])  # bodies shown, masked
    tp.add_secret(SECRET)
    envelope = build_envelope("getConnection", [("userID", "acme"), ("password", SECRET)])
    assert b"p&amp;ss&lt;w&gt;rd" in envelope  # the XML-escaped form is what goes out
    form = f"UID=acme&PWD={quote_plus(SECRET)}".encode()
    url_with_secret = f"{URL_}?PWD={quote(SECRET, safe='')}"

    mocked.post(URL_, status=200, body=f"<r>{SECRET}</r>")
    mocked.post(URL_, status=200, body="ok")
    mocked.post(URL_, status=200, body="ok")
    mocked.get(URL_ + "?PWD=" + quote(SECRET, safe=""), status=200, body="ok", repeat=True)
    await tp.request("POST", URL_, body=envelope, idempotent=True)
    await tp.request("POST", URL_, body=form, idempotent=True)
    await tp.request("POST", URL_, body={"UID": "acme", "PWD": SECRET}, idempotent=True)
    await tp.request("GET", URL_, params={"PWD": SECRET}, idempotent=True)
    await tp.request("GET", url_with_secret, idempotent=True)

    logged = debug_text(caplog)
    assert logged.count("->") == 5
    assert logged.count("<-") == 5
    for form_of_secret in (
        SECRET,
        "p&amp;ss&lt;w&gt;rd",
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        "ss<w>",
        "ss&lt;w",
    ):
        assert form_of_secret not in logged, form_of_secret
    assert logged.count("***") >= 6
    assert "acme" in logged  # only the secret is hidden

    # ... while the requests themselves carry the real password.
    posts = mocked.requests[("POST", URL(URL_))]
    assert posts[0].kwargs["data"] == envelope
    assert posts[1].kwargs["data"] == form
    assert posts[2].kwargs["data"] == {"UID": "acme", "PWD": SECRET}
    gets = mocked.requests[("GET", URL(URL_ + "?PWD=" + quote(SECRET, safe="")))]
    assert len(gets) == 2
    assert gets[0].kwargs["params"] == {"PWD": SECRET}


async def test_secrets_are_hidden_in_connection_errors(tp: Transport, mocked: aioresponses) -> None:
    tp.add_secret(SECRET)
    url = f"{URL_}?PWD={quote(SECRET, safe='')}"
    mocked.get(url, exception=connector_error(), repeat=True)
    with pytest.raises(TransportError) as info:
        await tp.request("GET", url, idempotent=True)
    assert quote(SECRET, safe="") not in str(info.value)
    assert "***" in str(info.value)


async def test_a_secret_pattern_hides_a_secret_learnt_from_a_reply(
    tp: Transport,
    mocked: aioresponses,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms.transport")
    monkeypatch.setattr(aiosms._bodies, "LOG_BODIES", [True])  # bodies shown, masked
    tp.add_secret_pattern(r"<SESSION_KEY>\s*(?P<secret>[^<]*)</SESSION_KEY>")
    mocked.post(URL_, status=200, body="<SESSION_KEY> e9df35fce357</SESSION_KEY>")
    await tp.request("POST", URL_, idempotent=True)
    logged = debug_text(caplog)
    assert "e9df35fce357" not in logged
    assert "<SESSION_KEY> ***</SESSION_KEY>" in logged
    with pytest.raises(ValueError, match="secret"):
        tp.add_secret_pattern(r"(?P<key>x)")


def test_redact_hides_the_longest_secret_whole() -> None:
    t = transport()
    t.add_secret("abc")
    t.add_secret("abcdef")
    assert t.redact("x abcdef y abc") == "x *** y ***"


async def test_secret_with_a_backslash_is_hidden_in_logged_params(
    tp: Transport, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms.transport")
    secret = "pa\\ss"
    tp.add_secret(secret)
    mocked.post(URL_, status=200, body="ok")
    await tp.request("POST", URL_, body={"PWD": secret}, idempotent=True)
    logged = debug_text(caplog)
    assert "pa\\\\ss" not in logged
    assert secret not in logged


async def test_nothing_is_formatted_when_debug_is_off(
    tp: Transport, mocked: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiosms.transport")
    mocked.post(URL_, status=200, body="ok")
    await tp.request("POST", URL_, body=SECRET.encode(), idempotent=True)
    assert debug_text(caplog) == ""


# ------------------------------------------------------------------- lifecycle


async def test_aclose_closes_our_own_session_and_is_safe_twice(mocked: aioresponses) -> None:
    t = transport()
    assert not t.owns_open_session  # created lazily, inside the loop, on first use
    mocked.post(URL_, status=200, body="ok")
    await t.request("POST", URL_, idempotent=True)
    assert t.owns_open_session
    session = t._session
    assert session is not None
    await t.aclose()
    assert session.closed
    assert t.closed
    assert not t.owns_open_session
    await t.aclose()  # again: no error
    with pytest.raises(TransportError, match="closed"):
        await t.request("POST", URL_, idempotent=True)
    assert calls(mocked) == 1


async def test_aclose_before_any_request() -> None:
    t = transport()
    await t.aclose()
    await t.aclose()
    assert t.closed


async def test_a_caller_owned_session_is_used_and_never_closed(mocked: aioresponses) -> None:
    async with aiohttp.ClientSession() as session:
        t = transport(session=session)
        mocked.post(URL_, status=200, body="ok")
        assert (await t.request("POST", URL_, idempotent=True)).body == b"ok"
        assert not t.owns_open_session
        await t.aclose()
        await t.aclose()
        assert not session.closed
        assert t.closed
        # The caller's session still works after the transport is gone.
        mocked.post(URL_, status=200, body="still open")
        async with session.post(URL_) as response:
            assert await response.read() == b"still open"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_connections": 0}, "max_connections must be a whole number, at least 1, not 0"),
        ({"max_connections": -5}, "max_connections .* not -5"),
        ({"attempts": 0}, "attempts must be a whole number, at least 1, not 0"),
        ({"attempts": 2.5}, "attempts .* not 2.5"),
        ({"max_response_bytes": 0}, "max_response_bytes must be .* at least 1, not 0"),
        ({"max_response_bytes": -1}, "max_response_bytes .* not -1"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match) as info:
        transport(**kwargs)
    assert isinstance(info.value, ValueError)


def test_timeout_forms() -> None:
    assert transport().timeout.total == 30
    assert transport().timeout.connect == 10
    assert aiohttp.ClientTimeout(total=30, connect=10) == DEFAULT_TIMEOUT
    t = transport(timeout=2.5)
    assert (t.timeout.total, t.timeout.connect) == (2.5, 2.5)
    assert transport(timeout=60).timeout.connect == 10
    custom = aiohttp.ClientTimeout(total=7)
    assert transport(timeout=custom).timeout is custom
    unlimited = aiohttp.ClientTimeout(total=None, connect=None)
    assert transport(timeout=unlimited).timeout is unlimited
    assert "30 s total, 10 s connect" in " ".join((Transport.__doc__ or "").split())


@pytest.mark.parametrize(
    "timeout",
    [0, 0.0, -1, -0.5, float("nan"), float("inf"), float("-inf"), "30", True, b"5", [5]],
    ids=repr,
)
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: object) -> None:
    with pytest.raises(InvalidRequestError, match="timeout must be a positive") as info:
        transport(timeout=timeout)
    assert repr(timeout) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("timeout", "field", "value"),
    [
        (aiohttp.ClientTimeout(total=0), "total", "0"),
        (aiohttp.ClientTimeout(total=-1), "total", "-1"),
        (aiohttp.ClientTimeout(total=float("nan")), "total", "nan"),
        (aiohttp.ClientTimeout(total=5, connect=0), "connect", "0"),
        (aiohttp.ClientTimeout(total=5, connect=-2.5), "connect", "-2.5"),
        (aiohttp.ClientTimeout(total=5, sock_read=0), "sock_read", "0"),
        (aiohttp.ClientTimeout(sock_connect=-1), "sock_connect", "-1"),
    ],
)
def test_a_client_timeout_with_a_limit_that_is_not_positive_is_refused(
    timeout: aiohttp.ClientTimeout, field: str, value: str
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        transport(timeout=timeout)
    assert f"timeout.{field} must be a positive number of seconds or None" in str(info.value)
    assert str(info.value).endswith(f"not {value}")


def test_the_default_response_cap_is_the_xml_parsers_text_node_limit() -> None:
    # libxml2 refuses one text node over 10,000,000 bytes, and EVERY8D's SOAP result is one
    # text node: a larger default would only let a reply through to fail in the parser.
    assert DEFAULT_MAX_RESPONSE_BYTES == 10_000_000
    assert transport().max_response_bytes == 10_000_000
    assert transport(max_response_bytes=16 * 1024 * 1024).max_response_bytes == 16 * 1024 * 1024


async def test_a_reply_over_the_default_cap_is_refused_by_the_transport(serve) -> None:  # type: ignore[no-untyped-def]
    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (DEFAULT_MAX_RESPONSE_BYTES + 1))

    url = await serve(huge)
    t = transport()
    with pytest.raises(ResponseFormatError, match="max_response_bytes=10000000"):
        await t.request("GET", url, idempotent=True)
    await t.aclose()


@pytest.mark.parametrize("secret", ["pa\rss", 'qu"ote&<>', "tab\tand\nnewline"])
def test_secret_is_hidden_in_an_lxml_built_envelope(secret: str) -> None:
    from aiosms._soap import build_envelope

    t = Transport(provider="test")
    t.add_secret(secret)
    body = build_envelope("getConnection", [("userID", "u"), ("password", secret)])
    shown = t.redact(body.decode())
    assert "<password>***</password>" in shown


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_never_followed_with_the_body(serve, status: int) -> None:  # type: ignore[no-untyped-def]
    """A 307/308 would make aiohttp POST the same form (password and all) wherever the
    reply points; the transport refuses to follow any redirect, and says where to."""
    seen: list[tuple[str, bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, await request.read()))
        if request.path.endswith("/elsewhere"):
            return web.Response(text="followed")
        return web.Response(status=status, headers={"Location": f"/elsewhere?PWD={SECRET}"})

    url = await serve(handler)
    t = transport()
    t.add_secret(SECRET)
    try:
        with pytest.raises(TransportError, match=f"HTTP {status}, a redirect") as info:
            await t.request("POST", url, body={"PWD": SECRET}, idempotent=False)
    finally:
        await t.aclose()
    assert [path for path, _ in seen] == ["/API21/SOAP/SMS.asmx"]
    assert info.value.status == status
    assert not info.value.retryable
    assert SECRET not in str(info.value)
