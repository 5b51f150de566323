"""Large request bodies (a send to ~100,000 recipients): streamed in chunks, byte-identical,
with no aiohttp ResourceWarning (pytest turns warnings into errors), and sent whole again
when an idempotent call is retried."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from test_transport import transport

from aiosms._transport import Transport
from aiosms.errors import SendOutcomeUnknownError

MiB = 1024 * 1024


class Recorder:
    """A handler that keeps every body it received and answers ``statuses`` in turn
    (200 once they run out)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.headers.append(dict(request.headers))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")


def big_body(size: int) -> bytes:
    return os.urandom(size)


Server = Callable[..., Awaitable[tuple[str, Recorder]]]


@pytest.fixture
async def big_server() -> AsyncIterator[Server]:
    """An aiohttp.web server on 127.0.0.1 (any free port) that takes bodies of up to
    64 MiB (aiohttp's default is 1 MiB) and records them."""
    runners: list[web.AppRunner] = []

    async def start(*statuses: int) -> tuple[str, Recorder]:
        recorder = Recorder(*statuses)
        app = web.Application(client_max_size=64 * MiB)
        app.router.add_post("/{tail:.*}", recorder.handle)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}/API21/SOAP/SMS.asmx", recorder

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def tp() -> AsyncIterator[Transport]:
    t = transport()
    yield t
    await t.aclose()


@pytest.mark.parametrize("size", [MiB, MiB + 1, 2 * MiB, 10_000_000])
@pytest.mark.parametrize("idempotent", [True, False])
async def test_large_body_arrives_byte_identical(
    big_server: Server, tp: Transport, size: int, idempotent: bool
) -> None:
    url, recorder = await big_server()
    body = big_body(size)
    response = await tp.request(
        "POST",
        url,
        body=body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        idempotent=idempotent,
    )
    assert (response.status, response.body) == (200, b"ok")
    assert len(recorder.bodies) == 1
    assert recorder.bodies[0] == body
    sent = recorder.headers[0]
    assert sent["Content-Length"] == str(size)  # a length, not chunked
    assert "Transfer-Encoding" not in sent
    assert sent["Content-Type"] == "text/xml; charset=utf-8"


async def test_retried_large_body_arrives_whole_each_time(
    big_server: Server,
    tp: Transport,
) -> None:
    url, recorder = await big_server(503, 502)
    body = big_body(2 * MiB)
    response = await tp.request("POST", url, body=body, idempotent=True)
    assert response.status == 200
    assert len(recorder.bodies) == 3
    assert all(received == body for received in recorder.bodies)


async def test_large_send_that_fails_is_sent_once(
    big_server: Server,
    tp: Transport,
) -> None:
    url, recorder = await big_server(503)
    body = big_body(2 * MiB)
    with pytest.raises(SendOutcomeUnknownError):
        await tp.request("POST", url, body=body, idempotent=False)
    assert recorder.bodies == [body]


async def test_large_form_arrives_whole(
    big_server: Server,
    tp: Transport,
) -> None:
    url, recorder = await big_server()
    numbers = ",".join(f"09{i:08d}" for i in range(150_000))  # ~1.6 MB
    form = {"UID": "acme", "PWD": "p&ss w=rd", "DEST": numbers, "MSG": "您好 👋"}
    await tp.request("POST", url, body=form, idempotent=False)
    (received,) = recorder.bodies
    assert dict(parse_qsl(received.decode(), strict_parsing=True)) == form
    assert recorder.headers[0]["Content-Type"] == "application/x-www-form-urlencoded"
    assert recorder.headers[0]["Content-Length"] == str(len(received))


async def test_small_form_is_still_encoded_by_aiohttp(
    big_server: Server,
    tp: Transport,
) -> None:
    url, recorder = await big_server()
    form = {"UID": "acme", "PWD": "p&ss w=rd", "MSG": "您好"}
    await tp.request("POST", url, body=form, idempotent=True)
    assert dict(parse_qsl(recorder.bodies[0].decode(), strict_parsing=True)) == form
    assert recorder.headers[0]["Content-Type"] == "application/x-www-form-urlencoded"
