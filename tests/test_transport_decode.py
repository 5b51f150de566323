"""Transport.request(..., decode=): the reply is read inside each attempt, so an unreadable
reply to a query is fetched again, while a send is never repeated."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
import test_transport as shared
from aiohttp import web
from aioresponses import aioresponses
from test_transport import URL_, Handler, calls, connector_error, transport

from aiosms._transport import HttpResponse, Transport
from aiosms.errors import (
    AuthenticationError,
    ProviderError,
    ResponseFormatError,
    SendOutcomeUnknownError,
    SessionExpiredError,
    TransportError,
)

mocked = shared.mocked  # the fixtures, shared with test_transport
serve = shared.serve

FAULT_STATUS = frozenset({500})


class Reader:
    """A decode that reads ``<ok>…</ok>`` and counts its calls; the errors it raised are
    kept, to check that the last one is the one that leaves."""

    def __init__(self) -> None:
        self.calls = 0
        self.raised: list[ResponseFormatError] = []

    def __call__(self, response: HttpResponse) -> str:
        self.calls += 1
        if not response.body.startswith(b"<ok>"):
            error = ResponseFormatError(f"garbled reply #{self.calls}", provider="every8d")
            self.raised.append(error)
            raise error
        return response.body.decode()[4:-5]


def soap_like(response: HttpResponse) -> str:
    """Like the SOAP client's decode: a 500 is a fault only if it says so."""
    if response.status == 500:
        if b"Fault" in response.body:
            raise ProviderError("the provider sent a fault", provider="every8d")
        raise TransportError(
            "the provider answered HTTP 500 without a SOAP fault",
            provider="every8d",
            status=500,
            retryable=True,
        )
    return response.body.decode()


# ------------------------------------------------------------------- unreadable replies


async def test_without_decode_the_response_is_handed_back(mocked: aioresponses) -> None:
    t = transport()
    mocked.post(URL_, status=200, body="<bad")
    response = await t.request("POST", URL_, body=b"q", idempotent=True)
    await t.aclose()
    assert (response.status, response.body) == (200, b"<bad")


async def test_decoded_value_is_returned(mocked: aioresponses) -> None:
    t = transport()
    reader = Reader()
    mocked.post(URL_, status=200, body="<ok>42</ok>")
    assert await t.request("POST", URL_, body=b"q", idempotent=True, decode=reader) == "42"
    await t.aclose()
    assert (reader.calls, calls(mocked)) == (1, 1)


async def test_unreadable_reply_to_a_query_is_fetched_again(mocked: aioresponses) -> None:
    t = transport()
    reader = Reader()
    mocked.post(URL_, status=200, body="<soap:Envelope><soap:Bo")
    mocked.post(URL_, status=200, body="<ok>42</ok>")
    assert await t.request("POST", URL_, body=b"q", idempotent=True, decode=reader) == "42"
    await t.aclose()
    assert (reader.calls, calls(mocked)) == (2, 2)


@pytest.mark.parametrize("attempts", [1, 2, 4])
async def test_query_that_stays_unreadable_raises_the_last_format_error_itself(
    mocked: aioresponses, attempts: int
) -> None:
    t = transport(attempts=attempts)
    reader = Reader()
    mocked.post(URL_, status=200, body="garbage", repeat=True)
    started = time.perf_counter()
    with pytest.raises(ResponseFormatError) as info:
        await t.request("POST", URL_, body=b"q", idempotent=True, decode=reader)
    assert time.perf_counter() - started < 5  # backoff of at most 0.01 s a retry
    await t.aclose()
    assert calls(mocked) == attempts
    assert len(reader.raised) == attempts
    assert info.value is reader.raised[-1]
    assert info.value.__cause__ is None
    assert f"garbled reply #{attempts}" in str(info.value)


async def test_unreadable_reply_to_a_send_is_outcome_unknown_and_not_retried(
    mocked: aioresponses,
) -> None:
    t = transport()
    reader = Reader()
    mocked.post(URL_, status=200, body="garbage")
    mocked.post(URL_, status=200, body="<ok>second send</ok>")  # must never be reached
    with pytest.raises(SendOutcomeUnknownError) as info:
        await t.request("POST", URL_, body=b"send", idempotent=False, decode=reader)
    await t.aclose()
    assert calls(mocked) == 1
    assert info.value.__cause__ is reader.raised[0]
    assert info.value.provider == "every8d"
    assert (info.value.status, info.value.retryable) == (200, False)
    message = str(info.value)
    assert "could not be read" in message
    assert "may or may not have been carried out" in message
    assert "not retried" in message


async def test_size_cap_refusal_is_not_retried_even_with_decode(mocked: aioresponses) -> None:
    t = transport(max_response_bytes=10)
    reader = Reader()
    mocked.post(URL_, status=200, body="<ok>" + "x" * 100 + "</ok>", repeat=True)
    with pytest.raises(ResponseFormatError, match="max_response_bytes"):
        await t.request("POST", URL_, idempotent=True, decode=reader)
    await t.aclose()
    assert (reader.calls, calls(mocked)) == (0, 1)


async def test_decode_is_not_called_for_a_refused_status(mocked: aioresponses) -> None:
    t = transport()
    reader = Reader()
    mocked.post(URL_, status=503)
    mocked.post(URL_, status=200, body="<ok>1</ok>")
    assert await t.request("POST", URL_, idempotent=True, decode=reader) == "1"
    await t.aclose()
    assert (reader.calls, calls(mocked)) == (1, 2)


# ------------------------------------------------------------------- a 500 without a fault


async def test_query_500_without_a_fault_is_retried(mocked: aioresponses) -> None:
    t = transport()
    mocked.post(URL_, status=500, body="<html>Server Error</html>")
    mocked.post(URL_, status=200, body="credit 42")
    result = await t.request(
        "POST", URL_, idempotent=True, pass_statuses=FAULT_STATUS, decode=soap_like
    )
    await t.aclose()
    assert (result, calls(mocked)) == ("credit 42", 2)


async def test_query_500_without_a_fault_gives_up_after_the_attempts(
    mocked: aioresponses,
) -> None:
    t = transport(attempts=3)
    mocked.post(URL_, status=500, body="<html>Server Error</html>", repeat=True)
    with pytest.raises(TransportError) as info:
        await t.request("POST", URL_, idempotent=True, pass_statuses=FAULT_STATUS, decode=soap_like)
    await t.aclose()
    assert calls(mocked) == 3
    assert (info.value.status, info.value.retryable) == (500, True)


async def test_retryable_transport_error_from_decode_on_a_real_server(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    seen = 0

    async def error_page_then_ok(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        if seen == 1:
            return web.Response(status=500, text="<html>Server Error</html>")
        return web.Response(text="credit 42")

    url = await serve(error_page_then_ok)
    t = transport()
    result = await t.request(
        "POST", url, body=b"q", idempotent=True, pass_statuses=FAULT_STATUS, decode=soap_like
    )
    await t.aclose()
    assert (result, seen) == ("credit 42", 2)


async def test_a_fault_is_not_retried(mocked: aioresponses) -> None:
    t = transport()
    mocked.post(URL_, status=500, body="<soap:Fault/>", repeat=True)
    with pytest.raises(ProviderError, match="fault"):
        await t.request("POST", URL_, idempotent=True, pass_statuses=FAULT_STATUS, decode=soap_like)
    await t.aclose()
    assert calls(mocked) == 1


async def test_non_retryable_transport_error_from_decode_is_not_retried(
    mocked: aioresponses,
) -> None:
    t = transport()
    error = SendOutcomeUnknownError("HTTP 500 without a SOAP fault", provider="every8d")

    def refuse(response: HttpResponse) -> str:
        raise error

    mocked.post(URL_, status=500, body="<html/>", repeat=True)
    with pytest.raises(SendOutcomeUnknownError) as info:
        await t.request("POST", URL_, idempotent=False, pass_statuses=FAULT_STATUS, decode=refuse)
    await t.aclose()
    assert info.value is error
    assert calls(mocked) == 1


# ------------------------------------------------------------------- everything else


OTHER_ERRORS: list[Callable[[], BaseException]] = [
    lambda: ProviderError("refused", provider="every8d", code="-99"),
    lambda: SessionExpiredError("session key refused", provider="every8d", code="-301"),
    lambda: AuthenticationError("wrong password", provider="every8d", code="-100"),
    lambda: ValueError("a bug in the decode"),
]


@pytest.mark.parametrize("make_error", OTHER_ERRORS, ids=lambda f: type(f()).__name__)
@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("after_a_retry", [False, True])
async def test_any_other_decode_error_leaves_at_once_untouched(
    mocked: aioresponses,
    make_error: Callable[[], BaseException],
    idempotent: bool,
    after_a_retry: bool,
) -> None:
    t = transport()
    error = make_error()
    decoded = 0

    def fail(response: HttpResponse) -> str:
        nonlocal decoded
        decoded += 1
        raise error

    if after_a_retry:
        mocked.post(URL_, exception=connector_error())  # retried, even for a send
    mocked.post(URL_, status=200, body="x", repeat=True)
    with pytest.raises(type(error)) as info:
        await t.request("POST", URL_, idempotent=idempotent, decode=fail)
    await t.aclose()
    assert info.value is error
    assert info.value.__cause__ is None
    assert decoded == 1
    assert calls(mocked) == 1 + after_a_retry


async def test_a_format_error_then_another_error_leaves_as_the_other(
    mocked: aioresponses,
) -> None:
    t = transport()
    error = ProviderError("refused", provider="every8d", code="-99")

    def read(response: HttpResponse) -> str:
        if response.body == b"garbage":
            raise ResponseFormatError("garbled", provider="every8d")
        raise error

    mocked.post(URL_, status=200, body="garbage")
    mocked.post(URL_, status=200, body="<ok>refused</ok>")
    with pytest.raises(ProviderError) as info:
        await t.request("POST", URL_, idempotent=True, decode=read)
    await t.aclose()
    assert info.value is error
    assert calls(mocked) == 2


async def test_transport_is_closed_before_decode(mocked: aioresponses) -> None:
    t: Transport = transport()
    await t.aclose()
    reader = Reader()
    with pytest.raises(TransportError, match="closed"):
        await t.request("POST", URL_, idempotent=True, decode=reader)
    assert reader.calls == 0


# ------------------------------------------------------------------- the loop stays free


async def test_a_large_reply_is_decoded_in_a_worker_thread(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    import threading

    where: list[bool] = []

    async def reply(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.query["size"]))

    def decode(response: HttpResponse) -> int:
        where.append(threading.current_thread() is threading.main_thread())
        return len(response.body)

    url = await serve(reply)
    t = transport()
    for size in (1000, 1_000_000):
        got = await t.request(
            "GET", url, params={"size": str(size)}, idempotent=True, decode=decode
        )
        assert got == size
    await t.aclose()
    assert where == [True, False]  # a small reply on the loop, a large one off it


async def test_an_oversized_reply_to_a_send_is_outcome_unknown(mocked: aioresponses) -> None:
    t = transport(max_response_bytes=100)
    mocked.post(URL_, status=200, body=b"x" * 101, headers={"Content-Length": "101"})
    with pytest.raises(SendOutcomeUnknownError, match="max_response_bytes") as info:
        await t.request("POST", URL_, body=b"q", idempotent=False)
    await t.aclose()
    assert isinstance(info.value.__cause__, ResponseFormatError)
    assert calls(mocked) == 1
