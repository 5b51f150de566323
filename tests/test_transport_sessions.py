"""Sessions aiosms cannot use: its own pool from another event loop, a caller's session
that is closed or bound to another loop. Each is a clear TransportError, never a bare
RuntimeError from aiohttp."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import test_transport as shared
from aiohttp import web
from test_transport import Handler, transport

from aiosms._transport import Transport
from aiosms.errors import SendOutcomeUnknownError, TransportError

serve = shared.serve  # the fixture, shared with test_transport


def free_port() -> int:
    """A port nothing listens on: requests to it are refused at once, so no connection
    outlives the loop that opened it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def refused_call(t: Transport, url: str, *, idempotent: bool = True) -> BaseException:
    try:
        await t.request("POST", url, body=b"q", idempotent=idempotent)
    except Exception as exc:
        return exc
    raise AssertionError("the call succeeded")


@pytest.mark.parametrize("idempotent", [True, False])
def test_own_session_used_from_a_second_event_loop(idempotent: bool) -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    t = transport(attempts=1)
    first = asyncio.run(refused_call(t, url, idempotent=idempotent))
    assert isinstance(first, TransportError)
    assert "could not connect" in str(first)  # loop 1 created the pool and used it

    second = asyncio.run(refused_call(t, url, idempotent=idempotent))
    assert type(second) is TransportError, repr(second)
    assert not second.retryable
    assert second.provider == "every8d"
    message = str(second)
    assert "belongs to another event loop" in message
    assert "create the client inside the event loop that uses it" in message
    assert "asyncio.run()" in message
    asyncio.run(t.aclose())
    assert t.closed


def test_own_session_in_a_new_loop_after_aclose_is_a_closed_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    t = transport(attempts=1)

    async def use_and_close() -> None:
        await refused_call(t, url)
        await t.aclose()

    asyncio.run(use_and_close())
    error = asyncio.run(refused_call(t, url))
    assert isinstance(error, TransportError)
    assert "closed" in str(error)


async def test_same_loop_keeps_one_session(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    url = await serve(ok)
    t = transport()
    for _ in range(3):
        assert (await t.request("GET", url, idempotent=True)).body == b"ok"
    session = t._session
    assert (await t.request("GET", url, idempotent=True)).body == b"ok"
    assert t._session is session
    await t.aclose()


@pytest.mark.parametrize("idempotent", [True, False])
async def test_caller_session_that_is_closed(
    serve: Callable[[Handler], Awaitable[str]], idempotent: bool
) -> None:
    seen = 0

    async def ok(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        return web.Response(text="ok")

    url = await serve(ok)
    session = aiohttp.ClientSession()
    await session.close()
    t = transport(session=session)
    with pytest.raises(TransportError) as info:
        await t.request("POST", url, body=b"q", idempotent=idempotent)
    await t.aclose()
    assert type(info.value) is TransportError  # nothing was sent: the outcome is known
    assert not info.value.retryable
    assert info.value.provider == "every8d"
    assert str(info.value) == (
        "[every8d] the aiohttp.ClientSession passed as session= is closed; pass an open "
        "one, or none and aiosms manages its own"
    )
    assert seen == 0


@pytest.mark.parametrize(
    ("idempotent", "error_type"), [(True, TransportError), (False, SendOutcomeUnknownError)]
)
def test_caller_session_bound_to_another_loop(
    idempotent: bool, error_type: type[TransportError]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/x"

    async def make_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    session = asyncio.run(make_session())  # bound to a loop that is now closed
    t = transport(session=session, attempts=1)
    try:
        error = asyncio.run(refused_call(t, url, idempotent=idempotent))
    finally:
        asyncio.run(session.close())
    assert type(error) is error_type, repr(error)
    assert not error.retryable
    assert error.provider == "every8d"
    message = str(error)
    assert "aiohttp could not use the session" in message
    assert "belongs to the event loop it was created in" in message
    assert isinstance(error.__cause__, RuntimeError)
    if not idempotent:
        assert "not retried" in message
