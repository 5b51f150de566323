"""An aiohttp service that sends SMS with aiosms and takes EVERY8D's push callbacks.

``python examples/aiohttp_service.py`` without ``AIOSMS_URL`` starts the built-in
simulator, serves the app on a loopback port, sends one batch through its own ``POST
/send``, prints each status the simulator pushes (as EVERY8D would) and the final
reports, and exits. With ``AIOSMS_URL=every8d+soap://user:password@oms.every8d.com`` and
``PUSH_TOKEN`` (``secrets.token_urlsafe(32)``) it serves on ``HOST:PORT`` until stopped;
give EVERY8D ``https://your.host/every8d/push/<PUSH_TOKEN>`` as its push URL.

It shows ONE client for the whole app (``aiosms.from_url``) opened and closed by a
``cleanup_ctx``, handlers answering ``aiosms.to_dict(...)`` as JSON, an
``Every8dPushReceiver`` mounted with ``add_to()`` and a task subscribed to it. Numbers
are masked in what it prints; the password and the token never appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable

from aiohttp import ClientSession, web

import aiosms
from aiosms.testing import Simulator
from aiosms.webhooks import Every8dPushReceiver

SMS = web.AppKey("sms", aiosms.SmsClient)
RECEIVER = web.AppKey("receiver", Every8dPushReceiver)
PUSH_PATH = "/every8d/push"
DEMO_NUMBERS = ["0912345670", "0912345677"]  # the simulator: ...0 is delivered, ...7 fails
FINAL = {state.value for state in aiosms.DeliveryState if state.is_final}


def mask(number: str) -> str:
    """``0912345670`` -> ``*******670``: enough to tell recipients apart in a log."""
    return "*" * max(len(number) - 3, 0) + number[-3:]


def make_app(url: str, *, token: str, show: Callable[[str], None] = print) -> web.Application:
    """The service: ``POST /send``, ``GET /batches/{batch_id}``, EVERY8D's push URL."""
    app = web.Application()
    receiver = Every8dPushReceiver(token=token)
    receiver.add_to(app, PUSH_PATH)  # routes PUSH_PATH and PUSH_PATH/{token}
    app[RECEIVER] = receiver

    async def sms_client(app: web.Application) -> AsyncIterator[None]:
        async with aiosms.from_url(url) as sms:  # one client, one connection pool
            app[SMS] = sms
            yield

    async def log_pushes(app: web.Application) -> AsyncIterator[None]:
        async def run() -> None:
            async with receiver.subscribe() as events:
                async for event in events:
                    if isinstance(event, aiosms.DeliveryReport):
                        show(f"pushed: {mask(event.mobile)} {event.state.value}")

        task = asyncio.create_task(run())
        yield
        task.cancel()
        await asyncio.wait([task])

    app.cleanup_ctx.extend([sms_client, log_pushes])
    app.add_routes([web.post("/send", send), web.get("/batches/{batch_id}", reports)])
    return app


async def send(request: web.Request) -> web.Response:
    """``{"text": "...", "to": ["0912345678", ...]}`` -> the send's result, as JSON."""
    data = await request.json()
    try:
        result = await request.app[SMS].send(data.get("text"), data.get("to"))
    except aiosms.InvalidRequestError as exc:  # caught before anything was sent
        return web.json_response({"error": exc.message}, status=400)
    except aiosms.SendOutcomeUnknownError as exc:  # may have been sent: never resend blindly
        return web.json_response({"error": exc.message, "outcome": "unknown"}, status=504)
    except aiosms.SmsError as exc:
        return web.json_response({"error": exc.message, "code": exc.code}, status=502)
    return web.json_response(aiosms.to_dict(result), status=201)


async def reports(request: web.Request) -> web.Response:
    """Every recipient's report of a batch, as JSON."""
    batch = request.match_info["batch_id"]
    return web.json_response(
        [aiosms.to_dict(r) async for r in request.app[SMS].delivery_reports(batch)]
    )


async def pushed_final(receiver: Every8dPushReceiver, batch_id: str, count: int) -> None:
    """Return once ``count`` recipients of ``batch_id`` had a final status pushed."""
    final: set[str] = set()
    async with receiver.subscribe([batch_id]) as events:
        async for event in events:
            if isinstance(event, aiosms.DeliveryReport) and event.state.is_final:
                final.add(event.mobile)
                if len(final) >= count:
                    return


async def main(url: str | None = None, *, show: Callable[[str], None] = print) -> list[str]:
    """The demo: serve, send through ``/send``, wait for the pushes; the lines shown."""
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        show(line)

    token = secrets.token_urlsafe(32)
    async with contextlib.AsyncExitStack() as stack:
        sim = None
        if url is None:  # the built-in simulator, which pushes to us as EVERY8D would
            sim = await stack.enter_async_context(Simulator())
            url = sim.client_url("every8d+soap")
        app = make_app(url, token=token, show=out)
        runner = web.AppRunner(app, access_log=None)  # the token is in the push URLs
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        if sim is not None:
            sim.every8d.push_url = f"{base}{PUSH_PATH}/{token}"
        out(f"serving on {base}; push URL {base}{PUSH_PATH}/<token>")
        async with ClientSession(base) as http:
            async with http.post("/send", json={"text": "Hi", "to": DEMO_NUMBERS}) as answer:
                sent = await answer.json()
            out(f"sent {sent['sent']} in batch {sent['batch_id']}, cost {sent['cost']}")
            async with asyncio.timeout(10):
                found: list[dict[str, str]] = []
                while not found or not all(r["state"] in FINAL for r in found):
                    await asyncio.sleep(0.1)
                    found = await (await http.get(f"/batches/{sent['batch_id']}")).json()
                if sim is not None:  # and for the final pushes (the backlog replays them)
                    await pushed_final(app[RECEIVER], sent["batch_id"], len(found))
        for report in found:
            out(f"report: {mask(report['mobile'])} {report['state']} ({report['status']})")
    return lines


if __name__ == "__main__":
    if env_url := os.environ.get("AIOSMS_URL"):
        host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))
        app = make_app(env_url, token=os.environ["PUSH_TOKEN"])
        web.run_app(app, host=host, port=port, access_log=None)  # the token is in URLs
    else:
        asyncio.run(main())
